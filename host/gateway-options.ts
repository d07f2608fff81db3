import { readFile } from "node:fs/promises";
import { HostUsageError, type LogLevelName } from "./abi.js";
import { type AddressingConfig, parseBareIp } from "./address.js";
import type { LogEntry } from "./logs.js";
import { utf8Encode } from "./memory.js";
import { type PropertiesInput, PropertyBag } from "./properties.js";

export interface GatewayOptions {
  /** The plugin: bytes, a compiled module, or a file path. */
  wasm: Uint8Array | ArrayBuffer | WebAssembly.Module | string;
  /** Worker VMs (Envoy: one per worker thread). Default 1. */
  workers?: number;
  /** Plugin configuration (buffer 7 during on_configure). */
  config?: string | Uint8Array;
  /** VM configuration (buffer 6 during on_vm_start). */
  vmConfig?: string | Uint8Array;
  vmId?: string;
  rootId?: string;
  pluginName?: string;
  /** `node.id` property. Default "gateway-0". */
  nodeId?: string;
  /** Gateway-level properties visible to every context, e.g. `{ "listener_direction": 1 }`. */
  properties?: PropertiesInput;
  /** Cluster names proxy_http_call may target. */
  clusters?: string[];
  failStrategy?: "fail-closed" | "fail-open";
  /** Epoch ms the virtual clock starts at. Default 1_700_000_000_000 (fixed, for determinism). */
  startTimeMs?: number;
  /** Seed for WASI random_get; unseeded uses the OS CSPRNG. */
  randomSeed?: number;
  /**
   * Seed of the config rollouts' interleaving (worker order, gaps between VMs). Default:
   * `randomSeed`, else 1; a rollout is deterministic either way.
   */
  rolloutSeed?: number;
  /**
   * Virtual ms that pass between two VMs' turns in a rollout (start-up included), drawn
   * uniformly from [min, max] by the rollout seed; due ticks and http-call timeouts fire in
   * between. Default [0, 5].
   */
  rolloutGapMs?: readonly [number, number];
  /** Envoy HCM `use_remote_address` for streams opened with a `remoteAddress`. Default false. */
  useRemoteAddress?: boolean;
  /** Envoy HCM `xff_num_trusted_hops`. Default 0. */
  xffNumTrustedHops?: number;
  /** IP Envoy appends to XFF in place of a loopback peer (HCM local address). Default 10.0.0.2. */
  localAddress?: string;
  /** What proxy_get_log_level answers. Default "info". */
  logLevel?: LogLevelName;
  /** Keep log entries for gw.logs() (default true; benchmarks may turn it off). */
  recordLogs?: boolean;
  /** Also print each log entry (true = console.log) or hand it to a function. */
  echoLogs?: boolean | ((e: LogEntry) => void);
}

/** A configuration as the plugin reads it from a buffer: absent is empty. */
export const bytesOf = (v: string | Uint8Array | undefined) =>
  v === undefined ? new Uint8Array() : typeof v === "string" ? utf8Encode(v) : v;

/** Compiles the plugin once for every VM; a module that is not proxy-wasm 0.2.1 is refused. */
export async function loadModule(wasm: GatewayOptions["wasm"]): Promise<WebAssembly.Module> {
  const module = await compile(wasm);
  const names = WebAssembly.Module.exports(module).map((e) => e.name);
  if (!names.includes("proxy_abi_version_0_2_1")) {
    throw new Error("module does not export proxy_abi_version_0_2_1: refusing to load it");
  }
  return module;
}

async function compile(wasm: GatewayOptions["wasm"]): Promise<WebAssembly.Module> {
  if (wasm instanceof WebAssembly.Module) return wasm;
  const bytes = typeof wasm === "string" ? new Uint8Array(await readFile(wasm)) : wasm;
  return WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
}

/** Where each log entry is echoed, if anywhere. */
export function logEcho(options: GatewayOptions): ((e: LogEntry) => void) | undefined {
  const echo = options.echoLogs;
  return echo === true
    ? (e) => console.log(`[vm ${e.vmIndex}] ${e.level}: ${e.message}`)
    : echo || undefined;
}

/** The properties Envoy serves every context of this plugin (node and plugin identity). */
export function gatewayProperties(options: GatewayOptions, vmId: string): PropertyBag {
  const properties = new PropertyBag({
    "node.id": options.nodeId ?? "gateway-0",
    plugin_name: options.pluginName ?? options.rootId ?? "",
    plugin_root_id: options.rootId ?? "",
    plugin_vm_id: vmId,
  });
  if (options.properties) properties.merge(options.properties);
  return properties;
}

/** The HTTP connection manager fields streams derive `source.address` under. */
export function addressingOf(options: GatewayOptions): AddressingConfig {
  const hops = options.xffNumTrustedHops ?? 0;
  if (!(Number.isInteger(hops) && hops >= 0)) {
    throw new HostUsageError(`xffNumTrustedHops ${hops}: want an integer >= 0`);
  }
  const localAddress = options.localAddress ?? "10.0.0.2";
  if (!parseBareIp(localAddress)) {
    throw new HostUsageError(`localAddress ${JSON.stringify(localAddress)}: want a bare IP`);
  }
  return {
    useRemoteAddress: options.useRemoteAddress ?? false,
    xffNumTrustedHops: hops,
    localAddress,
  };
}
