// Regression cases for issue 10's findings 1, 3, 4, 5 and 6: each one a way today's build
// (845b441) signalled "drained" with a player still connected, or lost a player's count. Each
// fails on that build (CONN_DRAIN_WASM=<its plugin.wasm>) and passes now.
import { describe, expect, it } from "vitest";
import type { Gateway, HttpCall, Stream } from "../../host/index.js";
import {
  bodyOf,
  drainConfig,
  drainGateway,
  drainOf,
  header,
  startDrain,
  webhookCalls,
} from "./drain-harness.js";
import { connectPlayer, hostView } from "./harness.js";

const H = "game1.example.com";

function drainedCalls(gw: Gateway, host: string) {
  return webhookCalls(gw).filter((c) => bodyOf(c).host === host);
}

/** Answers every pending webhook call with 200; returns them (answered calls leave the list). */
function deliverAll(gw: Gateway, host: string): HttpCall[] {
  const calls = drainedCalls(gw, host);
  for (const c of calls) gw.respondHttpCall(c, { status: 200 });
  return calls;
}

describe("finding 1: streams in overflow are never read as zero", () => {
  it("a host whose players overflowed reports them and does not complete a drain until they leave", async () => {
    const gw = await drainGateway({ maxHosts: 4 });
    // Every slot held by a live stream of an invented host.
    const squatters = [0, 1, 2, 3].map((w) => connectPlayer(gw, `x${w}.invalid`, { vm: w }));
    const players = [0, 1, 2].map((w) => connectPlayer(gw, H, { vm: w }));
    const before = hostView(gw, H);
    expect(before.active).toBeGreaterThanOrEqual(3);
    expect(before.exact).toBe(false);
    // A slot frees; the drain claims it for H while H's players are still in overflow.
    squatters[0]?.close();
    const started = startDrain(gw, H);
    expect(started.status).toBe(202);
    expect(started.drain.state).toBe("draining");
    gw.advance(3000);
    expect(drainedCalls(gw, H)).toHaveLength(0);
    expect(hostView(gw, H).active).toBeGreaterThanOrEqual(3);
    for (const p of players) p.close();
    gw.advance(1000);
    const calls = drainedCalls(gw, H);
    expect(calls).toHaveLength(1);
    expect(bodyOf(calls[0]!).reason).toBe("drained");
    expect(gw.trapCount).toBe(0);
  });
});

describe("finding 3: a drain POST racing the host's first stream on another worker", () => {
  it("starts on the player's slot and completes only when the player leaves", async () => {
    const gw = await drainGateway({ drain: { rejectNew: true } });
    let player: Stream | undefined;
    // Just before the POST's VM publishes its claimed slot in the index, another worker's first
    // stream of the same host claims and publishes its own.
    gw.sharedData.onBeforeSet((e) => {
      if (player || e.vmIndex !== 1 || !e.key.includes("/index/")) return;
      player = connectPlayer(gw, H, { vm: 1 });
    });
    const started = startDrain(gw, H);
    gw.sharedData.clearHooks();
    expect(player).toBeDefined();
    expect(started.drain.state).toBe("draining");
    expect(drainedCalls(gw, H)).toHaveLength(0);
    const view = hostView(gw, H);
    expect(view.active).toBe(1);
    expect(view.drain?.state).toBe("draining");
    // The drain really holds the player's slot: a newcomer is refused.
    const newcomer = gw.worker(2).openStream();
    newcomer.sendRequestHeaders({ ":method": "GET", ":path": "/play", ":authority": H });
    expect(newcomer.localResponse?.status).toBe(503);
    player?.close();
    const calls = drainedCalls(gw, H);
    expect(calls).toHaveLength(1);
    expect(bodyOf(calls[0]!).remaining).toBe(0);
  });
});

describe("finding 4: config changes never make a live worker look dead", () => {
  it("shortening tickMs and vmTtlSeconds keeps every worker's players counted", async () => {
    const gw = await drainGateway({ tickMs: 10_000, vmTtlSeconds: 30 });
    for (const w of [0, 1, 2, 3]) connectPlayer(gw, H, { vm: w });
    gw.advance(10_000);
    expect(hostView(gw, H).active).toBe(4);
    // Halfway to the next beat: every heartbeat is 5 s old, older than the new 3 s TTL.
    gw.advance(5000);
    const update = await gw.updateConfig(
      JSON.stringify({ ...drainConfig, tickMs: 1000, vmTtlSeconds: 3, drain: { hosts: [H] } }),
    );
    expect(update.accepted).toBe(true);
    for (let s = 0; s < 40; s++) {
      gw.advance(500);
      expect(hostView(gw, H, s % 4).active).toBe(4);
    }
    expect(drainedCalls(gw, H)).toHaveLength(0);
    expect(drainOf(gw, H)?.state).toBe("draining");
  });

  it("lengthening them while other workers still judge by the old TTL keeps them counted", async () => {
    const gw = await drainGateway({ tickMs: 1000, vmTtlSeconds: 3 });
    for (const w of [0, 1, 2, 3]) connectPlayer(gw, H, { vm: w });
    gw.advance(1000);
    await gw.updateConfig(JSON.stringify({ ...drainConfig, tickMs: 10_000, vmTtlSeconds: 30 }));
    for (let s = 0; s < 30; s++) {
      gw.advance(1000);
      expect(hostView(gw, H, s % 4).active).toBe(4);
    }
  });
});

describe("clock steps never make a live worker look dead", () => {
  it.each([
    ["forward", 3_600_000],
    ["backward", -3_600_000],
  ])(
    "a wall clock stepped %s by an hour keeps every player counted and drains nothing",
    async (_, ms) => {
      const gw = await drainGateway({ tickMs: 1000, vmTtlSeconds: 3 });
      for (const w of [0, 1, 2, 3]) connectPlayer(gw, H, { vm: w });
      gw.advance(2000);
      startDrain(gw, H);
      gw.jumpWallClock(ms);
      for (let s = 0; s < 20; s++) {
        gw.advance(500);
        expect(hostView(gw, H, s % 4).active).toBe(4);
      }
      expect(drainedCalls(gw, H)).toHaveLength(0);
    },
  );
});

describe("finding 5: one config listing is one episode and one delivery", () => {
  it("however many VMs configure it and however often a config still listing it is pushed", async () => {
    const config = (extra: Record<string, unknown> = {}) =>
      JSON.stringify({ ...drainConfig, drain: { hosts: [H] }, ...extra });
    // Start-up and every push roll out worker by worker with ticks (1 s) between workers.
    const gw = await drainGateway({ drain: { hosts: [H] } }, 4, { rolloutGapMs: [300, 900] });
    const delivered: HttpCall[] = [];
    const settle = () => {
      for (let i = 0; i < 4; i++) {
        gw.advance(1000);
        delivered.push(...deliverAll(gw, H));
      }
    };
    settle();
    expect(delivered).toHaveLength(1);
    // Envoy skips a push of identical bytes; these change another field, so every VM
    // configures again with the host still listed.
    const gaps = { gapMs: [300, 900] as [number, number] };
    await gw.updateConfig(config({ maxHosts: 2048 }), gaps);
    settle();
    await gw.updateConfig(config({ maxHosts: 4096 }), gaps);
    settle();
    expect(delivered).toHaveLength(1);
    const first = header(delivered[0]!, "idempotency-key");
    // Removing the host and listing it again later starts a new episode.
    await gw.updateConfig(JSON.stringify({ ...drainConfig, maxHosts: 4096 }), gaps);
    settle();
    await gw.updateConfig(config({ maxHosts: 4096, tickMs: 500 }), gaps);
    settle();
    const keys = delivered.map((c) => header(c, "idempotency-key"));
    expect(keys).toHaveLength(2);
    expect(keys[0]).toBe(first);
    expect(keys[1]).not.toBe(first);
  });
});

describe("finding 6: no stream is uncounted and every count is exact when its callback returns", () => {
  it("opens and closes land through 1,000 consecutive lost CAS rounds each", async () => {
    const gw = await drainGateway();
    let competing = 0;
    let injected = 0;
    gw.sharedData.onAfterGet((e) => {
      if (competing === 0 || e.vmIndex !== 1 || !e.key.includes("/slot/")) return;
      const v = gw.sharedData.get(e.key);
      if (!v) return;
      // Another worker rewrites the slot between this worker's read and its write.
      gw.sharedData.set(e.key, v.value);
      competing--;
      injected++;
    });
    const first = connectPlayer(gw, H, { vm: 0 });
    competing = 1000;
    const second = connectPlayer(gw, H, { vm: 0 });
    expect(competing).toBe(0);
    expect(hostView(gw, H).active).toBe(2);
    competing = 1000;
    second.close();
    expect(competing).toBe(0);
    expect(hostView(gw, H).active).toBe(1);
    startDrain(gw, H);
    competing = 1000;
    first.close();
    expect(competing).toBe(0);
    // Completed in the closing callback itself, not a tick later.
    expect(drainedCalls(gw, H)).toHaveLength(1);
    expect(hostView(gw, H).active).toBe(0);
    competing = 1000;
    connectPlayer(gw, "game2.example.com", { vm: 0 });
    expect(hostView(gw, "game2.example.com").active).toBe(1);
    expect(injected).toBeGreaterThanOrEqual(3000);
    expect(gw.trapCount).toBe(0);
  });
});
