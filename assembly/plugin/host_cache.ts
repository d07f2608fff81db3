// What this VM remembers of each host key it has seen: built by the host's first stream and
// reused by every later one, so a stream finds its host from the raw header or property bytes
// without building a string, and finds the slot, its encoded key and its gauge without any
// lookup that allocates. Only hints live here: every use is checked against shared data.
import { KeyBy, MAX_KEY_LENGTH } from "./host_key";
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
    /** The slot's index (-1 for an overflow slot). */
    public slot: i32,
    /** The key of the roster beside the slot (players.ts), of the same table as `key`. */
    public rosterKey: ArrayBuffer | null,
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
const KEY: usize = memory.data(MAX_KEY_LENGTH + 9);
const HASH: usize = memory.data(4);

/**
 * Host entries by key bytes, in an open-addressing table that grows with the hosts seen, up to
 * room for `limit`; past that it starts over (entries are hints, so forgetting them costs a few
 * lookups, never a count). Sized to what is seen, not to maxHosts: the collector visits the
 * whole table on every cycle.
 */
export class HostCache {
  private entries: StaticArray<HostEntry | null> = new StaticArray<HostEntry | null>(64);
  private used: i32 = 0;
  private mask: u32 = 63;
  private limit: i32 = 1024;

  /** Room for `limit` hosts (config: twice maxHosts) before starting over. */
  fitTo(limit: i32): void {
    this.limit = max(limit, 32);
  }

  /**
   * The entry for the stream key in the raw value `p`/`size` (a header or property as Envoy
   * gave it), normalized under `keyBy`; null when the value cannot be a host key (empty, longer
   * than 255 bytes, anything but printable ASCII: raw bytes are checked before any decoding, so
   * invalid UTF-8 cannot alias a real host). Allocates only for a host not seen before.
   */
  lookup(keyBy: KeyBy, p: usize, size: usize): HostEntry | null {
    const n = normalizeInto(keyBy, p, size, HASH);
    if (n == 0) return null;
    const hash = load<u32>(HASH);
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

  /** Forgets every slot hint and lease (the table's keys changed). */
  clear(): void {
    this.entries = new StaticArray<HostEntry | null>(64);
    this.mask = 63;
    this.used = 0;
  }

  private insert(entry: HostEntry): void {
    if (this.used * 2 >= this.entries.length) {
      if (this.used >= this.limit) this.clear();
      else this.grow();
    }
    this.place(entry);
    this.used++;
  }

  private place(entry: HostEntry): void {
    let i = entry.hash & this.mask;
    while (unchecked(this.entries[i]) !== null) i = (i + 1) & this.mask;
    unchecked((this.entries[i] = entry));
  }

  private grow(): void {
    const old = this.entries;
    const n = old.length * 2;
    this.entries = new StaticArray<HostEntry | null>(n);
    this.mask = <u32>n - 1;
    for (let i = 0; i < old.length; i++) {
      const e = unchecked(old[i]);
      if (e !== null) this.place(e);
    }
  }
}

const ONES: u64 = <u64>0x01010101 * 0x100000001;
const HIGHS: u64 = ONES << 7;
/** 2^64 / golden ratio, the multiplier of a Fibonacci hash. */
const GOLDEN: u64 = ((<u64>0x9e3779b9) << 32) | 0x7f4a7c15;

/**
 * The stream key of the raw value at `p` into KEY, hashed (for this cache only) into `hashOut`;
 * returns its length, 0 if the value cannot be a key. Values without ':' or a leading '['
 * (nearly every Host header, every cluster name) take eight bytes at a time; the rest go byte by
 * byte (normalizeSlowly). Same result either way: host_key.ts normalizeAuthority, on bytes.
 */
function normalizeInto(keyBy: KeyBy, p: usize, size: usize, hashOut: usize): usize {
  if (size == 0 || size > <usize>MAX_KEY_LENGTH) return 0;
  const authority = keyBy == KeyBy.Authority;
  if (authority && load<u8>(p) == 0x5b) return normalizeSlowly(keyBy, p, size, hashOut);
  memory.copy(KEY, p, size);
  store<u64>(KEY + size, 0);
  let h: u64 = 0;
  for (let at: usize = 0; at < size; at += 8) {
    let w = load<u64>(KEY + at);
    const left = size - at;
    const valid: u64 = left >= 8 ? HIGHS : HIGHS & (((<u64>1) << (left << 3)) - 1);
    // Any byte >= 0x80, then (exact once those are ruled out) any < 0x21, or 0x7f: adding 1
    // sets a byte's high bit only where it was 0x7f.
    if ((w & valid) != 0) return 0;
    if (((w - ONES * 0x21) & ~w & valid) != 0) return 0;
    if (((w + ONES) & valid) != 0) return 0;
    if (authority) {
      const colon = w ^ (ONES * 0x3a);
      if (((colon - ONES) & ~colon & valid) != 0) return normalizeSlowly(keyBy, p, size, hashOut);
      // 'A'..'Z' -> 'a'..'z': a byte is upper case when >= 'A' and not > 'Z'.
      const geA = w + ONES * (0x80 - 0x41);
      const gtZ = w + ONES * (0x7f - 0x5a);
      w |= (geA & ~gtZ & valid) >> 2;
      store<u64>(KEY + at, w);
    }
    h = (h ^ w) * GOLDEN;
  }
  store<u32>(hashOut, <u32>(h ^ (h >> 32)) ^ <u32>size);
  return size;
}

/** normalizeInto, byte by byte, for values with a port or a bracketed IPv6 address. */
function normalizeSlowly(keyBy: KeyBy, p: usize, size: usize, hashOut: usize): usize {
  const authority = keyBy == KeyBy.Authority;
  const bracketed = authority && load<u8>(p) == 0x5b;
  // The host part ends at a single ":digits" port, or just after "]" when bracketed.
  let end: usize = size;
  let colons = 0;
  let digitsAfter = true;
  for (let i: usize = 0; i < size; i++) {
    let c = <u32>load<u8>(p + i);
    if (c <= 0x20 || c >= 0x7f) return 0;
    if (authority) {
      if (c - 0x41 < 26) c += 32;
      if (bracketed) {
        if (c == 0x5d && end == size) end = i + 1;
      } else if (c == 0x3a) {
        if (colons++ == 0) {
          end = i;
          digitsAfter = true;
        }
      } else if (colons > 0 && c - 0x30 >= 10) {
        digitsAfter = false;
      }
    }
    store<u8>(KEY + i, <u8>c);
  }
  if (bracketed) {
    if (end == size && load<u8>(KEY + size - 1) != 0x5d) return 0;
  } else if (authority && !(colons == 1 && digitsAfter && end + 1 < size)) {
    end = size;
  }
  if (end == 0) return 0;
  store<u32>(hashOut, wordHash(KEY, end));
  return end;
}

/** The cache's hash of the `n` key bytes at `p` (zero-padded to a word), as normalizeInto's. */
function wordHash(p: usize, n: usize): u32 {
  store<u64>(p + n, 0);
  let h: u64 = 0;
  for (let at: usize = 0; at < n; at += 8) h = (h ^ load<u64>(p + at)) * GOLDEN;
  return <u32>(h ^ (h >> 32)) ^ <u32>n;
}

/** Whether the `n` bytes at `a` and `b` are equal, compared a word at a time. */
export function sameMemory(a: usize, b: usize, n: usize): bool {
  if (n < 8) {
    for (let i: usize = 0; i < n; i++) if (load<u8>(a + i) != load<u8>(b + i)) return false;
    return true;
  }
  // Whole words, then the last word again, overlapping what came before.
  for (let i: usize = 0; i + 8 < n; i += 8) if (load<u64>(a + i) != load<u64>(b + i)) return false;
  return load<u64>(a + n - 8) == load<u64>(b + n - 8);
}

function sameBytes(a: ArrayBuffer, p: usize, n: usize): bool {
  return <usize>a.byteLength == n && sameMemory(changetype<usize>(a), p, n);
}
