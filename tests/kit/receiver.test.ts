// The drain receiver (receiver/) against a stand-in Kubernetes API server (fake-kube.ts):
// signature and idempotency checks, waiting for every gateway replica, the PreDelete check, the
// merge-patch of the GameServer label; and the whole path with the real plugin: two local
// gateway replicas drain a host and their webhooks make the receiver release the block.
import { request } from "node:http";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { AdminClient } from "../../gateway/demo/admin-client.js";
import { type GameServer, startGameServer } from "../../gateway/demo/game-server.js";
import { joinGame } from "../../gateway/demo/players.js";
import { ADMIN_TOKEN, pluginConfig } from "../../gateway/demo/testbed.js";
import { waitFor } from "../../gateway/demo/wait.js";
import { defaultCluster } from "../../gateway/routes.js";
import { type LocalGateway, startLocalGateway } from "../../gateway/server.js";
import { loadConfig } from "../../receiver/config.js";
import { Kube } from "../../receiver/kube.js";
import { type Receiver, startReceiver } from "../../receiver/server.js";
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

async function startAll(env: Record<string, string> = {}): Promise<void> {
  kube = new FakeKube(KUBE_TOKEN);
  await kube.start();
  kube.setGameServer(NS, GS, "PreDelete", { [LABEL]: "true" });
  kube.setEndpoints("higress-system", "higress-gateway", [
    { ip: "10.0.0.11", pod: "higress-gateway-7d9f-a", ready: true },
    { ip: "10.0.0.12", pod: "higress-gateway-7d9f-b", ready: false },
  ]);
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
  rx = await startReceiver(c, new Kube({ server: kube.url, token: () => KUBE_TOKEN }), (l) =>
    lines.push(l),
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

function record(gateway: string, episode: string, host = HOST): string {
  return JSON.stringify({
    event: "drain_complete",
    host,
    episode,
    startedAt: "2026-05-01T10:00:00.000Z",
    completedAt: "2026-05-01T10:05:00.000Z",
    reason: "drained",
    remaining: 0,
    gateway,
    upstreams: ["10.1.0.3:5000"],
  });
}

const signed = (body: string, episode: string, secret = SECRET) =>
  post(body, { "x-conn-drain-signature": sign(body, secret), "idempotency-key": episode });

const patches = () => kube.requests.filter((r) => r.method === "PATCH");
const label = () =>
  (kube.gameServer(NS, GS)?.metadata as { labels?: Record<string, string> } | undefined)?.labels?.[
    LABEL
  ];

describe("drain receiver against a stand-in Kubernetes API", () => {
  beforeEach(() => startAll());
  afterEach(async () => {
    await rx.close();
    await kube.close();
  });

  it("rejects forged, malformed and mismatched deliveries before touching the API", async () => {
    const body = record(GW_A, "d-1");
    expect((await signed(body, "d-1", "another-secret-0123456789")).status).toBe(401);
    expect((await post(body, { "idempotency-key": "d-1" })).status).toBe(401);
    expect((await signed(body, "d-other")).status).toBe(400);
    expect((await signed('{"event":"something_else"}', "d-1")).status).toBe(400);
    expect(kube.requests).toEqual([]);
    expect(rx.metrics.rejected).toBe(4);
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
    await rx.close();
    await kube.close();
    await startAll({ GATEWAY_SERVICE: "", GATEWAYS: "gw-a,gw-b" });
    expect((await signed(record("gw-a", "d-1"), "d-1")).json.outcome).toBe("waiting-for-replicas");
    expect((await signed(record("gw-b", "d-2"), "d-2")).json.outcome).toBe("released");
    expect(kube.requests.some((r) => r.path.includes("endpointslices"))).toBe(false);
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
    await startAll();
    game = await startGameServer("game3");
    const hook = "outbound|8080||conn-drain-receiver.ops.svc.cluster.local";
    for (const id of [GW_A, GW_B]) {
      replicas.push(
        await startLocalGateway({
          workers: 2,
          nodeId: id,
          config: pluginConfig({
            webhook: {
              cluster: hook,
              authority: "conn-drain-receiver.ops",
              path: "/drained",
              secret: SECRET,
            },
          }),
          routes: [{ host: HOST, address: game.address, cluster: defaultCluster(HOST, "0:5000") }],
          clusters: { [hook]: `127.0.0.1:${rx.port}` },
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
