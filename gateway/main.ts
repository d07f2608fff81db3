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

/** A mistake in what was asked for: one line on stderr, no stack trace. */
class UsageError extends Error {}

async function main(): Promise<void> {
  let values: ReturnType<typeof parse>;
  try {
    values = parse();
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help) {
    console.log(HELP);
    return;
  }
  const clusters: Record<string, string> = {};
  for (const c of values.cluster ?? []) {
    const eq = c.indexOf("=");
    if (eq <= 0) throw new UsageError(`--cluster wants name=ip:port, got "${c}"`);
    clusters[c.slice(0, eq)] = c.slice(eq + 1);
  }
  let routes: ReturnType<typeof parseUpstream>[];
  try {
    routes = (values.upstream ?? []).map(parseUpstream);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  let config = "{}";
  if (values.config) {
    try {
      config = readFileSync(values.config, "utf8");
    } catch (e) {
      throw new UsageError(`--config ${values.config}: ${(e as NodeJS.ErrnoException).code ?? e}`);
    }
  }
  let gw: Awaited<ReturnType<typeof startLocalGateway>>;
  try {
    gw = await startLocalGateway({
      wasm: values.wasm,
      workers: Number(values.workers ?? 4),
      config,
      routes,
      clusters,
      nodeId: values["node-id"],
      port: Number(values.port ?? 0),
      onLog: (e) => console.log(`[vm ${e.vmIndex}] ${e.level}: ${e.message}`),
    });
  } catch (e) {
    // The plugin says why it refused a config in its own error line, printed just above.
    const why = (e as Error).message;
    throw new Error(
      /on_configure returned false/.test(why)
        ? `${why}: the plugin refused --config (its error line above says why)`
        : why,
    );
  }
  console.log(`local gateway (development tool) on ${gw.url}, ${gw.runtime.workers} worker VMs`);
  for (const r of gw.routes.list()) console.log(`  ${r.host} -> ${r.address} (${r.cluster})`);
  const stop = () => void gw.close().then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

function parse() {
  return parseArgs({
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
  }).values;
}

main().catch((e: unknown) => {
  const usage = e instanceof UsageError;
  const msg = e instanceof Error ? e.message : String(e);
  console.error(`local gateway: ${msg}${usage ? " (see --help)" : ""}`);
  process.exit(usage ? 2 : 1);
});
