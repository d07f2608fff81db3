// deploy/probe.sh against two running local gateway replicas (each its own plugin instance with
// its own counts, like two Higress pods), run with the system's POSIX sh and curl.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdminClient } from "../../gateway/demo/admin-client.js";
import { type GameServer, startGameServer } from "../../gateway/demo/game-server.js";
import { joinGame, type Player } from "../../gateway/demo/players.js";
import { ADMIN_TOKEN, pluginConfig } from "../../gateway/demo/testbed.js";
import { waitFor } from "../../gateway/demo/wait.js";
import { defaultCluster } from "../../gateway/routes.js";
import { type LocalGateway, startLocalGateway } from "../../gateway/server.js";

const HOST = "game3.postio.example.com";
let game: GameServer;
const replicas: LocalGateway[] = [];
let dir = "";
let stateFile = "";
let tokenFile = "";

function probe(
  env: Record<string, string>,
  args: string[] = [],
): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      "sh",
      ["deploy/probe.sh", ...args],
      {
        env: {
          PATH: process.env.PATH ?? "/usr/bin:/bin",
          GS_STATE_FILE: stateFile,
          GS_HOST: HOST,
          GATEWAY_TOKEN_FILE: tokenFile,
          GATEWAY_ADDRS: replicas.map((r) => `127.0.0.1:${r.port}`).join(" "),
          PROBE_TIMEOUT: "3",
          ...env,
        },
        timeout: 20_000,
      },
      (err, stdout) => {
        const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
        resolve({ code, out: stdout.trim() });
      },
    );
  });
}

const admin = (r: LocalGateway) => new AdminClient(r.url, ADMIN_TOKEN);

/** The client sees its close a moment before or after the gateway does: wait, bounded. */
const activeBecomes = (r: LocalGateway, n: number) =>
  waitFor(`${r.url} to report ${n} active`, async () => (await admin(r).host(HOST)).active === n);

describe("deploy/probe.sh against two local gateway replicas", () => {
  const players: Player[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "conn-drain-probe-"));
    stateFile = join(dir, "state");
    tokenFile = join(dir, "token");
    writeFileSync(tokenFile, `${ADMIN_TOKEN}\n`);
    writeFileSync(stateFile, "Ready");
    game = await startGameServer("game3");
    const route = { host: HOST, address: game.address, cluster: defaultCluster(HOST, "0:5000") };
    for (const id of ["higress-gateway-a", "higress-gateway-b"]) {
      replicas.push(
        await startLocalGateway({
          workers: 2,
          config: pluginConfig({ webhook: undefined }),
          routes: [route],
          nodeId: id,
        }),
      );
    }
    // Players on both replicas: 3 through a, 2 through b.
    for (const [i, r] of [0, 0, 0, 1, 1].entries()) {
      players.push(await joinGame((replicas[r] as LocalGateway).url, HOST, i));
    }
  });

  afterAll(async () => {
    await Promise.allSettled(players.map((p) => p.leave(2_000)));
    for (const r of replicas) await r.close();
    await game?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("does nothing unless the game server is PreDelete", async () => {
    expect(await probe({})).toEqual({ code: 1, out: "not-predelete" });
    expect(await probe({ GS_STATE_FILE: join(dir, "missing") })).toEqual({
      code: 1,
      out: "not-predelete",
    });
    for (const r of replicas) expect(await admin(r).drains()).toEqual([]);
  });

  it("in PreDelete, starts a drain on every replica and waits while any has players", async () => {
    writeFileSync(stateFile, "PreDelete\n");
    expect(await probe({})).toEqual({ code: 1, out: "waiting" });
    const episodes: string[] = [];
    for (const r of replicas) {
      const [d] = await admin(r).drains();
      expect(d).toMatchObject({ host: HOST, state: "draining" });
      episodes.push(d?.episode ?? "");
    }
    // Running again keeps the same episodes (the POST is only sent where none runs).
    expect(await probe({})).toEqual({ code: 1, out: "waiting" });
    for (const [i, r] of replicas.entries()) {
      expect((await admin(r).drains())[0]?.episode).toBe(episodes[i]);
    }
  });

  it("keeps waiting while one replica still has players", async () => {
    await Promise.all(players.slice(0, 3).map((p) => p.leave()));
    await activeBecomes(replicas[0] as LocalGateway, 0);
    expect((await admin(replicas[1] as LocalGateway).host(HOST)).active).toBe(2);
    expect(await probe({})).toEqual({ code: 1, out: "waiting" });
  });

  it("prints done and exits 0 once every replica reports zero", async () => {
    await Promise.all(players.map((p) => p.leave()));
    for (const r of replicas) await activeBecomes(r, 0);
    expect(await probe({})).toEqual({ code: 0, out: "done" });
    // Completed drains are not restarted by later runs.
    expect(await probe({})).toEqual({ code: 0, out: "done" });
    for (const r of replicas) {
      const ds = await admin(r).drains();
      expect(ds).toHaveLength(1);
      expect(ds[0]?.state).toBe("completed");
    }
  });

  it("derives the host from the pod name and OKG's <id> template", async () => {
    const env = {
      GS_HOST: "",
      GS_HOST_TEMPLATE: "game<id>.postio.example.com",
      POD_NAME: "postio-3",
    };
    expect(await probe(env)).toEqual({ code: 0, out: "done" });
    expect(await probe({ ...env, POD_NAME: "postio-4" })).toMatchObject({ out: "done" });
  });

  it("finds replicas through DNS with curl alone", async () => {
    const env = {
      GATEWAY_ADDRS: "",
      GATEWAY_SERVICE: "localhost",
      GATEWAY_IP_FAMILY: "4",
      GATEWAY_PORT: String(replicas[0]?.port),
    };
    expect(await probe(env)).toEqual({ code: 0, out: "done" });
  });

  it("never says done on partial information", async () => {
    // A refused token is a setting to fix, not a replica to wait for.
    expect(
      await probe({ GATEWAY_TOKEN_FILE: "", GATEWAY_TOKEN: "wrong-token-0123456789" }),
    ).toEqual({
      code: 1,
      out: "misconfigured",
    });
    expect(await probe({ GATEWAY_ADDRS: `127.0.0.1:${replicas[0]?.port} 127.0.0.1:1` })).toEqual({
      code: 1,
      out: "unreachable",
    });
    expect(await probe({ GATEWAY_ADDRS: "" })).toEqual({ code: 1, out: "misconfigured" });
    expect(await probe({ GS_HOST: "" })).toEqual({ code: 1, out: "misconfigured" });
  });
});

describe("deploy/probe.sh with drain.quietSeconds", () => {
  const QUIET_HOST = "game5.postio.example.com";
  let quietGame: GameServer;
  let gw: LocalGateway;
  let quietDir = "";

  beforeAll(async () => {
    quietDir = mkdtempSync(join(tmpdir(), "conn-drain-probe-quiet-"));
    writeFileSync(join(quietDir, "state"), "PreDelete\n");
    writeFileSync(join(quietDir, "token"), `${ADMIN_TOKEN}\n`);
    quietGame = await startGameServer("game5");
    const cluster = defaultCluster(QUIET_HOST, "0:5000");
    gw = await startLocalGateway({
      workers: 2,
      config: pluginConfig({
        webhook: undefined,
        drain: { rejectNew: true, retryAfterSeconds: 5, quietSeconds: 1 },
      }),
      routes: [{ host: QUIET_HOST, address: quietGame.address, cluster }],
      nodeId: "higress-gateway-q",
    });
  });

  afterAll(async () => {
    await gw?.close();
    await quietGame?.close();
    if (quietDir) rmSync(quietDir, { recursive: true, force: true });
  });

  it("says done only once the drain has waited out its quiet period, not at the first zero", async () => {
    const env = {
      GS_HOST: QUIET_HOST,
      GATEWAY_ADDRS: `127.0.0.1:${gw.port}`,
      GS_STATE_FILE: join(quietDir, "state"),
      GATEWAY_TOKEN_FILE: join(quietDir, "token"),
    };
    const player = await joinGame(gw.url, QUIET_HOST, 0);
    expect(await probe(env)).toEqual({ code: 1, out: "waiting" });
    await player.leave();
    const client = new AdminClient(gw.url, ADMIN_TOKEN);
    await waitFor(
      "the host to report 0 active",
      async () => (await client.host(QUIET_HOST)).active === 0,
    );
    // At zero, but the drain still waits for a reconnecting player: not done yet.
    expect((await client.host(QUIET_HOST)).drain).toMatchObject({ state: "draining" });
    expect(await probe(env)).toEqual({ code: 1, out: "waiting" });
    await waitFor(
      "the quiet period to end the drain",
      async () => (await client.host(QUIET_HOST)).drain?.state === "completed",
    );
    expect(await probe(env)).toEqual({ code: 0, out: "done" });
  });
});
