// Changes to a slot, applied inside ConnectionTable.update's compare-and-swap loop. Each op
// computes the new value from the one just read; if the write loses the race, `undo` takes back
// any side effect and the op runs again on the fresh value.
import { getPropertyString } from "../abi/host";
import { HostMetrics } from "./host_metrics";
import { FLAG_METERED, Slot } from "./slot";

export abstract class SlotOp {
  /** Change in live streams this op makes (mirrored into the host's gauge). */
  countDelta: i64 = 0;
  /** Drain ops stamp times and compare deadlines: they read the clock; counting does not. */
  preciseTime: bool = false;

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
  ) {
    super();
  }

  apply(slot: Slot, self: u32, now: i64): bool {
    this.countDelta = 0;
    if (this.delta > 0 && this.refuseIfDraining && slot.draining) {
      this.rejected = true;
      return false;
    }
    const next = <i64>slot.countOf(self) + <i64>this.delta;
    // Nothing of ours to release: the slot was reset while this VM was presumed dead.
    if (next < 0) return false;
    slot.setCount(self, <u32>next);
    this.countDelta = <i64>this.delta;
    if (this.delta < 0 && slot.draining) {
      // A draining host's episode records which upstreams its players were on, so a receiver
      // can tell the drained pod from a new one of the same name. Envoy keeps upstream.address
      // readable through on_log.
      const upstream = getPropertyString(["upstream", "address"]);
      if (upstream !== null) slot.drain!.addUpstream(upstream);
    }
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
