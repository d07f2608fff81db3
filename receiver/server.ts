// The drain receiver's HTTP side: accepts conn-drain's drain-complete webhook, verifies the
// signature and idempotency key, records the replica's report and lets the Releaser decide.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { ReceiverConfig } from "./config.js";
import type { Kube } from "./kube.js";
import { Ledger } from "./ledger.js";
import { ReceiverMetrics } from "./metrics.js";
import { Releaser } from "./release.js";
import {
  IDEMPOTENCY_HEADER,
  parseDrainComplete,
  SIGNATURE_HEADER,
  verifySignature,
} from "./signature.js";

const MAX_BODY = 64 * 1024;

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
): Promise<Receiver> {
  const ledger = new Ledger();
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
      // Signature first: nothing unauthenticated reaches the ledger or the API.
      if (!verifySignature(raw, req.headers[SIGNATURE_HEADER] as string | undefined, c.secret)) {
        metrics.rejected++;
        return answer(res, 401, { error: "signature does not verify" });
      }
      const body = parseDrainComplete(raw);
      const key = req.headers[IDEMPOTENCY_HEADER];
      if (!body || typeof key !== "string" || key !== body.episode) metrics.rejected++;
      if (!body) return answer(res, 400, { error: "not a drain_complete record" });
      if (typeof key !== "string" || key !== body.episode) {
        return answer(res, 400, { error: "idempotency-key must equal the episode" });
      }
      const fresh = ledger.record(body, key);
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
