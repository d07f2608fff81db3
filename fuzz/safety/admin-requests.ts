// Requests to the plugin's admin endpoint: drain POSTs and DELETEs as steps, and the GETs the
// host queries ask. An admin request goes to a live worker (the one named, else another), since
// a dead worker's VM answers nothing.
import type { DriverContext } from "./context.js";
import type { Model } from "./model.js";
import { ADMIN_PATH, ADMIN_TOKEN } from "./steps.js";
import { canonical, type KeyBy } from "./universe.js";

/** The worker an admin request meant for `w` lands on: `w` if live, else a live one, or -1. */
export function adminWorker(model: Model, w: number): number {
  const live = model.liveWorkers();
  if (live.length === 0) return -1;
  return live.includes(w) ? w : (live[w % live.length] as number);
}

export class AdminRequests {
  constructor(private readonly ctx: DriverContext) {}

  /** An admin request on worker `w` (or the next live one); returns the reply, if any. */
  send(
    w: number,
    method: string,
    path: string,
  ): { status: number; body: string; w: number } | undefined {
    const worker = adminWorker(this.ctx.model, w);
    if (worker < 0) return undefined;
    const s = this.ctx.gw
      .worker(worker)
      .openStream({ properties: { "source.address": "10.0.0.1:40000" } });
    s.sendRequestHeaders(
      {
        ":method": method,
        ":path": path,
        ":authority": "gateway.example.com",
        authorization: `Bearer ${ADMIN_TOKEN}`,
      },
      { endOfStream: true },
    );
    const r = s.localResponse;
    s.close();
    return r ? { status: r.status, body: r.body, w: worker } : undefined;
  }

  /** A drain POST or DELETE; its answer's view of the episode goes to the checker. */
  drain(method: "POST" | "DELETE", w: number, keyBy: KeyBy, name: string, deadline: number): void {
    const { model, figures, checker } = this.ctx;
    const worker = adminWorker(model, w);
    if (worker < 0 || model.workerConfig(worker).keyBy !== keyBy) {
      figures.requestsNotSent++;
      return;
    }
    if (method === "POST") {
      figures.posts++;
      model.drainNames.add(name);
    } else figures.deletes++;
    this.ctx.touched.push(canonical(name, keyBy));
    const query = deadline > 0 ? `&deadlineSeconds=${deadline}` : "";
    const r = this.send(worker, method, `${ADMIN_PATH}/drain?host=${name}${query}`);
    if (!r) return;
    let view: { drain?: { host?: string; episode?: string; state?: string; reason?: string } };
    try {
      view = JSON.parse(r.body) as typeof view;
    } catch {
      return; // 4xx/5xx answers are plain text
    }
    const d = view.drain;
    if (!d || typeof d.episode !== "string") return;
    model.requestedEpisodes.add(d.episode);
    // An answer shows the state its request read; a step injected into the request may have
    // moved the episode on since (e.g. completed it by its deadline), so it may look older.
    checker.drainView(d.host ?? name, d, this.ctx.injectedDuringRequest);
  }
}
