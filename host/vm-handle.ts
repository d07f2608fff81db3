import type { HttpCall } from "./http-calls.js";
import type { LogEntry, LogQuery } from "./logs.js";
import { type LocalResponse, type OpenStreamOptions, Stream } from "./stream.js";
import type { Vm } from "./vm.js";

/** What a VM handle needs from its gateway. */
export interface HandleOwner {
  assertRunning(what: string): void;
  recordLocalResponse(r: LocalResponse): void;
  httpCalls(): HttpCall[];
  logs(q?: LogQuery): LogEntry[];
}

/** A test's handle on one VM (`gw.vm(i)` / `gw.worker(i)`): the proxytest-style surface. */
export class VmHandle {
  constructor(
    private current: Vm,
    private readonly owner: HandleOwner,
  ) {}

  /** @internal The VM instance behind this slot now (a config update may replace a failed one). */
  get vm(): Vm {
    return this.current;
  }

  /** @internal */
  rebind(vm: Vm): void {
    this.current = vm;
  }

  /** 0 = base (main-thread) VM, 1..N = workers. */
  get index(): number {
    return this.vm.index;
  }

  get label(): string {
    return this.vm.label;
  }

  get failed(): boolean {
    return this.vm.failed;
  }

  get failure(): string | undefined {
    return this.vm.failure;
  }

  /**
   * Why this VM has no plugin for the current configuration (its on_vm_start or on_configure
   * refused or trapped when the config was applied here), or undefined. While set, new streams
   * on this VM skip the plugin entirely, whatever the fail strategy, as in Envoy.
   */
  get pluginMissing(): string | undefined {
    return this.vm.pluginMissing;
  }

  /** Size of this VM's linear memory in bytes (Wasm memory only grows: a leak shows here). */
  get memoryBytes(): number {
    return this.vm.memory.byteLength;
  }

  /** Id of the root context new streams bind to. */
  get rootContextId(): number | undefined {
    return this.vm.currentRoot?.id;
  }

  /** Every root context that has not been deleted yet (old ones linger while streams use them). */
  get liveRootContextIds(): number[] {
    return this.vm.roots.filter((r) => !r.deleted).map((r) => r.id);
  }

  /** The tick period of the current root, in ms (0 = not ticking). */
  get tickPeriodMs(): number {
    return this.vm.currentRoot?.tick?.periodMs ?? 0;
  }

  openStream(options: OpenStreamOptions = {}): Stream {
    this.owner.assertRunning("openStream");
    // The filter chain is built when request headers arrive: bind to whatever VM serves this
    // slot then (a rollout step in between may have replaced a failed one).
    return new Stream(
      this.vm,
      options,
      (r) => this.owner.recordLocalResponse(r),
      () => this.vm,
    );
  }

  /**
   * Fails this VM as a trap would (fail-closed 503s from now on, no more callbacks, no ticks),
   * for tests of what the rest of the gateway sees when one worker dies.
   */
  crash(reason = "crashed by the test"): void {
    this.vm.fail(reason);
  }

  /** Fires one tick on the current root right away. */
  tick(): void {
    this.owner.assertRunning("tick");
    const root = this.vm.currentRoot;
    if (root) this.vm.tick(root);
  }

  httpCalls(): HttpCall[] {
    return this.owner.httpCalls().filter((c) => c.vmIndex === this.vm.index);
  }

  logs(q: Omit<LogQuery, "vm"> = {}): LogEntry[] {
    return this.owner.logs({ ...q, vm: this.vm.index });
  }

  hostCallCounts(): Map<string, number> {
    return new Map(this.vm.calls.counts);
  }
}
