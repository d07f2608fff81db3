// Reading the table for the admin endpoint and the drain ticks: one host's count, or every
// tracked host's. Reads only; every write goes through ConnectionTable.
import { WasmResult } from "../abi/enums";
import { rawPtr, rawSize, releaseRaw, SharedRead, sharedGet, sharedGetRaw } from "../abi/hostcalls";
import { ConnectionTable, OVERFLOW_BUCKETS, overflowBucketOf } from "./connection_table";
import { Drain } from "./drain";
import { decodeU32 } from "./shared_keys";
import { decodeSlot, decodeSlotAt, isFreeAt, Slot } from "./slot";

export class HostCount {
  constructor(
    public host: string,
    /** Streams counted on the host's slot plus `overflow`: never less than the truth. */
    public active: i64,
    public drain: Drain | null,
    /** Streams in the host's overflow slot, which may or may not be the host's (0: exact). */
    public overflow: i64,
  ) {}
}

export class TableSnapshot {
  hosts: Array<HostCount> = [];
  overflow: i64 = 0;
  totalActive: i64 = 0;
}

/** The slot value of `host`, or null if the table does not track it. */
export function slotOf(table: ConnectionTable, host: string): Slot | null {
  const i = table.placement.locate(host);
  return i < 0 ? null : slotAt(table, i, host);
}

/** Slot `i`'s value if it holds a host (`host`, when given), else null. */
export function slotAt(table: ConnectionTable, i: i32, host: string | null = null): Slot | null {
  const read = new SharedRead();
  if (sharedGet(table.keys.slot(i), read).status != WasmResult.Ok) return null;
  const s = decodeSlot(read.value);
  if (s.isFree || (host !== null && s.host != host)) return null;
  return s;
}

/** What `?host=` answers: the host's count, never below the truth (see HostCount). */
export function hostCount(table: ConnectionTable, host: string): HostCount {
  const slot = slotOf(table, host);
  const overflow = table.overflowFor(host);
  const active = slot === null ? 0 : table.total(slot);
  return new HostCount(host, active + overflow, slot === null ? null : slot.drain, overflow);
}

/** Every tracked host with its live total, in slot order, plus the overflow figure. */
export function snapshot(table: ConnectionTable): TableSnapshot {
  const out = new TableSnapshot();
  const overflow = new Array<i64>(OVERFLOW_BUCKETS);
  for (let b = 0; b < OVERFLOW_BUCKETS; b++) {
    const n = table.overflowAt(b);
    unchecked((overflow[b] = n));
    out.overflow += n;
  }
  let capacity = table.maxHosts;
  const read = new SharedRead();
  if (sharedGet(table.keys.capacity, read).status == WasmResult.Ok) {
    capacity = max(capacity, <i32>decodeU32(read.value));
  }
  for (let i = 0; i < capacity; i++) {
    // Most slots of a large table are free: look at the raw bytes before decoding anything.
    if (sharedGetRaw(table.keys.slot(i)) != WasmResult.Ok) continue;
    const p = rawPtr();
    const size = rawSize();
    if (isFreeAt(p, size)) {
      releaseRaw(p);
      continue;
    }
    const slot = decodeSlotAt(p, size);
    releaseRaw(p);
    // A claim not yet finished is listed too: if it is given back, its stream is counted again
    // elsewhere, so for that moment the listing errs high, never low.
    const active = table.total(slot);
    const shared = unchecked(overflow[overflowBucketOf(slot.host)]);
    out.hosts.push(new HostCount(slot.host, active + shared, slot.drain, shared));
    out.totalActive += active;
  }
  out.totalActive += out.overflow;
  return out;
}
