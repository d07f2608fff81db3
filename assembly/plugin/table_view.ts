// Reading the table for the admin endpoint and the drain ticks: one host's count, or every
// tracked host's. Reads only; every write goes through ConnectionTable.
import { WasmResult } from "../abi/enums";
import { rawPtr, rawSize, releaseRaw, SharedRead, sharedGet, sharedGetAt } from "../abi/hostcalls";
import { ConnectionTable, OVERFLOW_BUCKETS } from "./connection_table";
import { Drain } from "./drain";
import { fnv1a } from "./host_cache";
import { BUCKETS } from "./host_slots";
import { decodeSlot, decodeSlotAt, hasDrainAt, liveTotalAt, Slot, SlotWriter } from "./slot";

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
 * what is tracked, not maxHosts: one read per bucket and one per tracked host, each looked at in
 * place (a slot is decoded only for its drain). A host is listed once its claim is published;
 * a claim still in progress shows a moment later.
 */
export function snapshot(table: ConnectionTable): TableSnapshot {
  const out = new TableSnapshot();
  const overflow = new StaticArray<i64>(OVERFLOW_BUCKETS);
  for (let b = 0; b < OVERFLOW_BUCKETS; b++) {
    const n = table.overflowAt(b);
    unchecked((overflow[b] = n));
    out.overflow += n;
  }
  const keys = table.keys;
  const bucket = new SlotWriter();
  for (let b = 0; b < BUCKETS; b++) {
    if (sharedGetAt(keys.bucketKeyBytes(b)) != WasmResult.Ok) continue;
    const p = rawPtr();
    const size = rawSize();
    // An empty bucket is its u16 count of 0. Else keep a copy: reading slots needs the host's
    // block for their values.
    const entries = size < 2 ? 0 : <i32>load<u16>(p);
    if (entries > 0) memory.copy(bucket.reserve(size), p, size);
    releaseRaw(p);
    let at = bucket.ptr + 2;
    const end = bucket.ptr + size;
    for (let k = 0; k < entries && at + 6 <= end; k++) {
      const hostSize = <usize>load<u16>(at);
      if (at + 6 + hostSize > end) break;
      const host = at + 2;
      const slot = <i32>load<u32>(host + hostSize);
      at += 6 + hostSize;
      listHost(table, out, overflow, host, hostSize, slot);
    }
  }
  out.totalActive += out.overflow;
  return out;
}

/** Adds the host named by the bytes at `host` if slot `i` holds it (a stale entry lists nothing). */
function listHost(
  table: ConnectionTable,
  out: TableSnapshot,
  overflow: StaticArray<i64>,
  host: usize,
  hostSize: usize,
  i: i32,
): void {
  if (sharedGetAt(table.keys.slotKeyBytes(i)) != WasmResult.Ok) return;
  const p = rawPtr();
  const size = rawSize();
  const active = liveTotalAt(p, size, host, hostSize, table.liveness);
  const drain = active >= 0 && hasDrainAt(p, size) ? decodeSlotAt(p, size).drain : null;
  releaseRaw(p);
  if (active < 0) return;
  // The overflow bucket of the name (the index's FNV-1a over ASCII bytes, as bucketOf).
  const shared = unchecked(overflow[(fnv1a(host, hostSize) % <u32>BUCKETS) & (OVERFLOW_BUCKETS - 1)]);
  const name = String.UTF8.decodeUnsafe(host, hostSize);
  out.hosts.push(new HostCount(name, active + shared, drain, shared));
  out.totalActive += active;
}
