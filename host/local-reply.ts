import type { LocalReplyRequest } from "./context.js";
import { HeaderMap } from "./header-map.js";
import { utf8Decode } from "./memory.js";

export interface LocalResponse {
  status: number;
  /** Headers as the client would see them (after the plugin's on_response_headers). */
  headers: Record<string, string>;
  headerPairs: Array<[string, string]>;
  body: string;
  bodyBytes: Uint8Array;
  details: string;
  grpcStatus: number;
  vmIndex: number;
  contextId: number;
}

/**
 * Envoy's local reply headers: `:status`, the plugin's additional headers, then, when there is
 * a body, `content-length` and `content-type: text/plain` unless the plugin set a content type.
 */
export function localReplyHeaders(reply: LocalReplyRequest): Array<[string, string]> {
  const pairs: Array<[string, string]> = [[":status", String(reply.status)]];
  for (const [k, v] of reply.headers) pairs.push([k.toLowerCase(), v]);
  if (reply.body.length > 0) {
    pairs.push(["content-length", String(reply.body.length)]);
    if (!pairs.some(([k]) => k === "content-type")) pairs.push(["content-type", "text/plain"]);
  }
  return pairs;
}

export function buildLocalResponse(
  reply: LocalReplyRequest,
  pairs: Array<[string, string]>,
  vmIndex: number,
  contextId: number,
): LocalResponse {
  const headers = new HeaderMap(pairs.map(([k, v]) => [k, v]));
  return {
    status: reply.status,
    headers: headers.toObject(),
    headerPairs: headers.pairs,
    body: utf8Decode(reply.body),
    bodyBytes: reply.body.slice(),
    details: reply.details,
    grpcStatus: reply.grpcStatus,
    vmIndex,
    contextId,
  };
}
