// Raw proxy-wasm ABI 0.2.1 imports, exactly as Envoy (proxy-wasm-cpp-host src/exports.cc)
// exposes them. Nothing else in the plugin calls these directly: see hostcalls.ts.

@external("env", "proxy_log")
export declare function proxy_log(level: u32, ptr: usize, size: usize): u32;
@external("env", "proxy_get_log_level")
export declare function proxy_get_log_level(levelPtr: usize): u32;
@external("env", "proxy_get_current_time_nanoseconds")
export declare function proxy_get_current_time_nanoseconds(resultPtr: usize): u32;
@external("env", "proxy_set_tick_period_milliseconds")
export declare function proxy_set_tick_period_milliseconds(millis: u32): u32;

@external("env", "proxy_get_buffer_bytes")
export declare function proxy_get_buffer_bytes(
  bufferType: u32,
  start: u32,
  maxSize: u32,
  ptrPtr: usize,
  sizePtr: usize,
): u32;

@external("env", "proxy_get_header_map_pairs")
export declare function proxy_get_header_map_pairs(mapType: u32, ptrPtr: usize, sizePtr: usize): u32;
@external("env", "proxy_get_header_map_value")
export declare function proxy_get_header_map_value(
  mapType: u32,
  keyPtr: usize,
  keySize: usize,
  valuePtrPtr: usize,
  valueSizePtr: usize,
): u32;

@external("env", "proxy_get_property")
export declare function proxy_get_property(
  pathPtr: usize,
  pathSize: usize,
  valuePtrPtr: usize,
  valueSizePtr: usize,
): u32;

@external("env", "proxy_get_shared_data")
export declare function proxy_get_shared_data(
  keyPtr: usize,
  keySize: usize,
  valuePtrPtr: usize,
  valueSizePtr: usize,
  casPtr: usize,
): u32;
@external("env", "proxy_set_shared_data")
export declare function proxy_set_shared_data(
  keyPtr: usize,
  keySize: usize,
  valuePtr: usize,
  valueSize: usize,
  cas: u32,
): u32;

@external("env", "proxy_send_local_response")
export declare function proxy_send_local_response(
  statusCode: u32,
  detailsPtr: usize,
  detailsSize: usize,
  bodyPtr: usize,
  bodySize: usize,
  headersPtr: usize,
  headersSize: usize,
  grpcStatus: i32,
): u32;

@external("env", "proxy_http_call")
export declare function proxy_http_call(
  upstreamPtr: usize,
  upstreamSize: usize,
  headersPtr: usize,
  headersSize: usize,
  bodyPtr: usize,
  bodySize: usize,
  trailersPtr: usize,
  trailersSize: usize,
  timeoutMillis: u32,
  tokenPtr: usize,
): u32;

@external("env", "proxy_set_effective_context")
export declare function proxy_set_effective_context(contextId: u32): u32;

@external("env", "proxy_define_metric")
export declare function proxy_define_metric(
  metricType: u32,
  namePtr: usize,
  nameSize: usize,
  idPtr: usize,
): u32;
@external("env", "proxy_increment_metric")
export declare function proxy_increment_metric(metricId: u32, offset: i64): u32;
@external("env", "proxy_record_metric")
export declare function proxy_record_metric(metricId: u32, value: u64): u32;

// WASI: Envoy provides random_get; it is how a VM mints an identity (no property names a worker).
@external("wasi_snapshot_preview1", "random_get")
export declare function wasi_random_get(bufPtr: usize, bufLen: usize): u16;

// WASI environment: Envoy passes only the variables the VM config lists; HOSTNAME (the pod
// name in Kubernetes) is the last fallback for naming this gateway replica.
@external("wasi_snapshot_preview1", "environ_sizes_get")
export declare function wasi_environ_sizes_get(countPtr: usize, sizePtr: usize): u16;
@external("wasi_snapshot_preview1", "environ_get")
export declare function wasi_environ_get(environPtr: usize, bufPtr: usize): u16;
