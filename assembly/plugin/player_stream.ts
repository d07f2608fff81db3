// One HTTP stream through the gateway, from the plugin's point of view: it is counted against
// its upstream host from the moment the host key is known until the stream ends, and released
// exactly once, whichever of on_log / on_done comes first.
import { HttpContext } from "../abi/context";
import { Action, HeaderMap, LogLevel } from "../abi/enums";
import {
  getHeaderBytes,
  getProperty,
  getPropertyString,
  getRequestHeader,
  HeaderPair,
  log,
  logEnabled,
  sendLocalResponse,
} from "../abi/hostcalls";
import { AdminRequest } from "./admin";
import { KeyBy } from "./config";
import { Lease } from "./connection_table";
import { streamKey } from "./host_key";
import { ConnDrainRoot, table } from "./root";

export class PlayerStream extends HttpContext {
  private lease: Lease | null = null;
  /** Answered by the plugin itself (admin path): never counted, response callbacks ignored. */
  private local: bool = false;
  private ended: bool = false;

  onRequestHeaders(headers: u32, endOfStream: bool): u32 {
    const root = this.root as ConnDrainRoot;
    const config = root.config;
    if (config === null) return Action.Continue;
    // Headers can only be read now: Envoy drops them once this callback returns Continue.
    // :path matters only when the admin endpoint is on; otherwise save the host call.
    const admin = root.admin;
    if (admin !== null && config.admin.enabled) {
      const path = getRequestHeader(":path");
      if (path !== null && admin.matches(path)) {
        this.local = true;
        this.answerAdmin(path);
        return Action.Pause;
      }
    }
    if (config.keyBy == KeyBy.Authority) {
      const authority = getHeaderBytes(HeaderMap.RequestHeaders, ":authority");
      this.count(streamKey(KeyBy.Authority, authority));
    } else if (config.keyBy == KeyBy.Cluster) {
      this.count(streamKey(KeyBy.Cluster, getProperty(["cluster_name"])));
    }
    return this.local ? Action.Pause : Action.Continue;
  }

  onResponseHeaders(headers: u32, endOfStream: bool): u32 {
    if (this.local || this.ended) return Action.Continue;
    const root = this.root as ConnDrainRoot;
    const config = root.config;
    if (config === null) return Action.Continue;
    if (config.keyBy == KeyBy.Upstream) {
      // Envoy knows the upstream address only once it picked an upstream host.
      const address = getProperty(["upstream", "address"]);
      if (address === null) return Action.Continue;
      this.count(streamKey(KeyBy.Upstream, address));
      if (this.local) return Action.Pause;
      if (this.lease !== null) table.grantGauge(this.lease!);
    } else if (this.lease !== null && table.wantsGauge(this.lease!)) {
      // Only hosts that really reached an upstream earn a gauge (Envoy never frees one).
      if (getProperty(["upstream", "address"]) !== null) table.grantGauge(this.lease!);
    }
    return Action.Continue;
  }

  onLog(): void {
    this.end();
  }

  onDone(): void {
    this.end();
  }

  private count(key: string | null): void {
    if (key === null) {
      if (logEnabled(LogLevel.Debug)) log(LogLevel.Debug, "stream without a usable host key");
      return;
    }
    const root = this.root as ConnDrainRoot;
    const config = root.config!;
    if (!config.hosts.matches(key)) return;
    this.lease = table.open(key, config.drain.rejectNew);
    if (this.lease === null && table.lastRejected)
      this.refuseDraining(config.drain.retryAfterSeconds);
  }

  /** drain.rejectNew: a new player for a draining host is turned away; existing ones stay. */
  private refuseDraining(retryAfterSeconds: i32): void {
    this.local = true;
    const headers: HeaderPair[] = [];
    headers.push(new HeaderPair("retry-after", retryAfterSeconds.toString()));
    headers.push(new HeaderPair("x-conn-drain", "draining"));
    headers.push(new HeaderPair("content-type", "text/plain; charset=utf-8"));
    const body = String.UTF8.encode("this game server is draining; try again shortly\n");
    sendLocalResponse(503, "conn_drain_draining", body, headers);
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.lease !== null) {
      table.close(this.lease!);
      this.lease = null;
    }
  }

  private answerAdmin(path: string): void {
    const root = this.root as ConnDrainRoot;
    const req = new AdminRequest();
    req.path = path;
    const method = getRequestHeader(":method");
    req.method = method === null ? "" : method;
    req.authorization = getRequestHeader("authorization");
    req.accept = getRequestHeader("accept");
    req.sourceAddress = getPropertyString(["source", "address"]);
    req.origin = getRequestHeader("origin");
    req.secFetchSite = getRequestHeader("sec-fetch-site");
    const reply = root.admin!.handle(req);
    const headers: HeaderPair[] = [];
    headers.push(new HeaderPair("content-type", reply.contentType));
    headers.push(new HeaderPair("cache-control", "no-store"));
    for (let i = 0; i + 1 < reply.headers.length; i += 2) {
      headers.push(new HeaderPair(unchecked(reply.headers[i]), unchecked(reply.headers[i + 1])));
    }
    const body = req.method == "HEAD" ? new ArrayBuffer(0) : reply.body;
    sendLocalResponse(reply.status, "conn_drain_admin", body, headers);
  }
}
