// Header and property fuzzing: huge, empty, NUL, non-UTF-8 (as raw property bytes), missing
// pseudo-headers and properties. No trap; a stream with a usable key is counted under exactly the
// key the plugin documents, any other is skipped, and every count returns to zero.
import { Rng, type Stream } from "../host/index.js";
import { ADMIN_TOKEN, counts, gateway } from "../tests/plugin/harness.js";
import { authorityKey, usableKey } from "../tests/plugin/host-key-model.js";
import { type Campaign, type Scale, timed } from "./campaign.js";
import { nastyString } from "./rng.js";

/** Raw bytes count only if they are printable ASCII, where every UTF-8 decoder agrees. */
function clusterKey(value: string | Uint8Array | undefined): string | undefined {
  if (value === undefined) return undefined;
  const text = typeof value === "string" ? value : String.fromCharCode(...value);
  return usableKey(text) ? text : undefined;
}

export const streamInputCampaign: Campaign = {
  name: "header and property fuzzing",
  run: (scale: Scale) =>
    timed("header and property fuzzing", async (findings, figures) => {
      const rounds = scale === "full" ? 500 : 40;
      const rng = new Rng(777);
      let streams = 0;
      let skipped = 0;
      for (const keyBy of ["authority", "cluster", "upstream"] as const) {
        const gw = await gateway(
          { admin: { token: ADMIN_TOKEN }, keyBy, maxHosts: 4096 },
          { workers: 2 },
        );
        for (let round = 0; round < rounds; round++) {
          const open: Stream[] = [];
          let expected = 0;
          for (let k = 0; k < 50; k++) {
            const authority = rng.pick([
              "game.example.com",
              "GAME.example.com:8080",
              "",
              "[::1]:80",
              "[::1",
              "a b",
              nastyString(rng, 40),
              "x".repeat(rng.pick([255, 256, 70000])),
            ]);
            const cluster = rng.pick<string | Uint8Array | undefined>([
              undefined,
              "outbound|5000||g.svc",
              "",
              rng.bytes(rng.int(64)),
              "c".repeat(300),
            ]);
            const upstream = rng.pick<string | undefined>([
              undefined,
              "10.0.0.1:5000",
              "",
              "[fd00::1]:5000",
              nastyString(rng, 30),
            ]);
            const properties: Record<string, string | Uint8Array> = {};
            if (cluster !== undefined) properties.cluster_name = cluster;
            const s = gw.worker(rng.int(2)).openStream({ properties });
            const headers: Array<[string, string]> = [[":method", "GET"]];
            if (rng.chance(0.9)) headers.push([":path", rng.pick(["/", "", nastyString(rng, 30)])]);
            if (authority !== "" || rng.chance(0.5)) headers.push([":authority", authority]);
            s.sendRequestHeaders(headers);
            if (upstream !== undefined) s.connectUpstream({ address: upstream });
            if (!s.ended) s.sendResponseHeaders({ ":status": "200" });
            open.push(s);
            streams++;
            let key: string | undefined;
            if (keyBy === "authority")
              key = headers.some(([n]) => n === ":authority") ? authorityKey(authority) : undefined;
            else if (keyBy === "cluster") key = clusterKey(cluster);
            else key = upstream !== undefined && usableKey(upstream) ? upstream : undefined;
            if (key !== undefined) expected++;
            else skipped++;
          }
          const view = counts(gw);
          findings.check(
            view.totalActive === expected,
            "count",
            () => `${keyBy} round ${round}: admin says ${view.totalActive}, oracle ${expected}`,
          );
          for (const s of open) if (!s.ended) s.close();
          findings.check(
            counts(gw).totalActive === 0,
            "residue",
            () => `${keyBy} round ${round}: ${counts(gw).totalActive} left`,
          );
          findings.check(gw.trapCount === 0, "trap", () => `${keyBy} round ${round}`);
          if (gw.trapCount > 0) break;
        }
      }
      figures.streams = streams;
      figures.skipped = skipped;
      return streams;
    }),
};
