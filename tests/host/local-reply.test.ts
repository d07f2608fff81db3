import { describe, expect, it } from "vitest";
import { callbacks, find, probeGateway } from "./helpers.js";

describe("local replies", () => {
  it("runs through the plugin's own on_response_headers / on_response_body, then ends the stream", async () => {
    const gw = await probeGateway();
    const s = gw.worker(0).openStream();
    expect(s.sendRequestHeaders({ ":path": "/", "x-probe-op": "local-reply" })).toBe(1);
    expect(callbacks(gw, 1, s.id)).toEqual([
      "create",
      "request_headers",
      "response_headers",
      "response_body",
      "log",
      "done",
      "delete",
    ]);
    // deferred: the reply is built after on_request_headers returned
    const msgs = find(gw, "", 1);
    expect(msgs.indexOf("local-reply rc=0")).toBeLessThan(
      msgs.findIndex((m) => m.startsWith("cb:response_headers")),
    );
    expect(find(gw, "cb:response_headers", 1)[0]).toBe(
      "cb:response_headers ctx=2 n=4 eos=0 headers=:status=403|x-probe=yes|content-length=15|content-type=text/plain",
    );
    expect(find(gw, "cb:response_body", 1)[0]).toBe(
      "cb:response_body ctx=2 size=15 eos=1 body=denied by probe",
    );
    expect(s.localResponse).toMatchObject({
      status: 403,
      body: "denied by probe",
      details: "probe_denied",
      headers: {
        ":status": "403",
        "x-probe": "yes",
        "content-type": "text/plain",
        "content-length": "15",
      },
    });
    expect(s.localResponse?.bodyBytes).toEqual(new TextEncoder().encode("denied by probe"));
    expect(s.endedBy).toBe("local-reply");
    expect(gw.localResponses()).toHaveLength(1);
    s.close(); // a no-op on an ended stream
    expect(callbacks(gw, 1, s.id).filter((c) => c === "delete")).toHaveLength(1);
  });

  it("is ignored on a root context", async () => {
    const gw = await probeGateway({ workers: 1, config: "ops=local-reply" });
    expect(find(gw, "local-reply rc=0", 1)).toHaveLength(1);
    expect(gw.localResponses()).toEqual([]);
    expect(gw.logs({ vm: 1, source: "host" }).map((e) => e.level)).toContain("debug");
  });
});
