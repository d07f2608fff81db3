// Every query of deploy/grafana/conn-drain-dashboard.json, run by `promtool test rules` (the
// PromQL engine of Prometheus itself) against series made from real scrapes: two local gateway
// replicas running the plugin with real WebSocket players, scraped at the admin path in
// Prometheus format, and the drain receiver their signed webhooks reach, scraped at /metrics.
// Nothing in the input series is typed by hand; the expected values come from what the test did
// (who joined and left where, which drains ran), so a query that reads the exposition wrongly,
// or an exposition a query cannot use, fails here.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdminClient } from "../../gateway/demo/admin-client.js";
import { type GameServer, startGameServer } from "../../gateway/demo/game-server.js";
import { joinGame, type Player } from "../../gateway/demo/players.js";
import { ADMIN_TOKEN, pluginConfig, receiverWebhook } from "../../gateway/demo/testbed.js";
import { waitFor } from "../../gateway/demo/wait.js";
import { defaultCluster } from "../../gateway/routes.js";
import { type LocalGateway, startLocalGateway } from "../../gateway/server.js";
import { loadConfig } from "../../receiver/config.js";
import { Kube } from "../../receiver/kube.js";
import { type Receiver, startReceiver } from "../../receiver/server.js";
import { requireTool } from "../e2e/tools.js";
import { FakeKube } from "./fake-kube.js";
import { type ExprTest, promtoolTest, ScrapeTimeline } from "./promtool.js";

const run = requireTool("promtool");

const SECRET = "dashboard-test-webhook-secret-0123";
const KUBE_TOKEN = "sa-token-for-the-stand-in";
const NS = "default";
const LABEL = "gs-sync/delete-block";
const G0 = "game0.postio.example.com";
const G1 = "game1.postio.example.com";
const G2 = "game2.postio.example.com";
const A = "higress-gateway-5d8f-a";
const B = "higress-gateway-5d8f-b";

// Grafana's variables as the dashboard would send them: $host "All" is its allValue; a
// multi-value selection is a regex alternation of escaped values; $__rate_interval for a 15 s
// scrape interval is 4 × 15 s; $__range is the dashboard's default time range (1 h).
const ALL = ".*";
const regexEscape = (h: string) => h.replace(/[.]/g, "\\\\.");
const SOME = `(${regexEscape(G0)}|${regexEscape(G2)})`;
function promql(expr: string, host = ALL): string {
  return expr
    .replaceAll("$__rate_interval", "1m")
    .replaceAll("$__range", "1h")
    .replaceAll("$host", host);
}

interface Panel {
  id: number;
  title: string;
  targets: Array<{ refId: string; expr: string }>;
}
const dashboard = JSON.parse(readFileSync("deploy/grafana/conn-drain-dashboard.json", "utf8")) as {
  panels: Panel[];
  templating: { list: Array<{ name: string; definition?: string }> };
};
const panels = dashboard.panels;
const exprOf = (id: number, refId = "A"): string => {
  const t = panels.find((p) => p.id === id)?.targets.find((x) => x.refId === refId);
  if (!t) throw new Error(`no panel ${id} target ${refId}`);
  return t.expr;
};

let kube: FakeKube;
let rx: Receiver;
const games: GameServer[] = [];
const replicas = new Map<string, LocalGateway>();
const players: Player[] = [];
const timeline = new ScrapeTimeline(15, 24);
/** drain duration in seconds of every report the receiver got, from the plugin's own listing. */
const durations: number[] = [];

const gw = (id: string) => replicas.get(id) as LocalGateway;
const admin = (id: string) => new AdminClient(gw(id).url, ADMIN_TOKEN);

/** One phase: each replica's admin path and the receiver's /metrics, with their scrape labels. */
async function scrapeAll(): Promise<void> {
  timeline.nextPhase();
  for (const [i, id] of [A, B].entries()) {
    // The labels the kit's scrape job attaches (deploy/prometheus/scrape-config.yaml).
    timeline.add(await admin(id).prometheus(), {
      job: "conn-drain",
      instance: `10.0.0.1${i}:80`,
      pod: id,
      namespace: "higress-system",
    });
  }
  const res = await fetch(`http://127.0.0.1:${rx.port}/metrics`);
  expect(res.headers.get("content-type")).toContain("text/plain");
  timeline.add(await res.text(), { job: "conn-drain-receiver", instance: "10.0.1.20:8080" });
}

/** Each player names itself (players.header), so the gateways count distinct players too. */
const identity = (n: number) => ({ "x-player-id": `player-${n}` });

async function join(id: string, host: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const p = await joinGame(gw(id).url, host, players.length, 5_000, identity(players.length));
    (p as Player & { via?: string }).via = id;
    players.push(p);
  }
}

const on = (id: string, host: string) =>
  players.filter((p) => p.connected && p.host === host && (p as { via?: string }).via === id);

/** Waits until each replica's own count for every host is what its clients see. */
async function settle(): Promise<void> {
  for (const id of [A, B]) {
    await waitFor(`${id}'s counts to match its clients`, async () => {
      const counts = await admin(id).counts();
      return [G0, G1, G2].every((h) => (counts[h] ?? 0) === on(id, h).length);
    });
  }
}

const completed = (id: string, host: string) =>
  waitFor(`${id}: drain of ${host} completed`, async () => {
    const d = (await admin(id).drains()).find((x) => x.host === host);
    type Times = { startedAt: string; completedAt: string };
    return d?.state === "completed" ? (d as unknown as Times) : undefined;
  });

const reported = (id: string, host: string) =>
  waitFor(`the receiver to record ${id}'s report for ${host}`, () =>
    rx.ledger.get(host)?.reports.has(id),
  );

beforeAll(async () => {
  if (!run) return;
  kube = new FakeKube(KUBE_TOKEN);
  await kube.start();
  for (const n of [0, 1, 2])
    kube.setGameServer(NS, `postio-${n}`, "PreDelete", { [LABEL]: "true" });
  const c = loadConfig({
    WEBHOOK_SECRET: SECRET,
    GAME_NAMESPACE: NS,
    GAMESERVER_TEMPLATE: "postio-<id>",
    GATEWAYS: `${A},${B}`,
    LISTEN_HOST: "127.0.0.1",
    PORT: "0",
    // No periodic re-check during the test: every decision counted is one a report caused.
    RECHECK_SECONDS: "3600",
  });
  rx = await startReceiver(c, new Kube({ server: kube.url, token: () => KUBE_TOKEN }), () => {});
  const routes = [];
  for (const host of [G0, G1, G2]) {
    const g = await startGameServer(host.split(".")[0] as string);
    games.push(g);
    routes.push({ host, address: g.address, cluster: defaultCluster(host, "0:5000") });
  }
  const hook = receiverWebhook(rx.port, SECRET);
  for (const id of [A, B]) {
    replicas.set(
      id,
      await startLocalGateway({
        workers: 2,
        nodeId: id,
        config: pluginConfig({
          webhook: hook.webhook,
          players: { header: "x-player-id" },
          drain: { rejectNew: true, retryAfterSeconds: 5, reconnectGraceSeconds: 60 },
        }),
        routes,
        clusters: hook.clusters,
      }),
    );
  }

  // Phase 0: players everywhere, no drain.
  await join(A, G0, 3);
  await join(B, G0, 2);
  await join(A, G1, 1);
  await join(B, G1, 2);
  await join(A, G2, 2);
  await settle();
  await scrapeAll();

  // Phase 1: game0 drains on both replicas, game1 only on A; one of game0's players on A leaves.
  for (const id of [A, B]) await admin(id).startDrain(G0);
  await admin(A).startDrain(G1);
  await on(A, G0)[0]?.leave();
  // Another of game0's players on A blips and comes back (let in: returning), and a stranger
  // tries game0 on B (refused): the counts end as above.
  const blip = on(A, G0)[0] as Player;
  await blip.drop();
  const back = await joinGame(gw(A).url, G0, blip.id, 5_000, identity(blip.id));
  (back as Player & { via?: string }).via = A;
  players.push(back);
  await expect(joinGame(gw(B).url, G0, 999, 5_000, identity(999))).rejects.toThrow(/503/);
  await settle();
  await scrapeAll();

  // Phase 2: game0 empties (A first, then B, so the receiver decides in a known order) and is
  // released; game1's last player on A leaves, its drain there completes, B never drained it.
  const leaveAll = (id: string, host: string) => Promise.all(on(id, host).map((p) => p.leave()));
  await leaveAll(A, G0);
  await reported(A, G0);
  await leaveAll(B, G0);
  await reported(B, G0);
  await waitFor("postio-0 released", () => rx.ledger.get(G0)?.released);
  await leaveAll(A, G1);
  await reported(A, G1);
  await settle();
  for (const [id, host] of [
    [A, G0],
    [B, G0],
    [A, G1],
  ] as const) {
    const d = await completed(id, host);
    durations.push((Date.parse(d.completedAt) - Date.parse(d.startedAt)) / 1000);
  }
  await scrapeAll();
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(players.map((p) => p.leave(2_000)));
  for (const r of replicas.values()) await r.close();
  for (const g of games) await g.close();
  await rx?.close();
  await kube?.close();
});

type Want = Array<[Record<string, string>, number]>;
const labels = (l: Record<string, string>) =>
  `{${Object.entries(l)
    .map(([k, v]) => `${k}="${v}"`)
    .join(",")}}`;
const at = (seconds: number) => `${seconds}s`;
const test = (expr: string, seconds: number, want: Want): ExprTest => ({
  expr,
  eval_time: at(seconds),
  exp_samples: want.map(([l, value]) => ({ labels: labels(l), value })),
});

const perHost = (v: Record<string, number>): Want =>
  Object.entries(v).map(([host, n]) => [{ host }, n]);

/** Prometheus's histogram_quantile over cumulative buckets (linear inside the bucket). */
function bucketQuantile(q: number, le: number[], values: number[]): number {
  const cumulative = le.map((b) => values.filter((v) => v <= b).length);
  const count = values.length;
  const rank = q * count;
  const b = cumulative.findIndex((c) => c >= rank);
  const start = b > 0 ? (le[b - 1] as number) : 0;
  const below = b > 0 ? (cumulative[b - 1] as number) : 0;
  return (
    start + ((le[b] as number) - start) * ((rank - below) / ((cumulative[b] as number) - below))
  );
}

/** A float panel: the query must return exactly one series, equal to `want` within 1e-9. */
const close = (expr: string, seconds: number, want: number): ExprTest =>
  test(`abs((${expr}) - ${want}) < bool 1e-9`, seconds, [[{}, 1]]);

describe.runIf(run)("every dashboard query on real exposition (promtool test rules)", () => {
  const end = (k: number) => timeline.phaseEnd(k);
  // Counters read with increase() over $__rate_interval, 30 s after the phase they changed in.
  const after = (k: number) => timeline.phaseStart(k) + 30;

  async function expectPromtool(tests: ExprTest[]): Promise<void> {
    const r = await promtoolTest(timeline, tests);
    expect(r.output, `promtool test rules failed:\n${r.output}`).toContain("SUCCESS");
    expect(r.code).toBe(0);
  }

  it("the dashboard has the panels this test covers, and no other query", () => {
    const covered = new Set([
      "1A",
      "2A",
      "3A",
      "4A",
      "5A",
      "6A",
      "7A",
      "8A",
      "9A",
      "9B",
      "9C",
      "10A",
      "11A",
      "12A",
      "12B",
    ]);
    const all = panels.flatMap((p) => p.targets.map((t) => `${p.id}${t.refId}`));
    expect(new Set(all)).toEqual(covered);
  });

  it("the $host variable lists every game server the gateways count", async () => {
    // label_values(conn_drain_active, host) is Grafana's; as PromQL it is a group by host.
    const v = dashboard.templating.list.find((t) => t.name === "host");
    expect(v?.definition).toBe("label_values(conn_drain_active, host)");
    await expectPromtool([
      test("group by (host) (conn_drain_active)", end(0), perHost({ [G0]: 1, [G1]: 1, [G2]: 1 })),
    ]);
  });

  it("panels 1-4 (stats): players, draining game servers, players on them, overflow", async () => {
    await expectPromtool([
      test(promql(exprOf(1)), end(0), [[{}, 10]]),
      test(promql(exprOf(1)), end(1), [[{}, 9]]),
      test(promql(exprOf(1)), end(2), [[{}, 4]]),
      test(promql(exprOf(1), SOME), end(1), [[{}, 6]]),
      test(promql(exprOf(2)), end(0), [[{}, 0]]),
      test(promql(exprOf(2)), end(1), [[{}, 2]]),
      test(promql(exprOf(2)), end(2), [[{}, 0]]),
      test(promql(exprOf(2), SOME), end(1), [[{}, 1]]),
      test(promql(exprOf(3)), end(0), [[{}, 0]]),
      // On the replicas where the host drains: game0 2 + 2, game1 1 (not B's 2: no drain there).
      test(promql(exprOf(3)), end(1), [[{}, 5]]),
      test(promql(exprOf(3)), end(2), [[{}, 0]]),
      test(promql(exprOf(4)), end(0), [[{}, 0]]),
      test(promql(exprOf(4)), end(1), [[{}, 0]]),
    ]);
  });

  it("panels 5 and 6: players per game server, and per game server and replica", async () => {
    await expectPromtool([
      test(promql(exprOf(5)), end(0), perHost({ [G0]: 5, [G1]: 3, [G2]: 2 })),
      test(promql(exprOf(5)), end(1), perHost({ [G0]: 4, [G1]: 3, [G2]: 2 })),
      test(promql(exprOf(5), SOME), end(1), perHost({ [G0]: 4, [G2]: 2 })),
      test(promql(exprOf(6)), end(1), [
        [{ host: G0, gateway: A }, 2],
        [{ host: G0, gateway: B }, 2],
        [{ host: G1, gateway: A }, 1],
        [{ host: G1, gateway: B }, 2],
        [{ host: G2, gateway: A }, 2],
      ]),
    ]);
  });

  it("panels 11 and 12: distinct players, and a running drain's returning and refused streams", async () => {
    await expectPromtool([
      // One player per stream here (each names itself once), so as panel 5.
      test(promql(exprOf(11)), end(0), perHost({ [G0]: 5, [G1]: 3, [G2]: 2 })),
      test(promql(exprOf(11)), end(1), perHost({ [G0]: 4, [G1]: 3, [G2]: 2 })),
      test(promql(exprOf(11), SOME), end(2), perHost({ [G0]: 0, [G2]: 2 })),
      test(promql(exprOf(12)), end(0), []),
      // game0: the blip came back through A; the stranger was refused by B. game1 drains on A only.
      test(promql(exprOf(12)), end(1), perHost({ [G0]: 1, [G1]: 0 })),
      test(promql(exprOf(12, "B")), end(1), perHost({ [G0]: 1, [G1]: 0 })),
      test(promql(exprOf(12, "B"), SOME), end(1), perHost({ [G0]: 1 })),
      // Drains completed: their lines end.
      test(promql(exprOf(12)), end(2), []),
    ]);
  });

  it("panel 7: every draining game server with the players left on it, not only those with one", async () => {
    await expectPromtool([
      test(promql(exprOf(7)), end(0), []),
      test(promql(exprOf(7)), end(1), perHost({ [G0]: 4, [G1]: 1 })),
      test(promql(exprOf(7), SOME), end(1), perHost({ [G0]: 4 })),
      // Drains completed: their lines end.
      test(promql(exprOf(7)), end(2), []),
    ]);
  });

  it("panels 8 and 10: the receiver's reports and decisions, including the first of each", async () => {
    await expectPromtool([
      test(promql(exprOf(8)), after(2), [
        [{ reason: "deadline" }, 0],
        [{ reason: "drained" }, 3],
      ]),
      test(promql(exprOf(8)), end(1), [
        [{ reason: "deadline" }, 0],
        [{ reason: "drained" }, 0],
      ]),
      // game0: A's report waits for B, B's releases; game1: A's report waits for B.
      test(`${promql(exprOf(10))} > 0`, after(2), [
        [{ outcome: "released" }, 1],
        [{ outcome: "waiting-for-replicas" }, 2],
      ]),
      test(`count(${promql(exprOf(10))})`, end(1), [[{}, 7]]),
    ]);
  });

  it("panel 9: drain duration quantiles and mean from the receiver's histogram", async () => {
    expect(durations).toHaveLength(3);
    const le = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400];
    const mean = durations.reduce((s, d) => s + d, 0) / durations.length;
    await expectPromtool([
      close(promql(exprOf(9, "A")), end(2), bucketQuantile(0.5, le, durations)),
      close(promql(exprOf(9, "B")), end(2), bucketQuantile(0.95, le, durations)),
      close(promql(exprOf(9, "C")), end(2), mean),
    ]);
  });
});

describe.runIf(run)("with more hosts than maxHosts: overflow streams (promtool test rules)", () => {
  let c: LocalGateway | undefined;
  const mine: Player[] = [];
  const overflowTimeline = new ScrapeTimeline(15, 24);

  afterAll(async () => {
    await Promise.allSettled(mine.map((p) => p.leave(2_000)));
    await c?.close();
  });

  it("a host that found no slot is in panel 4 only; panels 1 and 4 together cover every player", async () => {
    // The file's game0 and game1 serve this gateway too (they run until the file's afterAll).
    const [game0, game1] = games as [GameServer, GameServer];
    c = await startLocalGateway({
      workers: 2,
      nodeId: "higress-gateway-5d8f-c",
      // One slot: game0 (first) gets it, game1's streams go to the overflow buckets.
      config: pluginConfig({ webhook: undefined, maxHosts: 1 }),
      routes: [
        { host: G0, address: game0.address, cluster: defaultCluster(G0, "0:5000") },
        { host: G1, address: game1.address, cluster: defaultCluster(G1, "0:5000") },
      ],
    });
    const gwc = c;
    for (let i = 0; i < 2; i++) mine.push(await joinGame(gwc.url, G0, 100 + i));
    for (let i = 0; i < 3; i++) mine.push(await joinGame(gwc.url, G1, 200 + i));
    const cAdmin = new AdminClient(gwc.url, ADMIN_TOKEN);
    await waitFor(
      "replica c to count 5 streams",
      async () => (await cAdmin.view()).totalActive === 5,
    );
    overflowTimeline.nextPhase();
    overflowTimeline.add(await cAdmin.prometheus(), {
      job: "conn-drain",
      instance: "10.0.0.12:80",
      pod: "higress-gateway-5d8f-c",
      namespace: "higress-system",
    });
    const t = overflowTimeline.phaseEnd(0);
    const r = await promtoolTest(overflowTimeline, [
      test(promql(exprOf(1)), t, [[{}, 2]]),
      test(promql(exprOf(4)), t, [[{}, 3]]),
      test(promql(exprOf(5)), t, perHost({ [G0]: 2 })),
      test(`${promql(exprOf(1))} + ${promql(exprOf(4))}`, t, [[{}, 5]]),
    ]);
    expect(r.output, `promtool test rules failed:\n${r.output}`).toContain("SUCCESS");
  });
});
