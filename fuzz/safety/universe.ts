// The names the safety campaign's players, operators and attackers use, and how each `keyBy`
// turns them into the host key a stream is counted under. This is the reference definition the
// checker holds the plugin to, written independently of assembly/plugin/host_key.ts.

export type KeyBy = "authority" | "cluster" | "upstream";

/** Game servers: real hosts with players. Their clusters mix upper and lower case, as Nacos'. */
export const GAME_SERVERS = 10;

export interface Endpoint {
  authority: string;
  cluster: string;
  upstream: string;
}

/**
 * Game server `g`: one authority, one cluster and one pod address. Odd servers have Nacos-style
 * cluster names with upper case (Envoy cluster names are case-sensitive); each name is used with
 * exactly one spelling, so no two servers' keys differ only in case or port.
 */
export function gameServer(g: number): Endpoint {
  return {
    authority: `game${g}.example.com`,
    cluster:
      g % 2 === 1
        ? `outbound|8080||game${g}.DEFAULT-GROUP.public.nacos`
        : `outbound|5000||game${g}.default.svc.cluster.local`,
    upstream: `10.1.${g}.5:5000`,
  };
}

/** An invented host of a flood (an attacker's Host header; its own cluster so any keyBy fills). */
export function floodHost(n: number): Endpoint {
  return {
    authority: `f${n.toString(36)}.flood.example`,
    cluster: `outbound|5000||f${n.toString(36)}.flood.svc.cluster.local`,
    upstream: `10.9.${(n >>> 8) & 255}.${n & 255}:5000`,
  };
}

/** Host id: 0..GAME_SERVERS-1 are game servers, 1000+ are flood hosts. */
export const FLOOD_BASE = 1000;

export function endpoint(host: number): Endpoint {
  return host >= FLOOD_BASE ? floodHost(host - FLOOD_BASE) : gameServer(host);
}

/**
 * An authority as a client may send it: `form` picks the letters in upper case and an optional
 * port. Every form names the same host under `keyBy: authority`.
 */
export function spellAuthority(base: string, form: number): string {
  let s = "";
  const mixed = (form & 0x10000) !== 0;
  for (let i = 0; i < base.length; i++) {
    const c = base[i] as string;
    s += mixed && ((form >>> (i % 16)) & 1) === 1 ? c.toUpperCase() : c;
  }
  const port = (form >>> 17) % 6;
  if (port === 3) s += ":443";
  else if (port === 4) s += ":8080";
  else if (port === 5) s += ":80";
  return s;
}

/** How an operator names host `host` in a drain request or config under `keyBy`. */
export function spellFor(host: number, keyBy: KeyBy, form: number): string {
  const e = endpoint(host);
  if (keyBy === "authority") return spellAuthority(e.authority, form);
  return keyBy === "cluster" ? e.cluster : e.upstream;
}

/** The key a name denotes under `keyBy`: authorities ignore case and port; the rest are exact. */
export function canonical(name: string, keyBy: KeyBy): string {
  if (keyBy !== "authority") return name;
  const lower = name.toLowerCase();
  const colon = lower.lastIndexOf(":");
  if (colon > 0 && lower.indexOf(":") === colon && /^\d+$/.test(lower.slice(colon + 1))) {
    return lower.slice(0, colon);
  }
  return lower;
}

const IPV4_PORT = /^\d+\.\d+\.\d+\.\d+:\d+$/;

/**
 * What a signal about `name` could be read as naming, whatever keyBy produced it: lower case, and
 * an authority's port dropped (an upstream address keeps its port, which is part of it). Two
 * names of the campaign's universe are "the same host" to an operator exactly when these agree.
 */
export function loose(name: string): string {
  const lower = name.toLowerCase();
  if (IPV4_PORT.test(lower) || lower.includes("|")) return lower;
  return canonical(lower, "authority");
}

/** The key a stream of `host` is counted under with `keyBy`. */
export function streamKey(host: number, keyBy: KeyBy, authorityForm: number): string {
  const e = endpoint(host);
  if (keyBy === "authority") return canonical(spellAuthority(e.authority, authorityForm), keyBy);
  return keyBy === "cluster" ? e.cluster : e.upstream;
}

/** Which family a key belongs to (the campaign's names never overlap between families). */
export function familyOf(key: string): KeyBy {
  if (key.includes("|")) return "cluster";
  if (IPV4_PORT.test(key)) return "upstream";
  return "authority";
}

/**
 * Whether `key` is tracked under the `hosts` patterns (exact names or `*.suffix`), each pattern
 * read the way stream keys are under `keyBy`: case-insensitive for authorities, exact otherwise.
 */
export function tracked(patterns: readonly string[], key: string, keyBy: KeyBy): boolean {
  if (patterns.length === 0) return true;
  for (const p of patterns) {
    if (p.startsWith("*.")) {
      const suffix = keyBy === "authority" ? p.slice(1).toLowerCase() : p.slice(1);
      if (key.length > suffix.length && key.endsWith(suffix)) return true;
    } else if (canonical(p, keyBy) === key) {
      return true;
    }
  }
  return false;
}
