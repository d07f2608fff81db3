// Memory soak: a million streams keep every VM's linear memory flat over the second half of the
// run (a leak in the ABI layer or the plugin would grow it: Wasm memory never shrinks). The first
// half is warm-up: the collector's high-water mark may settle one page step late, depending on
// where the random VM ids put each VM's cursors and caches, which is not a leak.
import { ADMIN_TOKEN, connectPlayer, gateway } from "../tests/plugin/harness.js";
import { type Campaign, type Scale, timed } from "./campaign.js";

export const soakCampaign: Campaign = {
  name: "memory soak",
  run: (scale: Scale) =>
    timed("memory soak", async (findings, figures) => {
      const total = scale === "full" ? 1_000_000 : 60_000;
      const gw = await gateway({ admin: { token: ADMIN_TOKEN }, maxHosts: 256 }, { workers: 4 });
      const warmup = Math.floor(total / 2);
      let atWarmup: number[] = [];
      for (let i = 0; i < total; i++) {
        const s = connectPlayer(gw, `soak${i % 100}.example.com`, { vm: i % 4 });
        s.sendRequestBody("x", false);
        s.close();
        if (i % 5_000 === 0) gw.advance(1000);
        if (i === warmup) atWarmup = [0, 1, 2, 3].map((w) => gw.worker(w).memoryBytes);
      }
      const atEnd = [0, 1, 2, 3].map((w) => gw.worker(w).memoryBytes);
      for (const [w, b] of atEnd.entries()) {
        findings.check(
          b === atWarmup[w],
          "growth",
          () => `worker ${w}: ${atWarmup[w]} -> ${b} bytes`,
        );
      }
      findings.check(gw.trapCount === 0, "trap", () => "a VM trapped");
      figures.memoryAtWarmup = atWarmup.join("/");
      figures.memoryAtEnd = atEnd.join("/");
      return total;
    }),
};
