import { BufferType, HeaderMapType, HostUsageError, WasmResult } from "./abi.js";
import type { AddressingConfig } from "./address.js";
import { TickTimer, type TimerHandle, type VirtualClock } from "./clock.js";
import { type HostContext, RootContext, type StreamSide } from "./context.js";
import type { HeaderMap } from "./header-map.js";
import type { HttpCall, HttpCallRegistry } from "./http-calls.js";
import { buildImports } from "./imports.js";
import { CallCounter, type LogStore, levelName } from "./logs.js";
import { GuestMemory } from "./memory.js";
import { type MetricsRegistry, VmMetrics } from "./metrics.js";
import type { PropertyBag } from "./properties.js";
import type { SharedDataView } from "./shared-data.js";

/** What a VM needs from the process (gateway) around it. */
export interface GatewayServices {
  clock: VirtualClock;
  logs: LogStore;
  totalCalls: CallCounter;
  sharedData: SharedDataView;
  metrics: MetricsRegistry;
  httpCalls: HttpCallRegistry;
  properties: PropertyBag;
  vmConfig: Uint8Array;
  failOpen: boolean;
  /** How streams derive `source.address` from a remote address and XFF. */
  addressing: AddressingConfig;
  hasCluster(name: string): boolean;
  logLevel(): number;
  random(buf: Uint8Array): void;
  onTrap(vm: Vm, message: string): void;
}

export interface HttpResponseInFlight {
  headers: HeaderMap;
  body: Uint8Array;
  trailers: HeaderMap;
}

type ExportFn = (...args: number[]) => number | bigint | undefined;

/**
 * One Wasm VM: a separate WebAssembly.Instance with its own memory, as Envoy runs one per
 * worker thread (plus the main-thread base VM and the throw-away canary).
 */
export class Vm {
  failed = false;
  failure: string | undefined;
  discarded = false;
  /** The start function (`_initialize`/`_start`) has run. */
  initialized = false;
  /**
   * Why this VM has no plugin for the current configuration, if it has none: its start
   * function, on_vm_start or on_configure failed while the config was applied here. Envoy then
   * holds a null PluginHandle for this thread and adds no filter, so new streams pass by the
   * plugin whatever the fail strategy (see host/README.md).
   */
  pluginMissing: string | undefined;
  readonly calls = new CallCounter();
  readonly metrics: VmMetrics;
  readonly roots: RootContext[] = [];
  currentRoot: RootContext | undefined;
  /** Maps 6/7 and buffer 4 while on_http_call_response runs. */
  httpResponse: HttpResponseInFlight | undefined;
  /** Plugin configuration (buffer 7) while on_configure runs; cpp-host's `temp_plugin_`. */
  pluginConfig: Uint8Array | undefined;
  nextHttpToken = 1;

  private mem!: GuestMemory;
  private exportFns = new Map<string, ExportFn>();
  private readonly contexts = new Map<number, HostContext>();
  private nextContextId = 1;
  private depth = 0;
  private active: HostContext | undefined;
  private effectiveId = 0;
  private afterCall: Array<() => void> = [];
  /** The VM context (id 0): where the start function runs. */
  private readonly vmContext = new RootContext(0, new Uint8Array());

  private constructor(
    readonly index: number,
    readonly canary: boolean,
    readonly services: GatewayServices,
  ) {
    this.metrics = new VmMetrics(services.metrics);
  }

  /**
   * Instantiates the module synchronously (Node has no size limit on it), so a config rollout
   * step can clone a fresh VM in the middle of a test without awaiting.
   */
  static create(
    module: WebAssembly.Module,
    index: number,
    canary: boolean,
    services: GatewayServices,
  ): Vm {
    const vm = new Vm(index, canary, services);
    const instance = new WebAssembly.Instance(module, buildImports(vm, module));
    const memory = instance.exports.memory;
    if (!(memory instanceof WebAssembly.Memory)) throw new Error("module exports no memory");
    vm.mem = new GuestMemory(memory);
    for (const [name, value] of Object.entries(instance.exports)) {
      if (typeof value === "function") vm.exportFns.set(name, value as ExportFn);
    }
    // cpp-host looks for `malloc`, then `proxy_on_memory_allocate`; the ABI names the latter.
    const alloc = vm.exportFns.get("proxy_on_memory_allocate") ?? vm.exportFns.get("malloc");
    if (alloc) vm.mem.setAllocator((size) => Number(alloc(size)));
    return vm;
  }

  get memory(): GuestMemory {
    return this.mem;
  }

  get label(): string {
    return this.canary ? "canary" : this.index === 0 ? "base" : `worker ${this.index - 1}`;
  }

  hasExport(name: string): boolean {
    return this.exportFns.has(name);
  }

  /** The context host calls act on: the effective one if set and alive, else the current one. */
  context(): HostContext {
    if (this.effectiveId !== 0) {
      const c = this.contexts.get(this.effectiveId);
      if (c) return c;
    }
    return this.active ?? this.vmContext;
  }

  getContext(id: number): HostContext | undefined {
    return this.contexts.get(id);
  }

  allocContextId(): number {
    while (this.contexts.has(this.nextContextId)) this.nextContextId++;
    return this.nextContextId++;
  }

  register(ctx: HostContext): void {
    this.contexts.set(ctx.id, ctx);
  }

  unregister(id: number): void {
    this.contexts.delete(id);
  }

  /** Runs after the current top-level call returns (cpp-host `addAfterVmCallAction`). */
  deferAfterCall(action: () => void): void {
    this.afterCall.push(action);
  }

  log(level: number, message: string, source: "plugin" | "host" = "host"): void {
    this.services.logs.add({
      vmIndex: this.canary ? -1 : this.index,
      level: levelName(level),
      message,
      source,
      contextId: this.depth > 0 ? this.context().id : 0,
    });
  }

  assertUsable(what: string): void {
    if (this.discarded) throw new HostUsageError(`${what}: the ${this.label} VM was discarded`);
    if (this.depth > 0) {
      throw new HostUsageError(
        `${what}: re-entering the ${this.label} VM from inside its own host call (a test bug: ` +
          "hooks may drive other VMs, not the one that is calling)",
      );
    }
  }

  /**
   * Calls an export on behalf of `ctx`. Returns undefined if the export is missing or the VM is
   * (or just became) failed: callers check `failed`. A throw out of wasm is a trap and fails
   * this VM only; a HostUsageError (or an error from a test hook) goes straight to the test.
   */
  invoke(name: string, ctx: HostContext, ...args: number[]): number | undefined {
    this.assertUsable(`calling ${name}`);
    if (this.failed) return undefined;
    const fn = this.exportFns.get(name);
    if (!fn) return undefined;
    this.depth++;
    this.active = ctx;
    this.effectiveId = 0;
    let result: number | undefined;
    try {
      const r = fn(...args);
      result = r === undefined ? 0 : Number(r);
    } catch (e) {
      this.depth--;
      this.active = undefined;
      this.effectiveId = 0;
      if (e instanceof HostUsageError) throw e;
      if (e instanceof PassThrough) throw e.original;
      this.fail(
        `${name}(${args.join(", ")}) trapped: ${e instanceof Error ? e.message : String(e)}`,
      );
      return undefined;
    }
    this.depth--;
    this.active = undefined;
    this.effectiveId = 0;
    this.drainAfterCall();
    return result;
  }

  private drainAfterCall(): void {
    while (this.depth === 0 && !this.failed && this.afterCall.length > 0) {
      const action = this.afterCall.shift();
      action?.();
    }
    if (this.failed) this.afterCall = [];
  }

  /** Runs a test hook inside a host call; its exceptions must reach the test, not trap the VM. */
  runHook(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      throw e instanceof HostUsageError ? e : new PassThrough(e);
    }
  }

  /** Fails this VM only; `trap` false for a refusal (on_vm_start/on_configure said no). */
  fail(message: string, trap = true): void {
    if (this.failed) return;
    this.failed = true;
    this.failure = message;
    this.log(5, `wasm VM ${this.label} failed: ${message}`);
    for (const r of this.roots) r.tick?.stop();
    this.services.httpCalls.drop(this);
    this.afterCall = [];
    if (trap) this.services.onTrap(this, message);
  }

  // ---- lifecycle (cpp-host WasmBase::start / configure / startShutdown) ----------------------

  /** Runs the module start function once (`_initialize` for reactors, else `_start`). */
  initialize(): boolean {
    this.initialized = true;
    const start = this.exportFns.has("_initialize") ? "_initialize" : "_start";
    this.invoke(start, this.vmContext);
    return !this.failed;
  }

  /**
   * Creates a root context and runs on_context_create(id, 0), on_vm_start, on_configure
   * (cpp-host WasmBase::start then configure). Returns the root and what happened; a trap says
   * in which of the two steps it happened. A root whose start or configure failed stays
   * registered, as cpp-host leaves it in `root_contexts_`.
   */
  createRoot(config: Uint8Array): {
    root: RootContext;
    status: "ok" | "start-failed" | "rejected" | "trap";
    trapIn?: "start" | "configure";
  } {
    const root = new RootContext(this.allocContextId(), config);
    root.tick = new TickTimer(this.services.clock, () => this.tick(root));
    this.register(root);
    this.roots.push(root);
    this.invoke("proxy_on_context_create", root, root.id, 0);
    if (this.failed) return { root, status: "trap", trapIn: "start" };
    const started = this.invoke("proxy_on_vm_start", root, root.id, this.services.vmConfig.length);
    if (this.failed) return { root, status: "trap", trapIn: "start" };
    if (started === 0) return { root, status: "start-failed" };
    this.pluginConfig = config;
    let ok: number | undefined;
    try {
      ok = this.invoke("proxy_on_configure", root, root.id, config.length);
    } finally {
      this.pluginConfig = undefined;
    }
    if (this.failed) return { root, status: "trap", trapIn: "configure" };
    return { root, status: ok === 0 ? "rejected" : "ok" };
  }

  tick(root: RootContext): void {
    if (this.failed || this.discarded || root.deleted) return;
    this.invoke("proxy_on_tick", root, root.id);
  }

  /** Old roots are kept until their last stream ends (Envoy holds the plugin handle). */
  retireRoot(root: RootContext): void {
    root.retiring = true;
    if (root.liveStreams.size === 0) this.finishRoot(root);
  }

  streamEnded(stream: StreamSide): void {
    this.unregister(stream.id);
    const root = stream.root;
    root.liveStreams.delete(stream.id);
    if (root.retiring && root.liveStreams.size === 0 && !root.deleted) this.finishRoot(root);
  }

  /** on_done, then on_delete unless on_done returned false (then proxy_done completes it). */
  finishRoot(root: RootContext): void {
    if (root.deleted || root.awaitingDone || this.failed) return;
    root.retiring = true;
    const done = this.invoke("proxy_on_done", root, root.id);
    if (this.failed) return;
    if (done === 0) {
      // Still a live context (cpp-host `pending_done_`): it keeps ticking and receiving http
      // responses until it calls proxy_done.
      root.awaitingDone = true;
      return;
    }
    this.deleteRoot(root);
  }

  deleteRoot(root: RootContext): void {
    if (root.deleted) return;
    root.deleted = true;
    root.awaitingDone = false;
    root.tick?.stop();
    this.services.httpCalls.drop(this, root.id);
    this.invoke("proxy_on_delete", root, root.id);
    this.unregister(root.id);
    if (this.currentRoot === root) this.currentRoot = undefined;
  }

  discard(): void {
    for (const r of this.roots) r.tick?.stop();
    this.services.httpCalls.drop(this);
    this.discarded = true;
  }

  // ---- http calls ----------------------------------------------------------------------------

  scheduleHttpTimeout(call: HttpCall): TimerHandle | undefined {
    // Our choice: timeout 0 means no timeout (Envoy's async client treats 0 as infinite).
    if (call.timeoutMs <= 0) return undefined;
    // Due on the monotonic timeline: a wall-clock step must not fire or delay it.
    const clock = this.services.clock;
    return clock.at(clock.nowMs() + call.timeoutMs, () => {
      if (this.services.httpCalls.take(call)) this.deliverHttpResponse(call, undefined);
    });
  }

  /** Delivers to the root that made the call, with that root as the current context. */
  deliverHttpResponse(call: HttpCall, response: HttpResponseInFlight | undefined): void {
    const root = this.getContext(call.rootContextId);
    if (this.failed || this.discarded || !root || !root.isRoot || root.deleted) return;
    this.httpResponse = response;
    try {
      const nHeaders = response?.headers.size ?? 0;
      const bodySize = response?.body.length ?? 0;
      const nTrailers = response?.trailers.size ?? 0;
      this.invoke(
        "proxy_on_http_call_response",
        root,
        root.id,
        call.token,
        nHeaders,
        bodySize,
        nTrailers,
      );
    } finally {
      this.httpResponse = undefined;
    }
  }

  // ---- maps and buffers for the imports ------------------------------------------------------

  headerMap(type: number): HeaderMap | undefined {
    if (type > HeaderMapType.HttpCallResponseTrailers) return undefined;
    if (type === HeaderMapType.HttpCallResponseHeaders) return this.httpResponse?.headers;
    if (type === HeaderMapType.HttpCallResponseTrailers) return this.httpResponse?.trailers;
    const ctx = this.context();
    return ctx.isRoot ? undefined : ctx.headerMap(type);
  }

  buffer(type: number): Uint8Array | undefined {
    if (type === BufferType.VmConfiguration) return this.services.vmConfig;
    if (type === BufferType.PluginConfiguration) return this.pluginConfig;
    if (type === BufferType.HttpCallResponseBody) return this.httpResponse?.body;
    const ctx = this.context();
    return ctx.isRoot ? undefined : ctx.buffer(type);
  }

  setEffectiveContext(id: number): boolean {
    if (!this.contexts.has(id)) return false;
    this.effectiveId = id;
    return true;
  }

  statusName(code: number): string {
    return Object.entries(WasmResult).find(([, v]) => v === code)?.[0] ?? String(code);
  }
}

/** Carries an exception from a test hook through the wasm frames untouched. */
export class PassThrough extends Error {
  constructor(readonly original: unknown) {
    super("error thrown by a test hook");
  }
}
