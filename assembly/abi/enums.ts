// Numeric values of the proxy-wasm ABI 0.2.1 (proxy-wasm spec, abi-versions/v0.2.1).

export namespace WasmResult {
  export const Ok: u32 = 0;
  export const NotFound: u32 = 1;
  export const BadArgument: u32 = 2;
  export const InvalidMemoryAccess: u32 = 6;
  export const CasMismatch: u32 = 8;
}

export enum LogLevel {
  Trace = 0,
  Debug = 1,
  Info = 2,
  Warn = 3,
  Error = 4,
  Critical = 5,
}

export namespace HeaderMap {
  export const RequestHeaders: u32 = 0;
  export const ResponseHeaders: u32 = 2;
  export const HttpCallResponseHeaders: u32 = 6;
}

export namespace Buffer {
  export const HttpCallResponseBody: u32 = 4;
  export const VmConfiguration: u32 = 6;
  export const PluginConfiguration: u32 = 7;
}

export namespace Action {
  export const Continue: u32 = 0;
  export const Pause: u32 = 1;
}

export namespace MetricType {
  export const Counter: u32 = 0;
  export const Gauge: u32 = 1;
}
