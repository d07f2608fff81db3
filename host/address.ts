import { SocketAddress } from "node:net";
import { HostUsageError } from "./abi.js";

/**
 * How Envoy's HTTP connection manager picks the downstream remote address of a stream, which the
 * plugin reads as `source.address` / `source.port`. Mirrors `ConnectionManagerUtility::
 * mutateRequestHeaders` (source/common/http/conn_manager_utility.cc) and
 * `Utility::getLastAddressFromXFF` (source/common/http/utility.cc); see host/README.md.
 */
export interface AddressingConfig {
  /** HCM `use_remote_address` (Envoy's default: false). */
  useRemoteAddress: boolean;
  /** HCM `xff_num_trusted_hops` (Envoy's default: 0). */
  xffNumTrustedHops: number;
  /** What Envoy appends to XFF instead of a loopback peer (HCM `localAddress()`): an IP. */
  localAddress: string;
}

export interface DerivedAddress {
  /** `source.address`: Envoy's `Address::Instance::asString()`, e.g. "1.2.3.4:0", "[::1]:80". */
  address: string;
  port: number;
  /** The x-forwarded-for value the filters see (Envoy appends the peer when using it). */
  xff: string | undefined;
  /** Where the address came from. */
  from: "connection" | "xff";
}

interface Ip {
  ip: string;
  v6: boolean;
}

/**
 * Envoy's `parseInternetAddressNoThrow` as getLastAddressFromXFF uses it: a bare IPv4 or IPv6
 * literal (no port, no brackets), canonicalised the way inet_ntop prints it.
 */
export function parseBareIp(text: string): Ip | undefined {
  try {
    if (/^[0-9.]+$/.test(text)) {
      return { ip: new SocketAddress({ address: text, family: "ipv4" }).address, v6: false };
    }
    if (text.includes(":") && !text.includes("[")) {
      return { ip: new SocketAddress({ address: text, family: "ipv6" }).address, v6: true };
    }
  } catch {
    // not an address
  }
  return undefined;
}

function format(ip: Ip, port: number): string {
  return ip.v6 ? `[${ip.ip}]:${port}` : `${ip.ip}:${port}`;
}

/** "1.2.3.4:5" / "[::1]:5" → IP and port; what a test passes as the connection's peer. */
export function parseSocketAddress(text: string): { ip: Ip; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  const ip = m ? parseBareIp(m[1] as string) : undefined;
  const port = m ? Number(m[2]) : Number.NaN;
  if (!ip || !(port >= 0 && port <= 65535)) {
    throw new HostUsageError(
      `remoteAddress ${JSON.stringify(text)}: expected "a.b.c.d:port" or "[v6]:port"`,
    );
  }
  return { ip, port };
}

/**
 * getLastAddressFromXFF(headers, numToSkip): drop the last `numToSkip` comma-separated entries,
 * take the one before them, trim it, parse it as a bare IP (port 0). Anything unparsable, or too
 * few entries, is no address.
 */
export function lastAddressFromXff(xff: string | undefined, numToSkip: number): Ip | undefined {
  if (xff === undefined) return undefined;
  let rest = xff;
  for (let i = 0; i < numToSkip; i++) {
    const comma = rest.lastIndexOf(",");
    if (comma < 0) return undefined;
    rest = rest.slice(0, comma);
  }
  const comma = rest.lastIndexOf(",");
  if (comma >= 0 && comma + 1 < rest.length) rest = rest.slice(comma + 1);
  return parseBareIp(rest.trim());
}

function isLoopback(ip: Ip): boolean {
  return ip.v6 ? ip.ip === "::1" : ip.ip.startsWith("127.");
}

/**
 * The stream's downstream remote address after the connection manager has looked at XFF.
 * use_remote_address: the peer, unless xff_num_trusted_hops > 0 and XFF has an address that many
 * hops from its end; the peer (or, for a loopback peer, the local address) is appended to XFF.
 * Otherwise: XFF's address `xff_num_trusted_hops` from its end (the default XffIPDetection),
 * else the peer.
 */
export function deriveDownstreamAddress(
  remoteAddress: string,
  xff: string | undefined,
  config: AddressingConfig,
): DerivedAddress {
  const peer = parseSocketAddress(remoteAddress);
  const hops = config.xffNumTrustedHops;
  if (config.useRemoteAddress) {
    const trusted = hops > 0 ? lastAddressFromXff(xff, hops - 1) : undefined;
    const appended = isLoopback(peer.ip) ? parseBareIp(config.localAddress) : peer.ip;
    const out = appended ? (xff ? `${xff},${appended.ip}` : appended.ip) : xff;
    return trusted
      ? { address: format(trusted, 0), port: 0, xff: out, from: "xff" }
      : { address: format(peer.ip, peer.port), port: peer.port, xff: out, from: "connection" };
  }
  const detected = lastAddressFromXff(xff, hops);
  return detected
    ? { address: format(detected, 0), port: 0, xff, from: "xff" }
    : { address: format(peer.ip, peer.port), port: peer.port, xff, from: "connection" };
}
