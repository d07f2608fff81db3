// The plugin side of the local gateway: one in-process proxy-wasm host (our TypeScript mirror of
// Envoy) with several worker VMs, its virtual clock tied to real time, and the plugin's
// proxy_http_call requests carried to named local clusters over real HTTP.
import { request } from "node:http";
import { createGateway, type Gateway, type HttpCall, type LogEntry } from "../host/index.js";
import { splitAddress } from "./routes.js";

export interface RuntimeOptions {
  wasm: string | Uint8Array;
  workers: number;
  /** The plugin's JSON configuration. */
  config: string;
  /** `node.id` (the plugin's default gateway id). */
  nodeId: string;
  /** Cluster name → `ip:port`: where the plugin's http calls to that cluster go. */
  clusters: Record<string, string>;
  /** Tick of the real-time timer that moves the virtual clock (ms). */
  clockStepMs?: number;
  onLog?: (e: LogEntry) => void;
}

export class PluginRuntime {
  private readonly base = performance.now();
  private advanced = 0;
  private nextWorker = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly inflight = new Map<HttpCall, () => void>();
  private closed = false;

  private constructor(
    readonly gw: Gateway,
    private readonly clusters: Record<string, string>,
  ) {}

  static async create(o: RuntimeOptions): Promise<PluginRuntime> {
    const gw = await createGateway({
      wasm: o.wasm,
      workers: o.workers,
      config: o.config,
      nodeId: o.nodeId,
      clusters: Object.keys(o.clusters),
      // The plugin reads wall-clock time (drain timestamps, RFC 3339 in webhooks).
      startTimeMs: Date.now(),
      recordLogs: false,
      echoLogs: o.onLog ?? false,
    });
    const rt = new PluginRuntime(gw, o.clusters);
    // Envoy's timers fire on their own; ours fire when the virtual clock is moved, so a real
    // timer moves it. Callbacks also catch the clock up first (see `sync`).
    rt.timer = setInterval(() => rt.sync(), o.clockStepMs ?? 50);
    rt.sync();
    return rt;
  }

  get workers(): number {
    return this.gw.workerCount;
  }

  /**
   * Envoy hands each accepted downstream connection to one worker for its whole life; the
   * kernel spreads them. Round-robin gives the same spread, deterministically.
   */
  assignWorker(): number {
    const w = this.nextWorker;
    this.nextWorker = (w + 1) % this.workers;
    return w;
  }

  /** Brings the virtual clock up to real time (ticks, http-call timeouts), then sends new calls. */
  sync(): void {
    if (this.closed) return;
    const due = Math.floor(performance.now() - this.base) - this.advanced;
    if (due > 0) {
      this.advanced += due;
      this.gw.advance(due);
    }
    this.dispatch();
  }

  /**
   * Polls for http calls the plugin made in the callback that just returned. The host keeps
   * pending calls in a list and has no dispatch hook, so every callback is followed by this.
   */
  dispatch(): void {
    if (this.closed) return;
    const pending = this.gw.httpCalls();
    for (const [call, abort] of this.inflight) {
      // Timed out on the virtual clock (the host already delivered the failure): drop ours.
      if (!pending.includes(call)) {
        abort();
        this.inflight.delete(call);
      }
    }
    for (const call of pending) if (!this.inflight.has(call)) this.send(call);
  }

  private send(call: HttpCall): void {
    const target = this.clusters[call.cluster];
    if (!target) {
      // The host refuses unknown clusters at dispatch time, so this only guards a bad table.
      this.gw.failHttpCall(call);
      return;
    }
    const { host, port } = splitAddress(target);
    const pseudo = new Map<string, string>();
    const headers: Array<[string, string]> = [];
    for (const [k, v] of call.headers) {
      if (k.startsWith(":")) pseudo.set(k, v);
      else headers.push([k, v]);
    }
    const req = request({
      host,
      port,
      method: pseudo.get(":method") ?? "GET",
      path: pseudo.get(":path") ?? "/",
      headers: [...headers.flat(), "host", pseudo.get(":authority") ?? target],
      // A real deadline too, in case the virtual one is far away; the host's fires first.
      timeout: call.timeoutMs + 1_000,
    });
    this.inflight.set(call, () => req.destroy());
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => this.finish(call, undefined));
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", () => this.finish(call, undefined));
      res.on("end", () => {
        const pairs: Array<[string, string]> = [];
        for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
          pairs.push([
            (res.rawHeaders[i] as string).toLowerCase(),
            res.rawHeaders[i + 1] as string,
          ]);
        }
        this.finish(call, {
          status: res.statusCode ?? 0,
          headers: pairs,
          body: Buffer.concat(chunks),
        });
      });
    });
    req.end(call.body);
  }

  private finish(
    call: HttpCall,
    res: { status: number; headers: Array<[string, string]>; body: Uint8Array } | undefined,
  ): void {
    // Not in flight any more: timed out on the virtual clock and aborted by `dispatch`.
    if (!this.inflight.delete(call)) return;
    // Catch the clock up first: a response that arrives after the call's deadline must find
    // it timed out, as it would in Envoy.
    this.sync();
    if (this.closed || !this.gw.httpCalls().includes(call)) return;
    if (res) this.gw.respondHttpCall(call, res);
    else this.gw.failHttpCall(call);
    this.dispatch();
  }

  /** Stops the clock timer, abandons in-flight calls and shuts the plugin down. */
  close(): void {
    if (this.closed) return;
    if (this.timer) clearInterval(this.timer);
    for (const abort of this.inflight.values()) abort();
    this.inflight.clear();
    this.gw.shutdown();
    this.closed = true;
  }
}
