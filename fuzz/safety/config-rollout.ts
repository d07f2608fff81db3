// Config pushes as the gateway rolls them out: the canary, then VM by VM. The model is told
// which VM runs which config as each one takes it, and which dead worker came back with a fresh
// VM, so the checker keys streams the way each VM does.
import type { ConfigRollout as Rollout } from "../../host/index.js";
import type { DriverContext } from "./context.js";
import { type ConfigSpec, configJson } from "./steps.js";

export class ConfigRollout {
  private current: { handle: Rollout; config: ConfigSpec; undo: () => void } | undefined;

  constructor(private readonly ctx: DriverContext) {}

  get inProgress(): boolean {
    return this.current !== undefined;
  }

  async push(config: ConfigSpec): Promise<void> {
    const { gw, model, figures } = this.ctx;
    this.finish();
    figures.pushes++;
    const undo = model.beginPush(config, this.ctx.stepIndex);
    const json = configJson(config);
    const before = this.rootIds();
    const r = await gw.beginConfigUpdate(json);
    if (!r.accepted) {
      figures.pushesRefused++;
      undo();
      return;
    }
    this.current = { handle: r, config, undo };
    this.syncConfigs(before, config);
    if (r.finished) this.current = undefined;
  }

  /** The next VM of the push in progress takes it. */
  applyNext(): void {
    const r = this.current;
    if (!r) return;
    const before = this.rootIds();
    const applied = r.handle.applyNext();
    this.ctx.figures.rolloutSteps++;
    if (applied) {
      // The step says which VM took it (a fresh VM replacing a dead one restarts its context
      // ids, so comparing root ids would miss it).
      if (applied.outcome === "configured" || applied.outcome === "reused") {
        this.ctx.model.vmConfig[applied.vmIndex] = r.config;
      } else {
        this.ctx.figures.noPlugin++;
      }
      this.syncRevived();
    } else {
      this.syncConfigs(before, r.config);
    }
    if (r.handle.finished || applied === undefined) this.current = undefined;
  }

  /** Dead workers the gateway gave a fresh VM are live again (their old streams stay dead). */
  syncRevived(): void {
    const { gw, model, figures } = this.ctx;
    for (let w = 0; w < this.ctx.workers; w++) {
      if (model.dead[w] && !gw.worker(w).failed) {
        model.revived(w);
        figures.revived++;
      }
    }
  }

  /** A new push waits for the one in progress to reach every VM. */
  private finish(): void {
    for (let i = 0; this.current && i < 64; i++) this.applyNext();
    this.current = undefined;
  }

  private rootIds(): Array<number | undefined> {
    return this.ctx.gw.allVms.map((h) => h.rootContextId);
  }

  /** VMs whose root changed since `before` now run `config`; dead workers that came back live. */
  private syncConfigs(before: Array<number | undefined>, config: ConfigSpec): void {
    const after = this.rootIds();
    for (let i = 0; i < after.length; i++) {
      if (after[i] !== undefined && after[i] !== before[i]) this.ctx.model.vmConfig[i] = config;
    }
    this.syncRevived();
  }
}
