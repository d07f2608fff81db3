// Simulated players: real WebSocket clients (the `ws` library) connecting through the gateway
// with the game server's host name, each keeping its own view of whether it is connected.
import WebSocket from "ws";

export interface Player {
  readonly id: number;
  readonly host: string;
  /** The client's own view: the socket is open (upgrade done, no close yet). */
  readonly connected: boolean;
  /** Heartbeats received from the game server. */
  readonly heartbeats: number;
  /** Sends a message and resolves when the server's echo comes back. */
  echo(text: string, timeoutMs?: number): Promise<void>;
  /** Closes cleanly and resolves once the close handshake is done. */
  leave(timeoutMs?: number): Promise<void>;
  /** Drops the connection with no close handshake (a network blip); resolves once it is closed. */
  drop(): Promise<void>;
}

/**
 * Connects one player; rejects with the HTTP status when the gateway refuses the upgrade.
 * `headers` go on the upgrade request, e.g. the player's identity (`players.header`).
 */
export function joinGame(
  gatewayUrl: string,
  host: string,
  id: number,
  timeoutMs = 5_000,
  headers: Record<string, string> = {},
): Promise<Player> {
  const ws = new WebSocket(`${gatewayUrl.replace(/^http/, "ws")}/play?player=${id}`, {
    headers: { ...headers, host },
    handshakeTimeout: timeoutMs,
  });
  let connected = false;
  let heartbeats = 0;
  const waiting: Array<{ text: string; done: () => void }> = [];
  ws.on("message", (data) => {
    const text = data.toString();
    if (text.includes('"heartbeat"')) heartbeats++;
    const i = waiting.findIndex((w) => w.text === text);
    if (i >= 0) waiting.splice(i, 1)[0]?.done();
  });
  ws.on("close", () => {
    connected = false;
  });
  const player: Player = {
    id,
    host,
    get connected() {
      return connected;
    },
    get heartbeats() {
      return heartbeats;
    },
    echo(text, ms = 5_000) {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`player ${id}: no echo in ${ms} ms`)), ms);
        waiting.push({
          text,
          done: () => {
            clearTimeout(t);
            resolve();
          },
        });
        ws.send(text);
      });
    },
    leave(ms = 5_000) {
      return new Promise((resolve, reject) => {
        if (ws.readyState === WebSocket.CLOSED) return resolve();
        const t = setTimeout(() => {
          ws.terminate();
          reject(new Error(`player ${id}: close handshake took over ${ms} ms`));
        }, ms);
        ws.once("close", () => {
          clearTimeout(t);
          resolve();
        });
        ws.close(1000, "bye");
      });
    },
    drop() {
      return new Promise((resolve) => {
        if (ws.readyState === WebSocket.CLOSED) return resolve();
        ws.once("close", () => resolve());
        ws.terminate();
      });
    },
  };
  return new Promise((resolve, reject) => {
    ws.once("open", () => {
      connected = true;
      resolve(player);
    });
    ws.once("unexpected-response", (_req, res) => {
      reject(
        Object.assign(new Error(`player ${id}: HTTP ${res.statusCode}`), {
          status: res.statusCode,
        }),
      );
      ws.terminate();
    });
    ws.once("error", (e) => reject(e));
  });
}
