// The drain receiver's HTTP side: accepts conn-drain's drain-complete webhook, verifies the
// signature (authentic, and signed within the tolerance of this clock) and idempotency key,
// records the replica's report in the per-episode ledger and lets the Releaser decide.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ConfigError, type ReceiverConfig } from "./config.js";
import type { Kube } from "./kube.js";
import { DEFAULT_LEDGER_TTL_SECONDS, Ledger } from "./ledger.js";
import { ReceiverMetrics } from "./metrics.js";
import { Releaser } from "./release.js";
import {
  DEFAULT_TOLERANCE_SECONDS,
  IDEMPOTENCY_HEADER,
  parseDrainComplete,
  SIGNATURE_HEADER,
  verifySignature,
} from "./signature.js";

const MAX_BODY = 64 * 1024;

export interface ReceiverOptions {
  /** How far a delivery's signed time may be from this clock, either way (seconds). */
  toleranceSeconds?: number;
  /** How long after its completedAt an episode counts and is remembered (seconds). */
  ledgerTtlSeconds?: number;
  /** This receiver's clock, epoch milliseconds (tests move it). */
  now?: () => number;
}

function seconds(
  env: NodeJS.ProcessEnv,
  name: string,
  min: number,
  max: number,
): number | undefined {
  const text = env[name];
  if (text === undefined || text === "") return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    const must = `must be a whole number of seconds from ${min} to ${max}, got ${text}`;
    throw new ConfigError(name, must, `${name} ${must}`);
  }
  return n;
}

/** SIGNATURE_TOLERANCE_SECONDS (default 300) and LEDGER_TTL_SECONDS (default 86400). */
export function freshnessFromEnv(env: NodeJS.ProcessEnv = process.env): ReceiverOptions {
  const toleranceSeconds = seconds(env, "SIGNATURE_TOLERANCE_SECONDS", 1, 3_600);
  const ledgerTtlSeconds = seconds(env, "LEDGER_TTL_SECONDS", 60, 30 * 86_400);
  return {
    ...(toleranceSeconds !== undefined ? { toleranceSeconds } : {}),
    ...(ledgerTtlSeconds !== undefined ? { ledgerTtlSeconds } : {}),
  };
}

export interface Receiver {
  readonly port: number;
  readonly ledger: Ledger;
  readonly releaser: Releaser;
  readonly metrics: ReceiverMetrics;
  close(): Promise<void>;
}

export async function startReceiver(
  c: ReceiverConfig,
  kube: Kube,
  log: (line: string) => void = console.log,
  options: ReceiverOptions = {},
): Promise<Receiver> {
  const now = options.now ?? Date.now;
  const toleranceSeconds = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const ledger = new Ledger({
    ttlMs: (options.ledgerTtlSeconds ?? DEFAULT_LEDGER_TTL_SECONDS) * 1000,
    now,
  });
  const metrics = new ReceiverMetrics();
  const releaser = new Releaser(c, kube, ledger, log, metrics);
  const answer = (res: import("node:http").ServerResponse, status: number, body: object) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(`${JSON.stringify(body)}\n`);
  };

  const server: Server = createServer((req, res) => {
    if (req.url === "/healthz") return answer(res, 200, { ok: true });
    if (req.url === "/metrics") {
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
      return res.end(metrics.render());
    }
    if (req.url !== c.path) return answer(res, 404, { error: "not found" });
    if (req.method !== "POST") {
      res.setHeader("allow", "POST");
      return answer(res, 405, { error: "POST only" });
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        answer(res, 413, { error: "body too large" });
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on("end", async () => {
      const raw = Buffer.concat(chunks);
      // Signature first: nothing unauthenticated or stale reaches the ledger or the API.
      const header = req.headers[SIGNATURE_HEADER];
      const verdict = verifySignature(
        raw,
        typeof header === "string" ? header : undefined,
        c.secret,
        {
          now: now(),
          toleranceSeconds,
        },
      );
      if (!verdict.ok) {
        metrics.reject(verdict.reason);
        if (verdict.reason === "stale" || verdict.reason === "future") {
          log(`refused a delivery: ${verdict.message}`);
        }
        return answer(res, 401, { error: verdict.message, reason: verdict.reason });
      }
      const body = parseDrainComplete(raw);
      if (!body) {
        metrics.reject("body");
        return answer(res, 400, { error: "not a drain_complete record" });
      }
      const key = req.headers[IDEMPOTENCY_HEADER];
      if (typeof key !== "string" || key !== body.episode) {
        metrics.reject("idempotency-key");
        return answer(res, 400, { error: "idempotency-key must equal the episode" });
      }
      const recorded = ledger.record(body, key);
      if (recorded === "expired") {
        // Authentic but too old to act on; 200 so the gateway stops retrying it.
        metrics.expired++;
        log(`${body.host}: expired report from ${body.gateway} (${body.episode}), ignored`);
        return answer(res, 200, {
          host: body.host,
          gateway: body.gateway,
          duplicate: false,
          outcome: "expired",
        });
      }
      const fresh = recorded === "fresh";
      if (fresh) metrics.report(body);
      log(`${body.host}: ${fresh ? "report" : "repeat"} from ${body.gateway} (${body.episode})`);
      const outcome = await releaser.evaluate(body.host);
      // 200 either way: delivery succeeded; what is left to do is ours, retried on a timer.
      answer(res, 200, { host: body.host, gateway: body.gateway, duplicate: !fresh, outcome });
    });
  });
  const timer = setInterval(() => void releaser.recheck(), c.recheckMs);
  timer.unref();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(c.port, c.listenHost, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    ledger,
    releaser,
    metrics,
    async close() {
      clearInterval(timer);
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
