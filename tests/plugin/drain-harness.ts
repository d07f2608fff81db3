import { createHmac } from "node:crypto";
import type { Gateway, GatewayOptions, HttpCall } from "../../host/index.js";
import { ADMIN_TOKEN, type AdminOptions, adminRequest, gateway } from "./harness.js";

export const WEBHOOK_CLUSTER = "outbound|8080||drain-hook.ops.svc.cluster.local";
export const WEBHOOK_SECRET = "hook-secret-0123456789abcdef";

export const drainConfig = {
  admin: { token: ADMIN_TOKEN },
  webhook: {
    cluster: WEBHOOK_CLUSTER,
    authority: "drain-hook.ops.svc.cluster.local",
    path: "/drained",
    secret: WEBHOOK_SECRET,
    timeoutMs: 2000,
    backoffMs: 1000,
    maxAttempts: 5,
  },
};

export function drainGateway(
  config: Record<string, unknown> = {},
  workers = 4,
  options: Partial<GatewayOptions> = {},
): Promise<Gateway> {
  return gateway(
    { ...drainConfig, ...config },
    { workers, clusters: [WEBHOOK_CLUSTER], randomSeed: 7, ...options },
  );
}

export interface DrainView {
  host: string;
  active: number;
  episode: string;
  state: "draining" | "completed" | "cancelled";
  source: "admin" | "config";
  startedAt: string;
  deadline: string | null;
  upstreams: string[];
  completedAt?: string;
  reason?: "drained" | "deadline";
  remaining?: number;
  delivery: {
    state: "none" | "pending" | "delivered" | "failed";
    attempts: number;
    lastError?: string;
  };
}

/** A POST or DELETE drain's reply: its status, its `drain`, and the body as sent. */
export interface DrainReply {
  status: number;
  drain: DrainView;
  body: string;
}

/** POST drain of `host` (`query` adds parameters: "&deadlineSeconds=30"). */
export function startDrain(gw: Gateway, host: string, query = ""): DrainReply {
  return drainRequest(gw, "POST", `?host=${encodeURIComponent(host)}${query}`);
}

/** DELETE drain of `host`: cancels its running drain. */
export function cancelDrain(gw: Gateway, host: string): DrainReply {
  return drainRequest(gw, "DELETE", `?host=${encodeURIComponent(host)}`);
}

function drainRequest(gw: Gateway, method: string, query: string): DrainReply {
  const reply = adminRequest(gw, `/.conn-drain/drain${query}`, { method });
  const parsed = JSON.parse(reply.body) as { drain: DrainView };
  return { status: reply.status, drain: parsed.drain, body: reply.body };
}

/** The drains the gateway lists (GET /.conn-drain/drain, with the token unless `opts` differ). */
export function drains(gw: Gateway, opts: AdminOptions = {}): DrainView[] {
  const reply = adminRequest(gw, "/.conn-drain/drain", opts);
  if (reply.status !== 200) throw new Error(`drain list answered ${reply.status}: ${reply.body}`);
  return (JSON.parse(reply.body) as { drains: DrainView[] }).drains;
}

export function drainOf(gw: Gateway, host: string): DrainView | undefined {
  return drains(gw).find((d) => d.host === host);
}

export function webhookCalls(gw: Gateway): HttpCall[] {
  return gw.httpCalls().filter((c) => c.cluster === WEBHOOK_CLUSTER);
}

export function header(call: HttpCall, name: string): string | undefined {
  return call.headers.find(([k]) => k === name)?.[1];
}

export function bodyOf(call: HttpCall): Record<string, unknown> {
  return JSON.parse(new TextDecoder().decode(call.body)) as Record<string, unknown>;
}

/** HMAC-SHA256(secret, "<t>." + body) in hex, computed with Node's crypto, not the plugin's. */
export function referenceMac(
  t: number | string,
  body: Uint8Array,
  secret = WEBHOOK_SECRET,
): string {
  return createHmac("sha256", secret).update(`${t}.`).update(body).digest("hex");
}

/**
 * The signature a receiver computes for `body` sent at Unix second `t` (referenceMac), to
 * compare with the plugin's header.
 */
export function referenceSignature(body: Uint8Array, t: number, secret = WEBHOOK_SECRET): string {
  return `t=${t},v1=${referenceMac(t, body, secret)}`;
}

export function completeKey(gw: Gateway, host: string): Record<string, unknown> | undefined {
  const v = gw.sharedData.get(`conn-drain/complete/${host}`);
  return v ? (JSON.parse(v.text) as Record<string, unknown>) : undefined;
}
