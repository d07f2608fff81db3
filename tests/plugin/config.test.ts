import { describe, expect, it } from "vitest";
import { Rng } from "../../host/index.js";
import {
  ADMIN_TOKEN,
  adminConfig,
  adminRequest,
  connectPlayer,
  counts,
  gateway,
} from "./harness.js";

const good = { ...adminConfig, maxHosts: 16 };

/** [what is wrong, config text, the one error line the plugin must log] */
const BAD_CONFIGS: Array<[string, string | Uint8Array, string]> = [
  ["not JSON", "{maxHosts: 1}", "config is not valid JSON: expected a string key at byte 1"],
  ["truncated JSON", '{"maxHosts": 1', "config is not valid JSON: expected ',' or '}' at byte 14"],
  [
    "trailing data",
    '{"maxHosts": 1} x',
    "config is not valid JSON: unexpected data after the JSON value at byte 16",
  ],
  [
    "duplicate key",
    '{"maxHosts": 1, "maxHosts": 2}',
    'config is not valid JSON: duplicate key "maxHosts" at byte 26',
  ],
  [
    "deep nesting",
    `${"[".repeat(40)}${"]".repeat(40)}`,
    "config is not valid JSON: nesting deeper than 32 levels at byte 33",
  ],
  [
    "invalid UTF-8",
    Uint8Array.from([...Buffer.from('{"gatewayId": "'), 0xff, 0x22, 0x7d]),
    "config is not valid JSON: invalid UTF-8 at byte 15",
  ],
  [
    "an overlong UTF-8 encoding",
    Uint8Array.from([...Buffer.from('{"gatewayId": "'), 0xc0, 0xaf, 0x22, 0x7d]),
    "config is not valid JSON: invalid UTF-8 at byte 15",
  ],
  [
    "a control character in a string",
    '{"gatewayId": "a\u0001"}',
    "config is not valid JSON: control character in string at byte 16",
  ],
  ["not an object", "[1, 2]", "config: expected an object, got a array"],
  ["unknown field", '{"maxHost": 10}', "maxHost: unknown field"],
  ["unknown nested field", '{"admin": {"tokens": "x"}}', "admin.tokens: unknown field"],
  [
    "keyBy wrong value",
    '{"keyBy": "host"}',
    'keyBy: expected "authority", "cluster" or "upstream", got the string "host"',
  ],
  ["keyBy wrong type", '{"keyBy": 1}', "keyBy: expected a string, got 1"],
  ["maxHosts zero", '{"maxHosts": 0}', "maxHosts: expected an integer from 1 to 100000, got 0"],
  [
    "maxHosts too big",
    '{"maxHosts": 100001}',
    "maxHosts: expected an integer from 1 to 100000, got 100001",
  ],
  [
    "maxHosts fraction",
    '{"maxHosts": 1.5}',
    "maxHosts: expected an integer from 1 to 100000, got 1.5",
  ],
  [
    "maxHosts string",
    '{"maxHosts": "10"}',
    'maxHosts: expected an integer from 1 to 100000, got the string "10"',
  ],
  [
    "maxHosts huge",
    '{"maxHosts": 1e400}',
    "maxHosts: expected an integer from 1 to 100000, got 1e400",
  ],
  ["tickMs too small", '{"tickMs": 10}', "tickMs: expected an integer from 100 to 60000, got 10"],
  [
    "TTL shorter than two ticks",
    '{"tickMs": 5000, "vmTtlSeconds": 5}',
    "vmTtlSeconds: expected at least two ticks (2 x tickMs = 10000 ms)",
  ],
  [
    "hosts not an array",
    '{"hosts": "*.example.com"}',
    'hosts: expected an array, got the string "*.example.com"',
  ],
  [
    "hosts with a bad pattern",
    '{"hosts": ["ok.example.com", "a*.example.com"]}',
    "hosts[1]: expected an exact host or '*.suffix', got '*' other than as a leading '*.'",
  ],
  [
    "hosts with a bare star",
    '{"hosts": ["*"]}',
    "hosts[0]: expected an exact host or '*.suffix', got '*' not followed by '.suffix'",
  ],
  [
    "hosts with a space",
    '{"hosts": ["a b"]}',
    "hosts[0]: expected an exact host or '*.suffix', got a character that cannot appear in a host key",
  ],
  ["hosts with null", '{"hosts": [null]}', "hosts[0]: expected a string, got a null"],
  [
    "admin path relative",
    '{"admin": {"path": "conn-drain", "token": "0123456789abcdef"}}',
    'admin.path: expected an absolute path like /.conn-drain, got the string "conn-drain"',
  ],
  [
    "admin path with query",
    '{"admin": {"path": "/a?b"}}',
    'admin.path: expected an absolute path like /.conn-drain, got the string "/a?b"',
  ],
  [
    "admin token too short",
    '{"admin": {"token": "short"}}',
    "admin.token: expected a string of 16 to 512 characters, got 5",
  ],
  [
    "admin token with a space",
    '{"admin": {"token": "0123456789 abcdef"}}',
    "admin.token: expected printable ASCII without spaces",
  ],
  [
    "bad CIDR",
    '{"admin": {"allowCidrs": ["10.0.0.0/33"]}}',
    'admin.allowCidrs[0]: expected a CIDR like 10.0.0.0/8 or fd00::/8, got the string "10.0.0.0/33"',
  ],
  [
    "bad IPv6 CIDR",
    '{"admin": {"allowCidrs": ["fd00:::1/8"]}}',
    'admin.allowCidrs[0]: expected a CIDR like 10.0.0.0/8 or fd00::/8, got the string "fd00:::1/8"',
  ],
  [
    "metrics.enabled not a boolean",
    '{"metrics": {"enabled": "yes"}}',
    'metrics.enabled: expected true or false, got the string "yes"',
  ],
  [
    "metrics.maxHosts negative",
    '{"metrics": {"maxHosts": -1}}',
    "metrics.maxHosts: expected an integer from 0 to 10000, got -1",
  ],
  [
    "gatewayId empty",
    '{"gatewayId": ""}',
    "gatewayId: expected a string of 1 to 128 characters, got 0",
  ],
  [
    "reconnect grace without players",
    '{"drain": {"rejectNew": true, "reconnectGraceSeconds": 5}}',
    "drain.reconnectGraceSeconds: needs players (where a player's identity is found)",
  ],
  [
    "reconnect grace without rejectNew",
    '{"players": {"header": "x-player-id"}, "drain": {"reconnectGraceSeconds": 5}}',
    "drain.reconnectGraceSeconds: has no effect without drain.rejectNew: true",
  ],
  [
    "two identity sources",
    '{"players": {"header": "x-id", "cookie": "pid"}}',
    "players.cookie: give one of players.header, players.cookie or players.query, not two",
  ],
  [
    "header name with a space",
    '{"players": {"header": "x id"}}',
    'players.header: expected a name of letters, digits and !#$%&\'*+-.^_`|~, got the string "x id"',
  ],
  [
    "query name with &",
    '{"players": {"query": "a&b"}}',
    'players.query: expected printable ASCII without spaces, &, =, # or ?, got the string "a&b"',
  ],
  [
    "players without a source",
    '{"players": {}}',
    "players: needs one of header, cookie or query (where a player's identity is found)",
  ],
  [
    "players.maxPerHost 0",
    '{"players": {"header": "x-id", "maxPerHost": 0}}',
    "players.maxPerHost: expected an integer from 1 to 16384, got 0",
  ],
  [
    "unknown players field",
    '{"players": {"header": "x-id", "tabs": 2}}',
    "players.tabs: unknown field",
  ],
  [
    "drain.rememberPlayers too large",
    '{"drain": {"rememberPlayers": 20000}}',
    "drain.rememberPlayers: expected an integer from 1 to 16384, got 20000",
  ],
  [
    "drain.reconnectGraceSeconds too large",
    '{"drain": {"reconnectGraceSeconds": 3601}}',
    "drain.reconnectGraceSeconds: expected an integer from 0 to 3600, got 3601",
  ],
  [
    "per-route setting in _rules_",
    '{"_rules_": [{"_match_route_": ["r"], "maxHosts": 3}]}',
    "_rules_[0].maxHosts: conn-drain has no per-route settings; set it in defaultConfig",
  ],
  ["_rules_ not an array", '{"_rules_": {}}', "_rules_: expected an array, got a object"],
];

function errorLines(gw: Awaited<ReturnType<typeof gateway>>): string[] {
  return gw.logs({ minLevel: "error" }).map((e) => e.message);
}

describe("configuration", () => {
  it("an empty config applies every default (admin off)", async () => {
    const gw = await gateway({});
    connectPlayer(gw, "game0.example.com");
    expect(errorLines(gw)).toEqual([]);
  });

  it("accepts the keys Higress adds for matchRules", async () => {
    const gw = await gateway({
      ...good,
      _rules_: [
        { _match_route_: ["default/game"] },
        { _match_domain_: ["*.example.com"], _match_service_: ["s"] },
      ],
      _match_route_name_: "x_",
    });
    expect(counts(gw).totalActive).toBe(0);
  });

  it("refuses to start on a bad first config, logging why", async () => {
    await expect(gateway({ maxHosts: 0 })).rejects.toThrow();
  });

  it.each(BAD_CONFIGS)(
    "rejects %s with its own message and keeps the old config",
    async (_what, text, message) => {
      const gw = await gateway(good);
      connectPlayer(gw, "game0.example.com", { vm: 1 });
      gw.clearLogs();
      const result = await gw.updateConfig(text);
      expect(result.accepted).toBe(false);
      expect(errorLines(gw)).toEqual([`conn-drain: config rejected: ${message}`]);
      // the old config is still in force: the old token works and the count is intact
      expect(adminRequest(gw, "/.conn-drain").status).toBe(200);
      expect(counts(gw).totalActive).toBe(1);
      expect(gw.trapCount).toBe(0);
    },
  );

  it("no bytes trap the VM: 2,000 random and mutated configs", async () => {
    const gw = await gateway(good);
    const base = JSON.stringify({
      ...good,
      hosts: ["*.example.com"],
      admin: { token: ADMIN_TOKEN, allowCidrs: ["10.0.0.0/8"] },
    });
    const rng = new Rng(12345);
    let accepted = 0;
    for (let i = 0; i < 2000; i++) {
      let text: Uint8Array;
      if (i % 2 === 0) {
        text = Uint8Array.from({ length: rng.int(64) }, () => rng.int(256));
      } else {
        const bytes = new TextEncoder().encode(base);
        for (let k = 0; k < 1 + rng.int(4); k++) bytes[rng.int(bytes.length)] = rng.int(256);
        text = bytes;
      }
      if ((await gw.updateConfig(text)).accepted) accepted++;
    }
    expect(gw.trapCount).toBe(0);
    // some mutations hit only string contents and stay valid; most must be refused
    expect(accepted).toBeLessThan(1000);
    expect((await gw.updateConfig(base)).accepted).toBe(true);
    expect(adminRequest(gw, "/.conn-drain").status).toBe(200);
  });
});
