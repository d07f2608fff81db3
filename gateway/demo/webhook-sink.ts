// The demo's webhook receiver: records every drain-complete delivery, checks its signature
// (HMAC-SHA256 over "<t>." + the raw body, t within the receiver's default window) and that the
// idempotency key names the body's episode, answers 200.
// (receiver/ is the real one for a cluster; this one only observes.)
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  type DrainComplete,
  IDEMPOTENCY_HEADER,
  parseDrainComplete,
  SIGNATURE_HEADER,
  verifySignature,
} from "../../receiver/signature.js";

export interface Delivery {
  path: string;
  receivedAt: number;
  body: DrainComplete | undefined;
  raw: Buffer;
  idempotencyKey: string | undefined;
  signature: string | undefined;
  /** The signature verifies and is fresh, and the idempotency key is the body's episode. */
  verified: boolean;
  /** A repeat of an idempotency key seen before. */
  duplicate: boolean;
}

export interface WebhookSink {
  readonly address: string;
  deliveries(): Delivery[];
  close(): Promise<void>;
}

export async function startWebhookSink(secret: string): Promise<WebhookSink> {
  const got: Delivery[] = [];
  const seen = new Set<string>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      const key = req.headers[IDEMPOTENCY_HEADER] as string | undefined;
      const signature = req.headers[SIGNATURE_HEADER] as string | undefined;
      const body = parseDrainComplete(raw);
      const verified =
        verifySignature(raw, signature, secret).ok && body !== undefined && body.episode === key;
      const duplicate = key !== undefined && seen.has(key);
      if (key) seen.add(key);
      got.push({
        path: req.url ?? "/",
        receivedAt: Date.now(),
        body,
        raw,
        idempotencyKey: key,
        signature,
        verified,
        duplicate,
      });
      res.writeHead(verified ? 200 : 401, { "content-type": "text/plain" });
      res.end(verified ? "ok\n" : "signature does not verify\n");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    deliveries: () => [...got],
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
