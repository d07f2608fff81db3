import { HostUsageError, type LogLevelName } from "./abi.js";
import { Canary } from "./canary.js";
import { VirtualClock } from "./clock.js";
import {
  addressingOf,
  bytesOf,
  type GatewayOptions,
  gatewayProperties,
  loadModule,
  logEcho,
} from "./gateway-options.js";
import {
  type HttpCall,
  HttpCallRegistry,
  type HttpCallResponse,
  responseInFlight,
} from "./http-calls.js";
import {
  CallCounter,
  type LogEntry,
  type LogQuery,
  LogStore,
  levelName,
  levelNumber,
} from "./logs.js";
import { type MetricSnapshot, MetricsRegistry } from "./metrics.js";
import { makeRandom } from "./random.js";
import {
  ConfigRollout,
  type ConfigUpdateResult,
  checkGap,
  checkOrder,
  type RolloutOptions,
  RolloutPacer,
  type UpdateConfigOptions,
  type VmConfigStep,
} from "./rollout.js";
import { SharedDataStore, SharedDataView } from "./shared-data.js";
import type { LocalResponse } from "./stream.js";
import { getOrCreatePlugin } from "./thread-local-plugin.js";
import type { GatewayServices, Vm } from "./vm.js";
import type { VmHandle } from "./vm-handle.js";
import { VmSlots } from "./vm-slots.js";

// The options are createGateway's parameter: importers of this module keep finding them here.
export type { GatewayOptions };

/**
 * The Envoy process: a canary per configuration, a base VM and N worker VMs, and what they
 * share (clocks, logs, metrics, shared data, http calls). Tests drive it through this surface;
 * the work is done by the modules it wires together.
 */
export class Gateway {
  readonly sharedData: SharedDataView;
  trapCount = 0;
  private readonly slots: VmSlots;
  private readonly clock: VirtualClock;
  private readonly logStore: LogStore;
  private readonly totalCalls = new CallCounter();
  private readonly metricRegistry = new MetricsRegistry();
  // Named `calls` on purpose: the safety campaign (fuzz/safety) watches `gw.calls.add`.
  private readonly calls = new HttpCallRegistry();
  private readonly replies: LocalResponse[] = [];
  private clusters: Set<string>;
  private logLevel: number;
  private config: Uint8Array;
  private stopped = false;
  private readonly services: GatewayServices;
  private readonly canary: Canary;
  /**
   * Set once a VM failed to create the plugin (cpp-host then fails the *base* Wasm with
   * StartFailed/ConfigureFailed/UnableToInitializeCode); Envoy's createWasm refuses every later
   * configuration of a failed base VM.
   */
  private baseFailure: string | undefined;
  private rollout: ConfigRollout | undefined;
  private readonly pacer: RolloutPacer;

  private constructor(module: WebAssembly.Module, options: GatewayOptions, store: SharedDataStore) {
    this.logStore = new LogStore(logEcho(options), options.recordLogs ?? true);
    this.clock = new VirtualClock(options.startTimeMs ?? 1_700_000_000_000);
    this.clusters = new Set(options.clusters ?? []);
    this.logLevel = levelNumber(options.logLevel ?? "info");
    this.config = bytesOf(options.config);
    this.pacer = new RolloutPacer(
      options.rolloutSeed ?? options.randomSeed ?? 1,
      options.rolloutGapMs ?? [0, 5],
      this.clock,
    );
    const vmId = options.vmId ?? "";
    this.sharedData = new SharedDataView(store, vmId);
    this.services = {
      clock: this.clock,
      logs: this.logStore,
      totalCalls: this.totalCalls,
      sharedData: this.sharedData,
      metrics: this.metricRegistry,
      httpCalls: this.calls,
      properties: gatewayProperties(options, vmId),
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
    this.canary = new Canary(module, this.services);
    this.slots = new VmSlots(module, this.services, this);
  }

  static async create(options: GatewayOptions): Promise<Gateway> {
    const module = await loadModule(options.wasm);
    const gw = new Gateway(module, options, new SharedDataStore());
    const { refused, ran } = await gw.canary.check(gw.config);
    if (refused) throw new Error(`gateway failed to start: ${refused}`);
    gw.slots.open(options.workers ?? 1);
    // Start-up is a rollout too: each VM runs its start function when its turn comes.
    const order = gw.pacer.defaultOrder(gw.slots.workerIndices());
    // Not registered as gw.rollout: it is over before anything could see it.
    const startup = new ConfigRollout(gw, gw.config, undefined, ran, order);
    await gw.pacer.runWithBetween(startup, gw.pacer.gap);
    return gw;
  }

  // ---- VMs -------------------------------------------------------------------------------------

  get workerCount(): number {
    return this.slots.workerCount;
  }

  /** VM by index: 0 = base (main thread), 1..N = workers. */
  vm(index: number): VmHandle {
    return this.slots.handle(index);
  }

  /** Worker i (0-based), i.e. vm(i + 1). */
  worker(i: number): VmHandle {
    return this.slots.worker(i);
  }

  get allVms(): VmHandle[] {
    return this.slots.allHandles;
  }

  assertRunning(what: string): void {
    if (this.stopped) throw new HostUsageError(`${what}: the gateway was shut down`);
  }

  /** Every root in every live VM gets on_done then on_delete (Envoy's startShutdown). */
  shutdown(): void {
    this.assertRunning("shutdown");
    this.rollout = undefined;
    for (const vm of this.slots.all) {
      for (const root of [...vm.roots]) vm.finishRoot(root);
      vm.currentRoot = undefined;
    }
    this.stopped = true;
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
    const order = options.order
      ? checkOrder(options.order, this.slots.count)
      : this.pacer.defaultOrder(this.slots.workerIndices());
    const { refused, ran } = await this.canary.check(bytes);
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
      return new ConfigRollout(this, bytes, reason, ran, []);
    }
    this.config = bytes;
    const rollout = new ConfigRollout(this, bytes, undefined, ran, order);
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
    // The gap is checked first: a bad one refused after beginConfigUpdate would leave its
    // rollout registered and never run, so every later update would be refused as under way.
    const gap = options.gapMs ? checkGap(options.gapMs) : this.pacer.gap;
    const rollout = await this.beginConfigUpdate(config, options);
    await this.pacer.runWithBetween(rollout, gap, options.between);
    return rollout.result();
  }

  /** The rollout under way, if any (e.g. one a test began and has not finished). */
  get pendingRollout(): ConfigRollout | undefined {
    return this.rollout;
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
    let vm: Vm = this.slots.vmAt(vmIndex);
    const freshVm = vm.failed;
    if (freshVm) {
      // cpp-host drops a thread-local VM that failed at runtime from its cache
      // (getOrCreateThreadLocalWasm's fail callback), so the next plugin gets a fresh clone.
      vm = this.slots.replace(vmIndex);
      vm.log(2, `${vm.label} VM had failed: a fresh VM takes the new configuration`);
    }
    const outcome = getOrCreatePlugin(vm, config, {
      failBase: (state) => {
        this.baseFailure ??= state;
      },
    });
    return {
      vmIndex,
      outcome,
      rootContextId: vm.currentRoot?.id,
      freshVm,
      atMs: this.clock.wallMs(),
    };
  }

  /** A host log entry under a VM index with no Vm at hand (-1: the canary's); a Vm uses vm.log. */
  private hostLog(vmIndex: number, level: number, message: string): void {
    this.logStore.add({
      vmIndex,
      level: levelName(level),
      message,
      source: "host",
      contextId: 0,
    });
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
    else for (const h of this.slots.allHandles) h.tick();
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
    taken.owner.deliverHttpResponse(call, responseInFlight(response));
  }

  /** A reset / connection failure: delivered as (token, 0, 0, 0). */
  failHttpCall(call: HttpCall): void {
    this.assertRunning("failHttpCall");
    const taken = this.calls.take(call);
    if (!taken) throw new HostUsageError(`http call ${call.token} is not pending`);
    taken.owner.deliverHttpResponse(call, undefined);
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
    for (const vm of this.slots.all) vm.calls.reset();
  }
}

export function createGateway(options: GatewayOptions): Promise<Gateway> {
  return Gateway.create(options);
}
