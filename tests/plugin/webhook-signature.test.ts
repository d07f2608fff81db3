// The webhook signature covers the send time with the body (issue 10, finding 8):
// `x-conn-drain-signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`, checked
// here with Node's crypto over the exact bytes the plugin handed to Envoy, and signed afresh for
// every attempt so a retry carries its own time.
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { HttpCall } from "../../host/index.js";
import { verifySignature } from "../../receiver/signature.js";
import {
  drainGateway,
  header,
  referenceMac,
  startDrain,
  WEBHOOK_SECRET,
  webhookCalls,
} from "./drain-harness.js";

const HOST = "game1.postio.example.com";
const FORMAT = /^t=(\d+),v1=([0-9a-f]{64})$/;

function parts(call: HttpCall): { t: string; v1: string } {
  const value = header(call, "x-conn-drain-signature") ?? "";
  const m = FORMAT.exec(value);
  if (!m) throw new Error(`signature header not in t=…,v1=… form: ${JSON.stringify(value)}`);
  return { t: m[1]!, v1: m[2]! };
}

describe("webhook signature: t=<seconds>,v1=<HMAC over '<t>.' + body>", () => {
  it("signs the send time (host clock, Unix seconds) with the exact body bytes sent", async () => {
    const gw = await drainGateway();
    gw.advance(12_345); // a send time that is not on a whole second
    startDrain(gw, HOST); // no players: completes and sends at once
    const [call] = webhookCalls(gw);
    expect(call).toBeDefined();
    const { t, v1 } = parts(call!);
    expect(Number(t)).toBe(Math.floor(call!.sentAt / 1000));
    expect(Number(t)).toBe(Math.floor(gw.now() / 1000));
    expect(v1).toBe(referenceMac(t, call!.body));
    // Not the body alone, and not under another secret.
    expect(v1).not.toBe(createHmac("sha256", WEBHOOK_SECRET).update(call!.body).digest("hex"));
    expect(v1).not.toBe(referenceMac(t, call!.body, `${WEBHOOK_SECRET}x`));
    // The receiver accepts exactly what the plugin sends, at the time it was sent.
    const now = call!.sentAt;
    expect(
      verifySignature(call!.body, header(call!, "x-conn-drain-signature"), WEBHOOK_SECRET, { now }),
    ).toMatchObject({ ok: true });
  });

  it("each attempt is re-signed with its own time: a retry has a later t and a valid v1", async () => {
    const gw = await drainGateway();
    startDrain(gw, HOST);
    const first = webhookCalls(gw)[0]!;
    const a = parts(first);
    gw.advance(1_500); // the first attempt times out well after it was sent
    gw.respondHttpCall(first, { status: 503 });
    let retry = webhookCalls(gw);
    while (retry.length === 0) {
      gw.advance(100);
      retry = webhookCalls(gw);
    }
    const second = retry[0]!;
    const b = parts(second);
    expect(Buffer.from(second.body).equals(Buffer.from(first.body))).toBe(true);
    expect(header(second, "idempotency-key")).toBe(header(first, "idempotency-key"));
    expect(Number(b.t)).toBe(Math.floor(second.sentAt / 1000));
    expect(Number(b.t)).toBeGreaterThan(Number(a.t));
    expect(b.v1).toBe(referenceMac(b.t, second.body));
    expect(b.v1).not.toBe(a.v1);
  });

  it("without webhook.secret no signature header is sent", async () => {
    const gw = await drainGateway({
      webhook: {
        cluster: "outbound|8080||drain-hook.ops.svc.cluster.local",
        authority: "drain-hook.ops.svc.cluster.local",
        path: "/drained",
      },
    });
    startDrain(gw, HOST);
    const [call] = webhookCalls(gw);
    expect(call).toBeDefined();
    expect(header(call!, "x-conn-drain-signature")).toBeUndefined();
  });
});
