// The one way to change a shared-data value that several VMs write: read it with its CAS,
// compute the new value from what was read, write it back with that CAS, and on a lost race
// start over from a fresh read. Another VM's write either landed before the read (and is kept)
// or makes the write fail (and is kept on the next round), so no update is lost; and a lost
// round means another VM's write landed, so the loop always ends. Slot values have their own
// loop (ConnectionTable.update), which also completes drains and moves gauges in the same write.
import { WasmResult } from "../abi/enums";
import { SharedRead, sharedGet, sharedSet } from "../abi/hostcalls";
import {
  decodeHostSlots,
  HostSlots,
  listLength,
  listWith,
  listWithout,
  pairInList,
  slotInList,
} from "./host_slots";

/** A change to one value, computed from the value just read. */
export abstract class ValueEdit {
  /** The new value, or null to leave it as it is (nothing to change). */
  abstract edit(current: ArrayBuffer): ArrayBuffer | null;
}

/** Applies `change` to the value at `key`. False: the key is missing or shared data refused. */
export function editValue(key: string, change: ValueEdit): bool {
  const read = new SharedRead();
  while (true) {
    if (sharedGet(key, read).status != WasmResult.Ok) return false;
    const next = change.edit(read.value);
    if (next === null) return true;
    const status = sharedSet(key, next, read.cas);
    if (status == WasmResult.Ok) return true;
    if (status != WasmResult.CasMismatch) return false;
  }
}

/**
 * Adds (host, slot) to a HostSlots list, or removes that exact pair. With `uniqueHost` (the index
 * and the metered list) a host is listed at most once: adding a host already listed keeps the
 * existing pair. Without it (the open-drains list) pairs are what counts: a host whose slot moved
 * is listed with the new slot too, until the stale pair is removed. After the edit, `slot` is the
 * slot the list gives the host (-1: not listed). Works on the bytes (host_slots.ts), no decoding.
 */
export class ListEdit extends ValueEdit {
  slot: i32 = -1;
  private name: ArrayBuffer;

  constructor(
    host: string,
    public wanted: i32,
    public add: bool,
    public uniqueHost: bool = true,
    /** Entries a list may hold (adding past it leaves the host unlisted). */
    public limit: i32 = i32.MAX_VALUE,
  ) {
    super();
    this.name = String.UTF8.encode(host);
  }

  edit(current: ArrayBuffer): ArrayBuffer | null {
    if (!this.add) {
      this.slot = -1;
      return listWithout(current, this.name, this.wanted);
    }
    const at = this.uniqueHost
      ? slotInList(current, this.name)
      : pairInList(current, this.name, this.wanted)
        ? this.wanted
        : -1;
    this.slot = at;
    if (at >= 0 || listLength(current) >= this.limit) return null;
    this.slot = this.wanted;
    return listWith(current, this.name, this.wanted);
  }
}

export function listOf(key: string): HostSlots {
  const read = new SharedRead();
  if (sharedGet(key, read).status != WasmResult.Ok) return new HostSlots();
  return decodeHostSlots(read.value);
}
