import { HostUsageError } from "./abi.js";
import type { VirtualClock } from "./clock.js";
import { Rng } from "./random.js";

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

export interface RolloutOptions {
  /**
   * Order in which VMs apply the config. Default: the base VM (Envoy's main thread applies its
   * own copy inline in SlotImpl::set), then the workers in an order drawn from the rollout seed
   * (each worker picks the post up on its own thread, so any order can happen).
   */
  order?: readonly number[];
}

export interface UpdateConfigOptions extends RolloutOptions {
  /** Gap between two VMs' turns, in virtual ms, drawn from [min, max]. Default: the gateway's. */
  gapMs?: readonly [number, number];
  /** Called between two VMs' turns (after the gap) with the index of the VM about to apply it. */
  between?: (nextVmIndex: number) => void | Promise<void>;
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
    private readonly host: RolloutHost,
    private readonly config: Uint8Array,
    /** Why it was refused, when it was (then no VM is pending). */
    readonly reason: string | undefined,
    /** false when cpp-host's canary cache already knew the verdict for this configuration. */
    readonly canaryRan: boolean,
    order: number[],
  ) {
    this.queue = reason === undefined ? [...order] : [];
  }

  /** The canary accepted it (and the base VM has not failed). */
  get accepted(): boolean {
    return this.reason === undefined;
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
    if (next === undefined) return undefined;
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

/** Validates a gap range: whole virtual ms, 0 <= min <= max. */
export function checkGap(gap: readonly [number, number]): readonly [number, number] {
  const [min, max] = gap;
  if (!(Number.isInteger(min) && Number.isInteger(max) && min >= 0 && max >= min)) {
    throw new HostUsageError(`rollout gap ${JSON.stringify(gap)}: want integers 0 <= min <= max`);
  }
  return [min, max];
}

/**
 * The interleaving of a gateway's rollouts: the order workers take a configuration in and the
 * virtual time that passes between two VMs' turns, both drawn from the rollout seed so that the
 * same seed replays the same interleaving.
 */
export class RolloutPacer {
  // Its own stream, so rollouts never shift what the plugin draws from random_get.
  private readonly random: Rng;
  /** The gateway's gap between two VMs' turns, unless a call names its own. */
  readonly gap: readonly [number, number];

  constructor(
    seed: number,
    gap: readonly [number, number],
    private readonly clock: VirtualClock,
  ) {
    this.random = new Rng((seed ^ 0x9e3779b9) >>> 0);
    this.gap = checkGap(gap);
  }

  /** Base VM first; workers shuffled by the rollout seed (Fisher-Yates). */
  defaultOrder(workerIndices: number[]): number[] {
    const workers = [...workerIndices];
    for (let i = workers.length - 1; i > 0; i--) {
      const j = this.random.int(i + 1);
      [workers[i], workers[j]] = [workers[j] as number, workers[i] as number];
    }
    return [0, ...workers];
  }

  /**
   * Every VM's turn back to back, a seeded gap between two, calling `between(nextVmIndex)` after
   * each gap so a test can act there. Without `between` (start-up) nothing is awaited: the whole
   * rollout runs within the call.
   */
  async runWithBetween(
    rollout: ConfigRollout,
    gap: readonly [number, number],
    between?: UpdateConfigOptions["between"],
  ): Promise<void> {
    let first = true;
    while (!rollout.finished) {
      if (!first) {
        this.pause(gap);
        const next = rollout.pending[0];
        if (between && next !== undefined) await between(next);
      }
      first = false;
      rollout.applyNext();
    }
  }

  /** Lets the drawn gap pass; due ticks and http-call timeouts fire in it, as in `advance`. */
  private pause([min, max]: readonly [number, number]): void {
    const ms = min + Math.floor((this.random.next() / 2 ** 32) * (max - min + 1));
    if (ms > 0) this.clock.advance(ms);
  }
}
