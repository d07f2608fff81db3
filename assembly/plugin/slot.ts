// The value stored under one slot key: which host the slot belongs to and how many streams
// each VM holds for it. Every VM writes its own entry with compare-and-swap on the whole value;
// the slot key always exists before anyone writes it (see SharedKeys.ensure), so the CAS is
// never bypassed by the "set on a missing key ignores the CAS" rule of Envoy's shared data.
//
// Layout (little-endian): u32 version | u32 flags | u16 hostBytes | host UTF-8 |
//                         u16 entries | entries x (u32 vmId, u32 count) | [drain, see drain.ts]
import { Drain, Reader, readDrain, Writer, writeDrain } from "./drain";

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
    let tail: ArrayBuffer | null = null;
    const d = this.drain;
    if (d !== null) {
      const w = new Writer();
      writeDrain(w, d);
      tail = w.finish();
    }
    const head = 12 + host.byteLength + 8 * n;
    const out = new ArrayBuffer(head + (tail !== null ? tail.byteLength : 0));
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
    if (tail !== null) memory.copy(p + head, changetype<usize>(tail), tail.byteLength);
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
