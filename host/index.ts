// Public API of the TypeScript proxy-wasm host: an Envoy-like gateway for tests and benches.
export {
  Action,
  BufferType,
  HeaderMapType,
  HostUsageError,
  LOG_LEVELS,
  type LogLevelName,
  MetricType,
  PluginTrap,
  WasmResult,
} from "./abi.js";
export { createGateway, Gateway, type GatewayOptions } from "./gateway.js";
export { type HeaderPairs, type HeadersInput, parsePairs, serializePairs } from "./header-map.js";
export type { HttpCall, HttpCallResponse } from "./http-calls.js";
export type { LogEntry, LogQuery } from "./logs.js";
export type { MetricSnapshot } from "./metrics.js";
export {
  encodePropertyValue,
  type PropertiesInput,
  type PropertyValue,
  propertyKey,
} from "./properties.js";
export { Rng } from "./random.js";
export {
  ConfigRollout,
  type ConfigUpdateResult,
  type RolloutOptions,
  type UpdateConfigOptions,
  type VmConfigOutcome,
  type VmConfigStep,
} from "./rollout.js";
export type { SharedGetEvent, SharedSetEvent } from "./shared-data.js";
export { type LocalResponse, type OpenStreamOptions, Stream, type StreamEnd } from "./stream.js";
export { VmHandle } from "./vm-handle.js";
