import { describe, expect, it } from "vitest";
import { find, probeGateway, still } from "./helpers.js";

describe("logs", () => {
  it("keep proxy_log levels and filter by VM and minimum level", async () => {
    const gw = await probeGateway({ workers: 2 });
    gw.worker(1)
      .openStream()
      .sendRequestHeaders({ "x-probe-op": "log:0:t-msg,log:3:w-msg,log:5:c-msg" });
    const mine = gw.logs({ vm: 2, source: "plugin" }).filter((e) => e.message.endsWith("-msg"));
    expect(mine.map((e) => [e.level, e.message, e.vmIndex])).toEqual([
      ["trace", "t-msg", 2],
      ["warn", "w-msg", 2],
      ["critical", "c-msg", 2],
    ]);
    expect(gw.logs({ minLevel: "warn", source: "plugin" }).map((e) => e.message)).toEqual([
      "w-msg",
      "c-msg",
    ]);
    expect(gw.logs({ vm: 1, minLevel: "warn" })).toEqual([]);
  });

  it("maps WASI stdout to info and stderr to error, dropping one trailing newline", async () => {
    const gw = await probeGateway({ workers: 1 });
    gw.worker(0).openStream().sendRequestHeaders({ "x-probe-op": "stdout:hello,stderr:oops" });
    const e = gw.logs({ vm: 1 }).filter((l) => l.message === "hello" || l.message === "oops");
    expect(e.map((l) => l.level)).toEqual(["info", "error"]);
  });

  it("answers proxy_get_log_level with the configured level", async () => {
    const gw = await probeGateway({ workers: 1, logLevel: "warn" });
    gw.worker(0).openStream().sendRequestHeaders({ "x-probe-op": "loglevel" });
    gw.setLogLevel("trace");
    gw.worker(0).openStream().sendRequestHeaders({ "x-probe-op": "loglevel" });
    expect(find(gw, "loglevel", 1)).toEqual(["loglevel rc=0 level=3", "loglevel rc=0 level=0"]);
  });

  it("stubs unknown proxy_* imports with Unimplemented and logs the call", async () => {
    const gw = await probeGateway({ workers: 1 });
    gw.worker(0).openStream().sendRequestHeaders({ "x-probe-op": "unknown,foreign" });
    expect(find(gw, "unknown rc=", 1)).toEqual(["unknown rc=12"]);
    expect(find(gw, "foreign rc=", 1)).toEqual(["foreign rc=12"]);
    expect(gw.logs({ vm: 1, source: "host" }).map((e) => e.message)).toContain(
      "unimplemented host call env.proxy_unknown_call",
    );
  });
});

describe("clock and randomness", () => {
  it("reports virtual time in ns and deterministic random bytes with a seed", async () => {
    // No gap between the VMs' turns at start-up (`still`), so the clock starts exactly at startTimeMs.
    const a = await probeGateway({ workers: 1, startTimeMs: 1_000, randomSeed: 7, ...still });
    const b = await probeGateway({ workers: 1, startTimeMs: 1_000, randomSeed: 7, ...still });
    a.advance(250);
    for (const gw of [a, b])
      gw.worker(0).openStream().sendRequestHeaders({ "x-probe-op": "time,random" });
    expect(find(a, "time ns=", 1)).toEqual(["time ns=1250000000"]);
    expect(find(b, "time ns=", 1)).toEqual(["time ns=1000000000"]);
    expect(find(a, "random", 1)).toEqual(find(b, "random", 1));
  });
});
