// Proxy-Wasm ABI 0.2.1 constants, as numbered by the spec and proxy-wasm-cpp-host.

export const WasmResult = {
  Ok: 0,
  NotFound: 1,
  BadArgument: 2,
  SerializationFailure: 3,
  ParseFailure: 4,
  BadExpression: 5,
  InvalidMemoryAccess: 6,
  Empty: 7,
  CasMismatch: 8,
  ResultMismatch: 9,
  InternalFailure: 10,
  BrokenConnection: 11,
  Unimplemented: 12,
} as const;
export type WasmResult = (typeof WasmResult)[keyof typeof WasmResult];

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "critical"] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];
export const LogLevel = { trace: 0, debug: 1, info: 2, warn: 3, error: 4, critical: 5 } as const;

export const HeaderMapType = {
  RequestHeaders: 0,
  RequestTrailers: 1,
  ResponseHeaders: 2,
  ResponseTrailers: 3,
  HttpCallResponseHeaders: 6,
  HttpCallResponseTrailers: 7,
} as const;

export const BufferType = {
  RequestBody: 0,
  ResponseBody: 1,
  HttpCallResponseBody: 4,
  VmConfiguration: 6,
  PluginConfiguration: 7,
} as const;

export const MetricType = { Counter: 0, Gauge: 1, Histogram: 2 } as const;
export type MetricTypeName = "counter" | "gauge" | "histogram";
export const METRIC_TYPE_NAMES: readonly MetricTypeName[] = ["counter", "gauge", "histogram"];

export const Action = { Continue: 0, Pause: 1 } as const;
export type Action = (typeof Action)[keyof typeof Action];

export const StreamType = { Request: 0, Response: 1, Downstream: 2, Upstream: 3 } as const;

/** WASI errno values the host answers with. */
export const WasiErrno = { Success: 0, Badf: 8, Fault: 21, Inval: 28, Nosys: 52, Notsup: 58 };

/**
 * A mistake in how a test drives the host (wrong order, re-entering a VM from its own host
 * call, using a gateway after shutdown). It is never treated as a plugin trap: it propagates
 * straight to the test.
 */
export class HostUsageError extends Error {
  override name = "HostUsageError";
}

/** Raised by the host on behalf of the plugin (`abort` import, WASI `proc_exit`): a trap. */
export class PluginTrap extends Error {
  override name = "PluginTrap";
}

/** A guest pointer/length outside linear memory: the import answers InvalidMemoryAccess. */
export class MemoryAccessError extends Error {
  override name = "MemoryAccessError";
}
