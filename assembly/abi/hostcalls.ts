// Typed wrappers over the raw host calls (the ABI's imports). Every value the host hands back
// was placed by the host through proxy_on_memory_allocate (host_blocks.ts); the managed
// wrappers copy it into managed memory and give the block back, so callers never see raw
// pointers and nothing leaks across millions of streams. The `...At`/`...Raw` forms are for the
// per-stream path: keys passed as bytes encoded once, values inspected in place, no allocation.

import { currentContextId } from "./context";
import { Buffer, HeaderMap, LogLevel, WasmResult } from "./enums";
import { freeHostBlock } from "./host_blocks";
import * as abi from "./imports";

// Out-parameters for host calls. One VM runs one callback at a time, so one scratch area is enough.
const OUT_PTR: usize = memory.data(8);
const OUT_SIZE: usize = memory.data(8);
const OUT_CAS: usize = memory.data(8);

export class HeaderPair {
  constructor(
    public key: string,
    public value: string,
  ) {}
}

/** Takes ownership of a host-allocated block and returns it as a managed buffer. */
function takeBytes(): ArrayBuffer {
  const ptr = load<usize>(OUT_PTR);
  const size = load<u32>(OUT_SIZE);
  const out = new ArrayBuffer(<i32>size);
  if (size > 0) memory.copy(changetype<usize>(out), ptr, size);
  freeHostBlock(ptr);
  return out;
}

function clearOut(): void {
  store<usize>(OUT_PTR, 0);
  store<u32>(OUT_SIZE, 0);
}

// ---- logging -------------------------------------------------------------------------------

const LOG_PREFIX = "conn-drain: ";
let currentLogLevel: i32 = LogLevel.Info;

/** Re-reads Envoy's log level; called on configure and tick, never per stream. */
export function refreshLogLevel(): void {
  if (abi.proxy_get_log_level(OUT_SIZE) == WasmResult.Ok) currentLogLevel = load<i32>(OUT_SIZE);
}

export function logEnabled(level: LogLevel): bool {
  return <i32>level >= currentLogLevel;
}

export function log(level: LogLevel, message: string): void {
  if (<i32>level < currentLogLevel) return;
  const bytes = String.UTF8.encode(LOG_PREFIX + message);
  abi.proxy_log(<u32>level, changetype<usize>(bytes), bytes.byteLength);
}

// ---- time and randomness -----------------------------------------------------------------

export function nowMillis(): i64 {
  if (abi.proxy_get_current_time_nanoseconds(OUT_CAS) != WasmResult.Ok) return 0;
  return load<i64>(OUT_CAS) / 1_000_000;
}

export function setTickPeriod(millis: u32): void {
  abi.proxy_set_tick_period_milliseconds(millis);
}

export function randomU32(): u32 {
  store<u32>(OUT_CAS, 0);
  abi.wasi_random_get(OUT_CAS, 4);
  return load<u32>(OUT_CAS);
}

// ---- buffers, headers, properties -------------------------------------------------------

export function getBufferBytes(bufferType: u32, size: u32): ArrayBuffer {
  clearOut();
  if (size == 0) return new ArrayBuffer(0);
  if (abi.proxy_get_buffer_bytes(bufferType, 0, size, OUT_PTR, OUT_SIZE) != WasmResult.Ok) {
    return new ArrayBuffer(0);
  }
  return takeBytes();
}

export function getPluginConfiguration(size: u32): ArrayBuffer {
  return getBufferBytes(Buffer.PluginConfiguration, size);
}

/** A header's raw bytes, or null: for values that must be checked before any decoding. */
export function getHeaderBytes(mapType: u32, name: string): ArrayBuffer | null {
  if (getHeaderRaw(mapType, String.UTF8.encode(name)) != WasmResult.Ok) return null;
  return takeBytes();
}

/** The first value of a header, or null when absent or no longer readable (after Continue). */
export function getHeader(mapType: u32, name: string): string | null {
  const bytes = getHeaderBytes(mapType, name);
  return bytes === null ? null : String.UTF8.decode(bytes);
}

export function getRequestHeader(name: string): string | null {
  return getHeader(HeaderMap.RequestHeaders, name);
}

export function getHeaderPairs(mapType: u32): Array<HeaderPair> {
  clearOut();
  if (abi.proxy_get_header_map_pairs(mapType, OUT_PTR, OUT_SIZE) != WasmResult.Ok) {
    return [] as HeaderPair[];
  }
  return deserializeHeaders(takeBytes());
}

/** Looks up a property by its segments; Envoy wants them NUL-separated, not dotted. */
export function getProperty(path: Array<string>): ArrayBuffer | null {
  if (getPropertyRaw(String.UTF8.encode(path.join("\0"))) != WasmResult.Ok) return null;
  return takeBytes();
}

export function getPropertyString(path: Array<string>): string | null {
  const bytes = getProperty(path);
  if (bytes === null) return null;
  return String.UTF8.decode(bytes);
}

// ---- header map serialization (u32 count, u32 sizes, NUL-terminated keys and values) -----

export function serializeHeaders(pairs: Array<HeaderPair>): ArrayBuffer {
  const encoded = new Array<ArrayBuffer>(pairs.length * 2);
  let size = 4 + 8 * pairs.length;
  for (let i = 0; i < pairs.length; i++) {
    const k = String.UTF8.encode(unchecked(pairs[i]).key);
    const v = String.UTF8.encode(unchecked(pairs[i]).value);
    unchecked((encoded[2 * i] = k));
    unchecked((encoded[2 * i + 1] = v));
    size += k.byteLength + v.byteLength + 2;
  }
  const out = new ArrayBuffer(size);
  const base = changetype<usize>(out);
  store<u32>(base, pairs.length);
  let data = base + 4 + 8 * pairs.length;
  for (let i = 0; i < encoded.length; i++) {
    const part = unchecked(encoded[i]);
    store<u32>(base + 4 + 4 * i, part.byteLength);
    memory.copy(data, changetype<usize>(part), part.byteLength);
    data += part.byteLength;
    store<u8>(data, 0);
    data += 1;
  }
  return out;
}

export function deserializeHeaders(bytes: ArrayBuffer): Array<HeaderPair> {
  const out: HeaderPair[] = [];
  const size = <usize>bytes.byteLength;
  if (size < 4) return out;
  const base = changetype<usize>(bytes);
  const count = <usize>load<u32>(base);
  // A malformed map from the host must not make us read past the buffer.
  if (count > (size - 4) / 8) return out;
  let data = base + 4 + 8 * count;
  const end = base + size;
  for (let i: usize = 0; i < count; i++) {
    const keySize = <usize>load<u32>(base + 4 + 8 * i);
    const valueSize = <usize>load<u32>(base + 8 + 8 * i);
    if (keySize + valueSize + 2 > end - data) break;
    const key = String.UTF8.decodeUnsafe(data, keySize);
    data += keySize + 1;
    const value = String.UTF8.decodeUnsafe(data, valueSize);
    data += valueSize + 1;
    out.push(new HeaderPair(key, value));
  }
  return out;
}

// ---- shared data ---------------------------------------------------------------------------

/** Result of a shared-data read: `status` is Ok or NotFound; `cas` guards the next write. */
export class SharedRead {
  status: u32 = WasmResult.NotFound;
  value: ArrayBuffer = new ArrayBuffer(0);
  cas: u32 = 0;
}

export function sharedGet(key: string, out: SharedRead): SharedRead {
  out.status = sharedGetRaw(key);
  if (out.status != WasmResult.Ok) {
    out.value = new ArrayBuffer(0);
    out.cas = 0;
    return out;
  }
  out.value = takeBytes();
  out.cas = load<u32>(OUT_CAS);
  return out;
}

/**
 * Reads a value without copying it into managed memory: on Ok, rawPtr()/rawSize() give the
 * host's copy (the pointer is 0 for an empty value) to inspect in place, and the caller must
 * then call releaseRaw(rawPtr()). For scans that look at thousands of values and keep few.
 */
export function sharedGetRaw(key: string): u32 {
  clearOut();
  const k = String.UTF8.encode(key);
  return abi.proxy_get_shared_data(changetype<usize>(k), k.byteLength, OUT_PTR, OUT_SIZE, OUT_CAS);
}

export function rawPtr(): usize {
  return load<usize>(OUT_PTR);
}

export function rawSize(): usize {
  return <usize>load<u32>(OUT_SIZE);
}

export function releaseRaw(ptr: usize): void {
  freeHostBlock(ptr);
}

/** The CAS of the value the last raw read returned. */
export function rawCas(): u32 {
  return load<u32>(OUT_CAS);
}

/** sharedGetRaw with the key given as bytes (encoded once by the caller). */
export function sharedGetAt(key: ArrayBuffer): u32 {
  clearOut();
  return abi.proxy_get_shared_data(
    changetype<usize>(key),
    key.byteLength,
    OUT_PTR,
    OUT_SIZE,
    OUT_CAS,
  );
}

/** sharedSet with the key given as bytes and the value as a memory range. */
export function sharedSetAt(key: ArrayBuffer, value: usize, size: usize, cas: u32): u32 {
  return abi.proxy_set_shared_data(changetype<usize>(key), key.byteLength, value, size, cas);
}

/** A header's value in place (rawPtr/rawSize, then releaseRaw); the name given as bytes. */
export function getHeaderRaw(mapType: u32, name: ArrayBuffer): u32 {
  clearOut();
  return abi.proxy_get_header_map_value(
    mapType,
    changetype<usize>(name),
    name.byteLength,
    OUT_PTR,
    OUT_SIZE,
  );
}

/** A property's value in place (rawPtr/rawSize, then releaseRaw); path NUL-separated bytes. */
export function getPropertyRaw(path: ArrayBuffer): u32 {
  clearOut();
  return abi.proxy_get_property(changetype<usize>(path), path.byteLength, OUT_PTR, OUT_SIZE);
}

export function sharedSet(key: string, value: ArrayBuffer, cas: u32): u32 {
  const k = String.UTF8.encode(key);
  return abi.proxy_set_shared_data(
    changetype<usize>(k),
    k.byteLength,
    changetype<usize>(value),
    value.byteLength,
    cas,
  );
}

// ---- replies and calls out -----------------------------------------------------------------

export function sendLocalResponse(
  status: u32,
  details: string,
  body: ArrayBuffer,
  headers: Array<HeaderPair>,
): u32 {
  const d = String.UTF8.encode(details);
  const h = serializeHeaders(headers);
  return abi.proxy_send_local_response(
    status,
    changetype<usize>(d),
    d.byteLength,
    changetype<usize>(body),
    body.byteLength,
    changetype<usize>(h),
    h.byteLength,
    -1,
  );
}

export class HttpCallResult {
  constructor(
    public status: u32,
    public token: u32,
  ) {}
}

export function httpCall(
  cluster: string,
  headers: Array<HeaderPair>,
  body: ArrayBuffer,
  timeoutMillis: u32,
): HttpCallResult {
  const c = String.UTF8.encode(cluster);
  const h = serializeHeaders(headers);
  const trailers = serializeHeaders([] as HeaderPair[]);
  store<u32>(OUT_CAS, 0);
  const status = abi.proxy_http_call(
    changetype<usize>(c),
    c.byteLength,
    changetype<usize>(h),
    h.byteLength,
    changetype<usize>(body),
    body.byteLength,
    changetype<usize>(trailers),
    trailers.byteLength,
    timeoutMillis,
    OUT_CAS,
  );
  return new HttpCallResult(status, load<u32>(OUT_CAS));
}

/**
 * Makes an http call on behalf of root context `rootId` even from a stream callback: Envoy
 * delivers the response to the context that made the call, and a stream may be gone by then.
 */
export function httpCallAsRoot(
  rootId: u32,
  cluster: string,
  headers: Array<HeaderPair>,
  body: ArrayBuffer,
  timeoutMillis: u32,
): HttpCallResult {
  const current = currentContextId;
  const switched = rootId != current && abi.proxy_set_effective_context(rootId) == WasmResult.Ok;
  const result = httpCall(cluster, headers, body, timeoutMillis);
  if (switched) abi.proxy_set_effective_context(current);
  return result;
}

export function getHttpCallResponseHeaders(): Array<HeaderPair> {
  return getHeaderPairs(HeaderMap.HttpCallResponseHeaders);
}

// ---- metrics ------------------------------------------------------------------------------

/** Defines (or finds) a process-wide metric. Returns -1 on failure: Envoy's ids start at 0. */
export function defineMetric(metricType: u32, name: string): i64 {
  const n = String.UTF8.encode(name);
  if (abi.proxy_define_metric(metricType, changetype<usize>(n), n.byteLength, OUT_CAS) != 0) {
    return -1;
  }
  return <i64>load<u32>(OUT_CAS);
}

export function incrementMetric(id: u32, delta: i64): void {
  abi.proxy_increment_metric(id, delta);
}

// ---- environment -----------------------------------------------------------------------------

/** Reads one WASI environment variable, or null. Only called at configure time. */
export function getEnv(name: string): string | null {
  if (abi.wasi_environ_sizes_get(OUT_PTR, OUT_SIZE) != 0) return null;
  const count = <usize>load<u32>(OUT_PTR);
  const size = <usize>load<u32>(OUT_SIZE);
  if (count == 0 || count > 4096 || size > 1 << 20) return null;
  const pointers = heap.alloc(count * sizeof<usize>());
  const buf = heap.alloc(size);
  let found: string | null = null;
  if (abi.wasi_environ_get(pointers, buf) == 0) {
    const prefix = name + "=";
    for (let i: usize = 0; i < count; i++) {
      const p = load<usize>(pointers + i * sizeof<usize>());
      if (p < buf || p >= buf + size) continue;
      let end = p;
      while (end < buf + size && load<u8>(end) != 0) end++;
      const entry = String.UTF8.decodeUnsafe(p, end - p);
      if (entry.startsWith(prefix)) {
        found = entry.substring(prefix.length);
        break;
      }
    }
  }
  heap.free(pointers);
  heap.free(buf);
  return found;
}
