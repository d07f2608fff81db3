// Where each host's slot is: finding it through the index (or this VM's hint), and giving a host
// without one a free or idle slot. A new host's slot is made its own in four steps, in this
// order (see place()): claim, publish in the index, fence the host's overflow slot, finish.
import { LogLevel, WasmResult } from "../abi/enums";
import {
  log,
  nowMillis,
  rawCas,
  rawPtr,
  rawSize,
  releaseRaw,
  SharedRead,
  sharedGet,
  sharedGetAt,
  sharedSet,
} from "../abi/hostcalls";
import { editValue, ListEdit, ValueEdit } from "./cas";
import { ConnectionTable } from "./connection_table";
import { hostMetricName } from "./host_metrics";
import { bucketOf, listWithout, pairInList, slotInList } from "./host_slots";
import { OVERFLOW_HOST, overflowBucketOf } from "./overflow";
import {
  decodeSlot,
  decodeSlotAt,
  FLAG_CLAIMING,
  FLAG_LISTED,
  freeSlotValue,
  isFreeAt,
  Slot,
} from "./slot";
import { FinishClaimOp, PruneOp, SlotOp } from "./slot_ops";
import { SlotWrite } from "./slot_write";

/** Where an op on a host's slot landed (ConnectionTable.apply). */
export class Placed {
  constructor(
    public result: SlotWrite,
    /** The slot, or -1 (NoRoom). */
    public slot: i32,
    /** The value written (result Ok), or null. */
    public written: Slot | null,
  ) {}
}

const NO_ROOM = new Placed(SlotWrite.NoRoom, -1, null);
/** What a free slot reads as (takeSlot's `previous` for a slot nobody held). */
const FREE = new Slot();

export class SlotPlacement {
  /** host -> slot, a hint only: every use re-checks the slot's host. */
  private hints: Map<string, i32> = new Map<string, i32>();
  private cursor: i32 = 0;
  /** Until when a full pass found no room (see claimSlot). */
  private fullUntil: i64 = 0;
  private read: SharedRead = new SharedRead();

  constructor(private table: ConnectionTable) {
    // Start each VM at its own place so that VMs do not claim in lockstep.
    this.cursor = <i32>(table.selfId % 1024);
  }

  /** The table's keys changed (another prefix): every hint is stale. */
  reset(): void {
    this.hints.clear();
    if (this.cursor >= this.table.maxHosts) this.cursor = 0;
  }

  /**
   * Applies `op` to `host`'s slot; a host without one gets a new slot holding `op.freshSlot`.
   * Counting and drain starts both come here. Loops until the op lands, is declined, or no slot
   * can be had: each round that fails does so because another VM changed the index or the slot.
   */
  apply(host: string, op: SlotOp): Placed {
    let useHint = true;
    while (true) {
      const hinted = useHint && this.hints.has(host);
      const i = hinted ? this.hints.get(host) : this.indexedSlot(host);
      if (i >= 0) {
        op.acceptClaiming = !hinted;
        const r = this.table.update(this.table.keys.slot(i), host, op);
        op.acceptClaiming = true;
        if (r.status == SlotWrite.Ok || r.status == SlotWrite.Declined) {
          return new Placed(r.status, i, r.written);
        }
        if (r.status == SlotWrite.Claiming) {
          // The hint points at a claim in progress: only the index can say it stands.
          this.hints.delete(host);
          useHint = false;
        } else {
          this.forget(host, i);
        }
        continue;
      }
      const placed = this.place(host, op.freshSlot(host, this.table.selfId), op.scansFullTable);
      if (placed !== null) return placed;
    }
  }

  /** The slot the index (or this VM's hint) gives for `host`, or -1. */
  locate(host: string): i32 {
    if (this.hints.has(host)) return this.hints.get(host);
    return this.indexedSlot(host);
  }

  /** The slot the index gives for `host` (and remembered as this VM's hint), or -1. */
  indexedSlot(host: string): i32 {
    const key = this.table.keys.bucket(bucketOf(host));
    if (sharedGet(key, this.read).status != WasmResult.Ok) return -1;
    const slot = slotInList(this.read.value, String.UTF8.encode(host));
    if (slot >= 0) this.remember(host, slot);
    return slot;
  }

  /**
   * The index pointed at a slot that held another host: drop that stale entry, unless the host
   * is back on that very slot by now (another VM may have evicted it and placed it there again
   * since the slot was read: removing that entry would hide the host's players from the index).
   */
  forget(host: string, slot: i32): void {
    this.hints.delete(host);
    const key = this.table.keys.bucket(bucketOf(host));
    editValue(key, new UnindexEdit(host, slot, this.table.keys.slot(slot)));
  }

  private remember(host: string, slot: i32): void {
    if (this.hints.size >= this.table.maxHosts) this.hints.clear();
    this.hints.set(host, slot);
  }

  /**
   * Puts `fresh` (a new host's first value) into a free or idle slot and makes it the host's.
   * `fresh` is written with its first count or drain already in it, so the first increment
   * cannot be lost and a fresh slot is never taken for an idle one. The steps, in this order:
   *  1. claim: write `fresh`, flagged claiming, into a free or idle slot;
   *  2. publish: add host -> slot to the index bucket (another VM may have won: give it back);
   *  3. fence: write the host's overflow slot, so an overflow open of this host that read the
   *     index before step 2 either landed before this write or fails its CAS and finds the slot;
   *  4. finish: clear the claiming flag. Only from here on can the slot complete a drain, and
   *     that completion reads the overflow slot after the fence.
   * Returns where the host landed (NoRoom when every slot holds live streams, a drain or a
   * config listing), or null to look the host up again: another VM indexed it first.
   */
  private place(host: string, fresh: Slot, scanFullTable: bool): Placed | null {
    const indexKey = this.table.keys.bucket(bucketOf(host));
    if (sharedGet(indexKey, this.read).status != WasmResult.Ok) return NO_ROOM;
    if (slotInList(this.read.value, String.UTF8.encode(host)) >= 0) return null;
    fresh.flags |= FLAG_CLAIMING;
    const claimed = this.claimSlot(fresh, scanFullTable);
    if (claimed < 0) return NO_ROOM;
    const publish = new ListEdit(host, claimed, true);
    if (!editValue(indexKey, publish) || publish.slot != claimed) {
      this.release(claimed, host);
      return null;
    }
    this.remember(host, claimed);
    const table = this.table;
    table.update(table.keys.overflow(overflowBucketOf(host)), OVERFLOW_HOST, new PruneOp());
    const finish = table.update(table.keys.slot(claimed), host, new FinishClaimOp());
    if (finish.status != SlotWrite.Ok && finish.status != SlotWrite.Declined) return null;
    return new Placed(SlotWrite.Ok, claimed, finish.written);
  }

  /** idle(), on a value read in place: decodes only a slot that carries a drain. */
  private idleAt(p: usize, size: usize): bool {
    if (size < 12) return false;
    const flags = load<u32>(p, 4);
    const q = p + 10 + <usize>load<u16>(p, 8);
    if (q + 2 > p + size) return false;
    const n = <usize>load<u16>(q);
    if (q + 2 + 8 * n > p + size) return false;
    const liveness = this.table.liveness;
    for (let i: usize = 0; i < n; i++) {
      const count = load<u32>(q + 6 + 8 * i);
      if (count > 0 && liveness.isAlive(load<u32>(q + 2 + 8 * i))) return false;
    }
    if ((flags & FLAG_CLAIMING) != 0) return true;
    if ((flags & FLAG_LISTED) != 0) return false;
    return q + 2 + 8 * n == p + size || this.idle(decodeSlotAt(p, size));
  }

  /**
   * A slot can be reused when nobody is on it, no drain still needs it and config does not
   * list it. A claim whose claimer died (its count no longer live) is reusable too.
   */
  private idle(slot: Slot): bool {
    if (this.table.total(slot) != 0) return false;
    if (slot.claiming) return true;
    const d = slot.drain;
    return (d === null || !d.open) && !slot.listed;
  }

  /**
   * Finds a slot for `fresh`: a free one, else one whose host is idle (evicted). Scans from this
   * VM's rotating cursor, stopping at the first free slot (or, once an idle victim is in hand, a
   * few probes later). When a whole pass finds neither, the table is full of live hosts: new
   * hosts go to overflow without another scan until the next tick, so a flood cannot make every
   * stream pay for a full pass (an operator's drain start scans anyway).
   */
  private claimSlot(fresh: Slot, scanFullTable: bool): i32 {
    const now = nowMillis();
    const period = this.table.liveness.tickMillis;
    // (The second test keeps a wall clock stepped backwards from pinning hosts to overflow.)
    const recentlyFull = now < this.fullUntil && now >= this.fullUntil - period;
    if (recentlyFull && !scanFullTable) return -1;
    const limit = this.table.maxHosts;
    const keys = this.table.keys;
    let victim = -1;
    for (let p = 0; p < limit; p++) {
      const i = this.cursor;
      this.cursor = this.cursor + 1 >= limit ? 0 : this.cursor + 1;
      // Looked at in place: most slots a scan passes are held, and are left undecoded.
      if (sharedGetAt(keys.slotKeyBytes(i)) != WasmResult.Ok) continue;
      const at = rawPtr();
      const size = rawSize();
      const cas = rawCas();
      const free = isFreeAt(at, size);
      if (!free && victim < 0 && this.idleAt(at, size)) victim = i;
      releaseRaw(at);
      if (free && this.takeSlot(i, FREE, cas, fresh)) return i;
      // A full table under a flood: an idle victim is in hand, stop looking for a free slot.
      if (victim >= 0 && p >= 8) break;
    }
    if (victim < 0) {
      this.fullUntil = now + period;
      return -1;
    }
    if (sharedGet(this.table.keys.slot(victim), this.read).status != WasmResult.Ok) return -1;
    const slot = decodeSlot(this.read.value);
    if (!slot.isFree && !this.idle(slot)) return -1;
    return this.takeSlot(victim, slot, this.read.cas, fresh) ? victim : -1;
  }

  /** Writes a claim into slot `i` over `previous`; nothing completes here (see place()). */
  private takeSlot(i: i32, previous: Slot, cas: u32, fresh: Slot): bool {
    if (sharedSet(this.table.keys.slot(i), fresh.encode(), cas) != WasmResult.Ok) return false;
    if (!previous.isFree) {
      // Evicted: the old host's gauge drops what its dead VMs still held, and its index
      // entry goes (readers also repair a stale entry themselves if this loses a race).
      if (previous.metered) {
        let held: i64 = 0;
        for (let k = 0; k < previous.counts.length; k++) held += <i64>unchecked(previous.counts[k]);
        this.table.metrics.add(hostMetricName(previous.host), -held);
      }
      this.forget(previous.host, i);
      log(LogLevel.Debug, "evicted idle host " + previous.host + " from slot " + i.toString());
    }
    return true;
  }

  /** Gives back a slot claimed by this VM but never indexed. */
  private release(i: i32, host: string): void {
    editValue(this.table.keys.slot(i), new ReleaseEdit(host));
  }
}

/** Removes (host, slot) from an index bucket if the slot does not hold the host (read fresh). */
class UnindexEdit extends ValueEdit {
  private read: SharedRead = new SharedRead();
  private name: ArrayBuffer;

  constructor(
    public host: string,
    public slot: i32,
    public slotKey: string,
  ) {
    super();
    this.name = String.UTF8.encode(host);
  }

  edit(current: ArrayBuffer): ArrayBuffer | null {
    if (!pairInList(current, this.name, this.slot)) return null;
    // Read after the bucket: a placement that put the host back publishes to this bucket after
    // writing the slot, so either this read sees the host or this edit's CAS fails and reruns.
    if (sharedGet(this.slotKey, this.read).status == WasmResult.Ok) {
      if (decodeSlot(this.read.value).host == this.host) return null;
    }
    return listWithout(current, this.name, this.slot);
  }
}

/** Frees a slot that still holds `host`'s claim (one nobody may have used: see SlotOp). */
class ReleaseEdit extends ValueEdit {
  constructor(public host: string) {
    super();
  }

  edit(current: ArrayBuffer): ArrayBuffer | null {
    const slot = decodeSlot(current);
    return slot.host == this.host && slot.claiming ? freeSlotValue() : null;
  }
}
