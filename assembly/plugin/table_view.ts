// Reading the table for the admin endpoint and the drain ticks: one host's count, or every
// tracked host's. Reads only; every write goes through ConnectionTable.
import { WasmResult } from "../abi/enums";
import { rawPtr, rawSize, releaseRaw, SharedRead, sharedGet, sharedGetAt } from "../abi/hostcalls";
import { ConnectionTable, OVERFLOW_BUCKETS, overflowBucketOf } from "./connection_table";
import { Drain } from "./drain";
import { BUCKETS, decodeHostSlotsAt } from "./host_slots";
import { SharedKeys } from "./shared_keys";
import { decodeSlot, decodeSlotAt, Slot } from "./slot";

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

/**
 * Every tracked host with its live total, plus the overflow figure. Hosts are found through the
 * index (1,024 buckets, most of them empty and skipped without decoding), so an answer costs
 * what is tracked, not maxHosts: one read per bucket and one per tracked host. A host is listed
 * once its claim is published; a claim still in progress shows a moment later.
 */
export function snapshot(table: ConnectionTable): TableSnapshot {
  const out = new TableSnapshot();
  const overflow = new Array<i64>(OVERFLOW_BUCKETS);
  for (let b = 0; b < OVERFLOW_BUCKETS; b++) {
    const n = table.overflowAt(b);
    unchecked((overflow[b] = n));
    out.overflow += n;
  }
  const keys = table.keys;
  for (let b = 0; b < BUCKETS; b++) {
    if (sharedGetAt(keys.bucketKeyBytes(b)) != WasmResult.Ok) continue;
    const p = rawPtr();
    const size = rawSize();
    // An empty bucket is its u16 count of 0.
    if (size < 2 || load<u16>(p) == 0) {
      releaseRaw(p);
      continue;
    }
    const bucket = decodeHostSlotsAt(p, size);
    releaseRaw(p);
    for (let k = 0; k < bucket.hosts.length; k++) {
      const host = unchecked(bucket.hosts[k]);
      const slot = slotIn(keys, unchecked(bucket.slots[k]), host);
      // A stale index entry (the slot went to another host) lists nothing.
      if (slot === null) continue;
      const active = table.total(slot);
      const shared = unchecked(overflow[overflowBucketOf(host)]);
      out.hosts.push(new HostCount(host, active + shared, slot.drain, shared));
      out.totalActive += active;
    }
  }
  out.totalActive += out.overflow;
  return out;
}

/** Slot `i`'s value if it holds `host`, read through the slot key's cached bytes. */
function slotIn(keys: SharedKeys, i: i32, host: string): Slot | null {
  if (sharedGetAt(keys.slotKeyBytes(i)) != WasmResult.Ok) return null;
  const p = rawPtr();
  const slot = decodeSlotAt(p, rawSize());
  releaseRaw(p);
  return slot.host == host ? slot : null;
}
