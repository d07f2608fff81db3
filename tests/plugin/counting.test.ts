import { describe, expect, it } from "vitest";
import type { Stream } from "../../host/index.js";
import { Rng } from "../../host/index.js";
import { activeByHost, adminConfig, connectPlayer, counts, gateway } from "./harness.js";
import { authorityKey } from "./host-key-model.js";

const HOSTS = ["game0.postio.example.com", "game1.postio.example.com", "game2.postio.example.com"];

describe("counting per upstream host across worker VMs", () => {
  it("keyBy authority: sums streams spread over 4 VMs, per host", async () => {
    const gw = await gateway({ ...adminConfig, hosts: ["*.postio.example.com"] });
    const streams: Stream[] = [];
    // 3 + 5 + 7 players, dealt round-robin over the workers
    [3, 5, 7].forEach((n, h) => {
      for (let i = 0; i < n; i++) {
        streams.push(connectPlayer(gw, HOSTS[h] as string, { vm: (i + h) % 4 }));
      }
    });
    expect(activeByHost(gw)).toEqual({
      [HOSTS[0] as string]: 3,
      [HOSTS[1] as string]: 5,
      [HOSTS[2] as string]: 7,
    });
    // every worker sees the same process-wide totals
    for (let vm = 0; vm < 4; vm++) expect(counts(gw, vm).totalActive).toBe(15);
    for (const s of streams.slice(0, 3)) s.close();
    expect(activeByHost(gw)[HOSTS[0] as string]).toBe(0);
    expect(counts(gw).totalActive).toBe(12);
    for (const s of streams.slice(3)) s.close();
    expect(counts(gw).totalActive).toBe(0);
    expect(gw.trapCount).toBe(0);
  });

  it("normalizes the authority: case and port do not split a host", async () => {
    const gw = await gateway(adminConfig);
    connectPlayer(gw, "Game1.Postio.Example.com:443", { vm: 0 });
    connectPlayer(gw, "game1.postio.example.com", { vm: 1 });
    expect(activeByHost(gw)).toEqual({ "game1.postio.example.com": 2 });
  });

  it("keyBy cluster: counts under Envoy's cluster_name", async () => {
    const gw = await gateway({ ...adminConfig, keyBy: "cluster" });
    const a = "outbound|5000||postio-0.default.svc.cluster.local";
    const b = "outbound|5000||postio-1.default.svc.cluster.local";
    for (let i = 0; i < 6; i++)
      connectPlayer(gw, "game.example.com", { vm: i % 4, cluster: i < 4 ? a : b });
    expect(activeByHost(gw)).toEqual({ [a]: 4, [b]: 2 });
  });

  it("keyBy upstream: counts under the upstream address, from the response on", async () => {
    const gw = await gateway({ ...adminConfig, keyBy: "upstream" });
    const s = gw.worker(2).openStream({ properties: { cluster_name: "c" } });
    s.sendRequestHeaders({ ":method": "GET", ":path": "/", ":authority": "game0.example.com" });
    // before an upstream is chosen there is nothing to count under
    expect(counts(gw).totalActive).toBe(0);
    s.connectUpstream({ address: "10.1.0.7:5000" });
    s.sendResponseHeaders({ ":status": "101" });
    connectPlayer(gw, "game0.example.com", { vm: 3, upstream: "10.1.0.7:5000" });
    connectPlayer(gw, "game0.example.com", { vm: 1, upstream: "10.1.0.8:5000" });
    expect(activeByHost(gw)).toEqual({ "10.1.0.7:5000": 2, "10.1.0.8:5000": 1 });
    s.close();
    expect(activeByHost(gw)["10.1.0.7:5000"]).toBe(1);
  });

  it("tracks only hosts matching the patterns", async () => {
    const gw = await gateway({
      ...adminConfig,
      hosts: ["*.postio.example.com", "lobby.example.com"],
    });
    connectPlayer(gw, "game0.postio.example.com");
    connectPlayer(gw, "lobby.example.com");
    connectPlayer(gw, "postio.example.com"); // the bare suffix is not "*.postio.example.com"
    connectPlayer(gw, "shop.example.com");
    expect(activeByHost(gw)).toEqual({ "game0.postio.example.com": 1, "lobby.example.com": 1 });
  });

  it("a WebSocket stream counts for its whole life, however long", async () => {
    const gw = await gateway({ ...adminConfig, hosts: ["*.postio.example.com"] });
    const ws = connectPlayer(gw, HOSTS[0] as string, { vm: 1, websocket: true });
    for (let minute = 0; minute < 120; minute++) {
      ws.sendRequestBody("ping", false);
      ws.sendResponseBody("pong", false);
      gw.advance(60_000);
    }
    expect(activeByHost(gw)[HOSTS[0] as string]).toBe(1);
    ws.close();
    expect(activeByHost(gw)[HOSTS[0] as string]).toBe(0);
  });

  it("releases a stream exactly once, whether it closes or resets", async () => {
    const gw = await gateway(adminConfig);
    const a = connectPlayer(gw, "game0.example.com", { vm: 0 });
    const b = connectPlayer(gw, "game0.example.com", { vm: 1 });
    connectPlayer(gw, "game0.example.com", { vm: 2 });
    a.close();
    b.reset();
    expect(activeByHost(gw)["game0.example.com"]).toBe(1);
  });

  it("does not count the admin request itself, nor streams without a usable host", async () => {
    const gw = await gateway(adminConfig);
    const s = gw.worker(0).openStream();
    s.sendRequestHeaders({ ":method": "GET", ":path": "/", ":authority": "bad host\u0001" });
    expect(counts(gw).totalActive).toBe(0);
  });
});

describe("host keys are checked as raw bytes", () => {
  it("an invalid UTF-8 byte does not make a key alias a real host (it is skipped)", async () => {
    const gw = await gateway({ ...adminConfig, keyBy: "cluster" });
    const real = "outbound|5000||game1.default.svc.cluster.local";
    const aliased = Uint8Array.from([...Buffer.from(real), 0xf0, 0x5c]);
    const s = gw.worker(0).openStream({ properties: { cluster_name: aliased } });
    s.sendRequestHeaders({ ":method": "GET", ":path": "/", ":authority": "game1.example.com" });
    connectPlayer(gw, "game1.example.com", { vm: 1, cluster: real });
    expect(activeByHost(gw)).toEqual({ [real]: 1 });
  });
});

describe("stream keys from raw Host headers", () => {
  it("every byte of 2,000 random Host values is judged as the rule says (lengths across 8-byte words)", async () => {
    const gw = await gateway({ ...adminConfig, maxHosts: 4096 });
    const rng = new Rng(20261201);
    const alphabet = "aZz09.-:[]_~\x7f\x20\x1f|é";
    const expected = new Map<string, number>();
    for (let i = 0; i < 2000; i++) {
      const len = 1 + rng.int(40);
      let raw = "";
      for (let j = 0; j < len; j++) {
        // Mostly plain host characters, sometimes one that changes the verdict.
        raw += rng.int(4) === 0 ? (alphabet[rng.int(alphabet.length)] as string) : "gAme";
      }
      if (rng.int(5) === 0) raw += `:${rng.int(70000)}`;
      if (rng.int(9) === 0) raw = `[${raw}]`;
      const s = gw.worker(i % 4).openStream();
      s.sendRequestHeaders({ ":method": "GET", ":path": "/play", ":authority": raw });
      const key = authorityKey(raw);
      if (key !== undefined) expected.set(key, (expected.get(key) ?? 0) + 1);
    }
    expect(activeByHost(gw)).toEqual(Object.fromEntries(expected));
    expect(gw.trapCount).toBe(0);
  });
});
