export interface TimerHandle {
  cancel(): void;
}

interface Entry {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

const noop = (): void => {};

/**
 * The gateway's virtual clock. Nothing fires on its own: `advance` walks time forward and runs
 * every timer that falls due, in (due time, scheduling order), so tests are deterministic the way
 * Envoy's simulated time in its own tests is.
 */
export class VirtualClock {
  private elapsedMs = 0;
  private seq = 0;
  private entries: Entry[] = [];

  constructor(readonly startTimeMs: number) {}

  /** Timers not yet fired or pruned (cancelled ones are pruned as new ones arrive). */
  get pendingTimers(): number {
    return this.entries.length;
  }

  /** Milliseconds since the Unix epoch, as the plugin sees through proxy_get_current_time. */
  nowMs(): number {
    return this.startTimeMs + this.elapsedMs;
  }

  elapsed(): number {
    return this.elapsedMs;
  }

  nowNanos(): bigint {
    return BigInt(Math.round(this.nowMs() * 1e6));
  }

  /** Schedules `fn` at absolute epoch time `atMs`. */
  at(atMs: number, fn: () => void): TimerHandle {
    const entry: Entry = { at: atMs, seq: this.seq++, fn, cancelled: false };
    // Cancelled timers of discarded VMs (every canary sets one) must not pile up, holding their
    // closures and so their whole Wasm instances, until the next advance().
    if (this.entries.length >= 64) this.entries = this.entries.filter((e) => !e.cancelled);
    this.entries.push(entry);
    return {
      cancel: () => {
        entry.cancelled = true;
        entry.fn = noop;
      },
    };
  }

  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`advance(${ms}): time only moves forward`);
    const target = this.nowMs() + ms;
    for (;;) {
      this.entries = this.entries.filter((e) => !e.cancelled);
      let next: Entry | undefined;
      for (const e of this.entries) {
        if (e.at <= target && (!next || e.at < next.at || (e.at === next.at && e.seq < next.seq))) {
          next = e;
        }
      }
      if (!next) break;
      next.cancelled = true;
      this.elapsedMs = Math.max(this.elapsedMs, next.at - this.startTimeMs);
      next.fn();
    }
    this.elapsedMs = target - this.startTimeMs;
  }
}

/**
 * cpp-host keeps one tick period per root context (`setTimerPeriod(root_context_id, period)`)
 * and Envoy re-arms the timer after each tick, so a root with period P ticks at every multiple
 * of P after the moment the period was set. Period 0 stops it.
 */
export class TickTimer {
  private handle: TimerHandle | undefined;
  private anchor = 0;
  periodMs = 0;

  constructor(
    private readonly clock: VirtualClock,
    private readonly onTick: () => void,
  ) {}

  setPeriod(ms: number): void {
    this.handle?.cancel();
    this.handle = undefined;
    this.periodMs = ms;
    if (ms <= 0) return;
    this.anchor = this.clock.nowMs();
    this.arm(this.anchor + ms);
  }

  private arm(at: number): void {
    const period = this.periodMs;
    this.handle = this.clock.at(at, () => {
      this.handle = undefined;
      this.onTick();
      // Re-arm only if the tick did not change or stop the period itself.
      if (this.handle === undefined && this.periodMs === period && period > 0) {
        const k = Math.floor((this.clock.nowMs() - this.anchor) / period) + 1;
        this.arm(this.anchor + k * period);
      }
    });
  }

  stop(): void {
    this.handle?.cancel();
    this.handle = undefined;
    this.periodMs = 0;
  }
}
