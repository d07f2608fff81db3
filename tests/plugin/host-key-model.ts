// The plugin's stream-key rules written out plainly, as the oracle of the suites and the fuzz
// campaigns: one model, so that they cannot drift apart from each other (the plugin's own code is
// host_cache.ts normalizeInto, which judges the raw bytes of a stream's value).

/** Printable ASCII without spaces, 1 to 255 bytes: what any host key is made of. */
export function usableKey(raw: string): boolean {
  return raw.length > 0 && raw.length <= 255 && /^[\x21-\x7e]+$/.test(raw);
}

/**
 * The stream key of a raw Host header under keyBy authority, undefined if it has none. Every
 * byte of the raw value counts, port and all: printable ASCII only, at most 255 bytes; "[v6]…"
 * keeps through the first "]"; otherwise a single ":digits" port is stripped; then ASCII
 * lower-cased. So "[gAme]\x1f]" has no key, although "[game]" would be one.
 */
export function authorityKey(raw: string): string | undefined {
  if (!usableKey(raw)) return undefined;
  let host = raw;
  if (host.startsWith("[")) {
    const close = host.indexOf("]");
    if (close < 0) return undefined;
    host = host.slice(0, close + 1);
  } else {
    const m = /^([^:]*):(\d+)$/.exec(host);
    if (m) host = m[1] as string;
  }
  return host.length === 0 ? undefined : host.toLowerCase();
}
