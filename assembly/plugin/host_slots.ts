// A list of (host, slot) pairs in one shared-data value. Three lists use this form: each index
// bucket (`index/<b>`: the hosts hashing to bucket b and their slots; hosts hash into a fixed
// number of buckets so a lookup reads one small value, not a list of every tracked host), the
// open-drains list (`drains`: hosts whose drain needs a tick's attention, and their slots), and
// the list of hosts granted a gauge (`metered`, slot unused).
//
// Layout: u16 entries | entries x (u16 hostBytes, host UTF-8, u32 slot)

export const BUCKETS: i32 = 1024;

/** The decoded list. */
export class HostSlots {
  hosts: Array<string> = [];
  slots: Array<i32> = [];

  encode(): ArrayBuffer {
    const encoded = new Array<ArrayBuffer>(this.hosts.length);
    let size = 2;
    for (let i = 0; i < this.hosts.length; i++) {
      const h = String.UTF8.encode(unchecked(this.hosts[i]));
      encoded[i] = h;
      size += 6 + h.byteLength;
    }
    const out = new ArrayBuffer(size);
    let p = changetype<usize>(out);
    store<u16>(p, <u16>this.hosts.length);
    p += 2;
    for (let i = 0; i < encoded.length; i++) {
      const h = unchecked(encoded[i]);
      store<u16>(p, <u16>h.byteLength);
      memory.copy(p + 2, changetype<usize>(h), h.byteLength);
      store<u32>(p + 2 + h.byteLength, <u32>unchecked(this.slots[i]));
      p += 6 + h.byteLength;
    }
    return out;
  }
}

export function decodeHostSlots(bytes: ArrayBuffer): HostSlots {
  return decodeHostSlotsAt(changetype<usize>(bytes), <usize>bytes.byteLength);
}

/** Decodes the list at `p` (a value read in place); a malformed tail is dropped. */
export function decodeHostSlotsAt(at: usize, size: usize): HostSlots {
  const bucket = new HostSlots();
  if (size < 2) return bucket;
  let p = at;
  const end = p + size;
  const n = <i32>load<u16>(p);
  p += 2;
  for (let i = 0; i < n; i++) {
    if (p + 2 > end) break;
    const hostSize = <usize>load<u16>(p);
    if (p + 6 + hostSize > end) break;
    bucket.hosts.push(String.UTF8.decodeUnsafe(p + 2, hostSize));
    bucket.slots.push(<i32>load<u32>(p + 2 + hostSize));
    p += 6 + hostSize;
  }
  return bucket;
}

const FNV_OFFSET: u32 = 2166136261;
const FNV_PRIME: u32 = 16777619;

/** FNV-1a over the UTF-16 code units: cheap, stable across VMs and versions of this plugin. */
export function bucketOf(host: string): i32 {
  let h = FNV_OFFSET;
  for (let i = 0; i < host.length; i++) h = (h ^ <u32>host.charCodeAt(i)) * FNV_PRIME;
  return <i32>(h % <u32>BUCKETS);
}

/** bucketOf for a name given as its `n` bytes at `p` (keys are ASCII, so the same bucket). */
export function bucketOfBytes(p: usize, n: usize): i32 {
  let h = FNV_OFFSET;
  for (let i: usize = 0; i < n; i++) h = (h ^ <u32>load<u8>(p + i)) * FNV_PRIME;
  return <i32>(h % <u32>BUCKETS);
}

// ---- in place: lookups and edits without decoding the list -----------------------------------
// The per-stream and per-new-host paths read and change these lists often (the index on every
// first stream, the metered list of up to metrics.maxHosts names on every gauge grant): looking
// at the bytes spares a string per entry.

/** Where the entry for the `n` name bytes at `name` starts in the list at `p`, or 0 if absent. */
function entryAt(p: usize, size: usize, name: usize, n: usize, slot: i32, anySlot: bool): usize {
  if (size < 2) return 0;
  const end = p + size;
  const count = <i32>load<u16>(p);
  let at = p + 2;
  for (let i = 0; i < count && at + 6 <= end; i++) {
    const len = <usize>load<u16>(at);
    if (at + 6 + len > end) break;
    if (len == n && memory.compare(at + 2, name, n) == 0) {
      if (anySlot || <i32>load<u32>(at + 2 + len) == slot) return at;
    }
    at += 6 + len;
  }
  return 0;
}

/** The slot the list gives the host named by `name`, or -1. */
export function slotInList(list: ArrayBuffer, name: ArrayBuffer): i32 {
  const p = changetype<usize>(list);
  const n = <usize>name.byteLength;
  const at = entryAt(p, <usize>list.byteLength, changetype<usize>(name), n, 0, true);
  return at == 0 ? -1 : <i32>load<u32>(at + 2 + n);
}

/** Whether the exact pair (name, slot) is listed. */
export function pairInList(list: ArrayBuffer, name: ArrayBuffer, slot: i32): bool {
  const p = changetype<usize>(list);
  const n = <usize>name.byteLength;
  return entryAt(p, <usize>list.byteLength, changetype<usize>(name), n, slot, false) != 0;
}

/** How many entries the list holds. */
export function listLength(list: ArrayBuffer): i32 {
  return list.byteLength < 2 ? 0 : <i32>load<u16>(changetype<usize>(list));
}

/** The list with (name, slot) appended. */
export function listWith(list: ArrayBuffer, name: ArrayBuffer, slot: i32): ArrayBuffer {
  const size = max(list.byteLength, 2);
  const n = name.byteLength;
  const out = new ArrayBuffer(size + 6 + n);
  const q = changetype<usize>(out);
  if (list.byteLength >= 2) memory.copy(q, changetype<usize>(list), <usize>size);
  store<u16>(q, <u16>(listLength(list) + 1));
  store<u16>(q + size, <u16>n);
  memory.copy(q + size + 2, changetype<usize>(name), <usize>n);
  store<u32>(q + size + 2 + n, <u32>slot);
  return out;
}

/** The list without the exact pair (name, slot), or null if it is not listed. */
export function listWithout(list: ArrayBuffer, name: ArrayBuffer, slot: i32): ArrayBuffer | null {
  const p = changetype<usize>(list);
  const size = <usize>list.byteLength;
  const n = <usize>name.byteLength;
  const at = entryAt(p, size, changetype<usize>(name), n, slot, false);
  if (at == 0) return null;
  const gone: usize = 6 + n;
  const out = new ArrayBuffer(<i32>(size - gone));
  const q = changetype<usize>(out);
  memory.copy(q, p, at - p);
  memory.copy(q + (at - p), at + gone, p + size - at - gone);
  store<u16>(q, <u16>(listLength(list) - 1));
  return out;
}
