// Names of every shared-data key the plugin uses, and the one safe way to create a key.
//
// Envoy's shared data (proxy-wasm-cpp-host src/shared_data.cc) ignores the CAS when a key does
// not exist yet: two VMs that both read NotFound and both write "create" the key, and the first
// write is lost. So no VM ever creates a key while it may race with another writer:
//  - per-VM keys (heartbeats) are written only by the VM whose id they carry;
//  - every multi-writer key (slots, index buckets, lists) is created by `ensure` during
//    on_configure, which Envoy runs in the canary VM on the main thread before any worker sees
//    the new config; workers then only ever update keys that already exist, with CAS.
// `ensure` also passes a CAS that no live key can hold by the time it runs (the host's CAS
// counter would have to sit exactly at 0xffffffff for this key), so even a concurrent ensure on
// an existing key is refused instead of overwriting it.
import { WasmResult } from "../abi/enums";
import { SharedRead, sharedGet, sharedSet } from "../abi/hostcalls";

const CREATE_ONLY_CAS: u32 = 0xffffffff;

export class SharedKeys {
  /** Slot keys encoded once each, for the per-stream path (see slotKeyBytes). */
  private slotBytes: Array<ArrayBuffer | null> = [];

  constructor(public prefix: string) {}

  private bucketBytes: Array<ArrayBuffer | null> = [];
  private playersBytes: Array<ArrayBuffer | null> = [];

  /** `slot(i)` as bytes, encoded on first use and kept. */
  slotKeyBytes(i: i32): ArrayBuffer {
    const b = kept(this.slotBytes, i);
    return b !== null ? b : keep(this.slotBytes, i, this.slot(i));
  }

  /** `bucket(b)` as bytes, encoded on first use and kept. */
  bucketKeyBytes(b: i32): ArrayBuffer {
    const k = kept(this.bucketBytes, b);
    return k !== null ? k : keep(this.bucketBytes, b, this.bucket(b));
  }

  slot(i: i32): string {
    return this.prefix + "slot/" + i.toString();
  }
  bucket(b: i32): string {
    return this.prefix + "index/" + b.toString();
  }
  get capacity(): string {
    return this.prefix + "capacity";
  }
  /** One of OVERFLOW_BUCKETS overflow slots; a host's streams overflow into one by its hash. */
  overflow(b: i32): string {
    return this.prefix + "overflow/" + b.toString();
  }
  get metered(): string {
    return this.prefix + "metered";
  }
  get drains(): string {
    return this.prefix + "drains";
  }
  complete(host: string): string {
    return this.prefix + "complete/" + host;
  }
  /** Ids of the VMs that ever beat and were not yet found dead (see vm_liveness.ts). */
  get vms(): string {
    return this.prefix + "vms";
  }
  vm(id: u32): string {
    return this.prefix + "vm/" + id.toString(16);
  }
  /** The key player identities are hashed under (player_key.ts). */
  get playerKey(): string {
    return this.prefix + "player-key";
  }
  /** How many rosters exist (players.ts): one per slot, created at configure, never fewer. */
  get rosterCapacity(): string {
    return this.prefix + "players-capacity";
  }
  /** The players of slot `i`'s host (players.ts), kept beside the slot. */
  players(i: i32): string {
    return this.prefix + "players/" + i.toString();
  }
  /** `players(i)` as bytes, encoded on first use and kept. */
  playersKeyBytes(i: i32): ArrayBuffer {
    const b = kept(this.playersBytes, i);
    return b !== null ? b : keep(this.playersBytes, i, this.players(i));
  }
}

function kept(cache: Array<ArrayBuffer | null>, i: i32): ArrayBuffer | null {
  return i < cache.length ? unchecked(cache[i]) : null;
}

function keep(cache: Array<ArrayBuffer | null>, i: i32, key: string): ArrayBuffer {
  while (cache.length <= i) cache.push(null);
  const b = String.UTF8.encode(key);
  unchecked((cache[i] = b));
  return b;
}

const scratch = new SharedRead();

/** Creates `key` with `initial` unless it exists. Returns false if the host refused the write. */
export function ensure(key: string, initial: ArrayBuffer): bool {
  if (sharedGet(key, scratch).status == WasmResult.Ok) return true;
  const status = sharedSet(key, initial, CREATE_ONLY_CAS);
  return status == WasmResult.Ok || status == WasmResult.CasMismatch;
}

export function encodeU32(n: u32): ArrayBuffer {
  const out = new ArrayBuffer(4);
  store<u32>(changetype<usize>(out), n);
  return out;
}

export function decodeU32(bytes: ArrayBuffer): u32 {
  return bytes.byteLength >= 4 ? load<u32>(changetype<usize>(bytes)) : 0;
}
