// Talks to one gateway replica's admin path (README, "Admin path" and "Draining a game server").
// Every call returns an outcome instead of throwing: the operator commands ask all replicas at
// once and must show a replica that failed next to the ones that answered, never abort on it.
import http from "node:http";
import https from "node:https";

export interface Replica {
  /** Base URL, e.g. http://10.0.0.5:80 */
  url: string;
  /** Pod name when discovered through EndpointSlices; else the address. */
  name: string;
}

export interface DrainInfo {
  episode: string;
  state: "draining" | "completed" | "cancelled";
  source?: string;
  startedAt?: string;
  deadline?: string | null;
  completedAt?: string;
  reason?: "drained" | "deadline";
  remaining?: number;
  /** The episode's drain.reconnectGraceSeconds, its returning players' streams let in and the
   * new streams refused (drain.rejectNew); absent from plugins older than returning players. */
  reconnectGraceSeconds?: number;
  returning?: number;
  refused?: number;
  delivery: {
    state: "none" | "pending" | "delivered" | "failed";
    attempts: number;
    lastError?: string;
  };
}

export interface HostInfo {
  host: string;
  /** Includes `overflow`: an upper bound when `exact` is false. */
  active: number;
  /** false when `active` counts the host's overflow bucket, which may hold other hosts' streams. */
  exact?: boolean;
  overflow?: number;
  /** Distinct players with a live stream (over this replica's workers); only with `players`
   * configured, and only from plugins that know players. */
  players?: number;
  /** false when `players` is a lower bound (streams the roster does not name). */
  playersExact?: boolean;
  draining: boolean;
  drain?: DrainInfo;
}

export interface CountsView {
  gateway: string;
  totalActive?: number;
  overflow?: number;
  hosts: HostInfo[];
}

/** What went wrong with one replica, sorted by how the exit code is chosen (errors.ts). */
export type Failure =
  | { kind: "unreachable"; message: string }
  | { kind: "auth"; status: number; message: string }
  | { kind: "http"; status: number; message: string }
  | { kind: "bad-answer"; message: string };

export type Outcome<T> = { ok: true; status: number; value: T } | { ok: false; failure: Failure };

/** "ECONNREFUSED" or "no answer in 5 s": the OS code alone says it; the address is shown anyway. */
function why(err: unknown): string {
  const e = err as Error & { code?: string; cause?: { code?: string } };
  return e.code ?? e.cause?.code ?? e.message;
}

export class AdminClient {
  constructor(
    readonly replica: Replica,
    private readonly token: string | undefined,
    private readonly path = "/.conn-drain",
    private readonly timeoutMs = 5_000,
  ) {}

  /** GET /.conn-drain, or ?host=H (then the answer is one host, wrapped here as a list). */
  async counts(host?: string): Promise<Outcome<CountsView>> {
    const r = await this.call<CountsView & HostInfo>(
      "GET",
      host === undefined ? "" : `?host=${encodeURIComponent(host)}`,
      [200],
    );
    if (!r.ok || host === undefined) return r;
    const { gateway, ...one } = r.value;
    return { ok: true, status: r.status, value: { gateway, hosts: [one as HostInfo] } };
  }

  /** POST (start, 202) or DELETE (cancel, 200) /.conn-drain/drain?host=H. */
  drain(
    method: "POST" | "DELETE",
    host: string,
    deadlineSeconds?: number,
  ): Promise<Outcome<{ gateway: string; drain: HostInfo & DrainInfo; error?: string }>> {
    let q = `?host=${encodeURIComponent(host)}`;
    if (deadlineSeconds !== undefined) q += `&deadlineSeconds=${deadlineSeconds}`;
    // DELETE's 409 carries the drain that already ended (its state says how); the caller decides.
    return this.call(method, `/drain${q}`, method === "POST" ? [200, 202] : [200, 409]);
  }

  private call<T>(method: string, suffix: string, ok: number[]): Promise<Outcome<T>> {
    const url = new URL(this.replica.url.replace(/\/$/, "") + this.path + suffix);
    const lib = url.protocol === "https:" ? https : http;
    return new Promise((resolve) => {
      const req = lib.request(url, {
        method,
        // One connection per call: nothing stays open between --watch rounds or after exit.
        agent: false,
        headers: {
          accept: "application/json",
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        },
        timeout: this.timeoutMs,
      });
      req.on("timeout", () => req.destroy(new Error(`no answer in ${this.timeoutMs / 1000} s`)));
      req.on("error", (err) =>
        resolve({ ok: false, failure: { kind: "unreachable", message: why(err) } }),
      );
      req.on("response", (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", (err) =>
          resolve({ ok: false, failure: { kind: "unreachable", message: why(err) } }),
        );
        res.on("end", () => {
          const status = res.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString("utf8").trim();
          // Errors are a one-line text/plain reason (admin.ts problem()): room for a host key refusal.
          const msg = `HTTP ${status}${text ? `: ${text.split("\n")[0]?.slice(0, 240)}` : ""}`;
          if (status === 401 || status === 403)
            return resolve({ ok: false, failure: { kind: "auth", status, message: msg } });
          if (!ok.includes(status))
            return resolve({ ok: false, failure: { kind: "http", status, message: msg } });
          try {
            resolve({ ok: true, status, value: JSON.parse(text) as T });
          } catch {
            // A 200 that is not JSON: something else (another proxy, a web page) answers there.
            resolve({
              ok: false,
              failure: {
                kind: "bad-answer",
                message: `HTTP ${status} but not conn-drain's JSON (is --admin-path right?)`,
              },
            });
          }
        });
      });
      req.end();
    });
  }
}
