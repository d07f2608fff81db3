// How the benches drive the gateway: the plugin and the no-op floor loaded into the project's
// proxy-wasm host, player streams opened and closed the way Envoy drives them (the same steps
// as tests/plugin/harness.ts), admin GETs, and the worker VMs' linear memory.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { createGateway, type Gateway, type Stream } from "../host/index.js";

export const PLUGIN_WASM = "build/plugin.wasm";
export const NOOP_WASM = "build/noop.wasm";
export const ADMIN_TOKEN = "bench-token-0123456789abcdef";
/** Slots for every bench: room for 10,000 hosts with the claim probe still finding free slots. */
export const BENCH_MAX_HOSTS = 16384;

export type Kind = "conn-drain" | "no-op";

export interface Build {
  file: string;
  bytes: Uint8Array;
  module: WebAssembly.Module;
  sha256: string;
}

const builds = new Map<Kind, Build>();

/**
 * Reads both builds once: every figure of a run uses these exact bytes, even if build/ is
 * rebuilt while the bench runs.
 */
export function loadBuilds(): { plugin: Build; noop: Build } {
  for (const [kind, file] of [
    ["conn-drain", PLUGIN_WASM],
    ["no-op", NOOP_WASM],
  ] as const) {
    if (builds.has(kind)) continue;
    if (!existsSync(file)) throw new Error(`${file} is missing: run npm run build`);
    const bytes = new Uint8Array(readFileSync(file));
    builds.set(kind, {
      file,
      bytes,
      module: new WebAssembly.Module(bytes),
      sha256: createHash("sha256").update(bytes).digest("hex"),
    });
  }
  return { plugin: builds.get("conn-drain") as Build, noop: builds.get("no-op") as Build };
}

function moduleOf(kind: Kind): WebAssembly.Module {
  const { plugin, noop } = loadBuilds();
  return kind === "conn-drain" ? plugin.module : noop.module;
}

export interface BenchGatewayOptions {
  workers: number;
  maxHosts?: number;
  /** Extra plugin configuration (e.g. webhook), merged over the bench defaults. */
  config?: Record<string, unknown>;
  clusters?: string[];
}

/** A gateway running conn-drain (release build) or the no-op plugin, logs not recorded. */
export function benchGateway(kind: Kind, opts: BenchGatewayOptions): Promise<Gateway> {
  return gatewayFor(moduleOf(kind), opts);
}

/** The same gateway for any module (another commit's build, an instrumented copy). */
export function gatewayFor(
  module: WebAssembly.Module,
  opts: BenchGatewayOptions,
): Promise<Gateway> {
  const config = {
    admin: { token: ADMIN_TOKEN },
    maxHosts: opts.maxHosts ?? BENCH_MAX_HOSTS,
    ...opts.config,
  };
  return createGateway({
    wasm: module,
    workers: opts.workers,
    // The no-op plugin ignores its configuration; it gets the same bytes anyway.
    config: JSON.stringify(config),
    nodeId: "router~10.0.0.9~higress-gateway-0.higress-system~higress-system.svc.cluster.local",
    clusters: opts.clusters ?? [],
    recordLogs: false,
    randomSeed: 6,
  });
}

/** Host names the benches use: gs-<i>.game.example.com. */
export function hostName(i: number): string {
  return `gs-${i}.game.example.com`;
}

const UPSTREAM = {
  address: "10.1.0.5:5000",
  cluster: "outbound|5000||gs.default.svc.cluster.local",
};

/**
 * A player's WebSocket stream up to the 101: context create, request headers, upstream picked,
 * response headers. It stays open until closed (on_log, on_done, on_delete).
 */
export function openPlayer(
  gw: Gateway,
  worker: number,
  host: string,
  headers: Record<string, string> = {},
): Stream {
  const stream = gw.worker(worker).openStream({
    properties: { "source.address": "203.0.113.7:50123", cluster_name: UPSTREAM.cluster },
  });
  stream.sendRequestHeaders({
    ":method": "GET",
    ":path": "/play",
    ":authority": host,
    ":scheme": "http",
    connection: "upgrade",
    upgrade: "websocket",
    ...headers,
  });
  stream.connectUpstream(UPSTREAM);
  stream.sendResponseHeaders({ ":status": "101" });
  return stream;
}

/** One whole stream: open as above, then close. */
export function playerCycle(
  gw: Gateway,
  worker: number,
  host: string,
  headers: Record<string, string> = {},
): void {
  openPlayer(gw, worker, host, headers).close();
}

/**
 * `count` whole streams numbered from `first`: stream j goes to host j mod `hosts` on worker
 * j mod W, which is the worker that opened host j's background stream (openPlayer(gw, i mod W,
 * hostName(i))) whenever W divides `hosts`, so each stream finds its host already placed.
 * `headers(j)` adds stream j's request headers. Returns the number of the next stream.
 */
export function cycleHosts(
  gw: Gateway,
  first: number,
  count: number,
  hosts: number,
  headers?: (j: number) => Record<string, string>,
): number {
  const workers = gw.workerCount;
  for (let j = first; j < first + count; j++) {
    playerCycle(gw, j % workers, hostName(j % hosts), headers?.(j));
  }
  return first + count;
}

export interface AdminAnswer {
  status: number;
  body: string;
}

/** A request to the admin path from one worker; returns the local reply (status 0 if none). */
export function adminCall(gw: Gateway, method: string, path: string, worker = 0): AdminAnswer {
  const stream = gw
    .worker(worker)
    .openStream({ properties: { "source.address": "10.0.0.1:40000" } });
  stream.sendRequestHeaders(
    {
      ":method": method,
      ":path": path,
      ":authority": "gateway.example.com",
      authorization: `Bearer ${ADMIN_TOKEN}`,
    },
    { endOfStream: true },
  );
  const reply = stream.localResponse;
  if (!stream.ended) stream.close();
  return reply ? { status: reply.status, body: reply.body } : { status: 0, body: "" };
}

/** GET on the admin path from worker 0, in JSON or the Prometheus text format. */
export function adminGet(gw: Gateway, format: "json" | "prometheus"): AdminAnswer {
  return adminCall(gw, "GET", `/.conn-drain?format=${format}`);
}

/** Linear memory (VmHandle.memoryBytes) over the worker VMs: the sum and the largest one. */
export function workerMemory(gw: Gateway): { total: number; largest: number } {
  let total = 0;
  let largest = 0;
  for (let i = 0; i < gw.workerCount; i++) {
    const b = gw.worker(i).memoryBytes;
    total += b;
    largest = Math.max(largest, b);
  }
  return { total, largest };
}

/** Streams the plugin counted without a slot: its `conn_drain.overflow` gauge. */
export function overflowGauge(gw: Gateway): number {
  return Number(gw.metrics().get("conn_drain.overflow")?.value ?? 0n);
}
