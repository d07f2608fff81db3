// WebSocket (HTTP/1.1 Upgrade) through the local gateway. Like Envoy, the upgrade is one HTTP
// stream for the life of the socket: request headers, the upstream's 101 as response headers,
// then every frame's bytes as request/response data, and on_log/on_done when either side closes.
import { randomUUID } from "node:crypto";
import { type IncomingMessage, request } from "node:http";
import type { Duplex } from "node:stream";
import type { OpenStream } from "./http-proxy.js";
import {
  forwardable,
  gatewayReplyPairs,
  type Pairs,
  type ProxiedStream,
  rawResponseHead,
  requestPairs,
  responsePairs,
  writeRawReply,
} from "./plugin-stream.js";
import { type Route, splitAddress } from "./routes.js";

/** A reply of the gateway's own on a raw socket, through the plugin's response callbacks. */
async function rawGatewayReply(
  p: ProxiedStream,
  socket: Duplex,
  status: number,
  text: string,
): Promise<void> {
  const body = Buffer.from(text);
  const pairs = gatewayReplyPairs(status, body);
  const go = await p.responseHeaders(pairs, false);
  if (go) p.responseBody(body, true);
  const reply = p.localResponse;
  if (reply) writeRawReply(socket, reply);
  else {
    const head = rawResponseHead(status, p.forwardResponseHeaders, [["connection", "close"]]);
    socket.end(Buffer.concat([Buffer.from(head), body]));
  }
  p.end("close");
}

/** Copies `from` → `to`, showing each chunk to the plugin first; pauses on back-pressure. */
function relay(from: Duplex, to: Duplex, onChunk: (c: Buffer) => void): void {
  from.on("data", (c: Buffer) => {
    onChunk(c);
    if (!to.write(c)) {
      from.pause();
      to.once("drain", () => from.resume());
    }
  });
  from.on("end", () => to.end());
}

export async function proxyUpgrade(
  open: OpenStream,
  route: Route | undefined,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): Promise<void> {
  const p = open(req, route);
  let upstream: Duplex | undefined;
  let failed = false;
  const finish = () => {
    socket.destroy();
    upstream?.destroy();
    p.end(failed ? "reset" : "close");
  };
  socket.on("error", () => {
    failed = true;
    finish();
  });
  socket.on("close", finish);
  if (!(await p.requestHeaders(requestPairs(req, randomUUID()), false))) {
    const reply = p.localResponse;
    if (reply) writeRawReply(socket, reply);
    else socket.destroy();
    return;
  }
  if (!route) {
    await rawGatewayReply(p, socket, 404, "no route for this host\n");
    return;
  }
  p.connectUpstream(route);
  const fwd = p.forwardRequestHeaders;
  const pseudo = (k: string) => fwd.find(([n]) => n === k)?.[1];
  const { host, port } = splitAddress(route.address);
  const up = request({
    host,
    port,
    method: pseudo(":method") ?? "GET",
    path: pseudo(":path") ?? "/",
    headers: forwardable(fwd, [
      ["host", pseudo(":authority") ?? route.host],
      ["connection", "Upgrade"],
      ["upgrade", req.headers.upgrade ?? "websocket"],
    ]),
  });
  up.on("error", () => {
    if (!upstream && !socket.destroyed) {
      void rawGatewayReply(
        p,
        socket,
        503,
        "upstream connect error or disconnect/reset before headers\n",
      );
    }
  });
  // The upstream refused the upgrade: its answer is an ordinary response.
  up.on("response", async (upRes) => {
    const chunks: Buffer[] = [];
    for await (const c of upRes) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    if (await p.responseHeaders(responsePairs(upRes), body.length === 0)) {
      if (body.length > 0) p.responseBody(body, true);
    }
    const reply = p.localResponse;
    if (reply) writeRawReply(socket, reply);
    else {
      const out = p.forwardResponseHeaders.filter(([k]) => k !== "transfer-encoding");
      const status = Number(out.find(([k]) => k === ":status")?.[1] ?? upRes.statusCode);
      const extra: Pairs = [
        ["content-length", String(body.length)],
        ["connection", "close"],
      ];
      const kept = out.filter(([k]) => k !== "content-length" && k !== "connection");
      socket.end(Buffer.concat([Buffer.from(rawResponseHead(status, kept, extra)), body]));
    }
    p.end("close");
  });
  up.on("upgrade", async (upRes, upSocket, upHead) => {
    upstream = upSocket;
    upSocket.on("error", () => {
      failed = true;
      finish();
    });
    upSocket.on("close", finish);
    if (!(await p.responseHeaders(responsePairs(upRes), false)) || socket.destroyed) {
      const reply = p.localResponse;
      upSocket.destroy();
      if (reply) writeRawReply(socket, reply);
      else socket.destroy();
      return;
    }
    const out = p.forwardResponseHeaders;
    const extra: Pairs = [
      ["connection", "Upgrade"],
      ["upgrade", upRes.headers.upgrade ?? "websocket"],
    ];
    socket.write(rawResponseHead(101, pairsOf(out), extra));
    if (upHead.length > 0) {
      p.responseBody(upHead, false);
      socket.write(upHead);
    }
    if (head.length > 0) {
      p.requestBody(head, false);
      upSocket.write(head);
    }
    relay(socket, upSocket, (c) => p.requestBody(c, false));
    relay(upSocket, socket, (c) => p.responseBody(c, false));
  });
  up.end();
}

/** Response headers without pseudo and hop-by-hop ones, as pairs. */
function pairsOf(pairs: Pairs): Pairs {
  const flat = forwardable(pairs);
  const out: Pairs = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i] as string, flat[i + 1] as string]);
  return out;
}
