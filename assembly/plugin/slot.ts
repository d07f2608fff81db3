// The value stored under one slot key: which host the slot belongs to and how many streams
// each VM holds for it. Every VM writes its own entry with compare-and-swap on the whole value;
// the slot key always exists before anyone writes it (see SharedKeys.ensure), so the CAS is
// never bypassed by the "set on a missing key ignores the CAS" rule of Envoy's shared data.
//
// Layout (little-endian): u32 version | u32 flags | u16 hostBytes | host UTF-8 |
//                         u16 entries | entries x (u32 vmId, u32 count) | [drain, see drain.ts]
import { Drain, DrainState, Reader, readDrain, Writer, writeDrain } from "./drain";
import { sameMemory } from "./host_cache";
import { VmLiveness } from "./vm_liveness";

const VERSION: u32 = 0x43440001;
export const FLAG_METERED: u32 = 1;
/**
 * Written by a VM placing a new host, until that VM has indexed the slot and fenced the host's
 * overflow bucket (ConnectionTable.place). No drain completes on a claiming slot, and a VM that
 * found the slot through its own cache (not the index) does not count on it: the claim may
 * still lose to another VM's and be given back.
 */
export const FLAG_CLAIMING: u32 = 2;
/**
 * The host is listed in `drain.hosts` and that listing already started its episode: configuring
 * the same listing again (another VM, the same config pushed again) starts nothing.
 */
export const FLAG_LISTED: u32 = 4;
/**
 * The host's drain completed with a reconnect grace (drain.reconnectGraceSeconds): under
 * drain.rejectNew its new streams are refused, returning players' too, until that grace has run
 * since the completion (Drain.holdUntil), because the server is going away: a player let back in
 * after "drained" would be deleted with it. Set by the completing write; cleared by the first
 * refusing open that finds the hold over, or by a new episode.
 */
export const FLAG_HELD: u32 = 8;

export class Slot {
  flags: u32 = 0;
  host: string = "";
  vmIds: Array<u32> = [];
  counts: Array<u32> = [];
  /** The host's current or last drain episode, if it ever had one. */
  drain: Drain | null = null;

  get isFree(): bool {
    return this.host.length == 0;
  }

  get metered(): bool {
    return (this.flags & FLAG_METERED) != 0;
  }

  get claiming(): bool {
    return (this.flags & FLAG_CLAIMING) != 0;
  }

  get listed(): bool {
    return (this.flags & FLAG_LISTED) != 0;
  }

  /**
   * Whether new streams are still refused after the completion (FLAG_HELD) at `now`; a hold
   * found over is lifted here, for the write under way to record.
   */
  heldAt(now: i64): bool {
    if ((this.flags & FLAG_HELD) == 0) return false;
    const d = this.drain;
    if (d !== null && d.state == DrainState.Completed && now < d.holdUntil) return true;
    this.flags &= ~FLAG_HELD;
    return false;
  }

  indexOfVm(vmId: u32): i32 {
    for (let i = 0; i < this.vmIds.length; i++) if (unchecked(this.vmIds[i]) == vmId) return i;
    return -1;
  }

  countOf(vmId: u32): u32 {
    const i = this.indexOfVm(vmId);
    return i < 0 ? 0 : unchecked(this.counts[i]);
  }

  /** Sets this VM's count; a zero count drops the entry so slots stay small. */
  setCount(vmId: u32, count: u32): void {
    const i = this.indexOfVm(vmId);
    if (i < 0) {
      if (count == 0) return;
      this.vmIds.push(vmId);
      this.counts.push(count);
    } else if (count == 0) {
      this.removeAt(i);
    } else {
      unchecked((this.counts[i] = count));
    }
  }

  removeAt(i: i32): void {
    const last = this.vmIds.length - 1;
    unchecked((this.vmIds[i] = this.vmIds[last]));
    unchecked((this.counts[i] = this.counts[last]));
    this.vmIds.pop();
    this.counts.pop();
  }

  get draining(): bool {
    const d = this.drain;
    return d !== null && d.active;
  }

  encode(): ArrayBuffer {
    const host = String.UTF8.encode(this.host);
    const n = this.vmIds.length;
    let tail: Writer | null = null;
    const d = this.drain;
    if (d !== null) {
      tail = new Writer();
      writeDrain(tail, d);
    }
    const head = 12 + host.byteLength + 8 * n;
    const out = new ArrayBuffer(head + (tail !== null ? tail.size : 0));
    const p = changetype<usize>(out);
    store<u32>(p, VERSION);
    store<u32>(p, this.flags, 4);
    store<u16>(p, <u16>host.byteLength, 8);
    memory.copy(p + 10, changetype<usize>(host), host.byteLength);
    const q = p + 10 + host.byteLength;
    store<u16>(q, <u16>n);
    for (let i = 0; i < n; i++) {
      store<u32>(q + 2 + 8 * i, unchecked(this.vmIds[i]));
      store<u32>(q + 6 + 8 * i, unchecked(this.counts[i]));
    }
    if (tail !== null) memory.copy(p + head, tail.ptr, <usize>tail.size);
    return out;
  }
}

/** Decodes a slot value; an empty or foreign value reads as a free slot. */
export function decodeSlot(bytes: ArrayBuffer): Slot {
  return decodeSlotAt(changetype<usize>(bytes), <usize>bytes.byteLength);
}

/** Whether the value at `p` is a free slot, without decoding (and allocating) anything. */
export function isFreeAt(p: usize, size: usize): bool {
  return size < 12 || load<u32>(p) != VERSION || load<u16>(p, 8) == 0;
}

export function decodeSlotAt(p: usize, size: usize): Slot {
  const slot = new Slot();
  if (size < 12 || load<u32>(p) != VERSION) return slot;
  slot.flags = load<u32>(p, 4);
  const hostSize = <usize>load<u16>(p, 8);
  if (<usize>12 + hostSize > size) return new Slot();
  slot.host = String.UTF8.decodeUnsafe(p + 10, hostSize);
  const q = p + 10 + hostSize;
  const n = <usize>load<u16>(q);
  if (<usize>12 + hostSize + <usize>8 * n > size) return new Slot();
  for (let i: usize = 0; i < n; i++) {
    slot.vmIds.push(load<u32>(q + 2 + 8 * i));
    slot.counts.push(load<u32>(q + 6 + 8 * i));
  }
  const tail = p + 12 + hostSize + 8 * n;
  if (tail < p + size) slot.drain = readDrain(new Reader(tail, p + size));
  return slot;
}

export function freeSlotValue(): ArrayBuffer {
  return new Slot().encode();
}

// ---- counting in place: the per-stream path --------------------------------------------------

/** What editCount did. */
export enum Edit {
  /** `out` holds the new value, to be written with the CAS just read. */
  Written,
  /** Nothing to write (a release of a count this VM no longer holds). */
  Nothing,
  /** A new stream for a draining host, refused (drain.rejectNew). */
  Refused,
  /** Not a plain count: the decoding write path must handle it (see editCount). */
  Slow,
}

/** A reusable buffer for slot values rewritten in place: grows once, then never allocates. */
export class SlotBuffer {
  buf: ArrayBuffer = new ArrayBuffer(512);
  size: usize = 0;
  /** The slot's metered flag, as read. */
  metered: bool = false;

  get ptr(): usize {
    return changetype<usize>(this.buf);
  }

  reserve(n: usize): usize {
    if (n > <usize>this.buf.byteLength) this.buf = new ArrayBuffer(<i32>(n * 2));
    return changetype<usize>(this.buf);
  }
}

/**
 * Adds `delta` to this VM's count in the slot value at `p`/`size`, writing the result to `out`
 * without decoding anything into objects. Only the plain case is done here: the value holds
 * `host`, no entry belongs to a dead VM (dropping one moves gauges), the slot is not a claim this
 * VM may not use, and the host is not draining (a close may complete the drain; a refused open
 * is answered here). Everything else is Slow, and goes through ConnectionTable.update.
 */
export function editCount(
  p: usize,
  size: usize,
  host: ArrayBuffer,
  self: u32,
  delta: i32,
  refuseIfDraining: bool,
  acceptClaiming: bool,
  liveness: VmLiveness,
  out: SlotBuffer,
): Edit {
  const hostSize = <usize>host.byteLength;
  if (size < 12 || load<u32>(p) != VERSION || <usize>load<u16>(p, 8) != hostSize) return Edit.Slow;
  if (<usize>12 + hostSize > size) return Edit.Slow;
  if (!sameMemory(p + 10, changetype<usize>(host), hostSize)) return Edit.Slow;
  const flags = load<u32>(p, 4);
  if ((flags & FLAG_CLAIMING) != 0 && !acceptClaiming) return Edit.Slow;
  // A completed drain still holding its host: the decoding path reads the clock and decides.
  if ((flags & FLAG_HELD) != 0 && delta > 0 && refuseIfDraining) return Edit.Slow;
  const q = p + 10 + hostSize;
  const n = <usize>load<u16>(q);
  const tail = q + 2 + 8 * n;
  if (tail > p + size) return Edit.Slow;
  // A drain tail starts with its state; 1 is draining (drain.ts DrainState.Draining).
  if (tail < p + size && load<u8>(tail) == 1) {
    return delta > 0 && refuseIfDraining ? Edit.Refused : Edit.Slow;
  }
  let mine: isize = -1;
  for (let i: usize = 0; i < n; i++) {
    const vm = load<u32>(q + 2 + 8 * i);
    if (vm == self) mine = <isize>i;
    else if (!liveness.isAlive(vm)) return Edit.Slow;
  }
  const held = mine < 0 ? 0 : <i64>load<u32>(q + 6 + 8 * <usize>mine);
  const next = held + <i64>delta;
  if (next < 0) return Edit.Nothing;
  out.metered = (flags & FLAG_METERED) != 0;
  if (mine >= 0 && next > 0) {
    const w = out.reserve(size);
    memory.copy(w, p, size);
    store<u32>(w + (q - p) + 6 + 8 * <usize>mine, <u32>next);
    out.size = size;
  } else if (mine >= 0) {
    // Down to zero: the entry goes, so slots stay small.
    const at = q + 2 + 8 * <usize>mine;
    const w = out.reserve(size - 8);
    memory.copy(w, p, at - p);
    memory.copy(w + (at - p), at + 8, p + size - at - 8);
    store<u16>(w + (q - p), <u16>(n - 1));
    out.size = size - 8;
  } else {
    const w = out.reserve(size + 8);
    memory.copy(w, p, tail - p);
    store<u32>(w + (tail - p), self);
    store<u32>(w + (tail - p) + 4, <u32>next);
    memory.copy(w + (tail - p) + 8, tail, p + size - tail);
    store<u16>(w + (q - p), <u16>(n + 1));
    out.size = size + 8;
  }
  return Edit.Written;
}

/**
 * The live total of the slot value at `p` if it holds the host whose name is the `hostSize` bytes
 * at `host`, read in place; -1 if it holds another host or is malformed.
 */
export function liveTotalAt(
  p: usize,
  size: usize,
  host: usize,
  hostSize: usize,
  liveness: VmLiveness,
): i64 {
  if (size < 12 || load<u32>(p) != VERSION || <usize>load<u16>(p, 8) != hostSize) return -1;
  if (<usize>12 + hostSize > size || !sameMemory(p + 10, host, hostSize)) return -1;
  const q = p + 10 + hostSize;
  const n = <usize>load<u16>(q);
  if (q + 2 + 8 * n > p + size) return -1;
  let total: i64 = 0;
  for (let i: usize = 0; i < n; i++) {
    if (liveness.isAlive(load<u32>(q + 2 + 8 * i))) total += <i64>load<u32>(q + 6 + 8 * i);
  }
  return total;
}

/** Whether the slot value at `p` (already checked by liveTotalAt) carries a drain episode. */
export function hasDrainAt(p: usize, size: usize): bool {
  const q = p + 10 + <usize>load<u16>(p, 8);
  return q + 2 + 8 * <usize>load<u16>(q) < p + size;
}
