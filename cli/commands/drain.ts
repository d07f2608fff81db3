// `conn-drain drain`: start (POST) or cancel (DELETE) a host's drain on every gateway replica at
// once, print what each replica answered, and optionally wait until all of them say drained.
import type { AdminClient, DrainInfo, Failure, HostInfo } from "../admin-client.js";
import { type Command, type Io, str, type Values } from "../args.js";
import { CliError, ExitCode, usage } from "../errors.js";
import { answeredKey, failureError, failureText, gather, hostArg, seconds } from "../fleet.js";
import { replicaFlags, resolveClients } from "../replicas.js";
import { renderTable } from "../table.js";

interface ReplicaResult {
  name: string;
  url: string;
  ok: boolean;
  status?: number;
  gateway?: string;
  result: string;
  drain?: HostInfo & DrainInfo;
  failure?: Failure;
}

async function act(
  c: AdminClient,
  cancel: boolean,
  host: string,
  deadline: number | undefined,
): Promise<ReplicaResult> {
  const base = { name: c.replica.name, url: c.replica.url };
  const r = await c.drain(cancel ? "DELETE" : "POST", host, deadline);
  if (r.ok && r.status === 409) {
    const d = r.value.drain;
    // Cancelled already (by an earlier run): as asked. Completed: too late, the signal went out.
    if (d.state === "cancelled")
      return {
        ...base,
        ok: true,
        status: 200,
        gateway: r.value.gateway,
        result: "cancelled",
        drain: d,
      };
    return {
      ...base,
      ok: false,
      result: "failed",
      drain: d,
      failure: {
        kind: "http",
        status: 409,
        message: `HTTP 409: ${r.value.error ?? "the drain already ended"}`,
      },
    };
  }
  if (r.ok) {
    const d = r.value.drain;
    const result = cancel
      ? "cancelled"
      : d.state === "completed"
        ? `completed (${d.reason ?? "?"})` // no players there: it ended within the request
        : d.state;
    return { ...base, ok: true, status: r.status, gateway: r.value.gateway, result, drain: d };
  }
  // Cancelling where no drain exists leaves the replica as asked: not draining.
  if (cancel && r.failure.kind === "http" && r.failure.status === 404)
    return { ...base, ok: true, status: 404, result: "no drain" };
  return { ...base, ok: false, result: "failed", failure: r.failure };
}

function render(results: ReplicaResult[]): string {
  return renderTable(
    ["REPLICA", "RESULT", "EPISODE", "ACTIVE", "DETAIL"],
    results.map((r) => [
      r.name,
      r.result,
      r.drain?.episode ?? "-",
      r.drain ? String(r.drain.active) : "-",
      r.failure ? failureText(r.failure) : r.gateway ? `gateway ${r.gateway}` : "",
    ]),
  );
}

/** Polls every replica until the host is drained on all, printing progress when it changes. */
async function waitDrained(
  clients: AdminClient[],
  host: string,
  timeoutS: number,
  intervalS: number,
  io: Io,
): Promise<void> {
  const started = Date.now();
  let last = "";
  for (;;) {
    const fleet = await gather(clients, host);
    const row = fleet.hosts.find((h) => h.host === host) ?? fleet.hosts[0];
    const elapsed = Math.round((Date.now() - started) / 1000);
    if (row) {
      const per = fleet.replicas.map((r, i) => `${r.name}=${row.perReplica[i] ?? "?"}`).join(" ");
      const line = `${row.host}: ${row.active} active (${per}), drain ${row.drain}, delivery ${row.delivery}`;
      if (line !== last) io.err(`  [${elapsed}s] ${line}\n`);
      last = line;
      if (row.drained === true) {
        io.err(`conn-drain drain: ${row.host} is drained on all ${clients.length} replicas\n`);
        return;
      }
      // A drain that ended at its deadline with players left will never reach "drained".
      const ended = row.drains.every((d) => d?.state === "completed" || d?.state === "cancelled");
      if (fleet.failures.length === 0 && ended && row.active > 0)
        throw new CliError(
          `the drain of ${row.host} ended (deadline or cancel) with ${row.active} players still connected`,
          "start a new drain with 'conn-drain drain --host …', or stop the game server anyway",
        );
    }
    if (Date.now() - started >= timeoutS * 1000) {
      if (fleet.failures.length > 0)
        throw failureError(
          `not drained after ${timeoutS}s; could not read the counts`,
          fleet.failures,
          clients.length,
        );
      throw new CliError(
        `${host} not drained after ${timeoutS}s: ${row?.active ?? "?"} players still connected`,
        "wait longer (--timeout), watch it with 'conn-drain status --watch', or cancel with 'conn-drain drain --cancel'",
      );
    }
    const left = timeoutS * 1000 - (Date.now() - started);
    await new Promise((r) => setTimeout(r, Math.min(intervalS * 1000, Math.max(left, 0))));
  }
}

async function run(values: Values, positionals: string[], io: Io): Promise<void> {
  if (positionals.length > 0) throw usage(`unexpected argument "${positionals[0]}"`, "drain");
  const asked = hostArg(values, "drain");
  if (!asked) throw usage("--host HOST is required (the game server's host name)", "drain");
  const cancel = values.cancel === true;
  const deadlineRaw = str(values, "deadline-seconds");
  let deadline: number | undefined;
  if (deadlineRaw !== undefined) {
    if (cancel) throw usage("--deadline-seconds goes with starting a drain, not --cancel", "drain");
    // The plugin's limit (admin.ts): one integer from 0 (no deadline) to 30 days.
    if (!/^[0-9]{1,7}$/.test(deadlineRaw) || Number(deadlineRaw) > 2_592_000)
      throw usage(`--deadline-seconds "${deadlineRaw}" must be 0 to 2592000 (30 days)`, "drain");
    deadline = Number(deadlineRaw);
  }
  const wait = values.wait === true;
  if (cancel && wait)
    throw usage("--wait waits for a drain; it does not go with --cancel", "drain");
  if (!wait && (str(values, "timeout") !== undefined || str(values, "interval") !== undefined))
    throw usage("--timeout and --interval go with --wait", "drain");
  const timeoutS = seconds(values, "timeout", 600, 1, "drain");
  const intervalS = seconds(values, "interval", 2, 0.1, "drain");

  const clients = await resolveClients(values, io, "drain");
  const results = await Promise.all(clients.map((c) => act(c, cancel, asked, deadline)));
  // From here on the host is the key the replicas drain (e.g. Game1.Example.com:443 is
  // game1.example.com under keyBy authority): --wait and every message follow it.
  const host = answeredKey(
    asked,
    results.map((r) => r.drain),
  );
  if (values.json) {
    io.out(
      `${JSON.stringify(
        {
          host,
          action: cancel ? "cancel" : "start",
          replicas: results.map(({ failure, ...r }) => ({
            ...r,
            ...(failure ? { error: failureText(failure) } : {}),
          })),
        },
        null,
        2,
      )}\n`,
    );
  } else {
    io.out(render(results));
  }
  const failures = results.flatMap((r) =>
    r.failure ? [{ name: r.name, url: r.url, failure: r.failure }] : [],
  );
  if (failures.length > 0) {
    const conflict = failures.every((f) => f.failure.kind === "http" && f.failure.status === 409);
    // Credentials, or nothing answered: the generic advice (failureHint) is the useful one.
    const generic =
      failures.length === clients.length || failures.some((f) => f.failure.kind === "auth");
    throw failureError(
      `${cancel ? "cancelling" : "starting"} the drain of ${host} failed`,
      failures,
      clients.length,
      conflict
        ? "the drain already completed there and its signal was sent; start a new one with 'conn-drain drain --host …'"
        : generic
          ? undefined
          : cancel
            ? "the other replicas are cancelled; rerun the same command once these answer"
            : "the other replicas are draining; fix these and rerun the same command (a running drain keeps its episode), or undo with --cancel",
    );
  }
  if (cancel && results.every((r) => r.status === 404))
    throw new CliError(
      `no drain of ${host} on any of the ${clients.length} replicas`,
      "check the host name with 'conn-drain status'",
      ExitCode.failure,
    );
  if (wait) await waitDrained(clients, host, timeoutS, intervalS, io);
}

export const drainCommand: Command = {
  name: "drain",
  summary: "Start or cancel a host's drain on every gateway replica; optionally wait for it.",
  usage: "drain --host H [--deadline-seconds N] [--wait [--timeout S]] | drain --cancel --host H",
  description: `
Sends POST /.conn-drain/drain?host=H[&deadlineSeconds=N] (or DELETE with --cancel) to every
gateway replica at once and prints each replica's answer: its drain episode, state and active
players. Starting is idempotent: a replica with a running drain returns the same episode, so
after a partial failure rerun the same command. Cancelling where no drain runs is fine ("no
drain"); a drain that already completed cannot be cancelled (exit 6). Any replica failing gives
a non-zero exit and one line naming the replicas. --wait then polls every --interval seconds,
printing progress on stderr, until every replica reports 0 active with a completed drain, for
at most --timeout seconds. Replicas, token and admin path: as for 'conn-drain status'.`,
  flags: {
    ...replicaFlags,
    host: {
      type: "string",
      arg: "HOST",
      help: "the game server's host name, or its cluster or upstream address under that keyBy (required)",
    },
    "deadline-seconds": {
      type: "string",
      arg: "N",
      help: "complete the drain after N seconds even with players left (0: none)",
    },
    cancel: { type: "boolean", help: "cancel the host's drain instead" },
    wait: { type: "boolean", help: "wait until every replica reports the host drained" },
    timeout: { type: "string", arg: "SECONDS", default: "600", help: "--wait: give up after" },
    interval: { type: "string", arg: "SECONDS", default: "2", help: "--wait: poll period" },
  },
  examples: [
    "npx conn-drain drain --host game1.postio.example.com --deadline-seconds 3600 --gateway http://10.0.0.5:80,http://10.0.0.6:80",
    "npx conn-drain drain --host game1.postio.example.com --wait --timeout 1800",
    "npx conn-drain drain --cancel --host game1.postio.example.com",
  ],
  run,
};
