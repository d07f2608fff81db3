// What the operator commands share about the fleet of gateway replicas: asking every replica for
// its counts and folding the answers into one row per host, the flags both status and drain take
// (--host, a number of seconds), and how replica failures read in text and become one error.
import type { AdminClient, DrainInfo, Failure, HostInfo } from "./admin-client.js";
import { str, type Values } from "./args.js";
import { CliError, usage } from "./errors.js";
import { failureCode, failureHint } from "./replicas.js";
import { agreement } from "./table.js";

export interface ReplicaAnswer {
  name: string;
  url: string;
  gateway?: string;
  totalActive?: number;
  overflow?: number;
  failure?: Failure;
  hosts: Map<string, HostInfo>;
}

/** One replica's distinct players on a host; `exact` false: a lower bound. */
export interface ReplicaPlayers {
  players: number;
  exact: boolean;
}

export interface HostRow {
  host: string;
  /** Summed over the replicas that answered. */
  active: number;
  /** false when some replica's count is an upper bound (it includes the host's overflow bucket). */
  exact: boolean;
  /** Per replica, in replica order; null where the replica did not answer. */
  perReplica: (number | null)[];
  /**
   * Distinct players summed over the replicas that answered (each counts its own; a player
   * with streams through two replicas counts on both). Meaningful when `Fleet.players`.
   */
  players: number;
  /** false when some replica's figure is a lower bound, or it holds streams but gives none. */
  playersExact: boolean;
  /** Per replica, in replica order; null where it did not answer or gives no figure. */
  perReplicaPlayers: (ReplicaPlayers | null)[];
  drain: string;
  /** The drain records' returning and refused streams summed over the replicas; null when no
   * replica's drain of the host carries them (no drain, or plugins older than them). */
  returning: number | null;
  refused: number | null;
  delivery: string;
  /** true only when every replica answered with 0 active and a completed drain; null: unknown. */
  drained: boolean | null;
  drains: (DrainInfo | null)[];
}

export interface Fleet {
  replicas: ReplicaAnswer[];
  /** Some replica reports distinct players (it has `players` configured and knows them). */
  players: boolean;
  hosts: HostRow[];
  failures: { name: string; url: string; failure: Failure }[];
}

/** Asks every replica at once; a replica that fails is recorded, never thrown. */
export async function gather(clients: AdminClient[], host?: string): Promise<Fleet> {
  const replicas = await Promise.all(
    clients.map(async (c): Promise<ReplicaAnswer> => {
      const r = await c.counts(host);
      const base = { name: c.replica.name, url: c.replica.url, hosts: new Map<string, HostInfo>() };
      if (!r.ok) return { ...base, failure: r.failure };
      for (const h of r.value.hosts ?? []) base.hosts.set(h.host, h);
      return {
        ...base,
        gateway: r.value.gateway,
        totalActive: r.value.totalActive,
        overflow: r.value.overflow,
      };
    }),
  );
  // The replica brings the name to its key form (under keyBy authority: lower case, no port);
  // show the name it answered with.
  const names = new Set<string>();
  for (const r of replicas) for (const h of r.hosts.keys()) names.add(h);
  if (host !== undefined && names.size === 0) names.add(host);
  const hosts = [...names].sort().map((h) => hostRow(h, replicas));
  const failures = replicas.flatMap((r) =>
    r.failure ? [{ name: r.name, url: r.url, failure: r.failure }] : [],
  );
  const players = replicas.some((r) => [...r.hosts.values()].some((h) => h.players !== undefined));
  return { replicas, players, hosts, failures };
}

function hostRow(host: string, replicas: ReplicaAnswer[]): HostRow {
  const answered = replicas.filter((r) => !r.failure);
  const info = (r: ReplicaAnswer) => r.hosts.get(host);
  const drains = replicas.map((r) => (r.failure ? null : (info(r)?.drain ?? null)));
  const drainStates = answered.map((r) => {
    const d = info(r)?.drain;
    return !d ? "none" : d.state === "completed" ? `completed (${d.reason ?? "?"})` : d.state;
  });
  // Delivery means something only once a drain completed (the webhook is sent then).
  const deliveries = answered.map((r) => {
    const d = info(r)?.drain;
    return d?.state === "completed" ? d.delivery.state : "-";
  });
  const replicaDrained = (r: ReplicaAnswer) =>
    (info(r)?.active ?? 0) === 0 && info(r)?.drain?.state === "completed";
  // A replica with no stream of the host has no player there, figure or not; one with streams
  // and no figure (players not configured there, an older plugin, streams in overflow) leaves
  // the sum a lower bound.
  const perReplicaPlayers = replicas.map((r): ReplicaPlayers | null => {
    const i = info(r);
    if (r.failure) return null;
    if (i?.players !== undefined) return { players: i.players, exact: i.playersExact !== false };
    return (i?.active ?? 0) === 0 ? { players: 0, exact: true } : null;
  });
  const playersExact = perReplicaPlayers.every(
    (p, k) => replicas[k]?.failure !== undefined || p?.exact === true,
  );
  const episodeSum = (field: "returning" | "refused") => {
    const figures = answered.flatMap((r) => {
      const n = info(r)?.drain?.[field];
      return n === undefined ? [] : [n];
    });
    return figures.length === 0 ? null : figures.reduce((a, b) => a + b, 0);
  };
  // Never "drained" on partial information: a replica that did not answer may hold players.
  let drained: boolean | null = answered.every(replicaDrained);
  if (drained && answered.length < replicas.length) drained = null;
  if (answered.length === 0) drained = null;
  return {
    host,
    active: answered.reduce((n, r) => n + (info(r)?.active ?? 0), 0),
    exact: answered.every((r) => info(r)?.exact !== false),
    perReplica: replicas.map((r) => (r.failure ? null : (info(r)?.active ?? 0))),
    players: perReplicaPlayers.reduce((n, p) => n + (p?.players ?? 0), 0),
    playersExact,
    perReplicaPlayers,
    drain: drainStates.every((s) => s === "none") ? "-" : agreement(drainStates),
    returning: episodeSum("returning"),
    refused: episodeSum("refused"),
    delivery: deliveries.every((s) => s === "-") ? "-" : agreement(deliveries),
    drained,
    drains,
  };
}

export function failureText(f: Failure): string {
  return f.kind === "unreachable" ? `unreachable: ${f.message}` : f.message;
}

/** One line saying which replicas failed, for the error and the exit code. */
export function failureError(
  what: string,
  failures: Fleet["failures"],
  total: number,
  hint?: string,
): CliError {
  const list = failures.map((f) => `${f.name} (${failureText(f.failure)})`).join("; ");
  return new CliError(
    `${what} on ${failures.length} of ${total} replica${total === 1 ? "" : "s"}: ${list}`,
    hint ?? failureHint(failures.map((f) => f.failure)),
    failureCode(failures.map((f) => f.failure)),
  );
}

export function seconds(
  values: Values,
  name: string,
  fallback: number,
  min: number,
  command: string,
): number {
  const raw = str(values, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^[0-9]+(\.[0-9]+)?$/.test(raw) || !Number.isFinite(n) || n < min)
    throw usage(`--${name} "${raw}" must be a number of seconds, at least ${min}`, command);
  return n;
}

/**
 * --host as given. What a host key looks like depends on the gateway's keyBy (a Host name,
 * Envoy's case-sensitive cluster name such as outbound|8080||game1.DEFAULT-GROUP.public.nacos,
 * or an upstream address such as [fd00::1]:5000), which only the replicas know: they bring the
 * name to their key form (plugin host_key.ts) and answer 400 with the reason when it cannot be
 * one. So nothing is rewritten here, and only what no keyBy accepts is refused: blanks, non-ASCII,
 * and URL pastes.
 */
export function hostArg(values: Values, command: string): string | undefined {
  const h = str(values, "host");
  if (h === undefined) return undefined;
  if (!/^[\x21-\x7e]{1,512}$/.test(h) || /^[a-z][a-z0-9+.-]*:\/\//i.test(h))
    throw usage(
      `--host "${h}" is not a host name (give it as players' Host header, no scheme; or the cluster name or upstream address the gateway counts by)`,
      command,
    );
  return h;
}

/** The key the replicas answered for `asked` (their keyBy's form of it), else `asked`. */
export function answeredKey(asked: string, answers: Array<{ host?: string } | undefined>): string {
  for (const a of answers) if (a?.host) return a.host;
  return asked;
}
