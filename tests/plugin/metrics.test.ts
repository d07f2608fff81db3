import { describe, expect, it } from "vitest";
import { type Gateway, Rng, type Stream } from "../../host/index.js";
import { activeByHost, adminConfig, connectPlayer, counts, gateway } from "./harness.js";

function gauge(gw: Gateway, name: string): bigint | undefined {
  return gw.metrics().get(name)?.value;
}

describe("Envoy gauges mirror the counts", () => {
  it("conn_drain.active.<host> equals the admin count, process-wide, through opens and closes on 4 workers", async () => {
    const gw = await gateway(adminConfig);
    const rng = new Rng(99);
    const open: Stream[] = [];
    const hosts = ["game0.example.com", "game1.example.com", "game2.example.com"];
    for (let i = 0; i < 2000; i++) {
      if (open.length > 0 && rng.int(2) === 0)
        (open.splice(rng.int(open.length), 1)[0] as Stream).close();
      else open.push(connectPlayer(gw, hosts[rng.int(3)] as string, { vm: rng.int(4) }));
      if (i % 100 === 0) {
        for (const [host, n] of Object.entries(activeByHost(gw))) {
          expect(gauge(gw, `conn_drain.active.${host}`)).toBe(BigInt(n));
        }
      }
    }
    for (const s of open) s.close();
    for (const h of hosts) expect(gauge(gw, `conn_drain.active.${h}`)).toBe(0n);
    expect(gw.stats().has("wasmcustom.conn_drain.active.game0.example.com")).toBe(true);
  });

  it("a host gets a gauge only once it reaches an upstream; existing streams are included", async () => {
    const gw = await gateway(adminConfig);
    const s = gw.worker(0).openStream();
    s.sendRequestHeaders({ ":method": "GET", ":path": "/", ":authority": "game0.example.com" });
    expect(gauge(gw, "conn_drain.active.game0.example.com")).toBeUndefined();
    connectPlayer(gw, "game0.example.com", { vm: 1 });
    // the gauge starts at the whole count (2), not just the stream that earned it
    expect(gauge(gw, "conn_drain.active.game0.example.com")).toBe(2n);
    s.close();
    expect(gauge(gw, "conn_drain.active.game0.example.com")).toBe(1n);
  });

  it("never defines more than metrics.maxHosts per-host gauges; the rest are still counted", async () => {
    const gw = await gateway({ ...adminConfig, metrics: { maxHosts: 3 } });
    for (let i = 0; i < 10; i++) connectPlayer(gw, `game${i}.example.com`, { vm: i % 4 });
    const perHost = [...gw.metrics().keys()].filter((n) => n.startsWith("conn_drain.active."));
    expect(perHost).toHaveLength(3);
    expect(counts(gw).totalActive).toBe(10);
  });

  it("metrics.enabled false defines no per-host gauges", async () => {
    const gw = await gateway({ ...adminConfig, metrics: { enabled: false } });
    connectPlayer(gw, "game0.example.com");
    expect([...gw.metrics().keys()].filter((n) => n.startsWith("conn_drain.active."))).toEqual([]);
  });

  it("conn_drain.overflow counts the streams of hosts past maxHosts", async () => {
    const gw = await gateway({ ...adminConfig, maxHosts: 2 });
    const streams = [0, 1, 2, 3, 4].map((i) =>
      connectPlayer(gw, `game${i}.example.com`, { vm: i % 4 }),
    );
    expect(gauge(gw, "conn_drain.overflow")).toBe(3n);
    for (const s of streams) s.close();
    expect(gauge(gw, "conn_drain.overflow")).toBe(0n);
  });

  it("the streams of a dead VM leave the gauge when the host is next touched after the TTL", async () => {
    const gw = await gateway({ ...adminConfig, vmTtlSeconds: 5 });
    for (let w = 0; w < 4; w++) connectPlayer(gw, "game0.example.com", { vm: w });
    expect(gauge(gw, "conn_drain.active.game0.example.com")).toBe(4n);
    gw.worker(3).crash("simulated crash");
    gw.advance(10_000);
    connectPlayer(gw, "game0.example.com", { vm: 0 });
    expect(gauge(gw, "conn_drain.active.game0.example.com")).toBe(4n); // 3 live + 1 new, the dead one dropped
    expect(activeByHost(gw)["game0.example.com"]).toBe(4);
  });
});

describe("Envoy gauges after a VM dies", () => {
  it("a host nobody touches sheds the dead VM's streams from its gauge on the ticks after the TTL", async () => {
    const gw = await gateway({ ...adminConfig, vmTtlSeconds: 5 });
    for (let w = 0; w < 4; w++) connectPlayer(gw, "game7.example.com", { vm: w });
    gw.worker(1).crash("simulated crash");
    gw.advance(4_000);
    expect(gw.metrics().get("conn_drain.active.game7.example.com")?.value).toBe(4n);
    // TTL (5 s), then one VM's full sweep pass: 1024 slots / 64 per tick = 16 ticks
    gw.advance(18_000);
    expect(gw.metrics().get("conn_drain.active.game7.example.com")?.value).toBe(3n);
  });
});
