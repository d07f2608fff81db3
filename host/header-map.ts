import { utf8Decode, utf8Encode } from "./memory.js";

export type HeaderPairs = Array<[string, string]>;
export type HeadersInput = Record<string, string> | ReadonlyArray<readonly [string, string]>;

/** Envoy keeps header names lower-case; the host normalises whatever a test passes in. */
export function normalizeHeaders(input: HeadersInput | undefined): HeaderPairs {
  if (!input) return [];
  const entries: ReadonlyArray<readonly [string, string]> = Array.isArray(input)
    ? (input as ReadonlyArray<readonly [string, string]>)
    : Object.entries(input as Record<string, string>);
  return entries.map(([k, v]) => [k.toLowerCase(), String(v)]);
}

/**
 * Proxy-Wasm pairs encoding (both directions): u32 count, count × (u32 key_len, u32 value_len),
 * then every key and value, each followed by a NUL byte.
 */
export function serializePairs(pairs: ReadonlyArray<readonly [string, string]>): Uint8Array {
  const encoded = pairs.map(([k, v]) => [utf8Encode(k), utf8Encode(v)] as const);
  let size = 4 + 8 * encoded.length;
  for (const [k, v] of encoded) size += k.length + v.length + 2;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, encoded.length, true);
  let data = 4 + 8 * encoded.length;
  encoded.forEach(([k, v], i) => {
    view.setUint32(4 + i * 8, k.length, true);
    view.setUint32(8 + i * 8, v.length, true);
    out.set(k, data);
    data += k.length + 1;
    out.set(v, data);
    data += v.length + 1;
  });
  return out;
}

/** Inverse of serializePairs; malformed input yields an empty list, as cpp-host's toPairs does. */
export function parsePairs(bytes: Uint8Array): HeaderPairs {
  if (bytes.length < 4) return [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getUint32(0, true);
  if (4 + n * 8 > bytes.length) return [];
  const out: HeaderPairs = [];
  let data = 4 + n * 8;
  for (let i = 0; i < n; i++) {
    const kl = view.getUint32(4 + i * 8, true);
    const vl = view.getUint32(8 + i * 8, true);
    if (data + kl + vl + 2 > bytes.length) return [];
    const k = utf8Decode(bytes.subarray(data, data + kl));
    data += kl + 1;
    const v = utf8Decode(bytes.subarray(data, data + vl));
    data += vl + 1;
    out.push([k, v]);
  }
  return out;
}

/** A mutable header map with Envoy's lookup rules (case-insensitive keys, first match wins). */
export class HeaderMap {
  pairs: HeaderPairs;

  constructor(pairs: HeaderPairs = []) {
    this.pairs = pairs;
  }

  get(key: string): string | undefined {
    const k = key.toLowerCase();
    // Envoy's getHeaderMapValue answers with the first of repeated headers.
    return this.pairs.find(([pk]) => pk === k)?.[1];
  }

  add(key: string, value: string): void {
    this.pairs.push([key.toLowerCase(), value]);
  }

  replace(key: string, value: string): void {
    const k = key.toLowerCase();
    const i = this.pairs.findIndex(([pk]) => pk === k);
    if (i < 0) {
      this.pairs.push([k, value]);
      return;
    }
    this.pairs[i] = [k, value];
    this.pairs = this.pairs.filter(([pk], j) => pk !== k || j === i);
  }

  remove(key: string): void {
    const k = key.toLowerCase();
    this.pairs = this.pairs.filter(([pk]) => pk !== k);
  }

  get size(): number {
    return this.pairs.length;
  }

  toObject(): Record<string, string> {
    const o: Record<string, string> = {};
    for (const [k, v] of this.pairs) o[k] = o[k] === undefined ? v : `${o[k]},${v}`;
    return o;
  }
}
