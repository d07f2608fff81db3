import { HostUsageError } from "./abi.js";
import { type GatewayServices, Vm } from "./vm.js";
import { type HandleOwner, VmHandle } from "./vm-handle.js";

/**
 * The process's VMs, one slot per Envoy thread: 0 = base (main thread), 1..N = workers. A slot
 * keeps its index and its test-facing handle for the gateway's life, while the VM in it may be
 * replaced (cpp-host clones a fresh one for a thread whose VM failed at runtime).
 */
export class VmSlots {
  // A slot's VM is its handle's: `replace` rebinds the handle, so there is one place to look.
  private readonly handles: VmHandle[] = [];

  constructor(
    private readonly module: WebAssembly.Module,
    private readonly services: GatewayServices,
    private readonly owner: HandleOwner,
  ) {}

  /**
   * Instantiates the base VM and `workers` worker VMs. None runs its start function yet: each
   * does when the start-up rollout reaches it, as Envoy clones and initialises a worker's VM
   * inside the callback posted to that worker.
   */
  open(workers: number): void {
    for (let i = 0; i <= workers; i++) {
      const vm = Vm.create(this.module, i, false, this.services);
      this.handles.push(new VmHandle(vm, this.owner));
    }
  }

  /** Base VM plus workers. */
  get count(): number {
    return this.handles.length;
  }

  get workerCount(): number {
    return this.handles.length - 1;
  }

  /** The slots' VMs as they are now (a replaced VM is no longer among them). */
  get all(): readonly Vm[] {
    return this.handles.map((h) => h.vm);
  }

  get allHandles(): VmHandle[] {
    return [...this.handles];
  }

  /** Indexes of the worker slots, in slot order. */
  workerIndices(): number[] {
    return this.handles.slice(1).map((h) => h.vm.index);
  }

  /** Handle by index: 0 = base (main thread), 1..N = workers. */
  handle(index: number): VmHandle {
    const h = this.handles[index];
    if (!h) throw new HostUsageError(`no VM ${index} (0 = base, 1..${this.workerCount} = workers)`);
    return h;
  }

  /** Worker i (0-based), i.e. handle(i + 1). */
  worker(i: number): VmHandle {
    if (i < 0 || i >= this.workerCount) throw new HostUsageError(`no worker ${i}`);
    return this.handle(i + 1);
  }

  /** The VM in slot `index` now. */
  vmAt(index: number): Vm {
    const handle = this.handles[index];
    if (!handle) throw new HostUsageError(`no VM ${index}`);
    return handle.vm;
  }

  /**
   * Puts a freshly cloned VM in slot `index` (new memory; its start function has not run), and
   * points the slot's handle at it, so a test's `gw.worker(i)` reaches the new VM.
   */
  replace(index: number): Vm {
    const handle = this.handles[index];
    if (!handle) throw new HostUsageError(`no VM ${index}`);
    const vm = Vm.create(this.module, index, false, this.services);
    handle.rebind(vm);
    return vm;
  }
}
