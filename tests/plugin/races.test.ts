import { describe, expect, it } from "vitest";
import { type Gateway, Rng, type Stream } from "../../host/index.js";
import { activeByHost, adminConfig, connectPlayer, counts, gateway } from "./harness.js";

const WORKERS = 4;
const HOSTS = [
  "game0.example.com",
  "game1.example.com",
  "game2.example.com",
  "game3.example.com",
  "game4.example.com",
];

/** Streams open per worker, and what the admin path must say about them. */
class Players {
  open: Stream[][] = Array.from({ length: WORKERS }, () => []);
  hostOf = new Map<Stream, string>();
  expected = new Map<string, number>();
  ops = 0;

  constructor(
    private gw: Gateway,
    private rng: Rng,
  ) {}

  connect(worker: number, host: string): void {
    const s = connectPlayer(this.gw, host, { vm: worker });
    this.open[worker]?.push(s);
    this.hostOf.set(s, host);
    this.expected.set(host, (this.expected.get(host) ?? 0) + 1);
    this.ops++;
  }

  leave(worker: number): void {
    const list = this.open[worker] as Stream[];
    const s = list.splice(this.rng.int(list.length), 1)[0] as Stream;
    s.close();
    const host = this.hostOf.get(s) as string;
    this.expected.set(host, (this.expected.get(host) ?? 0) - 1);
    this.ops++;
  }

  /** Opens or closes a stream on a worker other than `busy`. */
  randomOp(busy = -1): void {
    let worker = this.rng.int(WORKERS);
    if (worker === busy) worker = (worker + 1) % WORKERS;
    const list = this.open[worker] as Stream[];
    if (list.length > 0 && this.rng.int(2) === 0) this.leave(worker);
    else this.connect(worker, HOSTS[this.rng.int(HOSTS.length)] as string);
  }

  expectedCounts(): Record<string, number> {
    return Object.fromEntries([...this.expected].filter(([, n]) => n > 0 || true));
  }
}

describe("exact counts under races", () => {
  it("two workers counting the first stream of a new host at the same moment lose nothing", async () => {
    const gw = await gateway(adminConfig);
    let raced = false;
    gw.sharedData.onAfterGet((e) => {
      // worker 0 has just read the (empty) index bucket; worker 1 counts the same new host now
      if (!raced && e.vmIndex === 1 && e.key.includes("/index/")) {
        raced = true;
        connectPlayer(gw, "fresh.example.com", { vm: 1 });
      }
    });
    connectPlayer(gw, "fresh.example.com", { vm: 0 });
    gw.sharedData.clearHooks();
    expect(raced).toBe(true);
    expect(activeByHost(gw)).toEqual({ "fresh.example.com": 2 });
  });

  it("a competing write between every get and set: >= 100,000 opens/closes over 4 workers stay exact", async () => {
    const gw = await gateway({ ...adminConfig, maxHosts: 8 });
    const rng = new Rng(2024);
    const players = new Players(gw, rng);
    let inject = true;
    let injected = 0;
    gw.sharedData.onAfterGet((e) => {
      if (!inject || !(e.key.includes("/slot/") || e.key.includes("/index/"))) return;
      injected++;
      if (rng.int(3) === 0 && e.value !== undefined) {
        // rewrite the same bytes: only the CAS moves, so the reader's set must fail and retry
        gw.sharedData.set(e.key, e.value, 0);
      } else {
        // a real open or close on another worker, between this worker's get and its set
        players.randomOp(e.vmIndex - 1);
      }
    });
    let checkpoints = 0;
    while (players.ops < 100_000) {
      players.randomOp();
      if (players.ops >= (checkpoints + 1) * 10_000) {
        checkpoints++;
        inject = false;
        const seen = activeByHost(gw);
        for (const [host, n] of players.expected) expect(seen[host] ?? 0).toBe(n);
        for (const n of Object.values(seen)) expect(n).toBeGreaterThanOrEqual(0);
        inject = true;
      }
    }
    inject = false;
    expect(injected).toBeGreaterThan(50_000);
    for (let w = 0; w < WORKERS; w++)
      while ((players.open[w] as Stream[]).length > 0) players.leave(w);
    expect(counts(gw).totalActive).toBe(0);
    expect(gw.trapCount).toBe(0);
  });
});
