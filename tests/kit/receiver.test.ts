// The drain receiver (receiver/) against a stand-in Kubernetes API server (fake-kube.ts):
// signature and idempotency checks, the freshness window and the per-episode ledger with expiry,
// waiting for every gateway replica, the PreDelete check, the merge-patch of the GameServer label;
// and the whole path with the real plugin: two local gateway replicas drain a host and their
// webhooks make the receiver release the block.
import { createHmac } from "node:crypto";
import { request } from "node:http";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { AdminClient } from "../../gateway/demo/admin-client.js";
import { type GameServer, startGameServer } from "../../gateway/demo/game-server.js";
import { joinGame } from "../../gateway/demo/players.js";
import { ADMIN_TOKEN, pluginConfig, receiverWebhook } from "../../gateway/demo/testbed.js";
import { waitFor } from "../../gateway/demo/wait.js";
import { defaultCluster } from "../../gateway/routes.js";
import { type LocalGateway, startLocalGateway } from "../../gateway/server.js";
import { loadConfig } from "../../receiver/config.js";
import { Kube } from "../../receiver/kube.js";
import {
  freshnessFromEnv,
  type Receiver,
  type ReceiverOptions,
  startReceiver,
} from "../../receiver/server.js";
import { sign } from "../../receiver/signature.js";
import { FakeKube } from "./fake-kube.js";

const SECRET = "receiver-test-secret-0123456789";
const KUBE_TOKEN = "sa-token-for-the-stand-in";
const NS = "game";
const HOST = "game3.postio.example.com";
const GS = "postio-3";
const LABEL = "gs-sync/delete-block";
const nodeId = (ip: string, pod: string) =>
  `router~${ip}~${pod}.higress-system~higress-system.svc.cluster.local`;
const GW_A = nodeId("10.0.0.11", "higress-gateway-7d9f-a");
const GW_B = nodeId("10.0.0.12", "higress-gateway-7d9f-b");

let kube: FakeKube;
let rx: Receiver;
const lines: string[] = [];

/** The receiver's clock in the stand-in tests: a minute after the records' completedAt. */
const T0 = Date.parse("2026-05-01T10:06:00.000Z");
let clock = T0;
const testClock: ReceiverOptions = { now: () => clock };

async function startAll(
  env: Record<string, string> = {},
  options: ReceiverOptions = testClock,
): Promise<void> {
  kube = new FakeKube(KUBE_TOKEN);
  await kube.start();
  kube.setGameServer(NS, GS, "PreDelete", { [LABEL]: "true" });
  kube.setEndpoints("higress-system", "higress-gateway", [
    { ip: "10.0.0.11", pod: "higress-gateway-7d9f-a", ready: true },
    { ip: "10.0.0.12", pod: "higress-gateway-7d9f-b", ready: false },
  ]);
  await startReceiverOnly(env, options);
}

/** Both started afresh, the test clock at T0: the state every test of a suite starts from. */
function startAllAtT0(): Promise<void> {
  clock = T0;
  return startAll();
}

async function stopAll(): Promise<void> {
  await rx.close();
  await kube.close();
}

/** A receiver (again) against the running stand-in API: a restart loses its memory. */
async function startReceiverOnly(
  env: Record<string, string> = {},
  options: ReceiverOptions = testClock,
): Promise<void> {
  const c = loadConfig({
    WEBHOOK_SECRET: SECRET,
    GAME_NAMESPACE: NS,
    GAMESERVER_TEMPLATE: "postio-<id>",
    GATEWAY_SERVICE: "higress-system/higress-gateway",
    LISTEN_HOST: "127.0.0.1",
    PORT: "0",
    RECHECK_SECONDS: "0.2",
    ...env,
  });
  rx = await startReceiver(
    c,
    new Kube({ server: kube.url, token: () => KUBE_TOKEN }),
    (l) => lines.push(l),
    options,
  );
}

function post(
  body: string,
  headers: Record<string, string>,
): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(`http://127.0.0.1:${rx.port}/drained`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      agent: false,
    });
    req.on("error", reject);
    req.on("response", (res) => {
      let text = "";
      res.on("data", (c: Buffer) => {
        text += c.toString();
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
    });
    req.end(body);
  });
}

function record(
  gateway: string,
  episode: string,
  host = HOST,
  completedAt = "2026-05-01T10:05:00.000Z",
): string {
  return JSON.stringify({
    event: "drain_complete",
    host,
    episode,
    startedAt: "2026-05-01T10:00:00.000Z",
    completedAt,
    reason: "drained",
    remaining: 0,
    gateway,
    upstreams: ["10.1.0.3:5000"],
  });
}

const nowSeconds = () => Math.floor(clock / 1000);

/** Headers of a delivery of `body` signed at Unix second `t` (default: the receiver's now). */
const headersOf = (body: string, episode: string, t = nowSeconds(), secret = SECRET) => ({
  "x-conn-drain-signature": sign(body, secret, t),
  "idempotency-key": episode,
});

const signed = (body: string, episode: string, secret = SECRET, t = nowSeconds()) =>
  post(body, headersOf(body, episode, t, secret));

/** One drain's reports from both replicas (A's episode d-a1, B's d-b1), each with its signed headers. */
function bothReplicasReports() {
  const a = record(GW_A, "d-a1");
  const b = record(GW_B, "d-b1");
  return { a, b, ha: headersOf(a, "d-a1"), hb: headersOf(b, "d-b1") };
}

const patches = () => kube.requests.filter((r) => r.method === "PATCH");
const label = () =>
  (kube.gameServer(NS, GS)?.metadata as { labels?: Record<string, string> } | undefined)?.labels?.[
    LABEL
  ];

describe("drain receiver against a stand-in Kubernetes API", () => {
  beforeEach(startAllAtT0);
  afterEach(stopAll);

  it("rejects forged, malformed and mismatched deliveries before touching the API", async () => {
    const body = record(GW_A, "d-1");
    expect((await signed(body, "d-1", "another-secret-0123456789")).status).toBe(401);
    expect((await post(body, { "idempotency-key": "d-1" })).status).toBe(401);
    // The old body-only form is refused: it carries no time, so it could be replayed forever.
    const bodyOnly = `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}`;
    const old = await post(body, { "x-conn-drain-signature": bodyOnly, "idempotency-key": "d-1" });
    expect(old.status).toBe(401);
    expect(old.json.error).toContain("old body-only form");
    expect((await signed(body, "d-other")).status).toBe(400);
    expect((await signed('{"event":"something_else"}', "d-1")).status).toBe(400);
    expect(kube.requests).toEqual([]);
    expect(rx.metrics.rejected).toBe(5);
    expect(rx.metrics.rejectedFor("mismatch")).toBe(1);
    expect(rx.metrics.rejectedFor("malformed")).toBe(2);
    expect(rx.metrics.rejectedFor("idempotency-key")).toBe(1);
    expect(rx.metrics.rejectedFor("body")).toBe(1);
  });

  it("waits for every replica of the gateway Service, then merge-patches the GameServer", async () => {
    const first = await signed(record(GW_A, "d-a1"), "d-a1");
    expect(first).toMatchObject({ status: 200, json: { outcome: "waiting-for-replicas" } });
    expect(patches()).toHaveLength(0);
    // A retry of the same delivery is recognised and changes nothing.
    const again = await signed(record(GW_A, "d-a1"), "d-a1");
    expect(again.json).toMatchObject({ duplicate: true, outcome: "waiting-for-replicas" });

    const second = await signed(record(GW_B, "d-b7"), "d-b7");
    expect(second).toMatchObject({ status: 200, json: { outcome: "released", duplicate: false } });
    expect(label()).toBe("false");
    const [patch] = patches();
    expect(patch?.path).toBe(`/apis/game.kruise.io/v1alpha1/namespaces/${NS}/gameservers/${GS}`);
    expect(patch?.contentType).toBe("application/merge-patch+json");
    expect(JSON.parse(patch?.body ?? "")).toEqual({
      metadata: { labels: { [LABEL]: "false" }, resourceVersion: expect.any(String) },
    });
    // The replicas came from EndpointSlices of the gateway Service.
    expect(
      kube.requests.some((r) =>
        r.path.includes("labelSelector=kubernetes.io%2Fservice-name%3Dhigress-gateway"),
      ),
    ).toBe(true);

    // Idempotent: a late retry finds the block released and patches nothing.
    const late = await signed(record(GW_B, "d-b7"), "d-b7");
    expect(late.json).toMatchObject({ duplicate: true, outcome: "already-released" });
    expect(patches()).toHaveLength(1);
  });

  it("does not release a GameServer that is not PreDelete, and does once it is", async () => {
    kube.touch(NS, GS, (o) => {
      (o.status as Record<string, string>).currentState = "Ready";
    });
    await signed(record(GW_A, "d-a2"), "d-a2");
    const res = await signed(record(GW_B, "d-b2"), "d-b2");
    expect(res.json.outcome).toBe("not-predelete");
    expect(patches()).toHaveLength(0);
    kube.touch(NS, GS, (o) => {
      (o.status as Record<string, string>).currentState = "PreDelete";
    });
    // The receiver's own timer re-checks pending hosts.
    await waitFor("the periodic re-check to release", () => label() === "false", 5_000);
    expect(patches()).toHaveLength(1);
  });

  it("drops hosts whose GameServer is gone or that map to no GameServer", async () => {
    await signed(record(GW_A, "d-x", "game9.postio.example.com"), "d-x");
    const gone = await signed(record(GW_B, "d-y", "game9.postio.example.com"), "d-y");
    expect(gone.json.outcome).toBe("gone");
    const foreign = await signed(record(GW_A, "d-z", "lobby.postio.example.com"), "d-z");
    expect(foreign.json.outcome).toBe("unknown-host");
    expect(patches()).toHaveLength(0);
  });

  it("with a configured list of gateway ids, needs exactly those", async () => {
    await stopAll();
    await startAll({ GATEWAY_SERVICE: "", GATEWAYS: "gw-a,gw-b" });
    expect((await signed(record("gw-a", "d-1"), "d-1")).json.outcome).toBe("waiting-for-replicas");
    expect((await signed(record("gw-b", "d-2"), "d-2")).json.outcome).toBe("released");
    expect(kube.requests.some((r) => r.path.includes("endpointslices"))).toBe(false);
  });
});

describe("freshness: a signed time inside the window, a per-episode ledger with expiry", () => {
  beforeEach(startAllAtT0);
  afterEach(stopAll);

  it("a delivery signed longer ago than the window (300 s by default) is refused: 401 stale, nothing recorded", async () => {
    const body = record(GW_A, "d-a1");
    const stale = await signed(body, "d-a1", SECRET, nowSeconds() - 301);
    expect(stale.status).toBe(401);
    expect(stale.json.reason).toBe("stale");
    expect(rx.ledger.get(HOST)).toBeUndefined();
    expect(kube.requests).toEqual([]);
    expect(rx.metrics.rejectedFor("stale")).toBe(1);
    expect(rx.metrics.render()).toContain('conn_drain_receiver_rejected_total{reason="stale"} 1');
    // The edge of the window is still inside it.
    expect((await signed(body, "d-a1", SECRET, nowSeconds() - 300)).status).toBe(200);
  });

  it("a delivery signed too far in the future is refused: 401 future; skew inside the window is forgiven", async () => {
    const body = record(GW_A, "d-a1");
    const future = await signed(body, "d-a1", SECRET, nowSeconds() + 301);
    expect(future.status).toBe(401);
    expect(future.json.reason).toBe("future");
    expect(rx.ledger.get(HOST)).toBeUndefined();
    const skewed = await signed(body, "d-a1", SECRET, nowSeconds() + 200);
    expect(skewed).toMatchObject({ status: 200, json: { outcome: "waiting-for-replicas" } });
  });

  it("a changed signed time does not verify: t is inside the HMAC", async () => {
    const body = record(GW_A, "d-a1");
    const h = headersOf(body, "d-a1", nowSeconds() - 400);
    const moved = h["x-conn-drain-signature"].replace(/^t=\d+/, `t=${nowSeconds()}`);
    const res = await post(body, { ...h, "x-conn-drain-signature": moved });
    expect(res).toMatchObject({ status: 401, json: { reason: "mismatch" } });
  });

  it("a retry hours later, signed afresh, is accepted and recognised as a repeat", async () => {
    const body = record(GW_A, "d-a1");
    expect((await signed(body, "d-a1")).json.duplicate).toBe(false);
    clock += 2 * 3600_000;
    const retry = await signed(body, "d-a1");
    expect(retry).toMatchObject({ status: 200, json: { duplicate: true } });
  });

  it("replaying a released episode, even inside the window and with the game server re-created in PreDelete, releases nothing", async () => {
    const { a, b, ha, hb } = bothReplicasReports();
    await post(a, ha);
    expect((await post(b, hb)).json.outcome).toBe("released");
    expect(patches()).toHaveLength(1);
    // OKG deletes it; a GameServer of the same name comes back and is scaled down again.
    kube.setGameServer(NS, GS, "PreDelete", { [LABEL]: "true" });
    clock += 60_000;
    const again = [await post(a, ha), await post(b, hb)];
    for (const r of again) expect(r).toMatchObject({ status: 200, json: { duplicate: true } });
    expect(patches()).toHaveLength(1);
    expect(label()).toBe("true");
    // A new drain of the new game server needs new reports from every replica: the replayed
    // old episode of replica A does not count for it.
    const fresh = await signed(record(GW_B, "d-b2", HOST, new Date(clock).toISOString()), "d-b2");
    expect(fresh.json).toMatchObject({ duplicate: false, outcome: "waiting-for-replicas" });
    await post(a, ha);
    expect(patches()).toHaveLength(1);
    expect(label()).toBe("true");
  });

  it("after a receiver restart, a replay signed outside the window is refused", async () => {
    const { a, b, ha, hb } = bothReplicasReports();
    await post(a, ha);
    await post(b, hb);
    expect(patches()).toHaveLength(1);
    await rx.close();
    kube.setGameServer(NS, GS, "PreDelete", { [LABEL]: "true" });
    clock += 301_000;
    await startReceiverOnly();
    for (const [body, h] of [
      [a, ha],
      [b, hb],
    ] as const) {
      expect(await post(body, h)).toMatchObject({ status: 401, json: { reason: "stale" } });
    }
    expect(patches()).toHaveLength(1);
    expect(label()).toBe("true");
  });

  it("what the window leaves: right after a restart, a replay signed inside it counts again as a report", async () => {
    const a = record(GW_A, "d-a1");
    const ha = headersOf(a, "d-a1");
    await post(a, ha);
    await rx.close();
    clock += 60_000;
    await startReceiverOnly();
    // The restarted receiver has no memory of d-a1: inside the window it is a fresh report
    // (docs/okg.md, "Webhook signature": why this cannot release on its own).
    expect((await post(a, ha)).json).toMatchObject({ duplicate: false });
  });

  it("after a restart, every replica's replayed report inside the window still cannot release a GameServer created after those drains", async () => {
    const { a, b, ha, hb } = bothReplicasReports();
    await post(a, ha);
    expect((await post(b, hb)).json.outcome).toBe("released");
    await rx.close();
    clock += 60_000;
    await startReceiverOnly();
    // The game server is re-created under the same name after those drains completed, and is
    // scaled down again: the replays are fresh to the new ledger, but predate the GameServer.
    kube.setGameServer(NS, GS, "PreDelete", { [LABEL]: "true" }, new Date(clock).toISOString());
    await post(a, ha);
    expect((await post(b, hb)).json).toMatchObject({ outcome: "waiting-for-replicas" });
    expect(patches()).toHaveLength(1);
    expect(label()).toBe("true");
  });

  it("ledger entries expire: an old report stops counting, is forgotten, and a late delivery of it is ignored", async () => {
    await rx.close();
    await startReceiverOnly({}, { ...testClock, ledgerTtlSeconds: 3600 });
    // completedAt 10:05, ledger TTL 1 h: the report counts until 11:05.
    await signed(record(GW_A, "d-a1"), "d-a1");
    expect(rx.ledger.get(HOST)?.reports.get(GW_A)).toBe("d-a1");
    expect(rx.ledger.size()).toBe(1);
    clock = Date.parse("2026-05-01T11:05:00.000Z");
    expect(rx.ledger.get(HOST)).toBeUndefined();
    expect(rx.ledger.size()).toBe(0);
    // Replica B completes a later drain: A's expired report must not make it "all reported".
    const later = "2026-05-01T11:04:30.000Z";
    const b = await signed(record(GW_B, "d-b9", HOST, later), "d-b9");
    expect(b.json).toMatchObject({ duplicate: false, outcome: "waiting-for-replicas" });
    expect(patches()).toHaveLength(0);
    // A delivery of A's episode now, signed afresh (a late retry), is authentic but expired.
    const late = await signed(record(GW_A, "d-a1"), "d-a1");
    expect(late).toMatchObject({ status: 200, json: { outcome: "expired" } });
    expect(rx.ledger.get(HOST)?.reports.has(GW_A)).toBe(false);
    expect(rx.metrics.expired).toBe(1);
    expect(patches()).toHaveLength(0);
  });

  it("SIGNATURE_TOLERANCE_SECONDS and LEDGER_TTL_SECONDS come from the environment, checked", async () => {
    expect(freshnessFromEnv({})).toEqual({});
    expect(
      freshnessFromEnv({ SIGNATURE_TOLERANCE_SECONDS: "60", LEDGER_TTL_SECONDS: "7200" }),
    ).toEqual({ toleranceSeconds: 60, ledgerTtlSeconds: 7200 });
    for (const bad of ["0", "-5", "1.5", "abc", "3601"]) {
      expect(() => freshnessFromEnv({ SIGNATURE_TOLERANCE_SECONDS: bad })).toThrow(
        /SIGNATURE_TOLERANCE_SECONDS must be a whole number of seconds from 1 to 3600/,
      );
    }
    expect(() => freshnessFromEnv({ LEDGER_TTL_SECONDS: "59" })).toThrow(/LEDGER_TTL_SECONDS/);
    await rx.close();
    await startReceiverOnly(
      {},
      { ...testClock, ...freshnessFromEnv({ SIGNATURE_TOLERANCE_SECONDS: "60" }) },
    );
    const body = record(GW_A, "d-a1");
    expect((await signed(body, "d-a1", SECRET, nowSeconds() - 61)).json.reason).toBe("stale");
    expect((await signed(body, "d-a1", SECRET, nowSeconds() - 60)).status).toBe(200);
  });
});

describe("the whole path: plugin on two gateway replicas → receiver → GameServer released", () => {
  const replicas: LocalGateway[] = [];
  let game: GameServer;

  afterAll(async () => {
    for (const r of replicas) await r.close();
    await game?.close();
    await rx?.close();
    await kube?.close();
  });

  it("releases the block only after both replicas' drains completed", async () => {
    // Real time: the plugin signs with the gateway's clock, the receiver checks with its own.
    await startAll({}, {});
    game = await startGameServer("game3");
    const hook = receiverWebhook(rx.port, SECRET);
    for (const id of [GW_A, GW_B]) {
      replicas.push(
        await startLocalGateway({
          workers: 2,
          nodeId: id,
          config: pluginConfig({ webhook: hook.webhook }),
          routes: [{ host: HOST, address: game.address, cluster: defaultCluster(HOST, "0:5000") }],
          clusters: hook.clusters,
        }),
      );
    }
    const [a, b] = replicas as [LocalGateway, LocalGateway];
    const pa = await joinGame(a.url, HOST, 1);
    const pb = await joinGame(b.url, HOST, 2);
    for (const r of replicas) await new AdminClient(r.url, ADMIN_TOKEN).startDrain(HOST);

    await pa.leave();
    await waitFor("replica a's report", () => rx.ledger.get(HOST)?.reports.has(GW_A));
    expect(label()).toBe("true");
    await pb.leave();
    await waitFor("the block to be released", () => label() === "false", 10_000);
    expect(patches()).toHaveLength(1);
    expect(lines.some((l) => l.includes(`${HOST}: released`))).toBe(true);
    const text = rx.metrics.render();
    expect(text).toContain('conn_drain_receiver_drain_reports_total{reason="drained"} 2');
    expect(text).toContain("conn_drain_receiver_drain_duration_seconds_count 2");
    expect(text).toContain('conn_drain_receiver_decisions_total{outcome="released"} 1');
  });
});
