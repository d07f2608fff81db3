// Races: opens and closes on 8 worker VMs with a competing write injected at every shared-data
// read of a slot or index key. Every count exact at every checkpoint, never negative, zero at end.
import { Rng, type Stream } from "../host/index.js";
import {
  ADMIN_TOKEN,
  activeByHost,
  connectPlayer,
  counts,
  gateway,
} from "../tests/plugin/harness.js";
import { type Campaign, type Scale, timed } from "./campaign.js";

const WORKERS = 8;

export const raceCampaign: Campaign = {
  name: "races",
  run: (scale: Scale) =>
    timed("races", async (findings, figures) => {
      const events = scale === "full" ? 1_000_000 : 40_000;
      const rng = new Rng(8);
      const gw = await gateway(
        { admin: { token: ADMIN_TOKEN }, maxHosts: 16 },
        { workers: WORKERS },
      );
      const hosts = Array.from({ length: 12 }, (_, i) => `race${i}.example.com`);
      const open: Stream[][] = Array.from({ length: WORKERS }, () => []);
      const hostOf = new Map<Stream, string>();
      const expected = new Map<string, number>();
      let done = 0;
      const op = (busy: number): void => {
        let w = rng.int(WORKERS);
        if (w === busy) w = (w + 1) % WORKERS;
        const list = open[w] as Stream[];
        if (list.length > 0 && rng.chance(0.5)) {
          const s = list.splice(rng.int(list.length), 1)[0] as Stream;
          s.close();
          const h = hostOf.get(s) as string;
          hostOf.delete(s);
          expected.set(h, (expected.get(h) ?? 0) - 1);
        } else {
          const h = rng.pick(hosts);
          const s = connectPlayer(gw, h, { vm: w });
          list.push(s);
          hostOf.set(s, h);
          expected.set(h, (expected.get(h) ?? 0) + 1);
        }
        done++;
      };
      let inject = true;
      let injected = 0;
      gw.sharedData.onAfterGet((e) => {
        if (!inject || !(e.key.includes("/slot/") || e.key.includes("/index/"))) return;
        injected++;
        if (rng.chance(0.3) && e.value !== undefined) gw.sharedData.set(e.key, e.value, 0);
        else op(e.vmIndex - 1);
      });
      let checkpoints = 0;
      let next = 50_000;
      while (done < events) {
        op(-1);
        if (done >= next || done >= events) {
          next += 50_000;
          checkpoints++;
          inject = false;
          const seen = activeByHost(gw);
          for (const [h, n] of expected)
            findings.check(
              (seen[h] ?? 0) === n,
              "count",
              () => `${h}: admin ${seen[h]}, expected ${n} after ${done}`,
            );
          for (const [h, n] of Object.entries(seen))
            findings.check(n >= 0, "negative", () => `${h}: ${n}`);
          inject = true;
        }
        if (gw.trapCount > 0) break;
      }
      inject = false;
      for (const list of open) for (const s of list.splice(0)) s.close();
      findings.check(
        counts(gw).totalActive === 0,
        "residue",
        () => `${counts(gw).totalActive} left at the end`,
      );
      findings.check(gw.trapCount === 0, "trap", () => "a VM trapped");
      figures.injected = injected;
      figures.checkpoints = checkpoints;
      return done;
    }),
};
