// One HTTP stream through the gateway, from the plugin's point of view: it is counted against
// its upstream host from the moment the host key is known until the stream ends, and released
// exactly once, whichever of on_log / on_done comes first. The root hands it the config, the
// VM's table and the admin endpoint when it is created.
import { HttpContext, RootContext } from "../abi/context";
import { Action, HeaderMap, LogLevel, WasmResult } from "../abi/enums";
import {
  getHeaderRaw,
  getPropertyRaw,
  getPropertyString,
  getRequestHeader,
  HeaderPair,
  log,
  logEnabled,
  nowMillis,
  rawPtr,
  rawSize,
  releaseRaw,
  sendLocalResponse,
} from "../abi/hostcalls";
import { AdminEndpoint, AdminRequest } from "./admin";
import { Config, KeyBy } from "./config";
import { ConnectionTable } from "./connection_table";
import { HostEntry, Lease } from "./host_cache";
import { playerInPath, playerOf } from "./player_identity";
import { IdentityFrom } from "./players_config";
import { admitIfReturning } from "./returning";

// Names and property paths, encoded once (property path segments are NUL-separated).
const PATH = String.UTF8.encode(":path");
const AUTHORITY = String.UTF8.encode(":authority");
const CLUSTER_NAME = String.UTF8.encode("cluster_name");
const UPSTREAM_ADDRESS = String.UTF8.encode("upstream\0address");

/** What counting a stream came to. */
enum Verdict {
  Counted,
  /** No usable host key, or a host `hosts` does not track. */
  NotCounted,
  /** A new player for a draining host, under drain.rejectNew. */
  Refused,
}

export class PlayerStream extends HttpContext {
  private lease: Lease | null = null;
  /** Answered by the plugin itself: never counted, response callbacks ignored. */
  private local: bool = false;
  private ended: bool = false;
  /** Entered in its host's roster (lease.rosterKey): its config keeps rosters, and it had room. */
  private entered: bool = false;
  /** The player's hashed identity (players configured), 0 for a stranger. */
  private player: u64 = 0;

  constructor(
    id: u32,
    root: RootContext,
    private config: Config,
    private table: ConnectionTable,
    private admin: AdminEndpoint | null,
  ) {
    super(id, root);
  }

  onRequestHeaders(headers: u32, endOfStream: bool): u32 {
    // Headers can only be read now: Envoy drops them once this callback returns Continue.
    const admin = this.admin;
    const players = this.config.players;
    const byQuery = players.from == IdentityFrom.Query;
    // One read of :path serves both the admin check and a query-parameter identity.
    if (
      (admin !== null || byQuery) &&
      getHeaderRaw(HeaderMap.RequestHeaders, PATH) == WasmResult.Ok
    ) {
      const p = rawPtr();
      const size = rawSize();
      const path =
        admin !== null && admin.matchesAt(p, size) ? String.UTF8.decodeUnsafe(p, size) : null;
      if (byQuery && path === null)
        this.player = playerInPath(players, this.table.playerKey, p, size);
      releaseRaw(p);
      if (path !== null) {
        this.local = true;
        this.answerAdmin(admin!, path);
        return Action.Pause;
      }
    }
    if (players.enabled && !byQuery) this.player = playerOf(players, this.table.playerKey);
    const keyBy = this.config.keyBy;
    if (keyBy == KeyBy.Upstream) return Action.Continue;
    // Envoy resolves the route, and with it cluster_name, before the filter chain runs.
    const status =
      keyBy == KeyBy.Authority
        ? getHeaderRaw(HeaderMap.RequestHeaders, AUTHORITY)
        : getPropertyRaw(CLUSTER_NAME);
    if (this.count(this.hostOf(status)) == Verdict.Refused) {
      this.refuseDraining();
      return Action.Pause;
    }
    return Action.Continue;
  }

  onResponseHeaders(headers: u32, endOfStream: bool): u32 {
    if (this.local || this.ended) return Action.Continue;
    const byUpstream = this.config.keyBy == KeyBy.Upstream;
    if (byUpstream) {
      // Envoy knows the upstream address only once it picked an upstream host.
      if (this.count(this.hostOf(getPropertyRaw(UPSTREAM_ADDRESS))) == Verdict.Refused) {
        this.refuseDraining();
        return Action.Pause;
      }
    }
    const lease = this.lease;
    // Only hosts that really reached an upstream earn a gauge (Envoy never frees one). Keyed by
    // upstream, a lease was made from the upstream address itself, so it is not read again.
    if (lease !== null && this.table.gauges.wanted(lease) && (byUpstream || this.hasUpstream())) {
      this.table.gauges.grant(lease);
    }
    return Action.Continue;
  }

  onLog(): void {
    this.end();
  }

  onDone(): void {
    this.end();
  }

  private count(entry: HostEntry | null): Verdict {
    if (entry === null) {
      if (logEnabled(LogLevel.Debug)) log(LogLevel.Debug, "stream without a usable host key");
      return Verdict.NotCounted;
    }
    if (!entry.tracked(this.config.hosts)) return Verdict.NotCounted;
    const table = this.table;
    let lease = table.open(entry, this.config.drain.rejectNew);
    // Refused because the host drains (or was just drained): unless the player is coming back.
    if (lease === null) lease = admitIfReturning(table, entry, this.player);
    if (lease === null) return Verdict.Refused;
    this.lease = lease;
    // Every stream of a host with a slot is entered, identified or not (players.ts says why).
    const roster = lease.rosterKey;
    if (this.config.players.enabled && roster !== null) {
      const max = this.config.players.maxPerHost;
      this.entered = table.roster.join(roster, entry.hostBytes, this.player, max);
    }
    return Verdict.Counted;
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    const lease = this.lease;
    if (lease === null) return;
    this.lease = null;
    const table = this.table;
    const drain = table.close(lease);
    const roster = lease.rosterKey;
    if (!this.entered || roster === null) return;
    // A player leaving a draining host is remembered for the episode's grace, to be let back in.
    const remember = drain !== null && drain.graceSeconds > 0;
    const now = remember ? nowMillis() : 0;
    const forgetBefore = remember ? now - <i64>drain!.graceSeconds * 1000 : 0;
    const rules = this.config.drain;
    const host = lease.entry.hostBytes;
    table.roster.leave(roster, host, this.player, now, forgetBefore, rules.rememberPlayers);
  }

  /** The host of the value a raw read just returned (`status`), read in place. */
  private hostOf(status: u32): HostEntry | null {
    if (status != WasmResult.Ok) return null;
    const p = rawPtr();
    const entry = this.table.hosts.lookup(this.config.keyBy, p, rawSize());
    releaseRaw(p);
    return entry;
  }

  private hasUpstream(): bool {
    if (getPropertyRaw(UPSTREAM_ADDRESS) != WasmResult.Ok) return false;
    releaseRaw(rawPtr());
    return true;
  }

  /** drain.rejectNew: a new player for a draining host is turned away; existing ones stay. */
  private refuseDraining(): void {
    this.local = true;
    const headers: HeaderPair[] = [];
    headers.push(new HeaderPair("retry-after", this.config.drain.retryAfterSeconds.toString()));
    headers.push(new HeaderPair("x-conn-drain", "draining"));
    headers.push(new HeaderPair("content-type", "text/plain; charset=utf-8"));
    const body = String.UTF8.encode("this game server is draining; try again shortly\n");
    sendLocalResponse(503, "conn_drain_draining", body, headers);
  }

  private answerAdmin(admin: AdminEndpoint, path: string): void {
    const req = new AdminRequest();
    req.path = path;
    const method = getRequestHeader(":method");
    req.method = method === null ? "" : method;
    req.authorization = getRequestHeader("authorization");
    req.accept = getRequestHeader("accept");
    req.sourceAddress = getPropertyString(["source", "address"]);
    req.origin = getRequestHeader("origin");
    req.secFetchSite = getRequestHeader("sec-fetch-site");
    const reply = admin.handle(req);
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
