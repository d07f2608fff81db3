// AdminEndpoint: the counts, answered by the plugin itself at admin.path with a local reply,
// never forwarded upstream. Reads need the bearer token and/or a source address inside
// admin.allowCidrs; state changes always need the token and are refused from browsers (see
// checkAccess). Without a token or an allow-list configured the endpoint does not exist.

import { nowMillis } from "../abi/hostcalls";
import { renderHostJson, renderJson, renderPrometheus } from "./admin_render";
import { ByteBuffer } from "./byte_buffer";
import { parseSocketAddress } from "./cidr";
import { AdminConfig, DrainConfig, KeyBy } from "./config";
import { ConnectionTable } from "./connection_table";
import { DrainSource } from "./drain";
import { writeDrainJson } from "./drain_render";
import { DrainOutcome, Drains } from "./drains";
import { checkedKey, hostKeyFor, isKeyChar } from "./host_key";
import { byHost, HostCount, hostCount, snapshot } from "./table_view";

export class AdminRequest {
  method: string = "";
  path: string = "";
  authorization: string | null = null;
  accept: string | null = null;
  sourceAddress: string | null = null;
  /** Browsers send these; API clients (curl, the CLI, the probe) do not. */
  origin: string | null = null;
  secFetchSite: string | null = null;
}

export class AdminReply {
  headers: Array<string> = [];
  constructor(
    public status: u32,
    public contentType: string,
    public body: ArrayBuffer,
  ) {}

  header(name: string, value: string): AdminReply {
    this.headers.push(name);
    this.headers.push(value);
    return this;
  }
}

const JSON_TYPE = "application/json";
const PROM_TYPE = "text/plain; version=0.0.4; charset=utf-8";

function problem(status: u32, reason: string): AdminReply {
  return new AdminReply(status, "text/plain; charset=utf-8", String.UTF8.encode(reason + "\n"));
}

class Query {
  host: string | null = null;
  format: string | null = null;
  /** -1 when absent. */
  deadlineSeconds: i32 = -1;
  error: string = "";
}

export class AdminEndpoint {
  constructor(
    public config: AdminConfig,
    public gateway: string,
    public table: ConnectionTable,
    public drains: Drains,
    /** The drain terms of this endpoint's config, copied into each drain it starts. */
    public rules: DrainConfig,
    public keyBy: KeyBy,
    /** Whether this config keeps rosters: answers then carry distinct players. */
    public players: bool,
  ) {}

  /** admin.path as bytes, to test every stream's :path without decoding it. */
  private base: ArrayBuffer = new ArrayBuffer(0);

  /** Whether `path` (the request's :path) addresses the admin endpoint. */
  matches(path: string): bool {
    const bytes = String.UTF8.encode(path);
    return this.matchesAt(changetype<usize>(bytes), <usize>bytes.byteLength);
  }

  /** matches() on the raw :path bytes at `p` (what every stream pays: a compare, no copy). */
  matchesAt(p: usize, size: usize): bool {
    // (Root makes an endpoint only for a config that enables it.)
    if (this.base.byteLength == 0) this.base = String.UTF8.encode(this.config.path);
    const n = <usize>this.base.byteLength;
    if (size < n || memory.compare(p, changetype<usize>(this.base), n) != 0) return false;
    if (size == n) return true;
    const next = load<u8>(p + n);
    return next == 0x3f || next == 0x2f; // '?' or '/'
  }

  handle(req: AdminRequest): AdminReply {
    const denied = this.checkAccess(req);
    if (denied !== null) return denied;
    const queryAt = req.path.indexOf("?");
    const resource = queryAt < 0 ? req.path : req.path.substring(0, queryAt);
    const query = parseQuery(queryAt < 0 ? "" : req.path.substring(queryAt + 1), this.keyBy);
    if (resource == this.config.path) {
      if (req.method != "GET" && req.method != "HEAD") return notAllowed(req.method, "GET, HEAD");
      if (query.error.length > 0) return problem(400, query.error);
      if (query.deadlineSeconds >= 0)
        return problem(400, "unknown query parameter deadlineSeconds");
      return this.counts(req, query);
    }
    if (resource == this.config.path + "/drain") {
      if (query.error.length > 0) return problem(400, query.error);
      if (query.format !== null) return problem(400, "unknown query parameter format");
      return this.drain(req, query);
    }
    return problem(404, "no such admin resource: " + resource);
  }

  private counts(req: AdminRequest, query: Query): AdminReply {
    let prometheus = false;
    if (query.format !== null) {
      prometheus = query.format! == "prometheus";
    } else if (req.accept !== null) {
      prometheus = req.accept!.includes("text/plain") && !req.accept!.includes("application/json");
    }
    if (query.host !== null) {
      const one = hostCount(this.table, query.host!, this.players);
      if (prometheus) {
        return new AdminReply(
          200,
          PROM_TYPE,
          renderPrometheus(this.gateway, [one], one.overflow, nowMillis()),
        );
      }
      return new AdminReply(200, JSON_TYPE, renderHostJson(this.gateway, one));
    }
    const all = snapshot(this.table, this.players);
    if (prometheus) {
      return new AdminReply(
        200,
        PROM_TYPE,
        renderPrometheus(this.gateway, all.hosts, all.overflow, nowMillis()),
      );
    }
    return new AdminReply(200, JSON_TYPE, renderJson(this.gateway, all));
  }

  /** POST starts (or returns the running) drain, DELETE cancels it, GET lists drains. */
  private drain(req: AdminRequest, query: Query): AdminReply {
    if (req.method == "GET" || req.method == "HEAD") {
      if (query.host !== null || query.deadlineSeconds >= 0) {
        return problem(400, "GET " + this.config.path + "/drain takes no parameters");
      }
      return new AdminReply(200, JSON_TYPE, this.drainList());
    }
    if (req.method != "POST" && req.method != "DELETE")
      return notAllowed(req.method, "GET, HEAD, POST, DELETE");
    if (query.host === null) return problem(400, "query parameter host is required");
    const host = query.host!;
    let outcome: DrainOutcome;
    if (req.method == "POST") {
      const deadline =
        query.deadlineSeconds >= 0 ? query.deadlineSeconds : this.rules.deadlineSeconds;
      outcome = this.drains.start(host, deadline, this.rules, DrainSource.Admin);
    } else {
      if (query.deadlineSeconds >= 0) return problem(400, "DELETE takes no deadlineSeconds");
      outcome = this.drains.cancel(host);
    }
    if (outcome.drain === null) return problem(outcome.status, outcome.error);
    // Re-read so the answer shows a completion that happened in this very request.
    const current = hostCount(this.table, host, this.players);
    const active = current.active;
    const d = current.drain !== null ? current.drain! : outcome.drain!;
    const out = new ByteBuffer(512);
    out.str('{"gateway":').json(this.gateway).str(',"drain":');
    writeDrainJson(out, host, active, d);
    if (outcome.error.length > 0) out.str(',"error":').json(outcome.error);
    out.str("}\n");
    return new AdminReply(outcome.status, JSON_TYPE, out.bytes());
  }

  private drainList(): ArrayBuffer {
    const all = snapshot(this.table, this.players);
    const drained: HostCount[] = [];
    for (let i = 0; i < all.hosts.length; i++) {
      const h = unchecked(all.hosts[i]);
      if (h.drain !== null) drained.push(h);
    }
    drained.sort(byHost);
    const out = new ByteBuffer(64 + drained.length * 300);
    out.str('{"gateway":').json(this.gateway).str(',"drains":[');
    for (let i = 0; i < drained.length; i++) {
      const h = unchecked(drained[i]);
      if (i > 0) out.byte(0x2c);
      writeDrainJson(out, h.host, h.active, h.drain!);
    }
    out.str("]}\n");
    return out.bytes();
  }

  /**
   * Null when `req` may proceed, else the refusal. Reads (GET, HEAD): a source inside allowCidrs
   * when that is set (403), and the bearer token when that is set (401). Any other method may
   * change state and must also: not come from a browser (403), and carry the bearer token
   * whatever allowCidrs says: 403 when no token is configured, 401 when it is missing or wrong.
   * `source.address` is only as trustworthy as Envoy's XFF settings (README, "Admin access"), so
   * a CIDR may admit a reader but never a writer on its own.
   */
  private checkAccess(req: AdminRequest): AdminReply | null {
    if (!this.sourceAllowed(req.sourceAddress)) return problem(403, "source address not allowed");
    const token = this.config.token;
    if (req.method != "GET" && req.method != "HEAD") {
      const browser = browserRefusal(req);
      if (browser !== null) return problem(403, browser);
      if (token.length == 0) {
        return problem(
          403,
          "a bearer token is required for state changes (POST, DELETE) and admin.token is not" +
            " set: admin.allowCidrs alone admits reads only",
        );
      }
    }
    if (token.length > 0 && !constantTimeEquals(bearerToken(req.authorization), token)) {
      return problem(401, "missing or wrong bearer token").header(
        "www-authenticate",
        'Bearer realm="conn-drain"',
      );
    }
    return null;
  }

  /** True without an allow-list; else the source must parse and fall inside one of the CIDRs. */
  private sourceAllowed(source: string | null): bool {
    const cidrs = this.config.allowCidrs;
    if (cidrs.length == 0) return true;
    if (source === null) return false;
    const ip = parseSocketAddress(source);
    if (ip === null) return false;
    for (let i = 0; i < cidrs.length; i++) {
      if (unchecked(cidrs[i]).contains(ip)) return true;
    }
    return false;
  }
}

/**
 * Why a state change is refused as coming from a browser, or null. Any `Origin` (even one equal
 * to the gateway's: the admin path answers under every host the gateway serves, so a page proxied
 * by the same gateway is "same-origin") and any `Sec-Fetch-Site` but `none` (typed by the user)
 * mark a browser request that a page could have made on the user's behalf.
 */
function browserRefusal(req: AdminRequest): string | null {
  if (req.origin !== null) {
    return "state changes are refused from browsers: the request carries Origin";
  }
  const site = req.secFetchSite;
  if (site !== null && site != "none") {
    return (
      "state changes are refused from browsers: the request carries Sec-Fetch-Site " + safe(site)
    );
  }
  return null;
}

/**
 * The credentials of `Authorization: Bearer <token>`, or "" for none or another scheme. The
 * scheme is matched case-insensitively and followed by one or more spaces (RFC 7235 2.1).
 */
function bearerToken(auth: string | null): string {
  if (auth === null) return "";
  const a = auth;
  if (a.length < 8 || a.substring(0, 6).toLowerCase() != "bearer" || a.charCodeAt(6) != 0x20) {
    return "";
  }
  let i = 7;
  while (i < a.length && a.charCodeAt(i) == 0x20) i++;
  return a.substring(i);
}

function notAllowed(method: string, allow: string): AdminReply {
  return problem(405, "method " + safe(method) + " not allowed; use " + allow).header(
    "allow",
    allow,
  );
}

/** Compares without an early exit, so response timing does not reveal a token prefix. */
export function constantTimeEquals(given: string, expected: string): bool {
  let diff: i32 = given.length ^ expected.length;
  for (let i = 0; i < expected.length; i++) {
    const g = i < given.length ? given.charCodeAt(i) : 0;
    diff |= g ^ expected.charCodeAt(i);
  }
  return diff == 0;
}

/** Parses the query; a host key is normalized the way streams' keys are under `keyBy`. */
function parseQuery(text: string, keyBy: KeyBy): Query {
  const q = new Query();
  if (text.length == 0) return q;
  if (text.length > 2048) {
    q.error = "query string longer than 2048 bytes";
    return q;
  }
  const pairs = text.split("&");
  for (let i = 0; i < pairs.length; i++) {
    const pair = unchecked(pairs[i]);
    if (pair.length == 0) continue;
    const eq = pair.indexOf("=");
    const name = eq < 0 ? pair : pair.substring(0, eq);
    const raw = eq < 0 ? "" : pair.substring(eq + 1);
    const value = percentDecode(raw);
    if (value === null) {
      q.error = "bad percent-encoding in query parameter " + safe(name);
      return q;
    }
    if (name == "host") {
      if (q.host !== null) {
        q.error = "query parameter host given twice";
        return q;
      }
      if (checkedKey(value) === null) {
        q.error = "query parameter host is not a valid host key";
        return q;
      }
      // The rule config and stream keys follow (host_key.ts), so ?host= names the same key.
      const host = hostKeyFor(keyBy, value);
      if (host.key === null) {
        q.error = "query parameter host: " + host.problem;
        return q;
      }
      q.host = host.key;
    } else if (name == "deadlineSeconds") {
      const n = parseSeconds(value);
      if (q.deadlineSeconds >= 0 || n < 0) {
        q.error = "query parameter deadlineSeconds must be one integer from 0 to 2592000";
        return q;
      }
      q.deadlineSeconds = n;
    } else if (name == "format") {
      if (value != "json" && value != "prometheus") {
        q.error = "query parameter format must be json or prometheus";
        return q;
      }
      q.format = value;
    } else {
      q.error = "unknown query parameter " + safe(name);
      return q;
    }
  }
  return q;
}

/** Echoes a client-supplied name only if it is short printable ASCII. */
function safe(s: string): string {
  if (s.length > 32) return "(too long)";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!isKeyChar(c)) return "(unprintable)";
  }
  return s;
}

function parseSeconds(s: string): i32 {
  if (s.length == 0 || s.length > 7) return -1;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
    n = n * 10 + (c - 0x30);
  }
  return n <= 30 * 86400 ? n : -1;
}

function hexValue(c: i32): i32 {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/** Decodes %XX escapes; only ASCII results are accepted (host names are ASCII). */
function percentDecode(s: string): string | null {
  if (!s.includes("%")) return s;
  const out: string[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c != 0x25) {
      out.push(String.fromCharCode(c));
      continue;
    }
    if (i + 2 >= s.length) return null;
    const hi = hexValue(s.charCodeAt(i + 1));
    const lo = hexValue(s.charCodeAt(i + 2));
    if (hi < 0 || lo < 0) return null;
    const byte = (hi << 4) | lo;
    if (byte >= 0x80) return null;
    out.push(String.fromCharCode(byte));
    i += 2;
  }
  return out.join("");
}
