// One proxied HTTP stream as Envoy's HTTP connection manager drives the Wasm filter: request
// headers, request data, (router picks an upstream), response headers, response data, then
// on_log/on_done/on_delete exactly once. Every step first catches the virtual clock up and then
// lets the runtime send any http call the callback made.
import { type IncomingMessage, STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { Action, HostUsageError, type LocalResponse, type Stream } from "../host/index.js";
import type { PluginRuntime } from "./plugin-runtime.js";
import type { Route } from "./routes.js";

export type Pairs = Array<[string, string]>;

/** Hop-by-hop headers (RFC 9110 §7.6.1) Envoy does not forward; `upgrade` is re-added for WebSocket. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "host",
]);

/** Response headers of a reply the gateway makes itself (Envoy's router's local replies). */
export function gatewayReplyPairs(status: number, body: Buffer): Pairs {
  return [
    [":status", String(status)],
    ["content-length", String(body.length)],
    ["content-type", "text/plain"],
  ];
}

/** `ip:port` of a socket end, IPv4-mapped addresses unwrapped. */
export function socketAddress(ip: string | undefined, port: number | undefined): string {
  const a = (ip ?? "0.0.0.0").replace(/^::ffff:/, "");
  return a.includes(":") ? `[${a}]:${port ?? 0}` : `${a}:${port ?? 0}`;
}

/** Request headers as Envoy's HTTP/1 codec presents them: pseudo-headers first, `host` → `:authority`. */
export function requestPairs(req: IncomingMessage, requestId: string): Pairs {
  const pairs: Pairs = [
    [":method", req.method ?? "GET"],
    [":path", req.url ?? "/"],
    [":authority", req.headers.host ?? ""],
    [":scheme", "http"],
  ];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const k = (req.rawHeaders[i] as string).toLowerCase();
    if (k !== "host") pairs.push([k, req.rawHeaders[i + 1] as string]);
  }
  // Envoy adds these to every request it routes (x-request-id when none came in).
  if (!req.headers["x-request-id"]) pairs.push(["x-request-id", requestId]);
  pairs.push(["x-forwarded-proto", "http"]);
  return pairs;
}

export function responsePairs(res: IncomingMessage): Pairs {
  const pairs: Pairs = [[":status", String(res.statusCode ?? 502)]];
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
    pairs.push([(res.rawHeaders[i] as string).toLowerCase(), res.rawHeaders[i + 1] as string]);
  }
  return pairs;
}

/** Headers for Node's http APIs: pseudo-headers and hop-by-hop headers dropped, `keep` re-added. */
export function forwardable(pairs: Pairs, keep: Pairs = []): string[] {
  const out: string[] = [];
  for (const [k, v] of pairs) if (!k.startsWith(":") && !HOP_BY_HOP.has(k)) out.push(k, v);
  for (const [k, v] of keep) out.push(k, v);
  return out;
}

/** An HTTP/1.1 response head written straight to a socket (upgrade path). */
export function rawResponseHead(status: number, pairs: Pairs, extra: Pairs = []): string {
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}`];
  for (const [k, v] of [...pairs, ...extra]) if (!k.startsWith(":")) lines.push(`${k}: ${v}`);
  return `${lines.join("\r\n")}\r\n\r\n`;
}

/** Writes a local reply (the plugin's, or one of the gateway's own) to a raw socket and ends it. */
export function writeRawReply(socket: Duplex, reply: LocalResponse): void {
  if (socket.destroyed) return;
  const pairs = reply.headerPairs.filter(([k]) => k !== "connection");
  socket.end(
    Buffer.concat([
      Buffer.from(rawResponseHead(reply.status, pairs, [["connection", "close"]])),
      reply.bodyBytes,
    ]),
  );
}

export interface StreamSetup {
  rt: PluginRuntime;
  worker: number;
  route: Route | undefined;
  source: string;
  destination: string;
}

const PAUSE_LIMIT_MS = 30_000;

export class ProxiedStream {
  readonly stream: Stream;
  private done = false;

  constructor(
    private readonly s: StreamSetup,
    private readonly onEnd: (p: ProxiedStream) => void,
  ) {
    // Envoy resolves the route (and with it `cluster_name`) before the filter chain runs.
    this.stream = s.rt.gw.worker(s.worker).openStream({
      properties: {
        "source.address": s.source,
        "destination.address": s.destination,
        ...(s.route ? { cluster_name: s.route.cluster } : {}),
      },
    });
  }

  get worker(): number {
    return this.s.worker;
  }

  /** The plugin answered (admin path, 503 for a draining host, fail-closed after a trap). */
  get localResponse(): LocalResponse | undefined {
    return this.stream.localResponse;
  }

  get ended(): boolean {
    return this.done || this.stream.ended;
  }

  /** Runs a callback with the clock caught up, then sends the http calls it made. */
  private step<T>(fn: () => T, otherwise: T): T {
    if (this.ended) return otherwise;
    this.s.rt.sync();
    try {
      return fn();
    } catch (e) {
      // The host refuses calls once the gateway shut down or the VM was discarded: the
      // stream is over for the plugin, the proxy just stops calling it.
      if (!(e instanceof HostUsageError)) throw e;
      this.done = true;
      return otherwise;
    } finally {
      this.s.rt.dispatch();
      if (this.stream.ended) this.finish();
    }
  }

  requestHeaders(pairs: Pairs, endOfStream: boolean): Promise<boolean> {
    const a = this.step(() => this.stream.sendRequestHeaders(pairs, { endOfStream }), Action.Pause);
    return this.proceed(a, "request");
  }

  /** The router picked a host: `upstream.address` (and `cluster_name`) become readable. */
  connectUpstream(route: Route): void {
    if (!this.ended)
      this.stream.connectUpstream({ address: route.address, cluster: route.cluster });
  }

  /** Headers the plugin may have changed, to send on. */
  get forwardRequestHeaders(): Pairs {
    return this.stream.requestHeaders.pairs;
  }

  get forwardResponseHeaders(): Pairs {
    return this.stream.responseHeaders.pairs;
  }

  requestBody(chunk: Uint8Array, endOfStream: boolean): void {
    this.step(() => this.stream.sendRequestBody(chunk, endOfStream), Action.Continue);
  }

  responseHeaders(pairs: Pairs, endOfStream: boolean): Promise<boolean> {
    const a = this.step(
      () => this.stream.sendResponseHeaders(pairs, { endOfStream }),
      Action.Pause,
    );
    return this.proceed(a, "response");
  }

  responseBody(chunk: Uint8Array, endOfStream: boolean): void {
    this.step(() => this.stream.sendResponseBody(chunk, endOfStream), Action.Continue);
  }

  /** The stream is over (both sides done, or one reset): on_log, on_done, on_delete. */
  end(how: "close" | "reset"): void {
    if (this.done) return;
    this.s.rt.sync();
    try {
      if (how === "close") this.stream.close();
      else this.stream.reset();
    } catch {
      // Already ended by the plugin or a failed VM: nothing more to deliver.
    }
    this.s.rt.dispatch();
    this.finish();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.onEnd(this);
  }

  /**
   * True when the proxy may go on. A plugin that paused (waiting on an http call) resumes with
   * proxy_continue_stream; the host exposes only the paused flags, so poll them, bounded.
   */
  private async proceed(a: Action, side: "request" | "response"): Promise<boolean> {
    if (this.localResponse) return false;
    if (a === Action.Continue) return !this.stream.ended;
    const until = Date.now() + PAUSE_LIMIT_MS;
    while (this.stream.paused[side] && !this.stream.ended && !this.localResponse) {
      if (Date.now() > until) {
        this.end("reset");
        return false;
      }
      await new Promise((r) => setTimeout(r, 10));
      this.s.rt.sync();
    }
    return !this.stream.ended && !this.localResponse;
  }
}
