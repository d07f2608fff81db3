// --host under each keyBy (issue 10, finding 2): the CLI sends the name as given and follows the
// key the replicas answer with, so a case-sensitive cluster name, or a Host with a port and
// capitals, names the same key the plugin counts streams under. Real local gateways, real players.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GameServer, startGameServer } from "../../gateway/demo/game-server.js";
import { joinGame, type Player } from "../../gateway/demo/players.js";
import { ADMIN_TOKEN, pluginConfig } from "../../gateway/demo/testbed.js";
import { type LocalGateway, startLocalGateway } from "../../gateway/server.js";
import { runCli, scratchProject } from "./helpers.js";

const HOST = "game3.postio.example.com";
const IDLE = "game33.postio.example.com";
/** Higress's cluster for a Nacos service: upper case in the group name. */
const NACOS = "outbound|5000||game3.DEFAULT-GROUP.public.nacos";

let game: GameServer;
const byCluster: LocalGateway[] = [];
let byAuthority: LocalGateway | undefined;
const players: Player[] = [];
let dir = "";

const addr = (r: LocalGateway | undefined) => `127.0.0.1:${r?.port}`;
const clusterReplicas = () => byCluster.map(addr).join(",");
const cli = (args: string[]) =>
  runCli(args, { cwd: dir, env: { CONN_DRAIN_ADMIN_TOKEN: ADMIN_TOKEN } });

beforeAll(async () => {
  dir = scratchProject();
  game = await startGameServer("game3");
  const routes = [
    { host: HOST, address: game.address, cluster: NACOS },
    { host: IDLE, address: game.address, cluster: "outbound|5000||game33.default.svc" },
  ];
  for (const id of ["higress-gateway-a", "higress-gateway-b"]) {
    byCluster.push(
      await startLocalGateway({
        workers: 2,
        config: pluginConfig({ webhook: undefined, keyBy: "cluster", hosts: [] }),
        routes,
        nodeId: id,
      }),
    );
  }
  byAuthority = await startLocalGateway({
    workers: 2,
    config: pluginConfig({ webhook: undefined }),
    routes,
    nodeId: "higress-gateway-c",
  });
  // 2 players through a, 1 through b.
  for (const [i, r] of [0, 0, 1].entries())
    players.push(await joinGame(byCluster[r]!.url, HOST, i));
});

afterAll(async () => {
  await Promise.allSettled(players.map((p) => p.leave(2_000)));
  for (const r of [...byCluster, byAuthority]) await r?.close();
  await game?.close();
});

describe("--host follows the gateway's keyBy", () => {
  it("keyBy cluster: status and drain take the Nacos cluster name in its own case", async () => {
    const s = await cli(["status", "-g", clusterReplicas(), "--host", NACOS, "--json"]);
    expect(s.err).toBe("");
    expect(s.code).toBe(0);
    expect(JSON.parse(s.out).hosts).toEqual([
      expect.objectContaining({
        host: NACOS,
        active: 3,
        replicas: [expect.objectContaining({ active: 2 }), expect.objectContaining({ active: 1 })],
      }),
    ]);

    const d = await cli(["drain", "-g", clusterReplicas(), "--host", NACOS, "--json"]);
    expect(d.err).toBe("");
    expect(d.code).toBe(0);
    const doc = JSON.parse(d.out);
    expect(doc.host).toBe(NACOS);
    expect(doc.replicas).toEqual([
      expect.objectContaining({
        result: "draining",
        drain: expect.objectContaining({ active: 2 }),
      }),
      expect.objectContaining({
        result: "draining",
        drain: expect.objectContaining({ active: 1 }),
      }),
    ]);

    const c = await cli(["drain", "--cancel", "-g", clusterReplicas(), "--host", NACOS]);
    expect(c.code).toBe(0);
  });

  it("keyBy authority: a Host with capitals and a port drains the replicas' key, and --wait follows it", async () => {
    const r = await cli([
      "drain",
      "-g",
      addr(byAuthority),
      "--host",
      "GAME33.Postio.Example.com:443",
      "--wait",
      "--timeout",
      "10",
      "--json",
    ]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ host: IDLE, action: "start" });
    expect(r.err).toContain(`conn-drain drain: ${IDLE} is drained on all 1 replicas`);
  });

  it("a name the gateway's keyBy can never count is refused with the replica's reason", async () => {
    const r = await cli(["drain", "-g", addr(byAuthority), "--host", NACOS]);
    expect(r.code).not.toBe(0);
    expect(r.err).toContain(
      `HTTP 400: query parameter host: under keyBy "authority" a host key is a Host header value and '|' never appears in one`,
    );
  });
});
