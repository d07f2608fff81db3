// conn-drain signs each webhook delivery with its send time:
//
//   x-conn-drain-signature: t=<T>,v1=<hex HMAC-SHA256(secret, "<T>." + body)>
//
// T is the gateway's clock in Unix seconds when that attempt was sent (every retry is signed
// afresh), and the HMAC runs over the ASCII digits of T, one ".", then the raw body bytes as
// received (re-serialized JSON would not match). A delivery is accepted only while T is within
// `toleranceSeconds` of the receiver's clock, either way: an old delivery replayed later is
// refused, and clock skew up to the tolerance is forgiven. The comparison runs in constant time
// so a forger learns nothing from response timing.
import { createHmac, timingSafeEqual } from "node:crypto";

export const SIGNATURE_HEADER = "x-conn-drain-signature";
export const IDEMPOTENCY_HEADER = "idempotency-key";
/** How far the signed time may be from the receiver's clock, in seconds, by default. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** The exact bytes the HMAC covers: "<t>." then the body. */
function signedPayload(t: number, body: Uint8Array | string): Buffer {
  const raw = typeof body === "string" ? Buffer.from(body, "utf8") : Buffer.from(body);
  return Buffer.concat([Buffer.from(`${t}.`, "ascii"), raw]);
}

/** The v1 value: hex HMAC-SHA256 of the signed payload. */
function mac(secret: string, t: number, body: Uint8Array | string): string {
  return createHmac("sha256", secret).update(signedPayload(t, body)).digest("hex");
}

/** The header value conn-drain sends for `body` at Unix second `t` (default: now). */
export function sign(
  body: Uint8Array | string,
  secret: string,
  t: number = Math.floor(Date.now() / 1000),
): string {
  return `t=${t},v1=${mac(secret, t, body)}`;
}

/** Why a signature is refused, in the order the receiver's metrics list them. */
export const REJECTIONS = ["malformed", "mismatch", "stale", "future"] as const;
export type Rejection = (typeof REJECTIONS)[number];

export type Verdict =
  | { ok: true; t: number }
  | { ok: false; reason: Rejection; message: string; t?: number };

export interface VerifyOptions {
  /** The receiver's clock, epoch milliseconds (default Date.now()). */
  now?: number;
  toleranceSeconds?: number;
}

/** `t=<digits>,v1=<64 hex>[,v1=…]`; other keys are ignored (room for future schemes). */
function parseHeader(header: string): { t: number; v1: string[] } | undefined {
  if (header.length > 1024) return undefined;
  let t: number | undefined;
  const v1: string[] = [];
  for (const item of header.split(",")) {
    const eq = item.indexOf("=");
    if (eq < 0) return undefined;
    const key = item.slice(0, eq).trim();
    const value = item.slice(eq + 1).trim();
    if (key === "t") {
      if (t !== undefined || !/^\d{1,12}$/.test(value)) return undefined;
      t = Number(value);
    } else if (key === "v1") {
      if (!/^[0-9a-f]{64}$/.test(value)) return undefined;
      v1.push(value);
    }
  }
  return t === undefined || v1.length === 0 ? undefined : { t, v1 };
}

/**
 * Checks the header against the raw body: authentic first (so "stale" and "future" are only ever
 * said of deliveries the gateway really signed), then fresh.
 */
export function verifySignature(
  body: Uint8Array,
  header: string | undefined,
  secret: string,
  options: VerifyOptions = {},
): Verdict {
  const parsed = header ? parseHeader(header) : undefined;
  if (!parsed) {
    return {
      ok: false,
      reason: "malformed",
      message: header?.startsWith("sha256=")
        ? "signature header is the old body-only form (sha256=…): upgrade conn-drain; t=<seconds>,v1=<hex> is required"
        : `missing or malformed ${SIGNATURE_HEADER}: expected t=<unix seconds>,v1=<hex HMAC-SHA256>`,
    };
  }
  const expected = Buffer.from(mac(secret, parsed.t, body));
  let match = false;
  for (const given of parsed.v1) {
    // Every candidate is compared in full: no early exit on the first match either.
    if (timingSafeEqual(expected, Buffer.from(given))) match = true;
  }
  if (!match) return { ok: false, reason: "mismatch", message: "signature does not verify" };
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const nowSeconds = Math.floor((options.now ?? Date.now()) / 1000);
  if (nowSeconds - parsed.t > tolerance) {
    return {
      ok: false,
      reason: "stale",
      t: parsed.t,
      message: `signed ${nowSeconds - parsed.t} s ago, more than the ${tolerance} s allowed: a replay, or clocks apart`,
    };
  }
  if (parsed.t - nowSeconds > tolerance) {
    return {
      ok: false,
      reason: "future",
      t: parsed.t,
      message: `signed ${parsed.t - nowSeconds} s in the future, more than the ${tolerance} s allowed: clocks apart`,
    };
  }
  return { ok: true, t: parsed.t };
}

/** Why a drain completed, in the order the receiver's metrics list them. */
export const DRAIN_REASONS = ["drained", "deadline"] as const;

/** The drain-complete webhook body (README, "Draining a game server"). */
export interface DrainComplete {
  event: "drain_complete";
  host: string;
  episode: string;
  startedAt: string;
  completedAt: string;
  reason: (typeof DRAIN_REASONS)[number];
  remaining: number;
  gateway: string;
  upstreams: string[];
  /** The episode's quiet period (drain.quietSeconds); absent from gateways older than it. */
  quietSeconds?: number;
  /** The episode's reconnect grace, and its returning players let in and new streams refused;
   * absent from gateways older than them. */
  reconnectGraceSeconds?: number;
  returning?: number;
  refused?: number;
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
  if (!DRAIN_REASONS.some((r) => r === o.reason)) return undefined;
  if (typeof o.remaining !== "number" || !Array.isArray(o.upstreams)) return undefined;
  for (const field of ["quietSeconds", "reconnectGraceSeconds", "returning", "refused"]) {
    const n = o[field];
    if (n !== undefined && !(Number.isInteger(n) && (n as number) >= 0)) return undefined;
  }
  // The ledger expires reports by completedAt, so it must be a time.
  if (!str("completedAt") || !Number.isFinite(Date.parse(o.completedAt as string)))
    return undefined;
  return o as unknown as DrainComplete;
}
