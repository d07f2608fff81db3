// ConnectionTable: how many live streams each upstream host has, summed over every worker VM.
//
// Shared data holds a fixed array of slots (`<prefix>slot/<i>`, i < maxHosts). A slot names one
// host and holds one entry per VM: that VM's count of streams for the host (and the host's drain
// episode, see drain.ts). A VM changes only its own entry, by compare-and-swap of the whole slot
// (`update`), so concurrent opens and closes on different workers never lose an update. Index
// buckets map host names to slots. Slot and bucket keys are created at configure time (see
// shared_keys.ts), so every CAS here is on a key that exists. Because the slot count is fixed, a
// flood of invented Host headers can neither grow shared data nor blind the table: idle hosts are
// evicted to make room, and streams of hosts that find no room count in one of OVERFLOW_BUCKETS
// overflow slots chosen by the host's hash. A host's overflow slot counts against it (reported
// as an upper bound, and no drain of the host completes while it holds streams), so overflow
// can delay a drain but never hide a player from one.
import { LogLevel, WasmResult } from "../abi/enums";
import {
  getPropertyString,
  log,
  nowMillis,
  rawCas,
  rawPtr,
  rawSize,
  releaseRaw,
  SharedRead,
  sharedGet,
  sharedGetAt,
  sharedGetRaw,
  sharedSet,
  sharedSetAt,
} from "../abi/hostcalls";
import { BUCKETS, Bucket, bucketOf, decodeBucket } from "./bucket";
import { Config } from "./config";
import { CompletionReason, Drain } from "./drain";
import { completeDrain } from "./drain_rules";
import { HostCache, HostEntry, Lease } from "./host_cache";
import { HostMetrics, hostMetricName, OVERFLOW_METRIC } from "./host_metrics";
import { decodeU32, encodeU32, ensure, SharedKeys } from "./shared_keys";
import {
  decodeSlot,
  decodeSlotAt,
  Edit,
  editCount,
  FLAG_CLAIMING,
  FLAG_METERED,
  freeSlotValue,
  isFreeAt,
  Slot,
  SlotWriter,
} from "./slot";
import { CountOp, FinishClaimOp, MeterOp, OverflowCountOp, PruneOp, SlotOp } from "./slot_ops";
import { VmLiveness } from "./vm_liveness";

/** Overflow slots hold a host whose name no real key can equal (keys are printable ASCII). */
export const OVERFLOW_HOST = "\u0001overflow";
const OVERFLOW_HOST_BYTES = String.UTF8.encode(OVERFLOW_HOST);
/** How many overflow slots share the streams of hosts that found no slot (by host hash). */
export const OVERFLOW_BUCKETS: i32 = 64;

const MAX_CAS_ATTEMPTS = 32;
const SWEEP_PER_TICK = 64;

export function overflowBucketOf(host: string): i32 {
  return bucketOf(host) & (OVERFLOW_BUCKETS - 1);
}

export enum Update {
  Ok,
  /** The slot holds another host now (evicted, or never this host's). */
  WrongHost,
  /** The op chose not to write (e.g. a new stream refused while draining). */
  Declined,
  /** Another VM is still claiming the slot and the op does not accept that (SlotOp). */
  Claiming,
  /** Shared data refused the write for a reason other than a lost race. */
  GaveUp,
  /** No slot could be had for a host without one. */
  NoRoom,
}

/** Where an op on a host's slot landed (see ConnectionTable.apply). */
export class Placed {
  constructor(
    public result: Update,
    public slot: i32,
  ) {}
}

/** Told when a write of this VM completed a drain: it alone signals the episode. */
export abstract class CompletionListener {
  abstract onCompleted(key: string, slot: Slot): void;
}

export class HostCount {
  constructor(
    public host: string,
    /** Streams counted on the host's slot plus `overflow`: never less than the truth. */
    public active: i64,
    public drain: Drain | null,
    /** Streams in the host's overflow slot, which may or may not be the host's (0: exact). */
    public overflow: i64,
  ) {}
}

export class TableSnapshot {
  hosts: Array<HostCount> = [];
  overflow: i64 = 0;
  totalActive: i64 = 0;
}

export class ConnectionTable {
  keys: SharedKeys = new SharedKeys("conn-drain/");
  maxHosts: i32 = 1024;
  metricsEnabled: bool = true;
  metricsMaxHosts: i32 = 256;
  /** Whether a completed drain has a webhook to deliver, and how long a delivery lease lasts. */
  webhookEnabled: bool = false;
  leaseMillis: i64 = 10_000;
  listener: CompletionListener | null = null;
  readonly liveness: VmLiveness = new VmLiveness();
  readonly metrics: HostMetrics = new HostMetrics();
  /** host -> slot, a hint only: every use re-checks the slot's host. */
  private slotCache: Map<string, i32> = new Map<string, i32>();
  private toldGaugeCap: bool = false;
  /** Counts configs applied, so per-host facts tied to one config can tell they are stale. */
  generation: u32 = 0;
  /** Every host key this VM has seen, with its slot hint and lease. */
  hosts: HostCache = new HostCache(1024);
  private writer: SlotWriter = new SlotWriter();
  private cursor: i32 = 0;
  /** Until when a full pass found no room (see claimSlot). */
  private fullUntil: i64 = 0;
  private sweepCursor: i32 = 0;
  private overflowSweep: i32 = 0;
  private read: SharedRead = new SharedRead();
  private overflowRead: SharedRead = new SharedRead();
  /** Facts about the last successful update, for the caller. */
  lastMetered: bool = false;
  lastTotal: i64 = 0;
  lastRejected: bool = false;
  /** The value the last successful update wrote. */
  lastSlot: Slot = new Slot();

  constructor() {
    // Start each VM at its own place so that VMs neither claim nor sweep in lockstep.
    this.cursor = <i32>(this.liveness.selfId % 1024);
    this.sweepCursor = <i32>((this.liveness.selfId >> 10) % 1024);
  }

  get selfId(): u32 {
    return this.liveness.selfId;
  }

  /** Applies a config and creates any keys it needs. Runs in on_configure (canary first). */
  configure(config: Config): bool {
    if (config.sharedDataPrefix != this.keys.prefix) {
      this.keys = new SharedKeys(config.sharedDataPrefix);
      this.slotCache.clear();
      this.hosts.clear();
    }
    this.maxHosts = config.maxHosts;
    this.metricsEnabled = config.metricsEnabled;
    this.metricsMaxHosts = config.metricsMaxHosts;
    this.webhookEnabled = config.webhook.enabled;
    // Long enough for the call to time out and the owner to notice on its next tick.
    this.leaseMillis = <i64>config.webhook.timeoutMs + 2 * <i64>config.tickMs;
    this.generation++;
    this.toldGaugeCap = false;
    if (this.cursor >= this.maxHosts) this.cursor = 0;
    if (this.sweepCursor >= this.maxHosts) this.sweepCursor = 0;
    this.tickClock = nowMillis();
    if (!this.ensureKeys()) return false;
    // No first heartbeat here: on_configure also runs in Envoy's throw-away canary VM, which
    // would leave a key behind on every config update. A VM beats on its first count and every
    // tick; one already beating declares its new TTL at once.
    this.liveness.configure(this.keys, <i64>config.vmTtlSeconds * 1000, <i64>config.tickMs);
    return true;
  }

  private ensureKeys(): bool {
    let capacity: i32 = 0;
    if (sharedGet(this.keys.capacity, this.read).status == WasmResult.Ok) {
      capacity = <i32>decodeU32(this.read.value);
    } else {
      for (let b = 0; b < BUCKETS; b++) {
        if (!ensure(this.keys.bucket(b), new Bucket().encode())) return false;
      }
      if (!ensure(this.keys.metered, new Bucket().encode())) return false;
      if (!ensure(this.keys.drains, new Bucket().encode())) return false;
      if (!ensure(this.keys.capacity, encodeU32(0))) return false;
    }
    // Always, so that a table created by an older module gains them too.
    if (!ensure(this.keys.vms, new ArrayBuffer(0))) return false;
    const overflow = new Slot();
    overflow.host = OVERFLOW_HOST;
    overflow.flags = FLAG_METERED;
    const empty = overflow.encode();
    for (let b = 0; b < OVERFLOW_BUCKETS; b++) {
      if (!ensure(this.keys.overflow(b), empty)) return false;
    }
    if (capacity >= this.maxHosts) return true;
    const free = freeSlotValue();
    for (let i = capacity; i < this.maxHosts; i++) {
      if (!ensure(this.keys.slot(i), free)) return false;
    }
    // Raise the recorded capacity (never lower it: slots past a smaller maxHosts may still
    // hold streams, and the admin view must keep counting them).
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      sharedGet(this.keys.capacity, this.read);
      if (<i32>decodeU32(this.read.value) >= this.maxHosts) return true;
      const status = sharedSet(this.keys.capacity, encodeU32(this.maxHosts), this.read.cas);
      if (status == WasmResult.Ok) return true;
    }
    return false;
  }

  /** The time at the last tick or configure: close enough to stamp counting writes by. */
  tickClock: i64 = 0;

  /** Runs on every tick of every VM. */
  heartbeat(): void {
    this.tickClock = nowMillis();
    this.liveness.heartbeat(this.keys);
    this.liveness.watch(this.keys);
    this.sweep();
  }

  /**
   * Drops dead VMs' entries from a few slots per tick, so that a host nobody touches still sheds
   * a crashed worker's streams from its gauge (sums ignore them at once) and a drain they held
   * open completes. Every VM sweeps from its own cursor; one VM's full pass takes maxHosts / 64
   * ticks, and its overflow slots in OVERFLOW_BUCKETS / 4.
   */
  private sweep(): void {
    const n = min(SWEEP_PER_TICK, this.maxHosts);
    const prune = new PruneOp();
    for (let p = 0; p < n; p++) {
      const i = this.sweepCursor;
      this.sweepCursor = this.sweepCursor + 1 >= this.maxHosts ? 0 : this.sweepCursor + 1;
      this.pruneIfDead(this.keys.slot(i), prune);
    }
    // Sums already ignore dead entries; pruning overflow only corrects its gauge, so a few a tick.
    for (let k = 0; k < 4; k++) {
      this.overflowSweep = (this.overflowSweep + 1) & (OVERFLOW_BUCKETS - 1);
      this.pruneIfDead(this.keys.overflow(this.overflowSweep), prune);
    }
  }

  private pruneIfDead(key: string, prune: PruneOp): void {
    if (sharedGet(key, this.read).status != WasmResult.Ok) return;
    const slot = decodeSlot(this.read.value);
    if (!slot.isFree && this.hasDeadEntry(slot)) this.update(key, slot.host, prune);
  }

  private hasDeadEntry(slot: Slot): bool {
    for (let i = 0; i < slot.vmIds.length; i++) {
      if (!this.liveness.isAlive(unchecked(slot.vmIds[i]))) return true;
    }
    return false;
  }

  // ---- the one write path ------------------------------------------------------------------

  /**
   * Applies `op` to the slot at `key` if it still belongs to `host`, by compare-and-swap, until
   * the write lands: a lost race means another VM's write landed, so the loop always ends, and
   * no count is ever left unwritten however many rounds are lost. Dead VMs' entries are dropped
   * in the same write, and a draining host that is now empty is completed in it: so exactly one
   * write, by one VM, ever completes an episode.
   */
  update(key: string, host: string, op: SlotOp): Update {
    // Counting stamps with the tick clock (one host call less per open and close); drain
    // transitions and completions stamp the precise time.
    const now = op.preciseTime ? nowMillis() : this.tickClock;
    while (true) {
      if (sharedGet(key, this.read).status != WasmResult.Ok) return Update.WrongHost;
      const slot = decodeSlot(this.read.value);
      if (slot.host != host) return Update.WrongHost;
      if (slot.claiming && !op.acceptClaiming) return Update.Claiming;
      const cas = this.read.cas;
      if (!op.apply(slot, this.selfId, now)) return Update.Declined;
      const dropped = this.dropDead(slot);
      const total = this.total(slot);
      const reason = this.completionDue(slot, total, now);
      const completed = reason != CompletionReason.None;
      if (completed) this.complete(slot, reason, total, op.preciseTime ? now : nowMillis());
      const status = sharedSet(key, slot.encode(), cas);
      if (status == WasmResult.Ok) {
        if (slot.metered) this.metrics.add(this.metricName(host), op.countDelta - dropped);
        this.lastMetered = slot.metered;
        this.lastTotal = total;
        this.lastSlot = slot;
        if (completed) this.notifyCompleted(key, slot);
        return Update.Ok;
      }
      op.undo();
      if (status != WasmResult.CasMismatch) return Update.GaveUp;
    }
  }

  /**
   * Whether the write about to be made ends a running drain: its host is empty, or its deadline
   * passed (with `total` streams left). "Empty" means no live stream on the slot and none in the
   * host's overflow slot that could be the host's; a slot still being claimed never completes
   * (its claim may be given back, and overflow is not fenced yet).
   */
  private completionDue(slot: Slot, total: i64, now: i64): CompletionReason {
    const d = slot.drain;
    if (d === null || !d.active || slot.claiming) return CompletionReason.None;
    if (total == 0 && this.overflowFor(slot.host) == 0) return CompletionReason.Drained;
    if (d.deadlineAt > 0 && now >= d.deadlineAt) return CompletionReason.Deadline;
    return CompletionReason.None;
  }

  /**
   * Marks a draining slot's episode completed. The completing VM owns the webhook delivery at
   * once, except during on_configure: that may run in Envoy's throw-away canary VM, so delivery
   * is left to the first worker that ticks.
   */
  complete(slot: Slot, reason: CompletionReason, remaining: i64, now: i64): void {
    const owner = this.configuring ? 0 : this.selfId;
    completeDrain(
      slot.drain!,
      reason,
      remaining,
      now,
      owner,
      this.webhookEnabled,
      this.leaseMillis,
    );
  }
  configuring: bool = false;

  notifyCompleted(key: string, slot: Slot): void {
    const l = this.listener;
    if (l !== null) l.onCompleted(key, slot);
  }

  // ---- counting ----------------------------------------------------------------------------

  /**
   * Counts one new stream of `entry`'s host, on its slot or, when no slot can be had, in its
   * overflow slot: every stream is counted somewhere. Returns its lease, or null when it was
   * refused because the host is draining (drain.rejectNew).
   *
   * The common case (the host's slot is known and holds only live VMs' plain counts) is edited
   * in place: one read, one write, no allocation (editCount). Anything else, and a host's first
   * stream, takes the decoding write path.
   */
  open(entry: HostEntry, refuseIfDraining: bool): Lease | null {
    if (!this.liveness.beating) this.liveness.heartbeat(this.keys);
    const known = entry.lease;
    if (known !== null) {
      // Found through this VM's own hint, not the index: a claim in progress is not ours to use.
      const e = this.countInPlace(known, 1, refuseIfDraining, false);
      if (e == Edit.Written) return known;
      if (e == Edit.Refused) return null;
    }
    const op = new CountOp(1, refuseIfDraining, null);
    const host = entry.host;
    while (true) {
      const placed = this.apply(host, op);
      if (placed.result == Update.Ok) return this.leaseOn(entry, placed.slot);
      if (placed.result == Update.Declined) return null;
      // No room: overflow, unless the host got a slot meanwhile (then count there).
      const b = overflowBucketOf(host);
      const key = this.keys.overflow(b);
      const overflow = new OverflowCountOp(1, host, this.keys.bucket(bucketOf(host)));
      if (this.update(key, OVERFLOW_HOST, overflow) == Update.Ok) {
        return new Lease(key, String.UTF8.encode(key), OVERFLOW_HOST, entry, true);
      }
    }
  }

  /** Releases a lease exactly once (every write loops until it lands). */
  close(lease: Lease): void {
    const e = this.countInPlace(lease, -1, false, true);
    if (e == Edit.Written || e == Edit.Nothing) return;
    // A draining host records which upstreams its players were on, so a receiver can tell the
    // drained pod from a new one of the same name; Envoy keeps upstream.address readable
    // through on_log. Read before the write, so no host call runs inside its CAS loop.
    const upstream = getPropertyString(["upstream", "address"]);
    this.update(lease.key, lease.slotHost, new CountOp(-1, false, upstream));
  }

  /** The lease for `entry`'s streams on slot `i`, made once per host and slot. */
  private leaseOn(entry: HostEntry, i: i32): Lease {
    let lease = entry.lease;
    if (lease === null || entry.slot != i || lease.key != this.keys.slot(i)) {
      lease = new Lease(this.keys.slot(i), this.keys.slotKeyBytes(i), entry.host, entry, false);
      entry.slot = i;
      entry.lease = lease;
    }
    entry.metered = this.lastMetered;
    return lease;
  }

  /** One count written in place (see editCount), looping until the write lands. */
  private countInPlace(lease: Lease, delta: i32, refuse: bool, acceptClaiming: bool): Edit {
    const host = lease.overflow ? OVERFLOW_HOST_BYTES : lease.entry.hostBytes;
    const out = this.writer;
    while (true) {
      if (sharedGetAt(lease.keyBytes) != WasmResult.Ok) return Edit.Slow;
      const p = rawPtr();
      const cas = rawCas();
      const edit = editCount(
        p,
        rawSize(),
        host,
        this.selfId,
        delta,
        refuse,
        acceptClaiming,
        this.liveness,
        out,
      );
      releaseRaw(p);
      if (edit != Edit.Written) return edit;
      const status = sharedSetAt(lease.keyBytes, out.ptr, out.size, cas);
      if (status == WasmResult.Ok) {
        if (out.metered) this.metrics.addTo(this.gaugeOf(lease), <i64>delta);
        if (!lease.overflow) lease.entry.metered = out.metered;
        return Edit.Written;
      }
      if (status != WasmResult.CasMismatch) return Edit.Slow;
    }
  }

  private gaugeOf(lease: Lease): i64 {
    if (lease.overflow) return this.metrics.idOf(OVERFLOW_METRIC);
    const entry = lease.entry;
    if (entry.gaugeId == -2) entry.gaugeId = this.metrics.idOf(hostMetricName(entry.host));
    return entry.gaugeId;
  }

  // ---- finding and placing hosts -----------------------------------------------------------

  /**
   * Applies `op` to `host`'s slot; a host without one gets a new slot holding `op.freshSlot`.
   * Counting and drain starts both come here. Loops until the op lands, is declined, or no slot
   * can be had: each round that fails does so because another VM changed the index or the slot.
   */
  apply(host: string, op: SlotOp): Placed {
    let useCache = true;
    while (true) {
      const cached = useCache && this.slotCache.has(host);
      const i = cached ? this.slotCache.get(host) : this.indexedSlot(host);
      if (i >= 0) {
        op.acceptClaiming = !cached;
        const r = this.update(this.keys.slot(i), host, op);
        op.acceptClaiming = true;
        if (r == Update.Ok || r == Update.Declined) return new Placed(r, i);
        if (r == Update.Claiming) {
          // The cache points at a claim in progress: only the index can say it stands.
          this.slotCache.delete(host);
          useCache = false;
        } else {
          this.forget(host, i);
        }
        continue;
      }
      const placed = this.place(host, op.freshSlot(host, this.selfId), op.scansFullTable);
      if (placed >= 0) return new Placed(Update.Ok, placed);
      if (placed == -2) return new Placed(Update.NoRoom, -1);
    }
  }

  /** The slot the index (or this VM's cache) gives for `host`, or -1. */
  locate(host: string): i32 {
    if (this.slotCache.has(host)) return this.slotCache.get(host);
    return this.indexedSlot(host);
  }

  private indexedSlot(host: string): i32 {
    if (sharedGet(this.keys.bucket(bucketOf(host)), this.read).status != WasmResult.Ok) return -1;
    const slot = decodeBucket(this.read.value).slotOf(host);
    if (slot >= 0) this.remember(host, slot);
    return slot;
  }

  /** The index pointed at a slot that now holds another host: drop that stale entry. */
  forget(host: string, slot: i32): void {
    this.slotCache.delete(host);
    this.unindex(host, slot);
  }

  /**
   * Puts `fresh` (a new host's first value) into a free or idle slot and makes it the host's.
   * Returns the slot, -1 to retry (another VM indexed the host first, or the claim was lost:
   * `fresh` was not used), or -2 when no slot can be had. Four steps, in this order:
   *  1. claim: write `fresh`, flagged claiming, into a free or idle slot;
   *  2. publish: add host -> slot to the index bucket (another VM may have won: give it back);
   *  3. fence: write the host's overflow slot, so an overflow open of this host that read the
   *     index before step 2 either landed before this write or fails its CAS and finds the slot;
   *  4. finish: clear the claiming flag. Only from here on can the slot complete a drain, and
   *     that completion reads the overflow slot after the fence.
   */
  place(host: string, fresh: Slot, scanFullTable: bool): i32 {
    const b = this.keys.bucket(bucketOf(host));
    if (sharedGet(b, this.read).status != WasmResult.Ok) return -2;
    const bucket = decodeBucket(this.read.value);
    const bucketCas = this.read.cas;
    if (bucket.slotOf(host) >= 0) return -1;
    fresh.flags |= FLAG_CLAIMING;
    const claimed = this.claimSlot(fresh, scanFullTable);
    if (claimed < 0) return -2;
    const published = this.publish(bucket, bucketCas, host, claimed);
    if (published != claimed) {
      this.release(claimed, host);
      return -1;
    }
    this.remember(host, claimed);
    this.update(this.keys.overflow(overflowBucketOf(host)), OVERFLOW_HOST, new PruneOp());
    const finished = this.update(this.keys.slot(claimed), host, new FinishClaimOp());
    return finished == Update.Ok || finished == Update.Declined ? claimed : -1;
  }

  private remember(host: string, slot: i32): void {
    if (this.slotCache.size >= this.maxHosts) this.slotCache.clear();
    this.slotCache.set(host, slot);
  }

  private metricName(host: string): string {
    return host == OVERFLOW_HOST ? OVERFLOW_METRIC : hostMetricName(host);
  }

  /** Removes entries of dead VMs from `slot`; returns the streams they held. */
  private dropDead(slot: Slot): i64 {
    let dropped: i64 = 0;
    for (let i = slot.vmIds.length - 1; i >= 0; i--) {
      if (!this.liveness.isAlive(unchecked(slot.vmIds[i]))) {
        dropped += <i64>unchecked(slot.counts[i]);
        slot.removeAt(i);
      }
    }
    return dropped;
  }

  /** Sum over live VMs. */
  total(slot: Slot): i64 {
    let sum: i64 = 0;
    for (let i = 0; i < slot.vmIds.length; i++) {
      if (this.liveness.isAlive(unchecked(slot.vmIds[i]))) {
        sum += <i64>unchecked(slot.counts[i]);
      }
    }
    return sum;
  }

  /**
   * A slot can be reused when nobody is on it, no drain still needs it and config does not
   * list it. A claim whose claimer died (its count no longer live) is reusable too.
   */
  private idle(slot: Slot): bool {
    const d = slot.drain;
    if (this.total(slot) != 0) return false;
    if (slot.claiming) return true;
    return (d === null || !d.open) && !slot.listed;
  }

  /**
   * Finds a slot for `fresh`: a free one, else one whose host is idle (evicted). Scans from this
   * VM's rotating cursor, stopping at the first free slot (or, once an idle victim is in hand, a
   * few probes later). When a whole pass finds neither, the table is full of live hosts: new
   * hosts go to overflow without another scan until the next tick, so a flood cannot make every
   * stream pay for a full pass.
   */
  private claimSlot(fresh: Slot, scanFullTable: bool): i32 {
    const now = nowMillis();
    // (The second test keeps a wall clock stepped backwards from pinning hosts to overflow.)
    const recentlyFull = now < this.fullUntil && now >= this.fullUntil - this.liveness.tickMillis;
    if (recentlyFull && !scanFullTable) return -1;
    const limit = this.maxHosts;
    let victim = -1;
    for (let p = 0; p < limit; p++) {
      const i = this.cursor;
      this.cursor = this.cursor + 1 >= this.maxHosts ? 0 : this.cursor + 1;
      if (sharedGet(this.keys.slot(i), this.read).status != WasmResult.Ok) continue;
      const slot = decodeSlot(this.read.value);
      if (slot.isFree) {
        if (this.takeSlot(i, slot, this.read.cas, fresh)) return i;
      } else if (victim < 0 && this.idle(slot)) {
        victim = i;
      }
      // A full table under a flood: an idle victim is in hand, stop looking for a free slot.
      if (victim >= 0 && p >= 8) break;
    }
    if (victim < 0) {
      this.fullUntil = now + this.liveness.tickMillis;
      return -1;
    }
    if (sharedGet(this.keys.slot(victim), this.read).status != WasmResult.Ok) return -1;
    const slot = decodeSlot(this.read.value);
    if (!slot.isFree && !this.idle(slot)) return -1;
    return this.takeSlot(victim, slot, this.read.cas, fresh) ? victim : -1;
  }

  /** Writes a claim into slot `i` over `previous`; nothing completes here (see place()). */
  private takeSlot(i: i32, previous: Slot, cas: u32, fresh: Slot): bool {
    const key = this.keys.slot(i);
    if (sharedSet(key, fresh.encode(), cas) != WasmResult.Ok) return false;
    if (!previous.isFree) {
      // Evicted: the old host's gauge drops what its dead VMs still held, and its index
      // entry goes (readers also repair a stale entry themselves if this loses a race).
      if (previous.metered) {
        let held: i64 = 0;
        for (let k = 0; k < previous.counts.length; k++) held += <i64>unchecked(previous.counts[k]);
        this.metrics.add(hostMetricName(previous.host), -held);
      }
      this.forget(previous.host, i);
      log(LogLevel.Debug, "evicted idle host " + previous.host + " from slot " + i.toString());
    }
    return true;
  }
  /** Adds host -> slot to the host's bucket. Returns the slot the index ends up with, or -1. */
  private publish(bucket: Bucket, cas: u32, host: string, slot: i32): i32 {
    const key = this.keys.bucket(bucketOf(host));
    let current = bucket;
    let currentCas = cas;
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const existing = current.slotOf(host);
      if (existing >= 0) return existing;
      current.hosts.push(host);
      current.slots.push(slot);
      const status = sharedSet(key, current.encode(), currentCas);
      if (status == WasmResult.Ok) return slot;
      if (status != WasmResult.CasMismatch) return -1;
      if (sharedGet(key, this.read).status != WasmResult.Ok) return -1;
      current = decodeBucket(this.read.value);
      currentCas = this.read.cas;
    }
    return -1;
  }

  /** Gives back a slot claimed by this VM but never indexed. */
  private release(i: i32, host: string): void {
    const key = this.keys.slot(i);
    while (true) {
      if (sharedGet(key, this.read).status != WasmResult.Ok) return;
      const slot = decodeSlot(this.read.value);
      // Only a claim nobody else may have used (found through the index) is given back.
      if (slot.host != host || !slot.claiming) return;
      if (sharedSet(key, freeSlotValue(), this.read.cas) != WasmResult.CasMismatch) return;
    }
  }

  private unindex(host: string, slot: i32): void {
    const key = this.keys.bucket(bucketOf(host));
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      if (sharedGet(key, this.read).status != WasmResult.Ok) return;
      const bucket = decodeBucket(this.read.value);
      if (!bucket.remove(host, slot)) return;
      if (sharedSet(key, bucket.encode(), this.read.cas) != WasmResult.CasMismatch) return;
    }
  }

  // ---- gauges ------------------------------------------------------------------------------

  /**
   * Gives `host` its own Envoy gauge, once it has reached an upstream. Envoy never frees a
   * metric, so at most metrics.maxHosts names are ever granted per process (recorded in the
   * shared `metered` list); past that, hosts are counted but have no gauge of their own.
   */
  /** Whether `lease` could still earn a gauge (so the caller need not look at the upstream). */
  wantsGauge(lease: Lease): bool {
    const entry = lease.entry;
    return (
      this.metricsEnabled &&
      !lease.overflow &&
      !entry.metered &&
      !(entry.gaugeDenied && entry.deniedIn == this.generation)
    );
  }

  grantGauge(lease: Lease): void {
    if (!this.wantsGauge(lease)) return;
    const entry = lease.entry;
    const host = entry.host;
    if (!this.reserveGaugeName(host)) {
      entry.gaugeDenied = true;
      entry.deniedIn = this.generation;
      // Once per VM and config: a flood of new hosts past the cap must not flood the log.
      if (!this.toldGaugeCap) {
        this.toldGaugeCap = true;
        log(
          LogLevel.Info,
          "metrics.maxHosts reached: " + host + " and later hosts are counted without a gauge",
        );
      }
      return;
    }
    const r = this.update(lease.key, host, new MeterOp(this.metrics, hostMetricName(host)));
    if (r == Update.Ok || r == Update.Declined) entry.metered = true;
  }

  private reserveGaugeName(host: string): bool {
    const key = this.keys.metered;
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      if (sharedGet(key, this.read).status != WasmResult.Ok) return false;
      const names = decodeBucket(this.read.value);
      if (names.slotOf(host) >= 0) return true;
      if (names.hosts.length >= this.metricsMaxHosts) return false;
      names.hosts.push(host);
      names.slots.push(0);
      const status = sharedSet(key, names.encode(), this.read.cas);
      if (status == WasmResult.Ok) return true;
      if (status != WasmResult.CasMismatch) return false;
    }
    return false;
  }

  // ---- reading -----------------------------------------------------------------------------

  /** The slot value of `host`, or null if the table does not track it. */
  slotOf(host: string): Slot | null {
    const i = this.locate(host);
    if (i < 0) return null;
    if (sharedGet(this.keys.slot(i), this.read).status != WasmResult.Ok) return null;
    const s = decodeSlot(this.read.value);
    return s.host == host ? s : null;
  }

  readSlot(i: i32): Slot | null {
    if (sharedGet(this.keys.slot(i), this.read).status != WasmResult.Ok) return null;
    const s = decodeSlot(this.read.value);
    return s.isFree ? null : s;
  }

  /** Live streams in the overflow slot `host` would use: an upper bound on its uncounted ones. */
  overflowFor(host: string): i64 {
    return this.overflowAt(overflowBucketOf(host));
  }

  private overflowAt(b: i32): i64 {
    if (sharedGet(this.keys.overflow(b), this.overflowRead).status != WasmResult.Ok) return 0;
    return this.total(decodeSlot(this.overflowRead.value));
  }

  /** What `?host=` answers: the host's count, never below the truth (see HostCount). */
  hostCount(host: string): HostCount {
    const slot = this.slotOf(host);
    const overflow = this.overflowFor(host);
    const active = slot === null ? 0 : this.total(slot);
    return new HostCount(host, active + overflow, slot === null ? null : slot.drain, overflow);
  }

  /** Every tracked host with its live total, in slot order, plus the overflow figure. */
  snapshot(): TableSnapshot {
    const out = new TableSnapshot();
    const overflow = new Array<i64>(OVERFLOW_BUCKETS);
    for (let b = 0; b < OVERFLOW_BUCKETS; b++) {
      const n = this.overflowAt(b);
      unchecked((overflow[b] = n));
      out.overflow += n;
    }
    let capacity = this.maxHosts;
    if (sharedGet(this.keys.capacity, this.read).status == WasmResult.Ok) {
      capacity = max(capacity, <i32>decodeU32(this.read.value));
    }
    for (let i = 0; i < capacity; i++) {
      // Most slots of a large table are free: look at the raw bytes before decoding anything.
      if (sharedGetRaw(this.keys.slot(i)) != WasmResult.Ok) continue;
      const p = rawPtr();
      const size = rawSize();
      if (isFreeAt(p, size)) {
        releaseRaw(p);
        continue;
      }
      const slot = decodeSlotAt(p, size);
      releaseRaw(p);
      // A claim not yet finished is listed too: if it is given back, its stream is counted again
      // elsewhere, so for that moment the listing errs high, never low.
      const active = this.total(slot);
      const shared = unchecked(overflow[overflowBucketOf(slot.host)]);
      out.hosts.push(new HostCount(slot.host, active + shared, slot.drain, shared));
      out.totalActive += active;
    }
    out.totalActive += out.overflow;
    return out;
  }
}
