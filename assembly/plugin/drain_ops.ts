// Slot changes that start, cancel and finish drain episodes (see slot_ops.ts for the protocol).
// Completion itself is not an op: every slot write checks for it (ConnectionTable.update).
import { Delivery, Drain, DrainSource, DrainState } from "./drain";
import { FLAG_HELD, FLAG_LISTED, Slot } from "./slot";
import { SlotOp } from "./slot_ops";

/** Drain ops stamp times and compare leases, so they read the clock rather than the tick's. */
abstract class DrainOp extends SlotOp {
  constructor() {
    super();
    this.preciseTime = true;
  }
}

/**
 * Starts a copy of `fresh` unless the host is already draining, in which case that drain
 * stands. A start from config (`fromConfig`) records the listing in the slot (FLAG_LISTED), and
 * a listing already recorded starts nothing: one listing of a host is one episode, however many
 * VMs configure it and however often the same config is pushed.
 */
export class StartDrainOp extends DrainOp {
  result: Drain | null = null;
  started: bool = false;

  constructor(
    public fresh: Drain,
    public fromConfig: bool,
  ) {
    super();
    this.scansFullTable = true;
  }

  freshSlot(host: string, self: u32): Slot {
    const slot = new Slot();
    slot.host = host;
    slot.drain = this.fresh.copy();
    if (this.fromConfig) slot.flags |= FLAG_LISTED;
    return slot;
  }

  apply(slot: Slot, self: u32, now: i64): bool {
    this.started = false;
    this.result = slot.drain;
    if (this.fromConfig) {
      if (slot.listed) return false;
      slot.flags |= FLAG_LISTED;
    }
    const current = slot.drain;
    if (current !== null && current.active) {
      // An operator's POST adopts a drain that config started, so removing the host from
      // drain.hosts later does not cancel what the operator asked for.
      if (this.fresh.source == DrainSource.Admin && current.source == DrainSource.Config) {
        current.source = DrainSource.Admin;
        return true;
      }
      return this.fromConfig;
    }
    // A copy: if this write loses its CAS race, the next round starts from the clean record.
    const d = this.fresh.copy();
    slot.drain = d;
    // A new episode ends the previous one's hold: its own rules apply now.
    slot.flags &= ~FLAG_HELD;
    this.result = d;
    this.started = true;
    return true;
  }
}

/** Cancels a running drain (only config-started ones when `onlyConfig`). */
export class CancelDrainOp extends DrainOp {
  result: Drain | null = null;

  constructor(public onlyConfig: bool) {
    super();
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

/**
 * The host is no longer in `drain.hosts`: forget the listing (so listing it again later starts a
 * new episode) and cancel its drain if config started it and it still runs.
 */
export class UnlistOp extends DrainOp {
  cancelled: bool = false;

  apply(slot: Slot, self: u32, now: i64): bool {
    this.cancelled = false;
    if (!slot.listed) return false;
    slot.flags &= ~FLAG_LISTED;
    const d = slot.drain;
    if (d !== null && d.active && d.source == DrainSource.Config) {
      d.state = DrainState.Cancelled;
      this.cancelled = true;
    }
    return true;
  }
}

/** Ops on the webhook delivery of one episode: they apply only while it is still pending. */
abstract class DeliveryOp extends DrainOp {
  constructor(public episode: string) {
    super();
  }

  apply(slot: Slot, self: u32, now: i64): bool {
    const d = slot.drain;
    if (d === null || d.episode != this.episode || d.delivery != Delivery.Pending) return false;
    return this.applyPending(d, self, now);
  }

  abstract applyPending(d: Drain, self: u32, now: i64): bool;
}

/** Claims delivery when nobody owns it, its owner died, or its lease ran out. */
export class TakeOverOp extends DeliveryOp {
  constructor(
    episode: string,
    public ownerDead: bool,
    public leaseMillis: i64,
  ) {
    super(episode);
  }

  applyPending(d: Drain, self: u32, now: i64): bool {
    if (d.owner == self) return false;
    if (d.owner != 0 && !this.ownerDead && now < d.leaseUntil) return false;
    d.owner = self;
    d.leaseUntil = now + this.leaseMillis;
    return true;
  }
}

/** Records that this VM is sending attempt n+1 now; declines if another VM owns delivery. */
export class AttemptOp extends DeliveryOp {
  attempt: i32 = 0;

  constructor(
    episode: string,
    public leaseMillis: i64,
  ) {
    super(episode);
  }

  applyPending(d: Drain, self: u32, now: i64): bool {
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
export class OutcomeOp extends DeliveryOp {
  gaveUp: bool = false;

  constructor(
    episode: string,
    public delivered: bool,
    public error: string,
    public maxAttempts: i32,
    public retryDelay: i64,
    public leaseMillis: i64,
  ) {
    super(episode);
  }

  applyPending(d: Drain, self: u32, now: i64): bool {
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
      d.leaseUntil = d.nextAttemptAt + this.leaseMillis;
    }
    return true;
  }
}
