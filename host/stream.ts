import {
  Action,
  BufferType,
  HeaderMapType,
  HostUsageError,
  StreamType,
  WasmResult,
} from "./abi.js";
import { type DerivedAddress, deriveDownstreamAddress } from "./address.js";
import {
  applyBufferWrite,
  type LocalReplyRequest,
  type RootContext,
  type StreamSide,
} from "./context.js";
import { HeaderMap, type HeadersInput, normalizeHeaders } from "./header-map.js";
import { buildLocalResponse, type LocalResponse, localReplyHeaders } from "./local-reply.js";
import { utf8Encode } from "./memory.js";
import { type PropertiesInput, PropertyBag, portOf } from "./properties.js";
import type { Vm } from "./vm.js";

export interface OpenStreamOptions {
  /**
   * Properties of this stream. A `source.address` given here is served as is (the test's word
   * wins over anything derived from `remoteAddress`).
   */
  properties?: PropertiesInput;
  /**
   * The downstream connection's peer, "a.b.c.d:port" or "[v6]:port". When set, the stream's
   * `source.address`/`source.port` are derived from it and the request's x-forwarded-for as
   * Envoy's connection manager does, under the gateway's `useRemoteAddress` and
   * `xffNumTrustedHops` (see host/README.md).
   */
  remoteAddress?: string;
}

export type { LocalResponse };

export type StreamEnd = "close" | "reset" | "local-reply" | "plugin-close" | "wasm-fail";

/**
 * One HTTP stream through the plugin's filter on one VM, driven step by step by a test the way
 * Envoy's HTTP connection manager drives a wasm filter.
 */
export class Stream implements StreamSide {
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
  /** What the connection manager decided from `remoteAddress` and XFF, once headers arrived. */
  downstream: DerivedAddress | undefined;
  private readonly upstreamProperties = new PropertyBag();
  private readonly derivedProperties = new PropertyBag();
  private readonly remoteAddress: string | undefined;
  private created = false;
  private closedByTest = false;
  private stage: "new" | "request" | "response" = "new";
  private requestEnded = false;
  private responseHeadersSent = false;
  private responseEnded = false;
  private readonly readable = new Set<number>();
  private readonly bodies = new Map<number, Uint8Array>();
  private pendingReply: LocalReplyRequest | undefined;
  private replying = false;

  constructor(
    private vm: Vm,
    options: OpenStreamOptions,
    private readonly onLocalResponse: (r: LocalResponse) => void,
    /** The VM serving this stream's slot when the filter chain is built. */
    private readonly currentVm?: () => Vm,
  ) {
    this.streamProperties = new PropertyBag(options.properties);
    this.remoteAddress = options.remoteAddress;
  }

  get ended(): boolean {
    return this.endedBy !== undefined;
  }

  get vmIndex(): number {
    return this.vm.index;
  }

  // ---- test-facing API -----------------------------------------------------------------------

  sendRequestHeaders(headers: HeadersInput, opts: { endOfStream?: boolean } = {}): Action {
    this.expect("sendRequestHeaders", this.stage === "new", "request headers were already sent");
    this.stage = "request";
    this.requestEnded = opts.endOfStream === true;
    this.requestHeaders = new HeaderMap(normalizeHeaders(headers));
    this.deriveDownstream();
    if (!this.create()) return this.failedAction();
    return this.headersCallback(
      HeaderMapType.RequestHeaders,
      "proxy_on_request_headers",
      this.requestHeaders,
      this.requestEnded,
    );
  }

  sendRequestBody(body: string | Uint8Array, endOfStream = false): Action {
    // Request data may keep flowing after the response started: a WebSocket upgrade (or any
    // HTTP/2 stream) is full duplex, and Envoy runs decodeData for it through the filters.
    this.expect(
      "sendRequestBody",
      this.stage !== "new" && !this.requestEnded,
      "request is not open",
    );
    this.requestEnded = endOfStream;
    return this.bodyCallback(BufferType.RequestBody, "proxy_on_request_body", body, endOfStream);
  }

  sendRequestTrailers(trailers: HeadersInput): Action {
    this.expect(
      "sendRequestTrailers",
      this.stage !== "new" && !this.requestEnded,
      "request is not open",
    );
    this.requestEnded = true;
    this.requestTrailers = new HeaderMap(normalizeHeaders(trailers));
    return this.trailersCallback(
      HeaderMapType.RequestTrailers,
      "proxy_on_request_trailers",
      this.requestTrailers,
    );
  }

  /** Envoy exposes `upstream.*` only once the router picked a host. */
  connectUpstream(upstream: { address: string; cluster?: string }): void {
    this.expect("connectUpstream", this.stage !== "new", "send request headers first");
    this.upstreamProperties.set("upstream.address", upstream.address);
    const port = portOf(upstream.address);
    if (port !== undefined) this.upstreamProperties.set("upstream.port", port);
    if (upstream.cluster !== undefined)
      this.upstreamProperties.set("cluster_name", upstream.cluster);
  }

  sendResponseHeaders(headers: HeadersInput, opts: { endOfStream?: boolean } = {}): Action {
    this.expect(
      "sendResponseHeaders",
      this.stage === "request",
      "send request headers first (once)",
    );
    this.stage = "response";
    this.responseHeadersSent = true;
    this.responseEnded = opts.endOfStream === true;
    this.responseHeaders = new HeaderMap(normalizeHeaders(headers));
    return this.headersCallback(
      HeaderMapType.ResponseHeaders,
      "proxy_on_response_headers",
      this.responseHeaders,
      this.responseEnded,
    );
  }

  sendResponseBody(body: string | Uint8Array, endOfStream = false): Action {
    this.expect(
      "sendResponseBody",
      this.responseHeadersSent && !this.responseEnded,
      "response is not open",
    );
    this.responseEnded = endOfStream;
    return this.bodyCallback(BufferType.ResponseBody, "proxy_on_response_body", body, endOfStream);
  }

  sendResponseTrailers(trailers: HeadersInput): Action {
    this.expect(
      "sendResponseTrailers",
      this.responseHeadersSent && !this.responseEnded,
      "response is not open",
    );
    this.responseEnded = true;
    this.responseTrailers = new HeaderMap(normalizeHeaders(trailers));
    return this.trailersCallback(
      HeaderMapType.ResponseTrailers,
      "proxy_on_response_trailers",
      this.responseTrailers,
    );
  }

  /** Ends the stream: on_log, on_done, on_delete (Envoy ≥ 1.16 order). A no-op if it already ended. */
  close(): void {
    this.finishByTest("close", "close");
  }

  /** A downstream/upstream reset: the same callbacks as close. */
  reset(): void {
    this.finishByTest("reset", "reset");
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

  sendLocalResponse(reply: LocalReplyRequest): void {
    if (this.ended || this.pendingReply || this.replying) {
      this.vm.log(3, `stream ${this.id}: local response ignored, one is already under way`);
      return;
    }
    // Envoy runs the local reply once the current callback has returned.
    this.pendingReply = reply;
    this.vm.deferAfterCall(() => this.runLocalReply());
  }

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

  // ---- internals -----------------------------------------------------------------------------

  private expect(method: string, ok: boolean, why: string): void {
    if (this.closedByTest)
      throw new HostUsageError(`stream.${method}(): stream was closed by the test`);
    if (this.ended) {
      throw new HostUsageError(`stream.${method}(): stream already ended (${this.endedBy})`);
    }
    if (!ok) throw new HostUsageError(`stream.${method}(): ${why}`);
    this.vm.assertUsable(`stream.${method}()`);
  }

  private finishByTest(method: string, how: StreamEnd): void {
    if (this.closedByTest)
      throw new HostUsageError(`stream.${method}(): stream was already closed`);
    this.vm.assertUsable(`stream.${method}()`);
    this.closedByTest = true;
    if (!this.ended) this.end(how);
  }

  /**
   * Envoy's mutateRequestHeaders runs before any filter sees the headers: it picks the remote
   * address (from the peer or XFF) and, with use_remote_address, appends the peer to XFF.
   */
  private deriveDownstream(): void {
    if (this.remoteAddress === undefined) return;
    // Envoy joins repeated x-forwarded-for headers into one inline header, comma-separated.
    const values = this.requestHeaders.pairs.filter(([k]) => k === "x-forwarded-for");
    const xff = values.length > 0 ? values.map(([, v]) => v).join(",") : undefined;
    const d = deriveDownstreamAddress(this.remoteAddress, xff, this.vm.services.addressing);
    this.downstream = d;
    if (d.xff !== undefined && d.xff !== xff) this.requestHeaders.replace("x-forwarded-for", d.xff);
    this.derivedProperties.set("source.address", d.address);
    this.derivedProperties.set("source.port", d.port);
  }

  /** Lazily creates the context on the VM's current root (Envoy: on the first decodeHeaders). */
  private create(): boolean {
    if (this.currentVm) this.vm = this.currentVm();
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

  private failedAction(): Action {
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

  private headersCallback(type: number, name: string, map: HeaderMap, eos: boolean): Action {
    this.readable.add(type);
    const r = this.call(name, map.size, eos ? 1 : 0);
    const replied = this.localResponse !== undefined;
    const action = this.toAction(r, replied);
    // Envoy drops its header-map pointer once the callback says Continue.
    if (action === Action.Continue) this.readable.delete(type);
    else this.setPaused(type, true);
    return action;
  }

  private trailersCallback(type: number, name: string, map: HeaderMap): Action {
    this.readable.add(type);
    const r = this.call(name, map.size);
    const action = this.toAction(r, this.localResponse !== undefined);
    if (action === Action.Continue) this.readable.delete(type);
    return action;
  }

  private bodyCallback(
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

  private runLocalReply(): void {
    const reply = this.pendingReply;
    this.pendingReply = undefined;
    if (!reply || this.ended) return;
    this.replying = true;
    try {
      if (this.stage === "response") {
        // Our choice: a reply sent from the response path replaces the response without
        // re-entering on_response_headers; the stream then ends.
        this.record(reply, localReplyHeaders(reply));
        this.end("local-reply");
        return;
      }
      this.stage = "response";
      this.responseHeadersSent = true;
      this.responseEnded = true;
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
    } finally {
      this.replying = false;
    }
  }

  private record(reply: LocalReplyRequest, pairs: Array<[string, string]>): void {
    this.localResponse = buildLocalResponse(reply, pairs, this.vm.index, this.id);
    this.onLocalResponse(this.localResponse);
  }

  /** on_log → on_done → on_delete, exactly once; skipped entirely once the VM has failed. */
  private end(how: StreamEnd): void {
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
}
