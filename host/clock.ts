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
 * The gateway's virtual clocks. Nothing fires on its own: `advance` walks time forward and runs
 * every timer that falls due, in (due time, scheduling order), so tests are deterministic the way
 * Envoy's simulated time in its own tests is.
 *
 * Two clocks, as in Envoy: timers (ticks, http-call timeouts) run on the monotonic timeline
 * (`nowMs`), while the plugin's proxy_get_current_time_nanoseconds reads the wall clock
 * (`wallMs`: Envoy's `Context::getCurrentTimeNanoseconds` is `time_source_.systemTime()`).
 * They move together under `advance`; `jumpWall` steps the wall clock alone, as an NTP step
 * or an operator's `date -s` does, without firing or moving any timer.
 */
export class VirtualClock {
  private elapsedMs = 0;
  private wallOffsetMs = 0;
  private seq = 0;
  private entries: Entry[] = [];

  constructor(readonly startTimeMs: number) {}

  /** Timers not yet fired or pruned (cancelled ones are pruned as new ones arrive). */
  get pendingTimers(): number {
    return this.entries.length;
  }

  /**
   * The monotonic timeline timers are scheduled on, in ms. It starts at `startTimeMs` (a real
   * monotonic clock has an arbitrary origin; this one starts where the wall clock does).
   */
  nowMs(): number {
    return this.startTimeMs + this.elapsedMs;
  }

  elapsed(): number {
    return this.elapsedMs;
  }

  /** Monotonic nanoseconds (WASI clock_time_get with the monotonic clock id). */
  nowNanos(): bigint {
    return BigInt(Math.round(this.nowMs() * 1e6));
  }

  /** Wall-clock ms since the Unix epoch: what the plugin reads as the current time. */
  wallMs(): number {
    return this.nowMs() + this.wallOffsetMs;
  }

  /** Wall-clock nanoseconds since the epoch (proxy_get_current_time_nanoseconds, WASI realtime). */
  wallNanos(): bigint {
    return BigInt(Math.round(this.wallMs() * 1e6));
  }

  /** Steps the wall clock by `ms` (either sign); timers keep their monotonic due times. */
  jumpWall(ms: number): void {
    if (!Number.isFinite(ms)) throw new RangeError(`jumpWall(${ms}): not a finite number`);
    this.wallOffsetMs += ms;
  }

  /** Schedules `fn` at `atMs` on the monotonic timeline (see `nowMs`). */
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
