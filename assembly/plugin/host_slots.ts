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

  slotOf(host: string): i32 {
    for (let i = 0; i < this.hosts.length; i++) {
      if (unchecked(this.hosts[i]) == host) return unchecked(this.slots[i]);
    }
    return -1;
  }

  /** `slot` if the exact pair (host, slot) is listed, else -1. */
  has(host: string, slot: i32): i32 {
    for (let i = 0; i < this.hosts.length; i++) {
      if (unchecked(this.hosts[i]) == host && unchecked(this.slots[i]) == slot) return slot;
    }
    return -1;
  }

  /** Removes the exact pair; returns whether it was there. */
  remove(host: string, slot: i32): bool {
    for (let i = 0; i < this.hosts.length; i++) {
      if (unchecked(this.hosts[i]) == host && unchecked(this.slots[i]) == slot) {
        const last = this.hosts.length - 1;
        unchecked((this.hosts[i] = this.hosts[last]));
        unchecked((this.slots[i] = this.slots[last]));
        this.hosts.pop();
        this.slots.pop();
        return true;
      }
    }
    return false;
  }

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

/** FNV-1a over the UTF-16 code units: cheap, stable across VMs and versions of this plugin. */
export function bucketOf(host: string): i32 {
  let h: u32 = 2166136261;
  for (let i = 0; i < host.length; i++) {
    h ^= <u32>host.charCodeAt(i);
    h *= 16777619;
  }
  return <i32>(h % <u32>BUCKETS);
}
