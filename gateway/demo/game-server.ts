// A small game server for the demo and tests: WebSocket echo with an application heartbeat.
// The heartbeat matters behind Higress: its default 180 s stream idle timeout resets a socket
// that carries no frames, so real game servers (and this one) keep talking.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";

export interface GameServer {
  readonly name: string;
  /** `127.0.0.1:<port>` */
  readonly address: string;
  /** Players connected right now, as this server sees them. */
  players(): number;
  close(): Promise<void>;
}

export async function startGameServer(name: string, heartbeatMs = 1_000): Promise<GameServer> {
  const http: Server = createServer((req, res) => {
    // Plain HTTP through the gateway works too: a status page.
    res.writeHead(200, { "content-type": "application/json" });
    res.end(`${JSON.stringify({ server: name, players: wss.clients.size, path: req.url })}\n`);
  });
  const wss = new WebSocketServer({ server: http });
  wss.on("connection", (ws) => {
    ws.send(JSON.stringify({ type: "welcome", server: name }));
    ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on("error", () => ws.terminate());
  });
  const beat = setInterval(() => {
    const msg = JSON.stringify({ type: "heartbeat", server: name, players: wss.clients.size });
    for (const ws of wss.clients) ws.send(msg);
  }, heartbeatMs);
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", () => r()));
  const { port } = http.address() as AddressInfo;
  return {
    name,
    address: `127.0.0.1:${port}`,
    players: () => wss.clients.size,
    async close() {
      clearInterval(beat);
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      http.closeAllConnections();
      await new Promise<void>((r) => http.close(() => r()));
    },
  };
}
