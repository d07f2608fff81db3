import { describe, expect, it } from "vitest";
import { find, probeGateway, still } from "./helpers.js";

const START = 1_700_000_000_000;

/** The plugin's view of the clocks right now: proxy time, WASI realtime, WASI monotonic (ms). */
function clocks(gw: Awaited<ReturnType<typeof probeGateway>>): number[] {
  gw.clearLogs();
  gw.worker(0).openStream().sendRequestHeaders({ "x-probe-op": "time,wasi-clock:0,wasi-clock:1" });
  return find(gw, "", 1)
    .map((m) => /(?:time|wasi-clock id=\d rc=0) ns=(\d+)/.exec(m)?.[1])
    .filter((ns): ns is string => ns !== undefined)
    .map((ns) => Number(BigInt(ns) / 1_000_000n));
}

describe("wall clock vs timer clock", () => {
  it("jumpWallClock moves what the plugin reads as the time, and fires nothing", async () => {
    const gw = await probeGateway({
      workers: 1,
      config: "tick=1000",
      ...still,
      startTimeMs: START,
    });
    expect(clocks(gw)).toEqual([START, START, START]);
    gw.jumpWallClock(600_000);
    expect(clocks(gw)).toEqual([START + 600_000, START + 600_000, START]);
    expect(gw.now()).toBe(START + 600_000);
    expect(gw.monotonicNow()).toBe(START);
    // ten minutes of wall clock and not one tick: ticks run on the monotonic clock
    expect(find(gw, "cb:tick")).toEqual([]);
    gw.advance(1000);
    expect(find(gw, "cb:tick")).toHaveLength(2);
    expect(clocks(gw)).toEqual([START + 601_000, START + 601_000, START + 1000]);
  });

  it("a step backwards: the plugin sees time go back; timers keep their schedule", async () => {
    const gw = await probeGateway({ workers: 1, clusters: ["auth"], ...still, startTimeMs: START });
    gw.worker(0).openStream().sendRequestHeaders({ "x-probe-op": "http-call" });
    const [call] = gw.httpCalls();
    expect(call?.sentAt).toBe(START);
    gw.jumpWallClock(-3_600_000);
    expect(clocks(gw)).toEqual([START - 3_600_000, START - 3_600_000, START]);
    // the 500 ms timeout is due 500 ms of monotonic time after the call, jump or no jump
    gw.advance(499);
    expect(gw.httpCalls()).toHaveLength(1);
    gw.advance(1);
    expect(gw.httpCalls()).toEqual([]);
    expect(find(gw, "cb:http_call_response", 1)[0]).toMatch(/token=1 headers=0 body_size=0/);
    // calls made after the step report the wall clock they were sent at
    gw.worker(0).openStream().sendRequestHeaders({ "x-probe-op": "http-call" });
    expect(gw.httpCalls()[0]?.sentAt).toBe(START - 3_600_000 + 500);
  });

  it("refuses a jump that is not a finite number", async () => {
    const gw = await probeGateway({ workers: 1 });
    expect(() => gw.jumpWallClock(Number.NaN)).toThrow(RangeError);
  });
});
