import { describe, expect, it } from "vitest";
import { find, probeGateway } from "./helpers.js";

describe("metrics", () => {
  it("are process-wide by name across VMs", async () => {
    const gw = await probeGateway({ workers: 2 });
    gw.worker(0).openStream().sendRequestHeaders({ "x-probe-op": "counter:requests:1" });
    gw.worker(1).openStream().sendRequestHeaders({ "x-probe-op": "counter:requests:2" });
    expect(gw.metrics().get("requests")).toEqual({ type: "counter", value: 3n });
    expect(find(gw, "metric requests", 2)[0]).toMatch(/rc=0 get=0 value=3$/);
    expect(gw.stats().get("wasmcustom.requests")?.value).toBe(3n);
  });

  it("gauges go up and down; counters refuse negative increments; histograms record", async () => {
    const gw = await probeGateway({ workers: 2 });
    gw.worker(0).openStream().sendRequestHeaders({ "x-probe-op": "gauge:active:1,gauge:active:1" });
    gw.worker(1)
      .openStream()
      .sendRequestHeaders({ "x-probe-op": "gauge:active:-2,gauge:active:-1" });
    expect(gw.metrics().get("active")).toEqual({ type: "gauge", value: -1n });
    gw.worker(0)
      .openStream()
      .sendRequestHeaders({ "x-probe-op": "counter:c:-1,histogram:lat:5,histogram:lat:7" });
    expect(find(gw, "metric c", 1)[0]).toMatch(/rc=2/);
    expect(gw.metrics().get("lat")).toEqual({ type: "histogram", value: 12n, samples: [5n, 7n] });
    // get on a histogram is BadArgument in Envoy
    expect(find(gw, "metric lat", 1)[0]).toMatch(/rc=0 get=2/);
  });
});
