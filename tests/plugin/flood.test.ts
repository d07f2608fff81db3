import { describe, expect, it } from "vitest";
import { adminConfig, connectPlayer, counts, gateway } from "./harness.js";

describe("a flood of invented Host headers", () => {
  it("100,000 distinct hosts: tracked hosts and shared data stay bounded, real players stay counted", async () => {
    const maxHosts = 64;
    const gw = await gateway({ ...adminConfig, maxHosts });
    const real = [
      "game0.postio.example.com",
      "game1.postio.example.com",
      "game2.postio.example.com",
    ];
    real.forEach((h, i) => {
      for (let k = 0; k <= i; k++) connectPlayer(gw, h, { vm: k % 4 });
    });
    // every worker has counted once (a VM writes its heartbeat key on its first count)
    for (let w = 0; w < 4; w++) connectPlayer(gw, "warmup.example.com", { vm: w }).close();
    const keysBefore = gw.sharedData.keys().length;
    let maxBytes = 0;
    for (let i = 0; i < 100_000; i++) {
      // each invented host gets one short stream, answered and closed at once
      const s = connectPlayer(gw, `x${i.toString(36)}.attacker.example`, { vm: i % 4 });
      s.close();
      if (i % 10_000 === 0) maxBytes = Math.max(maxBytes, gw.sharedData.bytes());
    }
    const view = counts(gw);
    expect(view.hosts.length).toBeLessThanOrEqual(maxHosts);
    // shared data did not grow with the flood: no new keys, and bytes bounded by the fixed slots
    expect(gw.sharedData.keys().length).toBe(keysBefore);
    expect(gw.sharedData.bytes()).toBeLessThan(maxBytes + maxHosts * 300);
    const active = Object.fromEntries(view.hosts.map((h) => [h.host, h.active]));
    expect(active).toMatchObject({
      [real[0] as string]: 1,
      [real[1] as string]: 2,
      [real[2] as string]: 3,
    });
    expect(view.totalActive).toBe(6);
    // a real host that shows up after the flood is still tracked (idle invented hosts make room)
    connectPlayer(gw, "game9.postio.example.com", { vm: 2 });
    const after = counts(gw);
    expect(after.hosts.find((h) => h.host === "game9.postio.example.com")?.active).toBe(1);
    expect(after.overflow).toBe(0);
    expect(gw.trapCount).toBe(0);
  });

  it("hosts past maxHosts with live streams are counted in the overflow figure", async () => {
    const gw = await gateway({ ...adminConfig, maxHosts: 8 });
    for (let i = 0; i < 20; i++) connectPlayer(gw, `game${i}.example.com`, { vm: i % 4 });
    const view = counts(gw);
    expect(view.hosts).toHaveLength(8);
    expect(view.overflow).toBe(12);
    expect(view.totalActive).toBe(20);
    // Each tracked host's own stream, plus (as an upper bound) its overflow bucket's share.
    expect(view.hosts.every((h) => h.active - h.overflow === 1)).toBe(true);
    expect(view.hosts.every((h) => h.exact === (h.overflow === 0))).toBe(true);
  });

  it("overflow streams are released exactly once too", async () => {
    const gw = await gateway({ ...adminConfig, maxHosts: 2 });
    const streams = [0, 1, 2, 3].map((i) => connectPlayer(gw, `game${i}.example.com`, { vm: i }));
    expect(counts(gw).overflow).toBe(2);
    for (const s of streams) s.close();
    expect(counts(gw)).toMatchObject({ overflow: 0, totalActive: 0 });
  });
});

describe("a nearly full table", () => {
  it("finds the last free slots from any worker: 1,000 hosts in 1,024 slots over 8 workers, no overflow", async () => {
    const gw = await gateway(
      { ...adminConfig, maxHosts: 1024, metrics: { enabled: false } },
      { workers: 8 },
    );
    for (let i = 0; i < 1000; i++) connectPlayer(gw, `g${i}.example.com`, { vm: i % 8 });
    const view = counts(gw);
    expect(view.overflow).toBe(0);
    expect(view.hosts).toHaveLength(1000);
  });
});
