import { describe, expect, it } from "vitest";
import { WasmResult } from "../../host/index.js";
import { SharedDataStore } from "../../host/shared-data.js";
import { find, probeGateway } from "./helpers.js";

const enc = (s: string) => new TextEncoder().encode(s);

describe("shared data store (cpp-host shared_data.cc semantics)", () => {
  it("hands out CAS values from one global counter starting at 1", () => {
    const st = new SharedDataStore();
    expect(st.set("vm", "a", enc("1"), 0)).toBe(WasmResult.Ok);
    expect(st.get("vm", "a")?.cas).toBe(1);
    expect(st.set("other-vm", "b", enc("1"), 0)).toBe(WasmResult.Ok);
    expect(st.get("other-vm", "b")?.cas).toBe(2);
    expect(st.get("vm", "b")).toBeUndefined();
  });

  it("set: cas 0 is unconditional, a stale cas is CasMismatch", () => {
    const st = new SharedDataStore();
    st.set("vm", "k", enc("1"), 0);
    const cas = st.get("vm", "k")?.cas ?? 0;
    expect(st.set("vm", "k", enc("2"), cas)).toBe(WasmResult.Ok);
    expect(st.set("vm", "k", enc("3"), cas)).toBe(WasmResult.CasMismatch);
    expect(st.set("vm", "k", enc("4"), 0)).toBe(WasmResult.Ok);
    expect(new TextDecoder().decode(st.get("vm", "k")?.value)).toBe("4");
  });

  it("set on a missing key ignores the cas and creates it", () => {
    const st = new SharedDataStore();
    expect(st.set("vm", "new", enc("x"), 12345)).toBe(WasmResult.Ok);
    expect(st.get("vm", "new")?.cas).toBe(1);
  });

  it("skips 0 when the counter wraps", () => {
    const st = new SharedDataStore();
    st.setNextCas(0xffffffff);
    st.set("vm", "a", enc("1"), 0);
    st.set("vm", "b", enc("1"), 0);
    expect([st.get("vm", "a")?.cas, st.get("vm", "b")?.cas]).toEqual([0xffffffff, 1]);
  });
});

describe("shared data through the plugin", () => {
  it("is one store for every VM of the gateway, with keys() and bytes()", async () => {
    const gw = await probeGateway({ workers: 2 });
    for (const w of [0, 1, 0])
      gw.worker(w).openStream().sendRequestHeaders({ "x-probe-op": "cas-inc:n" });
    expect(gw.sharedData.get("n")?.text).toBe("3");
    gw.worker(1).openStream().sendRequestHeaders({ "x-probe-op": "get:n" });
    expect(find(gw, "get n", 2)[0]).toMatch(/^get n rc=0 value=3 cas=\d+$/);
    expect(gw.sharedData.keys()).toEqual(["n"]);
    expect(gw.sharedData.bytes()).toBe(2);
  });

  it("a racing write between a VM's get and set causes CasMismatch; the retry makes the count exact", async () => {
    const gw = await probeGateway({ workers: 2 });
    gw.sharedData.set("n", "10");
    let injected = false;
    gw.sharedData.onAfterGet((e) => {
      if (e.vmIndex === 1 && e.key === "n" && !injected) {
        injected = true;
        expect(e.text).toBe("10");
        // worker 1 (VM 2) completes a whole increment while VM 1 sits between get and set
        gw.worker(1).openStream().sendRequestHeaders({ "x-probe-op": "cas-inc:n" });
      }
    });
    gw.worker(0).openStream().sendRequestHeaders({ "x-probe-op": "cas-inc:n" });
    expect(find(gw, "cas-inc", 2)).toEqual(["cas-inc key=n value=11 attempts=1"]);
    const mine = find(gw, "cas-inc", 1);
    expect(mine[0]).toMatch(/^cas-inc key=n set rc=8 cas=\d+$/);
    expect(mine[1]).toBe("cas-inc key=n value=12 attempts=2");
    expect(gw.sharedData.get("n")?.text).toBe("12");
  });

  it("loses an increment when two VMs both create the same fresh key", async () => {
    const gw = await probeGateway({ workers: 2 });
    let injected = false;
    gw.sharedData.onAfterGet((e) => {
      if (e.vmIndex === 1 && e.key === "fresh" && !injected) {
        injected = true;
        expect(e.value).toBeUndefined();
        gw.worker(1).openStream().sendRequestHeaders({ "x-probe-op": "cas-inc:fresh" });
      }
    });
    gw.worker(0).openStream().sendRequestHeaders({ "x-probe-op": "cas-inc:fresh" });
    // both "created" the key: no CasMismatch, and one increment is gone
    expect(find(gw, "cas-inc", 1)).toEqual(["cas-inc key=fresh value=1 attempts=1"]);
    expect(find(gw, "cas-inc", 2)).toEqual(["cas-inc key=fresh value=1 attempts=1"]);
    expect(gw.sharedData.get("fresh")?.text).toBe("1");
  });

  it("onBeforeSet can inject a write just before the plugin's set", async () => {
    const gw = await probeGateway({ workers: 1 });
    gw.sharedData.set("n", "0");
    let once = false;
    gw.sharedData.onBeforeSet((e) => {
      if (!once) {
        once = true;
        expect(e).toMatchObject({ vmIndex: 1, key: "n", text: "1" });
        gw.sharedData.set("n", "100");
      }
    });
    gw.worker(0).openStream().sendRequestHeaders({ "x-probe-op": "cas-inc:n" });
    expect(gw.sharedData.get("n")?.text).toBe("101");
  });

  it("re-entering the same VM from its own host call is a clear test error, not a trap", async () => {
    const gw = await probeGateway({ workers: 1 });
    gw.sharedData.onAfterGet(() => {
      gw.worker(0).openStream().sendRequestHeaders({ ":path": "/" });
    });
    expect(() => gw.worker(0).openStream().sendRequestHeaders({ "x-probe-op": "get:k" })).toThrow(
      /re-entering the worker 0 VM/,
    );
    expect(gw.worker(0).failed).toBe(false);
    expect(gw.trapCount).toBe(0);
  });

  it("errors thrown by a hook reach the test unchanged", async () => {
    const gw = await probeGateway({ workers: 1 });
    gw.sharedData.onAfterGet(() => {
      throw new Error("boom from hook");
    });
    expect(() => gw.worker(0).openStream().sendRequestHeaders({ "x-probe-op": "get:k" })).toThrow(
      "boom from hook",
    );
    expect(gw.trapCount).toBe(0);
  });
});
