import { describe, expect, it } from "vitest";
import type { Stream } from "../../host/index.js";
import {
  bodyOf,
  completeKey,
  drainConfig,
  drainGateway,
  drainOf,
  header,
  referenceSignature,
  startDrain,
  webhookCalls,
} from "./drain-harness.js";
import { activeByHost, adminRequest, connectPlayer, counts } from "./harness.js";

const HOST = "game1.postio.example.com";

describe("drain completion", () => {
  it("long streams over 4 workers: no signal until the last one closes, then one key and one webhook in that callback", async () => {
    const gw = await drainGateway();
    const players: Stream[] = [];
    for (let i = 0; i < 8; i++)
      players.push(connectPlayer(gw, HOST, { vm: i % 4, upstream: "10.1.0.21:5000" }));
    const started = startDrain(gw, HOST);
    expect(started.status).toBe(202);
    expect(started.drain).toMatchObject({
      host: HOST,
      state: "draining",
      active: 8,
      source: "admin",
    });
    for (const p of players.slice(0, 7)) p.close();
    gw.advance(3000);
    expect(webhookCalls(gw)).toEqual([]);
    expect(completeKey(gw, HOST)).toBeUndefined();
    expect(drainOf(gw, HOST)).toMatchObject({ state: "draining", active: 1 });

    players[7]?.close(); // the last player leaves: no tick, no advance after this
    const key = completeKey(gw, HOST);
    expect(key).toMatchObject({
      host: HOST,
      episode: started.drain.episode,
      reason: "drained",
      remaining: 0,
    });
    expect(key?.upstreams).toEqual(["10.1.0.21:5000"]);
    const calls = webhookCalls(gw);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.vmIndex).toBe(players[7]?.vmIndex);
    expect(header(calls[0]!, ":method")).toBe("POST");
    expect(header(calls[0]!, ":path")).toBe("/drained");
    expect(header(calls[0]!, "idempotency-key")).toBe(started.drain.episode);
    expect(bodyOf(calls[0]!)).toMatchObject({ event: "drain_complete", ...key });
    gw.respondHttpCall(calls[0]!, { status: 200 });
    expect(drainOf(gw, HOST)).toMatchObject({
      state: "completed",
      delivery: { state: "delivered", attempts: 1 },
    });
    gw.advance(60_000);
    expect(webhookCalls(gw)).toEqual([]);
    expect(gw.trapCount).toBe(0);
  });

  it("a host already at zero completes at once", async () => {
    const gw = await drainGateway();
    const started = startDrain(gw, "game9.postio.example.com");
    expect(started.status).toBe(202);
    expect(started.drain).toMatchObject({
      state: "completed",
      reason: "drained",
      remaining: 0,
      active: 0,
    });
    expect(completeKey(gw, "game9.postio.example.com")).toMatchObject({
      episode: started.drain.episode,
    });
    expect(webhookCalls(gw)).toHaveLength(1);
  });

  it("a deadline completes the drain with reason deadline and the count left", async () => {
    const gw = await drainGateway();
    for (let i = 0; i < 3; i++) connectPlayer(gw, HOST, { vm: i });
    const started = startDrain(gw, HOST, "&deadlineSeconds=30");
    expect(started.drain.deadline).not.toBeNull();
    gw.advance(29_000);
    expect(webhookCalls(gw)).toEqual([]);
    gw.advance(2000);
    expect(completeKey(gw, HOST)).toMatchObject({ reason: "deadline", remaining: 3 });
    expect(webhookCalls(gw)).toHaveLength(1);
    expect(bodyOf(webhookCalls(gw)[0]!)).toMatchObject({ reason: "deadline", remaining: 3 });
  });

  it("a cancelled drain never signals", async () => {
    const gw = await drainGateway();
    const p = connectPlayer(gw, HOST, { vm: 2 });
    startDrain(gw, HOST);
    const cancel = adminRequest(gw, `/.conn-drain/drain?host=${HOST}`, { method: "DELETE" });
    expect(cancel.status).toBe(200);
    expect(JSON.parse(cancel.body).drain.state).toBe("cancelled");
    p.close();
    gw.advance(10_000);
    expect(webhookCalls(gw)).toEqual([]);
    expect(completeKey(gw, HOST)).toBeUndefined();
    expect(counts(gw).hosts.find((h) => h.host === HOST)?.draining).toBe(false);
  });

  it("the signature verifies with a reference HMAC-SHA256 from Node's crypto", async () => {
    const gw = await drainGateway();
    startDrain(gw, HOST);
    const call = webhookCalls(gw)[0]!;
    const t = Math.floor(call.sentAt / 1000);
    expect(header(call, "x-conn-drain-signature")).toBe(referenceSignature(call.body, t));
    expect(header(call, "content-type")).toBe("application/json");
    expect(header(call, ":authority")).toBe("drain-hook.ops.svc.cluster.local");
  });
});

describe("webhook delivery", () => {
  it("500, 500, then 200: three attempts, one delivery, exponential backoff", async () => {
    const gw = await drainGateway();
    startDrain(gw, HOST);
    const sentAt: number[] = [];
    for (const status of [500, 500, 200]) {
      let calls = webhookCalls(gw);
      while (calls.length === 0) {
        gw.advance(100);
        calls = webhookCalls(gw);
      }
      sentAt.push(calls[0]!.sentAt);
      gw.respondHttpCall(calls[0]!, { status, body: status === 200 ? "ok" : "boom" });
    }
    const d = drainOf(gw, HOST)!;
    expect(d.delivery).toEqual({ state: "delivered", attempts: 3 });
    const waits = [sentAt[1]! - sentAt[0]!, sentAt[2]! - sentAt[1]!];
    // backoffMs 1000 with jitter in [0.75, 1.25), then doubled; retries land on ticks (1000 ms)
    expect(waits[0]).toBeGreaterThanOrEqual(750);
    expect(waits[0]).toBeLessThanOrEqual(2300);
    expect(waits[1]).toBeGreaterThanOrEqual(1500);
    expect(waits[1]).toBeLessThanOrEqual(3600);
    gw.advance(120_000);
    expect(webhookCalls(gw)).toEqual([]);
    const warn = gw.logs({ source: "plugin", minLevel: "warn" }).map((e) => e.message);
    expect(warn.filter((m) => m.includes("answered 500"))).toHaveLength(2);
  });

  it("an unknown cluster is retried and reported, never a trap", async () => {
    const gw = await drainGateway({
      webhook: { cluster: "no-such-cluster", authority: "x", maxAttempts: 3, backoffMs: 100 },
    });
    startDrain(gw, HOST);
    gw.advance(10_000);
    const d = drainOf(gw, HOST)!;
    expect(d.delivery.state).toBe("failed");
    expect(d.delivery.attempts).toBe(3);
    expect(d.delivery.lastError).toContain("BadArgument");
    const errors = gw.logs({ source: "plugin", minLevel: "error" }).map((e) => e.message);
    expect(errors.some((m) => m.includes("failed for good after 3 attempts"))).toBe(true);
    expect(gw.trapCount).toBe(0);
  });

  it("a timeout counts as a failed attempt and is retried", async () => {
    const gw = await drainGateway();
    startDrain(gw, HOST);
    gw.advance(2500); // timeoutMs 2000: the host delivers (token, 0, 0, 0)
    expect(drainOf(gw, HOST)!.delivery).toMatchObject({
      state: "pending",
      attempts: 1,
      lastError: expect.stringContaining("no response"),
    });
    let calls = webhookCalls(gw);
    while (calls.length === 0) {
      gw.advance(100);
      calls = webhookCalls(gw);
    }
    gw.respondHttpCall(calls[0]!, { status: 204 });
    expect(drainOf(gw, HOST)!.delivery).toEqual({ state: "delivered", attempts: 2 });
  });

  it("the owning VM fails mid-delivery: another VM delivers after the lease, same idempotency key", async () => {
    const gw = await drainGateway();
    const p = connectPlayer(gw, HOST, { vm: 2 });
    startDrain(gw, HOST);
    p.close();
    const first = webhookCalls(gw)[0]!;
    expect(first.vmIndex).toBe(3);
    gw.worker(2).crash("owner crashed mid-delivery");
    expect(webhookCalls(gw)).toEqual([]); // its call died with it
    let calls = webhookCalls(gw);
    let waited = 0;
    while (calls.length === 0 && waited < 60_000) {
      gw.advance(500);
      waited += 500;
      calls = webhookCalls(gw);
    }
    expect(calls).toHaveLength(1);
    expect(calls[0]!.vmIndex).not.toBe(3);
    expect(header(calls[0]!, "idempotency-key")).toBe(header(first, "idempotency-key"));
    expect(new TextDecoder().decode(calls[0]!.body)).toBe(new TextDecoder().decode(first.body));
    gw.respondHttpCall(calls[0]!, { status: 200 });
    expect(drainOf(gw, HOST)!.delivery.state).toBe("delivered");
  });

  it("without a webhook, completion still writes the key and shows delivery none", async () => {
    const gw = await drainGateway({ webhook: undefined });
    startDrain(gw, HOST);
    expect(completeKey(gw, HOST)).toMatchObject({ host: HOST });
    expect(drainOf(gw, HOST)!.delivery.state).toBe("none");
    expect(gw.httpCalls()).toEqual([]);
  });
});

describe("drain episodes", () => {
  it("POST is idempotent while draining: the same episode comes back", async () => {
    const gw = await drainGateway();
    connectPlayer(gw, HOST);
    const a = startDrain(gw, HOST);
    const b = startDrain(gw, HOST);
    expect(b.status).toBe(202);
    expect(b.drain.episode).toBe(a.drain.episode);
  });

  it("a host re-created after completion starts clean: a new POST is a new episode, the old one is never reported again", async () => {
    const gw = await drainGateway();
    const old = connectPlayer(gw, HOST, { upstream: "10.1.0.21:5000" });
    const first = startDrain(gw, HOST);
    old.close();
    gw.respondHttpCall(webhookCalls(gw)[0]!, { status: 200 });
    // OKG re-creates game1 with the same name and a new pod IP; players join it
    const fresh = connectPlayer(gw, HOST, { vm: 1, upstream: "10.1.0.99:5000" });
    const view = counts(gw).hosts.find((h) => h.host === HOST);
    expect(view).toMatchObject({ active: 1, draining: false });
    fresh.close();
    gw.advance(30_000);
    expect(webhookCalls(gw)).toEqual([]); // the finished episode is not signalled for the new pod
    const second = startDrain(gw, HOST);
    expect(second.drain.episode).not.toBe(first.drain.episode);
    expect(completeKey(gw, HOST)?.episode).toBe(second.drain.episode);
  });

  it("a config update mid-drain keeps the drain", async () => {
    const gw = await drainGateway();
    const p = connectPlayer(gw, HOST, { vm: 3 });
    const started = startDrain(gw, HOST);
    const r = await gw.updateConfig(JSON.stringify({ ...drainConfig, maxHosts: 2048 }));
    expect(r.accepted).toBe(true);
    expect(drainOf(gw, HOST)).toMatchObject({ episode: started.drain.episode, state: "draining" });
    p.close();
    expect(completeKey(gw, HOST)?.episode).toBe(started.drain.episode);
    expect(webhookCalls(gw)).toHaveLength(1);
  });

  it("drain.rejectNew turns away only new players, with 503 and retry-after", async () => {
    const gw = await drainGateway({ drain: { rejectNew: true, retryAfterSeconds: 20 } });
    const existing = connectPlayer(gw, HOST, { vm: 0 });
    startDrain(gw, HOST);
    const s = gw.worker(1).openStream();
    s.sendRequestHeaders({ ":method": "GET", ":path": "/play", ":authority": HOST });
    expect(s.localResponse).toMatchObject({ status: 503, details: "conn_drain_draining" });
    expect(s.localResponse?.headers["retry-after"]).toBe("20");
    expect(s.localResponse?.headers["x-conn-drain"]).toBe("draining");
    expect(activeByHost(gw)[HOST]).toBe(1);
    // the existing player is untouched, and other hosts are not refused
    existing.sendRequestBody("still here", false);
    expect(connectPlayer(gw, "game2.postio.example.com", { vm: 1 }).localResponse).toBeUndefined();
    existing.close();
    expect(completeKey(gw, HOST)).toBeDefined();
  });

  it("drain.hosts in config starts drains, and removing a host stops its drain unless an operator started it", async () => {
    const gw = await drainGateway();
    const g1 = "game1.postio.example.com";
    const g2 = "game2.postio.example.com";
    connectPlayer(gw, g1, { vm: 0 });
    connectPlayer(gw, g2, { vm: 1 });
    const listed = await gw.updateConfig(
      JSON.stringify({ ...drainConfig, drain: { hosts: [g1, g2] } }),
    );
    expect(listed.accepted).toBe(true);
    expect(drainOf(gw, g1)).toMatchObject({ state: "draining", source: "config" });
    expect(drainOf(gw, g2)).toMatchObject({ state: "draining", source: "config" });
    // an operator asks for game2's drain too: it keeps the episode and becomes the operator's
    const adopted = startDrain(gw, g2);
    expect(adopted.drain).toMatchObject({ episode: drainOf(gw, g2)?.episode, source: "admin" });
    const unlisted = await gw.updateConfig(
      JSON.stringify({ ...drainConfig, drain: { hosts: [] } }),
    );
    expect(unlisted.accepted).toBe(true);
    expect(drainOf(gw, g1)?.state).toBe("cancelled");
    expect(drainOf(gw, g2)?.state).toBe("draining");
    expect(webhookCalls(gw)).toEqual([]);
  });

  it("a config-listed host already at zero completes at configure; a worker delivers on its first tick", async () => {
    const gw = await drainGateway({ drain: { hosts: ["game7.postio.example.com"] } });
    expect(completeKey(gw, "game7.postio.example.com")).toMatchObject({ reason: "drained" });
    expect(webhookCalls(gw)).toEqual([]); // on_configure may run in the canary: nobody sends from there
    gw.advance(1000);
    const calls = webhookCalls(gw);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.vmIndex).toBeGreaterThanOrEqual(0);
  });

  it("the admin view shows draining, episode, deadline and delivery state per host", async () => {
    const gw = await drainGateway();
    connectPlayer(gw, HOST);
    startDrain(gw, HOST, "&deadlineSeconds=600");
    const entry = counts(gw).hosts.find((h) => h.host === HOST) as unknown as Record<
      string,
      unknown
    >;
    expect(entry).toMatchObject({
      draining: true,
      drain: { state: "draining", delivery: { state: "none", attempts: 0 } },
    });
    expect((entry.drain as { deadline: string }).deadline).toMatch(/^\d{4}-\d\d-\d\dT/);
    const prom = adminRequest(gw, "/.conn-drain?format=prometheus").body;
    expect(prom).toContain(`conn_drain_draining{host="${HOST}",gateway=`);
    expect(prom).toMatch(
      new RegExp(
        `conn_drain_draining\\{host="${HOST.replaceAll(".", "\\.")}",gateway="[^"]+"\\} 1`,
      ),
    );
  });

  it.each([
    ["POST", "/.conn-drain/drain", 400, "query parameter host is required"],
    [
      "POST",
      "/.conn-drain/drain?host=a&deadlineSeconds=-1",
      400,
      "query parameter deadlineSeconds must be one integer from 0 to 2592000",
    ],
    ["DELETE", "/.conn-drain/drain?host=never.example.com", 404, "no drain for never.example.com"],
    [
      "PUT",
      "/.conn-drain/drain?host=a",
      405,
      "method PUT not allowed; use GET, HEAD, POST, DELETE",
    ],
    ["GET", "/.conn-drain/drain?host=a", 400, "GET /.conn-drain/drain takes no parameters"],
  ])("%s %s answers %i", async (method, path, status, reason) => {
    const gw = await drainGateway();
    const reply = adminRequest(gw, path, { method });
    expect(reply.status).toBe(status);
    expect(reply.body).toBe(`${reason}\n`);
  });

  it("drain requests need the admin credentials too", async () => {
    const gw = await drainGateway();
    expect(
      adminRequest(gw, `/.conn-drain/drain?host=${HOST}`, { method: "POST", token: null }).status,
    ).toBe(401);
    expect(drainOf(gw, HOST)).toBeUndefined();
  });
});

describe("webhook delivery across a config update", () => {
  it("a call whose root context went away is sent again once its lease runs out", async () => {
    const gw = await drainGateway();
    startDrain(gw, HOST);
    const first = webhookCalls(gw);
    expect(first).toHaveLength(1);
    // a config update deletes the root that made the call (it has no streams left); Envoy
    // cancels such a root's calls and never answers them
    expect(
      (await gw.updateConfig(JSON.stringify({ ...drainConfig, maxHosts: 2048 }))).accepted,
    ).toBe(true);
    let calls = webhookCalls(gw).filter(
      (c) => c.token !== first[0]!.token || c.vmIndex !== first[0]!.vmIndex,
    );
    for (let t = 0; t < 60 && calls.length === 0; t++) {
      gw.advance(500);
      calls = webhookCalls(gw).filter(
        (c) => c.token !== first[0]!.token || c.vmIndex !== first[0]!.vmIndex,
      );
    }
    expect(calls.length).toBeGreaterThanOrEqual(1);
    gw.respondHttpCall(calls[0]!, { status: 200 });
    expect(drainOf(gw, HOST)!.delivery.state).toBe("delivered");
    expect(header(calls[0]!, "idempotency-key")).toBe(header(first[0]!, "idempotency-key"));
  });
});
