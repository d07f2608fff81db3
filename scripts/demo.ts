// `make demo`: conn-drain end to end on one machine. Starts the local gateway (a development
// tool: Node proxies HTTP/WebSocket and runs build/plugin.wasm on every stream through our
// proxy-wasm host, over 4 worker VMs), three WebSocket game servers and a webhook receiver,
// connects real WebSocket players (each naming itself in x-player-id), drains game1 through the
// admin path and checks the signed drain-complete webhook, then drains game2 while one of its
// players blips and comes back (let in within drain.reconnectGraceSeconds; a stranger gets 503).
// Everything listens on 127.0.0.1 with ephemeral ports.
import { statSync } from "node:fs";
import { connect } from "node:net";
import { parseArgs } from "node:util";
import { joinGame, type Player } from "../gateway/demo/players.js";
import {
  ADMIN_TOKEN,
  hostOf,
  pluginConfig,
  startTestbed,
  type Testbed,
} from "../gateway/demo/testbed.js";
import { waitFor } from "../gateway/demo/wait.js";
import type { Delivery } from "../gateway/demo/webhook-sink.js";
import { parseUpstream, type Route, splitAddress } from "../gateway/routes.js";

const HELP = `Usage: npx tsx scripts/demo.ts [options]      (make demo)

Runs conn-drain's local demo: a local gateway running build/plugin.wasm over worker VMs,
three WebSocket game servers, a webhook receiver and simulated players; drains game1 through
the admin path and verifies the drain-complete webhook; then drains game2 while a player's
connection blips: back within drain.reconnectGraceSeconds it is let in, a stranger gets 503.
Exits 0 when every check passed.

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

/** Where a player names itself (the plugin's `players.header`). */
const PLAYER_HEADER = "x-player-id";
/** How long after leaving a draining host a player is let back in (drain.reconnectGraceSeconds). */
const GRACE_SECONDS = 10;
const identity = (id: number) => ({ [PLAYER_HEADER]: `player-${id}` });
/** A player joining `host`, named `player-<id>`. */
const join = (tb: Testbed, host: string, id: number) =>
  joinGame(tb.gateway.url, host, id, 5_000, identity(id));
/** The HTTP status a new player gets: 101 (the WebSocket upgrade) or the gateway's refusal. */
const attempt = (tb: Testbed, host: string, id: number, players: Player[]) =>
  join(tb, host, id).then(
    (p) => {
      players.push(p);
      return 101;
    },
    (e: { status?: number }) => e.status ?? -1,
  );

/** Why nothing can be reached at `ip:port`, or undefined when something accepts connections. */
function unreachable(address: string): Promise<string | undefined> {
  const { host, port } = splitAddress(address);
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

/** Starts a drain of `host` through the admin path and prints it; `more` ends the detail line. */
async function startDrain(tb: Testbed, host: string, more = "") {
  const started = await tb.admin.startDrain(host);
  say(`POST /.conn-drain/drain?host=${host}`);
  detail(
    `episode ${started.drain.episode}, state ${started.drain.state}, active ${started.drain.active}${more}`,
  );
  return started.drain;
}

/** `host`'s players leave one at a time, `pace` ms apart, each line once the admin path agrees. */
async function leaveOneByOne(
  tb: Testbed,
  players: Player[],
  hosts: string[],
  host: string,
  pace: number,
): Promise<void> {
  const leaving = players.filter((p) => p.host === host && p.connected);
  for (const [i, p] of leaving.entries()) {
    // Paced for a human reader only; correctness waits on conditions (`agree`).
    await new Promise((r) => setTimeout(r, pace));
    await p.leave();
    await agree(tb, players, hosts);
    say(
      `player ${p.id} left ${short(host)} (${leaving.length - i - 1} left)  ${await countsLine(tb, hosts)}`,
    );
  }
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

  const tb = await startTestbed({
    workers,
    routes,
    port: values.port ? Number(values.port) : 0,
    // Players name themselves in a header, and a player back within the grace is let into a
    // draining host: the pluginConfig defaults plus the two settings the last scene shows.
    config: {
      players: { header: PLAYER_HEADER },
      drain: {
        ...(pluginConfig().drain as Record<string, unknown>),
        reconnectGraceSeconds: GRACE_SECONDS,
      },
    },
  });
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
      for (let k = 0; k < n; k++) players.push(await join(tb, host, ++id));
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
    const started = await startDrain(tb, game1);
    const refused = await attempt(tb, game1, 999, players);
    if (refused !== 503) fail(`a new player on draining game1 got ${refused}, not 503`);
    say("a new player trying game1 is refused: 503 (drain.rejectNew), game0 and game2 still open");

    // 3. its players leave one by one
    await leaveOneByOne(tb, players, hosts, game1, pace);

    // 4. the webhook
    await checkWebhook(tb, game1, started.episode);

    // 5. game2: a player's connection blips while it drains, and the player comes back
    await returningPlayer(tb, players, hosts, pace);

    // 6. summary
    const prom = (await tb.admin.prometheus())
      .split("\n")
      .filter((l) => /^conn_drain_(active|players)\{/.test(l));
    say("summary");
    detail(`admin path: ${await countsLine(tb, hosts)}`);
    for (const [host, g] of tb.games) detail(`${short(host)} server sees ${g.players()} player(s)`);
    for (const l of prom) detail(l);
    const n = tb.sink.deliveries().length;
    detail(`webhooks: ${n} deliveries, verified: drains of game1 and game2 complete`);
    if (n !== 2) fail(`${n} webhook deliveries, not one per drain`);

    if (values.serve) await serve(tb, hosts);
    else
      say(
        "done: game1 and game2 drained, each signalled exactly once (use --serve to keep it running)",
      );
  } finally {
    await Promise.allSettled(players.map((p) => p.leave(2_000)));
    await tb.close();
  }
}

/** The one drain-complete webhook of `episode`: printed, its signature and body checked. */
async function checkWebhook(tb: Testbed, host: string, episode: string): Promise<Delivery> {
  const mine = () => tb.sink.deliveries().filter((x) => x.body?.episode === episode);
  const d = await waitFor("the drain-complete webhook", () => mine()[0], 10_000);
  const b = d.body ?? fail("the webhook body is not a drain-complete record");
  say(`drain-complete webhook received: POST ${d.path}`);
  detail(`host ${b.host}, episode ${b.episode}, reason ${b.reason}, remaining ${b.remaining}`);
  detail(`gateway ${b.gateway}, upstreams ${b.upstreams.join(", ")}`);
  detail(`idempotency-key ${d.idempotencyKey}  signature ${d.signature?.slice(0, 30)}...`);
  if (!d.verified) fail("the webhook's HMAC signature or idempotency key did not verify");
  if (b.host !== host || b.remaining !== 0) {
    fail("the webhook does not describe the drain that was started");
  }
  say("verified: HMAC-SHA256 over t + raw body matches, t is fresh, idempotency key = episode");
  const drain = await waitFor("delivery recorded by the plugin", async () =>
    (await tb.admin.drains()).find((x) => x.host === host && x.delivery.state === "delivered"),
  );
  detail(
    `plugin: ${drain.state}, delivery ${drain.delivery.state} after ${drain.delivery.attempts} attempt(s)`,
  );
  if (mine().length !== 1) fail(`${mine().length} deliveries of episode ${episode}, not one`);
  return d;
}

/**
 * game2 drains under drain.rejectNew with players configured: one player's connection drops and
 * the same player reconnects within the grace (let in), a stranger is refused (503), the players
 * leave, and the one webhook counts both.
 */
async function returningPlayer(
  tb: Testbed,
  players: Player[],
  hosts: string[],
  pace: number,
): Promise<void> {
  const game2 = hosts[2] as string;
  const on = () => players.filter((p) => p.host === game2 && p.connected);
  const before = await tb.admin.host(game2);
  say(
    `returning players: each player names itself in ${PLAYER_HEADER} (players.header); drain.reconnectGraceSeconds is ${GRACE_SECONDS}`,
  );
  const started = await startDrain(tb, game2, `, players ${before.players}`);

  const blip = on()[0] ?? fail("no player on game2");
  await blip.drop();
  const droppedAt = performance.now();
  await agree(tb, players, hosts);
  say(`player ${blip.id}'s connection drops (no close handshake)  ${await countsLine(tb, hosts)}`);
  const back = await attempt(tb, game2, blip.id, players);
  const after = ((performance.now() - droppedAt) / 1000).toFixed(2);
  if (back !== 101) fail(`player ${blip.id} reconnecting to draining game2 got ${back}, not 101`);
  say(
    `player ${blip.id} reconnects ${after}s later, same ${PLAYER_HEADER}: 101, let back in (returning within ${GRACE_SECONDS} s)`,
  );
  const stranger = await attempt(tb, game2, 1000, players);
  if (stranger !== 503) fail(`a stranger on draining game2 got ${stranger}, not 503`);
  say(`a stranger (${PLAYER_HEADER}: player-1000) trying game2 is refused: 503 (drain.rejectNew)`);
  await agree(tb, players, hosts);
  const view = await tb.admin.host(game2);
  const d = view.drain ?? fail("game2 shows no drain in the admin path");
  detail(
    `admin path: game2 active ${view.active}, drain returning ${d.returning}, refused ${d.refused}`,
  );
  if (d.returning !== 1 || d.refused !== 1)
    fail("game2's drain does not count 1 returning, 1 refused");

  await leaveOneByOne(tb, players, hosts, game2, pace);
  const b = (await checkWebhook(tb, game2, started.episode)).body;
  detail(
    `reconnectGraceSeconds ${b?.reconnectGraceSeconds}, returning ${b?.returning}, refused ${b?.refused}  (in the signed body)`,
  );
  if (b?.returning !== 1 || b.refused !== 1)
    fail("game2's webhook does not count 1 returning player and 1 refused stream");
}

async function serve(tb: Testbed, hosts: string[]): Promise<void> {
  const auth = `-H 'Authorization: Bearer ${ADMIN_TOKEN}'`;
  say("serving; Ctrl-C to stop. Try:");
  detail(`curl ${auth} ${tb.gateway.url}/.conn-drain`);
  detail(`curl ${auth} '${tb.gateway.url}/.conn-drain?format=prometheus'`);
  detail(`curl ${auth} -X POST '${tb.gateway.url}/.conn-drain/drain?host=${hosts[0]}'`);
  detail(`curl -H 'Host: ${hosts[2]}' ${tb.gateway.url}/status`);
  detail(
    `WebSocket: ws://127.0.0.1:${tb.gateway.port}/play with headers 'Host: ${hosts[2]}' and '${PLAYER_HEADER}: you'`,
  );
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
