// Runs safety-campaign steps against the plugin in our host, keeps the model in step with what
// was done, and shows the checker every signal the plugin gives as it appears. This file is the
// step loop: what a step does is in players.ts, admin-requests.ts, config-rollout.ts and
// interleavings.ts; what the checker is shown, in signals.ts, host-queries.ts and bounds.ts.
import { createGateway, type Gateway, type HttpCall } from "../../host/index.js";
import { AdminRequests } from "./admin-requests.js";
import { Bounds, INJECTED_TRAP } from "./bounds.js";
import { Checker } from "./checker.js";
import { ConfigRollout } from "./config-rollout.js";
import { type DriverContext, type DriverFigures, emptyFigures } from "./context.js";
import { HostQueries } from "./host-queries.js";
import { Interleavings } from "./interleavings.js";
import { Model } from "./model.js";
import { Players } from "./players.js";
import { Signals } from "./signals.js";
import { type ConfigSpec, configJson, type Step, WEBHOOK_CLUSTER } from "./steps.js";

export type { DriverFigures } from "./context.js";

export class Driver {
  readonly model: Model;
  readonly checker: Checker;
  readonly figures: DriverFigures = emptyFigures();
  private readonly ctx: DriverContext;
  private readonly players: Players;
  private readonly admin: AdminRequests;
  private readonly rollout: ConfigRollout;
  private readonly interleavings: Interleavings;
  private readonly signals: Signals;
  private readonly queries: HostQueries;
  private readonly bounds: Bounds;
  /** Wall-clock ms at which each step began. */
  private readonly stepWall: number[] = [];

  private constructor(
    readonly gw: Gateway,
    readonly workers: number,
    readonly seed: number,
    initial: ConfigSpec,
  ) {
    this.model = new Model(workers, initial);
    this.checker = new Checker(this.model);
    this.ctx = {
      gw,
      workers,
      seed,
      model: this.model,
      checker: this.checker,
      figures: this.figures,
      stepIndex: 0,
      touched: [],
      injectedDuringRequest: false,
    };
    this.players = new Players(this.ctx);
    this.admin = new AdminRequests(this.ctx);
    this.rollout = new ConfigRollout(this.ctx);
    this.interleavings = new Interleavings(this.ctx, (s) => this.exec(s));
    this.signals = new Signals(this.ctx);
    this.queries = new HostQueries(this.ctx, this.admin);
    this.bounds = new Bounds(this.ctx);
    this.signals.watch();
    // The key count before any step: the bound on keys grows from it.
    this.bounds.checkSize();
    this.checker.stepsAt = (ms) => {
      // The last step that began at or before `ms`, and the earlier ones that began at that very
      // moment (steps that move no time share it). Wall time can jump back: then be generous.
      let hi = this.stepWall.length - 1;
      while (hi > 0 && (this.stepWall[hi] ?? 0) > ms) hi--;
      let lo = hi;
      while (lo > 0 && this.stepWall[lo - 1] === this.stepWall[hi]) lo--;
      // A tick at the very end of an advance happens at the next step's start time.
      if (lo > 0 && this.stepWall[hi] === ms) lo--;
      return this.figures.jumps > 0 ? [0, this.stepWall.length - 1] : [lo, hi];
    };
  }

  static async create(
    module: WebAssembly.Module,
    workers: number,
    seed: number,
    initial: ConfigSpec,
  ): Promise<Driver> {
    const gw = await createGateway({
      wasm: module,
      workers,
      config: configJson(initial),
      nodeId: "router~10.0.0.9~higress-gateway-0.higress-system~higress-system.svc.cluster.local",
      clusters: [WEBHOOK_CLUSTER],
      randomSeed: seed,
      recordLogs: false,
    });
    return new Driver(gw, workers, seed, initial);
  }

  get rolloutInProgress(): boolean {
    return this.rollout.inProgress;
  }

  /** Runs step `index` and every check that follows it. */
  async step(step: Step, index: number): Promise<void> {
    this.ctx.stepIndex = index;
    this.stepWall[index] = this.gw.now();
    this.checker.step = index;
    this.model.stepStartSeq = ++this.model.seq;
    this.ctx.touched = [];
    const r = this.exec(step);
    if (r) await r;
    this.afterStep(step, index);
  }

  /** The end of a run: everything closes; a last round of checks. */
  finalChecks(): void {
    this.bounds.checkSize();
  }

  /** Does what a step says; a race or storm runs the steps it wraps through here again. */
  private exec(step: Step): Promise<void> | undefined {
    switch (step.op) {
      case "open":
        this.players.open(step);
        return;
      case "close":
        this.players.close(step.id);
        return;
      case "flood":
        this.players.flood(step);
        return;
      case "unflood":
        this.players.unflood();
        return;
      case "post":
        this.admin.drain("POST", step.w, step.keyBy, step.name, step.deadlineSeconds);
        return;
      case "delete":
        this.admin.drain("DELETE", step.w, step.keyBy, step.name, 0);
        return;
      case "config":
        return this.rollout.push(step.config);
      case "rollout":
        this.rollout.applyNext();
        return;
      case "crash":
        this.crash(step.w);
        return;
      case "advance":
        this.gw.advance(step.ms);
        this.rollout.syncRevived();
        return;
      case "jump":
        this.gw.jumpWallClock(step.ms);
        this.figures.jumps++;
        return;
      case "reply":
        this.reply(step.k, step.status);
        return;
      case "race":
        return this.interleavings.race(step.at, step.inner, step.inject);
      case "storm":
        return this.interleavings.storm(step.n, step.inner);
    }
  }

  /** A worker traps; at least two stay live, so there is always somewhere to ask and drain. */
  private crash(w: number): void {
    if (this.model.dead[w] || this.model.liveWorkers().length <= 2) return;
    this.gw.worker(w).crash(INJECTED_TRAP);
    this.model.crashed(w);
    this.figures.crashes++;
  }

  /** The k-th pending webhook call (mod their number) gets a reply or a reset. */
  private reply(k: number, status: number | "reset"): void {
    const calls = this.gw.httpCalls().filter((c) => c.cluster === WEBHOOK_CLUSTER);
    if (calls.length === 0) return;
    const call = calls[k % calls.length] as HttpCall;
    this.figures.replies++;
    if (status === "reset") this.gw.failHttpCall(call);
    else this.gw.respondHttpCall(call, { status, body: status < 300 ? "ok" : "busy" });
  }

  private afterStep(step: Step, index: number): void {
    this.bounds.checkTraps();
    this.signals.sweepCalls();
    this.queries.after(step);
    if (index % 64 === 0) this.bounds.checkSize();
    this.checker.endStep();
  }
}
