// ConnectionTable: how many live streams each upstream host has, summed over every worker VM.
//
// Shared data holds a fixed array of slots (`<prefix>slot/<i>`, i < maxHosts). A slot names one
// host and holds one entry per VM: that VM's count of streams for the host. A VM changes only
// its own entry, by compare-and-swap of the whole slot, so concurrent opens and closes on
// different workers never lose an update. Index buckets map host names to slots. The slot and
// bucket keys are created at configure time (see shared_keys.ts), so every CAS here is on a key
// that exists. Because the slot count is fixed, a flood of invented Host headers can neither
// grow shared data nor blind the table: hosts at zero are evicted to make room, and streams for
// hosts that find no room are counted in one overflow figure.
import { LogLevel, WasmResult } from "../abi/enums";
import { log, nowMillis, SharedRead, sharedGet, sharedSet } from "../abi/host";
import { BUCKETS, Bucket, bucketOf, decodeBucket } from "./bucket";
import { Config } from "./config";
import { HostMetrics, hostMetricName, OVERFLOW_METRIC } from "./host_metrics";
import { decodeU32, encodeU32, ensure, SharedKeys } from "./shared_keys";
import { decodeSlot, FLAG_METERED, freeSlotValue, Slot } from "./slot";
import { VmLiveness } from "./vm_liveness";

/** The overflow key is a slot whose host no real key can equal (keys are printable ASCII). */
export const OVERFLOW_HOST = "\u0001overflow";

const MAX_CAS_ATTEMPTS = 32;
const MAX_OPEN_ATTEMPTS = 4;
const PROBE_LIMIT = 64;
const SWEEP_PER_TICK = 64;

enum Adjust {
  Ok,
  WrongHost,
  GaveUp,
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

export class HostCount {
  constructor(
    public host: string,
    public active: i64,
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
  readonly liveness: VmLiveness = new VmLiveness();
  private metrics: HostMetrics = new HostMetrics();
  /** host -> slot, a hint only: every use re-checks the slot's host. */
  private slotCache: Map<string, i32> = new Map<string, i32>();
  private deniedGauge: Set<string> = new Set<string>();
  private cursor: i32 = 0;
  private sweepCursor: i32 = 0;
  private read: SharedRead = new SharedRead();
  /** Releases that lost every CAS attempt; retried on tick so no count outlives its stream. */
  private pending: Array<Lease> = [];
  /** Live total of the slot touched by the last successful open/close (for drain checks). */
  lastTotal: i64 = 0;

  constructor() {
    // Start each VM at its own place so that VMs neither claim nor sweep in lockstep.
    this.cursor = <i32>(this.liveness.selfId % 1024);
    this.sweepCursor = <i32>((this.liveness.selfId >> 10) % 1024);
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
    this.deniedGauge.clear();
    this.liveness.ttlMillis = <i64>config.vmTtlSeconds * 1000;
    this.liveness.recheckMillis = <i64>config.tickMs;
    if (this.cursor >= this.maxHosts) this.cursor = 0;
    if (this.sweepCursor >= this.maxHosts) this.sweepCursor = 0;
    const ready = this.ensureKeys();
    this.liveness.heartbeat(this.keys);
    return ready;
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

  /** Runs on every tick of every VM. */
  heartbeat(): void {
    this.liveness.heartbeat(this.keys);
    this.retryPending();
    this.sweep();
  }

  /**
   * Removes the entries of dead VMs from a few slots per tick, so that a host nobody touches
   * still sheds a crashed worker's streams from its gauge (the admin view ignores them anyway).
   * Every VM sweeps from its own cursor; a full pass takes maxHosts / (64 x workers) ticks.
   */
  private sweep(): void {
    const now = nowMillis();
    const n = min(SWEEP_PER_TICK, this.maxHosts);
    for (let p = 0; p < n; p++) {
      const i = this.sweepCursor;
      this.sweepCursor = this.sweepCursor + 1 >= this.maxHosts ? 0 : this.sweepCursor + 1;
      const key = this.keys.slot(i);
      for (let attempt = 0; attempt < 4; attempt++) {
        if (sharedGet(key, this.read).status != WasmResult.Ok) break;
        const slot = decodeSlot(this.read.value);
        if (slot.isFree) break;
        const dropped = this.dropDead(slot, now);
        if (!this.hadDead) break;
        const status = sharedSet(key, slot.encode(), this.read.cas);
        if (status == WasmResult.Ok) {
          if (slot.metered) this.metrics.add(hostMetricName(slot.host), -dropped);
          break;
        }
        if (status != WasmResult.CasMismatch) break;
      }
    }
  }

  // ---- counting ----------------------------------------------------------------------------

  /** Counts one new stream for `host`. Returns its lease, or null if it could not be counted. */
  open(host: string): Lease | null {
    for (let attempt = 0; attempt < MAX_OPEN_ATTEMPTS; attempt++) {
      if (this.slotCache.has(host)) {
        const cached = this.slotCache.get(host);
        const key = this.keys.slot(cached);
        if (this.adjust(key, host, 1) == Adjust.Ok) return new Lease(key, host, this.lastMetered);
        this.slotCache.delete(host);
      }
      const b = this.keys.bucket(bucketOf(host));
      if (sharedGet(b, this.read).status != WasmResult.Ok) break;
      const bucket = decodeBucket(this.read.value);
      const bucketCas = this.read.cas;
      const found = bucket.slotOf(host);
      if (found >= 0) {
        const key = this.keys.slot(found);
        const r = this.adjust(key, host, 1);
        if (r == Adjust.Ok) {
          this.remember(host, found);
          return new Lease(key, host, this.lastMetered);
        }
        // The index points at a slot that now holds another host: an eviction whose index
        // cleanup has not landed yet. Finish it, then look again.
        if (r == Adjust.WrongHost) this.unindex(host, found);
        continue;
      }
      const claimed = this.claimSlot(host);
      if (claimed < 0) break;
      const published = this.publish(bucket, bucketCas, host, claimed);
      if (published == claimed) {
        this.remember(host, claimed);
        return new Lease(this.keys.slot(claimed), host, false);
      }
      // Another VM indexed the host first (or the index would not take it): give the claimed
      // slot back and count on the indexed one.
      this.release(claimed, host);
      if (published >= 0) this.remember(host, published);
    }
    if (this.adjust(this.keys.overflow, OVERFLOW_HOST, 1) == Adjust.Ok) {
      return new Lease(this.keys.overflow, OVERFLOW_HOST, true);
    }
    log(LogLevel.Warn, "could not count a stream for " + host + ": shared data kept changing");
    return null;
  }

  /** Releases a lease exactly once; a release that keeps losing CAS races is retried on tick. */
  close(lease: Lease): void {
    const r = this.adjust(lease.key, lease.host, -1);
    if (r == Adjust.GaveUp) this.pending.push(lease);
  }

  private retryPending(): void {
    if (this.pending.length == 0) return;
    const again = this.pending;
    this.pending = [];
    for (let i = 0; i < again.length; i++) this.close(unchecked(again[i]));
  }

  private remember(host: string, slot: i32): void {
    if (this.slotCache.size >= this.maxHosts) this.slotCache.clear();
    this.slotCache.set(host, slot);
  }

  private lastMetered: bool = false;

  /**
   * Adds `delta` to this VM's entry for `host` in the slot at `key`, dropping entries of VMs
   * whose heartbeat expired, and mirrors the change into the host's gauge when it has one.
   */
  private adjust(key: string, host: string, delta: i32): Adjust {
    const now = nowMillis();
    const self = this.liveness.selfId;
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      if (sharedGet(key, this.read).status != WasmResult.Ok) return Adjust.WrongHost;
      const slot = decodeSlot(this.read.value);
      if (slot.host != host) return Adjust.WrongHost;
      const mine = <i64>slot.countOf(self);
      const next = mine + <i64>delta;
      if (next < 0) {
        // Nothing of ours to release (the slot was reset while this VM was presumed dead).
        log(LogLevel.Debug, "release for " + host + " found no count of this VM");
        return Adjust.Ok;
      }
      slot.setCount(self, <u32>next);
      const dropped = this.dropDead(slot, now);
      const status = sharedSet(key, slot.encode(), this.read.cas);
      if (status == WasmResult.Ok) {
        if (slot.metered) this.metrics.add(this.metricName(host), <i64>delta - dropped);
        this.lastMetered = slot.metered;
        this.lastTotal = this.total(slot, now);
        return Adjust.Ok;
      }
      if (status != WasmResult.CasMismatch) return Adjust.GaveUp;
    }
    return Adjust.GaveUp;
  }

  private metricName(host: string): string {
    return host == OVERFLOW_HOST ? OVERFLOW_METRIC : hostMetricName(host);
  }

  /** Removes entries of dead VMs from `slot`; returns the streams they held. */
  private dropDead(slot: Slot, now: i64): i64 {
    let dropped: i64 = 0;
    this.hadDead = false;
    for (let i = slot.vmIds.length - 1; i >= 0; i--) {
      if (!this.liveness.isAlive(this.keys, unchecked(slot.vmIds[i]), now)) {
        dropped += <i64>unchecked(slot.counts[i]);
        slot.removeAt(i);
        this.hadDead = true;
      }
    }
    return dropped;
  }

  /** Whether the last dropDead removed any entry. */
  private hadDead: bool = false;

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

  // ---- slot allocation ---------------------------------------------------------------------

  /**
   * Finds a slot for `host` and writes it there with this VM's count already at 1, so the
   * fresh slot is never mistaken for an idle one and evicted before it is indexed. Prefers a
   * free slot; otherwise evicts a host with no live streams. Probes at most PROBE_LIMIT slots
   * per call from a rotating cursor, so a flood of invented hosts costs bounded work.
   */
  private claimSlot(host: string): i32 {
    const now = nowMillis();
    const limit = min(PROBE_LIMIT, this.maxHosts);
    let idle = -1;
    for (let p = 0; p < limit; p++) {
      const i = this.cursor;
      this.cursor = this.cursor + 1 >= this.maxHosts ? 0 : this.cursor + 1;
      if (sharedGet(this.keys.slot(i), this.read).status != WasmResult.Ok) continue;
      const slot = decodeSlot(this.read.value);
      if (slot.isFree) {
        if (this.takeSlot(i, host, slot, this.read.cas, now)) return i;
      } else if (idle < 0 && this.total(slot, now) == 0) {
        idle = i;
      }
      // A full table under a flood: an idle victim is in hand, stop looking for a free slot.
      if (idle >= 0 && p >= 8) break;
    }
    if (idle < 0) return -1;
    if (sharedGet(this.keys.slot(idle), this.read).status != WasmResult.Ok) return -1;
    const slot = decodeSlot(this.read.value);
    if (!slot.isFree && this.total(slot, now) != 0) return -1;
    return this.takeSlot(idle, host, slot, this.read.cas, now) ? idle : -1;
  }

  private takeSlot(i: i32, host: string, previous: Slot, cas: u32, now: i64): bool {
    const fresh = new Slot();
    fresh.host = host;
    fresh.setCount(this.liveness.selfId, 1);
    if (sharedSet(this.keys.slot(i), fresh.encode(), cas) != WasmResult.Ok) return false;
    if (!previous.isFree) {
      // Evicted: the old host's gauge drops what its dead VMs still held, and its index
      // entry goes (readers also repair a stale entry themselves if this loses a race).
      if (previous.metered) {
        let held: i64 = 0;
        for (let k = 0; k < previous.counts.length; k++) held += <i64>unchecked(previous.counts[k]);
        this.metrics.add(hostMetricName(previous.host), -held);
      }
      this.slotCache.delete(previous.host);
      this.unindex(previous.host, i);
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
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      if (sharedGet(key, this.read).status != WasmResult.Ok) return;
      const slot = decodeSlot(this.read.value);
      if (slot.host != host) return;
      slot.setCount(this.liveness.selfId, 0);
      const value = slot.vmIds.length == 0 ? freeSlotValue() : slot.encode();
      if (sharedSet(key, value, this.read.cas) != WasmResult.CasMismatch) return;
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
  grantGauge(lease: Lease): void {
    if (!this.metricsEnabled || lease.metered || lease.isOverflow) return;
    const host = lease.host;
    if (this.deniedGauge.has(host)) return;
    if (!this.reserveGaugeName(host)) {
      if (this.deniedGauge.size >= this.maxHosts) this.deniedGauge.clear();
      this.deniedGauge.add(host);
      log(LogLevel.Info, "metrics.maxHosts reached: " + host + " is counted without a gauge");
      return;
    }
    const name = hostMetricName(host);
    const now = nowMillis();
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      if (sharedGet(lease.key, this.read).status != WasmResult.Ok) return;
      const slot = decodeSlot(this.read.value);
      if (slot.host != host || slot.metered) return;
      this.dropDead(slot, now);
      let held: i64 = 0;
      for (let k = 0; k < slot.counts.length; k++) held += <i64>unchecked(slot.counts[k]);
      slot.flags |= FLAG_METERED;
      // Add before the flag lands: once it lands, other VMs may subtract, and Envoy's gauges
      // are unsigned, so the gauge must never dip below zero on the way.
      this.metrics.add(name, held);
      const status = sharedSet(lease.key, slot.encode(), this.read.cas);
      if (status == WasmResult.Ok) {
        lease.metered = true;
        return;
      }
      this.metrics.add(name, -held);
      if (status != WasmResult.CasMismatch) return;
    }
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

  /** Live streams for one host, summed over all VMs (0 for a host the table does not know). */
  activeOf(host: string): i64 {
    const b = this.keys.bucket(bucketOf(host));
    if (sharedGet(b, this.read).status != WasmResult.Ok) return 0;
    const slot = decodeBucket(this.read.value).slotOf(host);
    if (slot < 0) return 0;
    if (sharedGet(this.keys.slot(slot), this.read).status != WasmResult.Ok) return 0;
    const s = decodeSlot(this.read.value);
    return s.host == host ? this.total(s, nowMillis()) : 0;
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
      if (sharedGet(this.keys.slot(i), this.read).status != WasmResult.Ok) continue;
      const slot = decodeSlot(this.read.value);
      if (slot.isFree) continue;
      const active = this.total(slot, now);
      out.hosts.push(new HostCount(slot.host, active));
      out.totalActive += active;
    }
    out.overflow = this.overflowActive();
    out.totalActive += out.overflow;
    return out;
  }
}
