// `make demo`: conn-drain end to end on one machine. Starts the local gateway (a development
// tool: Node proxies HTTP/WebSocket and runs build/plugin.wasm on every stream through our
// proxy-wasm host, over 4 worker VMs), three WebSocket game servers and a webhook receiver,
// connects real WebSocket players, drains game1 through the admin path and checks the signed
// drain-complete webhook. Everything listens on 127.0.0.1 with ephemeral ports.
import { statSync } from "node:fs";
import { connect } from "node:net";
import { parseArgs } from "node:util";
import { joinGame, type Player } from "../gateway/demo/players.js";
import { ADMIN_TOKEN, hostOf, startTestbed, type Testbed } from "../gateway/demo/testbed.js";
import { waitFor } from "../gateway/demo/wait.js";
import { parseUpstream, type Route } from "../gateway/routes.js";

const HELP = `Usage: npx tsx scripts/demo.ts [options]      (make demo)

Runs conn-drain's local demo: a local gateway running build/plugin.wasm over worker VMs,
three WebSocket game servers, a webhook receiver and simulated players; drains game1 through
the admin path and verifies the drain-complete webhook. Exits 0 when every check passed.

The local gateway is a development tool for trying the plugin on one machine: it is not a
production proxy (no TLS, HTTP/1.1 only, loopback only). Deploy conn-drain on Higress.

Options:
  --upstream host=ip:port[,cluster]  route host to your own upstream (repeatable). A host
                                     game0..game2.postio.example.com replaces that game server
                                     (it must accept WebSocket upgrades on /play).
  --serve                            keep running after the story, so you can connect your own
                                     client and curl the admin path (Ctrl-C to stop)
  --workers N                        worker VMs (default 4)
  --port N                           gateway port on 127.0.0.1 (default: a free one)
  --pace MS                          pause between players leaving, for reading (default 300)
  -h, --help                         this text`;

const t0 = performance.now();
const stamp = () => `[${((performance.now() - t0) / 1000).toFixed(2).padStart(6)}s]`;
const say = (line: string) => console.log(`${stamp()} ${line}`);
const detail = (line: string) => console.log(`          ${line}`);

function fail(why: string): never {
  throw new Error(why);
}

/** Players per host as the clients themselves see it. */
function clientView(players: Player[], hosts: string[]): Record<string, number> {
  const out: Record<string, number> = Object.fromEntries(hosts.map((h) => [h, 0]));
  for (const p of players) if (p.connected) out[p.host] = (out[p.host] ?? 0) + 1;
  return out;
}

const short = (h: string) => h.split(".")[0];

/** Why nothing can be reached at `ip:port`, or undefined when something accepts connections. */
function unreachable(address: string): Promise<string | undefined> {
  const at = address.lastIndexOf(":");
  const host = address.slice(0, at).replace(/^\[|\]$/g, "");
  const port = Number(address.slice(at + 1));
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(3_000, () => {
      socket.destroy();
      resolve("no answer within 3 s");
    });
    socket.once("connect", () => {
      socket.end();
      resolve(undefined);
    });
    socket.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

async function countsLine(tb: Testbed, hosts: string[]): Promise<string> {
  const v = await tb.admin.view();
  const cells = hosts.map((h) => {
    const e = v.hosts.find((x) => x.host === h);
    return `${short(h)}=${e?.active ?? 0}${e?.draining ? " (draining)" : ""}`;
  });
  return `${cells.join("  ")}  total=${v.totalActive}`;
}

/** Waits until the admin path agrees with the clients' own view, then returns that view. */
async function agree(tb: Testbed, players: Player[], hosts: string[]): Promise<void> {
  await waitFor("admin counts to match the players' own view", async () => {
    const admin = await tb.admin.counts();
    const mine = clientView(players, hosts);
    return hosts.every((h) => (admin[h] ?? 0) === mine[h]);
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      upstream: { type: "string", multiple: true },
      serve: { type: "boolean" },
      workers: { type: "string" },
      port: { type: "string" },
      pace: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const routes: Route[] = (values.upstream ?? []).map(parseUpstream);
  const workers = Number(values.workers ?? 4);
  const pace = Number(values.pace ?? 300);
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) fail("--workers wants 1..64");
  const hosts = ["game0", "game1", "game2"].map(hostOf);
  // A game server given with --upstream must be up before players join it: otherwise the first
  // player would fail with the gateway's 503 and no word about which address was wrong.
  for (const r of routes) {
    if (!hosts.includes(r.host)) continue;
    const why = await unreachable(r.address);
    if (why) {
      fail(
        `--upstream ${r.host}=${r.address}: nothing accepts connections there (${why}); start your game server first (WebSocket upgrades on /play)`,
      );
    }
  }
  const wasmBytes = statSync("build/plugin.wasm").size;

  const tb = await startTestbed({ workers, routes, port: values.port ? Number(values.port) : 0 });
  const players: Player[] = [];
  try {
    say(`local gateway ${tb.gateway.url} (development tool, not a production proxy)`);
    detail(
      `build/plugin.wasm (${wasmBytes} bytes) on ${workers} worker VMs, Envoy's callback order`,
    );
    for (const r of tb.gateway.routes.list())
      detail(`route ${r.host} -> ${r.address}  (${r.cluster})`);
    detail(`webhook receiver on ${tb.sink.address}`);

    // 1. players join: 8, 6 and 4 on game0..game2, each on its own connection (spread over workers)
    const plan: Array<[string, number]> = [
      [hosts[0] as string, 8],
      [hosts[1] as string, 6],
      [hosts[2] as string, 4],
    ];
    let id = 0;
    for (const [host, n] of plan) {
      for (let k = 0; k < n; k++) players.push(await joinGame(tb.gateway.url, host, ++id));
      say(`${n} players joined ${short(host)} (${players.length} connected)`);
    }
    await agree(tb, players, hosts);
    say(`admin path: ${await countsLine(tb, hosts)}`);
    detail(`streams per worker VM (gateway's view): ${tb.gateway.openStreams().join(" / ")}`);
    await waitFor("a heartbeat on every player's socket", () =>
      players.every((p) => p.heartbeats > 0),
    );
    await Promise.all(players.map((p) => p.echo(`hello from player ${p.id}`)));
    say("every player got a heartbeat and an echo through the gateway");

    // 2. drain game1 through the admin path
    const game1 = hosts[1] as string;
    const started = await tb.admin.startDrain(game1);
    say(`POST /.conn-drain/drain?host=${game1}`);
    detail(
      `episode ${started.drain.episode}, state ${started.drain.state}, active ${started.drain.active}`,
    );
    const refused = await joinGame(tb.gateway.url, game1, 999).then(
      (p) => {
        players.push(p);
        return 200;
      },
      (e: { status?: number }) => e.status ?? -1,
    );
    if (refused !== 503) fail(`a new player on draining game1 got ${refused}, not 503`);
    say("a new player trying game1 is refused: 503 (drain.rejectNew), game0 and game2 still open");

    // 3. its players leave one by one
    const leaving = players.filter((p) => p.host === game1 && p.connected);
    for (const [i, p] of leaving.entries()) {
      // Paced for a human reader only; correctness waits on conditions (`agree`).
      await new Promise((r) => setTimeout(r, pace));
      await p.leave();
      await agree(tb, players, hosts);
      say(
        `player ${p.id} left game1 (${leaving.length - i - 1} left)  ${await countsLine(tb, hosts)}`,
      );
    }

    // 4. the webhook
    const d = await waitFor("the drain-complete webhook", () => tb.sink.deliveries()[0], 10_000);
    const b = d.body ?? fail("the webhook body is not a drain-complete record");
    say(`drain-complete webhook received: POST ${d.path}`);
    detail(`host ${b.host}, episode ${b.episode}, reason ${b.reason}, remaining ${b.remaining}`);
    detail(`gateway ${b.gateway}, upstreams ${b.upstreams.join(", ")}`);
    detail(`idempotency-key ${d.idempotencyKey}  signature ${d.signature?.slice(0, 30)}...`);
    if (!d.verified) fail("the webhook's HMAC signature or idempotency key did not verify");
    if (b.host !== game1 || b.episode !== started.drain.episode || b.remaining !== 0) {
      fail("the webhook does not describe the drain that was started");
    }
    say("verified: HMAC-SHA256 over t + raw body matches, t is fresh, idempotency key = episode");
    const drain = await waitFor("delivery recorded by the plugin", async () =>
      (await tb.admin.drains()).find((x) => x.host === game1 && x.delivery.state === "delivered"),
    );
    detail(
      `plugin: ${drain.state}, delivery ${drain.delivery.state} after ${drain.delivery.attempts} attempt(s)`,
    );

    // 5. summary
    const prom = (await tb.admin.prometheus())
      .split("\n")
      .filter((l) => l.startsWith("conn_drain_active"));
    say("summary");
    detail(`admin path: ${await countsLine(tb, hosts)}`);
    for (const [host, g] of tb.games) detail(`${short(host)} server sees ${g.players()} player(s)`);
    for (const l of prom) detail(l);
    detail(`webhooks: ${tb.sink.deliveries().length} delivery, verified, drain of game1 complete`);

    if (values.serve) await serve(tb, hosts);
    else say("done: game1 drained and signalled exactly once (use --serve to keep it running)");
  } finally {
    await Promise.allSettled(players.map((p) => p.leave(2_000)));
    await tb.close();
  }
}

async function serve(tb: Testbed, hosts: string[]): Promise<void> {
  const auth = `-H 'Authorization: Bearer ${ADMIN_TOKEN}'`;
  say("serving; Ctrl-C to stop. Try:");
  detail(`curl ${auth} ${tb.gateway.url}/.conn-drain`);
  detail(`curl ${auth} '${tb.gateway.url}/.conn-drain?format=prometheus'`);
  detail(`curl ${auth} -X POST '${tb.gateway.url}/.conn-drain/drain?host=${hosts[0]}'`);
  detail(`curl -H 'Host: ${hosts[2]}' ${tb.gateway.url}/status`);
  detail(`WebSocket: ws://127.0.0.1:${tb.gateway.port}/play with header 'Host: ${hosts[2]}'`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  say("stopping");
}

main().catch((e: unknown) => {
  console.error(`demo failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
