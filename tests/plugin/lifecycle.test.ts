import { describe, expect, it } from "vitest";
import type { Stream } from "../../host/index.js";
import {
  ADMIN_TOKEN,
  activeByHost,
  adminConfig,
  adminRequest,
  connectPlayer,
  counts,
  gateway,
} from "./harness.js";

const HOST = "game1.postio.example.com";

describe("worker VM failure", () => {
  it("a VM that fails stops counting once its heartbeat is older than vmTtlSeconds", async () => {
    const gw = await gateway({ ...adminConfig, vmTtlSeconds: 10, tickMs: 1000 });
    for (let w = 0; w < 4; w++) for (let i = 0; i < 3; i++) connectPlayer(gw, HOST, { vm: w });
    gw.advance(2000);
    expect(activeByHost(gw)[HOST]).toBe(12);
    // worker 2 dies with 3 players on it: Envoy never calls it again, so they are never closed
    gw.worker(2).crash("simulated crash");
    gw.advance(9000);
    expect(activeByHost(gw)[HOST]).toBe(12); // within the TTL it still counts
    gw.advance(3000);
    expect(activeByHost(gw)[HOST]).toBe(9);
    // streams of the live workers are unaffected and still close exactly
    connectPlayer(gw, HOST, { vm: 0 }).close();
    expect(activeByHost(gw)[HOST]).toBe(9);
  });

  it("live VMs keep counting across long idle periods (heartbeats on tick)", async () => {
    const gw = await gateway({ ...adminConfig, vmTtlSeconds: 5, tickMs: 1000 });
    connectPlayer(gw, HOST, { vm: 3 });
    gw.advance(600_000);
    expect(activeByHost(gw)[HOST]).toBe(1);
  });
});

describe("config updates", () => {
  it("streams opened under the old config and closed under the new one are subtracted exactly once", async () => {
    const gw = await gateway({ ...adminConfig, maxHosts: 16 });
    const before: Stream[] = [];
    for (let i = 0; i < 8; i++) before.push(connectPlayer(gw, HOST, { vm: i % 4 }));
    const oldRoots = [0, 1, 2, 3].map((w) => gw.worker(w).rootContextId);
    const newToken = "rotated-token-0123456789";
    const update = await gw.updateConfig(
      JSON.stringify({ admin: { token: newToken }, maxHosts: 64, keyBy: "cluster" }),
    );
    expect(update.accepted).toBe(true);
    // a new root context in every worker; the old ones live on while their streams do
    for (let w = 0; w < 4; w++) {
      expect(gw.worker(w).rootContextId).not.toBe(oldRoots[w]);
      expect(gw.worker(w).liveRootContextIds).toContain(oldRoots[w]);
    }
    expect(adminRequest(gw, "/.conn-drain", { token: ADMIN_TOKEN }).status).toBe(401);
    const view = () => JSON.parse(adminRequest(gw, "/.conn-drain", { token: newToken }).body);
    expect(view().totalActive).toBe(8);
    // new streams count under the new keyBy; old ones close against the key they were counted under
    connectPlayer(gw, HOST, { vm: 1, cluster: "outbound|5000||game1.default.svc.cluster.local" });
    for (const s of before.slice(0, 5)) s.close();
    expect(view().totalActive).toBe(4);
    for (const s of before.slice(5)) s.close();
    const hosts = Object.fromEntries(
      view().hosts.map((h: { host: string; active: number }) => [h.host, h.active]),
    );
    expect(hosts).toEqual({ [HOST]: 0, "outbound|5000||game1.default.svc.cluster.local": 1 });
    // with their last stream gone, the old roots got on_done/on_delete without trapping
    for (let w = 0; w < 4; w++) expect(gw.worker(w).liveRootContextIds).not.toContain(oldRoots[w]);
    expect(gw.trapCount).toBe(0);
  });

  it("many updates during traffic lose nothing and trap nothing", async () => {
    const gw = await gateway({ ...adminConfig, maxHosts: 32 });
    const open: Stream[] = [];
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 4; i++)
        open.push(connectPlayer(gw, `game${i}.example.com`, { vm: (round + i) % 4 }));
      if (round % 2 === 0) for (const s of open.splice(0, 3)) s.close();
      const r = await gw.updateConfig(
        JSON.stringify({ ...adminConfig, maxHosts: 32 + round, tickMs: 500 + round }),
      );
      expect(r.accepted).toBe(true);
      gw.advance(500);
    }
    expect(counts(gw).totalActive).toBe(open.length);
    for (const s of open) s.close();
    expect(counts(gw).totalActive).toBe(0);
    expect(gw.trapCount).toBe(0);
  });

  it("shutdown calls on_done/on_delete on every root without trapping", async () => {
    const gw = await gateway(adminConfig);
    connectPlayer(gw, HOST);
    gw.shutdown();
    expect(gw.trapCount).toBe(0);
  });
});
