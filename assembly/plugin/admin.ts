// AdminEndpoint: the counts, answered by the plugin itself at admin.path with a local reply,
// never forwarded upstream. Access needs the bearer token and/or a source address inside
// admin.allowCidrs; without either configured the endpoint does not exist.

import { renderHostJson, renderJson, renderPrometheus } from "./admin_render";
import { parseSocketAddress } from "./cidr";
import { AdminConfig } from "./config";
import { ConnectionTable, HostCount } from "./connection_table";
import { normalizeAuthority } from "./host_key";

export class AdminRequest {
  method: string = "";
  path: string = "";
  authorization: string | null = null;
  accept: string | null = null;
  sourceAddress: string | null = null;
}

export class AdminReply {
  headers: Array<string> = [];
  constructor(
    public status: u32,
    public contentType: string,
    public body: string,
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
  return new AdminReply(status, "text/plain; charset=utf-8", reason + "\n");
}

class Query {
  host: string | null = null;
  format: string | null = null;
  error: string = "";
}

export class AdminEndpoint {
  constructor(
    public config: AdminConfig,
    public gateway: string,
    public table: ConnectionTable,
  ) {}

  /** Whether `path` (the request's :path) addresses the admin endpoint. */
  matches(path: string): bool {
    const base = this.config.path;
    if (!this.config.enabled || !path.startsWith(base)) return false;
    if (path.length == base.length) return true;
    const next = path.charCodeAt(base.length);
    return next == 0x3f || next == 0x2f; // '?' or '/'
  }

  handle(req: AdminRequest): AdminReply {
    const denied = this.checkAccess(req);
    if (denied !== null) return denied;
    const queryAt = req.path.indexOf("?");
    const resource = queryAt < 0 ? req.path : req.path.substring(0, queryAt);
    if (resource != this.config.path) return problem(404, "no such admin resource: " + resource);
    if (req.method != "GET" && req.method != "HEAD") {
      return problem(405, "method " + req.method + " not allowed; use GET").header(
        "allow",
        "GET, HEAD",
      );
    }
    const query = parseQuery(queryAt < 0 ? "" : req.path.substring(queryAt + 1));
    if (query.error.length > 0) return problem(400, query.error);
    let prometheus = false;
    if (query.format !== null) {
      prometheus = query.format! == "prometheus";
    } else if (req.accept !== null) {
      prometheus = req.accept!.includes("text/plain") && !req.accept!.includes("application/json");
    }
    if (query.host !== null) {
      const host = query.host!;
      const active = this.table.activeOf(host);
      if (prometheus) {
        const one = [new HostCount(host, active)];
        return new AdminReply(200, PROM_TYPE, renderPrometheus(this.gateway, one, 0));
      }
      return new AdminReply(200, JSON_TYPE, renderHostJson(this.gateway, host, active));
    }
    const snapshot = this.table.snapshot();
    if (prometheus) {
      return new AdminReply(
        200,
        PROM_TYPE,
        renderPrometheus(this.gateway, snapshot.hosts, snapshot.overflow),
      );
    }
    return new AdminReply(200, JSON_TYPE, renderJson(this.gateway, snapshot));
  }

  /** 403 for a source outside the allow-list, 401 for a missing or wrong token; else null. */
  private checkAccess(req: AdminRequest): AdminReply | null {
    const cidrs = this.config.allowCidrs;
    if (cidrs.length > 0) {
      const source = req.sourceAddress;
      let allowed = false;
      if (source !== null) {
        const ip = parseSocketAddress(source);
        if (ip !== null) {
          for (let i = 0; i < cidrs.length && !allowed; i++) {
            allowed = unchecked(cidrs[i]).contains(ip);
          }
        }
      }
      if (!allowed) return problem(403, "source address not allowed");
    }
    if (this.config.token.length > 0) {
      const auth = req.authorization;
      const given = auth !== null && auth.startsWith("Bearer ") ? auth.substring(7) : "";
      if (!constantTimeEquals(given, this.config.token)) {
        return problem(401, "missing or wrong bearer token").header(
          "www-authenticate",
          'Bearer realm="conn-drain"',
        );
      }
    }
    return null;
  }
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

function parseQuery(text: string): Query {
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
      const host = normalizeAuthority(value);
      if (host === null) {
        q.error = "query parameter host is not a valid host name";
        return q;
      }
      q.host = host;
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
    if (c < 0x21 || c > 0x7e) return "(unprintable)";
  }
  return s;
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
