// What this VM remembers of each host key it has seen: built by the host's first stream and
// reused by every later one, so a stream finds its host from the raw header or property bytes
// without building a string, and finds the slot, its encoded key and its gauge without any
// lookup that allocates. Only hints live here: every use is checked against shared data.
import { isKeyChar, KeyBy, MAX_KEY_LENGTH } from "./host_key";
import { HostPatterns } from "./host_patterns";

/** What a counted stream holds: the exact key it was counted under, shared by its host's streams. */
export class Lease {
  constructor(
    /** The shared-data key (slot or overflow slot), as text and as bytes. */
    public key: string,
    public keyBytes: ArrayBuffer,
    /** The slot's host name (OVERFLOW_HOST for an overflow slot). */
    public slotHost: string,
    /** The host the stream belongs to. */
    public entry: HostEntry,
    public overflow: bool,
  ) {}
}

export class HostEntry {
  /** Slot index last seen holding this host (a hint), and its lease. */
  slot: i32 = -1;
  lease: Lease | null = null;
  /** Whether the host's slot carried the metered flag at this VM's last write. */
  metered: bool = false;
  /** Envoy gauge id (-2: not looked up yet, -1: none). */
  gaugeId: i64 = -2;
  /** Gauge refused (metrics.maxHosts reached) under config generation `deniedIn`. */
  gaugeDenied: bool = false;
  deniedIn: u32 = 0;
  private matchedBy: HostPatterns | null = null;
  private matched: bool = false;

  constructor(
    public host: string,
    public hostBytes: ArrayBuffer,
    public hash: u32,
  ) {}

  /** Whether `patterns` track this host; computed once per config. */
  tracked(patterns: HostPatterns): bool {
    if (this.matchedBy !== patterns) {
      this.matched = patterns.matches(this.host);
      this.matchedBy = patterns;
    }
    return this.matched;
  }
}

/** Where stream keys are normalized into: one callback at a time, so one buffer is enough. */
const KEY: usize = memory.data(MAX_KEY_LENGTH + 1);

/**
 * Host entries by key bytes, in an open-addressing table. Bounded: when it is full it starts
 * over (entries are hints, so forgetting them costs a few lookups, never a count).
 */
export class HostCache {
  private entries: StaticArray<HostEntry | null>;
  private used: i32 = 0;
  private mask: u32;

  constructor(capacity: i32) {
    const n = tableSize(capacity);
    this.entries = new StaticArray<HostEntry | null>(n);
    this.mask = <u32>n - 1;
  }

  /** Room for `capacity` hosts (config maxHosts) without starting over; grows only. */
  fitTo(capacity: i32): void {
    const n = tableSize(capacity);
    if (n <= this.entries.length) return;
    const old = this.entries;
    this.entries = new StaticArray<HostEntry | null>(n);
    this.mask = <u32>n - 1;
    this.used = 0;
    for (let i = 0; i < old.length; i++) {
      const e = unchecked(old[i]);
      if (e !== null) this.insert(e);
    }
  }

  /**
   * The entry for the stream key in the raw value `p`/`size` (a header or property as Envoy
   * gave it), normalized under `keyBy`; null when the value cannot be a host key (empty, longer
   * than 255 bytes, anything but printable ASCII: raw bytes are checked before any decoding, so
   * invalid UTF-8 cannot alias a real host). Allocates only for a host not seen before.
   */
  lookup(keyBy: KeyBy, p: usize, size: usize): HostEntry | null {
    const n = normalizeInto(keyBy, p, size);
    if (n == 0) return null;
    const hash = fnv1a(KEY, n);
    let i = hash & this.mask;
    while (true) {
      const e = unchecked(this.entries[i]);
      if (e === null) break;
      if (e.hash == hash && sameBytes(e.hostBytes, KEY, n)) return e;
      i = (i + 1) & this.mask;
    }
    const bytes = new ArrayBuffer(<i32>n);
    memory.copy(changetype<usize>(bytes), KEY, n);
    const entry = new HostEntry(String.UTF8.decodeUnsafe(KEY, n), bytes, hash);
    this.insert(entry);
    return entry;
  }

  /** The entry for a key already in text form (drain starts, admin): same table. */
  lookupText(host: string): HostEntry {
    const bytes = String.UTF8.encode(host);
    const n = <usize>bytes.byteLength;
    const p = changetype<usize>(bytes);
    const hash = fnv1a(p, n);
    let i = hash & this.mask;
    while (true) {
      const e = unchecked(this.entries[i]);
      if (e === null) break;
      if (e.hash == hash && sameBytes(e.hostBytes, p, n)) return e;
      i = (i + 1) & this.mask;
    }
    const entry = new HostEntry(host, bytes, hash);
    this.insert(entry);
    return entry;
  }

  /** Forgets every slot hint and lease (the table's keys changed). */
  clear(): void {
    for (let i = 0; i < this.entries.length; i++) unchecked((this.entries[i] = null));
    this.used = 0;
  }

  private insert(entry: HostEntry): void {
    if (this.used * 2 >= this.entries.length) this.clear();
    let i = entry.hash & this.mask;
    while (unchecked(this.entries[i]) !== null) i = (i + 1) & this.mask;
    unchecked((this.entries[i] = entry));
    this.used++;
  }
}

/** A power of two with load factor at most 1/2 for `capacity` entries (and at least 64). */
function tableSize(capacity: i32): i32 {
  let n: i32 = 64;
  while (n < capacity * 2 && n < 1 << 24) n <<= 1;
  return n;
}

/**
 * Writes the stream key for raw value `p`/`size` into KEY and returns its length (0: not a
 * key). Under authority: the port is stripped ("game1.example.com:443", "[::1]:80" -> "[::1]")
 * and ASCII is lower-cased (host_key.ts normalizeAuthority, on bytes); otherwise as given.
 */
function normalizeInto(keyBy: KeyBy, p: usize, size: usize): usize {
  if (size == 0 || size > <usize>MAX_KEY_LENGTH) return 0;
  for (let i: usize = 0; i < size; i++) {
    const c = load<u8>(p + i);
    if (!isKeyChar(c)) return 0;
  }
  let n = size;
  if (keyBy == KeyBy.Authority) {
    if (load<u8>(p) == 0x5b) {
      // "[v6]" or "[v6]:port": keep through the bracket.
      let close: usize = 0;
      while (close < size && load<u8>(p + close) != 0x5d) close++;
      if (close == size) return 0;
      n = close + 1;
    } else {
      n = hostPartOf(p, size);
    }
    for (let i: usize = 0; i < n; i++) {
      const c = load<u8>(p + i);
      store<u8>(KEY + i, c >= 0x41 && c <= 0x5a ? c + 32 : c);
    }
    return n;
  }
  memory.copy(KEY, p, n);
  return n;
}

/** The length without a ":digits" port; a value with several colons keeps them all. */
function hostPartOf(p: usize, size: usize): usize {
  let colon: isize = -1;
  for (let i: usize = 0; i < size; i++) {
    if (load<u8>(p + i) == 0x3a) {
      if (colon >= 0) return size;
      colon = <isize>i;
    }
  }
  if (colon < 0 || <usize>colon + 1 == size) return size;
  for (let i = <usize>colon + 1; i < size; i++) {
    const c = load<u8>(p + i);
    if (c < 0x30 || c > 0x39) return size;
  }
  return <usize>colon;
}

export function fnv1a(p: usize, n: usize): u32 {
  let h: u32 = 0x811c9dc5;
  for (let i: usize = 0; i < n; i++) h = (h ^ <u32>load<u8>(p + i)) * 0x01000193;
  return h;
}

function sameBytes(a: ArrayBuffer, p: usize, n: usize): bool {
  return <usize>a.byteLength == n && memory.compare(changetype<usize>(a), p, n) == 0;
}
