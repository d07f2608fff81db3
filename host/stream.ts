import { type Action, BufferType, HeaderMapType, HostUsageError } from "./abi.js";
import { type DerivedAddress, deriveDownstreamAddress } from "./address.js";
import type { LocalReplyRequest } from "./context.js";
import { HeaderMap, type HeadersInput, normalizeHeaders } from "./header-map.js";
import type { LocalResponse } from "./local-reply.js";
import { type PropertiesInput, portOf } from "./properties.js";
import { StreamContext, type StreamEnd } from "./stream-context.js";
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

export type { LocalResponse, StreamEnd };

/**
 * One HTTP stream through the plugin's filter on one VM, driven step by step by a test the way
 * Envoy's HTTP connection manager drives a wasm filter. This class keeps the exchange's state
 * (which step may come next, what the connection manager decides before the filter runs);
 * StreamContext runs the filter itself.
 */
export class Stream extends StreamContext {
  /** What the connection manager decided from `remoteAddress` and XFF, once headers arrived. */
  downstream: DerivedAddress | undefined;
  private readonly remoteAddress: string | undefined;
  private closedByTest = false;
  private stage: "new" | "request" | "response" = "new";
  private requestEnded = false;
  private responseHeadersSent = false;
  private responseEnded = false;
  private pendingReply: LocalReplyRequest | undefined;
  private replying = false;

  constructor(
    vm: Vm,
    options: OpenStreamOptions,
    onLocalResponse: (r: LocalResponse) => void,
    /** The VM serving this stream's slot when the filter chain is built. */
    currentVm: () => Vm,
  ) {
    super(vm, options.properties, onLocalResponse, currentVm);
    this.remoteAddress = options.remoteAddress;
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

  // ---- local replies (StreamSide) ------------------------------------------------------------

  override sendLocalResponse(reply: LocalReplyRequest): void {
    if (this.ended || this.pendingReply || this.replying) {
      this.vm.log(3, `stream ${this.id}: local response ignored, one is already under way`);
      return;
    }
    // Envoy runs the local reply once the current callback has returned.
    this.pendingReply = reply;
    this.vm.deferAfterCall(() => this.runLocalReply());
  }

  private runLocalReply(): void {
    const reply = this.pendingReply;
    this.pendingReply = undefined;
    if (!reply || this.ended) return;
    this.replying = true;
    try {
      if (this.stage === "response") {
        this.replaceWithLocalReply(reply);
        return;
      }
      this.stage = "response";
      this.responseHeadersSent = true;
      this.responseEnded = true;
      this.encodeLocalReply(reply);
    } finally {
      this.replying = false;
    }
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
    const xff = this.requestHeaders.toObject()["x-forwarded-for"];
    const d = deriveDownstreamAddress(this.remoteAddress, xff, this.vm.services.addressing);
    this.downstream = d;
    if (d.xff !== undefined && d.xff !== xff) this.requestHeaders.replace("x-forwarded-for", d.xff);
    this.derivedProperties.set("source.address", d.address);
    this.derivedProperties.set("source.port", d.port);
  }
}
