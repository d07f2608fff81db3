// Which VMs still count. A VM that traps is never called again, so the streams it held would
// never be released: once it is judged dead, its entries stop counting and are dropped.
//
// A false "dead" verdict loses live players' counts (and can complete a drain under them), so
// the verdict rests only on evidence that no clock step or config change can fake:
//  - each VM writes its own heartbeat key on every tick: a beat counter, the time, and the TTL
//    it declares under its current config (written again at once when a config changes it);
//  - every VM that beats lists its id in the shared `vms` key, so a judge watches every VM from
//    its own first tick on (and any VM it meets in a slot but not in the list, from then on);
//  - a judge reads the heartbeats of the VMs it watches on each of its own ticks, and declares
//    one dead only after its beat counter has stood still for as long as both the judge's TTL
//    and the TTL the other VM itself declared. That span is counted in ticks of the judge's
//    root contexts, each root's on its own (Envoy fires a root's ticks from the monotonic clock
//    at its period): no wall-clock step moves it, and two roots ticking side by side while a
//    config changes do not make time pass twice as fast.
// A judge that has not yet watched a VM for that long counts it as alive (late, never false).
import { WasmResult } from "../abi/enums";
import { nowMillis, randomU32, SharedRead, sharedGet, sharedSet } from "../abi/hostcalls";
import { editValue, ValueEdit } from "./cas";
import { SharedKeys } from "./shared_keys";

const HEARTBEAT_BYTES = 20;
/** Bound on VMs remembered; forgetting one only makes it count as alive for another TTL. */
const MAX_WATCHED = 4096;
/** VMs isAlive answers from a plain list (workers are few; the rest go through the map). */
const ALIVE_LIST = 32;
/** Bound on the shared list of VM ids (4 bytes each); a VM past it is met through slots. */
const MAX_LISTED = 1024;

/** Root contexts whose ticks are followed at once (a VM has one, two while a config changes). */
const CLOCKS = 4;

/**
 * Time as one root context's ticks tell it: Envoy fires a root's ticks from the monotonic clock
 * at that root's period, so its count times the period is a lower bound on the time passed,
 * whatever the wall clock does and however many other roots tick.
 */
class TickClock {
  rootId: u32 = 0;
  elapsedMillis: i64 = 0;
  /** This VM's tick count when this clock last ticked (the least recent is replaced first). */
  lastUsed: i64 = 0;
}

/** What a judge knows of another VM's heartbeat. */
class Watch {
  /** The beat counter last read; -1 before the first read. */
  beats: i64 = -1;
  declaredTtlMillis: i64 = 0;
  /** Per clock: which root it was and its time when `beats` was last seen to move. */
  sinceRoot: StaticArray<u32> = new StaticArray<u32>(CLOCKS);
  since: StaticArray<i64> = new StaticArray<i64>(CLOCKS);
  dead: bool = false;
}

export class VmLiveness {
  /** This VM's identity: minted once per VM instance, kept across config updates. */
  readonly selfId: u32;
  ttlMillis: i64 = 30_000;
  /** The newest config's tick period (what a full table waits before scanning again). */
  tickMillis: i64 = 1000;
  /** Whether this VM has written its heartbeat key at least once. */
  beating: bool = false;
  private beats: i64 = 0;
  private watched: Map<u32, Watch> = new Map<u32, Watch>();
  /** Some of the VMs watched and not dead, for isAlive to find without hashing. */
  private alive: StaticArray<u32> = new StaticArray<u32>(ALIVE_LIST);
  private aliveCount: i32 = 0;
  private read: SharedRead = new SharedRead();
  private value: ArrayBuffer = new ArrayBuffer(HEARTBEAT_BYTES);
  private clocks: StaticArray<TickClock> = [
    new TickClock(),
    new TickClock(),
    new TickClock(),
    new TickClock(),
  ];
  private ticks: i64 = 0;

  constructor() {
    let id = randomU32();
    if (id == 0) id = 1;
    this.selfId = id;
  }

  /**
   * New settings from a config. A VM already beating declares its new TTL at once: VMs still on
   * the old config judge it by the longer of theirs and the one it declares.
   */
  configure(keys: SharedKeys, ttlMillis: i64, tickMillis: i64): void {
    this.ttlMillis = ttlMillis;
    this.tickMillis = tickMillis;
    if (this.beating) this.heartbeat(keys);
  }

  heartbeat(keys: SharedKeys): void {
    if (!this.beating) this.editList(keys, this.selfId, true);
    this.beats++;
    const p = changetype<usize>(this.value);
    store<i64>(p, this.beats);
    store<i64>(p, nowMillis(), 8);
    store<u32>(p, <u32>min(this.ttlMillis, <i64>u32.MAX_VALUE), 16);
    sharedSet(keys.vm(this.selfId), this.value, 0);
    this.beating = true;
  }

  /**
   * Runs on every tick of every root context of this VM, with that root's id and tick period:
   * one heartbeat read per VM watched and not yet dead. A VM is dead once its beat counter has
   * stood still, by any one root's ticks, for the longer of this VM's TTL and the one it declared.
   * Each root's ticks are counted on their own: Envoy fires them from the monotonic clock, so no
   * wall-clock step moves them, and a root of an older config, which may tick on beside the new
   * one, cannot make time pass twice as fast.
   */
  watch(keys: SharedKeys, rootId: u32, periodMillis: i64): void {
    const c = this.clockOf(rootId);
    const clock = unchecked(this.clocks[c]);
    clock.elapsedMillis += periodMillis;
    if (sharedGet(keys.vms, this.read).status == WasmResult.Ok) {
      const list = this.read.value;
      const p = changetype<usize>(list);
      for (let i = 0; i < list.byteLength - 3; i += 4) this.isAlive(load<u32>(p + <usize>i));
    }
    const ids = this.watched.keys();
    for (let i = 0; i < ids.length; i++) {
      const id = unchecked(ids[i]);
      const w = this.watched.get(id);
      if (w.dead) continue;
      let beats: i64 = w.beats;
      if (sharedGet(keys.vm(id), this.read).status == WasmResult.Ok) {
        const v = this.read.value;
        if (v.byteLength >= HEARTBEAT_BYTES) {
          beats = load<i64>(changetype<usize>(v));
          w.declaredTtlMillis = <i64>load<u32>(changetype<usize>(v), 16);
        } else if (v.byteLength >= 8) {
          // An older module's heartbeat: its time is the only beat counter it has.
          beats = load<i64>(changetype<usize>(v));
        }
      }
      if (beats != w.beats || w.beats < 0) {
        w.beats = beats;
        for (let k = 0; k < CLOCKS; k++) this.restart(w, k);
        continue;
      }
      // A clock that began after the last change (a new root) starts from now.
      if (unchecked(w.sinceRoot[c]) != clock.rootId) this.restart(w, c);
      // The change was seen somewhere inside this clock's first period since: only the whole
      // periods after that one are sure to have passed.
      const still = clock.elapsedMillis - unchecked(w.since[c]) - periodMillis;
      if (still >= max(this.ttlMillis, w.declaredTtlMillis)) {
        w.dead = true;
        // Off the list, so it stays bounded; judges already watching keep their verdict.
        this.forgetAlive(id);
        this.editList(keys, id, false);
      }
    }
  }

  /** The clock of `rootId`, made (over the least recently used one) if new. */
  private clockOf(rootId: u32): i32 {
    this.ticks++;
    let oldest = 0;
    for (let k = 0; k < CLOCKS; k++) {
      const clock = unchecked(this.clocks[k]);
      if (clock.rootId == rootId) {
        clock.lastUsed = this.ticks;
        return k;
      }
      if (clock.lastUsed < unchecked(this.clocks[oldest]).lastUsed) oldest = k;
    }
    const clock = unchecked(this.clocks[oldest]);
    clock.rootId = rootId;
    clock.elapsedMillis = 0;
    clock.lastUsed = this.ticks;
    return oldest;
  }

  private restart(w: Watch, k: i32): void {
    const clock = unchecked(this.clocks[k]);
    unchecked((w.sinceRoot[k] = clock.rootId));
    unchecked((w.since[k] = clock.elapsedMillis));
  }

  /** Whether `vmId`'s entries still count. No host call: verdicts are formed on ticks. */
  isAlive(vmId: u32): bool {
    if (vmId == this.selfId) return true;
    // Every stream asks about the few VMs of its host's slot: a short list first, no hashing.
    const n = this.aliveCount;
    for (let i = 0; i < n; i++) if (unchecked(this.alive[i]) == vmId) return true;
    if (this.watched.has(vmId)) {
      if (this.watched.get(vmId).dead) return false;
    } else {
      if (this.watched.size >= MAX_WATCHED) {
        this.watched.clear();
        this.aliveCount = 0;
      }
      this.watched.set(vmId, new Watch());
    }
    if (n < ALIVE_LIST) unchecked((this.alive[this.aliveCount++] = vmId));
    return true;
  }

  /** Takes `vmId` off the short list of VMs known alive (it was just found dead). */
  private forgetAlive(vmId: u32): void {
    for (let i = 0; i < this.aliveCount; i++) {
      if (unchecked(this.alive[i]) == vmId) {
        unchecked((this.alive[i] = this.alive[--this.aliveCount]));
        return;
      }
    }
  }

  /** Adds `id` to (or removes it from) the shared list of VM ids. */
  private editList(keys: SharedKeys, id: u32, add: bool): void {
    editValue(keys.vms, new VmListEdit(id, add));
  }
}

/** The shared list of VM ids: u32 ids, back to back. */
class VmListEdit extends ValueEdit {
  constructor(
    public id: u32,
    public add: bool,
  ) {
    super();
  }

  edit(list: ArrayBuffer): ArrayBuffer | null {
    const p = changetype<usize>(list);
    const n = list.byteLength >> 2;
    let at = -1;
    for (let i = 0; i < n; i++) if (load<u32>(p + ((<usize>i) << 2)) == this.id) at = i;
    if (this.add == at >= 0 || (this.add && n >= MAX_LISTED)) return null;
    const next = new ArrayBuffer((n + (this.add ? 1 : -1)) << 2);
    const q = changetype<usize>(next);
    if (this.add) {
      memory.copy(q, p, (<usize>n) << 2);
      store<u32>(q + ((<usize>n) << 2), this.id);
    } else {
      // The last id takes the removed one's place.
      memory.copy(q, p, (<usize>(n - 1)) << 2);
      if (at < n - 1) store<u32>(q + ((<usize>at) << 2), load<u32>(p + ((<usize>(n - 1)) << 2)));
    }
    return next;
  }
}
