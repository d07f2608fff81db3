// The host key a stream is counted under, and the one rule per keyBy that brings every other
// name of a host (hosts, drain.hosts, ?host=, the CLI's --host) to that same key. Counting and
// draining only agree when both sides went through this file: see docs/design.md, "Host keys".
import { parseIp } from "./cidr";

/** What a stream is counted under (config field keyBy). */
export enum KeyBy {
  Authority,
  Cluster,
  Upstream,
}

export const MAX_KEY_LENGTH = 255;

// ---- stream keys (hot path: no allocation beyond the key itself) ----------------------------

/**
 * Lower-cases an authority and strips its port ("Game1.Example.com:443" -> "game1.example.com",
 * "[::1]:80" -> "[::1]"). Returns null for a value that cannot be a host key: empty, too long,
 * or with bytes outside printable ASCII (the Host header is client-controlled).
 */
export function normalizeAuthority(authority: string): string | null {
  let host = authority;
  if (host.startsWith("[")) {
    const close = host.indexOf("]");
    if (close < 0) return null;
    host = host.substring(0, close + 1);
  } else {
    const colon = host.lastIndexOf(":");
    if (colon >= 0 && host.indexOf(":") == colon && allDigits(host, colon + 1)) {
      host = host.substring(0, colon);
    }
  }
  return validKey(host) ? asciiLower(host) : null;
}

/** Printable ASCII without spaces, 1 to 255 characters: what any host key is made of. */
export function checkedKey(value: string): string | null {
  return validKey(value) ? value : null;
}

// ---- operator input: hosts, drain.hosts, ?host= ---------------------------------------------

/** An operator's host name in key form, or why no stream could ever be counted under it. */
export class HostKey {
  constructor(
    public key: string | null,
    public problem: string,
  ) {}
}

/** The first entry of a list that no stream could match (its index and why). */
export class BadEntry {
  constructor(
    public index: i32,
    public problem: string,
  ) {}
}

export function keyByName(keyBy: KeyBy): string {
  if (keyBy == KeyBy.Cluster) return "cluster";
  if (keyBy == KeyBy.Upstream) return "upstream";
  return "authority";
}

/**
 * The key an operator's host name stands for under keyBy, or null (reason in hostKeyProblem())
 * when no stream could ever be counted under it:
 * - authority: the Host header rule of normalizeAuthority (lower case, port stripped), and a
 *   character Envoy refuses in a Host header is rejected (such a request never reaches us);
 * - cluster: the name exactly, case-sensitive;
 * - upstream: an IPv4 or bracketed IPv6 address with a port, rewritten as Envoy prints it
 *   ("[FD00:0::1]:05000" -> "[fd00::1]:5000"); anything else is rejected.
 */
export function hostKeyFor(keyBy: KeyBy, text: string): HostKey {
  const invalid = textProblem(text);
  if (invalid.length > 0) return fail(invalid);
  let key: string | null = text;
  if (keyBy == KeyBy.Authority) {
    const notHost = authorityProblem(text);
    if (notHost.length > 0) return fail(notHost);
    key = normalizeAuthority(text);
    if (key === null && text.startsWith("[") && text.indexOf("]") < 0) {
      return fail(under(keyBy) + quote(text) + " lacks the ']' closing its IPv6 address");
    }
    if (key === null && text.length <= MAX_KEY_LENGTH) {
      return fail(under(keyBy) + quote(text) + " has no host before its port");
    }
    if (key === null) {
      return fail("a host key is at most 255 characters, got " + text.length.toString());
    }
  } else if (keyBy == KeyBy.Upstream) {
    key = canonicalAddress(text);
    if (key === null) {
      return fail(
        under(keyBy) +
          "a host key is an address with a port such as 10.1.0.5:5000, got " +
          quote(text),
      );
    }
  }
  if (key.length > MAX_KEY_LENGTH) {
    return fail("a host key is at most 255 characters, got " + key.length.toString());
  }
  return new HostKey(key, "");
}

/**
 * A `hosts` entry brought to the form stream keys are matched in, or null (reason in
 * hostKeyProblem()). The syntax ("exact" or "*.suffix") is checked first by patternProblem.
 * Exact entries follow hostKeyFor; a "*.suffix" is lower-cased under authority (its port, if
 * any, stripped), kept as written under cluster, and refused under upstream.
 */
export function hostPatternFor(keyBy: KeyBy, pattern: string): HostKey {
  if (!pattern.startsWith("*.")) return hostKeyFor(keyBy, pattern);
  if (keyBy == KeyBy.Upstream) {
    return fail(
      under(keyBy) +
        "hosts lists addresses with a port such as 10.1.0.5:5000; a '*' pattern never matches one",
    );
  }
  if (keyBy == KeyBy.Authority) {
    const notHost = authorityProblem(pattern);
    if (notHost.length > 0) return fail(notHost);
  }
  const key = keyBy == KeyBy.Cluster ? pattern : normalizeAuthority(pattern);
  // "*.suffix" matches keys longer than the suffix, and no key is longer than 255 characters.
  if (key === null || key.length > MAX_KEY_LENGTH) {
    return fail("a '*.suffix' pattern longer than 255 characters never matches a host key");
  }
  if (key.length < 3) return fail(under(keyBy) + quote(pattern) + " has no suffix before its port");
  return new HostKey(key, "");
}

/**
 * Fills `into` with the keys of `written` (drain.hosts), each once: "game1.example.com:443" and
 * "Game1.example.com" are one host under authority. Returns the first entry no stream can
 * match, or null.
 */
export function hostKeysFor(
  keyBy: KeyBy,
  written: Array<string>,
  into: Array<string>,
): BadEntry | null {
  for (let i = 0; i < written.length; i++) {
    const k = hostKeyFor(keyBy, unchecked(written[i]));
    const key = k.key;
    if (key === null) return new BadEntry(i, k.problem);
    if (!into.includes(key)) into.push(key);
  }
  return null;
}

function fail(reason: string): HostKey {
  return new HostKey(null, reason);
}

function under(keyBy: KeyBy): string {
  return 'under keyBy "' + keyByName(keyBy) + '" ';
}

/** Echoes at most 40 characters; callers only pass text textProblem accepted (printable). */
function quote(s: string): string {
  return '"' + (s.length > 40 ? s.substring(0, 40) + "…" : s) + '"';
}

/** Why `text` cannot be a host name at all, or "". */
function textProblem(text: string): string {
  if (text.length == 0) return "an empty host key";
  if (text.length > 512) {
    return "a host key is at most 255 characters, got " + text.length.toString();
  }
  if (!printable(text)) return "a host key is printable ASCII without spaces";
  return "";
}

/**
 * Envoy answers 400 to a request whose Host holds any of these (the authority character table
 * in source/common/http/header_validation.cc, used by requestHeadersValid), so a key with one
 * can never be counted under keyBy authority.
 */
function authorityProblem(text: string): string {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (
      c == 0x22 || // "
      c == 0x23 || // #
      c == 0x2f || // /
      c == 0x3c || // <
      c == 0x3e || // >
      c == 0x3f || // ?
      c == 0x5c || // \
      c == 0x5e || // ^
      c == 0x60 || // `
      c == 0x7b || // {
      c == 0x7c || // |
      c == 0x7d //    }
    ) {
      return (
        under(KeyBy.Authority) +
        "a host key is a Host header value and '" +
        String.fromCharCode(c) +
        "' never appears in one, got " +
        quote(text)
      );
    }
  }
  return "";
}

// ---- addresses as Envoy prints them ---------------------------------------------------------

/**
 * "a.b.c.d:port" or "[v6]:port" (with an optional numeric "%zone" inside the brackets) in
 * Envoy's form: Ipv4Instance / Ipv6Instance in source/common/network/address_impl.cc print the
 * address with inet_ntop and the port in decimal. Null if `text` is not such an address.
 */
function canonicalAddress(text: string): string | null {
  let hostEnd: i32;
  let ip: Uint8Array | null;
  let zone = "";
  if (text.startsWith("[")) {
    hostEnd = text.indexOf("]");
    if (hostEnd < 0) return null;
    let inner = text.substring(1, hostEnd);
    const percent = inner.indexOf("%");
    if (percent >= 0) {
      zone = inner.substring(percent + 1);
      if (!allDigits(zone, 0) || zone.length > 10) return null;
      zone = "%" + zone;
      inner = inner.substring(0, percent);
    }
    if (inner.indexOf(":") < 0) return null;
    ip = parseIp(inner);
    hostEnd++;
  } else {
    hostEnd = text.indexOf(":");
    if (hostEnd < 0 || text.indexOf(":", hostEnd + 1) >= 0) return null;
    ip = parseIp(text.substring(0, hostEnd));
  }
  if (ip === null || hostEnd >= text.length || text.charCodeAt(hostEnd) != 0x3a) return null;
  const port = parsePort(text, hostEnd + 1);
  if (port < 0) return null;
  const suffix = ":" + port.toString();
  if (ip.length == 4) return dotted(ip, 0) + suffix;
  return "[" + ipv6Text(ip) + zone + "]" + suffix;
}

function parsePort(s: string, from: i32): i32 {
  if (!allDigits(s, from) || s.length - from > 5) return -1;
  let n = 0;
  for (let i = from; i < s.length; i++) n = n * 10 + (s.charCodeAt(i) - 0x30);
  return n <= 65535 ? n : -1;
}

function dotted(b: Uint8Array, at: i32): string {
  return (
    b[at].toString() +
    "." +
    b[at + 1].toString() +
    "." +
    b[at + 2].toString() +
    "." +
    b[at + 3].toString()
  );
}

/**
 * inet_ntop's IPv6 text (glibc, from BIND): lower-case hex without leading zeros, the first
 * longest run of two or more zero groups written "::", and an address whose first 96 bits are
 * zero, or ::ffff:0:0/96, ending in dotted IPv4.
 */
function ipv6Text(b: Uint8Array): string {
  const words = new StaticArray<i32>(8);
  for (let i = 0; i < 8; i++) words[i] = ((<i32>b[2 * i]) << 8) | <i32>b[2 * i + 1];
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] != 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] == 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) best = -1;
  let out = "";
  for (let i = 0; i < 8; i++) {
    if (best >= 0 && i >= best && i < best + bestLen) {
      if (i == best) out += ":";
      continue;
    }
    if (i != 0) out += ":";
    if (i == 6 && best == 0 && (bestLen == 6 || (bestLen == 5 && words[5] == 0xffff))) {
      out += dotted(b, 12);
      break;
    }
    out += hex(words[i]);
  }
  if (best >= 0 && best + bestLen == 8) out += ":";
  return out;
}

function hex(n: i32): string {
  const digits = "0123456789abcdef";
  let out = "";
  let started = false;
  for (let shift = 12; shift >= 0; shift -= 4) {
    const d = (n >> shift) & 0xf;
    if (d == 0 && !started && shift > 0) continue;
    started = true;
    out += digits.charAt(d);
  }
  return out;
}

// ---- shared helpers -------------------------------------------------------------------------

function validKey(key: string): bool {
  return key.length > 0 && key.length <= MAX_KEY_LENGTH && printable(key);
}

/**
 * The one character rule for host keys and for config strings that end up in keys, headers or
 * logs: printable ASCII without spaces.
 */
export function isKeyChar(c: i32): bool {
  return c > 0x20 && c < 0x7f;
}

export function printable(s: string): bool {
  for (let i = 0; i < s.length; i++) if (!isKeyChar(s.charCodeAt(i))) return false;
  return true;
}

function allDigits(s: string, from: i32): bool {
  if (from >= s.length) return false;
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** ASCII-only lower-casing: keys are ASCII, and String#toLowerCase drags in Unicode tables. */
export function asciiLower(s: string): string {
  let upper = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) {
      upper = true;
      break;
    }
  }
  if (!upper) return s;
  const out = new Array<string>(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out[i] = String.fromCharCode(c >= 0x41 && c <= 0x5a ? c + 32 : c);
  }
  return out.join("");
}
