import { describe, expect, it } from "vitest";
import type { Gateway } from "../../host/index.js";
import { callbacks, find, messages, probeGateway, still } from "./helpers.js";

// Start-up without gaps (`still`), so each test decides the interleaving of the update it studies.

/** "vm:callback" for every configure and tick the probe logged, in log order. */
function configureAndTicks(gw: Gateway): string[] {
  return gw
    .logs({ source: "plugin" })
    .filter((e) => e.vmIndex >= 0 && /^cb:(configure|tick)/.test(e.message))
    .map((e) => `${e.vmIndex}:${e.message.startsWith("cb:tick") ? "tick" : "configure"}`);
}

describe("config rollout, worker by worker", () => {
  it("beginConfigUpdate runs the canary; then each VM applies it only when its turn comes", async () => {
    const gw = await probeGateway({ workers: 2, config: "tag=v1", ...still });
    const r = await gw.beginConfigUpdate("tag=v2");
    expect(r).toMatchObject({ accepted: true, canaryRan: true, finished: false });
    expect(find(gw, "cb:configure ctx=1 config=tag=v2", -1)).toHaveLength(1);
    // the base VM (Envoy's main thread applies it inline) first, then both workers
    expect(r.pending[0]).toBe(0);
    expect([...r.pending].sort()).toEqual([0, 1, 2]);
    // nothing applied yet: every VM still serves v1 on root 1
    expect([0, 1, 2].map((i) => gw.vm(i).rootContextId)).toEqual([1, 1, 1]);

    expect(r.applyNext()).toMatchObject({ vmIndex: 0, outcome: "configured", rootContextId: 2 });
    const [next, last] = r.pending as [number, number];
    // a stream on a worker that has not applied it yet binds to the old root
    const s = gw.vm(next).openStream();
    s.sendRequestHeaders({ ":path": "/" });
    expect(s.root.id).toBe(1);
    expect(find(gw, "cb:configure", next)).toEqual(["cb:configure ctx=1 config=tag=v1"]);

    expect(r.applyNext()).toMatchObject({ vmIndex: next, outcome: "configured", rootContextId: 3 });
    expect(r.pending).toEqual([last]);
    expect(r.applyAll()).toEqual({ accepted: true });
    expect(r.finished).toBe(true);
    expect(r.applyNext()).toBeUndefined();
    expect(r.steps.map((st) => st.vmIndex)).toEqual([0, next, last]);
    expect(gw.vm(last).rootContextId).toBe(2);
    // the old root on `next` lives on while its stream does
    expect(gw.vm(next).liveRootContextIds).toEqual([1, 3]);
    s.close();
    expect(callbacks(gw, next, 1).slice(-2)).toEqual(["done", "delete"]);
  });

  it("updateConfig: gaps of virtual time between VMs fire due ticks; `between` runs before each later VM", async () => {
    const gw = await probeGateway({ workers: 3, config: "tag=v1", ...still });
    gw.clearLogs();
    const t0 = gw.now();
    const seen: Array<{ next: number; root: number | undefined }> = [];
    const result = await gw.updateConfig("tag=v2;tick=10", {
      gapMs: [10, 10],
      between: (next) => {
        const s = gw.vm(next).openStream();
        s.sendRequestHeaders({ ":path": "/" });
        seen.push({ next, root: s.root.id });
        s.close();
      },
    });
    expect(result).toEqual({ accepted: true });
    expect(gw.now() - t0).toBe(30);
    // `between` ran for each VM after the first, while that VM still had its v1 root
    expect(seen.map((x) => x.root)).toEqual([1, 1, 1]);
    const order = [0, ...seen.map((x) => x.next)];
    expect([...order].sort()).toEqual([0, 1, 2, 3]);
    // every VM that has applied v2 ticks during the gaps after it; the others do not yet
    expect(configureAndTicks(gw)).toEqual([
      `${order[0]}:configure`,
      `${order[0]}:tick`,
      `${order[1]}:configure`,
      `${order[0]}:tick`,
      `${order[1]}:tick`,
      `${order[2]}:configure`,
      `${order[0]}:tick`,
      `${order[1]}:tick`,
      `${order[2]}:tick`,
      `${order[3]}:configure`,
    ]);
  });

  it("the interleaving is a function of the seed: same seed, same order and gaps", async () => {
    const run = async (seed: number) => {
      const gw = await probeGateway({ workers: 4, config: "tag=v1", rolloutSeed: seed });
      const t0 = gw.now();
      const r = await gw.beginConfigUpdate("tag=v2");
      const order = r.pending;
      r.applyAll();
      await gw.updateConfig("tag=v3", { gapMs: [0, 50] });
      return { order, startup: t0, spent: gw.now() - t0 };
    };
    const a = await run(11);
    expect(await run(11)).toEqual(a);
    // start-up itself waited between VMs (default gap 0..5 ms each)
    expect(a.startup - 1_700_000_000_000).toBeLessThanOrEqual(4 * 5);
    // over a handful of seeds the workers come in more than one order
    const orders = new Set<string>();
    for (let seed = 1; seed <= 8; seed++) orders.add(JSON.stringify((await run(seed)).order));
    expect(orders.size).toBeGreaterThan(1);
    for (const o of orders) expect(JSON.parse(o)[0]).toBe(0);
  });

  it("takes an explicit order, refuses a bad one, and one rollout at a time", async () => {
    const gw = await probeGateway({ workers: 2, config: "tag=v1", ...still });
    await expect(gw.beginConfigUpdate("tag=v2", { order: [0, 1] })).rejects.toThrow(
      /every VM index 0..2 once/,
    );
    const r = await gw.beginConfigUpdate("tag=v2", { order: [2, 0, 1] });
    expect(r.pending).toEqual([2, 0, 1]);
    expect(gw.pendingRollout).toBe(r);
    await expect(gw.updateConfig("tag=v3")).rejects.toThrow(/still under way/);
    r.applyAll();
    expect(gw.pendingRollout).toBeUndefined();
    expect((await gw.updateConfig("tag=v3")).accepted).toBe(true);
  });

  it("a refused gapMs leaves no rollout pending: nothing ran, and a later update goes through", async () => {
    const gw = await probeGateway({ workers: 2, config: "tag=v1", ...still });
    await expect(gw.updateConfig("tag=v2", { gapMs: [5, 1] })).rejects.toThrow(/rollout gap/);
    expect(gw.pendingRollout).toBeUndefined();
    // refused before the canary: no VM saw the configuration
    expect(find(gw, "cb:configure ctx=1 config=tag=v2", -1)).toHaveLength(0);
    expect([0, 1, 2].map((i) => gw.vm(i).rootContextId)).toEqual([1, 1, 1]);
    expect(await gw.updateConfig("tag=v2")).toEqual({ accepted: true });
    expect(gw.pendingRollout).toBeUndefined();
    expect([0, 1, 2].map((i) => gw.vm(i).rootContextId)).toEqual([2, 2, 2]);
  });
});

describe("a VM that refuses what the canary accepted (cpp-host getOrCreateThreadLocalPlugin)", () => {
  it("has no plugin: its new streams bypass the filter even fail-closed; the rest carry on", async () => {
    const gw = await probeGateway({ workers: 2, config: "tag=v1", failStrategy: "fail-closed" });
    const before = gw.worker(0).openStream();
    before.sendRequestHeaders({ ":path": "/old" });
    const r = await gw.beginConfigUpdate("tag=v2;tick=50;reject-late-if-key=block");
    expect(r.applyNext()).toMatchObject({ vmIndex: 0, outcome: "configured" });
    gw.sharedData.set("block", "1"); // now every worker's on_configure says no
    expect(r.applyAll()).toEqual({
      accepted: true,
      noPlugin: [...r.steps.slice(1)].map((s) => s.vmIndex),
    });
    expect(r.steps.slice(1).map((s) => s.outcome)).toEqual(["rejected", "rejected"]);
    expect(new Set(r.steps.slice(1).map((s) => s.vmIndex))).toEqual(new Set([1, 2]));

    const w = gw.worker(0);
    expect(w.pluginMissing).toMatch(/on_configure returned false/);
    expect(w.failed).toBe(false);
    expect(w.rootContextId).toBeUndefined();
    expect(gw.logs({ vm: 1, source: "host", minLevel: "error" })[0]?.message).toMatch(
      /bypass the plugin/,
    );

    // a new stream on that worker never reaches the plugin: no 503, no callbacks
    const s = w.openStream();
    expect(s.sendRequestHeaders({ ":path": "/new" })).toBe(0);
    expect(s.filterSkipped).toBe(true);
    expect(s.localResponse).toBeUndefined();
    expect(s.sendResponseHeaders({ ":status": "200" })).toBe(0);
    s.close();
    expect(find(gw, "cb:request_headers", 1)).toEqual(["cb:request_headers ctx=2 n=1 eos=0"]);

    // the stream that began on the old root is still served by it, which then retires
    before.sendResponseHeaders({ ":status": "200" });
    before.close();
    expect(callbacks(gw, 1, 2)).toEqual([
      "create",
      "request_headers",
      "response_headers",
      "log",
      "done",
      "delete",
    ]);
    expect(callbacks(gw, 1, 1).slice(-2)).toEqual(["done", "delete"]);

    // the refused root stays in the VM (cpp-host leaves it in root_contexts_): it set its tick
    // before refusing, so it keeps ticking, and it is shut down with the VM
    expect(callbacks(gw, 1, 3)).toEqual(["create", "vm_start", "configure"]);
    gw.clearLogs();
    gw.advance(50);
    expect(find(gw, "cb:tick ctx=3", 1)).toHaveLength(1);
    gw.shutdown();
    expect(callbacks(gw, 1, 3).slice(-2)).toEqual(["done", "delete"]);
  });

  it("fails the base VM: Envoy refuses every later configuration of it", async () => {
    const gw = await probeGateway({ workers: 1, config: "tag=v1", ...still });
    const r = await gw.beginConfigUpdate("tag=v2;reject-if-key=block");
    r.applyNext();
    gw.sharedData.set("block", "1");
    expect(r.applyAll()).toEqual({ accepted: true, noPlugin: [1] });
    const later = await gw.updateConfig("tag=v3");
    expect(later.accepted).toBe(false);
    expect(later.reason).toMatch(/base Wasm VM has failed \(ConfigureFailed/);
    // the canary still ran (createWasm canaries before Envoy checks the base VM)
    expect(find(gw, "cb:configure ctx=1 config=tag=v3", -1)).toHaveLength(1);
    expect(gw.vm(0).rootContextId).toBe(2);
  });

  it("a trap while configuring fails that VM and still leaves it without a plugin (no 503)", async () => {
    const gw = await probeGateway({ workers: 2, config: "tag=v1", ...still });
    const before = gw.worker(1).openStream();
    before.sendRequestHeaders({ ":path": "/old" });
    const r = await gw.beginConfigUpdate("tag=v2;trap-if-key=boom", { order: [0, 1, 2] });
    r.applyNext();
    r.applyNext();
    gw.sharedData.set("boom", "1");
    expect(r.applyNext()).toMatchObject({ vmIndex: 2, outcome: "trapped" });
    expect(gw.trapCount).toBe(1);
    expect(gw.worker(1).failed).toBe(true);
    expect(gw.worker(1).pluginMissing).toMatch(/trapped/);
    const s = gw.worker(1).openStream();
    expect(s.sendRequestHeaders({ ":path": "/" })).toBe(0);
    expect(s.localResponse).toBeUndefined();
    // the stream on the old root runs on the failed VM: fail-closed answers it with a 503
    before.sendResponseHeaders({ ":status": "200" });
    expect(before.localResponse).toMatchObject({ status: 503, details: "wasm_fail_stream" });
    expect(r.result()).toEqual({ accepted: true, noPlugin: [2] });
  });

  it("a VM that failed at runtime gets a fresh clone for the next configuration", async () => {
    const gw = await probeGateway({ workers: 2, config: "tag=v1", ...still });
    const stuck = gw.worker(0).openStream();
    stuck.sendRequestHeaders({ ":path": "/" });
    gw.worker(0).crash("simulated trap");
    const r = await gw.beginConfigUpdate("tag=v2");
    r.applyAll();
    const steps = r.steps;
    expect(steps.find((s) => s.vmIndex === 1)).toMatchObject({
      outcome: "configured",
      freshVm: true,
      rootContextId: 1,
    });
    expect(steps.filter((s) => s.freshVm).map((s) => s.vmIndex)).toEqual([1]);
    expect(gw.worker(0).failed).toBe(false);
    // a new instance: its start function ran again, its context ids start over
    expect(find(gw, "probe:init", 1)).toHaveLength(2);
    const s = gw.worker(0).openStream();
    s.sendRequestHeaders({ ":path": "/" });
    expect(s.id).toBe(2);
    expect(s.localResponse).toBeUndefined();
    // the stream of the dead instance stays dead
    stuck.sendResponseHeaders({ ":status": "200" });
    expect(stuck.localResponse?.status).toBe(503);
  });
});

describe("canary (cpp-host createWasm / WasmHandleBase::canary)", () => {
  it("is thrown away without on_done or on_delete, whether it accepted or refused", async () => {
    const gw = await probeGateway({ workers: 1, config: "tag=v1", ...still });
    await gw.updateConfig("tag=v2");
    await gw.updateConfig("reject=1");
    expect(messages(gw, -1).filter((m) => m.startsWith("cb:"))).toEqual([
      ...[
        "cb:create ctx=1 parent=0",
        "cb:vm_start ctx=1 vmconfig=",
        "cb:configure ctx=1 config=tag=v1",
      ],
      ...[
        "cb:create ctx=1 parent=0",
        "cb:vm_start ctx=1 vmconfig=",
        "cb:configure ctx=1 config=tag=v2",
      ],
      ...[
        "cb:create ctx=1 parent=0",
        "cb:vm_start ctx=1 vmconfig=",
        "cb:configure ctx=1 config=reject=1",
      ],
    ]);
  });

  it("remembers its verdict per configuration and does not run again for the same bytes", async () => {
    const gw = await probeGateway({ workers: 1, config: "tag=v1", ...still });
    const canaries = () => find(gw, "probe:init", -1).length;
    expect(canaries()).toBe(1);

    const no1 = await gw.updateConfig("reject=1");
    const no2 = await gw.beginConfigUpdate("reject=1");
    expect(no1).toEqual({ accepted: false, reason: "canary on_configure returned false" });
    expect([no2.accepted, no2.reason, no2.canaryRan]).toEqual([false, no1.reason, false]);
    expect(canaries()).toBe(2);

    const yes = await gw.beginConfigUpdate("tag=v2");
    expect(yes.canaryRan).toBe(true);
    yes.applyAll();
    const again = await gw.beginConfigUpdate("tag=v2");
    expect(again.canaryRan).toBe(false);
    again.applyAll();
    expect(canaries()).toBe(3);
    // a trap in on_configure is a configure verdict too: cached
    await gw.updateConfig("trap=configure");
    expect((await gw.updateConfig("trap=configure")).reason).toMatch(/canary trapped/);
    expect(canaries()).toBe(4);
  });

  it("the same configuration pushed again keeps every VM's plugin (no new root, no on_configure)", async () => {
    const gw = await probeGateway({ workers: 2, config: "tag=v1", ...still });
    const before = messages(gw).length;
    const r = await gw.beginConfigUpdate("tag=v1");
    expect(r.canaryRan).toBe(false);
    r.applyAll();
    expect(r.steps.map((s) => s.outcome)).toEqual(["reused", "reused", "reused"]);
    expect(messages(gw).length).toBe(before);
    expect([0, 1, 2].map((i) => gw.vm(i).liveRootContextIds)).toEqual([[1], [1], [1]]);
  });

  it("A, B, A: a VM whose A root is still kept by a stream gets that root back", async () => {
    const gw = await probeGateway({ workers: 1, config: "tag=A", ...still });
    const s = gw.worker(0).openStream();
    s.sendRequestHeaders({ ":path": "/" });
    await gw.updateConfig("tag=B");
    expect(gw.worker(0).liveRootContextIds).toEqual([1, 3]);
    const r = await gw.beginConfigUpdate("tag=A", { order: [0, 1] });
    expect(r.canaryRan).toBe(false);
    r.applyAll();
    // the base VM had retired A already: a new root; worker 0 still had A's root 1
    expect(r.steps).toMatchObject([
      { vmIndex: 0, outcome: "configured", rootContextId: 3 },
      { vmIndex: 1, outcome: "reused", rootContextId: 1 },
    ]);
    expect(find(gw, "cb:configure", 1)).toEqual([
      "cb:configure ctx=1 config=tag=A",
      "cb:configure ctx=3 config=tag=B",
    ]);
    // B's root retired with nothing on it; A's root is current again and outlives its stream
    expect(callbacks(gw, 1, 3).slice(-2)).toEqual(["done", "delete"]);
    s.close();
    expect(gw.worker(0).liveRootContextIds).toEqual([1]);
    const s2 = gw.worker(0).openStream();
    s2.sendRequestHeaders({ ":path": "/" });
    expect(s2.root.id).toBe(1);
  });
});
