// The main job on its built-in default: runs build/plugin.wasm in the project's proxy-wasm host
// (4 worker VMs, Envoy's callback order) and shows what a platform sees: counts per game server,
// a worker crash, and a drain that ends in a signed webhook. No cluster needed.
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { createGateway, type Gateway, type HttpCall, type Stream } from "../host/index.js";

const TOKEN = "demo-token-0123456789abcdef";
const SECRET = "demo-webhook-secret-0123456789";
const HOOK = "outbound|8080||drain-hook.ops.svc.cluster.local";
const WORKERS = 4;
const SERVERS = [
  "game0.postio.example.com",
  "game1.postio.example.com",
  "game2.postio.example.com",
];

function join(gw: Gateway, host: string, worker: number): Stream {
  const cluster = `outbound|5000||${host.split(".")[0]}.default.svc.cluster.local`;
  const s = gw.worker(worker).openStream({
    properties: { "source.address": "203.0.113.7:50000", cluster_name: cluster },
  });
  s.sendRequestHeaders({
    ":method": "GET",
    ":path": "/play",
    ":authority": host,
    connection: "upgrade",
    upgrade: "websocket",
  });
  s.connectUpstream({ address: `10.1.0.${SERVERS.indexOf(host) + 10}:5000`, cluster });
  s.sendResponseHeaders({ ":status": "101" });
  return s;
}

function admin(gw: Gateway, path: string, method = "GET"): { status: number; body: string } {
  const s = gw.worker(0).openStream({ properties: { "source.address": "10.0.0.1:40000" } });
  s.sendRequestHeaders(
    { ":method": method, ":path": path, ":authority": "gateway", authorization: `Bearer ${TOKEN}` },
    { endOfStream: true },
  );
  return { status: s.localResponse?.status ?? 0, body: s.localResponse?.body ?? "" };
}

function table(gw: Gateway): string {
  const view = JSON.parse(admin(gw, "/.conn-drain").body) as {
    totalActive: number;
    hosts: Array<{ host: string; active: number; draining: boolean }>;
  };
  const cells = view.hosts.map(
    (h) => `${h.host.split(".")[0]}=${h.active}${h.draining ? " (draining)" : ""}`,
  );
  return `${cells.join("  ")}  (total ${view.totalActive})`;
}

function step(title: string, ...lines: string[]): void {
  console.log(`\n== ${title}`);
  for (const line of lines) console.log(`   ${line}`);
}

function header(call: HttpCall, name: string): string {
  return call.headers.find(([k]) => k === name)?.[1] ?? "";
}

async function main(): Promise<void> {
  const wasm = readFileSync("build/plugin.wasm");
  const config = {
    hosts: ["*.postio.example.com"],
    admin: { token: TOKEN },
    vmTtlSeconds: 10,
    gatewayId: "demo-gateway",
    webhook: { cluster: HOOK, authority: "drain-hook.ops", path: "/drained", secret: SECRET },
  };
  const gw = await createGateway({
    wasm,
    workers: WORKERS,
    config: JSON.stringify(config),
    clusters: [HOOK],
    startTimeMs: Date.now(),
  });
  console.log(`conn-drain demo: build/plugin.wasm (${wasm.length} bytes) on ${WORKERS} worker VMs`);

  const players = new Map<string, Stream[]>(SERVERS.map((h) => [h, []]));
  [5, 3, 4].forEach((n, i) => {
    const host = SERVERS[i] as string;
    for (let k = 0; k < n; k++) players.get(host)?.push(join(gw, host, (k + i) % WORKERS));
  });
  step("12 players join three game servers over 4 workers", table(gw));

  gw.worker(3).crash("simulated crash of worker 3");
  step("worker 3 crashes holding 3 players", `still counted within vmTtlSeconds: ${table(gw)}`);
  gw.advance(12_000);
  step("12 s later (vmTtlSeconds = 10)", `its streams no longer count: ${table(gw)}`);

  const game1 = SERVERS[1] as string;
  const started = admin(gw, `/.conn-drain/drain?host=${game1}`, "POST");
  const episode = (JSON.parse(started.body) as { drain: { episode: string } }).drain.episode;
  step(`POST /.conn-drain/drain?host=${game1}`, `${started.status}: draining, episode ${episode}`);

  const live = (players.get(game1) ?? []).filter((s) => !s.ended && s.vmIndex !== 4);
  for (const [i, s] of live.entries()) {
    s.close();
    const left = live.length - i - 1;
    step(
      `a player leaves game1 (${left} left)`,
      table(gw),
      `webhook calls so far: ${gw.httpCalls().length}`,
    );
  }

  const call = gw.httpCalls()[0];
  if (!call) throw new Error("no drain-complete webhook was sent");
  const expected = `sha256=${createHmac("sha256", SECRET).update(call.body).digest("hex")}`;
  step(
    "drain complete: the webhook went out in the same callback as the last close",
    `POST ${call.cluster} ${header(call, ":path")}  idempotency-key: ${header(call, "idempotency-key")}`,
    new TextDecoder().decode(call.body),
    `signature ${header(call, "x-conn-drain-signature") === expected ? "verifies" : "DOES NOT verify"} with Node's HMAC-SHA256`,
    `shared data conn-drain/complete/${game1}: ${gw.sharedData.get(`conn-drain/complete/${game1}`)?.text}`,
  );
  gw.respondHttpCall(call, { status: 200 });
  const drains = JSON.parse(admin(gw, "/.conn-drain/drain").body) as {
    drains: Array<{ host: string; state: string; delivery: { state: string; attempts: number } }>;
  };
  step(
    "the receiver answers 200",
    ...drains.drains.map(
      (d) =>
        `${d.host}: ${d.state}, delivery ${d.delivery.state} after ${d.delivery.attempts} attempt(s)`,
    ),
  );

  const prom = admin(gw, "/.conn-drain?format=prometheus").body.trim().split("\n");
  step("GET /.conn-drain?format=prometheus (samples)", ...prom.filter((l) => !l.startsWith("#")));

  console.log(
    `\nDone: ${SERVERS.length} servers, ${WORKERS} workers, one drain signalled exactly once.`,
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
