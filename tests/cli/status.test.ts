// `conn-drain status` against real local gateway replicas (gateway/, each its own plugin instance
// with its own counts, like two Higress pods) carrying real WebSocket players, as
// tests/kit/probe.test.ts does. Endpoint discovery goes to a small STAND-IN for the Kubernetes API
// (below): no API server can run here. It serves only
// GET /apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices?labelSelector=kubernetes.io/service-name=…
// like the real one: an EndpointSliceList, 401/403 as metav1.Status, an empty list for a namespace
// or Service that does not exist.
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdminClient } from "../../gateway/demo/admin-client.js";
import { type GameServer, startGameServer } from "../../gateway/demo/game-server.js";
import { joinGame, type Player } from "../../gateway/demo/players.js";
import { ADMIN_TOKEN, pluginConfig } from "../../gateway/demo/testbed.js";
import { waitFor } from "../../gateway/demo/wait.js";
import { defaultCluster } from "../../gateway/routes.js";
import { type LocalGateway, startLocalGateway } from "../../gateway/server.js";
import { repoRoot, runCli, scratchProject } from "./helpers.js";

const HOST = "game4.postio.example.com";
let game: GameServer;
const replicas: LocalGateway[] = [];
const players: Player[] = [];
let dir = "";
let closedPort = 0;

const replica = (id: string) =>
  startLocalGateway({
    workers: 2,
    config: pluginConfig({ webhook: undefined }),
    routes: [{ host: HOST, address: game.address, cluster: defaultCluster(HOST, "0:5000") }],
    nodeId: id,
  });
const addr = (r: LocalGateway | undefined) => `127.0.0.1:${r?.port}`;
const env = { CONN_DRAIN_ADMIN_TOKEN: ADMIN_TOKEN };
const status = (args: string[], extra: Record<string, string> = {}) =>
  runCli(["status", ...args], { cwd: dir, env: { ...env, ...extra } });

/** A loopback port nothing listens on: bound, then closed. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

beforeAll(async () => {
  dir = scratchProject();
  game = await startGameServer("game4");
  replicas.push(await replica("higress-gateway-a"), await replica("higress-gateway-b"));
  // 3 players through a, 2 through b.
  for (const [i, r] of [0, 0, 0, 1, 1].entries())
    players.push(await joinGame(replicas[r]!.url, HOST, i));
  closedPort = await freePort();
});

afterAll(async () => {
  await Promise.allSettled(players.map((p) => p.leave(2_000)));
  for (const r of replicas) await r.close();
  await game?.close();
});

describe("status with --gateway", () => {
  it("has help with usage and examples, as drain does", async () => {
    for (const c of ["status", "drain"]) {
      const h = await runCli([c, "--help"], { cwd: dir });
      expect(h.code).toBe(0);
      expect(h.out).toMatch(new RegExp(`^Usage: conn-drain ${c} `));
      expect(h.out).toContain("Examples:");
    }
  });

  it("prints the host summed and per replica", async () => {
    const r = await status(["--gateway", `${addr(replicas[0])},http://${addr(replicas[1])}`]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const lines = r.out.trim().split("\n");
    expect(lines[0]).toMatch(
      new RegExp(
        `^HOST +ACTIVE +${addr(replicas[0])} +${addr(replicas[1])} +DRAIN +DELIVERY +DRAINED$`,
      ),
    );
    expect(lines[1]).toMatch(new RegExp(`^${HOST.replace(/\./g, "\\.")} +5 +3 +2 +- +- +no$`));
  });

  it("--host and --json give one host with each replica's view", async () => {
    const r = await status([
      "-g",
      addr(replicas[0]),
      "-g",
      addr(replicas[1]),
      "--host",
      HOST,
      "--json",
    ]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out);
    expect(doc.replicas).toEqual([
      expect.objectContaining({
        ok: true,
        gateway: "higress-gateway-a",
        url: `http://${addr(replicas[0])}`,
      }),
      expect.objectContaining({ ok: true, gateway: "higress-gateway-b" }),
    ]);
    expect(doc.hosts).toEqual([
      {
        host: HOST,
        active: 5,
        exact: true,
        drained: false,
        replicas: [
          { name: addr(replicas[0]), active: 3, drain: null },
          { name: addr(replicas[1]), active: 2, drain: null },
        ],
      },
    ]);
  });

  it("shows an unreachable replica and exits 3 naming it", async () => {
    const dead = `127.0.0.1:${closedPort}`;
    const r = await status(["--gateway", `${addr(replicas[0])},${dead}`]);
    expect(r.code).toBe(3);
    expect(r.out).toMatch(new RegExp(`${HOST.replace(/\./g, "\\.")} +3 +3 +\\? +- +- +no`));
    expect(r.out).toContain(`! replica http://${dead}: unreachable: ECONNREFUSED\n`);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toMatch(
      new RegExp(
        `^conn-drain status: could not read the counts on 1 of 2 replicas: ${dead} \\(unreachable: ECONNREFUSED.* — check the replica is up`,
      ),
    );
  });

  it("a refused token is exit 4 with what to do", async () => {
    const r = await status(["--gateway", addr(replicas[0])], {
      CONN_DRAIN_ADMIN_TOKEN: "wrong-token-0123456789",
    });
    expect(r.code).toBe(4);
    expect(r.err).toMatch(
      /^conn-drain status: could not read the counts on 1 of 1 replica: .*HTTP 401: missing or wrong bearer token\) — give the plugin's admin.token with --token-file/,
    );
    // --token-file beats the environment.
    writeFileSync(join(dir, "token"), `${ADMIN_TOKEN}\n`);
    const ok = await status(["--gateway", addr(replicas[0]), "--token-file", "token"], {
      CONN_DRAIN_ADMIN_TOKEN: "wrong-token-0123456789",
    });
    expect(ok.code).toBe(0);
  });

  it.each([
    [["--gateway", "ftp://127.0.0.1:1"], /--gateway "ftp:\/\/127.0.0.1:1" is not an address/],
    [
      ["--gateway", "http://127.0.0.1:1/x"],
      /--gateway "http:\/\/127.0.0.1:1\/x" is not an address/,
    ],
    [["--gateway", "127.0.0.1:1,"], /--gateway has an empty address/],
    [
      ["-g", "127.0.0.1:1", "--host", "http://game/"],
      /--host "http:\/\/game\/" is not a host name/,
    ],
    [["-g", "127.0.0.1:1", "--interval", "1"], /--interval and --count go with --watch/],
    [["-g", "127.0.0.1:1", "--watch", "--interval", "0"], /--interval "0" must be a number/],
    [["-g", "127.0.0.1:1", "--watch", "--count", "x"], /--count "x" must be a whole number/],
    [
      ["-g", "127.0.0.1:1", "--token", "a", "--token-file", "t"],
      /--token or --token-file, not both/,
    ],
    [["-g", "127.0.0.1:1", "--token-file", "nope"], /--token-file nope: ENOENT/],
    [["-g", "127.0.0.1:1", "--admin-path", "x/"], /--admin-path "x\/" must be absolute/],
    [["--port", "http_x"], /--port "http_x" is neither/],
    [["--bogus"], /Unknown option '--bogus'/],
  ])("%j is a one-line usage error", async (args, message) => {
    const r = await status(args as string[]);
    expect(r.code).toBe(2);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toMatch(message as RegExp);
    expect(r.err).toContain("— see 'conn-drain status --help'");
  });
});

describe("status with replicas discovered from EndpointSlices (API stand-in)", () => {
  let api: Server;
  let kubeconfig = "";
  const kubeToken = "standin-kube-token";
  const paths: string[] = [];

  beforeAll(async () => {
    api = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      paths.push(url.pathname + url.search);
      const send = (code: number, body: unknown) => {
        res.writeHead(code, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      const st = (code: number, reason: string, message: string) =>
        send(code, { kind: "Status", apiVersion: "v1", status: "Failure", message, reason, code });
      const auth = req.headers.authorization;
      if (auth === "Bearer forbidden-token")
        return st(
          403,
          "Forbidden",
          `endpointslices.discovery.k8s.io is forbidden: User "ci" cannot list resource "endpointslices"`,
        );
      if (auth !== `Bearer ${kubeToken}`) return st(401, "Unauthorized", "Unauthorized");
      const m = /^\/apis\/discovery\.k8s\.io\/v1\/namespaces\/([^/]+)\/endpointslices$/.exec(
        url.pathname,
      );
      if (!m || req.method !== "GET")
        return st(404, "NotFound", "the server could not find the requested resource");
      const items =
        m[1] === "higress-system" &&
        url.searchParams.get("labelSelector") === "kubernetes.io/service-name=higress-gateway"
          ? replicas.map((r, i) => ({
              // One slice per pod: on loopback the replicas differ in port, and a slice's
              // endpoints share its ports.
              metadata: { name: `higress-gateway-${i}` },
              addressType: "IPv4",
              ports: [
                { name: "http", port: r.port, protocol: "TCP" },
                { name: "https", port: 1, protocol: "TCP" },
              ],
              endpoints: [
                {
                  addresses: ["127.0.0.1"],
                  conditions: { ready: i === 0, serving: true, terminating: i !== 0 },
                  targetRef: { kind: "Pod", name: `higress-gateway-pod-${i}` },
                },
              ],
            }))
          : [];
      send(200, {
        kind: "EndpointSliceList",
        apiVersion: "discovery.k8s.io/v1",
        metadata: {},
        items,
      });
    });
    await new Promise<void>((r) => api.listen(0, "127.0.0.1", r));
    kubeconfig = join(dir, "kubeconfig");
    const kc = (token: string) =>
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        "current-context": "standin",
        clusters: [
          {
            name: "c",
            cluster: { server: `http://127.0.0.1:${(api.address() as AddressInfo).port}` },
          },
        ],
        users: [{ name: "u", user: { token } }],
        contexts: [{ name: "standin", context: { cluster: "c", user: "u" } }],
      });
    writeFileSync(kubeconfig, kc(kubeToken));
    writeFileSync(`${kubeconfig}-forbidden`, kc("forbidden-token"));
  });

  afterAll(async () => {
    await new Promise((r) => api?.close(r));
  });

  it("asks every pod behind the Service, terminating ones included", async () => {
    const r = await status(["--port", "http"], { KUBECONFIG: kubeconfig });
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(paths.at(-1)).toBe(
      "/apis/discovery.k8s.io/v1/namespaces/higress-system/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dhigress-gateway",
    );
    const [head, row] = r.out.trim().split("\n");
    expect(head).toMatch(/^HOST +ACTIVE +higress-gateway-pod-0 +higress-gateway-pod-1 +DRAIN/);
    expect(row).toMatch(/ +5 +3 +2 +- +- +no$/);
  });

  it("says what is wrong with the Service, the port or the credentials", async () => {
    const noSvc = await status(["--service", "nope"], { KUBECONFIG: kubeconfig });
    expect(noSvc.code).toBe(1);
    expect(noSvc.err).toMatch(
      /^conn-drain status: listing EndpointSlices of higress-system\/nope in context "standin": no EndpointSlices \(is the Service name right\?\) — check --service/,
    );
    const noPort = await status([], { KUBECONFIG: kubeconfig });
    expect(noPort.code).toBe(1);
    expect(noPort.err).toMatch(/no endpoint port "80" \(ports: http=\d+, https=1, http=\d+\)/);
    const forbidden = await status(["--port", "http"], { KUBECONFIG: `${kubeconfig}-forbidden` });
    expect(forbidden.code).toBe(4);
    expect(forbidden.err).toMatch(
      /cannot list resource "endpointslices" — check your kube credentials and RBAC/,
    );
    const noContext = await status([], { KUBECONFIG: join(dir, "missing") });
    expect(noContext.code).toBe(2);
    expect(noContext.err).toMatch(/no usable kube context: no kubeconfig file found/);
  });
});

describe("status --watch", () => {
  it("redraws in place with the new counts, shows a replica that went away, stops on Ctrl-C", async () => {
    const third = await replica("higress-gateway-c");
    const extra = await joinGame(third.url, HOST, 9);
    let thirdClosed = false;
    const gw = [replicas[0], replicas[1], third].map(addr).join(",");
    // The installed entry point in a child process, so Ctrl-C is a real SIGINT.
    const child = spawn(
      process.execPath,
      [join(repoRoot, "bin", "conn-drain.mjs"), "status", "--watch", "--interval", "0.2", "-g", gw],
      { cwd: dir, env: { PATH: process.env.PATH ?? "", HOME: dir, ...env } },
    );
    let out = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
    });
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    // stdout is a pipe, so no clear-screen escapes: each frame starts with its "Every" line.
    const frames = () => out.split(/^(?=Every )/m).filter((f) => f.startsWith("Every "));
    const hostLine = (f: string) => f.split("\n").find((l) => l.startsWith(HOST)) ?? "";
    try {
      await waitFor(
        "a first frame with 6 players",
        () => /^\S+ +6 +3 +2 +1 /.test(hostLine(frames().at(-1) ?? "")),
        20_000,
      );
      await Promise.all([players[0]!.leave(), extra.leave()]);
      await waitFor("a frame with 4 players", () =>
        /^\S+ +4 +2 +2 +0 /.test(hostLine(frames().at(-1) ?? "")),
      );
      await third.close();
      thirdClosed = true;
      await waitFor("a frame showing replica c unreachable", () => {
        const f = frames().at(-1) ?? "";
        return (
          /^\S+ +4 +2 +2 +\? /.test(hostLine(f)) &&
          f.includes(`! replica http://${addr(third)}: unreachable`)
        );
      });
      const before = frames().length;
      await waitFor("it to keep redrawing", () => frames().length > before + 1);
      expect(frames()[0]).toMatch(/^Every 0\.2s: conn-drain status \(3 replicas\) {2}\d{4}-/);
    } finally {
      child.kill("SIGINT");
      await extra.leave(2_000).catch(() => {});
      if (!thirdClosed) await third.close();
    }
    expect(await exited).toBe(0);
  });
});

describe("status with players configured (players.header, drain.reconnectGraceSeconds)", () => {
  const PHOST = "game7.postio.example.com";
  const ID = "x-player-id";
  const mine: Player[] = [];
  // a and b know players; c too, with room to name one player a host; old is configured
  // without players and so answers as a plugin older than them does: no "players" at all.
  const gw: Record<"a" | "b" | "c" | "old", LocalGateway | undefined> = {
    a: undefined,
    b: undefined,
    c: undefined,
    old: undefined,
  };
  const withPlayers = (id: string, players: Record<string, unknown> | undefined) =>
    startLocalGateway({
      workers: 2,
      config: pluginConfig({
        webhook: undefined,
        // reconnectGraceSeconds needs players.
        ...(players
          ? { players, drain: { rejectNew: true, retryAfterSeconds: 5, reconnectGraceSeconds: 30 } }
          : {}),
      }),
      routes: [{ host: PHOST, address: game.address, cluster: defaultCluster(PHOST, "0:5000") }],
      nodeId: id,
    });
  const join = async (g: LocalGateway | undefined, who: string | null, n: number) => {
    const p = await joinGame(g!.url, PHOST, n, 5_000, who === null ? {} : { [ID]: who });
    mine.push(p);
    return p;
  };
  const gws = (...names: (keyof typeof gw)[]) => names.map((n) => addr(gw[n])).join(",");
  const row = (out: string) => out.split("\n").find((l) => l.startsWith(PHOST)) ?? "";

  beforeAll(async () => {
    gw.a = await withPlayers("higress-gateway-pa", { header: ID });
    gw.b = await withPlayers("higress-gateway-pb", { header: ID });
    gw.c = await withPlayers("higress-gateway-pc", { header: ID, maxPerHost: 1 });
    gw.old = await withPlayers("higress-gateway-old", undefined);
    // a: alice in two tabs and bob (3 streams, 2 players); b: carol and a stream with no
    // identity (2 streams, 1 player); c: erin and frank, only one of whom its roster can name;
    // old: dave.
    await join(gw.a, "alice", 1);
    await join(gw.a, "alice", 2);
    await join(gw.a, "bob", 3);
    await join(gw.b, "carol", 4);
    await join(gw.b, null, 5);
    await join(gw.c, "erin", 6);
    await join(gw.c, "frank", 7);
    await join(gw.old, "dave", 8);
  });

  afterAll(async () => {
    await Promise.allSettled(mine.map((p) => p.leave(2_000)));
    for (const g of Object.values(gw)) await g?.close();
  });

  it("shows PLAYERS beside ACTIVE, each replica's distinct players summed", async () => {
    const r = await status(["-g", gws("a", "b")]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const [head] = r.out.split("\n");
    expect(head).toMatch(
      new RegExp(`^HOST +ACTIVE +PLAYERS +${gws("a")} +${gws("b")} +DRAIN +DELIVERY +DRAINED$`),
    );
    // alice's two tabs count once; the stream with no identity is a stream, not a player.
    expect(row(r.out)).toMatch(/ +5 +3 +3 +2 +- +- +no$/);
    expect(r.out).not.toContain("≥");
  });

  it("marks the sum ≥ when a replica cannot name every player, or reports none", async () => {
    // An older plugin (no figure) beside one that knows players: a lower bound.
    const mixed = await status(["-g", gws("a", "old")]);
    expect(mixed.code).toBe(0);
    expect(mixed.out.split("\n")[0]).toMatch(/^HOST +ACTIVE +PLAYERS +/);
    expect(row(mixed.out)).toMatch(/ +4 +≥2 +3 +1 +- +- +no$/);
    expect(mixed.out).toContain("≥N: a lower bound;");
    // The plugin's own lower bound (players.maxPerHost full): playersExact false.
    const full = await status(["-g", gws("c")]);
    expect(row(full.out)).toMatch(/ +2 +≥1 +2 +- +- +no$/);
    // No replica reports players: the table an older fleet always had.
    const old = await status(["-g", gws("old")]);
    expect(old.out.split("\n")[0]).toMatch(
      new RegExp(`^HOST +ACTIVE +${gws("old")} +DRAIN +DELIVERY +DRAINED$`),
    );
    expect(row(old.out)).toMatch(/ +1 +1 +- +- +no$/);
    expect(old.out).not.toContain("≥");
  });

  it("--json passes the sum and each replica's figure through", async () => {
    const r = await status(["-g", gws("a", "old", "c"), "--host", PHOST, "--json"]);
    expect(r.code).toBe(0);
    const [host] = JSON.parse(r.out).hosts;
    expect(host).toEqual({
      host: PHOST,
      active: 6,
      exact: true,
      players: 3,
      playersExact: false,
      drained: false,
      replicas: [
        { name: gws("a"), active: 3, players: 2, playersExact: true, drain: null },
        { name: gws("old"), active: 1, players: null, playersExact: null, drain: null },
        { name: gws("c"), active: 2, players: 1, playersExact: false, drain: null },
      ],
    });
    // Without players anywhere, the document is as before: no players fields.
    const old = await status(["-g", gws("old"), "--host", PHOST, "--json"]);
    expect(Object.keys(JSON.parse(old.out).hosts[0])).toEqual([
      "host",
      "active",
      "exact",
      "drained",
      "replicas",
    ]);
  });

  it("while draining: RETURNING (a player back within the grace) and REFUSED (strangers), summed", async () => {
    const d = await runCli(["drain", "--host", PHOST, "-g", gws("a", "b")], {
      cwd: dir,
      env,
    });
    expect(d.code, d.err).toBe(0);
    // One of alice's tabs blips and comes back through the same replica: let in.
    await mine[1]!.leave();
    await waitFor("a at 2", async () =>
      new AdminClient(gw.a!.url, ADMIN_TOKEN).host(PHOST).then((h) => h.active === 2),
    );
    await join(gw.a, "alice", 9);
    // Strangers, one per replica: 503.
    for (const [g, who] of [
      [gw.a, "mallory"],
      [gw.b, null],
    ] as const)
      await expect(join(g, who, 10)).rejects.toMatchObject({ status: 503 });
    const r = await status(["-g", gws("a", "b")]);
    expect(r.code).toBe(0);
    expect(r.out.split("\n")[0]).toMatch(
      /^HOST +ACTIVE +PLAYERS +\S+ +\S+ +DRAIN +RETURNING +REFUSED +DELIVERY +DRAINED$/,
    );
    expect(row(r.out)).toMatch(/ +5 +3 +3 +2 +draining +1 +2 +- +no$/);
    const json = await status(["-g", gws("a", "b"), "--json"]);
    const [host] = JSON.parse(json.out).hosts;
    expect(host).toMatchObject({ active: 5, players: 3, returning: 1, refused: 2 });
    expect(host.replicas.map((x: { drain: unknown }) => x.drain)).toEqual([
      expect.objectContaining({ reconnectGraceSeconds: 30, returning: 1, refused: 1 }),
      expect.objectContaining({ reconnectGraceSeconds: 30, returning: 0, refused: 1 }),
    ]);
  });
});
