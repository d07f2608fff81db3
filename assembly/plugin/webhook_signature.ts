// The drain-complete webhook's signature: `x-conn-drain-signature: t=<T>,v1=<hex>` where T is the
// send time in Unix seconds and hex is HMAC-SHA256(webhook.secret, "<T>." + body), over the exact
// body bytes sent. The body alone says nothing about when it was sent, so a signature over the
// body alone stays valid forever and an old signal can be replayed; with the time signed too, a
// receiver refuses deliveries older than its window. Each attempt is signed afresh (a retry
// carries its own time), so a delivery retried for hours still verifies.
import { hmacSha256, toHex } from "./sha256";

export const SIGNATURE_HEADER = "x-conn-drain-signature";

/** The header value for `body` sent at `nowMillis` (the host clock, milliseconds since epoch). */
export function webhookSignature(secret: string, body: ArrayBuffer, nowMillis: i64): string {
  const t = (nowMillis < 0 ? 0 : nowMillis / 1000).toString();
  const prefix = String.UTF8.encode(t + ".");
  const signed = new Uint8Array(prefix.byteLength + body.byteLength);
  signed.set(Uint8Array.wrap(prefix), 0);
  signed.set(Uint8Array.wrap(body), prefix.byteLength);
  const mac = hmacSha256(Uint8Array.wrap(String.UTF8.encode(secret)), signed);
  return "t=" + t + ",v1=" + toHex(mac);
}
