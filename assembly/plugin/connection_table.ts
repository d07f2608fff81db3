// ConnectionTable: how many live streams each upstream host has, summed over every worker VM.
//
// Shared data holds a fixed array of slots (`<prefix>slot/<i>`, i < maxHosts). A slot names one
// host and holds one entry per VM: that VM's count of streams for the host (and the host's drain
// episode, see drain.ts). A VM changes only its own entry, by compare-and-swap of the whole slot
// (`update`, or `countInPlace` for a plain count), so concurrent opens and closes on different
// workers never lose an update. Index buckets map host names to slots (slot_placement.ts). Every
// key is created at configure time (shared_keys.ts), so every CAS here is on a key that exists.
// Because the slot count is fixed, a flood of invented Host headers can neither grow shared data
// nor blind the table: idle hosts are evicted to make room, and streams of hosts that find no
// room count in one of OVERFLOW_BUCKETS overflow slots chosen by the host's hash. A host's
// overflow slot counts against it (reported as an upper bound, and no drain of the host completes
// while it holds streams), so overflow can delay a drain but never hide a player from one.
import { WasmResult } from "../abi/enums";
import {
  getPropertyString,
  nowMillis,
  rawCas,
  rawPtr,
  rawSize,
  releaseRaw,
  SharedRead,
  sharedGet,
  sharedGetAt,
  sharedSet,
  sharedSetAt,
} from "../abi/hostcalls";
import { Config } from "./config";
import { CompletionReason, Drain } from "./drain";
import { CompletionSink, completeDrain, DeliveryTerms } from "./drain_rules";
import { Gauges } from "./gauges";
import { HostCache, HostEntry, Lease } from "./host_cache";
import { HostMetrics, hostMetricName, OVERFLOW_METRIC } from "./host_metrics";
import { bucketOf } from "./host_slots";
import { OVERFLOW_BUCKETS, OVERFLOW_HOST, overflowBucketOf } from "./overflow";
import { PlayerKey } from "./player_key";
import { Roster } from "./players";
import { SharedKeys } from "./shared_keys";
import { decodeSlot, Edit, editCount, FLAG_HELD, Slot, SlotBuffer } from "./slot";
import { CountOp, OverflowCountOp, PruneOp, SlotOp } from "./slot_ops";
import { Placed, SlotPlacement } from "./slot_placement";
import { CLAIMING, DECLINED, GAVE_UP, SlotWrite, WRONG_HOST, WriteResult } from "./slot_write";
import { createTableKeys } from "./table_keys";
import { VmLiveness } from "./vm_liveness";

const OVERFLOW_HOST_BYTES = String.UTF8.encode(OVERFLOW_HOST);

const SWEEP_PER_TICK = 64;

export class ConnectionTable {
  keys: SharedKeys = new SharedKeys("conn-drain/");
  maxHosts: i32 = 1024;
  metricsEnabled: bool = true;
  metricsMaxHosts: i32 = 256;
  readonly liveness: VmLiveness = new VmLiveness();
  readonly metrics: HostMetrics = new HostMetrics();
  /** Every host key this VM has seen, with its slot hint and lease. */
  readonly hosts: HostCache = new HostCache();
  /** Who is on each host, when `players` is configured (players.ts). */
  readonly roster: Roster = new Roster(this.liveness);
  /** The key player identities are hashed under, read at configure. */
  readonly playerKey: PlayerKey = new PlayerKey();
  // Assigned first thing in the constructor: they hold the table, so cannot be built before.
  readonly placement!: SlotPlacement;
  readonly gauges!: Gauges;
  /** Counts configs applied, so per-host facts tied to one config can tell they are stale. */
  generation: u32 = 0;
  /**
   * Told of every episode a write of this VM completes, by that write: the webhook module, handed
   * in by the VM's state once both exist (each needs the other).
   */
  sink: CompletionSink | null = null;
  private writer: SlotBuffer = new SlotBuffer();
  private sweepCursor: i32 = 0;
  private overflowSweep: i32 = 0;
  private read: SharedRead = new SharedRead();
  private overflowRead: SharedRead = new SharedRead();

  constructor(public terms: DeliveryTerms) {
    this.placement = new SlotPlacement(this);
    this.gauges = new Gauges(this);
    // Each VM sweeps from its own place, so that VMs do not sweep in lockstep.
    this.sweepCursor = <i32>((this.liveness.selfId >> 10) % 1024);
  }

  get selfId(): u32 {
    return this.liveness.selfId;
  }

  /** Applies a config and creates any keys it needs. Runs in on_configure (canary first). */
  configure(config: Config): bool {
    if (config.sharedDataPrefix != this.keys.prefix) {
      this.keys = new SharedKeys(config.sharedDataPrefix);
      this.hosts.clear();
      this.playerKey.loaded = false;
    }
    this.maxHosts = config.maxHosts;
    this.placement.reset();
    // A hint for every tracked host (and as many again seen and gone) keeps steady streams on
    // the in-place path however many hosts are tracked.
    this.hosts.fitTo(config.maxHosts * 2);
    this.metricsEnabled = config.metricsEnabled;
    this.metricsMaxHosts = config.metricsMaxHosts;
    this.generation++;
    if (this.sweepCursor >= this.maxHosts) this.sweepCursor = 0;
    if (!createTableKeys(this.keys, this.maxHosts, config.players.enabled)) return false;
    if (config.players.enabled && !this.playerKey.loaded && !this.playerKey.load(this.keys)) {
      return false;
    }
    // No first heartbeat here: on_configure also runs in Envoy's throw-away canary VM, which
    // would leave a key behind on every config update. A VM beats on its first count and every
    // tick; one already beating declares its new TTL at once.
    this.liveness.configure(this.keys, <i64>config.vmTtlSeconds * 1000, <i64>config.tickMs);
    return true;
  }

  /** Runs on every tick of every root context of the VM (`rootId`, ticking every `period`). */
  heartbeat(rootId: u32, periodMillis: i64): void {
    this.liveness.heartbeat(this.keys);
    this.liveness.watch(this.keys, rootId, periodMillis);
    this.sweep();
  }

  /**
   * Drops dead VMs' entries from a few slots per tick, so that a host nobody touches still sheds
   * a crashed worker's streams from its gauge (sums ignore them at once) and a drain they held
   * open completes. Every VM sweeps from its own cursor; one VM's full pass takes maxHosts / 64
   * ticks, and its overflow slots OVERFLOW_BUCKETS / 4.
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

  // ---- counting ----------------------------------------------------------------------------

  /**
   * Counts one new stream of `entry`'s host, on its slot or, when no slot can be had, in its
   * overflow slot: every stream is counted somewhere. Returns its lease, or null when it was
   * refused because the host is draining, or held after its drain completed (drain.rejectNew;
   * returning.ts gives such a stream its second look).
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
      const placed = this.placement.apply(host, op);
      if (placed.result == SlotWrite.Ok) return this.leaseOn(entry, placed);
      if (placed.result == SlotWrite.Declined) return null;
      // No room: overflow, unless the host got a slot meanwhile (then count there).
      const key = this.keys.overflow(overflowBucketOf(host));
      const overflow = new OverflowCountOp(1, host, this.keys.bucket(bucketOf(host)));
      if (this.update(key, OVERFLOW_HOST, overflow).status == SlotWrite.Ok) {
        return new Lease(key, String.UTF8.encode(key), OVERFLOW_HOST, entry, true, -1, null);
      }
    }
  }

  /**
   * Releases a lease exactly once (every write loops until it lands). Returns the host's drain if
   * it is still running after this close (its players are remembered), else null.
   */
  close(lease: Lease): Drain | null {
    const e = this.countInPlace(lease, -1, false, true);
    if (e == Edit.Written || e == Edit.Nothing) return null;
    // A draining host records which upstreams its players were on, so a receiver can tell the
    // drained pod from a new one of the same name; Envoy keeps upstream.address readable
    // through on_log. Read before the write, so no host call runs inside its CAS loop.
    const upstream = getPropertyString(["upstream", "address"]);
    const written = this.update(
      lease.key,
      lease.slotHost,
      new CountOp(-1, false, upstream),
    ).written;
    return written !== null && written.draining ? written.drain : null;
  }

  /** The lease for `entry`'s streams on the slot placed, made once per host and slot. */
  leaseOn(entry: HostEntry, placed: Placed): Lease {
    const i = placed.slot;
    let lease = entry.lease;
    if (lease === null || entry.slot != i || lease.key != this.keys.slot(i)) {
      const keys = this.keys;
      const roster = keys.playersKeyBytes(i);
      lease = new Lease(keys.slot(i), keys.slotKeyBytes(i), entry.host, entry, false, i, roster);
      entry.slot = i;
      entry.lease = lease;
    }
    const written = placed.written;
    entry.metered = written !== null && written.metered;
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
      const size = rawSize();
      const self = this.selfId;
      const edit = editCount(
        p,
        size,
        host,
        self,
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

  // ---- the decoding write path -------------------------------------------------------------

  /**
   * Applies `op` to the slot at `key` if it still belongs to `host`, by compare-and-swap, until
   * the write lands: a lost race means another VM's write landed, so the loop always ends, and
   * no count is ever left unwritten however many rounds are lost. Dead VMs' entries are dropped
   * in the same write, and a draining host that is now empty is completed in it: so exactly one
   * write, by one VM, ever completes an episode, and that VM signals it at once (the sink).
   */
  update(key: string, host: string, op: SlotOp): WriteResult {
    // Drain transitions stamp times and compare leases, so they read the clock; counting does not
    // (a completion reads it when it happens).
    const now: i64 = op.preciseTime ? nowMillis() : 0;
    while (true) {
      if (sharedGet(key, this.read).status != WasmResult.Ok) return WRONG_HOST;
      const slot = decodeSlot(this.read.value);
      if (slot.host != host) return WRONG_HOST;
      if (slot.claiming && !op.acceptClaiming) return CLAIMING;
      const cas = this.read.cas;
      if (!op.apply(slot, this.selfId, now)) return DECLINED;
      const dropped = this.dropDead(slot);
      const total = this.total(slot);
      const reason = this.completionDue(slot, total);
      if (reason != CompletionReason.None) {
        this.complete(slot, reason, total, op.preciseTime ? now : nowMillis());
      }
      const status = sharedSet(key, slot.encode(), cas);
      if (status == WasmResult.Ok) {
        if (slot.metered) this.metrics.add(this.metricName(host), op.countDelta - dropped);
        const sink = this.sink;
        if (reason != CompletionReason.None && sink !== null) sink.completed(key, slot);
        return new WriteResult(SlotWrite.Ok, slot);
      }
      op.undo();
      if (status != WasmResult.CasMismatch) return GAVE_UP;
    }
  }

  /**
   * Whether the write about to be made ends a running drain: its host is empty (and, with a quiet
   * period, has been since a write at least `quietSeconds` ago), or its deadline passed (with
   * `total` streams left). "Empty" means no live stream on the slot and none in the host's
   * overflow slot that could be the host's; a slot still being claimed never completes (its
   * claim may be given back, and overflow is not fenced yet).
   *
   * Keeps the quiet clock in the value about to be written: the first write that finds the host
   * empty starts it, any write that finds it not empty stops it, so a stream that arrives and
   * leaves in between restarts the wait. The clock is the wall clock: a step of it can shorten or
   * lengthen a quiet period, never complete a drain whose host is not empty in this very write.
   */
  private completionDue(slot: Slot, total: i64): CompletionReason {
    const d = slot.drain;
    if (d === null || !d.active || slot.claiming) return CompletionReason.None;
    let quietFor: i64 = -1;
    if (total == 0 && this.overflowFor(slot.host) == 0) {
      if (d.quietSeconds <= 0) return CompletionReason.Drained;
      const now = nowMillis();
      // 0 means "not quiet", so a clock at the epoch still starts the period.
      if (d.quietSince == 0) d.quietSince = now > 0 ? now : 1;
      else quietFor = now - d.quietSince;
    } else {
      d.quietSince = 0;
    }
    // The clock now, not at some earlier tick: a wall clock stepped back since must not make a
    // deadline pass early. A deadline ends a quiet period too.
    if (d.deadlineAt > 0 && nowMillis() >= d.deadlineAt) return CompletionReason.Deadline;
    if (quietFor >= <i64>d.quietSeconds * 1000) return CompletionReason.Drained;
    return CompletionReason.None;
  }

  /** Marks a draining slot's episode completed, with its delivery as the webhook's terms say. */
  private complete(slot: Slot, reason: CompletionReason, remaining: i64, now: i64): void {
    const t = this.terms;
    const owner = t.unowned ? 0 : this.selfId;
    const d = slot.drain!;
    completeDrain(d, reason, remaining, now, owner, t.enabled, t.leaseMillis);
    // Players who could have come back must not join a server that is going away.
    if (d.graceSeconds > 0) slot.flags |= FLAG_HELD;
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

  /** Live streams in the overflow slot `host` would use: an upper bound on its uncounted ones. */
  overflowFor(host: string): i64 {
    return this.overflowAt(overflowBucketOf(host));
  }

  overflowAt(b: i32): i64 {
    if (sharedGet(this.keys.overflow(b), this.overflowRead).status != WasmResult.Ok) return 0;
    return this.total(decodeSlot(this.overflowRead.value));
  }
}
