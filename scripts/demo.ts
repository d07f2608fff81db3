// The main job on its built-in default: runs build/plugin.wasm in the project's proxy-wasm host
// (4 worker VMs, Envoy's callback order) and shows the counts a platform would read.
// No cluster needed. A later demo grows this into a real local gateway with WebSocket players.
import { readFileSync } from "node:fs";
import { createGateway, type Gateway, type Stream } from "../host/index.js";

const TOKEN = "demo-token-0123456789abcdef";
const WORKERS = 4;
const SERVERS = [
  "game0.postio.example.com",
  "game1.postio.example.com",
  "game2.postio.example.com",
];

function join(gw: Gateway, host: string, worker: number): Stream {
  const cluster = `outbound|5000||${host.split(".")[0]}.default.svc.cluster.local`;
  const s = gw
    .worker(worker)
    .openStream({ properties: { "source.address": "203.0.113.7:50000", cluster_name: cluster } });
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

function admin(gw: Gateway, query = ""): { status: number; body: string } {
  const s = gw.worker(0).openStream({ properties: { "source.address": "10.0.0.1:40000" } });
  s.sendRequestHeaders(
    {
      ":method": "GET",
      ":path": `/.conn-drain${query}`,
      ":authority": "gateway",
      authorization: `Bearer ${TOKEN}`,
    },
    { endOfStream: true },
  );
  const r = s.localResponse;
  return { status: r?.status ?? 0, body: r?.body ?? "" };
}

function table(gw: Gateway): string {
  const view = JSON.parse(admin(gw).body) as {
    totalActive: number;
    hosts: Array<{ host: string; active: number }>;
  };
  const cells = view.hosts.map((h) => `${h.host.split(".")[0]}=${h.active}`).join("  ");
  return `${cells}  (total ${view.totalActive})`;
}

function step(title: string, detail: string): void {
  console.log(`\n== ${title}\n   ${detail}`);
}

async function main(): Promise<void> {
  const wasm = readFileSync("build/plugin.wasm");
  const config = {
    hosts: ["*.postio.example.com"],
    admin: { token: TOKEN },
    vmTtlSeconds: 10,
    gatewayId: "demo-gateway",
  };
  const gw = await createGateway({ wasm, workers: WORKERS, config: JSON.stringify(config) });
  console.log(`conn-drain demo: build/plugin.wasm (${wasm.length} bytes) on ${WORKERS} worker VMs`);
  console.log(`config: ${JSON.stringify(config)}`);

  const players: Array<{ host: string; worker: number; stream: Stream }> = [];
  [5, 3, 4].forEach((n, i) => {
    for (let k = 0; k < n; k++) {
      const worker = (k + i) % WORKERS;
      players.push({
        host: SERVERS[i] as string,
        worker,
        stream: join(gw, SERVERS[i] as string, worker),
      });
    }
  });
  step("12 players join over 4 workers", table(gw));

  step(
    "GET /.conn-drain?host=game1.postio.example.com (what a probe polls)",
    admin(gw, "?host=game1.postio.example.com").body.trim(),
  );

  for (const p of players.filter((p) => p.host === SERVERS[1])) p.stream.close();
  step("game1's players leave", table(gw));

  const dead = players.filter((p) => p.worker === 3 && p.host !== SERVERS[1]);
  gw.worker(3).crash("simulated crash of worker 3");
  step(
    `worker 3 crashes holding ${dead.length} players`,
    `still counted within vmTtlSeconds: ${table(gw)}`,
  );
  gw.advance(12_000);
  step("12 s later (vmTtlSeconds = 10)", `its streams no longer count: ${table(gw)}`);

  step(
    "GET /.conn-drain?format=prometheus",
    admin(gw, "?format=prometheus").body.trim().split("\n").join("\n   "),
  );

  const gauges = [...gw.stats()].filter(([n]) => n.startsWith("wasmcustom.conn_drain"));
  step("Envoy stats the gateway exports", gauges.map(([n, m]) => `${n} ${m.value}`).join("\n   "));

  console.log("\nDone.");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
