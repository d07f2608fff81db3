// `npx tsx gateway/main.ts`: the local gateway on its own, for trying conn-drain against your
// own upstreams. A development tool (HTTP/1.1, no TLS, loopback only), not a production proxy.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { parseUpstream } from "./routes.js";
import { startLocalGateway } from "./server.js";

const HELP = `Usage: npx tsx gateway/main.ts --upstream host=ip:port[,cluster] [options]

The conn-drain local gateway: proxies HTTP and WebSocket on 127.0.0.1 and runs
build/plugin.wasm on every stream through the project's proxy-wasm host, over several worker
VMs with Envoy's callback order. A DEVELOPMENT TOOL for watching the plugin work on one
machine; it is not a production proxy (HTTP/1.1 only, no TLS, loopback only).

Options:
  --upstream host=ip:port[,cluster]  route a host (repeatable); cluster defaults to
                                     outbound|<port>||<first label>.default.svc.cluster.local
  --config FILE                      the plugin's JSON configuration (default: {})
  --cluster name=ip:port             where the plugin's http calls to a cluster go (repeatable)
  --workers N                        worker VMs (default 4)
  --port N                           port on 127.0.0.1 (default: a free one)
  --node-id ID                       Envoy node.id (default local-gateway-0)
  --wasm FILE                        the plugin (default build/plugin.wasm)
  -h, --help                         this text`;

const { values } = parseArgs({
  options: {
    upstream: { type: "string", multiple: true },
    config: { type: "string" },
    cluster: { type: "string", multiple: true },
    workers: { type: "string" },
    port: { type: "string" },
    "node-id": { type: "string" },
    wasm: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log(HELP);
  process.exit(0);
}
const clusters: Record<string, string> = {};
for (const c of values.cluster ?? []) {
  const eq = c.indexOf("=");
  if (eq <= 0) throw new Error(`--cluster wants name=ip:port, got "${c}"`);
  clusters[c.slice(0, eq)] = c.slice(eq + 1);
}
const gw = await startLocalGateway({
  wasm: values.wasm,
  workers: Number(values.workers ?? 4),
  config: values.config ? readFileSync(values.config, "utf8") : "{}",
  routes: (values.upstream ?? []).map(parseUpstream),
  clusters,
  nodeId: values["node-id"],
  port: Number(values.port ?? 0),
  onLog: (e) => console.log(`[vm ${e.vmIndex}] ${e.level}: ${e.message}`),
});
console.log(`local gateway (development tool) on ${gw.url}, ${gw.runtime.workers} worker VMs`);
for (const r of gw.routes.list()) console.log(`  ${r.host} -> ${r.address} (${r.cluster})`);
const stop = () => void gw.close().then(() => process.exit(0));
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
