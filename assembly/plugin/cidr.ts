// CIDR allow-lists for the admin path, matched against Envoy's `source.address` property
// ("10.1.2.3:5678" or "[2001:db8::1]:5678").
//
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d, RFC 4291 2.5.5.2) name IPv4 hosts, so both sides are
// brought to IPv4 before matching: a mapped source is matched as a.b.c.d, and a CIDR inside
// ::ffff:0:0/96 is read as the IPv4 CIDR it maps (::ffff:10.0.0.0/104 is 10.0.0.0/8). Otherwise
// a dual-stack listener or an XFF entry written in the mapped form would slip past, or be shut
// out of, an IPv4 allow-list. A CIDR shorter than /96 (e.g. ::/0) stays IPv6 and does not match
// IPv4 sources: write IPv4 ranges as IPv4.

export class Cidr {
  constructor(
    public bytes: Uint8Array,
    public prefix: i32,
  ) {}

  contains(address: Uint8Array): bool {
    if (address.length != this.bytes.length) return false;
    let bits = this.prefix;
    for (let i = 0; i < address.length && bits > 0; i++) {
      const mask: i32 = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
      if ((<i32>unchecked(address[i]) & mask) != (<i32>unchecked(this.bytes[i]) & mask)) {
        return false;
      }
      bits -= 8;
    }
    return true;
  }
}

/** Parses "a.b.c.d/n" or "v6/n" (a bare address means a single host); null if invalid. */
export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf("/");
  const addressText = slash < 0 ? text : text.substring(0, slash);
  const address = parseIp(addressText);
  if (address === null) return null;
  const maxPrefix = address.length * 8;
  let prefix = maxPrefix;
  if (slash >= 0) {
    prefix = parseDecimal(text.substring(slash + 1), maxPrefix);
    if (prefix < 0) return null;
  }
  if (prefix >= 96 && isV4Mapped(address)) return new Cidr(address.slice(12), prefix - 96);
  return new Cidr(address, prefix);
}

/** ::ffff:a.b.c.d: ten zero bytes, then 0xffff. */
function isV4Mapped(address: Uint8Array): bool {
  if (address.length != 16) return false;
  for (let i = 0; i < 10; i++) if (unchecked(address[i]) != 0) return false;
  return unchecked(address[10]) == 0xff && unchecked(address[11]) == 0xff;
}

/** The IPv4 address an IPv4-mapped IPv6 address stands for; any other address as it is. */
function canonical(address: Uint8Array): Uint8Array {
  return isV4Mapped(address) ? address.slice(12) : address;
}

/**
 * Extracts the IP from "ip:port", "[ip]:port", or a bare ip; null if it is none of these. An
 * IPv4-mapped IPv6 address comes back as its 4 IPv4 bytes.
 */
export function parseSocketAddress(text: string): Uint8Array | null {
  let ip: Uint8Array | null;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0) return null;
    ip = parseIp(text.substring(1, close));
  } else {
    const colon = text.indexOf(":");
    ip =
      colon >= 0 && text.indexOf(":", colon + 1) < 0
        ? parseIp(text.substring(0, colon))
        : parseIp(text);
  }
  return ip === null ? null : canonical(ip);
}

export function parseIp(text: string): Uint8Array | null {
  return text.indexOf(":") >= 0 ? parseIpv6(text) : parseIpv4(text);
}

function parseDecimal(text: string, max: i32): i32 {
  if (text.length == 0 || text.length > 3) return -1;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
    n = n * 10 + (c - 0x30);
  }
  if (text.length > 1 && text.charCodeAt(0) == 0x30) return -1;
  return n <= max ? n : -1;
}

function parseIpv4(text: string): Uint8Array | null {
  const parts = text.split(".");
  if (parts.length != 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const n = parseDecimal(unchecked(parts[i]), 255);
    if (n < 0) return null;
    out[i] = <u8>n;
  }
  return out;
}

function parseHexGroup(text: string): i32 {
  if (text.length == 0 || text.length > 4) return -1;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    let d = -1;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (c >= 0x61 && c <= 0x66) d = c - 0x61 + 10;
    else if (c >= 0x41 && c <= 0x46) d = c - 0x41 + 10;
    if (d < 0) return -1;
    n = (n << 4) | d;
  }
  return n;
}

function parseIpv6(text: string): Uint8Array | null {
  if (text.length > 45) return null;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups.
  let groupsText = text;
  let tail: Uint8Array | null = null;
  const lastColon = text.lastIndexOf(":");
  if (text.indexOf(".", lastColon) > lastColon) {
    tail = parseIpv4(text.substring(lastColon + 1));
    if (tail === null) return null;
    groupsText = text.substring(0, lastColon + 1) + "0:0";
  }
  const doubleColon = groupsText.indexOf("::");
  if (doubleColon >= 0 && groupsText.indexOf("::", doubleColon + 1) >= 0) return null;
  const head = doubleColon >= 0 ? groupsText.substring(0, doubleColon) : groupsText;
  const rest = doubleColon >= 0 ? groupsText.substring(doubleColon + 2) : "";
  const headGroups = head.length > 0 ? head.split(":") : ([] as string[]);
  const restGroups = rest.length > 0 ? rest.split(":") : ([] as string[]);
  const total = headGroups.length + restGroups.length;
  if (doubleColon < 0 ? total != 8 : total > 7) return null;
  const out = new Uint8Array(16);
  for (let i = 0; i < headGroups.length; i++) {
    const g = parseHexGroup(unchecked(headGroups[i]));
    if (g < 0) return null;
    out[2 * i] = <u8>(g >> 8);
    out[2 * i + 1] = <u8>g;
  }
  const offset = 8 - restGroups.length;
  for (let i = 0; i < restGroups.length; i++) {
    const g = parseHexGroup(unchecked(restGroups[i]));
    if (g < 0) return null;
    out[2 * (offset + i)] = <u8>(g >> 8);
    out[2 * (offset + i) + 1] = <u8>g;
  }
  if (tail !== null) {
    for (let i = 0; i < 4; i++) out[12 + i] = tail[i];
  }
  return out;
}
