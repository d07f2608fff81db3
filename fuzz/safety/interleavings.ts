// Races and storms: another actor cuts into a step between the plugin's shared-data reads and
// its writes. A race runs a second step on another worker at the inner step's n-th read of a
// table key; a storm rewrites each key the inner step reads (same bytes, new CAS) so its write
// must fail and retry. Both hook the host's shared-data reads only while the inner step runs.
import type { SharedGetEvent } from "../../host/index.js";
import { adminWorker } from "./admin-requests.js";
import { type DriverContext, tableKey } from "./context.js";
import type { Step } from "./steps.js";

/** Runs one step (the driver's dispatch), so a race can run both its steps the usual way. */
export type RunStep = (step: Step) => Promise<void> | undefined;

export class Interleavings {
  constructor(
    private readonly ctx: DriverContext,
    private readonly run: RunStep,
  ) {}

  race(at: number, inner: Step, inject: Step): Promise<void> | undefined {
    const vm = this.innerVm(inner);
    let reads = 0;
    let done = false;
    const hook = (e: SharedGetEvent) => {
      if (done || e.vmIndex !== vm || !tableKey(e.key)) return;
      if (++reads < at) return;
      done = true;
      const target = this.innerVm(inject);
      if (target < 0 || target === vm) return;
      this.ctx.figures.injected++;
      this.ctx.injectedDuringRequest = true;
      void this.run(inject);
    };
    this.ctx.injectedDuringRequest = false;
    const ran = this.withGetHook(hook, () => this.run(inner));
    if (ran instanceof Promise) {
      return ran.finally(() => {
        this.ctx.injectedDuringRequest = false;
      });
    }
    this.ctx.injectedDuringRequest = false;
    return ran;
  }

  storm(n: number, inner: Step): Promise<void> | undefined {
    const vm = this.innerVm(inner);
    let left = n;
    const hook = (e: SharedGetEvent) => {
      if (left <= 0 || e.vmIndex !== vm || !tableKey(e.key) || e.value === undefined) return;
      left--;
      this.ctx.figures.stormWrites++;
      // Same bytes: only the CAS moves, so the reader's write must fail and retry.
      this.ctx.gw.sharedData.set(e.key, e.value, 0);
    };
    return this.withGetHook(hook, () => this.run(inner));
  }

  /** A get hook costs every read an event, so one is registered only for a race or storm. */
  private withGetHook<T>(hook: (e: SharedGetEvent) => void, body: () => T): T {
    const remove = this.ctx.gw.sharedData.onAfterGet(hook);
    try {
      return body();
    } finally {
      remove();
    }
  }

  /** The VM a step will act on (admin requests move off a dead worker), or -1. */
  private innerVm(step: Step): number {
    const { model } = this.ctx;
    if (step.op === "close") {
      const s = model.streams.get(step.id);
      return s ? s.w + 1 : -1;
    }
    if (!("w" in step)) return -1;
    if (step.op === "open" || step.op === "flood" || step.op === "crash") {
      return model.dead[step.w] ? -1 : step.w + 1;
    }
    return adminWorker(model, step.w) + 1;
  }
}
