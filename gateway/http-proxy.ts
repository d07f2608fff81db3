// Plain HTTP through the local gateway: each request is one stream through the plugin, then
// forwarded to the route's upstream; answers the plugin (or the gateway itself) gives locally
// still pass through the plugin's response callbacks, as Envoy's local replies do.
import { randomUUID } from "node:crypto";
import { type IncomingMessage, request, type ServerResponse } from "node:http";
import {
  forwardable,
  gatewayReplyPairs,
  type ProxiedStream,
  requestPairs,
  responsePairs,
} from "./plugin-stream.js";
import { type Route, splitAddress } from "./routes.js";

export type OpenStream = (req: IncomingMessage, route: Route | undefined) => ProxiedStream;

const EMPTY = new Uint8Array();

function hasRequestBody(req: IncomingMessage): boolean {
  const len = req.headers["content-length"];
  if (len !== undefined) return Number(len) > 0;
  return req.headers["transfer-encoding"] !== undefined;
}

function writeLocal(res: ServerResponse, p: ProxiedStream): void {
  const lr = p.localResponse;
  if (!lr || res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(lr.status, forwardable(lr.headerPairs));
  res.end(lr.bodyBytes);
}

/**
 * A reply the gateway makes itself (no route: 404, upstream unreachable: 503). Envoy's router
 * sends these as local replies, which run through the encoder filters, so the plugin sees them.
 */
export async function gatewayReply(
  p: ProxiedStream,
  res: ServerResponse,
  status: number,
  text: string,
): Promise<void> {
  const body = Buffer.from(text);
  const pairs = gatewayReplyPairs(status, body);
  if (!(await p.responseHeaders(pairs, false))) {
    writeLocal(res, p);
    p.end("close");
    return;
  }
  p.responseBody(body, true);
  const out = p.forwardResponseHeaders;
  res.writeHead(Number(out.find(([k]) => k === ":status")?.[1] ?? status), forwardable(out));
  res.end(body);
  p.end("close");
}

export async function proxyHttp(
  open: OpenStream,
  route: Route | undefined,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const p = open(req, route);
  const body = hasRequestBody(req);
  // The client going away before the response is done resets the stream.
  res.on("close", () => p.end(res.writableFinished ? "close" : "reset"));
  if (!(await p.requestHeaders(requestPairs(req, randomUUID()), !body))) {
    req.resume();
    writeLocal(res, p);
    return;
  }
  if (!route) {
    req.resume();
    await gatewayReply(p, res, 404, "no route for this host\n");
    return;
  }
  p.connectUpstream(route);
  const fwd = p.forwardRequestHeaders;
  const pseudo = (k: string) => fwd.find(([n]) => n === k)?.[1];
  const { host, port } = splitAddress(route.address);
  const method = pseudo(":method") ?? "GET";
  const up = request({
    host,
    port,
    method,
    path: pseudo(":path") ?? "/",
    headers: forwardable(fwd, [["host", pseudo(":authority") ?? route.host]]),
  });
  up.on("error", () => {
    req.resume();
    if (res.headersSent) {
      res.destroy();
      p.end("reset");
    } else
      void gatewayReply(p, res, 503, "upstream connect error or disconnect/reset before headers\n");
  });
  req.on("data", (c: Buffer) => {
    p.requestBody(c, false);
    up.write(c);
  });
  req.on("end", () => {
    if (body) p.requestBody(EMPTY, true);
    up.end();
  });
  up.on("response", async (upRes) => {
    const status = upRes.statusCode ?? 502;
    const empty =
      method === "HEAD" ||
      status === 204 ||
      status === 304 ||
      upRes.headers["content-length"] === "0";
    if (!(await p.responseHeaders(responsePairs(upRes), empty))) {
      upRes.destroy();
      writeLocal(res, p);
      return;
    }
    const out = p.forwardResponseHeaders;
    res.writeHead(Number(out.find(([k]) => k === ":status")?.[1] ?? status), forwardable(out));
    upRes.on("data", (c: Buffer) => {
      p.responseBody(c, false);
      res.write(c);
    });
    upRes.on("end", () => {
      if (!empty) p.responseBody(EMPTY, true);
      res.end();
    });
    upRes.on("error", () => res.destroy());
  });
}
