import { describe, expect, it } from "vitest";
import { parsePairs, serializePairs } from "../../host/index.js";
import { find, probeGateway } from "./helpers.js";

describe("header maps", () => {
  it("serializes pairs with lengths and NUL terminators, both ways", () => {
    const bytes = serializePairs([
      [":path", "/"],
      ["x", ""],
    ]);
    expect([...bytes.subarray(0, 4)]).toEqual([2, 0, 0, 0]);
    expect(bytes.length).toBe(4 + 16 + (5 + 1 + 1 + 1) + (1 + 1 + 0 + 1));
    expect(bytes[4 + 16 + 5]).toBe(0);
    expect(parsePairs(bytes)).toEqual([
      [":path", "/"],
      ["x", ""],
    ]);
  });

  it("lower-cases keys and lets the plugin read them during on_request_headers", async () => {
    const gw = await probeGateway();
    const s = gw.worker(0).openStream();
    s.sendRequestHeaders([
      [":path", "/p"],
      ["X-Upper", "V"],
      ["x-probe-op", "headers"],
    ]);
    expect(s.requestHeaders.pairs.map(([k]) => k)).toEqual([":path", "x-upper", "x-probe-op"]);
    expect(find(gw, "headers req=", 1)[0]).toBe(
      "headers req=:path=/p|x-upper=V|x-probe-op=headers resp=",
    );
  });

  it("makes request headers unreadable once on_request_headers returns Continue", async () => {
    const gw = await probeGateway();
    const s = gw.worker(0).openStream();
    expect(s.sendRequestHeaders({ ":path": "/p", "x-probe-op": "late-read" })).toBe(0);
    s.sendRequestBody("b", true);
    s.sendResponseHeaders({ ":status": "200" });
    // BadArgument (2) for a value, empty pairs
    expect(find(gw, "late-read", 1)).toEqual([
      "late-read body-phase status=2 pairs=",
      "late-read response-phase status=2 pairs=",
    ]);
  });

  it("keeps request headers readable while the stream is paused", async () => {
    const gw = await probeGateway();
    const s = gw.worker(0).openStream();
    expect(s.sendRequestHeaders({ ":path": "/p", "x-probe-op": "pause,late-read" })).toBe(1);
    expect(s.paused.request).toBe(true);
    s.sendRequestBody("b", true);
    expect(find(gw, "late-read", 1)[0]).toBe(
      "late-read body-phase status=0 pairs=:path=/p|x-probe-op=pause,late-read",
    );
  });

  it("applies add / replace / remove during the callback", async () => {
    const gw = await probeGateway();
    const s = gw.worker(0).openStream();
    s.sendRequestHeaders({
      ":path": "/",
      "x-r": "old",
      "x-gone": "bye",
      "x-probe-op": "hdr-add:x-added=1,hdr-replace:x-r=new,hdr-remove:x-gone",
    });
    expect(s.requestHeaders.get("x-added")).toBe("1");
    expect(s.requestHeaders.get("x-r")).toBe("new");
    expect(s.requestHeaders.get("x-gone")).toBeUndefined();
    expect(find(gw, "hdr-", 1)).toEqual(["hdr-add rc=0", "hdr-replace rc=0", "hdr-remove rc=0"]);

    s.sendResponseHeaders({ ":status": "200", "x-probe-op": "hdr-add:x-resp=1,headers" });
    expect(s.responseHeaders.get("x-resp")).toBe("1");
    // request headers are gone by now, response headers are there
    expect(find(gw, "headers req=", 1)[0]).toBe(
      "headers req= resp=:status=200|x-probe-op=hdr-add:x-resp=1,headers|x-resp=1",
    );
  });

  it("passes trailers and bodies during their callbacks", async () => {
    const gw = await probeGateway();
    const s = gw.worker(0).openStream();
    s.sendRequestHeaders({ ":path": "/" });
    s.sendRequestBody(new Uint8Array([104, 105]));
    s.sendRequestTrailers({ "grpc-status": "0" });
    s.sendResponseHeaders({ ":status": "200" });
    s.sendResponseBody("resp", true);
    expect(find(gw, "cb:request_body", 1)[0]).toBe("cb:request_body ctx=2 size=2 eos=0 body=hi");
    expect(find(gw, "cb:request_trailers", 1)[0]).toBe(
      "cb:request_trailers ctx=2 n=1 trailers=grpc-status=0",
    );
    expect(find(gw, "cb:response_body", 1)[0]).toBe(
      "cb:response_body ctx=2 size=4 eos=1 body=resp",
    );
  });
});

describe("repeated headers", () => {
  it("answers a single-value read with the first of repeated headers, like Envoy", async () => {
    const gw = await probeGateway();
    const s = gw.worker(0).openStream();
    s.sendRequestHeaders(
      [
        ["x-probe-op", "headers"],
        ["x-probe-op", "trap"],
      ],
      { endOfStream: true },
    );
    expect(gw.worker(0).failed).toBe(false);
    expect(find(gw, "headers req=", 1)[0]).toBe(
      "headers req=x-probe-op=headers|x-probe-op=trap resp=",
    );
  });
});
