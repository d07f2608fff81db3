import { describe, expect, it } from "vitest";
import { createGateway } from "../../host/index.js";
import { callbacks, find, messages, probe, probeGateway } from "./helpers.js";

describe("process model", () => {
  it("runs the start function N+2 times and vm_start/configure N+1 times plus the canary", async () => {
    const gw = await probeGateway({ workers: 3, config: "tag=a", vmConfig: "vmcfg" });
    // canary (-1), base (0), then workers 1..3 in the rollout's order
    const inits = gw
      .logs({ source: "plugin" })
      .filter((e) => e.message === "probe:init")
      .map((e) => e.vmIndex);
    expect(inits.slice(0, 2)).toEqual([-1, 0]);
    expect(inits.slice(2).sort()).toEqual([1, 2, 3]);
    for (const vm of [-1, 0, 1, 2, 3]) {
      expect(messages(gw, vm).filter((m) => m.startsWith("cb:"))).toEqual([
        "cb:create ctx=1 parent=0",
        "cb:vm_start ctx=1 vmconfig=vmcfg",
        "cb:configure ctx=1 config=tag=a",
      ]);
    }
    expect(gw.workerCount).toBe(3);
    expect(gw.worker(0).index).toBe(1);
    expect(gw.vm(0).rootContextId).toBe(1);
  });

  it("refuses a module without proxy_abi_version_0_2_1", async () => {
    // (module (memory (export "memory") 1) (func (export "_initialize")))
    const bytes = Uint8Array.from([
      0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 5, 3, 1, 0, 1, 7, 24, 2, 6, 109,
      101, 109, 111, 114, 121, 2, 0, 11, 95, 105, 110, 105, 116, 105, 97, 108, 105, 122, 101, 0, 0,
      10, 4, 1, 2, 0, 11,
    ]);
    await expect(createGateway({ wasm: bytes })).rejects.toThrow(/proxy_abi_version_0_2_1/);
  });

  it("fails to start when the canary rejects the configuration", async () => {
    await expect(probeGateway({ config: "reject=1" })).rejects.toThrow(
      /on_configure returned false/,
    );
  });

  it("gives every VM its own memory and context ids", async () => {
    const gw = await probeGateway({ workers: 2 });
    const a = gw.worker(0).openStream();
    const b = gw.worker(1).openStream();
    a.sendRequestHeaders({ ":path": "/a" });
    b.sendRequestHeaders({ ":path": "/b" });
    const c = gw.worker(0).openStream();
    c.sendRequestHeaders({ ":path": "/c" });
    expect([a.id, b.id, c.id]).toEqual([2, 2, 3]);
    expect(callbacks(gw, 1, 2)).toEqual(["create", "request_headers"]);
    expect(find(gw, "cb:create ctx=2 parent=1", 2)).toHaveLength(1);
  });

  it("keeps the request side open after the response started (WebSocket upgrades are duplex)", async () => {
    const gw = await probeGateway();
    const s = gw.worker(0).openStream();
    s.sendRequestHeaders({ ":path": "/ws", upgrade: "websocket", connection: "upgrade" });
    s.connectUpstream({ address: "10.0.0.1:7777" });
    s.sendResponseHeaders({ ":status": "101" });
    s.sendRequestBody("ping", false);
    s.sendResponseBody("pong", false);
    s.sendRequestBody("bye", true);
    s.close();
    expect(callbacks(gw, 1, s.id)).toEqual([
      "create",
      "request_headers",
      "response_headers",
      "request_body",
      "response_body",
      "request_body",
      "log",
      "done",
      "delete",
    ]);
  });

  it("orders stream callbacks like Envoy >= 1.16: on_log, on_done, on_delete", async () => {
    const gw = await probeGateway();
    const s = gw.worker(0).openStream();
    expect(s.sendRequestHeaders({ ":path": "/" })).toBe(0);
    s.sendRequestBody("hello", true);
    s.connectUpstream({ address: "10.0.0.1:7777", cluster: "game" });
    s.sendResponseHeaders({ ":status": "200" });
    s.sendResponseBody("world", true);
    s.close();
    expect(callbacks(gw, 1, s.id)).toEqual([
      "create",
      "request_headers",
      "request_body",
      "response_headers",
      "response_body",
      "log",
      "done",
      "delete",
    ]);
    expect(find(gw, "cb:request_body", 1)[0]).toContain("body=hello");
  });

  it("rejects out-of-order stream calls with a clear error", async () => {
    const gw = await probeGateway();
    const s = gw.worker(0).openStream();
    expect(() => s.sendResponseHeaders({ ":status": "200" })).toThrow(/send request headers first/);
    s.sendRequestHeaders({ ":path": "/" }, { endOfStream: true });
    expect(() => s.sendRequestBody("x")).toThrow(/request is not open/);
    s.close();
    expect(() => s.close()).toThrow(/already closed/);
    expect(() => s.sendResponseHeaders({ ":status": "200" })).toThrow(/closed by the test/);
    expect(callbacks(gw, 1, s.id).filter((c) => c === "delete")).toHaveLength(1);
  });

  it("calls on_done then on_delete for every root at shutdown", async () => {
    const gw = await probeGateway({ workers: 1 });
    gw.shutdown();
    for (const vm of [0, 1]) expect(callbacks(gw, vm, 1).slice(-2)).toEqual(["done", "delete"]);
    expect(() => gw.worker(0).openStream()).toThrow(/shut down/);
  });

  it("waits for proxy_done when a root's on_done returns false", async () => {
    const gw = await probeGateway({ workers: 1, config: "defer-done=1;tick=100" });
    gw.shutdown();
    expect(callbacks(gw, 1, 1).slice(-1)).toEqual(["done"]);
    // the root stays alive (cpp-host pending_done_) and keeps ticking; the probe's next tick
    // calls proxy_done, and on_delete follows once that tick has returned.
    gw.advance(100);
    expect(find(gw, "proxy_done rc=0", 1)).toHaveLength(1);
    expect(callbacks(gw, 1, 1).slice(-2)).toEqual(["tick", "delete"]);
    gw.advance(1000);
    expect(callbacks(gw, 1, 1).slice(-1)).toEqual(["delete"]);
  });

  it("loads the same compiled module many times", async () => {
    const m = await probe();
    const gws = await Promise.all([1, 2, 3].map(() => createGateway({ wasm: m, workers: 1 })));
    expect(gws.map((g) => g.vm(1).rootContextId)).toEqual([1, 1, 1]);
  });
});
