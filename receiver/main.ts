// Entry point of the drain receiver (deploy/receiver/): `node --import tsx receiver/main.ts`.
// A setting it cannot start with is one line on stderr naming the variable, and exit status 2;
// any other failure to start is one line too, and status 1 (kubectl logs shows the line, not a
// stack trace).
import { ConfigError, loadConfig } from "./config.js";
import { inClusterOptions, Kube } from "./kube.js";
import { freshnessFromEnv, startReceiver } from "./server.js";

function fail(e: unknown): never {
  const message = e instanceof Error ? e.message : String(e);
  const config = e instanceof ConfigError;
  process.stderr.write(
    `conn-drain receiver: ${config ? "configuration error: " : ""}${message.split("\n")[0]}\n`,
  );
  process.exit(config ? 2 : 1);
}

try {
  const c = loadConfig();
  // SIGNATURE_TOLERANCE_SECONDS, LEDGER_TTL_SECONDS: read (and checked) before anything listens.
  const freshness = freshnessFromEnv();
  const kube = new Kube(
    process.env.KUBE_API
      ? { server: process.env.KUBE_API, token: () => process.env.KUBE_TOKEN ?? "" }
      : inClusterOptions(),
  );
  const r = await startReceiver(c, kube, console.log, freshness);
  const sets = c.targets.map((t) => `${t.hostTemplate} → ${t.namespace}/${t.gameServerTemplate}`);
  console.log(`conn-drain receiver listening on ${c.listenHost}:${r.port}${c.path}`);
  console.log(`conn-drain receiver serves ${sets.join(", ")}`);
  const stop = () => void r.close().then(() => process.exit(0));
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
} catch (e) {
  fail(e);
}
