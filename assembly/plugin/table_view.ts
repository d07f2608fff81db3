// Reading the table for the admin endpoint and the drain ticks: one host's count, or every
// tracked host's. Reads only; every write goes through ConnectionTable.
import { WasmResult } from "../abi/enums";
import { rawPtr, rawSize, releaseRaw, SharedRead, sharedGet, sharedGetAt } from "../abi/hostcalls";
import { ConnectionTable } from "./connection_table";
import { Drain } from "./drain";
import { BUCKETS } from "./host_slots";
import { OVERFLOW_BUCKETS, overflowBucketAt } from "./overflow";
import { PlayerCount } from "./players";
import { decodeSlot, decodeSlotAt, hasDrainAt, liveTotalAt, Slot, SlotBuffer } from "./slot";

export class HostCount {
  /** The first 8 bytes of the name, big-endian: orders most names without a full compare. */
  readonly sortKey: u64;

  constructor(
    /** The host key's bytes (what answers are written from; `host` decodes them on demand). */
    public name: ArrayBuffer,
    /** Streams counted on the host's slot plus `overflow`: never less than the truth. */
    public active: i64,
    public drain: Drain | null,
    /** Streams in the host's overflow slot, which may or may not be the host's (0: exact). */
    public overflow: i64,
    /** Distinct players on the host (players configured), else null. */
    public players: PlayerCount | null,
  ) {
    let key: u64 = 0;
    const p = changetype<usize>(name);
    const n = min(<usize>name.byteLength, 8);
    for (let i: usize = 0; i < n; i++) key |= (<u64>load<u8>(p + i)) << (56 - 8 * i);
    this.sortKey = key;
  }

  get host(): string {
    return String.UTF8.decode(this.name);
  }
}

/** Orders hosts by name, bytewise (host keys are ASCII: the same order as by string). */
export function byHost(a: HostCount, b: HostCount): i32 {
  if (a.sortKey != b.sortKey) return a.sortKey < b.sortKey ? -1 : 1;
  const x = changetype<usize>(a.name);
  const y = changetype<usize>(b.name);
  const m = <usize>a.name.byteLength;
  const n = <usize>b.name.byteLength;
  const common = min(m, n);
  for (let i: usize = 8; i < common; i++) {
    const c = <i32>load<u8>(x + i) - <i32>load<u8>(y + i);
    if (c != 0) return c;
  }
  return m < n ? -1 : m > n ? 1 : 0;
}

export class TableSnapshot {
  hosts: Array<HostCount> = [];
  overflow: i64 = 0;
  totalActive: i64 = 0;
}

/**
 * The slot value of `host`, or null if the table does not track it. This VM's hint may be stale
 * (the host was evicted and came back on another slot): then the index decides.
 */
export function slotOf(table: ConnectionTable, host: string): Slot | null {
  const i = slotIndexOf(table, host);
  return i < 0 ? null : slotAt(table, i, host);
}

/** The index of the slot that holds `host` (checked against the value), or -1. */
function slotIndexOf(table: ConnectionTable, host: string): i32 {
  const hinted = table.placement.locate(host);
  if (hinted >= 0 && slotAt(table, hinted, host) !== null) return hinted;
  const indexed = table.placement.indexedSlot(host);
  return indexed < 0 || indexed == hinted || slotAt(table, indexed, host) === null ? -1 : indexed;
}

/**
 * The distinct players of the host whose slot `i` holds `slot` and whose overflow slot counts
 * `overflow` streams (null without players). Exact only when the roster holds every stream the
 * slot counts (Roster.count) and none is in overflow (no roster there); else a lower bound.
 */
function playersOn(
  table: ConnectionTable,
  players: bool,
  i: i32,
  name: ArrayBuffer,
  slot: Slot | null,
  overflow: i64,
): PlayerCount | null {
  if (!players || !table.playerKey.loaded) return null;
  if (slot === null) {
    const none = new PlayerCount(0);
    none.exact = overflow == 0;
    return none;
  }
  const count = table.roster.count(table.keys.playersKeyBytes(i), name, slot);
  if (overflow > 0) count.exact = false;
  return count;
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
export function hostCount(table: ConnectionTable, host: string, players: bool): HostCount {
  const i = slotIndexOf(table, host);
  const slot: Slot | null = i < 0 ? null : slotAt(table, i, host);
  const overflow = table.overflowFor(host);
  const active = slot === null ? 0 : table.total(slot);
  const name = String.UTF8.encode(host);
  const drain: Drain | null = slot === null ? null : slot.drain;
  const count = playersOn(table, players, i, name, slot, overflow);
  return new HostCount(name, active + overflow, drain, overflow, count);
}

/**
 * Every tracked host with its live total, plus the overflow figure. Hosts are found through the
 * index (1,024 buckets, most of them empty and skipped without decoding), so an answer costs
 * what is tracked, not maxHosts: one read per bucket and one per tracked host, each looked at in
 * place (a slot is decoded only for its drain). A host is listed once its claim is published;
 * a claim still in progress shows a moment later.
 */
export function snapshot(table: ConnectionTable, players: bool): TableSnapshot {
  const out = new TableSnapshot();
  const overflow = new StaticArray<i64>(OVERFLOW_BUCKETS);
  for (let b = 0; b < OVERFLOW_BUCKETS; b++) {
    const n = table.overflowAt(b);
    unchecked((overflow[b] = n));
    out.overflow += n;
  }
  const keys = table.keys;
  const bucket = new SlotBuffer();
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
      listHost(table, players, out, overflow, host, hostSize, slot);
    }
  }
  out.totalActive += out.overflow;
  return out;
}

/** Adds the host named by the bytes at `host` if slot `i` holds it (a stale entry lists nothing). */
function listHost(
  table: ConnectionTable,
  players: bool,
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
  // Decoded for its drain, or for the roster to be held against it.
  const decoded = active >= 0 && (players || hasDrainAt(p, size)) ? decodeSlotAt(p, size) : null;
  const drain = decoded !== null ? decoded.drain : null;
  releaseRaw(p);
  if (active < 0) return;
  const shared = unchecked(overflow[overflowBucketAt(host, hostSize)]);
  const name = new ArrayBuffer(<i32>hostSize);
  memory.copy(changetype<usize>(name), host, hostSize);
  const count = playersOn(table, players, i, name, decoded, shared);
  out.hosts.push(new HostCount(name, active + shared, drain, shared, count));
  out.totalActive += active;
}
