// A client for conn-drain's admin path (README, "Admin path"), used by the demo and the tests.
// Each call opens its own connection: the gateway hands connections to worker VMs in turn, so
// consecutive calls are answered by different workers, which is what shows the counts are
// process-wide and not one worker's.
import { request } from "node:http";
import type { DrainInfo, HostInfo } from "../../cli/admin-client.js";

/** One host as the admin path shows it: the fields the CLI reads (cli/admin-client.ts). */
export type HostView = HostInfo;

export interface AdminView {
  gateway: string;
  totalActive: number;
  overflow: number;
  hosts: HostView[];
}

/** A drain as `GET/POST /.conn-drain/drain` shows it: the host's record plus its host and count. */
export interface DrainView extends DrainInfo {
  host: string;
  active: number;
}

export class AdminClient {
  constructor(
    private readonly gatewayUrl: string,
    private readonly token: string,
    readonly path = "/.conn-drain",
  ) {}

  call(method: string, suffix: string): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const req = request(`${this.gatewayUrl}${this.path}${suffix}`, {
        method,
        agent: false,
        headers: { authorization: `Bearer ${this.token}` },
        timeout: 5_000,
      });
      req.on("timeout", () => req.destroy(new Error(`${method} ${suffix}: no answer in 5 s`)));
      req.on("error", reject);
      req.on("response", (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }),
        );
      });
      req.end();
    });
  }

  private async json<T>(method: string, suffix: string, ok: number[] = [200]): Promise<T> {
    const { status, text } = await this.call(method, suffix);
    if (!ok.includes(status)) throw new Error(`${method} ${this.path}${suffix}: ${status} ${text}`);
    return JSON.parse(text) as T;
  }

  view(): Promise<AdminView> {
    return this.json("GET", "");
  }

  /** Active count per host (hosts at zero included once the plugin tracked them). */
  async counts(): Promise<Record<string, number>> {
    const v = await this.view();
    return Object.fromEntries(v.hosts.map((h) => [h.host, h.active]));
  }

  host(host: string): Promise<HostView & { gateway: string }> {
    return this.json("GET", `?host=${encodeURIComponent(host)}`);
  }

  startDrain(host: string): Promise<{ gateway: string; drain: DrainView }> {
    return this.json("POST", `/drain?host=${encodeURIComponent(host)}`, [200, 202]);
  }

  async drains(): Promise<DrainView[]> {
    return (await this.json<{ drains: DrainView[] }>("GET", "/drain")).drains;
  }

  async prometheus(): Promise<string> {
    const { status, text } = await this.call("GET", "?format=prometheus");
    if (status !== 200) throw new Error(`prometheus format: ${status} ${text}`);
    return text;
  }
}
