// Flood: a million distinct Host headers. Tracked hosts and shared-data bytes stay bounded by
// maxHosts, and real players are still counted, before and after.
import { ADMIN_TOKEN, connectPlayer, counts, gateway } from "../tests/plugin/harness.js";
import { type Campaign, type Scale, timed } from "./campaign.js";

export const floodCampaign: Campaign = {
  name: "flood",
  run: (scale: Scale) =>
    timed("flood", async (findings, figures) => {
      const total = scale === "full" ? 1_000_000 : 30_000;
      const maxHosts = 256;
      const gw = await gateway({ admin: { token: ADMIN_TOKEN }, maxHosts }, { workers: 4 });
      for (let w = 0; w < 4; w++) connectPlayer(gw, `real${w}.example.com`, { vm: w });
      const keys = gw.sharedData.keys().length;
      let maxBytes = gw.sharedData.bytes();
      for (let i = 0; i < total; i++) {
        connectPlayer(gw, `f${i.toString(36)}.flood.example`, { vm: i % 4 }).close();
        if (i % 50_000 === 0) {
          maxBytes = Math.max(maxBytes, gw.sharedData.bytes());
          const view = counts(gw);
          findings.check(
            view.hosts.length <= maxHosts,
            "bound",
            () => `${view.hosts.length} hosts tracked`,
          );
          findings.check(
            view.totalActive === 4,
            "real players",
            () => `total ${view.totalActive} at ${i}`,
          );
        }
      }
      findings.check(
        gw.sharedData.keys().length === keys,
        "keys grew",
        () => `${keys} -> ${gw.sharedData.keys().length}`,
      );
      connectPlayer(gw, "late-real.example.com", { vm: 1 });
      const view = counts(gw);
      findings.check(
        view.hosts.some((h) => h.host === "late-real.example.com" && h.active === 1),
        "blinded",
        () => "a real host after the flood is not tracked",
      );
      findings.check(gw.trapCount === 0, "trap", () => "a VM trapped");
      figures.keys = gw.sharedData.keys().length;
      figures.maxSharedBytes = maxBytes;
      figures.wasmBytes = gw.worker(0).memoryBytes;
      return total;
    }),
};
