// The host key a stream is counted under, normalized so that every worker agrees on it.

export const MAX_KEY_LENGTH = 255;

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

/** Cluster names and upstream addresses are used as Envoy gives them, if they are sane. */
export function checkedKey(value: string): string | null {
  return validKey(value) ? value : null;
}

/**
 * Turns raw header or property bytes into text only if every byte is printable ASCII. Checking
 * before decoding matters: AssemblyScript's UTF-8 decoder drops invalid sequences, so
 * "game1.example.com\xff" would otherwise read as "game1.example.com" and count under a real host.
 */
export function asciiKey(bytes: ArrayBuffer | null): string | null {
  if (bytes === null) return null;
  const n = bytes.byteLength;
  if (n == 0 || n > MAX_KEY_LENGTH) return null;
  const p = changetype<usize>(bytes);
  for (let i = 0; i < n; i++) {
    const c = load<u8>(p + <usize>i);
    if (c <= 0x20 || c >= 0x7f) return null;
  }
  return String.UTF8.decodeUnsafe(p, <usize>n);
}

function validKey(key: string): bool {
  if (key.length == 0 || key.length > MAX_KEY_LENGTH) return false;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return false;
  }
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
