// The key player identities are hashed under (siphash.ts): 128 random bits, created once per
// shared-data prefix and kept for the life of the Envoy process, so every VM, every config and
// every drain episode hash an identity to the same value, and no client can know it. The raw
// identity is never stored: only sipHash24(key, identity) is.
import { WasmResult } from "../abi/enums";
import { randomU32, SharedRead, sharedGet } from "../abi/hostcalls";
import { ensure, SharedKeys } from "./shared_keys";
import { sipHash24 } from "./siphash";

const KEY_BYTES = 16;

export class PlayerKey {
  k0: u64 = 0;
  k1: u64 = 0;
  loaded: bool = false;

  /**
   * Reads the process's key, creating it first if nobody has: in on_configure, which Envoy runs
   * in the canary VM before any worker (shared_keys.ts `ensure`), so every VM reads the one key
   * that landed, never one of its own. False if shared data holds something else under the name.
   */
  load(keys: SharedKeys): bool {
    const read = new SharedRead();
    if (sharedGet(keys.playerKey, read).status != WasmResult.Ok) {
      const fresh = new ArrayBuffer(KEY_BYTES);
      for (let i = 0; i < KEY_BYTES; i += 4) store<u32>(changetype<usize>(fresh) + i, randomU32());
      if (!ensure(keys.playerKey, fresh)) return false;
      if (sharedGet(keys.playerKey, read).status != WasmResult.Ok) return false;
    }
    if (read.value.byteLength != KEY_BYTES) return false;
    const p = changetype<usize>(read.value);
    this.k0 = load<u64>(p);
    this.k1 = load<u64>(p, 8);
    this.loaded = true;
    return true;
  }

  /** The stored form of the identity in the `size` bytes at `p`: never 0 (0 means "stranger"). */
  hash(p: usize, size: usize): u64 {
    const h = sipHash24(this.k0, this.k1, p, size);
    return h == 0 ? 1 : h;
  }
}
