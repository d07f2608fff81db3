import { readFile } from "node:fs/promises";
import { HostUsageError, type LogLevelName } from "./abi.js";
import { type AddressingConfig, parseBareIp } from "./address.js";
import { VirtualClock } from "./clock.js";
import { HeaderMap, type HeadersInput, normalizeHeaders } from "./header-map.js";
import { type HttpCall, HttpCallRegistry, type HttpCallResponse } from "./http-calls.js";
import {
  CallCounter,
  type LogEntry,
  type LogQuery,
  LogStore,
  levelName,
  levelNumber,
} from "./logs.js";
import { utf8Encode } from "./memory.js";
import { type MetricSnapshot, MetricsRegistry } from "./metrics.js";
import { type PropertiesInput, PropertyBag } from "./properties.js";
import { makeRandom, Rng } from "./random.js";
import {
  ConfigRollout,
  type ConfigUpdateResult,
  checkOrder,
  type VmConfigStep,
} from "./rollout.js";
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

export interface RolloutOptions {
  /**
   * Order in which VMs apply the config. Default: the base VM (Envoy's main thread applies its
   * own copy inline in SlotImpl::set), then the workers in an order drawn from the rollout seed
   * (each worker picks the post up on its own thread, so any order can happen).
   */
  order?: readonly number[];
}

export interface UpdateConfigOptions extends RolloutOptions {
  /** Gap between two VMs' turns, in virtual ms, drawn from [min, max]. Default: the gateway's. */
  gapMs?: readonly [number, number];
  /** Called between two VMs' turns (after the gap) with the index of the VM about to apply it. */
  between?: (nextVmIndex: number) => void | Promise<void>;
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
  /** cpp-host `plugin_canary_cache_`: configuration → why the canary refused it ("" = accepted). */
  private readonly canaryVerdicts = new Map<string, string>();
  /**
   * Set once a VM failed to create the plugin (cpp-host then fails the *base* Wasm with
   * StartFailed/ConfigureFailed/UnableToInitializeCode); Envoy's createWasm refuses every later
   * configuration of a failed base VM.
   */
  private baseFailure: string | undefined;
  private rollout: ConfigRollout | undefined;
  private readonly rolloutRandom: Rng;
  private readonly rolloutGap: readonly [number, number];

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
    // Its own stream, so rollouts never shift what the plugin draws from random_get.
    this.rolloutRandom = new Rng(
      ((options.rolloutSeed ?? options.randomSeed ?? 1) ^ 0x9e3779b9) >>> 0,
    );
    this.rolloutGap = checkGap(options.rolloutGapMs ?? [0, 5]);
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
    const { refused, ran } = await gw.canary(gw.config);
    if (refused) throw new Error(`gateway failed to start: ${refused}`);
    const workers = options.workers ?? 1;
    for (let i = 0; i <= workers; i++) {
      // Instantiated now; each runs its start function when the rollout reaches it, as Envoy
      // clones and initialises a worker's VM inside the callback posted to that worker.
      const vm = await Vm.create(module, i, false, gw.services);
      gw.vms.push(vm);
      gw.handles.push(new VmHandle(vm, gw));
    }
    const startup = new ConfigRollout(gw, gw.config, true, undefined, ran, gw.defaultOrder());
    gw.rollout = startup;
    gw.runRollout(startup, gw.rolloutGap);
    return gw;
  }

  /**
   * The canary (cpp-host WasmHandleBase::canary): a fresh VM runs the start function,
   * on_vm_start and on_configure on the configuration, then is thrown away without on_done or
   * on_delete either way (accepted: `kill()`; refused: the VM is failed first, and a failed
   * VM's contexts get no more calls). Its verdict is cached per configuration when on_configure
   * decided it; a start-up failure is not cached.
   */
  private async canary(config: Uint8Array): Promise<{ refused?: string; ran: boolean }> {
    const key = configKey(config);
    const cached = this.canaryVerdicts.get(key);
    if (cached !== undefined) return { refused: cached || undefined, ran: false };
    const canary = await Vm.create(this.module, -1, true, this.services);
    let refused: string | undefined;
    let cache = false;
    try {
      if (!canary.initialize()) {
        refused = `canary trapped in the start function: ${canary.failure}`;
      } else {
        const { status, trapIn } = canary.createRoot(config);
        cache = status === "ok" || status === "rejected" || trapIn === "configure";
        if (status === "trap") refused = `canary trapped: ${canary.failure}`;
        else if (status === "start-failed") refused = "canary on_vm_start returned false";
        else if (status === "rejected") refused = "canary on_configure returned false";
      }
    } finally {
      // Its timers and http calls die with it.
      canary.discard();
    }
    if (cache) this.canaryVerdicts.set(key, refused ?? "");
    return { refused, ran: true };
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
   * Starts a config update: the canary (unless its verdict for these bytes is cached), then a
   * rollout that applies the config one VM at a time as the test calls `applyNext()`. A refused
   * config gives a rollout with `accepted: false` and nothing pending.
   */
  async beginConfigUpdate(
    config: string | Uint8Array,
    options: RolloutOptions = {},
  ): Promise<ConfigRollout> {
    this.assertRunning("beginConfigUpdate");
    if (this.rollout) {
      throw new HostUsageError(
        `a config rollout is still under way (pending VMs ${this.rollout.pending.join(", ")}): ` +
          "finish it (applyAll) before starting another",
      );
    }
    const bytes = bytesOf(config);
    const order = options.order ? checkOrder(options.order, this.vms.length) : this.defaultOrder();
    const { refused, ran } = await this.canary(bytes);
    this.assertRunning("beginConfigUpdate");
    // Envoy's createWasm: the canary passed, but a base VM that failed is never used again.
    const reason =
      refused ??
      (this.baseFailure
        ? `the base Wasm VM has failed (${this.baseFailure}); Envoy refuses every later ` +
          "configuration of it"
        : undefined);
    if (reason) {
      this.hostLog(-1, 3, `config update rejected: ${reason}`);
      return new ConfigRollout(undefined, bytes, false, reason, ran, []);
    }
    this.config = bytes;
    const rollout = new ConfigRollout(this, bytes, true, undefined, ran, order);
    this.rollout = rollout;
    return rollout;
  }

  /**
   * Canary, then every VM in turn (base VM first, workers in seeded order) with a seeded gap of
   * virtual time between two VMs, in which due ticks and http-call timeouts fire. Same result as
   * before: accepted or not, and which VMs ended up without the plugin.
   */
  async updateConfig(
    config: string | Uint8Array,
    options: UpdateConfigOptions = {},
  ): Promise<ConfigUpdateResult> {
    const rollout = await this.beginConfigUpdate(config, options);
    const gap = options.gapMs ? checkGap(options.gapMs) : this.rolloutGap;
    await this.runRolloutAsync(rollout, gap, options.between);
    return rollout.result();
  }

  /** The rollout under way, if any (e.g. one a test began and has not finished). */
  get pendingRollout(): ConfigRollout | undefined {
    return this.rollout;
  }

  private runRollout(rollout: ConfigRollout, gap: readonly [number, number]): void {
    let first = true;
    while (!rollout.finished) {
      if (!first) this.rolloutPause(gap);
      first = false;
      rollout.applyNext();
    }
  }

  private async runRolloutAsync(
    rollout: ConfigRollout,
    gap: readonly [number, number],
    between: UpdateConfigOptions["between"],
  ): Promise<void> {
    let first = true;
    while (!rollout.finished) {
      if (!first) {
        this.rolloutPause(gap);
        const next = rollout.pending[0];
        if (between && next !== undefined) await between(next);
      }
      first = false;
      rollout.applyNext();
    }
  }

  private rolloutPause([min, max]: readonly [number, number]): void {
    const ms = min + Math.floor((this.rolloutRandom.next() / 2 ** 32) * (max - min + 1));
    if (ms > 0) this.clock.advance(ms);
  }

  /** Base VM first; workers shuffled by the rollout seed (Fisher-Yates). */
  private defaultOrder(): number[] {
    const workers = this.vms.slice(1).map((vm) => vm.index);
    for (let i = workers.length - 1; i > 0; i--) {
      const j = this.rolloutRandom.int(i + 1);
      [workers[i], workers[j]] = [workers[j] as number, workers[i] as number];
    }
    return [0, ...workers];
  }

  /** @internal RolloutHost */
  rolloutEnded(rollout: ConfigRollout): void {
    if (this.rollout === rollout) this.rollout = undefined;
  }

  /**
   * @internal RolloutHost: the callback Envoy posts to one thread, i.e. cpp-host
   * getOrCreateThreadLocalPlugin for this VM.
   */
  applyConfigTo(vmIndex: number, config: Uint8Array): VmConfigStep {
    const handle = this.handles[vmIndex];
    let vm = this.vms[vmIndex];
    if (!vm || !handle) throw new HostUsageError(`no VM ${vmIndex}`);
    let freshVm = false;
    if (vm.failed) {
      // cpp-host drops a thread-local VM that failed at runtime from its cache
      // (getOrCreateThreadLocalWasm's fail callback), so the next plugin gets a fresh clone.
      vm = Vm.createSync(this.module, vmIndex, false, this.services);
      this.vms[vmIndex] = vm;
      handle.rebind(vm);
      freshVm = true;
      this.hostLog(vmIndex, 2, `${vm.label} VM had failed: a fresh VM takes the new configuration`);
    }
    const step = (outcome: VmConfigStep["outcome"]): VmConfigStep => ({
      vmIndex,
      outcome,
      rootContextId: vm?.currentRoot?.id,
      freshVm,
      atMs: this.clock.wallMs(),
    });
    const old = vm.currentRoot;
    // cpp-host's thread-local plugin cache: the same configuration's plugin is still alive here
    // (the current one, or an old one its streams keep), so it is handed back as it is.
    const live = vm.roots.find(
      (r) => r.configured && !r.deleted && !r.awaitingDone && sameBytes(r.config, config),
    );
    if (live) {
      live.retiring = false;
      vm.currentRoot = live;
      vm.pluginMissing = undefined;
      if (old && old !== live) vm.retireRoot(old);
      return step("reused");
    }
    const missing = (outcome: VmConfigStep["outcome"], failState: string, why: string) => {
      // Envoy keeps a null plugin handle for this thread; the old configuration's plugin is
      // released all the same (its streams keep it until they end).
      vm.currentRoot = undefined;
      vm.pluginMissing = why;
      this.baseFailure ??= `${failState}: ${why}`;
      if (old) vm.retireRoot(old);
      this.hostLog(vmIndex, 4, `${vm.label} VM: ${why}; its new streams bypass the plugin`);
      return step(outcome);
    };
    if (!vm.initialized && !vm.initialize()) {
      return missing("trapped", "UnableToInitializeCode", `start function trapped: ${vm.failure}`);
    }
    const { root, status, trapIn } = vm.createRoot(config);
    if (status === "ok") {
      root.configured = true;
      vm.currentRoot = root;
      vm.pluginMissing = undefined;
      if (old) vm.retireRoot(old);
      return step("configured");
    }
    if (status === "trap") {
      const failState = trapIn === "configure" ? "ConfigureFailed" : "StartFailed";
      return missing("trapped", failState, `trapped applying the configuration: ${vm.failure}`);
    }
    if (status === "start-failed") {
      return missing("start-failed", "StartFailed", "on_vm_start returned false");
    }
    return missing("rejected", "ConfigureFailed", "on_configure returned false");
  }

  private hostLog(vmIndex: number, level: number, message: string): void {
    this.logStore.add({
      vmIndex,
      level: levelName(level),
      message,
      source: "host",
      contextId: 0,
    });
  }

  /** Every root in every live VM gets on_done then on_delete (Envoy's startShutdown). */
  shutdown(): void {
    this.assertRunning("shutdown");
    this.rollout = undefined;
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
    const taken = this.calls.take(call);
    if (!taken) throw new HostUsageError(`http call ${call.token} is not pending`);
    const headers = new HeaderMap([
      [":status", String(response.status ?? 200)],
      ...normalizeHeaders(response.headers as HeadersInput),
    ]);
    const body =
      typeof response.body === "string"
        ? utf8Encode(response.body)
        : (response.body ?? new Uint8Array());
    const trailers = new HeaderMap(normalizeHeaders(response.trailers as HeadersInput));
    (taken.owner as Vm).deliverHttpResponse(call, { headers, body, trailers });
  }

  /** A reset / connection failure: delivered as (token, 0, 0, 0). */
  failHttpCall(call: HttpCall): void {
    this.assertRunning("failHttpCall");
    const taken = this.calls.take(call);
    if (!taken) throw new HostUsageError(`http call ${call.token} is not pending`);
    (taken.owner as Vm).deliverHttpResponse(call, undefined);
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

function checkGap(gap: readonly [number, number]): readonly [number, number] {
  const [min, max] = gap;
  if (!(Number.isInteger(min) && Number.isInteger(max) && min >= 0 && max >= min)) {
    throw new HostUsageError(`rollout gap ${JSON.stringify(gap)}: want integers 0 <= min <= max`);
  }
  return [min, max];
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

/** Identity of a configuration within one gateway (root id and VM are fixed per gateway). */
function configKey(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("latin1");
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

async function compile(wasm: GatewayOptions["wasm"]): Promise<WebAssembly.Module> {
  if (wasm instanceof WebAssembly.Module) return wasm;
  const bytes = typeof wasm === "string" ? new Uint8Array(await readFile(wasm)) : wasm;
  return WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
}

export function createGateway(options: GatewayOptions): Promise<Gateway> {
  return Gateway.create(options);
}
