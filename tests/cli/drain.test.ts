// `conn-drain drain` against two real local gateway replicas (gateway/, each its own plugin
// instance, like two Higress pods) with real WebSocket players, as tests/kit/probe.test.ts does.
// Every check of a replica's state reads its admin path directly, not through the CLI.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdminClient } from "../../gateway/demo/admin-client.js";
import { type GameServer, startGameServer } from "../../gateway/demo/game-server.js";
import { joinGame, type Player } from "../../gateway/demo/players.js";
import { ADMIN_TOKEN, pluginConfig } from "../../gateway/demo/testbed.js";
import { waitFor } from "../../gateway/demo/wait.js";
import { defaultCluster } from "../../gateway/routes.js";
import { type LocalGateway, startLocalGateway } from "../../gateway/server.js";
import { runCli, scratchProject } from "./helpers.js";

const HOST = "game5.postio.example.com";
const OTHER = "game6.postio.example.com";
let game: GameServer;
const replicas: LocalGateway[] = [];
const players: Player[] = [];
let dir = "";
let dead = "";

const addr = (r: LocalGateway | undefined) => `127.0.0.1:${r?.port}`;
const both = () => replicas.map(addr).join(",");
const admin = (r: LocalGateway) => new AdminClient(r.url, ADMIN_TOKEN);
const drainOf = async (r: LocalGateway, host = HOST) =>
  (await admin(r).drains()).find((d) => d.host === host);
const drain = (args: string[], token = ADMIN_TOKEN) =>
  runCli(["drain", ...args], { cwd: dir, env: { CONN_DRAIN_ADMIN_TOKEN: token } });
const oneLine = (s: string) => expect(s.trim().split("\n")).toHaveLength(1);

beforeAll(async () => {
  dir = scratchProject();
  game = await startGameServer("game5");
  const routes = [HOST, OTHER].map((host) => ({
    host,
    address: game.address,
    cluster: defaultCluster(host, "0:5000"),
  }));
  for (const id of ["higress-gateway-a", "higress-gateway-b"]) {
    replicas.push(
      await startLocalGateway({
        workers: 2,
        config: pluginConfig({ webhook: undefined }),
        routes,
        nodeId: id,
      }),
    );
  }
  // 2 players through a, 1 through b.
  for (const [i, r] of [0, 0, 1].entries()) players.push(await joinGame(replicas[r]!.url, HOST, i));
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  dead = `127.0.0.1:${(s.address() as AddressInfo).port}`;
  await new Promise((r) => s.close(r));
});

afterAll(async () => {
  await Promise.allSettled(players.map((p) => p.leave(2_000)));
  for (const r of replicas) await r.close();
  await game?.close();
});

describe("drain", () => {
  it("starts the drain on every replica and prints each one's answer", async () => {
    const r = await drain(["--host", HOST, "--deadline-seconds", "3600", "-g", both()]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const [head, a, b] = r.out.trim().split("\n");
    expect(head).toMatch(/^REPLICA +RESULT +EPISODE +ACTIVE +DETAIL$/);
    expect(a).toMatch(
      new RegExp(`^${addr(replicas[0])} +draining +d-\\S+ +2 +gateway higress-gateway-a$`),
    );
    expect(b).toMatch(
      new RegExp(`^${addr(replicas[1])} +draining +d-\\S+ +1 +gateway higress-gateway-b$`),
    );
    const episodes: string[] = [];
    for (const rep of replicas) {
      const d = await drainOf(rep);
      expect(d).toMatchObject({ state: "draining" });
      expect((d as unknown as { deadline: string }).deadline).toMatch(/^\d{4}-/);
      episodes.push(d!.episode);
    }
    // Again: idempotent, same episodes.
    const again = await drain(["--host", HOST, "-g", both(), "--json"]);
    expect(again.code).toBe(0);
    const doc = JSON.parse(again.out);
    expect(doc).toMatchObject({ host: HOST, action: "start" });
    expect(doc.replicas.map((x: { drain: { episode: string } }) => x.drain.episode)).toEqual(
      episodes,
    );
  });

  it("status shows the drain running down, and drained only once every replica is at 0", async () => {
    const status = () =>
      runCli(["status", "-g", both(), "--host", HOST], {
        cwd: dir,
        env: { CONN_DRAIN_ADMIN_TOKEN: ADMIN_TOKEN },
      });
    let s = await status();
    expect(s.out).toMatch(/ +3 +2 +1 +draining +- +no$/m);
    await Promise.all(players.slice(0, 2).map((p) => p.leave()));
    await waitFor(
      "replica a at 0",
      async () => (await admin(replicas[0]!).host(HOST)).active === 0,
    );
    s = await status();
    // a completed, b still draining: not drained.
    expect(s.out).toMatch(
      / +1 +0 +1 +completed \(drained\) 1\/2, draining 1\/2 +- 1\/2, none 1\/2 +no$/m,
    );
  });

  it("--wait returns once every replica reports the host drained", async () => {
    const waiting = drain([
      "--host",
      HOST,
      "-g",
      both(),
      "--wait",
      "--interval",
      "0.1",
      "--timeout",
      "30",
    ]);
    // The player leaves while the command is polling.
    await waitFor(
      "the drain running on b",
      async () => (await drainOf(replicas[1]!))?.state === "draining",
    );
    await players[2]!.leave();
    const r = await waiting;
    expect(r.code).toBe(0);
    expect(r.err).toMatch(
      new RegExp(
        `\\[\\d+s\\] ${HOST.replace(/\./g, "\\.")}: 0 active \\(\\S+=0 \\S+=0\\), drain completed \\(drained\\)`,
      ),
    );
    expect(r.err).toMatch(/is drained on all 2 replicas\n$/);
    const s = await runCli(["status", "-g", both()], {
      cwd: dir,
      env: { CONN_DRAIN_ADMIN_TOKEN: ADMIN_TOKEN },
    });
    expect(s.out).toMatch(/ +0 +0 +0 +completed \(drained\) +none +yes$/m);
  });

  it("--wait gives up after --timeout while a player stays", async () => {
    const p = await joinGame(replicas[1]!.url, OTHER, 7);
    try {
      const t0 = Date.now();
      const r = await drain([
        "--host",
        OTHER,
        "-g",
        both(),
        "--wait",
        "--interval",
        "0.2",
        "--timeout",
        "1",
      ]);
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(r.code).toBe(1);
      oneLine(
        r.err
          .split("\n")
          .filter((l) => l.startsWith("conn-drain"))
          .join("\n"),
      );
      expect(r.err).toMatch(
        /conn-drain drain: game6\.postio\.example\.com not drained after 1s: 1 players still connected — wait longer/,
      );
    } finally {
      await p.leave();
    }
  });

  it("--cancel cancels on every replica; again is fine; an unknown host is an error", async () => {
    // The drain of OTHER ended when its player left; start a new episode with a player on it.
    // (On both replicas: a replica without players completes a new drain at once.)
    const ps = await Promise.all(replicas.map((r, i) => joinGame(r.url, OTHER, 8 + i)));
    expect((await drain(["--host", OTHER, "-g", both()])).code).toBe(0);
    const c = await drain(["--cancel", "--host", OTHER, "-g", both()]);
    await Promise.all(ps.map((p) => p.leave()));
    expect(c.code).toBe(0);
    expect(c.out).toMatch(/ +cancelled +d-\S+ +\d+ +gateway higress-gateway-a$/m);
    for (const rep of replicas) expect((await drainOf(rep, OTHER))?.state).toBe("cancelled");
    expect((await drain(["--cancel", "--host", OTHER, "-g", both()])).code).toBe(0);
    const none = await drain(["--cancel", "--host", "game99.postio.example.com", "-g", both()]);
    expect(none.code).toBe(1);
    expect(none.err).toBe(
      "conn-drain drain: no drain of game99.postio.example.com on any of the 2 replicas — check the host name with 'conn-drain status'\n",
    );
  });

  it("a drain that already completed cannot be cancelled (exit 6)", async () => {
    const r = await drain(["--cancel", "--host", HOST, "-g", both()]);
    expect(r.code).toBe(6);
    oneLine(r.err);
    expect(r.err).toMatch(
      /^conn-drain drain: cancelling the drain of game5\.postio\.example\.com failed on 2 of 2 replicas: .*HTTP 409: the drain of .* already ended.* — the drain already completed there/,
    );
  });

  it("names the unreachable replica, exits 3, and the others still drain", async () => {
    const host = "game7.postio.example.com";
    const r = await drain(["--host", host, "-g", `${addr(replicas[0])},${dead}`]);
    expect(r.code).toBe(3);
    expect(r.out).toMatch(new RegExp(`^${dead} +failed +- +- +unreachable: ECONNREFUSED`, "m"));
    oneLine(r.err);
    expect(r.err).toMatch(
      new RegExp(
        `^conn-drain drain: starting the drain of ${host.replace(/\./g, "\\.")} failed on 1 of 2 replicas: ${dead} \\(unreachable: ECONNREFUSED.*\\) — the other replicas are draining; fix these and rerun`,
      ),
    );
    expect((await drainOf(replicas[0]!, host))?.state).not.toBe(undefined);
  });

  it("a wrong token is exit 4 and starts nothing", async () => {
    const host = "game8.postio.example.com";
    const r = await drain(["--host", host, "-g", both()], "wrong-token-0123456789");
    expect(r.code).toBe(4);
    oneLine(r.err);
    expect(r.err).toMatch(
      /failed on 2 of 2 replicas: .*HTTP 401.* — give the plugin's admin.token/,
    );
    for (const rep of replicas) expect(await drainOf(rep, host)).toBeUndefined();
  });

  it("against a plugin guarded by allowCidrs alone, a drain is refused and the hint says a token is needed", async () => {
    const cidrOnly = await startLocalGateway({
      workers: 1,
      config: pluginConfig({ webhook: undefined, admin: { allowCidrs: ["127.0.0.0/8"] } }),
      routes: [{ host: HOST, address: game.address, cluster: defaultCluster(HOST, "0:5000") }],
      nodeId: "higress-gateway-cidr",
    });
    try {
      const r = await drain(["--host", HOST, "-g", addr(cidrOnly)], "any-token-0123456789");
      expect(r.code).toBe(4);
      oneLine(r.err);
      expect(r.err).toMatch(/HTTP 403.* — drains need the plugin's admin.token/);
      // Reads need no token there: status still works.
      const status = await runCli(["status", "-g", addr(cidrOnly)], { cwd: dir, env: {} });
      expect(status.code).toBe(0);
    } finally {
      await cidrOnly.close();
    }
  });

  it.each([
    [[], /--host HOST is required/],
    [["--host", HOST, "--deadline-seconds=-1"], /--deadline-seconds "-1" must be 0 to 2592000/],
    [
      ["--host", HOST, "--deadline-seconds", "2592001"],
      /--deadline-seconds "2592001" must be 0 to/,
    ],
    [
      ["--host", HOST, "--cancel", "--deadline-seconds", "5"],
      /--deadline-seconds goes with starting/,
    ],
    [
      ["--host", HOST, "--cancel", "--wait"],
      /--wait waits for a drain; it does not go with --cancel/,
    ],
    [["--host", HOST, "--timeout", "5"], /--timeout and --interval go with --wait/],
    [
      ["--host", HOST, "--wait", "--timeout", "soon"],
      /--timeout "soon" must be a number of seconds/,
    ],
    [["--host", "game 1"], /--host "game 1" is not a host name/],
    [["--host", HOST, "extra"], /unexpected argument "extra"/],
  ])("%j is a one-line usage error", async (args, message) => {
    const r = await drain([...(args as string[]), "-g", "127.0.0.1:1"]);
    expect(r.code).toBe(2);
    oneLine(r.err);
    expect(r.err).toMatch(message as RegExp);
  });
});
