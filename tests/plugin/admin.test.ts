import { describe, expect, it } from "vitest";
import {
  ADMIN_TOKEN,
  adminConfig,
  adminRequest,
  connectPlayer,
  counts,
  gateway,
} from "./harness.js";

const NODE_ID = "router~10.0.0.9~higress-gateway-0.higress-system~higress-system.svc.cluster.local";

async function withPlayers(config: Record<string, unknown> = adminConfig) {
  const gw = await gateway(config);
  connectPlayer(gw, "game1.postio.example.com", { vm: 1 });
  connectPlayer(gw, "game1.postio.example.com", { vm: 2 });
  connectPlayer(gw, "game0.postio.example.com", { vm: 3 });
  return gw;
}

describe("admin path: answers", () => {
  it("GET lists hosts sorted by name with the gateway id, as JSON", async () => {
    const gw = await withPlayers();
    const reply = adminRequest(gw, "/.conn-drain");
    expect(reply.status).toBe(200);
    expect(reply.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(reply.body)).toEqual({
      gateway: NODE_ID,
      totalActive: 3,
      overflow: 0,
      hosts: [
        { host: "game0.postio.example.com", active: 1, exact: true, overflow: 0, draining: false },
        { host: "game1.postio.example.com", active: 2, exact: true, overflow: 0, draining: false },
      ],
    });
  });

  it("is answered locally, never forwarded, and the reply passes through the plugin", async () => {
    const gw = await withPlayers();
    const s = gw.worker(0).openStream({ properties: { "source.address": "10.0.0.1:1" } });
    s.sendRequestHeaders(
      {
        ":method": "GET",
        ":path": "/.conn-drain",
        ":authority": "gw",
        authorization: `Bearer ${ADMIN_TOKEN}`,
      },
      { endOfStream: true },
    );
    expect(s.localResponse?.status).toBe(200);
    expect(s.localResponse?.details).toBe("conn_drain_admin");
    expect(s.ended).toBe(true);
  });

  it("gatewayId from config overrides node.id", async () => {
    const gw = await gateway({ ...adminConfig, gatewayId: "gw-east-1" });
    expect(counts(gw).gateway).toBe("gw-east-1");
  });

  it("?host=H answers one entry; an unknown host is active 0, not an error", async () => {
    const gw = await withPlayers();
    const one = adminRequest(gw, "/.conn-drain?host=game1.postio.example.com", { vm: 0 });
    expect(JSON.parse(one.body)).toEqual({
      gateway: NODE_ID,
      host: "game1.postio.example.com",
      active: 2,
      exact: true,
      overflow: 0,
      draining: false,
    });
    const normalized = adminRequest(gw, "/.conn-drain?host=GAME1.postio.example.com%3A5000");
    expect(JSON.parse(normalized.body).active).toBe(2);
    const unknown = adminRequest(gw, "/.conn-drain?host=game9.postio.example.com");
    expect(unknown.status).toBe(200);
    expect(JSON.parse(unknown.body)).toMatchObject({ host: "game9.postio.example.com", active: 0 });
  });

  it("?format=prometheus and Accept: text/plain give the text exposition format", async () => {
    const gw = await withPlayers();
    for (const reply of [
      adminRequest(gw, "/.conn-drain?format=prometheus"),
      adminRequest(gw, "/.conn-drain", { accept: "text/plain" }),
    ]) {
      expect(reply.status).toBe(200);
      expect(reply.headers["content-type"]).toBe("text/plain; version=0.0.4; charset=utf-8");
      const lines = reply.body.trimEnd().split("\n");
      expect(lines).toContain("# TYPE conn_drain_active gauge");
      expect(lines).toContain(
        `conn_drain_active{host="game1.postio.example.com",gateway="${NODE_ID}"} 2`,
      );
      expect(lines).toContain(
        `conn_drain_active{host="game0.postio.example.com",gateway="${NODE_ID}"} 1`,
      );
      expect(lines).toContain(`conn_drain_overflow{gateway="${NODE_ID}"} 0`);
      expect(lines).toContain(
        `conn_drain_draining{host="game0.postio.example.com",gateway="${NODE_ID}"} 0`,
      );
      expect(lines.filter((l) => l.startsWith("# HELP"))).toHaveLength(3);
    }
  });

  it("escapes label values in the Prometheus output", async () => {
    const gw = await gateway({ ...adminConfig, gatewayId: 'gw"1\\x' });
    connectPlayer(gw, 'odd"host\\name', { vm: 0 });
    const body = adminRequest(gw, "/.conn-drain?format=prometheus").body;
    expect(body).toContain('conn_drain_active{host="odd\\"host\\\\name",gateway="gw\\"1\\\\x"} 1');
  });

  it("HEAD answers the status and headers without a body", async () => {
    const gw = await withPlayers();
    const reply = adminRequest(gw, "/.conn-drain", { method: "HEAD" });
    expect(reply.status).toBe(200);
    expect(reply.body).toBe("");
  });

  it("a custom admin.path is served and the default one is then ordinary traffic", async () => {
    const gw = await gateway({ admin: { token: ADMIN_TOKEN, path: "/ops/players" } });
    expect(adminRequest(gw, "/ops/players").status).toBe(200);
    const s = gw.worker(0).openStream();
    s.sendRequestHeaders({
      ":method": "GET",
      ":path": "/.conn-drain",
      ":authority": "game0.example.com",
    });
    expect(s.localResponse).toBeUndefined();
  });
});

describe("admin path: refusals", () => {
  it("401 without a token or with a wrong one, with no data in the body", async () => {
    const gw = await withPlayers();
    for (const token of [
      null,
      "wrong-token-0123456789",
      `${ADMIN_TOKEN}x`,
      ADMIN_TOKEN.slice(0, -1),
    ]) {
      const reply = adminRequest(gw, "/.conn-drain", { token });
      expect(reply.status).toBe(401);
      expect(reply.headers["www-authenticate"]).toContain("Bearer");
      expect(reply.body).not.toContain("game");
    }
    const basic = gw.worker(0).openStream();
    basic.sendRequestHeaders(
      {
        ":method": "GET",
        ":path": "/.conn-drain",
        ":authority": "gw",
        authorization: `Basic ${ADMIN_TOKEN}`,
      },
      { endOfStream: true },
    );
    expect(basic.localResponse?.status).toBe(401);
  });

  it("403 from a source outside allowCidrs; allowed sources pass (IPv4 and IPv6)", async () => {
    const gw = await withPlayers({ admin: { allowCidrs: ["10.0.0.0/8", "fd00::/8"] } });
    expect(adminRequest(gw, "/.conn-drain", { token: null, source: "10.2.3.4:5555" }).status).toBe(
      200,
    );
    expect(adminRequest(gw, "/.conn-drain", { token: null, source: "[fd00::5]:5555" }).status).toBe(
      200,
    );
    const outside = adminRequest(gw, "/.conn-drain", { token: null, source: "203.0.113.9:5555" });
    expect(outside.status).toBe(403);
    expect(outside.body).not.toContain("game");
    expect(
      adminRequest(gw, "/.conn-drain", { token: null, source: "[2001:db8::1]:5555" }).status,
    ).toBe(403);
  });

  it("with both a token and allowCidrs, a request needs both", async () => {
    const gw = await withPlayers({ admin: { token: ADMIN_TOKEN, allowCidrs: ["10.0.0.0/8"] } });
    expect(adminRequest(gw, "/.conn-drain", { source: "10.0.0.2:1" }).status).toBe(200);
    expect(adminRequest(gw, "/.conn-drain", { source: "192.0.2.1:1" }).status).toBe(403);
    expect(adminRequest(gw, "/.conn-drain", { source: "10.0.0.2:1", token: null }).status).toBe(
      401,
    );
  });

  it("405 for other methods, naming the allowed ones", async () => {
    const gw = await withPlayers();
    for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
      const reply = adminRequest(gw, "/.conn-drain", { method });
      expect(reply.status).toBe(405);
      expect(reply.headers.allow).toBe("GET, HEAD");
    }
  });

  it.each([
    ["/.conn-drain?colour=blue", "unknown query parameter colour"],
    ["/.conn-drain?host=a&host=b", "query parameter host given twice"],
    ["/.conn-drain?host=%zz", "bad percent-encoding in query parameter host"],
    ["/.conn-drain?host=%E4%B8%AD", "bad percent-encoding in query parameter host"],
    ["/.conn-drain?host=", "query parameter host is not a valid host key"],
    ["/.conn-drain?host=a%20b", "query parameter host is not a valid host key"],
    ["/.conn-drain?format=xml", "query parameter format must be json or prometheus"],
    [`/.conn-drain?${"x".repeat(3000)}`, "query string longer than 2048 bytes"],
  ])("400 for %s", async (path, reason) => {
    const gw = await withPlayers();
    const reply = adminRequest(gw, path);
    expect(reply.status).toBe(400);
    expect(reply.body).toBe(`${reason}\n`);
  });

  it("404 for an unknown resource under the admin path", async () => {
    const gw = await withPlayers();
    expect(adminRequest(gw, "/.conn-drain/secrets").status).toBe(404);
  });

  it("the admin path is off without a token or an allow-list: the request is ordinary traffic", async () => {
    const gw = await gateway({});
    const s = gw.worker(0).openStream();
    s.sendRequestHeaders({
      ":method": "GET",
      ":path": "/.conn-drain",
      ":authority": "game0.example.com",
    });
    expect(s.localResponse).toBeUndefined();
  });
});
