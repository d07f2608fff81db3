// `conn-drain status`: one table of hosts over every gateway replica — active streams summed and
// per replica, distinct players where the plugin knows them, drain and webhook-delivery state —
// optionally redrawn in place (--watch).
import type { AdminClient } from "../admin-client.js";
import { type Command, type Io, str, type Values } from "../args.js";
import { usage } from "../errors.js";
import { type Fleet, failureError, failureText, gather, hostArg, seconds } from "../fleet.js";
import { replicaFlags, resolveClients } from "../replicas.js";
import { renderTable } from "../table.js";

function renderFleet(fleet: Fleet): string {
  // Columns about players only when some replica reports them (players configured, a plugin that
  // knows players): a fleet without them reads as it always did.
  const players = fleet.players;
  const episode = players && fleet.hosts.some((h) => h.returning !== null || h.refused !== null);
  const figure = (n: number | null) => (n === null ? "-" : String(n));
  const header = [
    "HOST",
    "ACTIVE",
    ...(players ? ["PLAYERS"] : []),
    // Replica names stay as written (pod names, addresses): they are values to copy, not labels.
    ...fleet.replicas.map((r) => r.name),
    "DRAIN",
    ...(episode ? ["RETURNING", "REFUSED"] : []),
    "DELIVERY",
    "DRAINED",
  ];
  const rows = fleet.hosts.map((h) => [
    h.host,
    h.exact ? String(h.active) : `≤${h.active}`,
    ...(players ? [h.playersExact ? String(h.players) : `≥${h.players}`] : []),
    ...h.perReplica.map((n) => (n === null ? "?" : String(n))),
    h.drain,
    ...(episode ? [figure(h.returning), figure(h.refused)] : []),
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
  if (players && fleet.hosts.some((h) => !h.playersExact)) {
    out +=
      "≥N: a lower bound; a replica could not name every player of the host (players.maxPerHost full, overflow, streams from before players was configured) or reports no players (older plugin)\n";
  }
  for (const f of fleet.failures) {
    const where = f.url.endsWith(`//${f.name}`) ? f.url : `${f.name} (${f.url})`;
    out += `! replica ${where}: ${failureText(f.failure)}\n`;
  }
  return out;
}

function fleetJson(fleet: Fleet): unknown {
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
      // Only when some replica reports players, as in the table.
      ...(fleet.players ? { players: h.players, playersExact: h.playersExact } : {}),
      ...(h.returning !== null ? { returning: h.returning } : {}),
      ...(h.refused !== null ? { refused: h.refused } : {}),
      drained: h.drained,
      replicas: fleet.replicas.map((r, i) => ({
        name: r.name,
        active: h.perReplica[i] ?? null,
        ...(fleet.players
          ? {
              players: h.perReplicaPlayers[i]?.players ?? null,
              playersExact: h.perReplicaPlayers[i]?.exact ?? null,
            }
          : {}),
        drain: h.drains[i] ?? null,
      })),
    })),
  };
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
one row per host: ACTIVE summed over the replicas, PLAYERS (distinct players, summed over the
replicas; only when a replica reports them, i.e. the plugin has "players" configured; "≥N" is a
lower bound), one column per replica, the drain state (with players: RETURNING, streams of
players let back in within drain.reconnectGraceSeconds, and REFUSED, new streams answered 503),
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
