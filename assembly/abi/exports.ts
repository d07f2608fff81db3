// The proxy-wasm ABI 0.2.1 callbacks Envoy calls, dispatched to context objects.
// Each looks its context up in a ContextTable, whose miss is null: an AssemblyScript Map's get()
// aborts on a miss, and an abort inside Envoy fails the whole worker VM.
import "./trap";
import { createContext, enter, HttpContext, RootContext, roots, streams } from "./context";
import { Action } from "./enums";
import { allocateHostBlock } from "./host_blocks";

export function proxy_abi_version_0_2_1(): void {}

export function proxy_on_memory_allocate(size: usize): usize {
  return allocateHostBlock(size);
}

export function proxy_on_context_create(contextId: u32, parentId: u32): void {
  createContext(contextId, parentId);
}

function root(id: u32): RootContext | null {
  enter(id);
  return roots.get(id);
}

function stream(id: u32): HttpContext | null {
  enter(id);
  return streams.get(id);
}

export function proxy_on_vm_start(rootId: u32, vmConfigurationSize: u32): bool {
  const r = root(rootId);
  return r === null || r.onVmStart(vmConfigurationSize);
}

export function proxy_on_configure(rootId: u32, pluginConfigurationSize: u32): bool {
  const r = root(rootId);
  return r !== null && r.onConfigure(pluginConfigurationSize);
}

export function proxy_on_tick(rootId: u32): void {
  const r = root(rootId);
  if (r !== null) r.onTick();
}

export function proxy_on_http_call_response(
  rootId: u32,
  token: u32,
  headers: u32,
  bodySize: u32,
  trailers: u32,
): void {
  const r = root(rootId);
  if (r !== null) r.onHttpCallResponse(token, headers, bodySize, trailers);
}

export function proxy_on_request_headers(contextId: u32, headers: u32, endOfStream: bool): u32 {
  const s = stream(contextId);
  return s === null ? Action.Continue : s.onRequestHeaders(headers, endOfStream);
}

export function proxy_on_request_body(contextId: u32, bodySize: u32, endOfStream: bool): u32 {
  const s = stream(contextId);
  return s === null ? Action.Continue : s.onRequestBody(bodySize, endOfStream);
}

export function proxy_on_request_trailers(contextId: u32, trailers: u32): u32 {
  return Action.Continue;
}

export function proxy_on_response_headers(contextId: u32, headers: u32, endOfStream: bool): u32 {
  const s = stream(contextId);
  return s === null ? Action.Continue : s.onResponseHeaders(headers, endOfStream);
}

export function proxy_on_response_body(contextId: u32, bodySize: u32, endOfStream: bool): u32 {
  const s = stream(contextId);
  return s === null ? Action.Continue : s.onResponseBody(bodySize, endOfStream);
}

export function proxy_on_response_trailers(contextId: u32, trailers: u32): u32 {
  return Action.Continue;
}

export function proxy_on_log(contextId: u32): void {
  const s = stream(contextId);
  if (s !== null) s.onLog();
}

/** Called for roots (config update, shutdown) as well as streams; must not trap for either. */
export function proxy_on_done(contextId: u32): bool {
  const s = stream(contextId);
  if (s !== null) {
    s.onDone();
    return true;
  }
  const r = root(contextId);
  return r === null || r.onDone();
}

export function proxy_on_delete(contextId: u32): void {
  const s = stream(contextId);
  if (s !== null) {
    s.onDelete();
    streams.delete(contextId);
    return;
  }
  const r = root(contextId);
  if (r !== null) {
    r.onDelete();
    roots.delete(contextId);
  }
}
