// The roster of a host's players, kept beside its slot (`<prefix>players/<i>`) when `players` is
// configured: which players (hashed identities, player_key.ts) have live streams on which VM, so
// that a player with two tabs counts once over all workers; and, while the host drains, which
// players left and when, so a player whose connection blipped can be let back in
// (ReturningOp in slot_ops.ts). Every VM edits the roster by compare-and-swap of the whole value,
// like a slot; the key is created at configure (table_keys.ts), so no write can race a creation.
//
// Streams without an identity are entered too, as player 0 (one entry per VM), so that the
// roster's streams can be held against the slot's count: a distinct-player figure is exact only
// when every stream the slot counts is in the roster (none past maxPerHost, none opened before
// `players` was configured, no write between the two still to land).
//
// The roster only informs: who counts as returning, and how many distinct players a host has.
// Whether a drain may complete is decided by the slot's stream count alone, so a roster that is
// behind (a write still to come, a VM that died between its slot and roster writes) can make a
// returning player wait, never a drain complete early.
//
// Layout (little-endian): u32 version | u16 hostBytes | host |
//   u32 live | live x (u64 player, u32 vmId, u32 streams) | u32 gone | gone x (u64 player, i64 leftAt)
// `gone` is oldest first.
import { WasmResult } from "../abi/enums";
import { rawCas, rawPtr, rawSize, releaseRaw, sharedGetAt, sharedSetAt } from "../abi/hostcalls";
import { sameMemory } from "./host_cache";
import { Slot, SlotBuffer } from "./slot";
import { VmLiveness } from "./vm_liveness";

const VERSION: u32 = 0x43505201;
const ENTRY: usize = 16;

/** lastSeen: the player has a live stream on the host now. */
export const ONLINE: i64 = i64.MAX_VALUE;
/** lastSeen: the roster does not know the player. */
export const UNKNOWN: i64 = -1;

/** The empty roster every players key is created with. */
export function emptyRoster(): ArrayBuffer {
  const out = new ArrayBuffer(14);
  store<u32>(changetype<usize>(out), VERSION);
  return out;
}

/** Offsets into a roster value, checked once (every later read stays inside `size`). */
class RosterView {
  hostSize: usize = 0;
  liveAt: usize = 0;
  live: usize = 0;
  goneAt: usize = 0;
  gone: usize = 0;

  /** Reads the value at `p`; false if it is not a roster. */
  parse(p: usize, size: usize): bool {
    if (size < 14 || load<u32>(p) != VERSION) return false;
    const hostSize = <usize>load<u16>(p, 4);
    if (<usize>14 + hostSize > size) return false;
    this.hostSize = hostSize;
    this.live = <usize>load<u32>(p + 6 + hostSize);
    this.liveAt = p + 10 + hostSize;
    const goneCount = this.liveAt + this.live * ENTRY;
    if (this.live > size || goneCount + 4 > p + size) return false;
    this.gone = <usize>load<u32>(goneCount);
    this.goneAt = goneCount + 4;
    return this.gone <= size && this.goneAt + this.gone * ENTRY <= p + size;
  }

  /** Reads as a roster with no entries (a value that is not this host's roster). */
  empty(): void {
    this.live = 0;
    this.gone = 0;
  }

  holds(p: usize, host: ArrayBuffer): bool {
    const n = <usize>host.byteLength;
    return this.hostSize == n && sameMemory(p + 6, changetype<usize>(host), n);
  }
}

/** What a roster says of a host: its distinct players, and whether that is all of them. */
export class PlayerCount {
  /** False: a lower bound (streams the roster does not hold, see Roster.count). */
  exact: bool = false;

  constructor(
    /** Distinct identified players with a live stream, over every live VM. */
    public players: i64,
  ) {}
}

/** What a rewrite of a roster came to. */
enum Rewrite {
  /** `out` holds the new value. */
  Write,
  /** Nothing to write: a close of a stream the roster does not hold. */
  Nothing,
  /** An open found the roster full: the stream stays out. */
  Full,
}

/** One change to a roster: a stream of `player` on this VM opens (+1) or ends (-1). */
class RosterChange {
  delta: i32 = 0;
  player: u64 = 0;
  maxLive: usize = 0;
  /** Remember the player as gone at this time (0: the host is not draining, forget all gone). */
  leftAt: i64 = 0;
  /** Forget gone players who left before this. */
  forgetBefore: i64 = 0;
  rememberMax: usize = 0;
}

export class Roster {
  private view: RosterView = new RosterView();
  private out: SlotBuffer = new SlotBuffer();
  private change: RosterChange = new RosterChange();
  private seen: StaticArray<u64> = new StaticArray<u64>(64);
  private vms: Array<u32> = [];
  private sums: Array<i64> = [];

  constructor(private liveness: VmLiveness) {}

  /**
   * A stream of `player` (0: no identity) opened on this VM; false when the roster is full (the
   * stream is then left out, and the host's figure is no longer exact).
   */
  join(key: ArrayBuffer, host: ArrayBuffer, player: u64, maxPerHost: i32): bool {
    const c = this.change;
    c.delta = 1;
    c.player = player;
    c.maxLive = <usize>maxPerHost;
    return this.apply(key, host) != Rewrite.Full;
  }

  /**
   * A stream of `player` ended on this VM. While its host drains (`leftAt` > 0) the player is
   * remembered as gone at `leftAt`, at most `rememberMax` players, oldest forgotten first, and
   * none who left before `forgetBefore`; otherwise every gone player is forgotten.
   */
  leave(
    key: ArrayBuffer,
    host: ArrayBuffer,
    player: u64,
    leftAt: i64,
    forgetBefore: i64,
    rememberMax: i32,
  ): void {
    const c = this.change;
    c.delta = -1;
    c.player = player;
    c.leftAt = leftAt;
    c.forgetBefore = forgetBefore;
    c.rememberMax = <usize>max(rememberMax, 0);
    this.apply(key, host);
  }

  /** When `player` was last on the host: ONLINE, the time they left, or UNKNOWN. */
  lastSeen(key: ArrayBuffer, host: ArrayBuffer, player: u64): i64 {
    if (sharedGetAt(key) != WasmResult.Ok) return UNKNOWN;
    const p = rawPtr();
    const v = this.view;
    let seen = UNKNOWN;
    if (v.parse(p, rawSize()) && v.holds(p, host)) {
      for (let i: usize = 0; i < v.live && seen != ONLINE; i++) {
        const e = v.liveAt + i * ENTRY;
        if (load<u64>(e) == player && this.liveness.isAlive(load<u32>(e, 8))) seen = ONLINE;
      }
      for (let i: usize = 0; i < v.gone && seen != ONLINE; i++) {
        const e = v.goneAt + i * ENTRY;
        if (load<u64>(e) == player) seen = max(seen, load<i64>(e, 8));
      }
    }
    releaseRaw(p);
    return seen;
  }

  /**
   * The host's distinct players over every live VM, and whether that is all of them: whether
   * every live VM has exactly as many streams in the roster as in `slot` (the host's slot value,
   * read just before). Compared VM by VM, not in total: another VM may have dropped a dead VM's
   * entries from the slot that this VM, judging on its own ticks, still counts as alive.
   */
  count(key: ArrayBuffer, host: ArrayBuffer, slot: Slot): PlayerCount {
    if (sharedGetAt(key) != WasmResult.Ok) return new PlayerCount(0);
    const p = rawPtr();
    const v = this.view;
    if (!v.parse(p, rawSize()) || !v.holds(p, host)) v.empty();
    const result = new PlayerCount(this.distinct(v));
    result.exact = this.sameStreams(v, slot);
    releaseRaw(p);
    return result;
  }

  private sameStreams(v: RosterView, slot: Slot): bool {
    const vms = this.vms;
    vms.length = 0;
    const sums = this.sums;
    sums.length = 0;
    for (let i: usize = 0; i < v.live; i++) {
      const e = v.liveAt + i * ENTRY;
      const vm = load<u32>(e, 8);
      if (!this.liveness.isAlive(vm)) continue;
      const k = vms.indexOf(vm);
      if (k < 0) {
        vms.push(vm);
        sums.push(<i64>load<u32>(e, 12));
      } else {
        unchecked((sums[k] += <i64>load<u32>(e, 12)));
      }
    }
    for (let k = 0; k < slot.vmIds.length; k++) {
      const vm = unchecked(slot.vmIds[k]);
      if (!this.liveness.isAlive(vm)) continue;
      const at = vms.indexOf(vm);
      if (at < 0 || unchecked(sums[at]) != <i64>unchecked(slot.counts[k])) return false;
    }
    // Every live VM of the roster was matched in the slot: none has streams the slot has not.
    for (let k = 0; k < vms.length; k++) {
      if (slot.indexOfVm(unchecked(vms[k])) < 0) return false;
    }
    return true;
  }

  /**
   * Distinct identified players among live VMs' entries (player 0 is no player): a set in open
   * addressing, twice their number.
   */
  private distinct(v: RosterView): i64 {
    let cap = 64;
    while (<usize>cap < v.live * 2) cap <<= 1;
    if (this.seen.length < cap) this.seen = new StaticArray<u64>(cap);
    const seen = this.seen;
    const mask = <u32>(cap - 1);
    for (let i = 0; i < cap; i++) unchecked((seen[i] = 0));
    let n: i64 = 0;
    for (let i: usize = 0; i < v.live; i++) {
      const e = v.liveAt + i * ENTRY;
      const player = load<u64>(e);
      if (player == 0 || !this.liveness.isAlive(load<u32>(e, 8))) continue;
      let h = <u32>(player ^ (player >> 32)) & mask;
      while (true) {
        const at = unchecked(seen[h]);
        if (at == player) break;
        if (at == 0) {
          unchecked((seen[h] = player));
          n++;
          break;
        }
        h = (h + 1) & mask;
      }
    }
    return n;
  }

  /** The change in `this.change`, by compare-and-swap until it lands or there is nothing to do. */
  private apply(key: ArrayBuffer, host: ArrayBuffer): Rewrite {
    while (true) {
      if (sharedGetAt(key) != WasmResult.Ok) return Rewrite.Nothing;
      const p = rawPtr();
      const cas = rawCas();
      const outcome = this.rewrite(p, rawSize(), host);
      releaseRaw(p);
      if (outcome != Rewrite.Write) return outcome;
      const status = sharedSetAt(key, this.out.ptr, this.out.size, cas);
      if (status != WasmResult.CasMismatch) return outcome;
    }
  }

  /**
   * Writes into `out` the roster at `p` with the change applied. A roster of another host (the slot changed hands) is started afresh by an open and
   * left alone by a close: the stream it ends was never in it. Built from copied runs of the old
   * value, so a change costs a scan and a copy whatever the roster holds; dead VMs' entries are
   * ignored by every read and dropped only when an open finds the roster full.
   */
  private rewrite(p: usize, size: usize, host: ArrayBuffer): Rewrite {
    const c = this.change;
    const v = this.view;
    if (!v.parse(p, size) || !v.holds(p, host)) {
      if (c.delta < 0) return Rewrite.Nothing;
      v.empty();
    }
    const hostSize = <usize>host.byteLength;
    const live = v.live;
    const gone = v.gone;
    const self = this.liveness.selfId;
    let at: isize = -1;
    for (let i: usize = 0; i < live; i++) {
      const e = v.liveAt + i * ENTRY;
      if (load<u64>(e) == c.player && load<u32>(e, 8) == self) {
        at = <isize>i;
        break;
      }
    }
    const w = this.out.reserve(14 + hostSize + (live + 1 + gone + 1) * ENTRY);
    store<u32>(w, VERSION);
    store<u16>(w, <u16>hostSize, 4);
    memory.copy(w + 6, changetype<usize>(host), hostSize);
    let o = w + 10 + hostSize;
    let kept = live;
    if (live > 0) memory.copy(o, v.liveAt, live * ENTRY);
    if (at >= 0) {
      const e = o + <usize>at * ENTRY;
      const streams = load<u32>(e, 12) + (c.delta > 0 ? 1 : -1);
      if (streams > 0) {
        store<u32>(e, streams, 12);
      } else {
        memory.copy(e, e + ENTRY, (live - <usize>at - 1) * ENTRY);
        kept--;
      }
    } else if (c.delta > 0) {
      if (kept >= c.maxLive) kept = this.dropDead(o, kept);
      if (kept < c.maxLive) {
        const e = o + kept * ENTRY;
        store<u64>(e, c.player);
        store<u32>(e, self, 8);
        store<u32>(e, 1, 12);
        kept++;
      } else {
        // The stream stays out (the host's figure then says it is not exact).
        return Rewrite.Full;
      }
    } else if (c.delta < 0) {
      // Not ours to release (the roster started afresh since).
      return Rewrite.Nothing;
    }
    store<u32>(w + 6 + hostSize, <u32>kept);
    o += kept * ENTRY;
    this.out.size = this.writeGone(o, gone) - w;
    return Rewrite.Write;
  }

  /** The gone list at `o` after the change: kept by an open; by a close, only while draining. */
  private writeGone(o: usize, gone: usize): usize {
    const c = this.change;
    const v = this.view;
    const count = o;
    o += 4;
    let left: usize = 0;
    if (c.delta > 0) {
      if (gone > 0) memory.copy(o, v.goneAt, gone * ENTRY);
      left = gone;
    } else if (c.leftAt > 0) {
      for (let i: usize = 0; i < gone; i++) {
        const e = v.goneAt + i * ENTRY;
        if (load<u64>(e) == c.player || load<i64>(e, 8) < c.forgetBefore) continue;
        memory.copy(o + left * ENTRY, e, ENTRY);
        left++;
      }
      if (c.rememberMax > 0) {
        store<u64>(o + left * ENTRY, c.player);
        store<i64>(o + left * ENTRY, c.leftAt, 8);
        left++;
        // Oldest first: past the bound, the front goes.
        if (left > c.rememberMax) {
          const drop = left - c.rememberMax;
          memory.copy(o, o + drop * ENTRY, (left - drop) * ENTRY);
          left -= drop;
        }
      }
    }
    store<u32>(count, <u32>left);
    return o + left * ENTRY;
  }

  /** Removes dead VMs' entries from the `n` live entries at `o`; returns how many are left. */
  private dropDead(o: usize, n: usize): usize {
    let kept: usize = 0;
    for (let i: usize = 0; i < n; i++) {
      const e = o + i * ENTRY;
      const vm = load<u32>(e, 8);
      if (vm != this.liveness.selfId && !this.liveness.isAlive(vm)) continue;
      if (kept != i) memory.copy(o + kept * ENTRY, e, ENTRY);
      kept++;
    }
    return kept;
  }
}
