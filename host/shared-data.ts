import { WasmResult } from "./abi.js";
import { utf8Decode, utf8Encode } from "./memory.js";

export interface SharedValue {
  value: Uint8Array;
  cas: number;
}

/**
 * Process-wide shared data, keyed by vm_id, with the semantics of cpp-host `src/shared_data.cc`:
 * one global CAS counter starting at 1 and skipping 0 on wrap; `set` with cas 0 is unconditional,
 * a non-zero cas that differs from the key's current one is CasMismatch, and a missing key is
 * created whatever cas was given.
 */
export class SharedDataStore {
  private readonly data = new Map<string, Map<string, SharedValue>>();
  private nextCasValue = 1;

  private nextCas(): number {
    const result = this.nextCasValue;
    this.nextCasValue = (this.nextCasValue + 1) >>> 0;
    if (this.nextCasValue === 0) this.nextCasValue = 1;
    return result;
  }

  /** Test support: the next CAS value the store will hand out. */
  peekNextCas(): number {
    return this.nextCasValue;
  }

  /** Test support: jump the CAS counter (e.g. to exercise the wrap past 0). */
  setNextCas(value: number): void {
    this.nextCasValue = value >>> 0 || 1;
  }

  get(vmId: string, key: string): SharedValue | undefined {
    const v = this.data.get(vmId)?.get(key);
    return v ? { value: v.value.slice(), cas: v.cas } : undefined;
  }

  set(vmId: string, key: string, value: Uint8Array, cas: number): WasmResult {
    let map = this.data.get(vmId);
    if (!map) {
      map = new Map();
      this.data.set(vmId, map);
    }
    const current = map.get(key);
    if (current && cas !== 0 && cas !== current.cas) return WasmResult.CasMismatch;
    map.set(key, { value: value.slice(), cas: this.nextCas() });
    return WasmResult.Ok;
  }

  keys(vmId: string): string[] {
    return [...(this.data.get(vmId)?.keys() ?? [])];
  }

  delete(vmId: string, key: string): boolean {
    return this.data.get(vmId)?.delete(key) ?? false;
  }

  bytes(vmId: string): number {
    let total = 0;
    for (const [k, v] of this.data.get(vmId) ?? []) total += utf8Encode(k).length + v.value.length;
    return total;
  }
}

export interface SharedGetEvent {
  vmIndex: number;
  key: string;
  /** undefined when the key was not found. */
  value: Uint8Array | undefined;
  text: string | undefined;
  cas: number;
}

export interface SharedSetEvent {
  vmIndex: number;
  key: string;
  value: Uint8Array;
  text: string;
  cas: number;
}

export type SharedGetHook = (e: SharedGetEvent) => void;
export type SharedSetHook = (e: SharedSetEvent) => void;

/**
 * The test-facing view of one vm_id's shared data, with race-injection hooks that run
 * synchronously inside the plugin's proxy_get_shared_data / proxy_set_shared_data.
 * Hooks do not fire for host calls made while a hook is already running: a hook that drives
 * another VM through a get/set would otherwise recurse into itself.
 */
export class SharedDataView {
  private readonly afterGet = new Set<SharedGetHook>();
  private readonly beforeSet = new Set<SharedSetHook>();
  private inHook = false;

  constructor(
    readonly store: SharedDataStore,
    readonly vmId: string,
  ) {}

  get(key: string): { value: Uint8Array; text: string; cas: number } | undefined {
    const v = this.store.get(this.vmId, key);
    return v ? { value: v.value, text: utf8Decode(v.value), cas: v.cas } : undefined;
  }

  set(key: string, value: string | Uint8Array, cas = 0): WasmResult {
    return this.store.set(
      this.vmId,
      key,
      typeof value === "string" ? utf8Encode(value) : value,
      cas,
    );
  }

  keys(): string[] {
    return this.store.keys(this.vmId);
  }

  bytes(): number {
    return this.store.bytes(this.vmId);
  }

  /** Registers a hook; returns a function that removes it. */
  onAfterGet(hook: SharedGetHook): () => void {
    this.afterGet.add(hook);
    return () => this.afterGet.delete(hook);
  }

  onBeforeSet(hook: SharedSetHook): () => void {
    this.beforeSet.add(hook);
    return () => this.beforeSet.delete(hook);
  }

  clearHooks(): void {
    this.afterGet.clear();
    this.beforeSet.clear();
  }

  /** Whether a get hook would run now (lets the import skip building an event nobody reads). */
  get watchingGets(): boolean {
    return this.afterGet.size > 0 && !this.inHook;
  }

  get watchingSets(): boolean {
    return this.beforeSet.size > 0 && !this.inHook;
  }

  /** Called by the import after the read, before returning to wasm. */
  fireAfterGet(e: SharedGetEvent): void {
    this.fire(this.afterGet, e);
  }

  fireBeforeSet(e: SharedSetEvent): void {
    this.fire(this.beforeSet, e);
  }

  private fire<E>(hooks: Set<(e: E) => void>, e: E): void {
    if (this.inHook || hooks.size === 0) return;
    this.inHook = true;
    try {
      for (const h of [...hooks]) h(e);
    } finally {
      this.inHook = false;
    }
  }
}
