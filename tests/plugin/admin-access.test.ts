// Who may use the admin path (issue 10, finding 7). `source.address` is what Envoy derives, from
// X-Forwarded-For too unless use_remote_address is on with no trusted hops, so an allow-list can
// admit readers but never a writer on its own: every state change needs the bearer token, and
// no state change is taken from a browser. IPv4-mapped IPv6 sources match IPv4 CIDRs; the
// Bearer scheme is case-insensitive.
import { describe, expect, it } from "vitest";
import type { Gateway } from "../../host/index.js";
import { drains } from "./drain-harness.js";
import {
  ADMIN_TOKEN,
  type AdminOptions,
  adminConfig,
  adminRequest,
  connectPlayer,
  gateway,
} from "./harness.js";

const HOST = "game1.postio.example.com";
const INSIDE = "10.2.3.4:40000";

/**
 * Admin request options that send exactly the headers given: no token unless a header carries
 * one (the harness's adminRequest adds its own by default), from inside the CIDR unless `source`
 * says otherwise.
 */
function exactly(c: Omit<AdminOptions, "token" | "accept"> = {}): AdminOptions {
  return {
    ...c,
    source: c.source ?? INSIDE,
    token: null,
    headers: { ":scheme": "https", ...c.headers },
  };
}

const call = (gw: Gateway, path: string, c: Parameters<typeof exactly>[0] = {}) =>
  adminRequest(gw, path, exactly(c));

const bearer = { authorization: `Bearer ${ADMIN_TOKEN}` };
const drainPath = `/.conn-drain/drain?host=${HOST}`;

/** The drains the gateway lists, read with the token, or (`{}`) from inside the CIDR without one. */
function listed(gw: Gateway, headers: Record<string, string> = bearer) {
  return drains(gw, exactly({ headers }));
}

describe("admin access: allowCidrs admits readers, never writers", () => {
  const cidrOnly = { admin: { allowCidrs: ["10.0.0.0/8"] } };

  it("CIDR-only: reads from inside pass without a token; POST and DELETE are 403 'token required'", async () => {
    const gw = await gateway(cidrOnly);
    connectPlayer(gw, HOST, { vm: 1 });
    expect(call(gw, "/.conn-drain").status).toBe(200);
    expect(call(gw, `/.conn-drain?host=${HOST}`).status).toBe(200);
    for (const method of ["POST", "DELETE"]) {
      const reply = call(gw, drainPath, { method });
      expect(reply.status).toBe(403);
      expect(reply.body).toBe(
        "a bearer token is required for state changes (POST, DELETE) and admin.token is not set:" +
          " admin.allowCidrs alone admits reads only\n",
      );
      // A token means nothing when none is configured: still refused.
      expect(call(gw, drainPath, { method, headers: bearer }).status).toBe(403);
    }
    expect(listed(gw, {})).toEqual([]);
  });

  it("CIDR and token: a state change from inside the CIDR still needs the token (401), reads need both", async () => {
    const gw = await gateway({ admin: { token: ADMIN_TOKEN, allowCidrs: ["10.0.0.0/8"] } });
    const refused = call(gw, drainPath, { method: "POST" });
    expect(refused.status).toBe(401);
    expect(refused.headers["www-authenticate"]).toContain("Bearer");
    expect(listed(gw)).toEqual([]);
    expect(call(gw, drainPath, { method: "POST", headers: bearer }).status).toBe(202);
    expect(
      call(gw, drainPath, { method: "POST", source: "192.0.2.1:1", headers: bearer }).status,
    ).toBe(403);
  });

  it("any method but GET and HEAD counts as a state change: without a configured token it is 403, not 405", async () => {
    const gw = await gateway(cidrOnly);
    for (const method of ["PUT", "PATCH", "OPTIONS"]) {
      expect(call(gw, "/.conn-drain", { method }).status).toBe(403);
    }
    expect(call(gw, "/.conn-drain", { method: "HEAD" }).status).toBe(200);
  });
});

describe("admin access: a spoofed X-Forwarded-For (source.address derived as Envoy does)", () => {
  const OUTSIDE_PEER = "203.0.113.66:51000";

  /** A request from a peer outside the CIDR that writes an inside address into XFF. */
  function spoofed(gw: Gateway, method: string, headers: Record<string, string> = {}) {
    const stream = gw.worker(0).openStream({ remoteAddress: OUTSIDE_PEER });
    stream.sendRequestHeaders(
      {
        ":method": method,
        ":path": method === "GET" ? "/.conn-drain" : drainPath,
        ":authority": "gateway.example.com",
        "x-forwarded-for": "10.1.2.3",
        ...headers,
      },
      { endOfStream: true },
    );
    if (!stream.localResponse) throw new Error("no local reply");
    return stream.localResponse;
  }

  it("use_remote_address false (Envoy's default): the spoof gets a read past allowCidrs, never a state change", async () => {
    const gw = await gateway(
      { admin: { allowCidrs: ["10.0.0.0/8"] } },
      { useRemoteAddress: false },
    );
    connectPlayer(gw, HOST, { vm: 1 });
    // Without XFF the peer itself is checked, and it is outside.
    const plain = gw.worker(0).openStream({ remoteAddress: OUTSIDE_PEER });
    plain.sendRequestHeaders(
      { ":method": "GET", ":path": "/.conn-drain", ":authority": "gateway.example.com" },
      { endOfStream: true },
    );
    expect(plain.localResponse?.status).toBe(403);
    // What the README warns about: XFF decides source.address, so a CIDR is no credential.
    expect(spoofed(gw, "GET").status).toBe(200);
    for (const method of ["POST", "DELETE"]) {
      const reply = spoofed(gw, method);
      expect(reply.status).toBe(403);
      expect(reply.body).toContain("a bearer token is required for state changes");
    }
    expect(listed(gw, {})).toEqual([]);
  });

  it("with a token configured, the spoofed source still needs the token to change state (401)", async () => {
    const gw = await gateway(
      { admin: { token: ADMIN_TOKEN, allowCidrs: ["10.0.0.0/8"] } },
      { useRemoteAddress: true, xffNumTrustedHops: 1 },
    );
    expect(spoofed(gw, "POST").status).toBe(401);
    expect(listed(gw)).toEqual([]);
    expect(spoofed(gw, "POST", bearer).status).toBe(202);
  });
});

describe("admin access: no state change from a browser", () => {
  it.each([
    ["Origin of another site", { origin: "https://evil.example" }, "carries Origin"],
    [
      "Origin equal to the gateway's own",
      { origin: "https://gateway.example.com" },
      "carries Origin",
    ],
    ["Origin null", { origin: "null" }, "carries Origin"],
    ["Sec-Fetch-Site: cross-site", { "sec-fetch-site": "cross-site" }, "Sec-Fetch-Site cross-site"],
    ["Sec-Fetch-Site: same-site", { "sec-fetch-site": "same-site" }, "Sec-Fetch-Site same-site"],
    [
      "Sec-Fetch-Site: same-origin",
      { "sec-fetch-site": "same-origin" },
      "Sec-Fetch-Site same-origin",
    ],
  ])("a POST with a valid token and %s is 403 and starts nothing", async (_, headers, reason) => {
    const gw = await gateway(adminConfig);
    connectPlayer(gw, HOST, { vm: 1 });
    const reply = call(gw, drainPath, { method: "POST", headers: { ...bearer, ...headers } });
    expect(reply.status).toBe(403);
    expect(reply.body).toContain("state changes are refused from browsers");
    expect(reply.body).toContain(reason);
    expect(
      call(gw, drainPath, { method: "DELETE", headers: { ...bearer, ...headers } }).status,
    ).toBe(403);
    expect(listed(gw)).toEqual([]);
  });

  it("CIDR-only: a cross-site browser POST from inside the network is refused", async () => {
    const gw = await gateway({ admin: { allowCidrs: ["10.0.0.0/8"] } });
    const reply = call(gw, drainPath, {
      method: "POST",
      headers: { origin: "https://evil.example", "sec-fetch-site": "cross-site" },
    });
    expect(reply.status).toBe(403);
    expect(listed(gw, {})).toEqual([]);
  });

  it("Sec-Fetch-Site: none (typed by the user) and reads carrying Origin are allowed", async () => {
    const gw = await gateway(adminConfig);
    const post = call(gw, drainPath, {
      method: "POST",
      headers: { ...bearer, "sec-fetch-site": "none" },
    });
    expect(post.status).toBe(202);
    const read = call(gw, "/.conn-drain", {
      headers: { ...bearer, origin: "https://dashboard.example", "sec-fetch-site": "cross-site" },
    });
    expect(read.status).toBe(200);
  });
});

describe("admin access: IPv4-mapped IPv6 addresses are IPv4", () => {
  it("a source [::ffff:10.2.3.4]:port matches 10.0.0.0/8; a mapped outsider does not", async () => {
    const gw = await gateway({ admin: { allowCidrs: ["10.0.0.0/8"] } });
    expect(call(gw, "/.conn-drain", { source: "[::ffff:10.2.3.4]:5555" }).status).toBe(200);
    expect(call(gw, "/.conn-drain", { source: "[::FFFF:a02:304]:5555" }).status).toBe(200);
    expect(call(gw, "/.conn-drain", { source: "::ffff:10.2.3.4" }).status).toBe(200);
    expect(call(gw, "/.conn-drain", { source: "[::ffff:203.0.113.9]:5555" }).status).toBe(403);
    // Not mapped: a different IPv6 address that merely ends in the same bytes.
    expect(call(gw, "/.conn-drain", { source: "[2001:db8::a02:304]:5555" }).status).toBe(403);
  });

  it("a CIDR inside ::ffff:0:0/96 is the IPv4 CIDR it maps; ::/0 stays IPv6-only", async () => {
    const gw = await gateway({ admin: { allowCidrs: ["::ffff:10.0.0.0/104"] } });
    expect(call(gw, "/.conn-drain", { source: "10.9.9.9:1" }).status).toBe(200);
    expect(call(gw, "/.conn-drain", { source: "[::ffff:10.9.9.9]:1" }).status).toBe(200);
    expect(call(gw, "/.conn-drain", { source: "11.0.0.1:1" }).status).toBe(403);

    const all4 = await gateway({ admin: { allowCidrs: ["::ffff:0:0/96"] } });
    expect(call(all4, "/.conn-drain", { source: "198.51.100.1:1" }).status).toBe(200);
    expect(call(all4, "/.conn-drain", { source: "[2001:db8::1]:1" }).status).toBe(403);

    const all6 = await gateway({ admin: { allowCidrs: ["::/0"] } });
    expect(call(all6, "/.conn-drain", { source: "[2001:db8::1]:1" }).status).toBe(200);
    expect(call(all6, "/.conn-drain", { source: "198.51.100.1:1" }).status).toBe(403);
  });
});

describe("admin access: the Bearer scheme is case-insensitive (RFC 7235)", () => {
  it.each([
    `bearer ${ADMIN_TOKEN}`,
    `BEARER ${ADMIN_TOKEN}`,
    `BeArEr ${ADMIN_TOKEN}`,
    `Bearer  ${ADMIN_TOKEN}`,
  ])("accepts %j", async (authorization) => {
    const gw = await gateway(adminConfig);
    expect(call(gw, "/.conn-drain", { headers: { authorization } }).status).toBe(200);
    expect(call(gw, drainPath, { method: "POST", headers: { authorization } }).status).toBe(202);
  });

  it.each([
    `Bearer${ADMIN_TOKEN}`,
    `Bearer: ${ADMIN_TOKEN}`,
    `Bearerx ${ADMIN_TOKEN}`,
    `Basic ${ADMIN_TOKEN}`,
    ADMIN_TOKEN,
    `bearer ${ADMIN_TOKEN.toUpperCase()}`,
  ])("refuses %j (401): the token itself stays case-sensitive", async (authorization) => {
    const gw = await gateway(adminConfig);
    expect(call(gw, "/.conn-drain", { headers: { authorization } }).status).toBe(401);
  });
});
