import { describe, expect, it } from "vitest";
import { callbacks, find, messages, probeGateway } from "./helpers.js";

describe("config updates", () => {
  it("a canary rejection changes nothing anywhere", async () => {
    const gw = await probeGateway({ workers: 2, config: "tag=v1" });
    const before = [0, 1, 2].map((i) => messages(gw, i).length);
    const r = await gw.updateConfig("reject=1");
    expect(r.accepted).toBe(false);
    expect(r.reason).toMatch(/on_configure returned false/);
    expect([0, 1, 2].map((i) => messages(gw, i).length)).toEqual(before);
    expect([0, 1, 2].map((i) => gw.vm(i).rootContextId)).toEqual([1, 1, 1]);
    // the rejecting canary did run (a fresh instance each time)
    expect(find(gw, "cb:configure ctx=1 config=reject=1", -1)).toHaveLength(1);
    expect(find(gw, "probe:init", -1)).toHaveLength(2);
  });

  it("adds a new root per VM; the old root ends after its last stream", async () => {
    const gw = await probeGateway({ workers: 2, config: "tag=v1" });
    const s = gw.worker(0).openStream();
    s.sendRequestHeaders({ ":path": "/" });
    expect(s.root.id).toBe(1);

    const r = await gw.updateConfig("tag=v2");
    expect(r).toEqual({ accepted: true });
    // worker 0 had stream 2, so its new root is 3; the others get 2.
    expect([0, 1, 2].map((i) => gw.vm(i).rootContextId)).toEqual([2, 3, 2]);
    expect(callbacks(gw, 1, 3)).toEqual(["create", "vm_start", "configure"]);
    expect(find(gw, "cb:create ctx=3 parent=0", 1)).toHaveLength(1);
    expect(find(gw, "cb:configure ctx=3 config=tag=v2", 1)).toHaveLength(1);

    // VMs without streams retire their old root at once; worker 0 keeps root 1 alive.
    expect(callbacks(gw, 2, 1).slice(-2)).toEqual(["done", "delete"]);
    expect(callbacks(gw, 0, 1).slice(-2)).toEqual(["done", "delete"]);
    expect(callbacks(gw, 1, 1)).not.toContain("done");
    expect(gw.worker(0).liveRootContextIds).toEqual([1, 3]);

    // new streams bind to the new root
    const s2 = gw.worker(0).openStream();
    s2.sendRequestHeaders({ ":path": "/" });
    expect(find(gw, "cb:create ctx=4 parent=3", 1)).toHaveLength(1);

    s.close();
    const tail = messages(gw, 1)
      .filter((m) => m.startsWith("cb:"))
      .slice(-5);
    expect(tail).toEqual([
      "cb:log ctx=2",
      "cb:done ctx=2",
      "cb:delete ctx=2",
      "cb:done ctx=1",
      "cb:delete ctx=1",
    ]);
    expect(gw.worker(0).liveRootContextIds).toEqual([3]);
  });

  it("a worker whose on_configure refuses after the canary accepted is left without the plugin", async () => {
    const gw = await probeGateway({ workers: 2, config: "tag=v1" });
    // The canary and the base VM see no key; then it appears, so both workers refuse.
    const off = gw.sharedData.onAfterGet((e) => {
      if (e.vmIndex === 0 && e.key === "block") gw.sharedData.set("block", "1");
    });
    const r = await gw.updateConfig("tag=v2;reject-if-key=block");
    off();
    expect(r.accepted).toBe(true);
    expect([...(r.noPlugin ?? [])].sort()).toEqual([1, 2]);
    expect(gw.vm(0).rootContextId).toBe(2);
    expect(gw.worker(0).rootContextId).toBeUndefined();
    // the refused root stays (not current, no done/delete); the old root retired
    expect(callbacks(gw, 1, 2)).toEqual(["create", "vm_start", "configure"]);
    expect(callbacks(gw, 1, 1).slice(-2)).toEqual(["done", "delete"]);
    const s = gw.worker(0).openStream();
    s.sendRequestHeaders({ ":path": "/" });
    expect(s.filterSkipped).toBe(true);
  });

  it("a canary that traps on the new config rejects it; the workers are untouched", async () => {
    const gw = await probeGateway({ workers: 1 });
    const r = await gw.updateConfig("trap=configure");
    expect(r.accepted).toBe(false);
    expect(r.reason).toMatch(/canary trapped/);
    expect([gw.vm(0).failed, gw.vm(1).failed]).toEqual([false, false]);
    expect(gw.vm(1).rootContextId).toBe(1);
  });

  it("keeps shared data across config updates", async () => {
    const gw = await probeGateway({ workers: 1 });
    gw.sharedData.set("k", "v");
    await gw.updateConfig("tag=v2");
    expect(gw.sharedData.get("k")?.text).toBe("v");
  });
});
