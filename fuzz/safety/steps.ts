// The safety campaign's steps: plain data, so a run is a list that can be saved, replayed and
// shrunk without the generator. Everything a step needs is in it; a step that names something
// gone (a stream already closed, a worker already dead) does nothing.
import type { KeyBy } from "./universe.js";

export const ADMIN_TOKEN = "safety-token-0123456789abcdef";
export const ADMIN_PATH = "/.conn-drain";
export const WEBHOOK_CLUSTER = "outbound|8080||drain-hook.ops.svc.cluster.local";
export const WEBHOOK_SECRET = "safety-hook-secret-0123456789";
/** Where the campaign's players carry their identity (when the config has `players`). */
export const PLAYER_HEADER = "x-player-id";

/** The parts of the plugin configuration the campaign varies. */
export interface ConfigSpec {
  keyBy: KeyBy;
  tickMs: number;
  vmTtlSeconds: number;
  maxHosts: number;
  /** Names as the operator writes them (mixed case, ports). */
  drainHosts: string[];
  /** `hosts` patterns; empty = track every host. */
  hosts: string[];
  rejectNew: boolean;
  deadlineSeconds: number;
  /** drain.quietSeconds; absent in cases saved before it existed (= 0). */
  quietSeconds?: number;
  /**
   * `players` (identity from the x-player-id header), with its drain.reconnectGraceSeconds (sent
   * only with rejectNew), drain.rememberPlayers and players.maxPerHost; absent in cases saved
   * before returning players existed (= no players).
   */
  players?: boolean;
  graceSeconds?: number;
  rememberPlayers?: number;
  maxPlayersPerHost?: number;
  webhookTimeoutMs: number;
}

export function configJson(c: ConfigSpec): string {
  const drain: Record<string, unknown> = { hosts: c.drainHosts };
  if (c.rejectNew) drain.rejectNew = true;
  if (c.deadlineSeconds > 0) drain.deadlineSeconds = c.deadlineSeconds;
  if ((c.quietSeconds ?? 0) > 0) drain.quietSeconds = c.quietSeconds;
  const players = c.players === true;
  if (players && c.rejectNew && (c.graceSeconds ?? 0) > 0)
    drain.reconnectGraceSeconds = c.graceSeconds;
  if (players && c.rememberPlayers !== undefined) drain.rememberPlayers = c.rememberPlayers;
  const identity = {
    header: PLAYER_HEADER,
    ...(c.maxPlayersPerHost !== undefined ? { maxPerHost: c.maxPlayersPerHost } : {}),
  };
  return JSON.stringify({
    keyBy: c.keyBy,
    tickMs: c.tickMs,
    vmTtlSeconds: c.vmTtlSeconds,
    maxHosts: c.maxHosts,
    ...(c.hosts.length > 0 ? { hosts: c.hosts } : {}),
    admin: { token: ADMIN_TOKEN, path: ADMIN_PATH },
    drain,
    ...(players ? { players: identity } : {}),
    webhook: {
      cluster: WEBHOOK_CLUSTER,
      authority: "drain-hook.ops.svc.cluster.local",
      path: "/drained",
      secret: WEBHOOK_SECRET,
      timeoutMs: c.webhookTimeoutMs,
      backoffMs: 500,
      maxAttempts: 6,
    },
  });
}

/**
 * A player's stream: host id (see universe.ts), the worker, how its authority is spelled, and
 * the player's identity (absent: a stranger; the same number: the same player).
 */
export interface OpenStep {
  op: "open";
  id: number;
  w: number;
  host: number;
  form: number;
  player?: number;
}

export type Step =
  | OpenStep
  | { op: "close"; id: number }
  /** Invented hosts `first..first+n-1` opened round-robin from worker `w`, stream ids `id..`. */
  | { op: "flood"; id: number; w: number; first: number; n: number }
  /** Every open flood stream closes. */
  | { op: "unflood" }
  /**
   * Drain requests name a host the way the worker they were meant for counts (`keyBy`); one that
   * lands on a worker counting another way (mid-rollout, after a replay was shrunk) is not sent.
   */
  | { op: "post"; w: number; keyBy: KeyBy; name: string; deadlineSeconds: number }
  | { op: "delete"; w: number; keyBy: KeyBy; name: string }
  /** A configuration push: the canary, then VM by VM (see "rollout"), or all at once. */
  | { op: "config"; config: ConfigSpec }
  /** The next VM of the push in progress applies it. */
  | { op: "rollout" }
  | { op: "crash"; w: number }
  | { op: "advance"; ms: number }
  /** The wall clock jumps (NTP step); the tick clock does not. */
  | { op: "jump"; ms: number }
  /** The k-th pending webhook call (mod their number) gets a reply. */
  | { op: "reply"; k: number; status: number | "reset" }
  /** `inner` runs; at its `at`-th read of a table key, `inject` runs on another worker. */
  | { op: "race"; at: number; inner: Step; inject: Step }
  /** `inner` runs while each of its next `n` reads of a table key is followed by a competing write. */
  | { op: "storm"; n: number; inner: Step };

/** The worker a step acts on, if it acts on one. */
export function workerOf(s: Step): number | undefined {
  return "w" in s ? s.w : undefined;
}

export function describeStep(s: Step): string {
  switch (s.op) {
    case "race":
      return `race(at ${s.at}: ${describeStep(s.inner)} <- ${describeStep(s.inject)})`;
    case "storm":
      return `storm(${s.n}: ${describeStep(s.inner)})`;
    case "config":
      return `config ${configJson(s.config)}`;
    default:
      return JSON.stringify(s);
  }
}
