// The receiver's configuration: several GameServerSets behind one receiver (the plugin has one
// webhook for every host it counts), the original single-set form still working, and every
// configuration mistake reported as one line naming the variable instead of a stack trace.
import { execFile } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { AdminClient } from "../../gateway/demo/admin-client.js";
import { type GameServer, startGameServer } from "../../gateway/demo/game-server.js";
import { joinGame } from "../../gateway/demo/players.js";
import { ADMIN_TOKEN, pluginConfig, receiverWebhook } from "../../gateway/demo/testbed.js";
import { waitFor } from "../../gateway/demo/wait.js";
import { defaultCluster } from "../../gateway/routes.js";
import { type LocalGateway, startLocalGateway } from "../../gateway/server.js";
import { gameServerFor, loadConfig, templatesOverlap } from "../../receiver/config.js";
import { Kube } from "../../receiver/kube.js";
import { type Receiver, startReceiver } from "../../receiver/server.js";
import { FakeKube } from "./fake-kube.js";

const SECRET = "receiver-config-test-secret-0123";
const base = { WEBHOOK_SECRET: SECRET, GATEWAYS: "gw-a" };
const TWO_SETS = [
  "game<id>.postio.example.com=default/postio-<id>",
  "<id>.arena.example.com=arena/arena-<id>",
].join("\n");

describe("several GameServerSets behind one receiver (HOST_TEMPLATES)", () => {
  it("maps each set's hosts to its own GameServers and namespace", () => {
    const c = loadConfig({ ...base, HOST_TEMPLATES: TWO_SETS });
    expect(gameServerFor(c, "game7.postio.example.com")).toEqual({
      namespace: "default",
      name: "postio-7",
    });
    expect(gameServerFor(c, "12.arena.example.com")).toEqual({
      namespace: "arena",
      name: "arena-12",
    });
    // Hosts arrive normalized by the plugin; a template's case does not matter.
    expect(gameServerFor(c, "GAME3.Postio.example.com")).toEqual({
      namespace: "default",
      name: "postio-3",
    });
    for (const host of [
      "game.postio.example.com",
      "gamex.postio.example.com",
      "game07.postio.example.com",
      "lobby.arena.example.com",
      "7.other.example.com",
    ]) {
      expect(gameServerFor(c, host), host).toBeUndefined();
    }
  });

  it("takes commas as well as newlines, and GAME_NAMESPACE for entries that name none", () => {
    const c = loadConfig({
      ...base,
      GAME_NAMESPACE: "games",
      HOST_TEMPLATES:
        "game<id>.postio.example.com=postio-<id>, <id>.arena.example.com=arena/arena-<id>",
    });
    expect(c.targets).toEqual([
      {
        hostTemplate: "game<id>.postio.example.com",
        namespace: "games",
        gameServerTemplate: "postio-<id>",
      },
      {
        hostTemplate: "<id>.arena.example.com",
        namespace: "arena",
        gameServerTemplate: "arena-<id>",
      },
    ]);
  });

  it("keeps HOST_TEMPLATE and GAMESERVER_TEMPLATE (one set) working", () => {
    const c = loadConfig({
      ...base,
      GAME_NAMESPACE: "games",
      HOST_TEMPLATE: "room<id>.example.com",
      GAMESERVER_TEMPLATE: "rooms-<id>",
    });
    expect(gameServerFor(c, "room4.example.com")).toEqual({ namespace: "games", name: "rooms-4" });
    expect(
      gameServerFor(
        loadConfig({ ...base, GAMESERVER_TEMPLATE: "postio-<id>" }),
        "game1.postio.example.com",
      ),
    ).toEqual({ namespace: "default", name: "postio-1" });
  });

  it("refuses templates that some host matches twice, and mixing both forms", () => {
    expect(templatesOverlap("game<id>.x.com", "game1<id>.x.com")).toBe(true); // game12.x.com
    expect(templatesOverlap("<id>.x.com", "a<id>.x.com")).toBe(false);
    expect(templatesOverlap("g<id>.x.com", "g<id>.y.com")).toBe(false);
    expect(templatesOverlap("<id>1.x.com", "1<id>.x.com")).toBe(true); // 11.x.com
    expect(templatesOverlap("<id>.x.com", "<id>.x.com")).toBe(true);
    expect(() =>
      loadConfig({ ...base, HOST_TEMPLATES: "game<id>.x.com=a-<id>,game1<id>.x.com=b-<id>" }),
    ).toThrow(/^HOST_TEMPLATES: "game<id>.x.com" and "game1<id>.x.com" both match some host/);
    expect(() =>
      loadConfig({ ...base, HOST_TEMPLATES: TWO_SETS, GAMESERVER_TEMPLATE: "postio-<id>" }),
    ).toThrow(/^GAMESERVER_TEMPLATE: set either HOST_TEMPLATES or this/);
  });
});

/** `node --import tsx receiver/main.ts` with exactly `env` (plus PATH); never listens long. */
function runMain(env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "receiver/main.ts"],
      { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env }, timeout: 30_000 },
      (err, _stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stderr });
      },
    );
  });
}

describe("configuration errors are one line naming the variable", () => {
  const ok = {
    WEBHOOK_SECRET: SECRET,
    GAMESERVER_TEMPLATE: "postio-<id>",
    GATEWAY_SERVICE: "higress-system/higress-gateway-replicas",
    KUBE_API: "http://127.0.0.1:9",
  };
  it.each([
    ["no secret", { ...ok, WEBHOOK_SECRET: "" }, "WEBHOOK_SECRET"],
    [
      "an unreadable secret file",
      { ...ok, WEBHOOK_SECRET_FILE: "/nonexistent/secret" },
      "WEBHOOK_SECRET_FILE",
    ],
    ["a short secret", { ...ok, WEBHOOK_SECRET: "short" }, "WEBHOOK_SECRET"],
    ["no GameServer template", { ...ok, GAMESERVER_TEMPLATE: "" }, "GAMESERVER_TEMPLATE"],
    ["a template without <id>", { ...ok, GAMESERVER_TEMPLATE: "postio" }, "GAMESERVER_TEMPLATE"],
    [
      "a host template without <id>",
      { ...ok, HOST_TEMPLATE: "game.postio.example.com" },
      "HOST_TEMPLATE",
    ],
    [
      "a malformed HOST_TEMPLATES entry",
      { ...ok, GAMESERVER_TEMPLATE: "", HOST_TEMPLATES: "game<id>.x.com" },
      "HOST_TEMPLATES",
    ],
    ["a bad gateway Service", { ...ok, GATEWAY_SERVICE: "higress-gateway" }, "GATEWAY_SERVICE"],
    ["a bad port", { ...ok, PORT: "http" }, "PORT"],
    ["a bad re-check period", { ...ok, RECHECK_SECONDS: "-1" }, "RECHECK_SECONDS"],
    [
      "a bad signature window",
      { ...ok, SIGNATURE_TOLERANCE_SECONDS: "5m" },
      "SIGNATURE_TOLERANCE_SECONDS",
    ],
  ])("%s", async (_what, env, variable) => {
    const { code, stderr } = await runMain(env as Record<string, string>);
    expect(code).toBe(2);
    const lines = stderr.trimEnd().split("\n");
    expect(lines, stderr).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(`^conn-drain receiver: configuration error: ${variable}[: ]`),
    );
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it("outside a cluster without KUBE_API, says so in one line", async () => {
    const { KUBE_API: _, ...env } = ok;
    const { code, stderr } = await runMain(env);
    expect(code).toBe(1);
    expect(stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(stderr).toMatch(/KUBERNETES_SERVICE_HOST/);
  });
});

describe("the whole path: one gateway, one webhook, two GameServerSets in two namespaces", () => {
  const GW = "higress-gateway-0";
  const LABEL = "gs-sync/delete-block";
  let kube: FakeKube;
  let rx: Receiver;
  let gateway: LocalGateway;
  const games: GameServer[] = [];

  afterAll(async () => {
    await gateway?.close();
    for (const g of games) await g.close();
    await rx?.close();
    await kube?.close();
  });

  it("releases a drained game server of either set", async () => {
    kube = new FakeKube("sa-token");
    await kube.start();
    kube.setGameServer("default", "postio-1", "PreDelete", { [LABEL]: "true" });
    kube.setGameServer("arena", "arena-4", "PreDelete", { [LABEL]: "true" });
    const lines: string[] = [];
    rx = await startReceiver(
      loadConfig({
        WEBHOOK_SECRET: SECRET,
        HOST_TEMPLATES: TWO_SETS,
        GATEWAYS: GW,
        LISTEN_HOST: "127.0.0.1",
        PORT: "0",
      }),
      new Kube({ server: kube.url, token: () => "sa-token" }),
      (l) => lines.push(l),
    );
    const hosts = ["game1.postio.example.com", "4.arena.example.com"];
    const routes = [];
    for (const host of hosts) {
      const g = await startGameServer(host.split(".")[0] as string);
      games.push(g);
      routes.push({ host, address: g.address, cluster: defaultCluster(host, "0:5000") });
    }
    const hook = receiverWebhook(rx.port, SECRET);
    gateway = await startLocalGateway({
      workers: 2,
      nodeId: GW,
      // One plugin, one webhook for every host it counts.
      config: pluginConfig({
        hosts: ["*.postio.example.com", "*.arena.example.com"],
        webhook: hook.webhook,
      }),
      routes,
      clusters: hook.clusters,
    });
    const admin = new AdminClient(gateway.url, ADMIN_TOKEN);
    const players = await Promise.all(hosts.map((h, i) => joinGame(gateway.url, h, i)));
    for (const h of hosts) await admin.startDrain(h);
    for (const p of players) await p.leave();
    const label = (ns: string, name: string) =>
      (kube.gameServer(ns, name)?.metadata as { labels?: Record<string, string> } | undefined)
        ?.labels?.[LABEL];
    await waitFor(
      "both game servers released",
      () => label("default", "postio-1") === "false" && label("arena", "arena-4") === "false",
    );
    expect(lines.filter((l) => l.endsWith(": released")).sort()).toEqual([
      "4.arena.example.com: released",
      "game1.postio.example.com: released",
    ]);
    expect(lines.some((l) => l.includes("unknown-host"))).toBe(false);
    const patched = kube.requests
      .filter((r) => r.method === "PATCH")
      .map((r) => r.path.split("?")[0]);
    expect(patched.sort()).toEqual([
      "/apis/game.kruise.io/v1alpha1/namespaces/arena/gameservers/arena-4",
      "/apis/game.kruise.io/v1alpha1/namespaces/default/gameservers/postio-1",
    ]);
  });
});
