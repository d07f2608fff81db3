import { describe, expect, it } from "vitest";
import { Rng, type Stream } from "../../host/index.js";
import { completeKey, drainGateway, startDrain, webhookCalls } from "./drain-harness.js";
import { connectPlayer } from "./harness.js";

describe("drain completion under races", () => {
  it("4 workers closing the last streams with competing writes injected: exactly one winner in 1,000 trials", async () => {
    const gw = await drainGateway({ maxHosts: 256 });
    const rng = new Rng(31337);
    let inject = false;
    let pending: Stream[] = [];
    let injected = 0;
    gw.sharedData.onAfterGet((e) => {
      if (!inject || !e.key.includes("/slot/")) return;
      // between this worker's read and its write, another worker closes one of its streams
      const others = pending.filter((s) => s.vmIndex !== e.vmIndex);
      if (others.length === 0 || rng.int(4) === 0) return;
      const victim = others[rng.int(others.length)] as Stream;
      pending = pending.filter((s) => s !== victim);
      injected++;
      victim.close();
    });
    const winners = new Map<number, number>();
    for (let trial = 0; trial < 1000; trial++) {
      const host = `t${trial}.postio.example.com`;
      pending = [0, 1, 2, 3].map((w) => connectPlayer(gw, host, { vm: w }));
      startDrain(gw, host);
      inject = true;
      while (pending.length > 0) {
        const s = pending.splice(rng.int(pending.length), 1)[0] as Stream;
        s.close();
      }
      inject = false;
      const calls = webhookCalls(gw).filter((c) =>
        new TextDecoder().decode(c.body).includes(`"${host}"`),
      );
      expect(calls).toHaveLength(1);
      expect(completeKey(gw, host)?.episode).toBeDefined();
      winners.set(calls[0]!.vmIndex, (winners.get(calls[0]!.vmIndex) ?? 0) + 1);
      for (const c of webhookCalls(gw)) gw.respondHttpCall(c, { status: 200 });
    }
    expect(injected).toBeGreaterThan(1000);
    // the winner is whichever worker's write brought the count to zero: all of them win sometimes
    expect(winners.size).toBe(4);
    expect(gw.trapCount).toBe(0);
  });
});
