// The reference model: the truth the plugin is held to. It knows which player streams are open,
// on which worker, under which host key each was counted (the keyBy and `hosts` of the config
// the stream's root had when it was counted), which workers are dead, which configs each VM runs,
// and which drain requests (POSTs, config listings) exist.
import type { ConfigSpec } from "./steps.js";
import { canonical, loose, streamKey, tracked } from "./universe.js";

export interface ModelStream {
  id: number;
  /** Worker index (0-based). */
  w: number;
  host: number;
  /** The key it is counted under, or null when `hosts` leaves it untracked. */
  key: string | null;
  /** Model event sequence number when its open returned. */
  openedSeq: number;
  /** Which VM instance of the worker served it (a config push may replace a dead one). */
  gen: number;
  /** The player's identity (undefined: a stranger). */
  player: number | undefined;
  /** Whether its root's config kept rosters (`players`), so it is in its host's roster. */
  rostered: boolean;
}

/** One config listing of a host: from the push that lists it until a push that does not. */
export interface Listing {
  key: string;
  since: number;
  until: number | undefined;
  episodes: Set<string>;
}

export class Model {
  readonly dead: boolean[];
  /** Per worker, how many times its VM was replaced after dying. */
  readonly gen: number[];
  /** Config of each VM's current root: index 0 = base VM, 1..N = workers. */
  readonly vmConfig: ConfigSpec[];
  /** The newest accepted push. */
  pushed: ConfigSpec;
  readonly streams = new Map<number, ModelStream>();
  /** Open streams by counted key (any worker). */
  readonly byKey = new Map<string, Set<ModelStream>>();
  /** Streams a dead worker held when it died: its VM never releases them. */
  readonly frozen = new Map<string, number>();
  /** Players of those streams, by key: their roster entries stay until the VM is found dead. */
  readonly frozenPlayers = new Map<string, Set<number>>();
  injectedTraps = 0;
  /** Increases on every open, close and step boundary. */
  seq = 0;
  stepStartSeq = 0;
  readonly listings: Listing[] = [];
  /** Episode ids a POST (or DELETE) answer named: each is an operator's. */
  readonly requestedEpisodes = new Set<string>();
  readonly drainNames = new Set<string>();
  maxHostsEver: number;

  constructor(
    readonly workers: number,
    initial: ConfigSpec,
  ) {
    this.dead = Array.from({ length: workers }, () => false);
    this.gen = Array.from({ length: workers }, () => 0);
    this.vmConfig = Array.from({ length: workers + 1 }, () => initial);
    this.pushed = initial;
    this.maxHostsEver = initial.maxHosts;
    this.listPush(initial, 0);
  }

  /** The longest tick any VM runs now. */
  maxTickMs(): number {
    let t = 0;
    for (const c of this.vmConfig) t = Math.max(t, c.tickMs);
    return t;
  }

  liveWorkers(): number[] {
    const out: number[] = [];
    for (let w = 0; w < this.workers; w++) if (!this.dead[w]) out.push(w);
    return out;
  }

  workerConfig(w: number): ConfigSpec {
    return this.vmConfig[w + 1] as ConfigSpec;
  }

  // ---- streams -----------------------------------------------------------------------------

  /** The key a stream of `host` opened now on worker `w` is counted under (null: untracked). */
  keyFor(w: number, host: number, form: number): string | null {
    const c = this.workerConfig(w);
    const key = streamKey(host, c.keyBy, form);
    return tracked(c.hosts, key, c.keyBy) ? key : null;
  }

  /** Called once the open returned: from now on the player is connected. */
  opened(
    id: number,
    w: number,
    host: number,
    key: string | null,
    player: number | undefined,
    rostered: boolean,
  ): void {
    const gen = this.gen[w] ?? 0;
    const s: ModelStream = { id, w, host, key, openedSeq: ++this.seq, gen, player, rostered };
    this.streams.set(id, s);
    if (key === null) return;
    let set = this.byKey.get(key);
    if (!set) {
      set = new Set();
      this.byKey.set(key, set);
    }
    set.add(s);
  }

  /** Called before the close is delivered: from that moment the player may be gone. */
  closing(id: number): ModelStream | undefined {
    const s = this.streams.get(id);
    if (!s) return undefined;
    this.seq++;
    this.streams.delete(id);
    if (s.key !== null) {
      const set = this.byKey.get(s.key);
      set?.delete(s);
      if (set && set.size === 0) this.byKey.delete(s.key);
    }
    return s;
  }

  crashed(w: number): void {
    this.dead[w] = true;
    this.injectedTraps++;
    for (const s of this.streams.values()) {
      if (s.w !== w || s.gen !== this.gen[w] || s.key === null) continue;
      this.frozen.set(s.key, (this.frozen.get(s.key) ?? 0) + 1);
      if (s.rostered && s.player !== undefined) {
        const set = this.frozenPlayers.get(s.key) ?? new Set<number>();
        set.add(s.player);
        this.frozenPlayers.set(s.key, set);
      }
    }
  }

  /** A config push gave dead worker `w` a fresh VM: its old streams stay dead. */
  revived(w: number): void {
    this.dead[w] = false;
    this.gen[w] = (this.gen[w] ?? 0) + 1;
  }

  /** Whether the VM that counted `s` still runs. */
  isLive(s: ModelStream): boolean {
    return !this.dead[s.w] && s.gen === this.gen[s.w];
  }

  /** Streams counted under exactly `key` on live workers: the least `?host=` may report. */
  liveCount(key: string): number {
    let n = 0;
    for (const s of this.byKey.get(key) ?? []) if (this.isLive(s)) n++;
    return n;
  }

  /**
   * Distinct identified players of the rostered streams counted under `key`: on live workers
   * only (the least an exact figure may be), or with every stream a dead worker may still be
   * holding (the most any figure may be).
   */
  distinctPlayers(key: string, liveOnly: boolean): number {
    const players = new Set<number>(liveOnly ? [] : (this.frozenPlayers.get(key) ?? []));
    for (const s of this.byKey.get(key) ?? []) {
      if (!s.rostered || s.player === undefined) continue;
      if (liveOnly && !this.isLive(s)) continue;
      players.add(s.player);
    }
    return players.size;
  }

  /** The most `?host=` may report without saying it is an upper bound. */
  maxCount(key: string): number {
    return this.liveCount(key) + (this.frozen.get(key) ?? 0);
  }

  /**
   * Live streams on live workers whose key an operator would read `name` as naming. With
   * `throughout`, only streams open since before the current step began (for signals seen only
   * after the step, whose exact moment is unknown).
   */
  liveLoose(name: string, throughout: boolean): ModelStream[] {
    const want = loose(name);
    const out: ModelStream[] = [];
    for (const [key, set] of this.byKey) {
      if (loose(key) !== want) continue;
      for (const s of set) {
        if (!this.isLive(s)) continue;
        if (throughout && s.openedSeq > this.stepStartSeq) continue;
        out.push(s);
      }
    }
    return out;
  }

  // ---- config ------------------------------------------------------------------------------

  /**
   * A push begins: hosts it lists that the previous push did not start a listing; hosts no
   * longer listed end theirs. Returns an undo for a push the gateway refused.
   */
  beginPush(c: ConfigSpec, step: number): () => void {
    const before = this.listings.map((l) => l.until);
    const count = this.listings.length;
    const previous = this.pushed;
    this.listPush(c, step);
    this.pushed = c;
    this.maxHostsEver = Math.max(this.maxHostsEver, c.maxHosts);
    for (const n of c.drainHosts) this.drainNames.add(n);
    return () => {
      this.listings.length = count;
      for (let i = 0; i < count; i++) (this.listings[i] as Listing).until = before[i];
      this.pushed = previous;
    };
  }

  private listPush(c: ConfigSpec, step: number): void {
    const keys = new Set(c.drainHosts.map((n) => canonical(n, c.keyBy)));
    for (const l of this.listings) {
      if (l.until === undefined && !keys.has(l.key)) l.until = step;
    }
    for (const key of keys) {
      if (!this.listings.some((l) => l.until === undefined && l.key === key)) {
        this.listings.push({ key, since: step, until: undefined, episodes: new Set() });
      }
    }
  }

  /** The (newest) listing an episode of `name` that started during steps lo..hi belongs to. */
  listingFor(name: string, lo: number, hi: number): Listing | undefined {
    const want = loose(name);
    let found: Listing | undefined;
    for (const l of this.listings) {
      if (loose(l.key) !== want || l.since > hi || (l.until !== undefined && l.until < lo))
        continue;
      if (!found || l.since > found.since) found = l;
    }
    return found;
  }
}
