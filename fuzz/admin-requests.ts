// Admin request fuzzing: odd methods, paths, queries, encodings, huge and repeated headers, bad
// tokens. Every answer must be a proper status, and nobody unauthenticated may see any data.
import { type Gateway, Rng } from "../host/index.js";
import { ADMIN_TOKEN, connectPlayer, gateway } from "../tests/plugin/harness.js";
import { type Campaign, type Scale, timed } from "./campaign.js";
import { nastyString } from "./rng.js";

const ALLOWED = new Set([200, 202, 400, 401, 403, 404, 405, 409, 503]);
const SECRET_HOST = "secret-game.example.com";

function randomPath(rng: Rng): string {
  const base = rng.pick([
    "/.conn-drain",
    "/.conn-drain/drain",
    "/.conn-drain/",
    "/.conn-drain/x",
    "/.conn-drain//drain",
    "/.conn-drainx",
    "/.CONN-DRAIN",
    "/.conn-drain/drain/",
  ]);
  const parts: string[] = [];
  for (let k = 0; k < rng.int(4); k++) {
    const name = rng.pick(["host", "format", "deadlineSeconds", "x", "", "host%00", "HOST"]);
    const value = rng.pick([
      SECRET_HOST,
      "game1.example.com:443",
      "%41%42",
      "%zz",
      "%",
      "%E4%B8%AD",
      "prometheus",
      "json",
      String(rng.int(1e9)),
      "-1",
      "a".repeat(rng.int(3000)),
      Buffer.from(nastyString(rng, 20)).toString("hex"),
      nastyString(rng, 20),
    ]);
    parts.push(rng.chance(0.1) ? name : `${name}=${value}`);
  }
  const q = parts.length > 0 || rng.chance(0.2) ? `?${parts.join(rng.pick(["&", "&&", ";"]))}` : "";
  return base + q + (rng.chance(0.05) ? "#frag" : "");
}

function randomHeaders(rng: Rng, token: string): Array<[string, string]> {
  const h: Array<[string, string]> = [
    [
      ":method",
      rng.pick([
        "GET",
        "HEAD",
        "POST",
        "DELETE",
        "PUT",
        "OPTIONS",
        "get",
        "",
        "CONNECT",
        nastyString(rng, 8),
      ]),
    ],
    [":path", randomPath(rng)],
    [":authority", rng.pick(["gw.example.com", "", SECRET_HOST, nastyString(rng, 40)])],
  ];
  const auth = rng.int(6);
  if (auth === 0) h.push(["authorization", `Bearer ${token}`]);
  else if (auth === 1) h.push(["authorization", `Bearer ${token}x`]);
  else if (auth === 2) h.push(["authorization", `bearer ${token}`]);
  else if (auth === 3) h.push(["authorization", `Bearer ${nastyString(rng, 100)}`]);
  else if (auth === 4)
    h.push(["authorization", `Bearer ${token}`], ["authorization", "Bearer nope"]);
  if (rng.chance(0.3))
    h.push([
      "accept",
      rng.pick([
        "text/plain",
        "application/json",
        "*/*",
        "text/plain, application/json",
        nastyString(rng, 30),
      ]),
    ]);
  if (rng.chance(0.02)) h.push(["x-huge", "h".repeat(64 * 1024)]);
  if (rng.chance(0.05)) for (let i = 0; i < 50; i++) h.push(["x-repeat", String(i)]);
  return h;
}

export const adminCampaign: Campaign = {
  name: "admin request fuzzing",
  run: (scale: Scale) =>
    timed("admin request fuzzing", async (findings, figures) => {
      const total = scale === "full" ? 100_000 : 4_000;
      const rng = new Rng(4242);
      const gw: Gateway = await gateway(
        { admin: { token: ADMIN_TOKEN, allowCidrs: ["10.0.0.0/8", "fd00::/8"] }, maxHosts: 128 },
        { workers: 2 },
      );
      connectPlayer(gw, SECRET_HOST, { vm: 1 });
      const statuses = new Map<number, number>();
      for (let i = 0; i < total; i++) {
        const headers = randomHeaders(rng, ADMIN_TOKEN);
        const source = rng.pick([
          "10.1.2.3:4",
          "[fd00::1]:4",
          "203.0.113.5:4",
          "garbage",
          "",
          "[::1",
          "10.0.0.1",
        ]);
        const s = gw
          .worker(rng.int(2))
          .openStream({ properties: source === "" ? {} : { "source.address": source } });
        s.sendRequestHeaders(headers, { endOfStream: true });
        const r = s.localResponse;
        if (r) {
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
          findings.check(
            ALLOWED.has(r.status),
            "status",
            () => `${r.status} for ${JSON.stringify(headers).slice(0, 300)}`,
          );
          if (r.status === 401 || r.status === 403) {
            findings.check(
              !r.body.includes(SECRET_HOST) && !r.body.includes("gateway"),
              "leak",
              () => `${r.status} body ${r.body.slice(0, 200)}`,
            );
          }
        } else {
          s.close();
        }
        findings.check(gw.trapCount === 0, "trap", () => JSON.stringify(headers).slice(0, 300));
        if (gw.trapCount > 0) break;
      }
      figures.statuses = [...statuses]
        .sort((a, b) => a[0] - b[0])
        .map(([k, v]) => `${k}:${v}`)
        .join(",");
      return total;
    }),
};
