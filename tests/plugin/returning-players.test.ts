// Returning players (issue 13): with `players` configured, a player whose connection blipped is
// let back into a draining host under drain.rejectNew within drain.reconnectGraceSeconds, while
// strangers still get 503; the roster also counts distinct players per host over all workers.
// Four workers throughout; identities are stored only as SipHash-2-4 under the process's key.
import { describe, expect, it } from "vitest";
import type { Gateway, Stream } from "../../host/index.js";
import { parseDrainComplete } from "../../receiver/signature.js";
import {
  bodyOf,
  completeKey,
  drainConfig,
  drainGateway,
  drainOf,
  startDrain,
  webhookCalls,
} from "./drain-harness.js";
import { adminRequest, connectPlayer, type HostView, hostView } from "./harness.js";
import { sipHash24 } from "./sip-hash.js";

const HOST = "game1.postio.example.com";
const RETURNING = {
  players: { header: "x-player-id" },
  drain: { rejectNew: true, reconnectGraceSeconds: 10 },
};

function join(gw: Gateway, id: string | null, vm: number, host = HOST): Stream {
  return connectPlayer(gw, host, {
    vm,
    upstream: "10.1.0.20:5000",
    headers: id === null ? {} : { "x-player-id": id },
  });
}

/** The roster value of HOST's slot (players.ts layout). */
function rosterOf(gw: Gateway): Uint8Array {
  const value = [...gw.sharedData.keys()]
    .filter((k) => k.startsWith("conn-drain/players/"))
    .map((k) => gw.sharedData.get(k)!.value)
    .find((v) => Buffer.from(v).includes(HOST));
  if (!value) throw new Error(`no roster holds ${HOST}`);
  return value;
}

function refused(s: Stream): boolean {
  return s.localResponse?.status === 503;
}

describe("returning players under drain.rejectNew", () => {
  it("a player whose stream ended rejoins within the grace: let in and counted", async () => {
    const gw = await drainGateway(RETURNING);
    const anchor = join(gw, "anchor", 1);
    const p = join(gw, "player-7", 0);
    startDrain(gw, HOST);
    p.close();
    gw.advance(3000);
    const back = join(gw, "player-7", 2); // another worker: the roster is shared
    expect(back.localResponse).toBeUndefined();
    expect(drainOf(gw, HOST)).toMatchObject({ state: "draining", active: 2 });
    expect(hostView(gw, HOST).drain).toMatchObject({ returning: 1, refused: 0 });
    // Counted like any stream: the drain waits for it.
    anchor.close();
    expect(completeKey(gw, HOST)).toBeUndefined();
    back.close();
    expect(completeKey(gw, HOST)).toMatchObject({ reason: "drained", returning: 1, refused: 0 });
    expect(gw.trapCount).toBe(0);
  });

  it("after the grace the same player gets 503", async () => {
    const gw = await drainGateway(RETURNING);
    join(gw, "anchor", 1);
    const p = join(gw, "player-7", 0);
    startDrain(gw, HOST);
    p.close();
    gw.advance(10_500);
    const late = join(gw, "player-7", 0);
    expect(late.localResponse).toMatchObject({ status: 503, details: "conn_drain_draining" });
    expect(drainOf(gw, HOST)).toMatchObject({ active: 1 });
    expect(hostView(gw, HOST).drain).toMatchObject({ returning: 0, refused: 1 });
  });

  it("a stranger gets 503: no identity, or one never on the host", async () => {
    const gw = await drainGateway(RETURNING);
    join(gw, "anchor", 1);
    startDrain(gw, HOST);
    expect(refused(join(gw, null, 0))).toBe(true);
    expect(refused(join(gw, "never-here", 3))).toBe(true);
    expect(refused(join(gw, "", 2))).toBe(true); // an empty value is no identity
    expect(hostView(gw, HOST).drain).toMatchObject({ returning: 0, refused: 3 });
    expect(drainOf(gw, HOST)).toMatchObject({ active: 1 });
  });

  it("the admin JSON and Prometheus text show a draining host's returning and refused figures", async () => {
    const gw = await drainGateway(RETURNING);
    join(gw, "anchor", 1);
    const p = join(gw, "player-7", 0);
    startDrain(gw, HOST);
    p.close();
    join(gw, "player-7", 2);
    join(gw, "stranger", 3);
    join(gw, null, 3);
    expect(hostView(gw, HOST)).toMatchObject({
      active: 2,
      players: 2,
      playersExact: true,
      drain: { reconnectGraceSeconds: 10, returning: 1, refused: 2 },
    });
    const prom = adminRequest(gw, "/.conn-drain?format=prometheus").body;
    const line = (name: string) =>
      prom
        .split("\n")
        .find((l) => l.startsWith(`${name}{host="${HOST}"`))
        ?.split(" ")[1];
    expect(line("conn_drain_episode_returning")).toBe("1");
    expect(line("conn_drain_episode_refused")).toBe("2");
    expect(line("conn_drain_players")).toBe("2");
    expect(prom).toContain("# TYPE conn_drain_episode_returning gauge");
    // Not draining: no episode figures.
    adminRequest(gw, `/.conn-drain/drain?host=${HOST}`, { method: "DELETE" });
    const after = adminRequest(gw, "/.conn-drain?format=prometheus").body;
    expect(after).not.toContain("conn_drain_episode_returning{");
  });

  it("a player with a stream still open gets a second one, even with no grace", async () => {
    const gw = await drainGateway({
      players: { header: "x-player-id" },
      drain: { rejectNew: true },
    });
    join(gw, "player-7", 0);
    startDrain(gw, HOST);
    const tab = join(gw, "player-7", 3);
    expect(tab.localResponse).toBeUndefined();
    expect(hostView(gw, HOST)).toMatchObject({ active: 2, players: 1 });
    // With no grace, nobody is remembered after leaving.
    tab.close();
    expect(refused(join(gw, "player-7", 3))).toBe(false); // the first stream is still open
    expect(hostView(gw, HOST).drain).toMatchObject({ returning: 2, refused: 0 });
  });

  it("a returning player resets the quiet period; the drain completes once, after it", async () => {
    const gw = await drainGateway({
      ...RETURNING,
      drain: { ...RETURNING.drain, quietSeconds: 5 },
    });
    const ps = [join(gw, "a", 0), join(gw, "b", 1), join(gw, "c", 2), join(gw, "d", 3)];
    startDrain(gw, HOST);
    for (const p of ps) p.close();
    gw.advance(3000);
    const back = join(gw, "c", 1);
    expect(back.localResponse).toBeUndefined();
    expect(drainOf(gw, HOST)).not.toHaveProperty("quietSince");
    gw.advance(4000); // past the first quiet period's end: the return reset it
    expect(completeKey(gw, HOST)).toBeUndefined();
    back.close();
    const left = gw.now();
    gw.advance(4500);
    expect(completeKey(gw, HOST)).toBeUndefined();
    for (let waited = 0; waited < 3000 && !completeKey(gw, HOST); waited += 250) gw.advance(250);
    const key = completeKey(gw, HOST);
    expect(key).toMatchObject({ reason: "drained", remaining: 0, returning: 1, refused: 0 });
    expect(Date.parse(key?.completedAt as string) - left).toBeGreaterThanOrEqual(5000);
    const calls = webhookCalls(gw);
    expect(calls).toHaveLength(1);
    expect(bodyOf(calls[0]!)).toMatchObject({ reason: "drained", returning: 1, refused: 0 });
    expect(parseDrainComplete(calls[0]!.body)).toMatchObject({ returning: 1 });
    gw.respondHttpCall(calls[0]!, { status: 200 });
    gw.advance(30_000);
    expect(webhookCalls(gw)).toEqual([]);
  });

  it("the deadline wins over a quiet period kept going by a returning player", async () => {
    const gw = await drainGateway({
      ...RETURNING,
      drain: { ...RETURNING.drain, quietSeconds: 30 },
    });
    const p = join(gw, "a", 0);
    startDrain(gw, HOST, "&deadlineSeconds=10");
    p.close();
    gw.advance(2000);
    const back = join(gw, "a", 1);
    expect(back.localResponse).toBeUndefined();
    gw.advance(1000);
    back.close();
    gw.advance(6000);
    expect(completeKey(gw, HOST)).toBeUndefined();
    for (let waited = 0; waited < 3000 && !completeKey(gw, HOST); waited += 250) gw.advance(250);
    expect(completeKey(gw, HOST)).toMatchObject({ reason: "deadline", remaining: 0, returning: 1 });
    expect(webhookCalls(gw)).toHaveLength(1);
  });
});

describe("after a completion", () => {
  it("the host refuses everyone for the grace: players who could come back would join a server going away", async () => {
    const gw = await drainGateway(RETURNING);
    const p = join(gw, "player-7", 0);
    startDrain(gw, HOST);
    p.close();
    const done = completeKey(gw, HOST);
    expect(done).toMatchObject({ reason: "drained", returning: 0 });
    expect(drainOf(gw, HOST)).toMatchObject({
      state: "completed",
      holdUntil: new Date(Date.parse(done?.completedAt as string) + 10_000).toISOString(),
    });
    gw.advance(3000);
    expect(refused(join(gw, "player-7", 1))).toBe(true); // within the grace, but it is over
    expect(refused(join(gw, "stranger", 2))).toBe(true);
    expect(hostView(gw, HOST)).toMatchObject({
      active: 0,
      drain: { state: "completed", refused: 2 },
    });
    gw.advance(7500);
    const back = join(gw, "player-7", 3);
    expect(back.localResponse).toBeUndefined();
    expect(join(gw, "stranger", 0).localResponse).toBeUndefined();
    expect(hostView(gw, HOST)).toMatchObject({ active: 2 });
    // Still the one completion: nothing after it reopened or re-signalled the episode.
    expect(completeKey(gw, HOST)).toMatchObject({ episode: done?.episode, reason: "drained" });
  });

  it("without a grace, new streams are let in right after the completion, as before", async () => {
    const gw = await drainGateway({
      players: { header: "x-player-id" },
      drain: { rejectNew: true },
    });
    join(gw, "player-7", 0).close();
    startDrain(gw, HOST);
    expect(completeKey(gw, HOST)).toMatchObject({ reason: "drained" });
    expect(drainOf(gw, HOST)).not.toHaveProperty("holdUntil");
    expect(join(gw, "stranger", 1).localResponse).toBeUndefined();
  });

  it("a new drain during the hold ends it: its own rules apply", async () => {
    const gw = await drainGateway(RETURNING);
    const a = join(gw, "a", 0);
    const b = join(gw, "b", 1);
    startDrain(gw, HOST);
    a.close();
    b.close();
    const first = completeKey(gw, HOST)?.episode;
    expect(first).toBeDefined();
    gw.advance(1000);
    const second = startDrain(gw, HOST);
    expect(second.drain).toMatchObject({ state: "completed" }); // nobody on: completes at once
    expect(second.drain.episode).not.toBe(first);
    // The new episode holds from its own completion.
    gw.advance(9500);
    expect(refused(join(gw, "a", 2))).toBe(true);
    gw.advance(1000);
    expect(join(gw, "a", 2).localResponse).toBeUndefined();
  });
});

describe("identities are stored only as keyed hashes", () => {
  it("SipHash-2-4 reference: the paper's test vectors", () => {
    const key = Uint8Array.from({ length: 16 }, (_, i) => i);
    const msg = (n: number) => Uint8Array.from({ length: n }, (_, i) => i);
    expect(sipHash24(key, msg(0))).toBe(0x726fdb47dd0e0e31n);
    expect(sipHash24(key, msg(1))).toBe(0x74f839c593dc67fdn);
    expect(sipHash24(key, msg(7))).toBe(0xab0200f58b01d137n);
    expect(sipHash24(key, msg(8))).toBe(0x93f5f5799a932462n);
    expect(sipHash24(key, msg(15))).toBe(0xa129ca6149be45e5n);
    expect(sipHash24(key, msg(63))).toBe(0x958a324ceb064572n);
  });

  it("the stored form is SipHash-2-4 under the key in shared data, for ids around a block's length", async () => {
    const gw = await drainGateway({ players: { header: "x-player-id" } });
    const ids = [1, 7, 8, 9, 15, 16, 17, 64].map((n) => "abcdefghij".repeat(7).slice(0, n));
    for (const [i, id] of ids.entries()) join(gw, id, i % 4);
    const key = gw.sharedData.get("conn-drain/player-key")!.value;
    const roster = Buffer.from(rosterOf(gw));
    for (const id of ids) {
      const hash = Buffer.alloc(8);
      hash.writeBigUInt64LE(sipHash24(key, new TextEncoder().encode(id)));
      expect(roster.includes(hash), id).toBe(true);
    }
    expect(hostView(gw, HOST)).toMatchObject({ players: ids.length });
  });

  it("no raw identity in shared data, logs, admin output or webhooks; the roster holds its hash", async () => {
    const secret = "player-SECRET-7f3a9c";
    const gw = await drainGateway({ ...RETURNING, drain: { ...RETURNING.drain, quietSeconds: 1 } });
    const p = join(gw, secret, 0);
    const other = join(gw, `${secret}-2`, 1);
    startDrain(gw, HOST);
    p.close();
    const back = join(gw, secret, 2);
    const outputs = [
      adminRequest(gw, "/.conn-drain").body,
      adminRequest(gw, `/.conn-drain?host=${HOST}`).body,
      adminRequest(gw, "/.conn-drain?format=prometheus").body,
      adminRequest(gw, "/.conn-drain/drain").body,
    ];
    // The stored form: SipHash-2-4 of the identity under the key in shared data.
    const key = gw.sharedData.get("conn-drain/player-key");
    expect(key?.value.length).toBe(16);
    const hash = Buffer.alloc(8);
    hash.writeBigUInt64LE(sipHash24(key!.value, new TextEncoder().encode(secret)));
    expect(Buffer.from(rosterOf(gw)).includes(hash)).toBe(true);
    back.close();
    other.close();
    gw.advance(3000);
    expect(completeKey(gw, HOST)).toMatchObject({ reason: "drained", returning: 1 });
    const texts = [
      ...outputs,
      ...[...gw.sharedData.keys()].flatMap((k) => [
        k,
        Buffer.from(gw.sharedData.get(k)!.value).toString("latin1"),
      ]),
      ...gw.logs().map((e) => e.message),
      ...gw.httpCalls().map((c) => Buffer.from(c.body).toString("latin1")),
    ];
    expect(texts.filter((t) => t.includes("SECRET"))).toEqual([]);
  });
});

describe("remembered players are bounded", () => {
  it("a flood of distinct players leaving: the newest drain.rememberPlayers are kept, no trap", async () => {
    const gw = await drainGateway({
      ...RETURNING,
      drain: { rejectNew: true, reconnectGraceSeconds: 60, rememberPlayers: 8 },
    });
    join(gw, "anchor", 3);
    const ps = Array.from({ length: 200 }, (_, i) => join(gw, `p${i}`, i % 4));
    startDrain(gw, HOST);
    for (const p of ps) {
      p.close();
      gw.advance(5);
    }
    expect(rosterOf(gw).length).toBeLessThanOrEqual(64 + HOST.length + 8 * 16);
    // Oldest forgotten first: the first leavers are strangers now, the last eight return.
    expect(refused(join(gw, "p0", 0))).toBe(true);
    expect(refused(join(gw, "p191", 1))).toBe(true);
    for (let i = 192; i < 200; i++) expect(refused(join(gw, `p${i}`, i % 4))).toBe(false);
    expect(hostView(gw, HOST).drain).toMatchObject({ returning: 8, refused: 2 });
    expect(gw.trapCount).toBe(0);
  });

  it("past players.maxPerHost, streams are still counted and the player count says it is a floor", async () => {
    const gw = await drainGateway({ players: { header: "x-player-id", maxPerHost: 16 } });
    const ps = Array.from({ length: 40 }, (_, i) => join(gw, `p${i}`, i % 4));
    expect(hostView(gw, HOST)).toMatchObject({ active: 40, players: 16, playersExact: false });
    for (const p of ps.slice(0, 30)) p.close();
    expect(hostView(gw, HOST)).toMatchObject({ active: 10 });
    for (const p of ps.slice(30)) p.close();
    expect(hostView(gw, HOST)).toMatchObject({ active: 0, players: 0, playersExact: true });
    expect(gw.trapCount).toBe(0);
  });
});

describe("distinct players", () => {
  it("are exact over four workers: two tabs are one player, strangers are no player", async () => {
    const gw = await drainGateway({ players: { header: "x-player-id" } });
    const streams: Stream[] = [];
    for (let i = 0; i < 10; i++) streams.push(join(gw, `p${i}`, i % 4));
    // Second tabs: p0..p4 again, on another worker; p5 twice on its own worker.
    for (let i = 0; i < 5; i++) streams.push(join(gw, `p${i}`, (i + 1) % 4));
    streams.push(join(gw, "p5", 1));
    streams.push(join(gw, null, 2));
    for (let vm = 0; vm < 4; vm++) {
      expect(hostView(gw, HOST, vm)).toMatchObject({ active: 17, players: 10, playersExact: true });
    }
    const prom = adminRequest(gw, "/.conn-drain?format=prometheus").body;
    expect(prom).toMatch(
      new RegExp(`^conn_drain_players\\{host="${HOST}",gateway="[^"]*"\\} 10$`, "m"),
    );
    // Closing one tab of p0..p4 leaves them on; closing p6's only stream takes it off.
    for (let i = 10; i < 15; i++) streams[i]!.close();
    streams[6]!.close();
    expect(hostView(gw, HOST, 3)).toMatchObject({ active: 11, players: 9 });
    const list = JSON.parse(adminRequest(gw, "/.conn-drain").body) as { hosts: HostView[] };
    expect(list.hosts.find((h) => h.host === HOST)).toMatchObject({ players: 9 });
  });

  it("configured while streams are open: a floor until those streams are gone", async () => {
    const gw = await drainGateway({});
    const before = [join(gw, "p0", 0), join(gw, "p1", 1)];
    const update = await gw.updateConfig(
      JSON.stringify({ ...drainConfig, players: { header: "x-player-id" } }),
    );
    expect(update.accepted).toBe(true);
    join(gw, "p2", 2);
    join(gw, "p0", 3);
    expect(hostView(gw, HOST)).toMatchObject({ active: 4, players: 2, playersExact: false });
    for (const s of before) s.close();
    expect(hostView(gw, HOST)).toMatchObject({ active: 2, players: 2, playersExact: true });
  });

  it("a crashed worker's players stop counting once it is found dead", async () => {
    const gw = await drainGateway({ players: { header: "x-player-id" }, vmTtlSeconds: 3 });
    join(gw, "p0", 0);
    join(gw, "p1", 1);
    join(gw, "p1", 2);
    expect(hostView(gw, HOST)).toMatchObject({ players: 2 });
    gw.worker(1).crash();
    gw.advance(10_000);
    expect(hostView(gw, HOST)).toMatchObject({ active: 2, players: 2 });
    gw.worker(2).crash();
    gw.advance(10_000);
    expect(hostView(gw, HOST)).toMatchObject({ active: 1, players: 1 });
  });
});

describe("where the identity is found", () => {
  it("a cookie, quoted or not, among others", async () => {
    const gw = await drainGateway({ players: { cookie: "pid" } });
    const c = (cookie: string, vm: number) => connectPlayer(gw, HOST, { vm, headers: { cookie } });
    c("a=1; pid=abc; b=2", 0);
    c('pid="abc"', 1);
    c("xpid=abc; pid=def", 2);
    c("pid=; other=1", 3);
    expect(hostView(gw, HOST)).toMatchObject({ active: 4, players: 2 });
  });

  it("a query parameter, wherever it stands in the query", async () => {
    const gw = await drainGateway({ players: { query: "pid" } });
    const q = (path: string, vm: number) => connectPlayer(gw, HOST, { vm, path });
    q("/ws?pid=abc", 0);
    q("/ws?room=3&pid=abc", 1);
    q("/ws?room=3&pid=abd#pid=abc", 2);
    q("/ws?pidx=1&room=pid=abc", 3);
    q("/ws/pid=abc", 3);
    expect(hostView(gw, HOST)).toMatchObject({ active: 5, players: 2 });
  });
});
