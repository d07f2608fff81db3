import { readFile } from "node:fs/promises";
import { HostUsageError, type LogLevelName } from "./abi.js";
import { type AddressingConfig, parseBareIp } from "./address.js";
import { VirtualClock } from "./clock.js";
import { HeaderMap, type HeadersInput, normalizeHeaders } from "./header-map.js";
import { type HttpCall, HttpCallRegistry, type HttpCallResponse } from "./http-calls.js";
import { CallCounter, type LogEntry, type LogQuery, LogStore, levelNumber } from "./logs.js";
import { utf8Encode } from "./memory.js";
import { type MetricSnapshot, MetricsRegistry } from "./metrics.js";
import { type PropertiesInput, PropertyBag } from "./properties.js";
import { makeRandom } from "./random.js";
import { SharedDataStore, SharedDataView } from "./shared-data.js";
import type { LocalResponse } from "./stream.js";
import { type GatewayServices, Vm } from "./vm.js";
import { VmHandle } from "./vm-handle.js";

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

export interface ConfigUpdateResult {
  accepted: boolean;
  reason?: string;
  /** VMs whose on_configure refused after the canary accepted: they keep their old root. */
  keptOldConfig?: number[];
}

const bytesOf = (v: string | Uint8Array | undefined) =>
  v === undefined ? new Uint8Array() : typeof v === "string" ? utf8Encode(v) : v;

/** The Envoy process: a canary per configuration, a base VM and N worker VMs. */
export class Gateway {
  readonly sharedData: SharedDataView;
  trapCount = 0;
  private readonly vms: Vm[] = [];
  private readonly handles: VmHandle[] = [];
  private readonly clock: VirtualClock;
  private readonly logStore: LogStore;
  private readonly totalCalls = new CallCounter();
  private readonly metricRegistry = new MetricsRegistry();
  private readonly calls = new HttpCallRegistry();
  private readonly replies: LocalResponse[] = [];
  private clusters: Set<string>;
  private logLevel: number;
  private config: Uint8Array;
  private stopped = false;
  private readonly services: GatewayServices;

  private constructor(
    private readonly module: WebAssembly.Module,
    options: GatewayOptions,
    store: SharedDataStore,
  ) {
    const echo = options.echoLogs;
    this.logStore = new LogStore(
      echo === true
        ? (e) => console.log(`[vm ${e.vmIndex}] ${e.level}: ${e.message}`)
        : echo || undefined,
      options.recordLogs ?? true,
    );
    this.clock = new VirtualClock(options.startTimeMs ?? 1_700_000_000_000);
    this.clusters = new Set(options.clusters ?? []);
    this.logLevel = levelNumber(options.logLevel ?? "info");
    this.config = bytesOf(options.config);
    const vmId = options.vmId ?? "";
    this.sharedData = new SharedDataView(store, vmId);
    const properties = new PropertyBag({
      "node.id": options.nodeId ?? "gateway-0",
      plugin_name: options.pluginName ?? options.rootId ?? "",
      plugin_root_id: options.rootId ?? "",
      plugin_vm_id: vmId,
    });
    if (options.properties) properties.merge(options.properties);
    this.services = {
      clock: this.clock,
      logs: this.logStore,
      totalCalls: this.totalCalls,
      sharedData: this.sharedData,
      metrics: this.metricRegistry,
      httpCalls: this.calls,
      properties,
      vmConfig: bytesOf(options.vmConfig),
      failOpen: options.failStrategy === "fail-open",
      addressing: addressingOf(options),
      hasCluster: (name) => this.clusters.has(name),
      logLevel: () => this.logLevel,
      random: makeRandom(options.randomSeed),
      onTrap: () => {
        this.trapCount++;
      },
    };
  }

  static async create(options: GatewayOptions): Promise<Gateway> {
    const module = await compile(options.wasm);
    const names = WebAssembly.Module.exports(module).map((e) => e.name);
    if (!names.includes("proxy_abi_version_0_2_1")) {
      throw new Error("module does not export proxy_abi_version_0_2_1: refusing to load it");
    }
    const gw = new Gateway(module, options, new SharedDataStore());
    const canary = await gw.runCanary(gw.config);
    if (canary) throw new Error(`gateway failed to start: ${canary}`);
    const workers = options.workers ?? 1;
    for (let i = 0; i <= workers; i++) {
      const vm = await Vm.create(module, i, false, gw.services);
      gw.vms.push(vm);
      gw.handles.push(new VmHandle(vm, gw));
      if (!vm.initialize()) continue;
      const { root, status } = vm.createRoot(gw.config);
      if (status === "ok") vm.currentRoot = root;
      // cpp-host fails the thread-local VM when its start or configure fails.
      else if (status !== "trap") vm.fail(`${status} in ${vm.label} VM`, false);
    }
    return gw;
  }

  /** Runs a fresh canary VM; returns why it refused, or undefined if it accepted. */
  private async runCanary(config: Uint8Array): Promise<string | undefined> {
    const canary = await Vm.create(this.module, -1, true, this.services);
    try {
      if (!canary.initialize()) return `canary trapped in the start function: ${canary.failure}`;
      const { status } = canary.createRoot(config);
      if (status === "trap") return `canary trapped: ${canary.failure}`;
      if (status === "start-failed") return "canary on_vm_start returned false";
      if (status === "rejected") return "canary on_configure returned false";
      return undefined;
    } finally {
      // Its timers and http calls die with it.
      canary.discard();
    }
  }

  // ---- VMs -------------------------------------------------------------------------------------

  get workerCount(): number {
    return this.vms.length - 1;
  }

  /** VM by index: 0 = base (main thread), 1..N = workers. */
  vm(index: number): VmHandle {
    const h = this.handles[index];
    if (!h) throw new HostUsageError(`no VM ${index} (0 = base, 1..${this.workerCount} = workers)`);
    return h;
  }

  /** Worker i (0-based), i.e. vm(i + 1). */
  worker(i: number): VmHandle {
    if (i < 0 || i >= this.workerCount) throw new HostUsageError(`no worker ${i}`);
    return this.vm(i + 1);
  }

  get allVms(): VmHandle[] {
    return [...this.handles];
  }

  assertRunning(what: string): void {
    if (this.stopped) throw new HostUsageError(`${what}: the gateway was shut down`);
  }

  // ---- configuration ---------------------------------------------------------------------------

  /**
   * Canary first (fresh instance); if it accepts, every live VM gets a new root context. Old
   * roots get on_done/on_delete once their last stream ends. Our choice when a VM's
   * on_configure refuses after the canary accepted: log it, discard the new root and keep
   * the old one serving on that VM (real Envoy would fail that worker's VM).
   */
  async updateConfig(config: string | Uint8Array): Promise<ConfigUpdateResult> {
    this.assertRunning("updateConfig");
    const bytes = bytesOf(config);
    const refused = await this.runCanary(bytes);
    if (refused) {
      this.logStore.add({
        vmIndex: -1,
        level: "warn",
        message: `config update rejected: ${refused}`,
        source: "host",
        contextId: 0,
      });
      return { accepted: false, reason: refused };
    }
    this.config = bytes;
    const kept: number[] = [];
    for (const vm of this.vms) {
      if (vm.failed) continue;
      const old = vm.currentRoot;
      const { root, status } = vm.createRoot(bytes);
      if (status === "trap") continue;
      if (status !== "ok") {
        vm.log(
          3,
          `${vm.label} VM refused the new configuration (${status}); keeping root ${old?.id}`,
        );
        kept.push(vm.index);
        vm.finishRoot(root);
        continue;
      }
      vm.currentRoot = root;
      if (old) vm.retireRoot(old);
    }
    return kept.length > 0 ? { accepted: true, keptOldConfig: kept } : { accepted: true };
  }

  /** Every root in every live VM gets on_done then on_delete (Envoy's startShutdown). */
  shutdown(): void {
    this.assertRunning("shutdown");
    for (const vm of this.vms) {
      for (const root of [...vm.roots]) vm.finishRoot(root);
      vm.currentRoot = undefined;
    }
    this.stopped = true;
  }

  // ---- time --------------------------------------------------------------------------------------

  /** Wall-clock epoch ms: what the plugin reads from proxy_get_current_time_nanoseconds. */
  now(): number {
    return this.clock.wallMs();
  }

  /** The monotonic timeline ticks and timeouts run on (equals now() until a wall-clock jump). */
  monotonicNow(): number {
    return this.clock.nowMs();
  }

  /**
   * Steps the wall clock by `ms` (negative: backwards), as NTP or an operator would. Nothing
   * fires and no timer moves: Envoy's timers run on the monotonic clock, while
   * proxy_get_current_time_nanoseconds and WASI realtime read the wall clock.
   */
  jumpWallClock(ms: number): void {
    this.clock.jumpWall(ms);
  }

  /**
   * Moves the clock, firing due ticks and http-call timeouts in time order. Allowed after
   * shutdown, so roots whose on_done returned false can still finish with proxy_done.
   */
  advance(ms: number): void {
    this.clock.advance(ms);
  }

  /** One tick on the current root of one VM, or of every VM, right away. */
  tick(vmIndex?: number): void {
    if (vmIndex !== undefined) this.vm(vmIndex).tick();
    else for (const h of this.handles) h.tick();
  }

  // ---- http calls ----------------------------------------------------------------------------

  httpCalls(): HttpCall[] {
    return this.calls.list();
  }

  setClusters(clusters: string[]): void {
    this.clusters = new Set(clusters);
  }

  respondHttpCall(call: HttpCall, response: HttpCallResponse = {}): void {
    this.assertRunning("respondHttpCall");
    if (!this.calls.take(call)) throw new HostUsageError(`http call ${call.token} is not pending`);
    const headers = new HeaderMap([
      [":status", String(response.status ?? 200)],
      ...normalizeHeaders(response.headers as HeadersInput),
    ]);
    const body =
      typeof response.body === "string"
        ? utf8Encode(response.body)
        : (response.body ?? new Uint8Array());
    const trailers = new HeaderMap(normalizeHeaders(response.trailers as HeadersInput));
    this.vms[call.vmIndex]?.deliverHttpResponse(call, { headers, body, trailers });
  }

  /** A reset / connection failure: delivered as (token, 0, 0, 0). */
  failHttpCall(call: HttpCall): void {
    this.assertRunning("failHttpCall");
    if (!this.calls.take(call)) throw new HostUsageError(`http call ${call.token} is not pending`);
    this.vms[call.vmIndex]?.deliverHttpResponse(call, undefined);
  }

  // ---- observation ---------------------------------------------------------------------------

  metrics(): Map<string, MetricSnapshot> {
    return this.metricRegistry.snapshot();
  }

  /** Metrics as Envoy's admin /stats shows them: `wasmcustom.<name>`. */
  stats(): Map<string, MetricSnapshot> {
    return new Map([...this.metricRegistry.snapshot()].map(([k, v]) => [`wasmcustom.${k}`, v]));
  }

  logs(q: LogQuery = {}): LogEntry[] {
    return this.logStore.query(q);
  }

  clearLogs(): void {
    this.logStore.clear();
  }

  setLogLevel(level: LogLevelName): void {
    this.logLevel = levelNumber(level);
  }

  recordLocalResponse(r: LocalResponse): void {
    this.replies.push(r);
  }

  localResponses(): LocalResponse[] {
    return [...this.replies];
  }

  /** Import name → count, over all VMs or one. */
  hostCallCounts(vmIndex?: number): Map<string, number> {
    return vmIndex === undefined
      ? new Map(this.totalCalls.counts)
      : this.vm(vmIndex).hostCallCounts();
  }

  resetHostCallCounts(): void {
    this.totalCalls.reset();
    for (const vm of this.vms) vm.calls.reset();
  }
}

function addressingOf(options: GatewayOptions): AddressingConfig {
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

async function compile(wasm: GatewayOptions["wasm"]): Promise<WebAssembly.Module> {
  if (wasm instanceof WebAssembly.Module) return wasm;
  const bytes = typeof wasm === "string" ? new Uint8Array(await readFile(wasm)) : wasm;
  return WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
}

export function createGateway(options: GatewayOptions): Promise<Gateway> {
  return Gateway.create(options);
}
