import { readFileSync } from "node:fs";
import {
  createGateway,
  type Gateway,
  type GatewayOptions,
  type LocalResponse,
  type Stream,
} from "../../host/index.js";

let pluginModule: WebAssembly.Module | undefined;

/**
 * build/plugin.wasm, compiled once per test file (the global setup keeps it fresh).
 * CONN_DRAIN_WASM points the suites at another build, e.g. an older commit's, to show that a
 * regression test fails there: `CONN_DRAIN_WASM=/tmp/old.wasm npx vitest run tests/plugin/x`.
 */
export function plugin(): WebAssembly.Module {
  const path = process.env.CONN_DRAIN_WASM ?? "build/plugin.wasm";
  pluginModule ??= new WebAssembly.Module(new Uint8Array(readFileSync(path)));
  return pluginModule;
}

export const ADMIN_TOKEN = "test-token-0123456789abcdef";

/** A gateway running conn-drain with `config` on `workers` worker VMs. */
export function gateway(
  config: Record<string, unknown> = {},
  options: Partial<GatewayOptions> = {},
): Promise<Gateway> {
  return createGateway({
    wasm: plugin(),
    workers: 4,
    config: JSON.stringify(config),
    nodeId: "router~10.0.0.9~higress-gateway-0.higress-system~higress-system.svc.cluster.local",
    ...options,
  });
}

export interface PlayerOptions {
  /** Worker index (0-based). */
  vm?: number;
  cluster?: string;
  upstream?: string;
  websocket?: boolean;
  path?: string;
  /** More request headers (a player id, a cookie). */
  headers?: Record<string, string>;
}

/**
 * A player's stream as Envoy drives it: request headers, then an upstream is picked and the
 * response headers come back (101 for a WebSocket upgrade). The stream stays open until closed.
 */
export function connectPlayer(gw: Gateway, host: string, opts: PlayerOptions = {}): Stream {
  const cluster = opts.cluster ?? `outbound|5000||${host.split(".")[0]}.default.svc.cluster.local`;
  const stream = gw.worker(opts.vm ?? 0).openStream({
    properties: { "source.address": "203.0.113.7:50123", cluster_name: cluster },
  });
  const ws = opts.websocket ?? true;
  stream.sendRequestHeaders({
    ":method": "GET",
    ":path": opts.path ?? "/play",
    ":authority": host,
    ":scheme": "http",
    ...(ws ? { connection: "upgrade", upgrade: "websocket" } : {}),
    ...opts.headers,
  });
  // Answered by the plugin (a 503 while draining): Envoy goes no further.
  if (stream.localResponse) return stream;
  stream.connectUpstream({ address: opts.upstream ?? "10.1.0.5:5000", cluster });
  stream.sendResponseHeaders({ ":status": ws ? "101" : "200" });
  return stream;
}

export interface AdminOptions {
  /** Worker index (0-based). */
  vm?: number;
  method?: string;
  token?: string | null;
  source?: string;
  accept?: string;
  /** More request headers, after the harness's own (so they can replace them). */
  headers?: Record<string, string>;
}

/** Calls the admin path; returns the local reply the plugin sent. */
export function adminRequest(gw: Gateway, path: string, opts: AdminOptions = {}): LocalResponse {
  const stream = gw.worker(opts.vm ?? 0).openStream({
    properties: { "source.address": opts.source ?? "10.0.0.1:40000" },
  });
  const token = opts.token === undefined ? ADMIN_TOKEN : opts.token;
  stream.sendRequestHeaders(
    {
      ":method": opts.method ?? "GET",
      ":path": path,
      ":authority": "gateway.example.com",
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      ...(opts.accept ? { accept: opts.accept } : {}),
      ...opts.headers,
    },
    { endOfStream: true },
  );
  if (!stream.localResponse) throw new Error(`no local reply for ${path}`);
  return stream.localResponse;
}

export interface AdminView {
  gateway: string;
  totalActive: number;
  overflow: number;
  /** `active` includes `overflow`, the host's overflow bucket (an upper bound unless `exact`). */
  hosts: Array<{
    host: string;
    active: number;
    exact: boolean;
    overflow: number;
    draining: boolean;
  }>;
}

export function counts(gw: Gateway, vm = 0): AdminView {
  const reply = adminRequest(gw, "/.conn-drain", { vm });
  if (reply.status !== 200) throw new Error(`admin answered ${reply.status}: ${reply.body}`);
  return JSON.parse(reply.body) as AdminView;
}

/** One host's entry as `/.conn-drain?host=` reports it. */
export interface HostView {
  host: string;
  active: number;
  exact: boolean;
  overflow: number;
  draining: boolean;
  /** With `players` configured: distinct players (an upper bound unless `playersExact`). */
  players?: number;
  playersExact?: boolean;
  /** The host's drain, if it ever drained (drain-harness DrainView's fields but host and active). */
  drain?: {
    episode: string;
    state: string;
    source: string;
    reason?: string;
    reconnectGraceSeconds: number;
    returning: number;
    refused: number;
  };
}

/** `host`'s entry (any spelling the admin path takes) as worker `vm` reports it. */
export function hostView(gw: Gateway, host: string, vm = 0): HostView {
  const reply = adminRequest(gw, `/.conn-drain?host=${encodeURIComponent(host)}`, { vm });
  if (reply.status !== 200) throw new Error(`admin answered ${reply.status}: ${reply.body}`);
  return JSON.parse(reply.body) as HostView;
}

/** Active count per host as the admin path reports it, hosts at zero included. */
export function activeByHost(gw: Gateway, vm = 0): Record<string, number> {
  return Object.fromEntries(counts(gw, vm).hosts.map((h) => [h.host, h.active]));
}

export const adminConfig = { admin: { token: ADMIN_TOKEN } };
