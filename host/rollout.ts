import { HostUsageError } from "./abi.js";

/** What applying a configuration did on one VM. */
export type VmConfigOutcome =
  /** A new root context accepted it and now serves new streams on this VM. */
  | "configured"
  /**
   * A root of this VM already runs exactly this configuration and is still alive (current, or
   * kept by its streams): cpp-host's thread-local plugin cache hands that plugin back, so no
   * new root and no on_configure.
   */
  | "reused"
  /** on_configure returned false: no plugin on this VM (its new streams skip the filter). */
  | "rejected"
  /** on_vm_start returned false: likewise. */
  | "start-failed"
  /** The start function, on_vm_start or on_configure trapped: the VM failed, no plugin. */
  | "trapped";

export interface VmConfigStep {
  vmIndex: number;
  outcome: VmConfigOutcome;
  /** The root context serving new streams on this VM now (none when the plugin is missing). */
  rootContextId?: number;
  /**
   * The VM had failed at runtime (trap or crash()), so it was replaced by a fresh clone before
   * the configuration was applied, as cpp-host's getOrCreateThreadLocalWasm does.
   */
  freshVm: boolean;
  /** Wall-clock ms (gw.now()) when this VM applied it. */
  atMs: number;
}

export interface ConfigUpdateResult {
  accepted: boolean;
  reason?: string;
  /**
   * VMs that could not create the plugin for this configuration although the canary accepted it
   * (on_vm_start/on_configure refused or trapped there): Envoy keeps a null plugin handle for
   * those threads and their new streams bypass the plugin whatever the fail strategy. Absent when
   * empty.
   */
  noPlugin?: number[];
}

/** What a rollout needs from its gateway. */
export interface RolloutHost {
  assertRunning(what: string): void;
  applyConfigTo(vmIndex: number, config: Uint8Array): VmConfigStep;
  rolloutEnded(rollout: ConfigRollout): void;
}

/**
 * One configuration on its way to every VM, after the canary. Envoy's main thread posts the new
 * config to each worker's dispatcher (ThreadLocal SlotImpl::set) and every worker applies it when
 * its event loop gets there, so a test or campaign can run anything between two VMs' turns:
 * streams, ticks, http-call replies, crashes. `pending` lists the VMs still to go, in order.
 */
export class ConfigRollout {
  private readonly queue: number[];
  private readonly done: VmConfigStep[] = [];

  constructor(
    private readonly host: RolloutHost | undefined,
    private readonly config: Uint8Array,
    /** The canary accepted it (and the base VM has not failed). */
    readonly accepted: boolean,
    /** Why it was refused, when it was. */
    readonly reason: string | undefined,
    /** false when cpp-host's canary cache already knew the verdict for this configuration. */
    readonly canaryRan: boolean,
    order: number[],
  ) {
    this.queue = accepted ? [...order] : [];
  }

  /** VM indexes still to apply the configuration, next first. */
  get pending(): number[] {
    return [...this.queue];
  }

  /** What happened on each VM so far, in order. */
  get steps(): VmConfigStep[] {
    return [...this.done];
  }

  get finished(): boolean {
    return this.queue.length === 0;
  }

  /** Applies the configuration to the next VM; undefined when none is left. */
  applyNext(): VmConfigStep | undefined {
    const next = this.queue[0];
    if (next === undefined || !this.host) return undefined;
    this.host.assertRunning("ConfigRollout.applyNext");
    this.queue.shift();
    const step = this.host.applyConfigTo(next, this.config);
    this.done.push(step);
    if (this.queue.length === 0) this.host.rolloutEnded(this);
    return step;
  }

  /** Applies it to every VM still pending, back to back, and returns the overall result. */
  applyAll(): ConfigUpdateResult {
    while (this.applyNext());
    return this.result();
  }

  /** The result so far (final once `finished`). */
  result(): ConfigUpdateResult {
    if (!this.accepted) return { accepted: false, reason: this.reason };
    const missing = this.done
      .filter((s) => s.outcome !== "configured" && s.outcome !== "reused")
      .map((s) => s.vmIndex);
    return missing.length > 0 ? { accepted: true, noPlugin: missing } : { accepted: true };
  }
}

/** Validates an explicit rollout order: every VM index exactly once. */
export function checkOrder(order: readonly number[], vmCount: number): number[] {
  const sorted = [...order].sort((a, b) => a - b);
  if (sorted.length !== vmCount || sorted.some((v, i) => v !== i)) {
    throw new HostUsageError(
      `rollout order ${JSON.stringify(order)} must list every VM index 0..${vmCount - 1} once`,
    );
  }
  return [...order];
}
