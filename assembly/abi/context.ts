// Context objects and their registry. Envoy identifies every root and stream by a context id;
// the registry maps ids to objects so each callback reaches the right one.
//
// Deliberate differences from the published AssemblyScript SDKs (see docs/abi-layer.md):
// every root context id gets its own RootContext object (a config update creates a new one and
// the old one keeps serving its streams), and on_done/on_delete work for roots as for streams.
import { ContextTable } from "./context_table";
import { Action } from "./enums";

export class RootContext {
  constructor(public readonly id: u32) {}

  onVmStart(vmConfigurationSize: u32): bool {
    return true;
  }
  /** Returning false makes Envoy reject the configuration and keep the previous one. */
  onConfigure(pluginConfigurationSize: u32): bool {
    return true;
  }
  onTick(): void {}
  onHttpCallResponse(token: u32, headers: u32, bodySize: u32, trailers: u32): void {}
  /** Returning false would defer deletion until proxy_done; this layer never needs that. */
  onDone(): bool {
    return true;
  }
  onDelete(): void {}

  createHttpContext(id: u32): HttpContext {
    return new HttpContext(id, this);
  }
}

export class HttpContext {
  constructor(
    public readonly id: u32,
    public readonly root: RootContext,
  ) {}

  onRequestHeaders(headers: u32, endOfStream: bool): u32 {
    return Action.Continue;
  }
  onRequestBody(bodySize: u32, endOfStream: bool): u32 {
    return Action.Continue;
  }
  onResponseHeaders(headers: u32, endOfStream: bool): u32 {
    return Action.Continue;
  }
  onResponseBody(bodySize: u32, endOfStream: bool): u32 {
    return Action.Continue;
  }
  /** Envoy calls on_log before on_done (access logging runs before filters are destroyed). */
  onLog(): void {}
  onDone(): void {}
  onDelete(): void {}
}

export type RootFactory = (id: u32) => RootContext;

let rootFactory: RootFactory = (id: u32): RootContext => new RootContext(id);

export function setRootContextFactory(factory: RootFactory): void {
  rootFactory = factory;
}

export const roots = new ContextTable<RootContext>();
/** The context whose callback is running: calls out made on a root's behalf switch back to it. */
export let currentContextId: u32 = 0;

export function enter(id: u32): void {
  currentContextId = id;
}
export const streams = new ContextTable<HttpContext>();

export function createContext(id: u32, parentId: u32): void {
  if (parentId == 0) {
    roots.set(id, rootFactory(id));
    return;
  }
  // An unknown parent would be a host bug; ignoring the stream is safer than trapping the VM.
  const root = roots.get(parentId);
  if (root !== null) streams.set(id, root.createHttpContext(id));
}
