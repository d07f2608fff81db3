// Slot changes that start, cancel and finish drain episodes (see slot_ops.ts for the protocol).
import { CompletionReason, Delivery, Drain, DrainSource, DrainState } from "./drain";
import { completeDrain } from "./drain_rules";
import { Slot } from "./slot";
import { SlotOp } from "./slot_ops";

/** Starts `fresh` unless the host is already draining, in which case that drain stands. */
export class StartDrainOp extends SlotOp {
  result: Drain | null = null;
  started: bool = false;

  constructor(public fresh: Drain) {
    super();
    this.preciseTime = true;
  }

  apply(slot: Slot, self: u32, now: i64): bool {
    const current = slot.drain;
    if (current !== null && current.active) {
      this.result = current;
      this.started = false;
      // An operator's POST adopts a drain that config started, so removing the host from
      // drain.hosts later does not cancel what the operator asked for.
      if (this.fresh.source == DrainSource.Admin && current.source == DrainSource.Config) {
        current.source = DrainSource.Admin;
        return true;
      }
      return false;
    }
    slot.drain = this.fresh;
    this.result = this.fresh;
    this.started = true;
    return true;
  }
}

/** Cancels a running drain (only config-started ones when `onlyConfig`). */
export class CancelDrainOp extends SlotOp {
  result: Drain | null = null;

  constructor(public onlyConfig: bool) {
    super();
    this.preciseTime = true;
  }

  apply(slot: Slot, self: u32, now: i64): bool {
    const d = slot.drain;
    this.result = d;
    if (d === null || !d.active) return false;
    if (this.onlyConfig && d.source != DrainSource.Config) return false;
    d.state = DrainState.Cancelled;
    return true;
  }
}

/** Completes a drain whose deadline passed, with the count that was left. */
export class DeadlineOp extends SlotOp {
  completed: bool = false;
  constructor(
    public remaining: i64,
    public webhookEnabled: bool,
    public leaseMillis: i64,
  ) {
    super();
    this.preciseTime = true;
  }

  apply(slot: Slot, self: u32, now: i64): bool {
    const d = slot.drain;
    this.completed = false;
    if (d === null || !d.active || d.deadlineAt == 0 || now < d.deadlineAt) return false;
    completeDrain(
      d,
      CompletionReason.Deadline,
      this.remaining,
      now,
      self,
      this.webhookEnabled,
      this.leaseMillis,
    );
    this.completed = true;
    return true;
  }
}

/** Claims delivery of `episode` when nobody owns it, its owner died, or its lease ran out. */
export class TakeOverOp extends SlotOp {
  constructor(
    public episode: string,
    public ownerDead: bool,
    public leaseMillis: i64,
  ) {
    super();
    this.preciseTime = true;
  }

  apply(slot: Slot, self: u32, now: i64): bool {
    const d = slot.drain;
    if (d === null || d.episode != this.episode || d.delivery != Delivery.Pending) return false;
    if (d.owner == self) return false;
    if (d.owner != 0 && !this.ownerDead && now < d.leaseUntil) return false;
    d.owner = self;
    d.leaseUntil = now + this.leaseMillis;
    return true;
  }
}

/** Records that this VM is sending attempt n+1 now; declines if another VM owns delivery. */
export class AttemptOp extends SlotOp {
  attempt: i32 = 0;
  constructor(
    public episode: string,
    public leaseMillis: i64,
  ) {
    super();
    this.preciseTime = true;
  }

  apply(slot: Slot, self: u32, now: i64): bool {
    const d = slot.drain;
    if (d === null || d.episode != this.episode || d.delivery != Delivery.Pending) return false;
    if (d.owner != self) return false;
    d.attempts += 1;
    d.leaseUntil = now + this.leaseMillis;
    // No new attempt until this one is answered or its lease runs out.
    d.nextAttemptAt = d.leaseUntil;
    this.attempt = d.attempts;
    return true;
  }
}

/** Records an attempt's outcome: delivered, or failed with a retry time or for good. */
export class OutcomeOp extends SlotOp {
  gaveUp: bool = false;
  constructor(
    public episode: string,
    public delivered: bool,
    public error: string,
    public maxAttempts: i32,
    public retryDelay: i64,
  ) {
    super();
    this.preciseTime = true;
  }

  apply(slot: Slot, self: u32, now: i64): bool {
    const d = slot.drain;
    if (d === null || d.episode != this.episode || d.delivery != Delivery.Pending) return false;
    if (this.delivered) {
      d.delivery = Delivery.Delivered;
      d.lastError = "";
      return true;
    }
    d.lastError = this.error;
    this.gaveUp = d.attempts >= this.maxAttempts;
    if (this.gaveUp) {
      d.delivery = Delivery.Failed;
    } else {
      d.nextAttemptAt = now + this.retryDelay;
      // The owner keeps its lease across the wait, so another VM does not race it.
      d.leaseUntil = d.nextAttemptAt + this.leaseMillisAfter;
    }
    return true;
  }

  leaseMillisAfter: i64 = 0;
}
