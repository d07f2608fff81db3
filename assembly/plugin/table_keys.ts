// Creating every key the table writes, in on_configure: Envoy runs it in the canary VM first, on
// the main thread, before any worker sees the config, so no worker ever writes a key that does
// not exist yet (shared_keys.ts `ensure` says why that matters).
import { WasmResult } from "../abi/enums";
import { SharedRead, sharedGet } from "../abi/hostcalls";
import { editValue, ValueEdit } from "./cas";
import { BUCKETS, HostSlots } from "./host_slots";
import { OVERFLOW_BUCKETS, OVERFLOW_HOST } from "./overflow";
import { emptyRoster } from "./players";
import { decodeU32, encodeU32, ensure, SharedKeys } from "./shared_keys";
import { FLAG_METERED, freeSlotValue, Slot } from "./slot";

/** Raises the recorded slot count, never lowers it. */
class CapacityEdit extends ValueEdit {
  constructor(public wanted: i32) {
    super();
  }
  edit(current: ArrayBuffer): ArrayBuffer | null {
    return <i32>decodeU32(current) >= this.wanted ? null : encodeU32(<u32>this.wanted);
  }
}

/**
 * Creates any key of the table under `keys` that is missing, for `maxHosts` slots (and, with
 * `players`, a roster beside each slot).
 */
export function createTableKeys(keys: SharedKeys, maxHosts: i32, players: bool): bool {
  if (!createSlotKeys(keys, maxHosts)) return false;
  return !players || createRosterKeys(keys, maxHosts);
}

/** A roster for every slot there is (slots past a lowered maxHosts may still hold hosts). */
function createRosterKeys(keys: SharedKeys, maxHosts: i32): bool {
  const read = new SharedRead();
  const slots =
    sharedGet(keys.capacity, read).status == WasmResult.Ok ? <i32>decodeU32(read.value) : 0;
  const wanted = max(slots, maxHosts);
  const had =
    sharedGet(keys.rosterCapacity, read).status == WasmResult.Ok ? <i32>decodeU32(read.value) : 0;
  if (had >= wanted) return true;
  if (!ensure(keys.rosterCapacity, encodeU32(0))) return false;
  const empty = emptyRoster();
  for (let i = had; i < wanted; i++) {
    if (!ensure(keys.players(i), empty)) return false;
  }
  return editValue(keys.rosterCapacity, new CapacityEdit(wanted));
}

function createSlotKeys(keys: SharedKeys, maxHosts: i32): bool {
  const read = new SharedRead();
  let capacity: i32 = 0;
  if (sharedGet(keys.capacity, read).status == WasmResult.Ok) {
    capacity = <i32>decodeU32(read.value);
  } else {
    const empty = new HostSlots().encode();
    for (let b = 0; b < BUCKETS; b++) {
      if (!ensure(keys.bucket(b), empty)) return false;
    }
    if (!ensure(keys.metered, empty)) return false;
    if (!ensure(keys.drains, empty)) return false;
    if (!ensure(keys.capacity, encodeU32(0))) return false;
  }
  // Always, so that a table created by an older module gains them too.
  if (!ensure(keys.vms, new ArrayBuffer(0))) return false;
  const overflow = new Slot();
  overflow.host = OVERFLOW_HOST;
  overflow.flags = FLAG_METERED;
  const empty = overflow.encode();
  for (let b = 0; b < OVERFLOW_BUCKETS; b++) {
    if (!ensure(keys.overflow(b), empty)) return false;
  }
  if (capacity >= maxHosts) return true;
  const free = freeSlotValue();
  for (let i = capacity; i < maxHosts; i++) {
    if (!ensure(keys.slot(i), free)) return false;
  }
  // Never lowered: slots past a smaller maxHosts may still hold streams, and the admin view must
  // keep counting them.
  return editValue(keys.capacity, new CapacityEdit(maxHosts));
}
