// Changes to a slot, applied inside ConnectionTable.update's compare-and-swap loop. Each op
// computes the new value from the one just read; if the write loses the race, `undo` takes back
// any side effect and the op runs again on the fresh value.
import { WasmResult } from "../abi/enums";
import { nowMillis, SharedRead, sharedGet } from "../abi/hostcalls";
import { HostMetrics } from "./host_metrics";
import { slotInList } from "./host_slots";
import { ONLINE } from "./players";
import { FLAG_CLAIMING, FLAG_HELD, FLAG_METERED, Slot } from "./slot";

export abstract class SlotOp {
  /** Change in live streams this op makes (mirrored into the host's gauge). */
  countDelta: i64 = 0;
  /** Drain ops stamp times and compare deadlines: they read the clock; counting does not. */
  preciseTime: bool = false;
  /**
   * Whether the op may land on a slot another VM is still claiming (FLAG_CLAIMING). True when
   * the slot was found through the index (the claim was published, so it stands); false when
   * it came from this VM's cache, which may point at a claim that is about to be given back.
   */
  acceptClaiming: bool = true;
  /**
   * Whether a host without a slot may scan a table that this VM found full within the last
   * tick. Streams may not (a flood against a full table would pay a full scan per stream);
   * an operator's drain start may: it is rare, and the drain needs the slot.
   */
  scansFullTable: bool = false;

  /** The value a host without a slot starts with, this op already applied (see place()). */
  freshSlot(host: string, self: u32): Slot {
    const slot = new Slot();
    slot.host = host;
    return slot;
  }

  /** Mutates `slot`; returns false to leave the slot untouched (nothing to write). */
  abstract apply(slot: Slot, self: u32, now: i64): bool;

  /** The write lost a CAS race after apply() ran. */
  undo(): void {}
}

/** One stream opens (+1) or ends (-1) on this VM. */
export class CountOp extends SlotOp {
  /** Set when a new stream was refused because the host is draining (drain.rejectNew). */
  rejected: bool = false;

  constructor(
    public delta: i32,
    public refuseIfDraining: bool,
    /** For a close: the stream's upstream address, recorded on a draining host's episode. */
    public upstream: string | null,
  ) {
    super();
  }

  freshSlot(host: string, self: u32): Slot {
    const slot = new Slot();
    slot.host = host;
    slot.setCount(self, 1);
    return slot;
  }

  apply(slot: Slot, self: u32, now: i64): bool {
    this.countDelta = 0;
    if (this.delta > 0 && this.refuseIfDraining) {
      // Counting reads no clock; only a host held after its completion needs one.
      if (slot.draining || ((slot.flags & FLAG_HELD) != 0 && slot.heldAt(nowMillis()))) {
        this.rejected = true;
        return false;
      }
    }
    const next = <i64>slot.countOf(self) + <i64>this.delta;
    // Nothing of ours to release: the slot was reset while this VM was presumed dead.
    if (next < 0) return false;
    slot.setCount(self, <u32>next);
    this.countDelta = <i64>this.delta;
    const upstream = this.upstream;
    if (this.delta < 0 && slot.draining && upstream !== null) slot.drain!.addUpstream(upstream);
    return true;
  }
}

/**
 * One stream of `host` opens in (or leaves) the host's overflow slot, for hosts that found no
 * slot of their own. An open re-reads the host's index bucket *after* the overflow slot was read
 * and before it is written: if the host got a slot meanwhile, the open declines and the caller
 * counts on that slot instead. Together with the fence in ConnectionTable.place this means any
 * overflow count for a host lands before the host's slot can complete a drain (which reads the
 * overflow slot): overflow cannot hide a player from a drain.
 */
export class OverflowCountOp extends CountOp {
  /** Set when the open declined because the host now has a slot. */
  indexed: bool = false;
  private read: SharedRead = new SharedRead();

  constructor(
    delta: i32,
    public host: string,
    public bucketKey: string,
  ) {
    super(delta, false, null);
  }

  apply(slot: Slot, self: u32, now: i64): bool {
    this.indexed = false;
    if (this.delta > 0 && sharedGet(this.bucketKey, this.read).status == WasmResult.Ok) {
      if (slotInList(this.read.value, String.UTF8.encode(this.host)) >= 0) {
        this.indexed = true;
        this.countDelta = 0;
        return false;
      }
    }
    return super.apply(slot, self, now);
  }
}

/**
 * A new stream, under drain.rejectNew, for a host that was draining when this VM last read its
 * slot: let in if its player was on the host within the episode's reconnect grace (`lastSeen`,
 * from the roster; ONLINE while another stream of theirs is open), refused otherwise. The figure
 * (returning or refused) lands in the write that decides, and that write sees the episode as it
 * is: a stream let in is counted before any later write can find the host empty, so a returning
 * player can delay a completion, never follow one unseen. After a completion the host is held
 * (FLAG_HELD): everyone is refused until the grace has run since it. An episode that ended since
 * the read, and holds no more, makes this an ordinary open.
 */
export class ReturningOp extends SlotOp {
  admitted: bool = false;

  constructor(public lastSeen: i64) {
    super();
    this.preciseTime = true;
  }

  apply(slot: Slot, self: u32, now: i64): bool {
    const d = slot.drain;
    const draining = d !== null && d.active;
    const seen = this.lastSeen;
    const held = !draining && slot.heldAt(now);
    this.admitted =
      !held &&
      (!draining || seen == ONLINE || (seen >= 0 && now - seen <= <i64>d!.graceSeconds * 1000));
    if (!this.admitted) {
      this.countDelta = 0;
      d!.refused++;
      return true;
    }
    slot.setCount(self, slot.countOf(self) + 1);
    this.countDelta = 1;
    if (draining) d!.returning++;
    return true;
  }
}

/** The claimer of a slot has indexed it and fenced overflow: the slot is the host's for good. */
export class FinishClaimOp extends SlotOp {
  apply(slot: Slot, self: u32, now: i64): bool {
    if (!slot.claiming) return false;
    slot.flags &= ~FLAG_CLAIMING;
    return true;
  }
}

/** Writes back a slot only to drop dead VMs' entries (and complete a drain they held open). */
export class PruneOp extends SlotOp {
  apply(slot: Slot, self: u32, now: i64): bool {
    return true;
  }
}

/**
 * Gives a host its Envoy gauge: sets the slot's metered flag and adds the slot's count to the
 * gauge *before* the flag lands (Envoy's gauges are unsigned; once the flag is visible other VMs
 * may subtract), taking it back if the write loses.
 */
export class MeterOp extends SlotOp {
  private added: i64 = 0;

  constructor(
    public metrics: HostMetrics,
    public name: string,
  ) {
    super();
  }

  apply(slot: Slot, self: u32, now: i64): bool {
    this.added = 0;
    if (slot.metered) return false;
    let held: i64 = 0;
    for (let k = 0; k < slot.counts.length; k++) held += <i64>unchecked(slot.counts[k]);
    slot.flags |= FLAG_METERED;
    this.metrics.add(this.name, held);
    this.added = held;
    return true;
  }

  undo(): void {
    this.metrics.add(this.name, -this.added);
    this.added = 0;
  }
}
