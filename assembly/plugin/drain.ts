// A drain episode as stored in its host's slot: started by an operator (admin path) or by
// config, completed the moment the host's count over all VMs reaches zero (or its deadline
// passes), then signalled by a shared-data key and a webhook whose delivery is tracked here too.
// Keeping it in the slot means the stream close that brings the count to zero sees the drain in
// the same read, and completes it in the same compare-and-swap: exactly one VM can win.

export enum DrainState {
  Draining = 1,
  Completed = 2,
  Cancelled = 3,
}

export enum DrainSource {
  Admin = 1,
  Config = 2,
}

export enum CompletionReason {
  None = 0,
  Drained = 1,
  Deadline = 2,
}

export enum Delivery {
  None = 0,
  Pending = 1,
  Delivered = 2,
  Failed = 3,
}

export const MAX_UPSTREAMS = 8;

export class Drain {
  state: DrainState = DrainState.Draining;
  source: DrainSource = DrainSource.Admin;
  episode: string = "";
  startedAt: i64 = 0;
  /** 0: no deadline. */
  deadlineAt: i64 = 0;
  completedAt: i64 = 0;
  reason: CompletionReason = CompletionReason.None;
  remaining: i64 = 0;
  delivery: Delivery = Delivery.None;
  attempts: i32 = 0;
  nextAttemptAt: i64 = 0;
  /** VM that owns delivery (0: nobody yet) and until when its lease holds. */
  owner: u32 = 0;
  leaseUntil: i64 = 0;
  lastError: string = "";
  upstreams: Array<string> = [];
  /**
   * How long the host's count must stay at zero before the drain completes as drained (0: at
   * once), copied from config when the episode starts so a config change never alters it.
   */
  quietSeconds: i32 = 0;
  /** When a write first found the host at zero (wall clock, ms); 0: not quiet now. */
  quietSince: i64 = 0;
  /**
   * How long after leaving a player is let back in under drain.rejectNew (players configured),
   * copied from config when the episode starts, like quietSeconds.
   */
  graceSeconds: i32 = 0;
  /** Streams of returning players let in while draining, and new streams refused. */
  returning: u32 = 0;
  refused: u32 = 0;

  get active(): bool {
    return this.state == DrainState.Draining;
  }

  /** Until when a completed episode keeps its host refusing new streams (see FLAG_HELD). */
  get holdUntil(): i64 {
    return this.completedAt + <i64>this.graceSeconds * 1000;
  }

  /** Still needs a VM's attention on tick: running, or completed with delivery outstanding. */
  get open(): bool {
    return this.active || (this.state == DrainState.Completed && this.delivery == Delivery.Pending);
  }

  /** A copy, so that an op retried after a lost CAS never reuses a record it already changed. */
  copy(): Drain {
    const d = new Drain();
    d.state = this.state;
    d.source = this.source;
    d.episode = this.episode;
    d.startedAt = this.startedAt;
    d.deadlineAt = this.deadlineAt;
    d.completedAt = this.completedAt;
    d.reason = this.reason;
    d.remaining = this.remaining;
    d.delivery = this.delivery;
    d.attempts = this.attempts;
    d.nextAttemptAt = this.nextAttemptAt;
    d.owner = this.owner;
    d.leaseUntil = this.leaseUntil;
    d.lastError = this.lastError;
    d.upstreams = this.upstreams.slice(0);
    d.quietSeconds = this.quietSeconds;
    d.quietSince = this.quietSince;
    d.graceSeconds = this.graceSeconds;
    d.returning = this.returning;
    d.refused = this.refused;
    return d;
  }

  addUpstream(address: string): bool {
    if (address.length == 0 || this.upstreams.length >= MAX_UPSTREAMS) return false;
    if (this.upstreams.includes(address)) return false;
    this.upstreams.push(address);
    return true;
  }
}

// ---- binary form inside a slot value --------------------------------------------------------

/**
 * Appends a drain record's fields to one growing buffer (every write of a draining slot encodes
 * its record, so no field costs an allocation of its own).
 */
export class Writer {
  buf: ArrayBuffer = new ArrayBuffer(256);
  size: i32 = 0;

  private room(n: i32): usize {
    if (this.size + n > this.buf.byteLength) {
      const grown = new ArrayBuffer(max(this.buf.byteLength * 2, this.size + n));
      memory.copy(changetype<usize>(grown), changetype<usize>(this.buf), <usize>this.size);
      this.buf = grown;
    }
    const at = changetype<usize>(this.buf) + <usize>this.size;
    this.size += n;
    return at;
  }

  u8(v: i32): void {
    store<u8>(this.room(1), <u8>v);
  }
  u32(v: u32): void {
    store<u32>(this.room(4), v);
  }
  i64(v: i64): void {
    store<i64>(this.room(8), v);
  }
  /** A u16 length, then at most 65,535 bytes of the string's UTF-8. */
  str(s: string): void {
    const len = this.room(2);
    const whole = String.UTF8.byteLength(s);
    const n = min(whole, 0xffff);
    store<u16>(len, <u16>n);
    const at = this.room(n);
    // encodeUnsafe writes every byte of `s`, so only a whole string is encoded in place (all but
    // one over 64 KiB, which no record field can be).
    if (n == whole) {
      String.UTF8.encodeUnsafe(changetype<usize>(s), s.length, at);
    } else {
      const b = String.UTF8.encode(s);
      memory.copy(at, changetype<usize>(b), <usize>n);
    }
  }
  /** The bytes written. */
  get ptr(): usize {
    return changetype<usize>(this.buf);
  }
}

/** Bounds-checked reads; `ok` turns false on the first read past the end. */
export class Reader {
  ok: bool = true;
  constructor(
    public p: usize,
    public end: usize,
  ) {}

  private take(n: usize): usize {
    if (!this.ok || this.p + n > this.end) {
      this.ok = false;
      return 0;
    }
    const at = this.p;
    this.p += n;
    return at;
  }
  u8(): i32 {
    const at = this.take(1);
    return this.ok ? <i32>load<u8>(at) : 0;
  }
  u32(): u32 {
    const at = this.take(4);
    return this.ok ? load<u32>(at) : 0;
  }
  i64(): i64 {
    const at = this.take(8);
    return this.ok ? load<i64>(at) : 0;
  }
  /** Whether bytes are left: fields added later are read only when present. */
  get more(): bool {
    return this.ok && this.p < this.end;
  }
  str(): string {
    const lenAt = this.take(2);
    if (!this.ok) return "";
    const n = <usize>load<u16>(lenAt);
    const at = this.take(n);
    return this.ok ? String.UTF8.decodeUnsafe(at, n) : "";
  }
}

export function writeDrain(w: Writer, d: Drain): void {
  w.u8(d.state);
  w.u8(d.source);
  w.str(d.episode);
  w.i64(d.startedAt);
  w.i64(d.deadlineAt);
  w.i64(d.completedAt);
  w.u8(d.reason);
  w.i64(d.remaining);
  w.u8(d.delivery);
  w.u32(<u32>d.attempts);
  w.i64(d.nextAttemptAt);
  w.u32(d.owner);
  w.i64(d.leaseUntil);
  w.str(d.lastError.length > 200 ? d.lastError.substring(0, 200) : d.lastError);
  w.u8(d.upstreams.length);
  for (let i = 0; i < d.upstreams.length; i++) w.str(unchecked(d.upstreams[i]));
  // Added after the first layout, at the end so an older value reads as "no quiet period".
  w.u32(<u32>d.quietSeconds);
  w.i64(d.quietSince);
  // Added with returning players: an older value reads as no grace and no figures.
  w.u32(<u32>d.graceSeconds);
  w.u32(d.returning);
  w.u32(d.refused);
}

export function readDrain(r: Reader): Drain | null {
  const d = new Drain();
  d.state = <DrainState>r.u8();
  d.source = <DrainSource>r.u8();
  d.episode = r.str();
  d.startedAt = r.i64();
  d.deadlineAt = r.i64();
  d.completedAt = r.i64();
  d.reason = <CompletionReason>r.u8();
  d.remaining = r.i64();
  d.delivery = <Delivery>r.u8();
  d.attempts = <i32>r.u32();
  d.nextAttemptAt = r.i64();
  d.owner = r.u32();
  d.leaseUntil = r.i64();
  d.lastError = r.str();
  const n = r.u8();
  for (let i = 0; i < n && i < MAX_UPSTREAMS; i++) d.upstreams.push(r.str());
  // A slot written by the previous layout ends here: no quiet period, not quiet.
  if (r.more) {
    d.quietSeconds = <i32>r.u32();
    d.quietSince = r.i64();
  }
  if (r.more) {
    d.graceSeconds = <i32>r.u32();
    d.returning = r.u32();
    d.refused = r.u32();
  }
  return r.ok ? d : null;
}
