// Issue 10, finding 2: one definition of a host key per keyBy, applied the same way to stream
// keys, `hosts`, `drain.hosts`, `?host=` and POST/DELETE drain (host_key.ts).
import { describe, expect, it } from "vitest";
import { type Gateway, Rng, type Stream } from "../../host/index.js";
import {
  bodyOf,
  cancelDrain,
  completeKey,
  drainConfig,
  drainGateway,
  drainOf,
  drains,
  startDrain,
  webhookCalls,
} from "./drain-harness.js";
import { activeByHost, adminRequest, connectPlayer, hostView } from "./harness.js";

/** A Higress Nacos cluster: Envoy cluster names are case-sensitive. */
const NACOS = "outbound|8080||game1.DEFAULT-GROUP.public.nacos";

/** Pushes `config` (merged over the drain harness's) and returns the error it was refused with. */
async function refusal(gw: Gateway, config: Record<string, unknown> | string): Promise<string> {
  gw.clearLogs();
  const text = typeof config === "string" ? config : JSON.stringify({ ...drainConfig, ...config });
  const result = await gw.updateConfig(text);
  expect(result.accepted).toBe(false);
  const lines = gw.logs({ minLevel: "error" }).map((e) => e.message);
  const line = lines.find((m) => m.startsWith("conn-drain: config rejected: "));
  return line?.slice("conn-drain: config rejected: ".length) ?? `(no rejection logged: ${lines})`;
}

describe("keyBy cluster: names are case-sensitive everywhere", () => {
  it("a config drain of a mixed-case Nacos cluster waits for its 2 players, and completes when they leave", async () => {
    const gw = await drainGateway({ keyBy: "cluster" });
    const players = [0, 1].map((vm) =>
      connectPlayer(gw, "game1.example.com", { vm, cluster: NACOS }),
    );
    const pushed = await gw.updateConfig(
      JSON.stringify({ ...drainConfig, keyBy: "cluster", drain: { hosts: [NACOS] } }),
    );
    expect(pushed.accepted).toBe(true);
    gw.advance(3000);
    expect(webhookCalls(gw)).toEqual([]);
    expect(completeKey(gw, NACOS)).toBeUndefined();
    expect(hostView(gw, NACOS)).toMatchObject({ host: NACOS, active: 2, draining: true });
    expect(drains(gw)).toEqual([
      expect.objectContaining({ host: NACOS, source: "config", state: "draining" }),
    ]);

    players[0]?.close();
    expect(webhookCalls(gw)).toEqual([]);
    players[1]?.close();
    const calls = webhookCalls(gw);
    expect(calls).toHaveLength(1);
    expect(bodyOf(calls[0]!)).toMatchObject({ host: NACOS, reason: "drained", remaining: 0 });
    expect(drainOf(gw, NACOS)).toMatchObject({ state: "completed", reason: "drained" });
  });

  it("the same name in hosts is tracked, and a '*.suffix' matches it only in its own case", async () => {
    const other = "outbound|8080||game2.DEFAULT-GROUP.public.nacos";
    for (const [hosts, tracked] of [
      [[NACOS], [NACOS]],
      [["*.DEFAULT-GROUP.public.nacos"], [NACOS, other]],
      [["*.default-group.public.nacos", other], [other]],
    ] as const) {
      const gw = await drainGateway({ keyBy: "cluster", hosts });
      connectPlayer(gw, "game1.example.com", { vm: 0, cluster: NACOS });
      connectPlayer(gw, "game1.example.com", { vm: 1, cluster: NACOS });
      connectPlayer(gw, "game2.example.com", { vm: 2, cluster: other });
      const expected = Object.fromEntries(tracked.map((h) => [h, h === NACOS ? 2 : 1]));
      expect(activeByHost(gw), JSON.stringify(hosts)).toEqual(expected);
    }
  });

  it("?host= and POST/DELETE drain name the config drain's key, in the case Envoy gives it", async () => {
    const gw = await drainGateway({ keyBy: "cluster" });
    const players = [1, 2].map((vm) =>
      connectPlayer(gw, "game1.example.com", { vm, cluster: NACOS }),
    );
    const config = { ...drainConfig, keyBy: "cluster", drain: { hosts: [NACOS] } };
    expect((await gw.updateConfig(JSON.stringify(config))).accepted).toBe(true);
    expect(hostView(gw, NACOS)).toMatchObject({ active: 2, draining: true });
    // Another case is another cluster: nothing counted there.
    expect(hostView(gw, NACOS.toLowerCase())).toMatchObject({ active: 0, draining: false });

    const listed = drainOf(gw, NACOS);
    expect(listed).toMatchObject({ source: "config", state: "draining" });
    // POST names the running drain (an operator now owns it), not a second key's new one.
    const post = startDrain(gw, NACOS);
    expect(post.status).toBe(202);
    const running = JSON.parse(post.body).drain;
    expect(running).toMatchObject({ host: NACOS, episode: listed?.episode, active: 2 });
    expect(drains(gw)).toHaveLength(1);

    const del = cancelDrain(gw, NACOS);
    expect(del.status).toBe(200);
    expect(JSON.parse(del.body).drain).toMatchObject({
      host: NACOS,
      episode: running.episode,
      state: "cancelled",
    });
    for (const p of players) p.close();
    expect(webhookCalls(gw)).toEqual([]);
  });
});

describe("keyBy authority: lower case, port stripped, for every input", () => {
  it('drain.hosts ["game1.example.com:443"] drains the players of Game1.Example.com', async () => {
    const gw = await drainGateway();
    const players: Stream[] = [
      connectPlayer(gw, "Game1.Example.com", { vm: 0 }),
      connectPlayer(gw, "game1.example.com:443", { vm: 1 }),
      connectPlayer(gw, "GAME1.example.com:8443", { vm: 2 }),
    ];
    const pushed = await gw.updateConfig(
      JSON.stringify({
        ...drainConfig,
        drain: { hosts: ["game1.example.com:443", "GAME1.example.com"] },
      }),
    );
    expect(pushed.accepted).toBe(true);
    gw.advance(3000);
    expect(webhookCalls(gw)).toEqual([]);
    // One listing of one host: one drain, under the key the streams are counted under.
    expect(drains(gw)).toEqual([
      expect.objectContaining({ host: "game1.example.com", source: "config", state: "draining" }),
    ]);
    expect(hostView(gw, "game1.example.com:443")).toMatchObject({
      host: "game1.example.com",
      active: 3,
      draining: true,
    });
    for (const p of players) p.close();
    const calls = webhookCalls(gw);
    expect(calls).toHaveLength(1);
    expect(bodyOf(calls[0]!)).toMatchObject({ host: "game1.example.com", reason: "drained" });
  });

  it("hosts entries follow the same rule: an exact name with a port and case, a '*.suffix' in any case", async () => {
    const gw = await drainGateway({ hosts: ["Game1.Example.com:443", "*.Postio.EXAMPLE.com"] });
    connectPlayer(gw, "game1.example.com:8080", { vm: 0 });
    connectPlayer(gw, "game7.postio.example.com", { vm: 1 });
    connectPlayer(gw, "game2.example.com", { vm: 2 });
    expect(activeByHost(gw)).toEqual({ "game1.example.com": 1, "game7.postio.example.com": 1 });
  });

  it("?host= and POST/DELETE drain take any case and port; a name Envoy never passes as a Host is a 400", async () => {
    const gw = await drainGateway();
    connectPlayer(gw, "Game1.Example.com:8080", { vm: 1 });
    connectPlayer(gw, "game1.example.com", { vm: 2 });
    expect(hostView(gw, "GAME1.example.com:443")).toMatchObject({
      host: "game1.example.com",
      active: 2,
    });
    const post = startDrain(gw, "game1.EXAMPLE.com");
    expect(post.status).toBe(202);
    const started = JSON.parse(post.body).drain;
    expect(started).toMatchObject({ host: "game1.example.com", active: 2, state: "draining" });
    const del = cancelDrain(gw, "Game1.Example.Com:9999");
    expect(del.status).toBe(200);
    expect(JSON.parse(del.body).drain).toMatchObject({
      episode: started.episode,
      state: "cancelled",
    });
    for (const method of ["GET", "POST", "DELETE"]) {
      const path = method === "GET" ? "/.conn-drain" : "/.conn-drain/drain";
      const reply = adminRequest(gw, `${path}?host=${encodeURIComponent(NACOS)}`, { method });
      expect(reply.status).toBe(400);
      expect(reply.body).toBe(
        `query parameter host: under keyBy "authority" a host key is a Host header value and '|' never appears in one, got "outbound|8080||game1.DEFAULT-GROUP.publi…"\n`,
      );
    }
  });
});

describe("keyBy upstream: an address with a port, as Envoy prints it", () => {
  it("?host=, POST/DELETE and drain.hosts bring any spelling of the address to the stream key", async () => {
    const gw = await drainGateway({ keyBy: "upstream" });
    for (const vm of [0, 1, 2])
      connectPlayer(gw, `game${vm}.example.com`, { vm, upstream: "[fd00::1]:5000" });
    connectPlayer(gw, "game9.example.com", { vm: 3, upstream: "10.1.0.5:5000" });
    expect(activeByHost(gw)).toEqual({ "[fd00::1]:5000": 3, "10.1.0.5:5000": 1 });

    for (const spelling of ["[FD00::1]:5000", "[fd00:0:0:0:0:0:0:1]:5000", "[fd00::0001]:05000"])
      expect(hostView(gw, spelling), spelling).toMatchObject({ host: "[fd00::1]:5000", active: 3 });
    expect(hostView(gw, "10.1.0.5:05000")).toMatchObject({ host: "10.1.0.5:5000", active: 1 });

    const post = startDrain(gw, "[FD00:0::1]:5000");
    expect(post.status).toBe(202);
    const started = JSON.parse(post.body).drain;
    expect(started).toMatchObject({ host: "[fd00::1]:5000", active: 3, state: "draining" });
    const del = cancelDrain(gw, "[fd00::0:1]:5000");
    expect(del.status).toBe(200);
    expect(JSON.parse(del.body).drain).toMatchObject({
      episode: started.episode,
      state: "cancelled",
    });

    const reply = adminRequest(gw, "/.conn-drain?host=10.1.0.5");
    expect(reply.status).toBe(400);
    expect(reply.body).toBe(
      'query parameter host: under keyBy "upstream" a host key is an address with a port such as 10.1.0.5:5000, got "10.1.0.5"\n',
    );

    // keyBy last in the object: the entries are read before it and still follow its rule.
    const pushed = await gw.updateConfig(
      `{"drain": {"hosts": ["[FD00:0::1]:5000", "10.1.0.5:5000"]}, "admin": {"token": "${drainConfig.admin.token}"}, "webhook": ${JSON.stringify(drainConfig.webhook)}, "keyBy": "upstream"}`,
    );
    expect(pushed.accepted).toBe(true);
    expect(hostView(gw, "[fd00::1]:5000")).toMatchObject({ active: 3, draining: true });
    expect(hostView(gw, "10.1.0.5:5000")).toMatchObject({ active: 1, draining: true });
    expect(
      drains(gw)
        .map((d) => d.host)
        .sort(),
    ).toEqual(["10.1.0.5:5000", "[fd00::1]:5000"]);
  });

  it("the key of an address is Envoy's inet_ntop text: an address Envoy prints is its own key", async () => {
    const gw = await drainGateway({ keyBy: "upstream" });
    // [what an operator may write, what Envoy prints for that upstream]
    const cases: Array<[string, string]> = [
      ["[2001:DB8:0:0:0:0:0:1]:443", "[2001:db8::1]:443"],
      ["[2001:db8:0:0:1:0:0:1]:443", "[2001:db8::1:0:0:1]:443"],
      ["[2001:db8:0:1:1:1:1:1]:443", "[2001:db8:0:1:1:1:1:1]:443"],
      ["[0:0:0:0:0:ffff:a01:5]:5000", "[::ffff:10.1.0.5]:5000"],
      ["[::0a01:0005]:5000", "[::10.1.0.5]:5000"],
      ["[0::1]:80", "[::1]:80"],
      ["[fe80::1%2]:5000", "[fe80::1%2]:5000"],
      ["[1:0:0:0:0:0:0:0]:1", "[1::]:1"],
    ];
    for (const [written, envoy] of cases) {
      expect(hostView(gw, written).host, written).toBe(envoy);
      expect(hostView(gw, envoy).host, envoy).toBe(envoy);
    }
    // Random addresses outside the IPv4-in-IPv6 ranges, against WHATWG URL's RFC 5952 writer
    // (which agrees with inet_ntop there).
    const rng = new Rng(10);
    for (let i = 0; i < 200; i++) {
      const words = Array.from({ length: 8 }, () => (rng.int(3) === 0 ? rng.int(0x10000) : 0));
      words[0] = 0x2001;
      const written = `[${words.map((w) => w.toString(16).toUpperCase().padStart(4, "0")).join(":")}]:5000`;
      const expected = `${new URL(`http://${written}/`).hostname}:5000`;
      expect(hostView(gw, written).host, written).toBe(expected);
    }
  });
});

describe("config values no stream can match are rejected, naming the field and the reason", () => {
  it.each([
    [
      "upstream: a host name in drain.hosts",
      { keyBy: "upstream", drain: { hosts: ["game1"] } },
      'drain.hosts[0]: under keyBy "upstream" a host key is an address with a port such as 10.1.0.5:5000, got "game1"',
    ],
    [
      "upstream: an address without its port",
      { keyBy: "upstream", drain: { hosts: ["10.1.0.5:5000", "[fd00::1]"] } },
      'drain.hosts[1]: under keyBy "upstream" a host key is an address with a port such as 10.1.0.5:5000, got "[fd00::1]"',
    ],
    [
      "upstream: a '*' pattern in hosts",
      { keyBy: "upstream", hosts: ["10.1.0.5:5000", "*.example.com"] },
      "hosts[1]: under keyBy \"upstream\" hosts lists addresses with a port such as 10.1.0.5:5000; a '*' pattern never matches one",
    ],
    [
      "upstream: keyBy after the hosts it governs",
      '{"hosts": ["game1.example.com"], "keyBy": "upstream"}',
      'hosts[0]: under keyBy "upstream" a host key is an address with a port such as 10.1.0.5:5000, got "game1.example.com"',
    ],
    [
      "authority: a cluster name in drain.hosts",
      { drain: { hosts: [NACOS] } },
      `drain.hosts[0]: under keyBy "authority" a host key is a Host header value and '|' never appears in one, got "outbound|8080||game1.DEFAULT-GROUP.publi…"`,
    ],
    [
      "authority: a URL in hosts",
      { hosts: ["game1.example.com/play"] },
      `hosts[0]: under keyBy "authority" a host key is a Host header value and '/' never appears in one, got "game1.example.com/play"`,
    ],
    [
      "authority: an unclosed IPv6 literal",
      { drain: { hosts: ["[fd00::1"] } },
      `drain.hosts[0]: under keyBy "authority" "[fd00::1" lacks the ']' closing its IPv6 address`,
    ],
    [
      "authority: a port without a host",
      { drain: { hosts: [":443"] } },
      `drain.hosts[0]: under keyBy "authority" ":443" has no host before its port`,
    ],
    [
      "cluster: a pattern in drain.hosts",
      { keyBy: "cluster", drain: { hosts: ["*.public.nacos"] } },
      'drain.hosts[0]: a drain names one host, not a pattern, got the string "*.public.nacos"',
    ],
    [
      "cluster: a '*.suffix' longer than any key",
      { keyBy: "cluster", hosts: [`*.${"c".repeat(300)}`] },
      "hosts[0]: a '*.suffix' pattern longer than 255 characters never matches a host key",
    ],
    [
      "cluster: a name longer than any key",
      { keyBy: "cluster", drain: { hosts: ["c".repeat(256)] } },
      "drain.hosts[0]: a host key is at most 255 characters, got 256",
    ],
  ])("%s", async (_what, config, message) => {
    const gw = await drainGateway();
    connectPlayer(gw, "game1.example.com", { vm: 1 });
    expect(await refusal(gw, config)).toBe(message);
    // The old config stays in force.
    expect(hostView(gw, "game1.example.com")).toMatchObject({ active: 1 });
    expect(gw.trapCount).toBe(0);
  });
});
