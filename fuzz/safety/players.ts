// Player streams: the opens and closes a step makes, one at a time or as a flood of invented
// hosts. The model learns of an open once the player is connected and of a close before it is
// delivered, so the checker never holds the plugin to a player that was not there.
import type { Stream } from "../../host/index.js";
import type { DriverContext } from "./context.js";
import { type OpenStep, PLAYER_HEADER, type Step } from "./steps.js";
import { endpoint, spellAuthority } from "./universe.js";

type FloodStep = Extract<Step, { op: "flood" }>;

export class Players {
  private readonly streams = new Map<number, Stream>();

  constructor(private readonly ctx: DriverContext) {}

  open(step: OpenStep): void {
    const { gw, model, figures } = this.ctx;
    if (model.dead[step.w] || this.streams.has(step.id)) return;
    const handle = gw.worker(step.w);
    const e = endpoint(step.host);
    const missing = (handle as unknown as { pluginMissing?: string }).pluginMissing;
    const key = missing === undefined ? model.keyFor(step.w, step.host, step.form) : null;
    // Entered in the host's roster only if the config its root runs keeps rosters.
    const rostered = missing === undefined && model.workerConfig(step.w).players === true;
    const s = handle.openStream({
      properties: { "source.address": "203.0.113.7:50123", cluster_name: e.cluster },
    });
    s.sendRequestHeaders({
      ":method": "GET",
      ":path": "/play",
      ":authority": spellAuthority(e.authority, step.form),
      ":scheme": "http",
      connection: "upgrade",
      upgrade: "websocket",
      ...(step.player === undefined ? {} : { [PLAYER_HEADER]: `player-${step.player}` }),
    });
    if (s.localResponse || s.ended) {
      // drain.rejectNew turned the player away (or the VM failed): nobody connected.
      figures.refused++;
      s.close();
      return;
    }
    s.connectUpstream({ address: e.upstream, cluster: e.cluster });
    s.sendResponseHeaders({ ":status": "101" });
    if (s.localResponse || s.ended) {
      figures.refused++;
      s.close();
      return;
    }
    figures.opened++;
    if (key === null) figures.uncountedByHost++;
    this.streams.set(step.id, s);
    model.opened(step.id, step.w, step.host, key, step.player, rostered);
    if (key !== null) this.ctx.touched.push(key);
  }

  close(id: number): void {
    const s = this.streams.get(id);
    if (!s) return;
    this.streams.delete(id);
    const m = this.ctx.model.closing(id);
    if (m?.key) this.ctx.touched.push(m.key);
    s.close();
  }

  /** Invented hosts (ids from 1000 up) opened round-robin over the live workers. */
  flood(step: FloodStep): void {
    for (let i = 0; i < step.n; i++) {
      const live = this.ctx.model.liveWorkers();
      if (live.length === 0) return;
      this.open({
        op: "open",
        id: step.id + i,
        w: live[(step.w + i) % live.length] as number,
        host: 1000 + step.first + i,
        form: Math.imul(step.first + i, 0x9e3779b1) >>> 0,
      });
    }
  }

  /** Every open flood stream closes. */
  unflood(): void {
    for (const s of [...this.ctx.model.streams.values()]) if (s.host >= 1000) this.close(s.id);
  }
}
