import { describe, expect, it } from "vitest";
import { find, probeGateway } from "./helpers.js";

describe("http calls", () => {
  it("validates pseudo-headers and the cluster", async () => {
    const gw = await probeGateway({ workers: 1, clusters: ["auth"] });
    const s = gw.worker(0).openStream();
    s.sendRequestHeaders({ "x-probe-op": "http-call:host,http-call:nocluster" });
    // a `host` header is not `:authority`; an unknown cluster is BadArgument too
    expect(find(gw, "http-call rc=", 1)).toEqual([
      "http-call rc=2 token=0 ctx=2",
      "http-call rc=2 token=0 ctx=2",
    ]);
    gw.setClusters(["auth", "nowhere"]);
    gw.worker(0).openStream().sendRequestHeaders({ "x-probe-op": "http-call:nocluster" });
    expect(find(gw, "http-call rc=0", 1)).toHaveLength(1);
  });

  it("lists pending calls and delivers the response to the root that made the call", async () => {
    const gw = await probeGateway({ workers: 2, clusters: ["auth"] });
    const s = gw.worker(0).openStream();
    expect(s.sendRequestHeaders({ ":path": "/play", "x-probe-op": "http-call" })).toBe(1);
    gw.worker(0).openStream().sendRequestHeaders({ "x-probe-op": "http-call" });
    gw.worker(1).openStream().sendRequestHeaders({ "x-probe-op": "http-call" });
    const calls = gw.httpCalls();
    // tokens are per VM
    expect(calls.map((c) => [c.vmIndex, c.token])).toEqual([
      [1, 1],
      [1, 2],
      [2, 1],
    ]);
    const [call] = gw.worker(0).httpCalls();
    expect(call).toMatchObject({
      rootContextId: 1,
      cluster: "auth",
      timeoutMs: 500,
      sentAt: gw.now(),
    });
    expect(call?.headers).toContainEqual([":authority", "auth.local"]);
    expect(new TextDecoder().decode(call?.body)).toBe("ping");

    gw.respondHttpCall(call as never, {
      status: 200,
      headers: { "X-A": "b" },
      body: "ok",
      trailers: { t: "1" },
    });
    expect(find(gw, "cb:http_call_response", 1)).toEqual([
      "cb:http_call_response ctx=1 token=1 headers=2 body_size=2 trailers=1 status=200 body=ok trailer-map=t=1",
    ]);
    // the probe then switches to the stream with proxy_set_effective_context and resumes it
    expect(find(gw, "effective ctx=2 rc=0", 1)).toHaveLength(1);
    expect(find(gw, "continue rc=0", 1)).toHaveLength(1);
    expect(s.paused.request).toBe(false);
    expect(gw.httpCalls()).toHaveLength(2);
    expect(() => gw.respondHttpCall(call as never)).toThrow(/not pending/);
  });

  it("delivers failures and timeouts as (token, 0, 0, 0)", async () => {
    const gw = await probeGateway({ workers: 1, clusters: ["auth"] });
    gw.worker(0).openStream().sendRequestHeaders({ "x-probe-op": "http-call" });
    gw.worker(0).openStream().sendRequestHeaders({ "x-probe-op": "http-call" });
    const [first] = gw.httpCalls();
    gw.failHttpCall(first as never);
    expect(find(gw, "cb:http_call_response", 1)[0]).toMatch(
      /token=1 headers=0 body_size=0 trailers=0 status=none body= /,
    );
    gw.advance(499);
    expect(gw.httpCalls()).toHaveLength(1);
    gw.advance(1);
    expect(gw.httpCalls()).toHaveLength(0);
    expect(find(gw, "cb:http_call_response", 1)[1]).toMatch(
      /token=2 headers=0 body_size=0 trailers=0/,
    );
  });

  it("a non-200 answer makes the probe send a local reply on the waiting stream", async () => {
    const gw = await probeGateway({ workers: 1, clusters: ["auth"] });
    const s = gw.worker(0).openStream();
    s.sendRequestHeaders({ "x-probe-op": "http-call" });
    gw.respondHttpCall(gw.httpCalls()[0] as never, { status: 403 });
    expect(s.localResponse?.status).toBe(403);
    expect(s.endedBy).toBe("local-reply");
  });

  it("calls made by the canary die with it", async () => {
    const gw = await probeGateway({ workers: 2, clusters: ["auth"], config: "ops=http-call" });
    expect(find(gw, "http-call rc=0", -1)).toHaveLength(1);
    expect(gw.httpCalls().map((c) => c.vmIndex)).toEqual([0, 1, 2]);
    gw.advance(1000);
    expect(find(gw, "cb:http_call_response", -1)).toHaveLength(0);
    expect(find(gw, "cb:http_call_response")).toHaveLength(3);
  });
});
