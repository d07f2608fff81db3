import type { WasmResult } from "./abi.js";
import type { TickTimer } from "./clock.js";
import type { HeaderMap } from "./header-map.js";
import { PropertyBag } from "./properties.js";

export interface LocalReplyRequest {
  status: number;
  details: string;
  body: Uint8Array;
  headers: Array<[string, string]>;
  grpcStatus: number;
}

/** What the VM's imports need from an HTTP stream context (implemented by Stream). */
export interface StreamSide {
  readonly isRoot: false;
  readonly id: number;
  readonly root: RootContext;
  headerMap(type: number): HeaderMap | undefined;
  buffer(type: number): Uint8Array | undefined;
  setBuffer(type: number, start: number, length: number, data: Uint8Array): WasmResult;
  propertyLayers(): Array<PropertyBag | undefined>;
  readonly setProperties: PropertyBag;
  sendLocalResponse(reply: LocalReplyRequest): void;
  continueStream(type: number): WasmResult;
  closeStream(type: number): WasmResult;
}

/**
 * A root context: one per plugin configuration per VM (cpp-host keys roots by plugin). A config
 * update adds a new one; the old one is retired once no stream refers to it.
 */
export class RootContext {
  readonly isRoot = true as const;
  /** Streams bound to this root that have not ended yet. */
  readonly liveStreams = new Set<number>();
  /** Properties the plugin stored with proxy_set_property on this root. */
  readonly setProperties = new PropertyBag();
  retiring = false;
  /**
   * Set once on_configure accepted: cpp-host then made a PluginHandle for it, which the
   * thread-local plugin cache hands out again for the same configuration while it lives.
   */
  configured = false;
  /** on_done returned false: on_delete waits for proxy_done (cpp-host `pending_done_`). */
  awaitingDone = false;
  deleted = false;
  tick: TickTimer | undefined;

  constructor(
    readonly id: number,
    readonly config: Uint8Array,
  ) {}

  get root(): RootContext {
    return this;
  }
}

export type HostContext = RootContext | StreamSide;

/**
 * Envoy's `Buffer::copyFrom` rules for proxy_set_buffer_bytes: (0, 0) prepends, (0, >=size)
 * replaces everything, start >= size appends; anything else is BadArgument.
 */
export function applyBufferWrite(
  buf: Uint8Array,
  start: number,
  length: number,
  data: Uint8Array,
): Uint8Array | undefined {
  const concat = (a: Uint8Array, b: Uint8Array) => {
    const out = new Uint8Array(a.length + b.length);
    out.set(a, 0);
    out.set(b, a.length);
    return out;
  };
  if (start === 0) {
    if (length === 0) return concat(data, buf);
    if (length >= buf.length) return data.slice();
    return undefined;
  }
  if (start >= buf.length) return concat(buf, data);
  return undefined;
}
