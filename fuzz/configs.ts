// Config fuzzing: generated valid configs must be accepted; broken, random and mutated ones must
// be refused without a trap, leaving the previous config in force.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type Gateway, Rng } from "../host/index.js";
import {
  ADMIN_TOKEN,
  adminRequest,
  connectPlayer,
  counts,
  gateway,
} from "../tests/plugin/harness.js";
import { type Campaign, type Scale, timed } from "./campaign.js";

const CORPUS = "fuzz/corpus/config";

/** A valid config drawn from the documented ranges (small maxHosts keeps each canary quick). */
export function validConfig(rng: Rng, token: string): Record<string, unknown> {
  const c: Record<string, unknown> = { admin: { token } };
  if (rng.chance(0.5)) c.keyBy = rng.pick(["authority", "cluster", "upstream"]);
  if (rng.chance(0.5))
    // Under keyBy upstream a host key is an address with a port, and no pattern can match one.
    c.hosts = Array.from({ length: rng.int(5) }, (_, i) =>
      c.keyBy === "upstream"
        ? `10.0.0.${i}:5000`
        : rng.chance(0.5)
          ? `*.s${i}.example.com`
          : `h${i}.example.com`,
    );
  if (rng.chance(0.5)) c.maxHosts = 1 + rng.int(2048);
  if (rng.chance(0.3)) c.tickMs = 100 + rng.int(5000);
  if (rng.chance(0.3)) c.vmTtlSeconds = 20 + rng.int(600);
  if (rng.chance(0.3)) c.gatewayId = `gw-${rng.int(1000)}`;
  if (rng.chance(0.3)) c.metrics = { enabled: rng.chance(0.5), maxHosts: rng.int(10000) };
  if (rng.chance(0.3)) (c.admin as Record<string, unknown>).allowCidrs = ["10.0.0.0/8", "::/0"];
  if (rng.chance(0.3)) {
    const source = rng.pick(["header", "cookie", "query"]);
    c.players = { [source]: rng.pick(["x-player-id", "pid", "Player_ID", "sid~1"]) };
    if (rng.chance(0.3)) (c.players as Record<string, unknown>).maxPerHost = 1 + rng.int(16384);
  }
  if (rng.chance(0.3)) {
    const drain: Record<string, unknown> = {
      deadlineSeconds: rng.int(86400),
      rejectNew: rng.chance(0.5),
      retryAfterSeconds: 1 + rng.int(3600),
      quietSeconds: rng.int(3601),
      rememberPlayers: 1 + rng.int(16384),
    };
    // A grace needs players and rejectNew (config.ts checkReturning).
    if (c.players !== undefined && drain.rejectNew === true) {
      drain.reconnectGraceSeconds = rng.int(3601);
    }
    c.drain = drain;
  }
  if (rng.chance(0.3))
    c.webhook = {
      cluster: "hook",
      authority: "hook.example.com",
      path: "/x",
      timeoutMs: 100 + rng.int(59901),
      maxAttempts: 1 + rng.int(100),
      backoffMs: 100 + rng.int(599901),
    };
  if (rng.chance(0.2)) c._rules_ = [{ _match_route_: ["r1"] }];
  return c;
}

/** Breaks a valid config in one field: wrong type, out of range, unknown key, bad pattern… */
function brokenConfig(rng: Rng, token: string): Record<string, unknown> {
  const c = validConfig(rng, token);
  const breakers: Array<() => void> = [
    () =>
      (c.maxHosts = rng.pick([0, -1, 100001, 1.5, "10", null, [], 1e308, Number.MAX_SAFE_INTEGER])),
    () => (c.tickMs = rng.pick([0, 99, 60001, true, "1000"])),
    () => (c.keyBy = rng.pick(["host", "", 1, null, "AUTHORITY"])),
    () => (c.hosts = rng.pick([["a*"], ["*"], [""], [1], "x", [" a"], ["a".repeat(600)]])),
    () =>
      (c.admin = rng.pick([
        { token: "short" },
        { path: "rel" },
        { allowCidrs: ["10.0.0.0/40"] },
        { tokens: token },
        [],
      ])),
    () =>
      (c.webhook = rng.pick([
        { cluster: "c" },
        { authority: "a" },
        { cluster: "c", authority: "a", path: "x" },
        { cluster: "c", authority: "a", secret: "short" },
      ])),
    () =>
      (c.drain = rng.pick([
        { hosts: ["*.x"] },
        { deadlineSeconds: -1 },
        { rejectNew: "yes" },
        { unknown: 1 },
        { reconnectGraceSeconds: 5 },
        { rejectNew: true, reconnectGraceSeconds: 3601 },
        { rememberPlayers: 0 },
      ])),
    () =>
      (c.players = rng.pick([
        {},
        { header: "x id" },
        { header: "a", cookie: "b" },
        { query: "a=b" },
        { cookie: "" },
        { header: "x-player-id", maxPerHost: 16385 },
        { header: 1 },
        "x-player-id",
      ])),
    () => (c[`k${rng.int(100)}`] = 1),
    () => (c._rules_ = [{ _match_route_: ["r"], maxHosts: 3 }]),
    () => (c.metrics = { maxHosts: 10001 }),
  ];
  rng.pick(breakers)();
  return c;
}

/** Raw mutations of valid config text: bytes flipped, cut, repeated, inserted, nested deep. */
function mutated(rng: Rng, base: string): Uint8Array {
  const b = Array.from(new TextEncoder().encode(base));
  switch (rng.int(7)) {
    case 0:
      for (let k = 0; k < 1 + rng.int(4); k++) b[rng.int(b.length)] = rng.int(256);
      return Uint8Array.from(b);
    case 1:
      return Uint8Array.from(b.slice(0, rng.int(b.length)));
    case 2: {
      const at = rng.int(b.length);
      return Uint8Array.from([...b.slice(0, at), ...rng.bytes(1 + rng.int(16)), ...b.slice(at)]);
    }
    case 3:
      return new TextEncoder().encode(`${"[".repeat(rng.int(2000))}${base}`);
    case 4:
      return new TextEncoder().encode(
        base.replace(/"gw-\d+"|"h0\.example\.com"/, `"${"x".repeat(rng.int(300_000))}"`),
      );
    case 5:
      return new TextEncoder().encode(
        base.replace(
          /\d+/,
          rng.pick([
            "1e999",
            "-0",
            "0.0000001",
            "123456789012345678901234567890",
            "NaN",
            "Infinity",
          ]),
        ),
      );
    default:
      return rng.bytes(rng.int(512));
  }
}

export const configCampaign: Campaign = {
  name: "config fuzzing",
  run: (scale: Scale) =>
    timed("config fuzzing", async (findings, figures) => {
      const total = scale === "full" ? 100_000 : 3_000;
      const rng = new Rng(20261128);
      const token = ADMIN_TOKEN;
      let admin: { on: boolean; token: string } = { on: true, token };
      const gw = await gateway(
        { admin: { token }, maxHosts: 64 },
        { workers: 1, clusters: ["hook"] },
      );
      connectPlayer(gw, "kept.example.com", { vm: 0 });
      let accepted = 0;
      let refused = 0;
      const inputs: Array<() => { text: string | Uint8Array; valid?: boolean; next?: string }> = [];
      for (const file of readdirSync(CORPUS))
        inputs.push(() => ({ text: readFileSync(join(CORPUS, file)) }));
      for (let i = 0; i < total; i++) {
        const kind = i < inputs.length ? -1 : rng.int(10);
        let text: string | Uint8Array;
        let valid: boolean | undefined;
        if (kind === -1) text = (inputs[i] as () => { text: string | Uint8Array })().text;
        else if (kind < 2) {
          text = JSON.stringify(validConfig(rng, `tok-${rng.int(1e9)}-0123456789abcdef`));
          valid = true;
        } else if (kind < 5) {
          text = JSON.stringify(brokenConfig(rng, token));
          valid = false;
        } else {
          text = mutated(rng, JSON.stringify(validConfig(rng, token)));
        }
        const r = await gw.updateConfig(text);
        if (r.accepted) {
          accepted++;
          admin = adminOf(text);
        } else refused++;
        findings.check(
          valid === undefined || r.accepted === valid,
          "oracle",
          () =>
            `${valid ? "valid" : "broken"} config ${r.accepted ? "accepted" : "refused"}: ${String(text).slice(0, 200)}`,
        );
        findings.check(
          gw.trapCount === 0,
          "trap",
          () => `after input ${i}: ${String(text).slice(0, 200)}`,
        );
        if (gw.trapCount > 0) break;
        if (!r.accepted && i % 97 === 0 && admin.on) checkOldConfig(gw, admin.token, findings, i);
      }
      figures.accepted = accepted;
      figures.refused = refused;
      figures.corpus = inputs.length;
      return accepted + refused;
    }),
};

/** Whether the config the plugin just accepted turns the admin path on, and with which token. */
function adminOf(text: string | Uint8Array): { on: boolean; token: string } {
  try {
    const raw =
      typeof text === "string" ? text : new TextDecoder("utf-8", { fatal: true }).decode(text);
    const admin = raw.length === 0 ? undefined : JSON.parse(raw)?.admin;
    const on =
      admin !== undefined &&
      (admin.token !== undefined || (admin.allowCidrs ?? []).length > 0) &&
      admin.path === undefined;
    return { on, token: admin?.token ?? "" };
  } catch {
    return { on: false, token: "" };
  }
}

/** After a refusal the previous config still serves: its token works and the count is intact. */
function checkOldConfig(
  gw: Gateway,
  token: string,
  findings: import("./campaign.js").Findings,
  i: number,
): void {
  // The whole listing, not ?host=: under keyBy upstream "kept.example.com" is no host key.
  const reply = adminRequest(gw, "/.conn-drain", { token: token || null });
  findings.check(
    reply.status === 200 || reply.status === 403,
    "old config lost",
    () => `admin answered ${reply.status} after refusal ${i}`,
  );
  if (reply.status === 200) {
    const hosts: Array<{ host: string; active: number }> = JSON.parse(reply.body).hosts;
    findings.check(
      hosts.find((h) => h.host === "kept.example.com")?.active === 1,
      "count lost",
      () => `kept.example.com: ${reply.body.slice(0, 200)}`,
    );
  }
  void counts;
}
