// conn-drain signs each webhook body: `x-conn-drain-signature: sha256=<hex HMAC-SHA256(body)>`.
// Verification runs over the raw bytes received (re-serialized JSON would not match) and compares
// in constant time so a forger learns nothing from response timing.
import { createHmac, timingSafeEqual } from "node:crypto";

export const SIGNATURE_HEADER = "x-conn-drain-signature";
export const IDEMPOTENCY_HEADER = "idempotency-key";

export function sign(body: Uint8Array | string, secret: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

export function verifySignature(
  body: Uint8Array,
  header: string | undefined,
  secret: string,
): boolean {
  if (!header || !/^sha256=[0-9a-f]{64}$/.test(header)) return false;
  const expected = Buffer.from(sign(body, secret));
  const given = Buffer.from(header);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** The drain-complete webhook body (README, "Draining a game server"). */
export interface DrainComplete {
  event: "drain_complete";
  host: string;
  episode: string;
  startedAt: string;
  completedAt: string;
  reason: "drained" | "deadline";
  remaining: number;
  gateway: string;
  upstreams: string[];
}

/** Parses and checks the body's shape; undefined when it is not a drain-complete record. */
export function parseDrainComplete(body: Uint8Array): DrainComplete | undefined {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(body).toString("utf8"));
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null) return undefined;
  const o = v as Record<string, unknown>;
  const str = (k: string) => typeof o[k] === "string" && (o[k] as string).length > 0;
  if (o.event !== "drain_complete" || !str("host") || !str("episode") || !str("gateway")) {
    return undefined;
  }
  if (o.reason !== "drained" && o.reason !== "deadline") return undefined;
  if (typeof o.remaining !== "number" || !Array.isArray(o.upstreams)) return undefined;
  return o as unknown as DrainComplete;
}
