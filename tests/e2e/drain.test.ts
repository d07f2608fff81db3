// End to end on one machine: 220 real WebSocket players through the local gateway (4 worker
// VMs running build/plugin.wasm) to 3 game servers; game1 is drained through the admin path and
// its players leave in waves. At each step the admin counts must equal what the clients
// themselves see (and what the game servers see), and the drain ends in exactly one signed
// webhook that verifies.
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { joinGame, type Player } from "../../gateway/demo/players.js";
import { hostOf, startTestbed, type Testbed } from "../../gateway/demo/testbed.js";
import { waitFor } from "../../gateway/demo/wait.js";
import { adminView, clientView, joinMany } from "./players.js";

const HOSTS = ["game0", "game1", "game2"].map(hostOf);
const [GAME0, GAME1, GAME2] = HOSTS as [string, string, string];
const PLAN: Array<[string, number]> = [
  [GAME0, 80],
  [GAME1, 70],
  [GAME2, 70],
];
const WORKERS = 4;

let tb: Testbed;
const players: Player[] = [];

/** Waits (bounded) until the admin path agrees with the clients, then checks every view. */
async function expectAgreement(): Promise<Record<string, number>> {
  const mine = () => clientView(players, HOSTS);
  const total = () => Object.values(mine()).reduce((a, b) => a + b, 0);
  await waitFor(
    "admin counts == game servers' view == clients' view",
    async () => {
      const admin = adminView(await tb.admin.counts(), HOSTS);
      const sum = tb.gateway.openStreams().reduce((a, b) => a + b, 0);
      return (
        sum === total() &&
        HOSTS.every((h) => admin[h] === mine()[h] && tb.games.get(h)?.players() === mine()[h])
      );
    },
    10_000,
  );
  const expected = mine();
  // Every worker answers with the process-wide numbers (one fresh connection per worker).
  for (let w = 0; w < WORKERS; w++) {
    expect(adminView(await tb.admin.counts(), HOSTS)).toEqual(expected);
  }
  return expected;
}

function httpGet(host: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${tb.gateway.url}${path}`, { headers: { host }, agent: false });
    req.on("error", reject);
    req.on("response", (res) => {
      let body = "";
      res.on("data", (c: Buffer) => {
        body += c.toString();
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.end();
  });
}

describe("local gateway end to end: 220 WebSocket players, 3 game servers, 4 worker VMs", () => {
  beforeAll(async () => {
    tb = await startTestbed({ workers: WORKERS, heartbeatMs: 500 });
  });

  afterAll(async () => {
    await Promise.allSettled(players.map((p) => p.leave(2_000)));
    await tb?.close();
  });

  it("counts every player on every game server, spread over all workers", async () => {
    let id = 0;
    for (const [host, n] of PLAN) {
      players.push(...(await joinMany(tb.gateway.url, host, n, id)));
      id += n;
    }
    expect(players).toHaveLength(220);
    expect(await expectAgreement()).toEqual({ [GAME0]: 80, [GAME1]: 70, [GAME2]: 70 });
    const perWorker = tb.gateway.openStreams();
    expect(perWorker).toHaveLength(WORKERS);
    for (const n of perWorker) expect(n).toBeGreaterThanOrEqual(50);
    const view = await tb.admin.view();
    expect(view.totalActive).toBe(220);
    expect(view.overflow).toBe(0);
  });

  it("carries frames both ways: heartbeats reach every player, echoes come back", async () => {
    await waitFor("a heartbeat on every socket", () => players.every((p) => p.heartbeats > 0));
    await Promise.all(players.map((p) => p.echo(`ping ${p.id}`)));
  });

  it("proxies plain HTTP too, and a finished request leaves no count behind", async () => {
    const res = await httpGet(GAME2, "/status");
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ server: "game2", players: 70 });
    expect((await httpGet("nowhere.postio.example.com", "/")).status).toBe(404);
    await expectAgreement();
  });

  it("drains game1 through the admin path; new players are refused, existing ones stay", async () => {
    const started = await tb.admin.startDrain(GAME1);
    expect(started.drain).toMatchObject({ host: GAME1, state: "draining", active: 70 });
    const again = await tb.admin.startDrain(GAME1);
    expect(again.drain.episode).toBe(started.drain.episode);
    await expect(joinGame(tb.gateway.url, GAME1, 9_999)).rejects.toMatchObject({ status: 503 });
    // Other servers still take players.
    players.push(await joinGame(tb.gateway.url, GAME0, 10_000));
    expect(await expectAgreement()).toEqual({ [GAME0]: 81, [GAME1]: 70, [GAME2]: 70 });
    expect((await tb.admin.host(GAME1)).draining).toBe(true);
  });

  it("follows game1's players leaving in waves, with no webhook until the last is gone", async () => {
    const game1 = players.filter((p) => p.host === GAME1);
    const game0 = players.filter((p) => p.host === GAME0);
    // Seven waves of 9 leave game1 (7 remain), while game0 loses a few too.
    for (let wave = 0; wave < 7; wave++) {
      await Promise.all(game1.slice(wave * 9, wave * 9 + 9).map((p) => p.leave()));
      await game0[wave]?.leave();
      const seen = await expectAgreement();
      expect(seen[GAME1]).toBe(70 - (wave + 1) * 9);
      expect(tb.sink.deliveries()).toHaveLength(0);
    }
    // The last seven, one by one.
    for (const [i, p] of game1.slice(63).entries()) {
      await p.leave();
      const seen = await expectAgreement();
      expect(seen[GAME1]).toBe(6 - i);
      if (seen[GAME1] !== 0) expect(tb.sink.deliveries()).toHaveLength(0);
    }
  });

  it("ends in exactly one signed drain-complete webhook that verifies", async () => {
    const d = await waitFor("the webhook", () => tb.sink.deliveries()[0], 10_000);
    const drain = await waitFor("delivery recorded", async () =>
      (await tb.admin.drains()).find((x) => x.host === GAME1 && x.delivery.state === "delivered"),
    );
    expect(d.verified).toBe(true);
    expect(d.duplicate).toBe(false);
    expect(d.path).toBe("/drained");
    expect(d.idempotencyKey).toBe(drain.episode);
    expect(d.body).toMatchObject({
      event: "drain_complete",
      host: GAME1,
      episode: drain.episode,
      reason: "drained",
      remaining: 0,
      gateway: "local-gateway-0",
      upstreams: [tb.games.get(GAME1)?.address],
    });
    expect(drain).toMatchObject({ state: "completed", delivery: { attempts: 1 } });
    expect(tb.sink.deliveries()).toHaveLength(1);
    // The other servers are untouched.
    expect(await expectAgreement()).toEqual({ [GAME0]: 74, [GAME1]: 0, [GAME2]: 70 });
  });

  it("counts down to zero when everyone leaves", async () => {
    await Promise.all(players.map((p) => p.leave()));
    expect(await expectAgreement()).toEqual({ [GAME0]: 0, [GAME1]: 0, [GAME2]: 0 });
    expect(tb.gateway.openStreams()).toEqual([0, 0, 0, 0]);
    expect((await tb.admin.view()).totalActive).toBe(0);
  });
});
