// drain.quietSeconds: a drain completes as "drained" only once its host's count has stood at zero
// for that long (issue 13, first part). Four workers; the quiet clock is kept in the slot by
// the writes that see the host at zero (the last close, then every tick).
import { describe, expect, it } from "vitest";
import type { Gateway, Stream } from "../../host/index.js";
import { parseDrainComplete } from "../../receiver/signature.js";
import {
  bodyOf,
  completeKey,
  drainConfig,
  drainGateway,
  drainOf,
  startDrain,
  webhookCalls,
} from "./drain-harness.js";
import { adminRequest, connectPlayer } from "./harness.js";

const HOST = "game1.postio.example.com";

/** Players on every worker of the 4, each with its own upstream address. */
function players(gw: Gateway, n: number): Stream[] {
  const out: Stream[] = [];
  for (let i = 0; i < n; i++) {
    out.push(connectPlayer(gw, HOST, { vm: i % 4, upstream: `10.1.0.${20 + i}:5000` }));
  }
  return out;
}

function quietGauge(gw: Gateway, host = HOST): string | undefined {
  const prom = adminRequest(gw, "/.conn-drain?format=prometheus").body;
  const line = prom
    .split("\n")
    .find((l) => l.startsWith(`conn_drain_quiet_seconds{host="${host}"`));
  return line?.split(" ")[1];
}

/** Advances in tick-sized steps until the host's drain completes; returns the steps taken. */
function advanceUntilComplete(gw: Gateway, limitMs: number): number {
  let waited = 0;
  while (completeKey(gw, HOST) === undefined && waited < limitMs) {
    gw.advance(250);
    waited += 250;
  }
  return waited;
}

describe("drain.quietSeconds", () => {
  it("0 (the default) completes in the callback of the last close, as before", async () => {
    const gw = await drainGateway();
    const ps = players(gw, 4);
    const started = startDrain(gw, HOST);
    expect(started.drain).toMatchObject({ state: "draining", quietSeconds: 0 });
    for (const p of ps.slice(0, 3)) p.close();
    expect(completeKey(gw, HOST)).toBeUndefined();
    ps[3]?.close(); // no tick, no advance after this
    expect(completeKey(gw, HOST)).toMatchObject({ reason: "drained", remaining: 0 });
    const calls = webhookCalls(gw);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.vmIndex).toBe(ps[3]?.vmIndex);
    expect(bodyOf(calls[0]!)).toMatchObject({ reason: "drained", quietSeconds: 0 });
    expect(drainOf(gw, HOST)).not.toHaveProperty("quietSince");
  });

  it("5 s: the last close does not complete; a tick 5 s later does, with one webhook", async () => {
    const gw = await drainGateway({ drain: { quietSeconds: 5 } });
    const ps = players(gw, 8);
    const started = startDrain(gw, HOST);
    expect(started.drain).toMatchObject({ state: "draining", quietSeconds: 5 });
    for (const p of ps) p.close();
    const lastClose = gw.now();
    expect(completeKey(gw, HOST)).toBeUndefined();
    expect(webhookCalls(gw)).toEqual([]);
    expect(drainOf(gw, HOST)).toMatchObject({
      state: "draining",
      active: 0,
      quietSince: new Date(lastClose).toISOString(),
    });

    gw.advance(4900);
    expect(completeKey(gw, HOST)).toBeUndefined();
    expect(webhookCalls(gw)).toEqual([]);

    advanceUntilComplete(gw, 3000);
    const key = completeKey(gw, HOST);
    expect(key).toMatchObject({ reason: "drained", remaining: 0, quietSeconds: 5 });
    expect(Date.parse(key?.completedAt as string) - lastClose).toBeGreaterThanOrEqual(5000);
    const calls = webhookCalls(gw);
    expect(calls).toHaveLength(1);
    expect(bodyOf(calls[0]!)).toMatchObject({
      event: "drain_complete",
      episode: started.drain.episode,
      reason: "drained",
      quietSeconds: 5,
    });
    // The receiver takes the new field (and refuses a malformed one).
    expect(parseDrainComplete(calls[0]!.body)).toMatchObject({ quietSeconds: 5 });
    const bad = { ...bodyOf(calls[0]!), quietSeconds: -1 };
    expect(parseDrainComplete(new TextEncoder().encode(JSON.stringify(bad)))).toBeUndefined();
    gw.respondHttpCall(calls[0]!, { status: 200 });
    gw.advance(30_000);
    expect(webhookCalls(gw)).toEqual([]);
    expect(drainOf(gw, HOST)).toMatchObject({
      state: "completed",
      delivery: { state: "delivered", attempts: 1 },
    });
    expect(drainOf(gw, HOST)).not.toHaveProperty("quietSince");
    expect(gw.trapCount).toBe(0);
  });

  it("a player returning after 3 s resets the quiet period; it completes 5 s after they leave", async () => {
    const gw = await drainGateway({ drain: { quietSeconds: 5 } });
    const ps = players(gw, 4);
    startDrain(gw, HOST);
    for (const p of ps) p.close();
    gw.advance(3000);
    const back = connectPlayer(gw, HOST, { vm: 2, upstream: "10.1.0.20:5000" });
    expect(drainOf(gw, HOST)).toMatchObject({ state: "draining", active: 1 });
    expect(drainOf(gw, HOST)).not.toHaveProperty("quietSince");
    expect(quietGauge(gw)).toBe("0");

    gw.advance(1000);
    back.close();
    const left = gw.now();
    // 5 s after the first zero: the returning player restarted the clock.
    gw.advance(1500);
    expect(completeKey(gw, HOST)).toBeUndefined();
    gw.advance(3400);
    expect(completeKey(gw, HOST)).toBeUndefined();
    expect(webhookCalls(gw)).toEqual([]);

    advanceUntilComplete(gw, 3000);
    const key = completeKey(gw, HOST);
    expect(key).toMatchObject({ reason: "drained", remaining: 0 });
    expect(Date.parse(key?.completedAt as string) - left).toBeGreaterThanOrEqual(5000);
    expect(webhookCalls(gw)).toHaveLength(1);
  });

  it("a player returning after the quiet period ran out, before any tick wrote, resets it", async () => {
    // Long ticks: between the last close and the open below no tick writes the slot, so the open
    // is the first write to find the period over, and it finds a player: no completion.
    const gw = await drainGateway({
      tickMs: 60_000,
      vmTtlSeconds: 180,
      drain: { quietSeconds: 1 },
    });
    const ps = players(gw, 4);
    startDrain(gw, HOST);
    for (const p of ps) p.close();
    gw.advance(2000);
    expect(completeKey(gw, HOST)).toBeUndefined();
    const back = connectPlayer(gw, HOST, { vm: 1 });
    expect(completeKey(gw, HOST)).toBeUndefined();
    expect(drainOf(gw, HOST)).toMatchObject({ state: "draining", active: 1 });
    expect(drainOf(gw, HOST)).not.toHaveProperty("quietSince");
    back.close();
    const left = gw.now();
    gw.tick(); // the period has just restarted: this write does not end it
    expect(completeKey(gw, HOST)).toBeUndefined();
    gw.advance(1000);
    gw.tick();
    const key = completeKey(gw, HOST);
    expect(key).toMatchObject({ reason: "drained", remaining: 0 });
    expect(Date.parse(key?.completedAt as string) - left).toBeGreaterThanOrEqual(1000);
    expect(webhookCalls(gw)).toHaveLength(1);
  });

  it("a deadline passing during the quiet period completes with reason deadline", async () => {
    const gw = await drainGateway({ drain: { quietSeconds: 60 } });
    const ps = players(gw, 4);
    const started = startDrain(gw, HOST, "&deadlineSeconds=10");
    expect(started.drain.deadline).not.toBeNull();
    gw.advance(2000);
    for (const p of ps) p.close();
    gw.advance(7000);
    expect(completeKey(gw, HOST)).toBeUndefined();
    expect(drainOf(gw, HOST)).toHaveProperty("quietSince");

    gw.advance(2000);
    expect(completeKey(gw, HOST)).toMatchObject({ reason: "deadline", remaining: 0 });
    const calls = webhookCalls(gw);
    expect(calls).toHaveLength(1);
    expect(bodyOf(calls[0]!)).toMatchObject({ reason: "deadline", quietSeconds: 60 });
    gw.respondHttpCall(calls[0]!, { status: 200 });
    gw.advance(60_000);
    expect(webhookCalls(gw)).toEqual([]);
    expect(drainOf(gw, HOST)).toMatchObject({ reason: "deadline", delivery: { attempts: 1 } });
  });

  it("the quiet clock shows in the JSON view and the Prometheus text", async () => {
    const gw = await drainGateway({ drain: { quietSeconds: 30 } });
    const ps = players(gw, 2);
    startDrain(gw, HOST);
    const view = drainOf(gw, HOST);
    expect(view).toMatchObject({ quietSeconds: 30 });
    expect(view).not.toHaveProperty("quietSince");
    expect(quietGauge(gw)).toBe("0");
    const prom = adminRequest(gw, "/.conn-drain?format=prometheus").body;
    expect(prom).toContain("# TYPE conn_drain_quiet_seconds gauge");
    // Only draining hosts have the gauge.
    connectPlayer(gw, "game2.postio.example.com");
    expect(quietGauge(gw, "game2.postio.example.com")).toBeUndefined();

    for (const p of ps) p.close();
    const since = gw.now();
    gw.advance(2500);
    expect(drainOf(gw, HOST)).toMatchObject({
      quietSeconds: 30,
      quietSince: new Date(since).toISOString(),
    });
    expect(Number(quietGauge(gw))).toBe(2.5);
    const one = JSON.parse(adminRequest(gw, `/.conn-drain?host=${HOST}`).body) as {
      drain: Record<string, unknown>;
    };
    expect(one.drain).toMatchObject({
      quietSeconds: 30,
      quietSince: new Date(since).toISOString(),
    });
  });

  it("a config change of quietSeconds does not alter a running episode", async () => {
    const gw = await drainGateway({ drain: { quietSeconds: 5 } });
    const ps = players(gw, 4);
    const started = startDrain(gw, HOST);
    const update = await gw.updateConfig(JSON.stringify({ ...drainConfig, drain: {} }));
    expect(update.accepted).toBe(true);
    expect(drainOf(gw, HOST)).toMatchObject({ episode: started.drain.episode, quietSeconds: 5 });

    // Under the new config (no quiet period) the last close would complete at once.
    for (const p of ps) p.close();
    const lastClose = gw.now();
    expect(completeKey(gw, HOST)).toBeUndefined();
    advanceUntilComplete(gw, 8000);
    const key = completeKey(gw, HOST);
    expect(key).toMatchObject({ episode: started.drain.episode, reason: "drained" });
    expect(Date.parse(key?.completedAt as string) - lastClose).toBeGreaterThanOrEqual(5000);
    expect(webhookCalls(gw)).toHaveLength(1);

    // A drain started after the change takes the new value.
    const next = startDrain(gw, "game3.postio.example.com");
    expect(next.drain).toMatchObject({ quietSeconds: 0, state: "completed" });
  });

  it("a slot written by the layout before quietSeconds reads as no quiet period", async () => {
    const gw = await drainGateway({ drain: { quietSeconds: 5 } });
    const ps = players(gw, 4);
    startDrain(gw, HOST);
    const key = gw.sharedData
      .keys()
      .find((k) => k.startsWith("conn-drain/slot/") && gw.sharedData.get(k)?.text.includes(HOST));
    expect(key).toBeDefined();
    const current = gw.sharedData.get(key!)!;
    // The layout before quietSeconds ended after the upstreams: drop the u32 quietSeconds and
    // i64 quietSince, and the three u32s added after them for returning players.
    const old = current.value.slice(0, current.value.length - 12 - 12);
    gw.sharedData.set(key!, old, current.cas);
    expect(drainOf(gw, HOST)).toMatchObject({ state: "draining", active: 4, quietSeconds: 0 });
    for (const p of ps) p.close();
    expect(completeKey(gw, HOST)).toMatchObject({ reason: "drained", quietSeconds: 0 });
    expect(webhookCalls(gw)).toHaveLength(1);
  });

  it("drain.quietSeconds is checked: an integer from 0 to 3600", async () => {
    const gw = await drainGateway({ drain: { quietSeconds: 5 } });
    for (const bad of [-1, 3601, 2.5, "5"]) {
      const r = await gw.updateConfig(
        JSON.stringify({ ...drainConfig, drain: { quietSeconds: bad } }),
      );
      expect(r.accepted).toBe(false);
    }
    const ok = await gw.updateConfig(
      JSON.stringify({ ...drainConfig, drain: { quietSeconds: 3600 } }),
    );
    expect(ok.accepted).toBe(true);
  });
});
