// Entry point of the drain receiver (deploy/receiver/): `node --import tsx receiver/main.ts`.
import { loadConfig } from "./config.js";
import { inClusterOptions, Kube } from "./kube.js";
import { freshnessFromEnv, startReceiver } from "./server.js";

const c = loadConfig();
// SIGNATURE_TOLERANCE_SECONDS, LEDGER_TTL_SECONDS: read (and checked) before anything listens.
const freshness = freshnessFromEnv();
const kube = new Kube(
  process.env.KUBE_API
    ? { server: process.env.KUBE_API, token: () => process.env.KUBE_TOKEN ?? "" }
    : inClusterOptions(),
);
const r = await startReceiver(c, kube, console.log, freshness);
console.log(`conn-drain receiver listening on ${c.listenHost}:${r.port}${c.path}`);
const stop = () => void r.close().then(() => process.exit(0));
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
