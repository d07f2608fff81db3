import { describe, expect, it } from "vitest";
import { probeGateway, still } from "./helpers.js";

// These tests are about tick timing, so every VM configures at the same instant: no gap between
// the VMs' turns at start-up (`still`; the rollout tests cover the gaps).

const ticks = (gw: Awaited<ReturnType<typeof probeGateway>>) =>
  gw
    .logs({ source: "plugin" })
    .filter((e) => e.message.startsWith("cb:tick"))
    .map((e) => `${e.vmIndex}:${/ctx=(\d+)/.exec(e.message)?.[1]}`);

describe("ticks", () => {
  it("tick per root per VM at every multiple of the period; canary ticks die", async () => {
    const gw = await probeGateway({ workers: 2, config: "tick=1000", ...still });
    const t0 = gw.now();
    gw.advance(999);
    expect(ticks(gw)).toEqual([]);
    gw.advance(1);
    expect(ticks(gw)).toEqual(["0:1", "1:1", "2:1"]);
    gw.advance(2500);
    expect(ticks(gw)).toHaveLength(9);
    expect(gw.now() - t0).toBe(3500);
    expect(ticks(gw).some((t) => t.startsWith("-1:"))).toBe(false);
  });

  it("period set from a stream applies to its VM's root only; 0 stops it", async () => {
    const gw = await probeGateway({ workers: 2, config: "tick=100", ...still });
    const s = gw.worker(0).openStream();
    s.sendRequestHeaders({ "x-probe-op": "tick-period:0" });
    expect(gw.worker(0).tickPeriodMs).toBe(0);
    gw.advance(300);
    expect(ticks(gw).filter((t) => t.startsWith("1:"))).toEqual([]);
    expect(ticks(gw).filter((t) => t.startsWith("2:"))).toHaveLength(3);
  });

  it("fires due ticks in time order across VMs with different periods", async () => {
    const gw = await probeGateway({ workers: 1, config: "tick=300", ...still });
    const s = gw.worker(0).openStream();
    s.sendRequestHeaders({ "x-probe-op": "tick-period:200" });
    gw.advance(600);
    // base ticks at 300, 600; worker 0 at 200, 400, 600 (period set at t=0)
    expect(ticks(gw)).toEqual(["1:1", "0:1", "1:1", "0:1", "1:1"]);
  });

  it("gw.tick fires one tick now; old and new roots each have their own timer", async () => {
    const gw = await probeGateway({ workers: 1, config: "tick=1000", ...still });
    gw.tick(1);
    expect(ticks(gw)).toEqual(["1:1"]);
    gw.tick();
    expect(ticks(gw)).toEqual(["1:1", "0:1", "1:1"]);

    const s = gw.worker(0).openStream();
    s.sendRequestHeaders({ ":path": "/" });
    await gw.updateConfig("tick=400", { gapMs: [0, 0] });
    gw.clearLogs();
    gw.advance(1000);
    // worker 0: old root 1 (still serving stream 2) ticks at 1000, new root 3 at 400 and 800
    const w = ticks(gw).filter((t) => t.startsWith("1:"));
    expect(w).toEqual(["1:3", "1:3", "1:1"]);
    s.close();
    gw.clearLogs();
    gw.advance(1000);
    // root 1 is gone; root 3 ticks at 1200, 1600, 2000
    expect(ticks(gw).filter((t) => t.startsWith("1:"))).toEqual(["1:3", "1:3", "1:3"]);
  });
});

describe("virtual clock housekeeping", () => {
  it("prunes cancelled timers as new ones arrive, so discarded canaries are not kept alive", async () => {
    const { VirtualClock } = await import("../../host/clock.js");
    const clock = new VirtualClock(0);
    for (let i = 0; i < 10_000; i++) clock.at(1000 + i, () => {}).cancel();
    expect(clock.pendingTimers).toBeLessThanOrEqual(64);
    let fired = 0;
    clock.at(5, () => fired++);
    clock.advance(10);
    expect(fired).toBe(1);
  });
});
