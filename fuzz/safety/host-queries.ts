// The `?host=` questions asked after a step, whose answers the checker holds against the
// model's count. Which hosts are asked, on which worker and in which spelling is a function of
// the seed and the step itself (not its index), so a replay, even a shrunk one, asks the same.
import type { AdminRequests } from "./admin-requests.js";
import type { DriverContext } from "./context.js";
import { ADMIN_PATH, type Step } from "./steps.js";
import { familyOf, spellAuthority } from "./universe.js";

/** A number that names a step by what it is, not where it is (so a shrunk replay asks alike). */
function stepIdentity(step: Step): number {
  if (step.op === "open") return step.id;
  if (step.op === "close") return step.id + 0x4000000;
  const text = JSON.stringify(step);
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function hash32(a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x7f4a7c15, 0xc2b2ae35);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> 0;
}

export class HostQueries {
  constructor(
    private readonly ctx: DriverContext,
    private readonly admin: AdminRequests,
  ) {}

  /**
   * `?host=` after the step: for the keys a drain request, race, storm, flood or push touched,
   * for an eighth of plain opens and closes, and for a random counted host after half the other
   * steps.
   */
  after(step: Step): void {
    const h = hash32(this.ctx.seed, stepIdentity(step));
    const plain = step.op === "open" || step.op === "close";
    let keys = plain && h % 8 !== 0 ? [] : [...new Set(this.ctx.touched)];
    if (keys.length > 3) keys = [keys[0] as string, keys[keys.length - 1] as string];
    if (keys.length === 0 && !plain && h % 2 === 1) {
      const all = [...this.ctx.model.byKey.keys()];
      if (all.length > 0) keys = [all[(h >>> 4) % all.length] as string];
    }
    for (const key of keys) this.ask(key, h);
  }

  private ask(key: string, h: number): void {
    const { model } = this.ctx;
    const family = familyOf(key);
    const live = model.liveWorkers().filter((w) => model.workerConfig(w).keyBy === family);
    if (live.length === 0) return;
    const w = live[(h >>> 8) % live.length] as number;
    // Now and then ask with the spelling a client used (upper case, a port): same host.
    const name = family === "authority" && (h & 0x30) === 0 ? spellAuthority(key, h >>> 1) : key;
    const r = this.admin.send(w, "GET", `${ADMIN_PATH}?host=${name}`);
    if (!r) return;
    this.ctx.checker.hostAnswer(key, r.status, r.body);
  }
}
