// ConnectionTable: how many live streams each upstream host has, summed over every worker VM.
//
// Shared data holds a fixed array of slots (`<prefix>slot/<i>`, i < maxHosts). A slot names one
// host and holds one entry per VM: that VM's count of streams for the host (and the host's drain
// episode, see drain.ts). A VM changes only its own entry, by compare-and-swap of the whole slot
// (`update`), so concurrent opens and closes on different workers never lose an update. Index
// buckets map host names to slots. Slot and bucket keys are created at configure time (see
// shared_keys.ts), so every CAS here is on a key that exists. Because the slot count is fixed, a
// flood of invented Host headers can neither grow shared data nor blind the table: idle hosts are
// evicted to make room, and streams of hosts that find no room count in one overflow figure.
import { LogLevel, WasmResult } from "../abi/enums";
import {
  log,
  nowMillis,
  rawPtr,
  rawSize,
  releaseRaw,
  SharedRead,
  sharedGet,
  sharedGetRaw,
  sharedSet,
} from "../abi/host";
import { BUCKETS, Bucket, bucketOf, decodeBucket } from "./bucket";
import { Config } from "./config";
import { CompletionReason, Drain } from "./drain";
import { completeDrain } from "./drain_rules";
import { HostMetrics, hostMetricName, OVERFLOW_METRIC } from "./host_metrics";
import { decodeU32, encodeU32, ensure, SharedKeys } from "./shared_keys";
import { decodeSlot, decodeSlotAt, FLAG_METERED, freeSlotValue, isFreeAt, Slot } from "./slot";
import { CountOp, MeterOp, PruneOp, SlotOp } from "./slot_ops";
import { VmLiveness } from "./vm_liveness";

/** The overflow key is a slot whose host no real key can equal (keys are printable ASCII). */
export const OVERFLOW_HOST = "\u0001overflow";

const MAX_CAS_ATTEMPTS = 32;
const MAX_OPEN_ATTEMPTS = 4;
const SWEEP_PER_TICK = 64;

export enum Update {
  Ok,
  /** The slot holds another host now (evicted, or never this host's). */
  WrongHost,
  /** The op chose not to write (e.g. a new stream refused while draining). */
  Declined,
  GaveUp,
}

/**
 * Whether the write about to be made ends a running drain: its host reached zero, or its
 * deadline passed (with `total` streams left). Every slot write asks, so whichever write first
 * sees either condition completes the episode, and its CAS makes it the only one.
 */
function completionDue(slot: Slot, total: i64, now: i64): CompletionReason {
  const d = slot.drain;
  if (d === null || !d.active) return CompletionReason.None;
  if (total == 0) return CompletionReason.Drained;
  if (d.deadlineAt > 0 && now >= d.deadlineAt) return CompletionReason.Deadline;
  return CompletionReason.None;
}

/** What a stream holds once counted: the exact key and host it must later release. */
export class Lease {
  constructor(
    public key: string,
    public host: string,
    public metered: bool,
  ) {}

  get isOverflow(): bool {
    return this.host == OVERFLOW_HOST;
  }
}

/** Told when a write of this VM completed a drain: it alone signals the episode. */
export abstract class CompletionListener {
  abstract onCompleted(key: string, slot: Slot): void;
}

export class HostCount {
  constructor(
    public host: string,
    public active: i64,
    public drain: Drain | null,
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
  private deniedGauge: Set<string> = new Set<string>();
  private toldGaugeCap: bool = false;
  private cursor: i32 = 0;
  /** Until when a full pass found no room (see claimSlot). */
  private fullUntil: i64 = 0;
  private sweepCursor: i32 = 0;
  private read: SharedRead = new SharedRead();
  /** Releases that lost every CAS attempt; retried on tick so no count outlives its stream. */
  private pending: Array<Lease> = [];
  /** Facts about the last successful update, for the caller. */
  lastMetered: bool = false;
  lastTotal: i64 = 0;
  lastRejected: bool = false;

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
    }
    this.maxHosts = config.maxHosts;
    this.metricsEnabled = config.metricsEnabled;
    this.metricsMaxHosts = config.metricsMaxHosts;
    this.webhookEnabled = config.webhook.enabled;
    // Long enough for the call to time out and the owner to notice on its next tick.
    this.leaseMillis = <i64>config.webhook.timeoutMs + 2 * <i64>config.tickMs;
    this.deniedGauge.clear();
    this.toldGaugeCap = false;
    this.liveness.ttlMillis = <i64>config.vmTtlSeconds * 1000;
    this.liveness.recheckMillis = <i64>config.tickMs;
    if (this.cursor >= this.maxHosts) this.cursor = 0;
    if (this.sweepCursor >= this.maxHosts) this.sweepCursor = 0;
    // No heartbeat here: on_configure also runs in Envoy's throw-away canary VM, which would
    // leave a key behind on every config update. A VM beats on its first count and every tick.
    this.liveness.beating = false;
    this.tickClock = nowMillis();
    return this.ensureKeys();
  }

  private ensureKeys(): bool {
    let capacity: i32 = 0;
    if (sharedGet(this.keys.capacity, this.read).status == WasmResult.Ok) {
      capacity = <i32>decodeU32(this.read.value);
    } else {
      for (let b = 0; b < BUCKETS; b++) {
        if (!ensure(this.keys.bucket(b), new Bucket().encode())) return false;
      }
      const overflow = new Slot();
      overflow.host = OVERFLOW_HOST;
      overflow.flags = FLAG_METERED;
      if (!ensure(this.keys.overflow, overflow.encode())) return false;
      if (!ensure(this.keys.metered, new Bucket().encode())) return false;
      if (!ensure(this.keys.drains, new Bucket().encode())) return false;
      if (!ensure(this.keys.capacity, encodeU32(0))) return false;
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

  /** The time at the last tick or configure: close enough to judge heartbeats by. */
  tickClock: i64 = 0;

  /** Runs on every tick of every VM. */
  heartbeat(): void {
    this.tickClock = nowMillis();
    this.liveness.heartbeat(this.keys);
    this.retryPending();
    this.sweep();
  }

  /**
   * Drops dead VMs' entries from a few slots per tick, so that a host nobody touches still sheds
   * a crashed worker's streams from its gauge (sums ignore them at once) and a drain they held
   * open completes. Every VM sweeps from its own cursor; one VM's full pass takes maxHosts / 64
   * ticks.
   */
  private sweep(): void {
    const now = nowMillis();
    const n = min(SWEEP_PER_TICK, this.maxHosts);
    const prune = new PruneOp();
    for (let p = 0; p < n; p++) {
      const i = this.sweepCursor;
      this.sweepCursor = this.sweepCursor + 1 >= this.maxHosts ? 0 : this.sweepCursor + 1;
      const key = this.keys.slot(i);
      if (sharedGet(key, this.read).status != WasmResult.Ok) continue;
      const slot = decodeSlot(this.read.value);
      if (slot.isFree || !this.hasDeadEntry(slot, now)) continue;
      this.update(key, slot.host, prune);
    }
  }

  private hasDeadEntry(slot: Slot, now: i64): bool {
    for (let i = 0; i < slot.vmIds.length; i++) {
      if (!this.liveness.isAlive(this.keys, unchecked(slot.vmIds[i]), now)) return true;
    }
    return false;
  }

  // ---- the one write path ------------------------------------------------------------------

  /**
   * Applies `op` to the slot at `key` if it still belongs to `host`, by compare-and-swap.
   * Dead VMs' entries are dropped in the same write, and a draining host that reaches zero is
   * completed in it: so exactly one write, by one VM, ever completes an episode.
   */
  update(key: string, host: string, op: SlotOp): Update {
    // Counting judges liveness on the tick clock (one host call less per open and close);
    // drain transitions and completions stamp the precise time.
    const now = op.preciseTime ? nowMillis() : this.tickClock;
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      if (sharedGet(key, this.read).status != WasmResult.Ok) return Update.WrongHost;
      const slot = decodeSlot(this.read.value);
      if (slot.host != host) return Update.WrongHost;
      if (!op.apply(slot, this.selfId, now)) return Update.Declined;
      const dropped = this.dropDead(slot, now);
      const total = this.total(slot, now);
      const reason = completionDue(slot, total, now);
      const completed = reason != CompletionReason.None;
      if (completed) this.complete(slot, reason, total, op.preciseTime ? now : nowMillis());
      const status = sharedSet(key, slot.encode(), this.read.cas);
      if (status == WasmResult.Ok) {
        if (slot.metered) this.metrics.add(this.metricName(host), op.countDelta - dropped);
        this.lastMetered = slot.metered;
        this.lastTotal = total;
        if (completed) this.notifyCompleted(key, slot);
        return Update.Ok;
      }
      op.undo();
      if (status != WasmResult.CasMismatch) return Update.GaveUp;
    }
    return Update.GaveUp;
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
   * Counts one new stream for `host`. Returns its lease, or null if it was not counted:
   * refused because the host is draining (`lastRejected`), or shared data kept changing.
   */
  open(host: string, refuseIfDraining: bool): Lease | null {
    this.lastRejected = false;
    if (!this.liveness.beating) this.liveness.heartbeat(this.keys);
    const op = new CountOp(1, refuseIfDraining);
    for (let attempt = 0; attempt < MAX_OPEN_ATTEMPTS; attempt++) {
      const found = this.locate(host);
      if (found >= 0) {
        const key = this.keys.slot(found);
        const r = this.update(key, host, op);
        if (r == Update.Ok) return new Lease(key, host, this.lastMetered);
        if (op.rejected) {
          this.lastRejected = true;
          return null;
        }
        if (r == Update.WrongHost) this.forget(host, found);
        continue;
      }
      const fresh = new Slot();
      fresh.host = host;
      fresh.setCount(this.selfId, 1);
      const placed = this.place(host, fresh);
      if (placed == -2) break;
      if (placed >= 0) return new Lease(this.keys.slot(placed), host, false);
    }
    if (this.update(this.keys.overflow, OVERFLOW_HOST, op) == Update.Ok) {
      return new Lease(this.keys.overflow, OVERFLOW_HOST, true);
    }
    log(LogLevel.Warn, "could not count a stream for " + host + ": shared data kept changing");
    return null;
  }

  /** Releases a lease exactly once; a release that keeps losing CAS races is retried on tick. */
  close(lease: Lease): void {
    const r = this.update(lease.key, lease.host, new CountOp(-1, false));
    if (r == Update.GaveUp) this.pending.push(lease);
  }

  private retryPending(): void {
    if (this.pending.length == 0) return;
    const again = this.pending;
    this.pending = [];
    for (let i = 0; i < again.length; i++) this.close(unchecked(again[i]));
  }

  // ---- finding and placing hosts -----------------------------------------------------------

  /** The slot the index (or this VM's cache) gives for `host`, or -1. */
  locate(host: string): i32 {
    if (this.slotCache.has(host)) return this.slotCache.get(host);
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
   * Puts `fresh` (a new host's first value) into a free or idle slot and indexes it. Returns the
   * slot, -1 to retry (another VM indexed the host first: `fresh` was not used), or -2 when no
   * slot can be had. The value is written with its first count or drain already in it, so a
   * fresh slot is never taken for an idle one and evicted before it is indexed.
   */
  place(host: string, fresh: Slot): i32 {
    const b = this.keys.bucket(bucketOf(host));
    if (sharedGet(b, this.read).status != WasmResult.Ok) return -2;
    const bucket = decodeBucket(this.read.value);
    const bucketCas = this.read.cas;
    if (bucket.slotOf(host) >= 0) return -1;
    const claimed = this.claimSlot(host, fresh);
    if (claimed < 0) return -2;
    const published = this.publish(bucket, bucketCas, host, claimed);
    if (published == claimed) {
      this.remember(host, claimed);
      return claimed;
    }
    this.release(claimed, host);
    return -1;
  }

  private remember(host: string, slot: i32): void {
    if (this.slotCache.size >= this.maxHosts) this.slotCache.clear();
    this.slotCache.set(host, slot);
  }

  private metricName(host: string): string {
    return host == OVERFLOW_HOST ? OVERFLOW_METRIC : hostMetricName(host);
  }

  /** Removes entries of dead VMs from `slot`; returns the streams they held. */
  private dropDead(slot: Slot, now: i64): i64 {
    let dropped: i64 = 0;
    for (let i = slot.vmIds.length - 1; i >= 0; i--) {
      if (!this.liveness.isAlive(this.keys, unchecked(slot.vmIds[i]), now)) {
        dropped += <i64>unchecked(slot.counts[i]);
        slot.removeAt(i);
      }
    }
    return dropped;
  }

  /** Sum over live VMs. */
  total(slot: Slot, now: i64): i64 {
    let sum: i64 = 0;
    for (let i = 0; i < slot.vmIds.length; i++) {
      if (this.liveness.isAlive(this.keys, unchecked(slot.vmIds[i]), now)) {
        sum += <i64>unchecked(slot.counts[i]);
      }
    }
    return sum;
  }

  /** A slot can be reused when nobody is on it and no drain still needs it. */
  private idle(slot: Slot, now: i64): bool {
    const d = slot.drain;
    return this.total(slot, now) == 0 && (d === null || !d.open);
  }

  /**
   * Finds a slot for `fresh`: a free one, else one whose host is idle (evicted). Scans from this
   * VM's rotating cursor, stopping at the first free slot (or, once an idle victim is in hand, a
   * few probes later). When a whole pass finds neither, the table is full of live hosts: new
   * hosts go to overflow without another scan until the next tick, so a flood cannot make every
   * stream pay for a full pass.
   */
  private claimSlot(host: string, fresh: Slot): i32 {
    const now = nowMillis();
    if (now < this.fullUntil) return -1;
    const limit = this.maxHosts;
    let victim = -1;
    for (let p = 0; p < limit; p++) {
      const i = this.cursor;
      this.cursor = this.cursor + 1 >= this.maxHosts ? 0 : this.cursor + 1;
      if (sharedGet(this.keys.slot(i), this.read).status != WasmResult.Ok) continue;
      const slot = decodeSlot(this.read.value);
      if (slot.isFree) {
        if (this.takeSlot(i, slot, this.read.cas, fresh, now)) return i;
      } else if (victim < 0 && this.idle(slot, now)) {
        victim = i;
      }
      // A full table under a flood: an idle victim is in hand, stop looking for a free slot.
      if (victim >= 0 && p >= 8) break;
    }
    if (victim < 0) {
      this.fullUntil = now + this.liveness.recheckMillis;
      return -1;
    }
    if (sharedGet(this.keys.slot(victim), this.read).status != WasmResult.Ok) return -1;
    const slot = decodeSlot(this.read.value);
    if (!slot.isFree && !this.idle(slot, now)) return -1;
    return this.takeSlot(victim, slot, this.read.cas, fresh, now) ? victim : -1;
  }

  private takeSlot(i: i32, previous: Slot, cas: u32, fresh: Slot, now: i64): bool {
    // A drain started on a host with nobody on it completes in this very write.
    const completed = fresh.draining && this.total(fresh, now) == 0;
    if (completed) this.complete(fresh, CompletionReason.Drained, 0, now);
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
    if (completed) this.notifyCompleted(key, fresh);
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
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      if (sharedGet(key, this.read).status != WasmResult.Ok) return;
      const slot = decodeSlot(this.read.value);
      if (slot.host != host) return;
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
    return (
      this.metricsEnabled &&
      !lease.metered &&
      !lease.isOverflow &&
      !this.deniedGauge.has(lease.host)
    );
  }

  grantGauge(lease: Lease): void {
    if (!this.metricsEnabled || lease.metered || lease.isOverflow) return;
    const host = lease.host;
    if (this.deniedGauge.has(host)) return;
    if (!this.reserveGaugeName(host)) {
      if (this.deniedGauge.size >= this.maxHosts) this.deniedGauge.clear();
      this.deniedGauge.add(host);
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
    if (r == Update.Ok || r == Update.Declined) lease.metered = true;
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

  overflowActive(): i64 {
    if (sharedGet(this.keys.overflow, this.read).status != WasmResult.Ok) return 0;
    return this.total(decodeSlot(this.read.value), nowMillis());
  }

  /** Every tracked host with its live total, in slot order, plus the overflow figure. */
  snapshot(): TableSnapshot {
    const out = new TableSnapshot();
    let capacity = this.maxHosts;
    if (sharedGet(this.keys.capacity, this.read).status == WasmResult.Ok) {
      capacity = max(capacity, <i32>decodeU32(this.read.value));
    }
    const now = nowMillis();
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
      const active = this.total(slot, now);
      out.hosts.push(new HostCount(slot.host, active, slot.drain));
      out.totalActive += active;
    }
    out.overflow = this.overflowActive();
    out.totalActive += out.overflow;
    return out;
  }
}
