// Generates safety-campaign steps from a seed, looking at the model only to pick sensible
// targets (an open stream to close, a live worker, a host nobody is on yet). It knows nothing of
// the plugin's insides: every interleaving is drawn at random.
import { Rng } from "../../host/index.js";
import type { Model } from "./model.js";
import type { ConfigSpec, OpenStep, Step } from "./steps.js";
import { FLOOD_BASE, GAME_SERVERS, type KeyBy, spellFor } from "./universe.js";

/** Short ticks are rare: a tick is the costliest thing a step does (every VM reads its slots). */
const TICKS = [100, 250, 1000, 1000, 1000, 1000, 2000, 5000, 5000, 10000, 10000, 10000];
const TTL_TICKS = [2, 3, 3, 5, 10, 30];
const KEY_BYS: KeyBy[] = ["authority", "authority", "cluster", "upstream"];
/** Game servers 0..GAME_SERVERS-1 get players; two more are only ever named by operators. */
const NAMED = GAME_SERVERS + 2;

export interface GeneratorOptions {
  workers: number;
  /** Step kinds not to generate (to look for problems another kind hides). */
  without?: readonly string[];
}

export class Generator {
  private readonly rng: Rng;
  private nextId = 1;
  private nextFlood = 0;
  /** Steps drawn ahead: a reconnect is a close, a short wait and an open of the same host. */
  private queued: Step[] = [];

  constructor(
    seed: number,
    readonly options: GeneratorOptions,
  ) {
    this.rng = new Rng(seed);
  }

  // ---- configs -----------------------------------------------------------------------------

  private timing(c: ConfigSpec): void {
    c.tickMs = this.rng.pick(TICKS);
    const ticks = this.rng.pick(TTL_TICKS);
    c.vmTtlSeconds = Math.max(2, Math.ceil((c.tickMs * ticks) / 1000));
  }

  initialConfig(): ConfigSpec {
    const c: ConfigSpec = {
      keyBy: this.rng.pick(KEY_BYS),
      tickMs: 1000,
      vmTtlSeconds: 30,
      maxHosts: 8 + this.rng.int(9),
      drainHosts: [],
      hosts: [],
      rejectNew: false,
      deadlineSeconds: 0,
      webhookTimeoutMs: 2000,
    };
    this.timing(c);
    c.quietSeconds = this.quiet();
    this.returning(c);
    return c;
  }

  /**
   * `players` and its drain terms: mostly on, with a grace that is short (so it runs out inside
   * a run) or long, and now and then a tiny roster or memory (so they overflow and forget).
   */
  private returning(c: ConfigSpec): void {
    c.players = this.rng.chance(0.7);
    c.graceSeconds = this.rng.pick([0, 2, 10, 60]);
    c.rememberPlayers = this.rng.chance(0.3) ? this.rng.pick([1, 2, 5]) : 1024;
    c.maxPlayersPerHost = this.rng.chance(0.2) ? this.rng.pick([1, 3]) : 1024;
  }

  /** drain.quietSeconds: often none, else short enough for a campaign's ticks to end it. */
  private quiet(): number {
    return this.rng.chance(0.5) ? 0 : this.rng.pick([1, 3, 10]);
  }

  private form(): number {
    return this.rng.chance(0.4) ? 0 : this.rng.int(0x7fffffff);
  }

  private drainHosts(keyBy: KeyBy): string[] {
    const out: string[] = [];
    const n = this.rng.int(4);
    for (let i = 0; i < n; i++) {
      const g = this.rng.int(NAMED);
      out.push(spellFor(g, keyBy, this.form()));
      // The same host twice, spelled another way (upper case, a port): still one listing.
      if (keyBy === "authority" && this.rng.chance(0.2)) out.push(spellFor(g, keyBy, this.form()));
    }
    return out;
  }

  private hostPatterns(keyBy: KeyBy): string[] {
    if (this.rng.chance(0.75)) return [];
    if (keyBy === "authority" && this.rng.chance(0.5)) {
      return this.rng.chance(0.5) ? ["*.example.com"] : ["*.EXAMPLE.com", "*.flood.example"];
    }
    const out: string[] = [];
    for (let g = 0; g < GAME_SERVERS; g++) {
      if (this.rng.chance(0.85)) out.push(spellFor(g, keyBy, this.form()));
    }
    return out;
  }

  /** A push: the current config with a few fields changed, or (sometimes) the same again. */
  private nextConfig(current: ConfigSpec): ConfigSpec {
    const c: ConfigSpec = {
      ...current,
      drainHosts: [...current.drainHosts],
      hosts: [...current.hosts],
    };
    if (this.rng.chance(0.15)) return c;
    const changes = 1 + this.rng.int(3);
    for (let i = 0; i < changes; i++) {
      switch (this.rng.int(8)) {
        case 0:
          c.keyBy = this.rng.pick(KEY_BYS);
          // Names are respelled for the new keyBy: an operator names hosts the way it counts.
          c.drainHosts = this.drainHosts(c.keyBy);
          c.hosts = this.hostPatterns(c.keyBy);
          break;
        case 1:
        case 2:
          this.timing(c);
          break;
        case 3:
          c.maxHosts = 8 + this.rng.int(9);
          break;
        case 4:
        case 5:
          c.drainHosts = this.drainHosts(c.keyBy);
          break;
        case 6:
          c.hosts = this.hostPatterns(c.keyBy);
          break;
        default:
          c.rejectNew = this.rng.chance(0.3);
          c.deadlineSeconds = this.rng.chance(0.7) ? 0 : this.rng.pick([20, 120]);
          // A quiet period delays "drained" past zero: reconnects inside it must reset it, and
          // the completion must still find nobody on (the checker's false-drained).
          c.quietSeconds = this.quiet();
          c.webhookTimeoutMs = this.rng.pick([500, 2000, 5000]);
          // Turning players on or off mid-run leaves streams outside the rosters.
          if (this.rng.chance(0.5)) this.returning(c);
      }
    }
    return c;
  }

  // ---- steps -------------------------------------------------------------------------------

  private liveWorker(m: Model): number {
    const live = m.liveWorkers();
    return live.length > 0 ? this.rng.pick(live) : 0;
  }

  private otherWorker(m: Model, w: number): number {
    const others = m.liveWorkers().filter((x) => x !== w);
    return others.length > 0 ? this.rng.pick(others) : w;
  }

  private gameHost(): number {
    return this.rng.chance(0.5) ? this.rng.int(4) : this.rng.int(GAME_SERVERS);
  }

  /** A stream of `player` (null: a stranger). */
  private open(
    m: Model,
    host = this.gameHost(),
    w = this.liveWorker(m),
    player: number | null = this.player(host),
  ): Step {
    const step: OpenStep = { op: "open", id: this.nextId++, w, host, form: this.form() };
    if (player !== null) step.player = player;
    return step;
  }

  /** One of the host's six regulars, or now and then a stranger (null). */
  private player(host: number): number | null {
    return this.rng.chance(0.15) ? null : host * 16 + this.rng.int(6);
  }

  private close(m: Model): Step | undefined {
    if (m.streams.size === 0) return undefined;
    // Streams sit in insertion order; pick among the live ones most of the time.
    const all = [...m.streams.values()];
    const live = all.filter((s) => m.isLive(s));
    const pool = live.length > 0 && this.rng.chance(0.9) ? live : all;
    return { op: "close", id: this.rng.pick(pool).id };
  }

  private post(m: Model, host = this.rng.int(NAMED), w = this.liveWorker(m)): Step {
    const keyBy = m.workerConfig(w).keyBy;
    const deadlineSeconds = this.rng.chance(0.85) ? 0 : 5 + this.rng.int(60);
    return { op: "post", w, keyBy, name: spellFor(host, keyBy, this.form()), deadlineSeconds };
  }

  private race(m: Model): Step {
    const at = 1 + this.rng.int(6);
    const kind = this.rng.int(10);
    if (kind < 5) {
      // The first stream of a host nobody is on races a drain POST for it.
      const idle = [];
      for (let g = 0; g < GAME_SERVERS; g++) {
        if (![...m.streams.values()].some((s) => s.host === g)) idle.push(g);
      }
      const g = idle.length > 0 ? this.rng.pick(idle) : this.gameHost();
      const w1 = this.liveWorker(m);
      const w2 = this.otherWorker(m, w1);
      return this.rng.chance(0.5)
        ? { op: "race", at, inner: this.post(m, g, w1), inject: this.open(m, g, w2) }
        : { op: "race", at, inner: this.open(m, g, w1), inject: this.post(m, g, w2) };
    }
    if (kind < 7) {
      // A close (maybe a host's last) races a new stream of that host or a drain POST for it.
      const c = this.close(m);
      const s = c?.op === "close" ? m.streams.get(c.id) : undefined;
      if (c && s) {
        const w2 = this.otherWorker(m, s.w);
        const host = s.host < FLOOD_BASE ? s.host : this.gameHost();
        // Half the opens are the closing player coming back (a returning player racing the close
        // that may complete the drain).
        const returning =
          s.host < FLOOD_BASE && this.rng.chance(0.5) ? (s.player ?? null) : this.player(host);
        const inject = this.rng.chance(0.5)
          ? this.open(m, host, w2, returning)
          : this.post(m, host, w2);
        return { op: "race", at, inner: c, inject };
      }
    }
    const w1 = this.liveWorker(m);
    const w2 = this.otherWorker(m, w1);
    const inject = this.rng.chance(0.5) ? this.open(m, this.gameHost(), w2) : this.close(m);
    return {
      op: "race",
      at,
      inner: this.open(m, this.gameHost(), w1),
      inject: inject ?? this.open(m),
    };
  }

  private storm(m: Model): Step {
    // Mostly around the plugin's retry limits; now and then over a thousand writes in a row.
    const r = this.rng.int(100);
    const n =
      r < 82 ? 1 + this.rng.int(40) : r < 98 ? 100 + this.rng.int(100) : 1000 + this.rng.int(500);
    const k = this.rng.int(10);
    const inner = k < 6 ? this.open(m) : k < 9 ? (this.close(m) ?? this.open(m)) : this.post(m);
    return { op: "storm", n, inner };
  }

  /** Whether `close` ends the last live stream of its host (a drain of it may then complete). */
  private isLast(m: Model, close: Step): boolean {
    const s = close.op === "close" ? m.streams.get(close.id) : undefined;
    if (!s || !m.isLive(s)) return false;
    for (const o of m.streams.values())
      if (o !== s && o.host === s.host && m.isLive(o)) return false;
    return true;
  }

  /**
   * The player of the stream `close` ends comes back to the same host a moment later (a mobile
   * connection blipping), waiting around drain.quietSeconds (1, 3 or 10 s): the open may land
   * inside the quiet period, or after it ran out with no tick in between.
   */
  private reconnect(m: Model, close: Step): void {
    const s = close.op === "close" ? m.streams.get(close.id) : undefined;
    if (!s || s.host >= FLOOD_BASE) return;
    const tick = Math.min(...m.vmConfig.map((c) => c.tickMs));
    const ms = this.rng.pick([300, 900, 1200, 2500, 3500, 9000, 11000]);
    this.queued.push({ op: "advance", ms: Math.min(ms, 40 * tick) });
    this.queued.push(this.open(m, s.host, this.otherWorker(m, s.w), s.player ?? null));
  }

  private advance(m: Model): Step {
    // The shortest tick any VM runs sets the pace (a rollout leaves VMs on different configs).
    const tick = Math.min(...m.vmConfig.map((c) => c.tickMs));
    const r = this.rng.int(100);
    let ms: number;
    // Ticks are what steps spend most time on (each VM's tick reads a share of the table): mostly
    // less than a tick, now and then past every VM's TTL so dead workers' streams expire.
    if (r < 60) ms = 1 + this.rng.int(Math.max(1, Math.floor(tick / 3)));
    else if (r < 88) ms = tick;
    else if (r < 96) ms = tick * (2 + this.rng.int(2));
    else if (r < 99) ms = Math.min(500 + this.rng.int(5500), 6 * tick);
    else ms = Math.max(...m.vmConfig.map((c) => c.vmTtlSeconds)) * 1000 + tick;
    return { op: "advance", ms: Math.min(ms, 40 * tick) };
  }

  next(m: Model, rolloutInProgress: boolean): Step {
    const step = this.draw(m, rolloutInProgress);
    const without = this.options.without;
    if (!without?.includes(step.op)) return step;
    return step.op === "rollout" ? { op: "rollout" } : this.open(m);
  }

  private draw(m: Model, rolloutInProgress: boolean): Step {
    const queued = this.queued.shift();
    if (queued) return queued;
    if (rolloutInProgress && this.rng.chance(0.3)) return { op: "rollout" };
    const r = this.rng.int(1000);
    // Players come and go; past 40 open streams more go than come (long-lived streams keep every
    // old config's root context alive, and each of those ticks).
    if (r < 320) return m.streams.size > 40 && r < 100 ? (this.close(m) as Step) : this.open(m);
    if (r < 585) {
      const c = this.close(m);
      if (!c) return this.open(m);
      if (this.rng.chance(this.isLast(m, c) ? 0.5 : 0.05)) this.reconnect(m, c);
      return c;
    }
    if (r < 610) return this.advance(m);
    if (r < 660) {
      const status = this.rng.pick([200, 200, 200, 204, 500, 500, 503, "reset"] as const);
      return { op: "reply", k: this.rng.int(8), status };
    }
    if (r < 710) return this.post(m);
    if (r < 725) {
      const w = this.liveWorker(m);
      const keyBy = m.workerConfig(w).keyBy;
      return { op: "delete", w, keyBy, name: spellFor(this.rng.int(NAMED), keyBy, this.form()) };
    }
    if (r < 785) return this.race(m);
    if (r < 800) return this.storm(m);
    if (r < 810) {
      if ([...m.streams.values()].some((s) => s.host >= FLOOD_BASE)) return { op: "unflood" };
      const n = m.pushed.maxHosts + 2 + this.rng.int(5);
      const first = this.nextFlood;
      this.nextFlood += n;
      const id = this.nextId;
      this.nextId += n;
      return { op: "flood", id, w: this.liveWorker(m), first, n };
    }
    if (r < 816) return { op: "config", config: this.nextConfig(m.pushed) };
    if (r < 818) return { op: "crash", w: this.liveWorker(m) };
    if (r < 821) {
      const ttl = m.pushed.vmTtlSeconds * 1000;
      const ms = this.rng.chance(0.5) ? (1 + this.rng.int(3)) * ttl : 1 + this.rng.int(5000);
      return { op: "jump", ms: this.rng.chance(0.7) ? ms : -ms };
    }
    return this.open(m);
  }
}
