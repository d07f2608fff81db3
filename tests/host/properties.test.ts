import { describe, expect, it } from "vitest";
import { encodePropertyValue } from "../../host/index.js";
import { find, hexOf, probeGateway } from "./helpers.js";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe("properties", () => {
  it("uses NUL-separated paths; upstream.* appears only after an upstream was chosen", async () => {
    const gw = await probeGateway();
    const s = gw.worker(0).openStream();
    s.sendRequestHeaders({ "x-probe-op": "prop:upstream.address" });
    expect(find(gw, "prop upstream.address", 1)).toEqual(["prop upstream.address rc=1"]);
    s.connectUpstream({ address: "10.0.0.7:7777", cluster: "game" });
    s.sendResponseHeaders({
      ":status": "200",
      "x-probe-op":
        "prop:upstream.address,propdot:upstream.address,prop:upstream.port,prop:cluster_name",
    });
    const m = find(gw, "prop ", 1);
    expect(text(hexOf(m[1]))).toBe("10.0.0.7:7777");
    // the same path as one dotted string is not a path Envoy knows
    expect(m[2]).toBe("prop upstream.address rc=1");
    const port = hexOf(m[3]);
    expect(port.length).toBe(8);
    expect(new DataView(port.buffer).getBigInt64(0, true)).toBe(7777n);
    expect(text(hexOf(m[4]))).toBe("game");
  });

  it("serves gateway defaults and per-stream properties in every input form", async () => {
    const gw = await probeGateway({
      rootId: "conn-drain",
      vmId: "vm-a",
      properties: { "listener.name": "l1" },
    });
    const s = gw.worker(0).openStream({
      properties: {
        "source.address": "1.2.3.4:5",
        "request.path": "/x",
        route_name: "r1",
        "x.count": 42n,
      },
    });
    s.sendRequestHeaders({
      "x-probe-op":
        "prop:node.id,prop:plugin_root_id,prop:plugin_vm_id,prop:source.address,prop:request.path,prop:route_name,prop:x.count,prop:listener.name",
    });
    const v = find(gw, "prop ", 1).map((m) => hexOf(m));
    expect(v.slice(0, 7).map(text).slice(0, 6)).toEqual([
      "gateway-0",
      "conn-drain",
      "vm-a",
      "1.2.3.4:5",
      "/x",
      "r1",
    ]);
    expect(v[6]).toEqual(encodePropertyValue(42));
    expect(text(v[7] as Uint8Array)).toBe("l1");

    // array paths are taken segment by segment
    const s2 = gw.worker(0).openStream({ properties: [[["a", "b"], new Uint8Array([1, 2])]] });
    gw.clearLogs();
    s2.sendRequestHeaders({ "x-probe-op": "prop:a.b,prop:a" });
    expect(find(gw, "prop a", 1)).toEqual(["prop a.b rc=0 hex=0102", "prop a rc=1"]);
  });

  it("encodes strings as UTF-8, numbers as 8-byte LE int64, bytes raw", () => {
    expect(encodePropertyValue("é")).toEqual(new Uint8Array([0xc3, 0xa9]));
    expect(encodePropertyValue(-1)).toEqual(new Uint8Array(8).fill(255));
    expect(encodePropertyValue(258n)).toEqual(new Uint8Array([2, 1, 0, 0, 0, 0, 0, 0]));
    expect(encodePropertyValue(new Uint8Array([9]))).toEqual(new Uint8Array([9]));
  });

  it("root contexts see gateway properties only", async () => {
    const gw = await probeGateway({ workers: 1, config: "ops=prop:node.id+prop:source.address" });
    expect(find(gw, "prop ", 1).map((m) => m.replace(/ hex=.*/, ""))).toEqual([
      "prop node.id rc=0",
      "prop source.address rc=1",
    ]);
  });
});
