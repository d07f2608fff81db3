import {
  Action,
  BufferType,
  HeaderMapType,
  HostUsageError,
  StreamType,
  WasmResult,
} from "./abi.js";
import {
  applyBufferWrite,
  type LocalReplyRequest,
  type RootContext,
  type StreamSide,
} from "./context.js";
import { HeaderMap } from "./header-map.js";
import { buildLocalResponse, type LocalResponse, localReplyHeaders } from "./local-reply.js";
import { utf8Encode } from "./memory.js";
import { type PropertiesInput, PropertyBag } from "./properties.js";
import type { Vm } from "./vm.js";

export type StreamEnd = "close" | "reset" | "local-reply" | "plugin-close" | "wasm-fail";

/**
 * The plugin's filter on one HTTP stream, as Envoy's wasm filter runs it: the stream context it
 * creates on the VM, what the plugin may read and change during each callback (header maps,
 * body chunks, properties), how a callback's return becomes an Action, fail-open/fail-closed
 * after a VM failure, and the end of the context. Which step may come when is `Stream`'s part.
 */
export abstract class StreamContext implements StreamSide {
  readonly isRoot = false as const;
  id = 0;
  root!: RootContext;
  requestHeaders = new HeaderMap();
  requestTrailers = new HeaderMap();
  responseHeaders = new HeaderMap();
  responseTrailers = new HeaderMap();
  localResponse: LocalResponse | undefined;
  endedBy: StreamEnd | undefined;
  /** Fail-open after a VM failure: the filter is skipped, nothing reaches the plugin. */
  filterSkipped = false;
  readonly paused = { request: false, response: false };
  readonly streamProperties: PropertyBag;
  readonly setProperties = new PropertyBag();
  /** `upstream.*` once the router picked a host. */
  protected readonly upstreamProperties = new PropertyBag();
  /** `source.*` as the connection manager derived it from the peer and XFF. */
  protected readonly derivedProperties = new PropertyBag();
  private created = false;
  /** Header maps the plugin may read now: Envoy hands it a map only while it holds one. */
  private readonly readable = new Set<number>();
  /** Body chunks under way, by buffer type, for the callback that receives them. */
  private readonly bodies = new Map<number, Uint8Array>();

  protected constructor(
    protected vm: Vm,
    properties: PropertiesInput | undefined,
    private readonly onLocalResponse: (r: LocalResponse) => void,
    /** The VM serving this stream's slot when the filter chain is built. */
    private readonly currentVm: () => Vm,
  ) {
    this.streamProperties = new PropertyBag(properties);
  }

  get ended(): boolean {
    return this.endedBy !== undefined;
  }

  get vmIndex(): number {
    return this.vm.index;
  }

  // ---- StreamSide (used by the imports) ------------------------------------------------------

  headerMap(type: number): HeaderMap | undefined {
    if (!this.readable.has(type)) return undefined;
    switch (type) {
      case HeaderMapType.RequestHeaders:
        return this.requestHeaders;
      case HeaderMapType.RequestTrailers:
        return this.requestTrailers;
      case HeaderMapType.ResponseHeaders:
        return this.responseHeaders;
      case HeaderMapType.ResponseTrailers:
        return this.responseTrailers;
      default:
        return undefined;
    }
  }

  buffer(type: number): Uint8Array | undefined {
    return this.bodies.get(type);
  }

  setBuffer(type: number, start: number, length: number, data: Uint8Array): WasmResult {
    const buf = this.bodies.get(type);
    if (!buf) return WasmResult.NotFound;
    const next = applyBufferWrite(buf, start, length, data);
    if (!next) return WasmResult.BadArgument;
    this.bodies.set(type, next);
    return WasmResult.Ok;
  }

  propertyLayers(): Array<PropertyBag | undefined> {
    return [this.upstreamProperties, this.streamProperties, this.derivedProperties];
  }

  abstract sendLocalResponse(reply: LocalReplyRequest): void;

  continueStream(type: number): WasmResult {
    if (type === StreamType.Request) this.paused.request = false;
    else if (type === StreamType.Response) this.paused.response = false;
    return WasmResult.Ok;
  }

  /** Envoy resets the stream; the filter then sees its end as for any reset. */
  closeStream(_type: number): WasmResult {
    this.vm.deferAfterCall(() => this.end("plugin-close"));
    return WasmResult.Ok;
  }

  // ---- the filter's life -----------------------------------------------------------------------

  /** Lazily creates the context on the VM's current root (Envoy: on the first decodeHeaders). */
  protected create(): boolean {
    this.vm = this.currentVm();
    // Envoy's createContext: a null plugin handle (this VM could not configure the plugin)
    // adds no filter at all, before any fail-open/fail-closed decision.
    if (this.vm.pluginMissing !== undefined) {
      this.filterSkipped = true;
      return false;
    }
    if (this.applyFailure()) return false;
    const root = this.vm.currentRoot;
    if (!root) throw new HostUsageError(`the ${this.vm.label} VM has no root context (shut down?)`);
    this.root = root;
    this.id = this.vm.allocContextId();
    this.vm.register(this);
    root.liveStreams.add(this.id);
    this.created = true;
    this.vm.invoke("proxy_on_context_create", this, this.id, root.id);
    return !this.applyFailure();
  }

  /** on_log → on_done → on_delete, exactly once; skipped entirely once the VM has failed. */
  protected end(how: StreamEnd): void {
    if (this.ended) return;
    this.endedBy = how;
    this.readable.clear();
    this.bodies.clear();
    if (!this.created) return;
    if (!this.filterSkipped) {
      for (const cb of ["proxy_on_log", "proxy_on_done", "proxy_on_delete"]) {
        if (this.vm.failed) break;
        this.vm.invoke(cb, this, this.id);
      }
    }
    this.vm.streamEnded(this);
  }

  /** cpp-host CHECK_FAIL: fail-open skips the filter, fail-closed answers 503 wasm_fail_stream. */
  private applyFailure(): boolean {
    if (this.filterSkipped) return true;
    if (!this.vm.failed) return false;
    if (this.ended) return true;
    if (this.vm.services.failOpen) {
      this.filterSkipped = true;
      return true;
    }
    this.record(
      {
        status: 503,
        details: "wasm_fail_stream",
        body: new Uint8Array(),
        headers: [],
        grpcStatus: -1,
      },
      [[":status", "503"]],
    );
    this.end("wasm-fail");
    return true;
  }

  // ---- callbacks ---------------------------------------------------------------------------------

  protected failedAction(): Action {
    return this.filterSkipped ? Action.Continue : Action.Pause;
  }

  /** Invokes a stream callback; undefined when the filter is skipped or the VM failed. */
  private call(name: string, ...args: number[]): number | undefined {
    if (this.applyFailure()) return undefined;
    const r = this.vm.invoke(name, this, this.id, ...args);
    if (this.applyFailure()) return undefined;
    return r ?? Action.Continue;
  }

  private toAction(r: number | undefined, replied: boolean): Action {
    if (r === undefined) return this.failedAction();
    // cpp-host: after send_local_response the next iteration is stopped whatever was returned.
    if (replied) return Action.Pause;
    return r === Action.Continue ? Action.Continue : Action.Pause;
  }

  protected headersCallback(type: number, name: string, map: HeaderMap, eos: boolean): Action {
    this.readable.add(type);
    const r = this.call(name, map.size, eos ? 1 : 0);
    const replied = this.localResponse !== undefined;
    const action = this.toAction(r, replied);
    // Envoy drops its header-map pointer once the callback says Continue.
    if (action === Action.Continue) this.readable.delete(type);
    else this.setPaused(type, true);
    return action;
  }

  protected trailersCallback(type: number, name: string, map: HeaderMap): Action {
    this.readable.add(type);
    const r = this.call(name, map.size);
    const action = this.toAction(r, this.localResponse !== undefined);
    if (action === Action.Continue) this.readable.delete(type);
    return action;
  }

  protected bodyCallback(
    type: number,
    name: string,
    body: string | Uint8Array,
    eos: boolean,
  ): Action {
    const bytes = typeof body === "string" ? utf8Encode(body) : body.slice();
    this.bodies.set(type, bytes);
    const r = this.call(name, bytes.length, eos ? 1 : 0);
    this.bodies.delete(type);
    return this.toAction(r, this.localResponse !== undefined);
  }

  private setPaused(type: number, paused: boolean): void {
    if (type === HeaderMapType.RequestHeaders) this.paused.request = paused;
    if (type === HeaderMapType.ResponseHeaders) this.paused.response = paused;
  }

  // ---- local replies -----------------------------------------------------------------------------

  /**
   * A reply sent before the response began: Envoy encodes it through the filter chain, so the
   * plugin sees it as response headers (and body) and may still change them; then the stream
   * ends. A VM failure on the way leaves it to fail-open/fail-closed.
   */
  protected encodeLocalReply(reply: LocalReplyRequest): void {
    this.responseHeaders = new HeaderMap(localReplyHeaders(reply));
    this.readable.add(HeaderMapType.ResponseHeaders);
    const hasBody = reply.body.length > 0;
    // Envoy encodes a body-less local reply as headers with end_stream.
    const r = this.call("proxy_on_response_headers", this.responseHeaders.size, hasBody ? 0 : 1);
    if (r === undefined) return;
    this.readable.delete(HeaderMapType.ResponseHeaders);
    let body = reply.body;
    if (hasBody) {
      this.bodies.set(BufferType.ResponseBody, body);
      const rb = this.call("proxy_on_response_body", body.length, 1);
      body = this.bodies.get(BufferType.ResponseBody) ?? body;
      this.bodies.delete(BufferType.ResponseBody);
      if (rb === undefined) return;
    }
    this.record({ ...reply, body }, this.responseHeaders.pairs);
    this.end("local-reply");
  }

  /**
   * A reply sent from the response path. Our choice: it replaces the response without
   * re-entering on_response_headers; the stream then ends.
   */
  protected replaceWithLocalReply(reply: LocalReplyRequest): void {
    this.record(reply, localReplyHeaders(reply));
    this.end("local-reply");
  }

  private record(reply: LocalReplyRequest, pairs: Array<[string, string]>): void {
    this.localResponse = buildLocalResponse(reply, pairs, this.vm.index, this.id);
    this.onLocalResponse(this.localResponse);
  }
}
