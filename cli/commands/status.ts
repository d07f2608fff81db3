// `conn-drain status`: one table of hosts over every gateway replica — active players summed and
// per replica, drain and webhook-delivery state — optionally redrawn in place (--watch).
import type { AdminClient, DrainInfo, Failure, HostInfo } from "../admin-client.js";
import { type Command, type Io, str, type Values } from "../args.js";
import { CliError, usage } from "../errors.js";
import { failureCode, failureHint, replicaFlags, resolveClients } from "../replicas.js";
import { agreement, renderTable } from "../table.js";

export interface ReplicaAnswer {
  name: string;
  url: string;
  gateway?: string;
  totalActive?: number;
  overflow?: number;
  failure?: Failure;
  hosts: Map<string, HostInfo>;
}

export interface HostRow {
  host: string;
  /** Summed over the replicas that answered. */
  active: number;
  /** false when some replica's count is an upper bound (it includes the host's overflow bucket). */
  exact: boolean;
  /** Per replica, in replica order; null where the replica did not answer. */
  perReplica: (number | null)[];
  drain: string;
  delivery: string;
  /** true only when every replica answered with 0 active and a completed drain; null: unknown. */
  drained: boolean | null;
  drains: (DrainInfo | null)[];
}

export interface Fleet {
  replicas: ReplicaAnswer[];
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
  return { replicas, hosts, failures };
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
  // Never "drained" on partial information: a replica that did not answer may hold players.
  let drained: boolean | null = answered.every(replicaDrained);
  if (drained && answered.length < replicas.length) drained = null;
  if (answered.length === 0) drained = null;
  return {
    host,
    active: answered.reduce((n, r) => n + (info(r)?.active ?? 0), 0),
    exact: answered.every((r) => info(r)?.exact !== false),
    perReplica: replicas.map((r) => (r.failure ? null : (info(r)?.active ?? 0))),
    drain: drainStates.every((s) => s === "none") ? "-" : agreement(drainStates),
    delivery: deliveries.every((s) => s === "-") ? "-" : agreement(deliveries),
    drained,
    drains,
  };
}

export function failureText(f: Failure): string {
  return f.kind === "unreachable" ? `unreachable: ${f.message}` : f.message;
}

export function renderFleet(fleet: Fleet): string {
  const header = [
    "HOST",
    "ACTIVE",
    // Replica names stay as written (pod names, addresses): they are values to copy, not labels.
    ...fleet.replicas.map((r) => r.name),
    "DRAIN",
    "DELIVERY",
    "DRAINED",
  ];
  const rows = fleet.hosts.map((h) => [
    h.host,
    h.exact ? String(h.active) : `≤${h.active}`,
    ...h.perReplica.map((n) => (n === null ? "?" : String(n))),
    h.drain,
    h.delivery,
    h.drained === null ? "unknown" : h.drained ? "yes" : "no",
  ]);
  let out =
    rows.length > 0
      ? renderTable(header, rows)
      : "no hosts tracked on the replicas that answered\n";
  if (fleet.hosts.some((h) => !h.exact)) {
    out += "≤N: an upper bound; the count includes the host's overflow bucket (maxHosts is full)\n";
  }
  for (const f of fleet.failures) {
    const where = f.url.endsWith(`//${f.name}`) ? f.url : `${f.name} (${f.url})`;
    out += `! replica ${where}: ${failureText(f.failure)}\n`;
  }
  return out;
}

export function fleetJson(fleet: Fleet): unknown {
  return {
    replicas: fleet.replicas.map((r) => ({
      name: r.name,
      url: r.url,
      ok: !r.failure,
      ...(r.failure
        ? { error: failureText(r.failure) }
        : { gateway: r.gateway, totalActive: r.totalActive, overflow: r.overflow }),
    })),
    hosts: fleet.hosts.map((h) => ({
      host: h.host,
      active: h.active,
      exact: h.exact,
      drained: h.drained,
      replicas: fleet.replicas.map((r, i) => ({
        name: r.name,
        active: h.perReplica[i] ?? null,
        drain: h.drains[i] ?? null,
      })),
    })),
  };
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

/**
 * Redraws until Ctrl-C (or --count rounds): clear + home like `watch`, then the table. A replica
 * that stops answering is shown as such in the frame; the loop keeps going.
 */
async function watch(clients: AdminClient[], host: string | undefined, values: Values, io: Io) {
  const interval = seconds(values, "interval", 2, 0.1, "status");
  const countRaw = str(values, "count");
  const count = countRaw === undefined ? Number.POSITIVE_INFINITY : Number(countRaw);
  if (countRaw !== undefined && !/^[1-9][0-9]*$/.test(countRaw))
    throw usage(`--count "${countRaw}" must be a whole number of redraws, 1 or more`, "status");
  let stop = false;
  let wake: () => void = () => {};
  const onSigint = () => {
    stop = true;
    wake();
  };
  process.once("SIGINT", onSigint);
  try {
    for (let round = 1; round <= count && !stop; round++) {
      const fleet = await gather(clients, host);
      const title = `Every ${interval}s: conn-drain status${host ? ` --host ${host}` : ""} (${clients.length} replicas)`;
      const body = values.json ? `${JSON.stringify(fleetJson(fleet))}\n` : renderFleet(fleet);
      // Clear and home only on a terminal; piped or logged, frames follow each other, each
      // starting with its "Every …" title line, and no escape bytes land in the file.
      const lead = io.outIsTTY ? "\x1b[H\x1b[2J" : round > 1 ? "\n" : "";
      io.out(`${lead}${title}  ${new Date().toISOString()}\n\n${body}`);
      if (round < count && !stop)
        await new Promise<void>((r) => {
          const t = setTimeout(r, interval * 1000);
          wake = () => {
            clearTimeout(t);
            r();
          };
        });
    }
  } finally {
    process.removeListener("SIGINT", onSigint);
  }
}

async function run(values: Values, positionals: string[], io: Io): Promise<void> {
  if (positionals.length > 0) throw usage(`unexpected argument "${positionals[0]}"`, "status");
  const host = hostArg(values, "status");
  if (
    !values.watch &&
    (str(values, "interval") !== undefined || str(values, "count") !== undefined)
  )
    throw usage("--interval and --count go with --watch", "status");
  const clients = await resolveClients(values, io, "status");
  if (values.watch) return watch(clients, host, values, io);
  const fleet = await gather(clients, host);
  io.out(values.json ? `${JSON.stringify(fleetJson(fleet), null, 2)}\n` : renderFleet(fleet));
  if (fleet.failures.length > 0)
    throw failureError("could not read the counts", fleet.failures, clients.length);
}

export const statusCommand: Command = {
  name: "status",
  summary: "Show live players per host over every gateway replica, and drain progress.",
  usage: "status [--gateway URL,… | --service NAME -n NS] [--host H] [--json] [--watch]",
  description: `
Reads the admin path (GET /.conn-drain, or ?host=H) of every gateway replica at once and prints
one row per host: ACTIVE summed over the replicas, one column per replica, the drain state and
the webhook delivery state (one word when all replicas agree, else "state n/N" per value), and
DRAINED: "yes" only when every replica answered with 0 active and a completed drain, "unknown"
when a replica did not answer. Replicas are the --gateway addresses, else the endpoints of the
gateway Service (EndpointSlices, through the kube context). The token comes from --token,
--token-file or CONN_DRAIN_ADMIN_TOKEN. A replica that fails is listed under the table and the
exit code says why (3 unreachable, 4 token refused). --watch redraws in place every --interval
seconds until Ctrl-C and keeps showing a replica that stops answering.`,
  flags: {
    ...replicaFlags,
    host: {
      type: "string",
      arg: "HOST",
      help: "one host only (players' Host header, or the cluster or upstream address under that keyBy)",
    },
    watch: { type: "boolean", short: "w", help: "redraw in place until Ctrl-C" },
    interval: { type: "string", arg: "SECONDS", default: "2", help: "--watch period" },
    count: { type: "string", arg: "N", help: "--watch: stop after N redraws" },
  },
  examples: [
    "CONN_DRAIN_ADMIN_TOKEN=… npx conn-drain status --gateway http://10.0.0.5:80,http://10.0.0.6:80",
    "npx conn-drain status --token-file token.txt -n higress-system --service higress-gateway --watch",
    "npx conn-drain status --host game1.postio.example.com --json",
  ],
  run,
};
