// The local gateway: a Node HTTP server on loopback that runs build/plugin.wasm on every stream
// (HTTP and WebSocket) over several worker VMs and proxies to a route table. A development tool
// for watching conn-drain work on one machine; it is not a production proxy.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { LogEntry } from "../host/index.js";
import { proxyHttp } from "./http-proxy.js";
import { PluginRuntime } from "./plugin-runtime.js";
import { ProxiedStream, socketAddress } from "./plugin-stream.js";
import { type Route, RouteTable } from "./routes.js";
import { proxyUpgrade } from "./ws-proxy.js";

export interface LocalGatewayOptions {
  /** The plugin. Default `build/plugin.wasm`. */
  wasm?: string | Uint8Array;
  /** Worker VMs (Envoy: worker threads). Default 4. */
  workers?: number;
  /** The plugin's configuration (the WasmPlugin's `defaultConfig`). */
  config: Record<string, unknown> | string;
  routes: Route[];
  /** Clusters the plugin's http calls may target: name → `ip:port`. */
  clusters?: Record<string, string>;
  /** `node.id`: the plugin's gateway id unless its config sets `gatewayId`. */
  nodeId?: string;
  /** Listening port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  onLog?: (e: LogEntry) => void;
}

export interface LocalGateway {
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly routes: RouteTable;
  readonly runtime: PluginRuntime;
  /** Streams the gateway has open through the plugin, per worker VM (the gateway's own view). */
  openStreams(): number[];
  close(): Promise<void>;
}

export async function startLocalGateway(o: LocalGatewayOptions): Promise<LocalGateway> {
  const rt = await PluginRuntime.create({
    wasm: o.wasm ?? "build/plugin.wasm",
    workers: o.workers ?? 4,
    config: typeof o.config === "string" ? o.config : JSON.stringify(o.config),
    nodeId: o.nodeId ?? "local-gateway-0",
    clusters: o.clusters ?? {},
    onLog: o.onLog,
  });
  const routes = new RouteTable(o.routes);
  const workerOf = new WeakMap<Socket, number>();
  const sockets = new Set<Socket>();
  const live: Array<Set<ProxiedStream>> = Array.from({ length: rt.workers }, () => new Set());
  let closing = false;

  const open = (req: IncomingMessage, route: Route | undefined): ProxiedStream => {
    const socket = req.socket;
    const worker = workerOf.get(socket) ?? rt.assignWorker();
    const p = new ProxiedStream(
      {
        rt,
        worker,
        route,
        source: socketAddress(socket.remoteAddress, socket.remotePort),
        destination: socketAddress(socket.localAddress, socket.localPort),
      },
      (done) => live[done.worker]?.delete(done),
    );
    live[worker]?.add(p);
    return p;
  };

  const server: Server = createServer({ keepAlive: true });
  server.on("connection", (socket: Socket) => {
    // Envoy: an accepted connection belongs to one worker for its whole life.
    workerOf.set(socket, rt.assignWorker());
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.on("request", (req, res) => {
    if (closing) {
      res.writeHead(503, { connection: "close" }).end();
      return;
    }
    void proxyHttp(open, routes.lookup(req.headers.host), req, res);
  });
  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    if (closing) {
      socket.destroy();
      return;
    }
    void proxyUpgrade(open, routes.lookup(req.headers.host), req, socket, head);
  });
  server.on("clientError", (_e, socket: Socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    routes,
    runtime: rt,
    openStreams: () => live.map((s) => s.size),
    async close() {
      if (closing) return;
      closing = true;
      const stopped = new Promise<void>((r) => server.close(() => r()));
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      await stopped;
      // Streams whose sockets just closed have ended by now; end any stragglers, then the VMs.
      for (const set of live) for (const p of [...set]) p.end("reset");
      rt.close();
    },
  };
}
