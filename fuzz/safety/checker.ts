// The safety checker: compares every signal the plugin gives (drain-complete keys as they are
// written, webhook calls, admin answers) with the reference model, and records each violation.
// It is not told where problems are: it only knows the promises.
//
//  false-drained   a "drained" completion for a host with a live player on a live worker at the
//                  moment the completion appeared (streams that arrive after it do not count)
//  undercount      `?host=H` answered fewer streams than the model's live count for H
//  players-overcount / players-undercount  `?host=H` answered more distinct players than have a
//                  stream on H (dead workers' included), or, saying `playersExact`, fewer than
//                  are connected on live workers
//  overcount       `?host=H` answered more streams than could exist, without flagging an upper
//                  bound (a count that is not exact when the callbacks have returned)
//  listing-episodes  one config listing of a host produced more than one episode
//  orphan-episode  an episode completed that no POST and no listing asked for
//  completed-twice one episode's completion written more than once
//  idempotency     one episode delivered under more than one idempotency key
//  cancelled-completed / reopened  an episode went back on its state
//  trap, keys, memory  a trap nobody injected; shared-data keys or linear memory unbounded
import type { Model } from "./model.js";

export interface Violation {
  kind: string;
  /** Index of the step after (or during) which it was seen. */
  step: number;
  detail: string;
}

interface Episode {
  host: string;
  state: "draining" | "completed" | "cancelled";
  reason: string | undefined;
  keyWrites: number;
  idempotencyKeys: Set<string>;
  /** Sources the completion has been seen through. */
  seen: Set<string>;
}

interface DrainJson {
  episode?: string;
  state?: string;
  reason?: string;
  startedAt?: string;
}

/** Fields of a `?host=` answer that say nothing about whether `active` may be high. */
const KNOWN_HOST_FIELDS = new Set([
  "gateway",
  "host",
  "active",
  "draining",
  "drain",
  "exact",
  "players",
  "playersExact",
]);

/**
 * Whether an answer says its `active` may be high: `"exact": false` (this plugin's flag), or any
 * other field the checker does not know that is true or a positive number (e.g. `"overflow": 2`,
 * `"upperBound": true`), so the checker holds no particular spelling of the flag.
 */
function upperBoundFlags(view: Record<string, unknown>): string[] {
  const out: string[] = [];
  if (view.exact === false) out.push("exact");
  for (const [name, value] of Object.entries(view)) {
    if (KNOWN_HOST_FIELDS.has(name)) continue;
    if (value === true || (typeof value === "number" && value > 0)) out.push(name);
  }
  return out;
}

export class Checker {
  readonly violations: Violation[] = [];
  readonly counts = new Map<string, number>();
  step = 0;
  readonly episodes = new Map<string, Episode>();
  private toAttribute: Array<{ episode: string; host: string; lo: number; hi: number }> = [];
  /** The steps during which wall-clock time `ms` was (set by the driver). */
  stepsAt: (ms: number) => [number, number] = () => [this.step, this.step];
  /** Field names the plugin used to flag an answer as an upper bound. */
  readonly upperBoundFlags = new Set<string>();
  figures = {
    completions: 0,
    hostQueries: 0,
    webhooks: 0,
    flaggedUpperBounds: 0,
    /** `?host=` answers with a distinct-player figure, and those that said it was exact. */
    playerAnswers: 0,
    exactPlayerAnswers: 0,
    /** Returning players let in and streams refused, over every delivered episode. */
    returningLetIn: 0,
    refusedWhileDraining: 0,
  };

  /** Replays with --trace print every signal the checker is shown. */
  trace: ((line: string) => void) | undefined;

  constructor(private readonly model: Model) {}

  violate(kind: string, detail: string): void {
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
    if ((this.counts.get(kind) ?? 0) === 1) this.violations.push({ kind, step: this.step, detail });
  }

  /**
   * The episode record; a new one is queued for attribution to the step it started in (its
   * `startedAt`, when the signal carries it: it may be seen long after it started).
   */
  private episode(id: string, host: string, startedAt?: string): Episode {
    let e = this.episodes.get(id);
    if (!e) {
      e = {
        host,
        state: "draining",
        reason: undefined,
        keyWrites: 0,
        idempotencyKeys: new Set(),
        seen: new Set(),
      };
      this.episodes.set(id, e);
      // A start time may be stamped on the tick clock (up to a tick early), so the episode may
      // have started in any step from a tick before `startedAt` to now.
      const t = startedAt === undefined ? Number.NaN : Date.parse(startedAt);
      const lo = Number.isFinite(t) ? this.stepsAt(t - this.model.maxTickMs())[0] : 0;
      this.toAttribute.push({ episode: id, host, lo, hi: this.step });
    }
    return e;
  }

  /**
   * A completion became visible. `precise`: seen at the moment it was written (a shared-data
   * write), so the model's state now is the state then; otherwise only players connected since
   * before this step began are held against it.
   */
  completion(
    source: "key" | "webhook" | "admin",
    host: string,
    id: string,
    reason: string,
    precise: boolean,
    startedAt?: string,
  ): void {
    this.trace?.(`   ${source}: ${host} episode ${id} ${reason}${precise ? "" : " (seen after)"}`);
    const e = this.episode(id, host, startedAt);
    if (source === "key") {
      e.keyWrites++;
      if (e.keyWrites > 1)
        this.violate("completed-twice", `episode ${id} of ${host} written again`);
    }
    if (e.state === "cancelled") {
      this.violate("cancelled-completed", `episode ${id} of ${host} was cancelled, then completed`);
    }
    if (e.state === "completed") {
      if (e.reason !== reason) {
        this.violate(
          "reopened",
          `episode ${id} of ${host} completed as ${e.reason}, then ${reason}`,
        );
      }
      e.seen.add(source);
      return;
    }
    e.state = "completed";
    e.reason = reason;
    e.seen.add(source);
    this.figures.completions++;
    if (reason !== "drained") return;
    const live = this.model.liveLoose(host, !precise);
    if (live.length > 0) {
      const list = live
        .slice(0, 4)
        .map((s) => `stream ${s.id} on worker ${s.w} counted as ${s.key}`)
        .join(", ");
      this.violate(
        "false-drained",
        `${source} says ${host} drained (episode ${id}) with ${live.length} player(s) on: ${list}`,
      );
    }
  }

  /**
   * A drain as an admin answer shows it (`?host=`, POST, DELETE). `mayBeOlder`: another step ran
   * inside the request, after the reads the answer was built from, so the answer may show the
   * episode as it was before that step moved it on (not a state going back).
   */
  drainView(host: string, d: DrainJson | undefined, mayBeOlder = false): void {
    if (!d || typeof d.episode !== "string") return;
    const id = d.episode;
    this.trace?.(`   admin: ${host} episode ${id} ${d.state}`);
    if (d.state === "completed") {
      this.completion("admin", host, id, d.reason ?? "?", false, d.startedAt);
      return;
    }
    const e = this.episode(id, host, d.startedAt);
    if (d.state === "cancelled") {
      if (e.state === "completed")
        this.violate("reopened", `episode ${id} of ${host} completed, then shown cancelled`);
      else e.state = "cancelled";
    } else if (d.state === "draining") {
      if (e.state !== "draining" && !mayBeOlder)
        this.violate("reopened", `episode ${id} of ${host} was ${e.state}, then draining again`);
    }
  }

  /** A webhook call the plugin made (`precise`: seen as it was made). */
  webhook(body: string, idempotencyKey: string | undefined, precise: boolean): void {
    this.figures.webhooks++;
    let parsed: {
      host?: string;
      episode?: string;
      reason?: string;
      startedAt?: string;
      returning?: number;
      refused?: number;
    };
    try {
      parsed = JSON.parse(body) as typeof parsed;
    } catch {
      this.violate("webhook-body", `not JSON: ${body.slice(0, 120)}`);
      return;
    }
    const id = parsed.episode ?? "";
    const host = parsed.host ?? "";
    const e = this.episode(id, host, parsed.startedAt);
    e.idempotencyKeys.add(idempotencyKey ?? "(none)");
    if (e.idempotencyKeys.size > 1) {
      this.violate(
        "idempotency",
        `episode ${id} of ${host} delivered under ${[...e.idempotencyKeys].join(", ")}`,
      );
    }
    const first = !e.seen.has("webhook");
    this.completion("webhook", host, id, parsed.reason ?? "?", precise, parsed.startedAt);
    if (first) {
      this.figures.returningLetIn += parsed.returning ?? 0;
      this.figures.refusedWhileDraining += parsed.refused ?? 0;
    }
  }

  /** `?host=key` answered `status` with `body`. */
  hostAnswer(key: string, status: number, body: string): void {
    this.figures.hostQueries++;
    if (status !== 200) {
      this.violate("admin-status", `?host=${key} answered ${status}: ${body.slice(0, 120)}`);
      return;
    }
    let view: Record<string, unknown>;
    try {
      view = JSON.parse(body) as Record<string, unknown>;
    } catch {
      this.violate("admin-body", `?host=${key} answered non-JSON: ${body.slice(0, 120)}`);
      return;
    }
    this.trace?.(`   ?host=${key}: ${body.trim()}`);
    const active = Number(view.active);
    const least = this.model.liveCount(key);
    if (!(active >= least)) {
      this.violate(
        "undercount",
        `?host=${key} answered active ${view.active}; ${least} player(s) connected on live workers`,
      );
    }
    const flags = upperBoundFlags(view);
    const flagged = flags.length > 0;
    for (const f of flags) this.upperBoundFlags.add(f);
    if (flagged) this.figures.flaggedUpperBounds++;
    const most = this.model.maxCount(key);
    if (!flagged && active > most) {
      this.violate(
        "overcount",
        `?host=${key} answered active ${active} with no upper-bound flag; at most ${most} stream(s) exist`,
      );
    }
    this.playersAnswer(key, view);
    const drain = view.drain as DrainJson | undefined;
    this.drainView(typeof view.host === "string" ? view.host : key, drain);
  }

  /** The distinct-player figure of a `?host=` answer, when the plugin gives one. */
  private playersAnswer(key: string, view: Record<string, unknown>): void {
    if (view.players === undefined) return;
    this.figures.playerAnswers++;
    if (view.playersExact === true) this.figures.exactPlayerAnswers++;
    const players = Number(view.players);
    const most = this.model.distinctPlayers(key, false);
    if (!(players <= most)) {
      this.violate(
        "players-overcount",
        `?host=${key} answered ${view.players} player(s); at most ${most} have a stream`,
      );
    }
    const least = this.model.distinctPlayers(key, true);
    if (view.playersExact === true && !(players >= least)) {
      this.violate(
        "players-undercount",
        `?host=${key} answered exactly ${players} player(s); ${least} connected on live workers`,
      );
    }
  }

  /** End of a step: every episode first seen in it must belong to a POST or a listing. */
  endStep(): void {
    for (const a of this.toAttribute) {
      if (this.model.requestedEpisodes.has(a.episode)) continue;
      const l = this.model.listingFor(a.host, a.lo, a.hi);
      if (!l) {
        this.violate(
          "orphan-episode",
          `episode ${a.episode} of ${a.host} (started in steps ${a.lo}..${a.hi}): no POST ` +
            "returned it and no listing names the host",
        );
        continue;
      }
      l.episodes.add(a.episode);
      if (l.episodes.size > 1) {
        this.violate(
          "listing-episodes",
          `one listing of ${l.key} (since step ${l.since}) has episodes ${[...l.episodes].join(", ")}`,
        );
      }
    }
    this.toAttribute = [];
  }
}
