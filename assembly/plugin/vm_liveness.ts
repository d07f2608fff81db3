// Which VMs still count. Each VM writes its own heartbeat key on every tick; a VM whose
// heartbeat is older than vmTtlSeconds has trapped or vanished, and the streams it held are no
// longer counted (Envoy never calls back into a failed VM, so they would never be closed).
import { WasmResult } from "../abi/enums";
import { nowMillis, randomU32, SharedRead, sharedGet, sharedSet } from "../abi/host";
import { decodeI64, encodeI64, SharedKeys } from "./shared_keys";

class Seen {
  constructor(
    public alive: bool,
    public checkedAt: i64,
  ) {}
}

export class VmLiveness {
  /** This VM's identity: minted once per VM instance, kept across config updates. */
  readonly selfId: u32;
  ttlMillis: i64 = 30_000;
  /** How long a verdict about another VM is reused before its heartbeat is read again. */
  recheckMillis: i64 = 1000;
  private seen: Map<u32, Seen> = new Map<u32, Seen>();
  private read: SharedRead = new SharedRead();

  constructor() {
    let id = randomU32();
    if (id == 0) id = 1;
    this.selfId = id;
  }

  /** Whether this VM has written its heartbeat key at least once. */
  beating: bool = false;

  heartbeat(keys: SharedKeys): void {
    sharedSet(keys.vm(this.selfId), encodeI64(nowMillis()), 0);
    this.beating = true;
  }

  isAlive(keys: SharedKeys, vmId: u32, now: i64): bool {
    if (vmId == this.selfId) return true;
    if (this.seen.has(vmId)) {
      const s = this.seen.get(vmId);
      if (now - s.checkedAt < this.recheckMillis) return s.alive;
    }
    let alive = false;
    if (sharedGet(keys.vm(vmId), this.read).status == WasmResult.Ok) {
      alive = now - decodeI64(this.read.value) <= this.ttlMillis;
    }
    // Bound the cache: VM ids are few, but never let it grow without limit.
    if (this.seen.size > 4096) this.seen.clear();
    this.seen.set(vmId, new Seen(alive, now));
    return alive;
  }
}
