import { describe, expect, it } from "vitest";
import { callbacks, find, probeGateway } from "./helpers.js";

describe("traps", () => {
  it("fail-closed: the trapping VM answers 503 wasm_fail_stream, other VMs keep working", async () => {
    const gw = await probeGateway({ workers: 2, config: "tick=1000", clusters: ["auth"] });
    const earlier = gw.worker(0).openStream();
    earlier.sendRequestHeaders({ "x-probe-op": "http-call" });
    expect(gw.worker(0).httpCalls()).toHaveLength(1);

    const s = gw.worker(0).openStream();
    expect(s.sendRequestHeaders({ "x-probe-op": "trap" })).toBe(1);
    expect(s.localResponse).toMatchObject({ status: 503, details: "wasm_fail_stream" });
    expect(gw.worker(0).failed).toBe(true);
    expect(gw.trapCount).toBe(1);
    const crit = gw.logs({ vm: 1, minLevel: "critical", source: "host" });
    expect(crit[0]?.message).toMatch(/proxy_on_request_headers.*trapped: .*unreachable/);
    // no stream callbacks after the trap, ever
    expect(callbacks(gw, 1, s.id)).toEqual(["create", "request_headers"]);
    expect(gw.worker(0).httpCalls()).toEqual([]);

    // a stream that started before the trap gets the 503 at its next event
    earlier.sendResponseHeaders({ ":status": "200" }).valueOf();
    expect(earlier.localResponse?.details).toBe("wasm_fail_stream");
    earlier.close();
    expect(callbacks(gw, 1, earlier.id)).toEqual(["create", "request_headers"]);

    const later = gw.worker(0).openStream();
    expect(later.sendRequestHeaders({ ":path": "/" })).toBe(1);
    expect(later.localResponse).toMatchObject({ status: 503, details: "wasm_fail_stream" });
    later.close();
    expect(find(gw, "cb:create ctx=4", 1)).toEqual([]);

    // ticks stop on the failed VM only
    gw.clearLogs();
    gw.advance(1000);
    expect(find(gw, "cb:tick").length).toBe(2);
    expect(find(gw, "cb:tick", 1)).toEqual([]);

    const ok = gw.worker(1).openStream();
    expect(ok.sendRequestHeaders({ ":path": "/" })).toBe(0);
    ok.close();
    expect(callbacks(gw, 2, ok.id)).toEqual(["create", "request_headers", "log", "done", "delete"]);
    expect(gw.localResponses().map((r) => r.vmIndex)).toEqual([1, 1, 1]);
  });

  it("crash() fails a VM as a trap would: 503s, no callbacks, no ticks; other VMs unaffected", async () => {
    const gw = await probeGateway({ workers: 2, config: "tick=1000" });
    const open = gw.worker(1).openStream();
    open.sendRequestHeaders({ ":path": "/" });
    gw.worker(1).crash("test crash");
    expect(gw.worker(1).failed).toBe(true);
    expect(gw.worker(1).failure).toBe("test crash");
    open.close();
    expect(callbacks(gw, 2, open.id)).toEqual(["create", "request_headers"]);
    const later = gw.worker(1).openStream();
    later.sendRequestHeaders({ ":path": "/" });
    expect(later.localResponse).toMatchObject({ status: 503, details: "wasm_fail_stream" });
    gw.clearLogs();
    gw.advance(1000);
    expect(find(gw, "cb:tick", 2)).toEqual([]);
    expect(find(gw, "cb:tick", 1)).toHaveLength(1);
  });

  it("fail-open: the filter is skipped on the failed VM", async () => {
    const gw = await probeGateway({ workers: 1, failStrategy: "fail-open" });
    const s = gw.worker(0).openStream();
    expect(s.sendRequestHeaders({ "x-probe-op": "trap" })).toBe(0);
    expect(s.localResponse).toBeUndefined();
    expect(s.filterSkipped).toBe(true);
    expect(s.sendResponseHeaders({ ":status": "200" })).toBe(0);
    s.close();
    const later = gw.worker(0).openStream();
    expect(later.sendRequestHeaders({ ":path": "/" })).toBe(0);
    later.close();
    expect(later.localResponse).toBeUndefined();
    expect(find(gw, "cb:", 1).filter((m) => !m.includes("ctx=1"))).toEqual([
      "cb:create ctx=2 parent=1",
      "cb:request_headers ctx=2 n=1 eos=0",
    ]);
  });

  it("an AssemblyScript abort (throw) traps the VM with its message logged", async () => {
    const gw = await probeGateway({ workers: 1 });
    gw.worker(0).openStream().sendRequestHeaders({ "x-probe-op": "abort" });
    expect(gw.worker(0).failed).toBe(true);
    expect(gw.logs({ vm: 1, minLevel: "critical" }).map((e) => e.message)[0]).toBe(
      "abort: probe abort",
    );
  });

  it("a trap in the canary's on_configure stops the gateway from starting", async () => {
    await expect(probeGateway({ config: "trap=configure" })).rejects.toThrow(/canary trapped/);
  });

  it("a trap in a root callback (on_http_call_response) fails that VM too", async () => {
    const gw = await probeGateway({ workers: 2, clusters: ["auth"], config: "tick=100" });
    gw.worker(1).openStream().sendRequestHeaders({ "x-probe-op": "http-call" });
    gw.respondHttpCall(gw.httpCalls()[0] as never, { status: 200, body: "trap" });
    expect(gw.worker(1).failed).toBe(true);
    expect(gw.trapCount).toBe(1);
    expect(gw.worker(1).failure).toMatch(/proxy_on_http_call_response/);
    const s = gw.worker(1).openStream();
    s.sendRequestHeaders({ ":path": "/" });
    expect(s.localResponse?.status).toBe(503);
    gw.clearLogs();
    gw.advance(100);
    expect(find(gw, "cb:tick").map((m) => m)).toHaveLength(2);
    expect(gw.worker(0).failed).toBe(false);
  });
});

describe("host call counting", () => {
  it("counts imports per VM and overall, and resets", async () => {
    const gw = await probeGateway({ workers: 2 });
    gw.resetHostCallCounts();
    gw.worker(0).openStream().sendRequestHeaders({ "x-probe-op": "get:k" });
    expect(gw.hostCallCounts(1).get("proxy_get_shared_data")).toBe(1);
    expect(gw.hostCallCounts(2).get("proxy_get_shared_data")).toBeUndefined();
    gw.worker(1).openStream().sendRequestHeaders({ "x-probe-op": "get:k" });
    expect(gw.hostCallCounts().get("proxy_get_shared_data")).toBe(2);
    expect(gw.hostCallCounts().get("proxy_log")).toBeGreaterThan(0);
    gw.resetHostCallCounts();
    expect(gw.hostCallCounts().size).toBe(0);
  });
});
