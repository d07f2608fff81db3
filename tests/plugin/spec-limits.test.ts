// plugin.yaml's config schema is what the CLI checks a config against before any gateway sees it
// (cli/validate.ts); assembly/plugin/config.ts is what the plugin enforces. This suite walks the
// whole schema and has the built plugin judge, one field at a time, every limit it states: the
// limit itself accepted, just past it refused (and the refusal naming that field), each default
// and enum value accepted, wrong types, unknown fields and missing required fields refused, and
// characters outside printable ASCII judged as the schema's pattern judges them. A limit changed
// on one side only fails here. Every probe is also run through the schema (Ajv, as the CLI does),
// so the test's own reading of plugin.yaml is checked too.
import { describe, expect, it } from "vitest";
import { loadSpec } from "../../cli/spec.js";
import { compile } from "../../cli/validate.js";
import { gateway } from "./harness.js";

interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: boolean;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
}

/** Keywords the walk turns into probes, or that state no limit (documentation, examples). */
const KNOWN = new Set([
  "type",
  "properties",
  "additionalProperties",
  "required",
  "items",
  "enum",
  "default",
  "minimum",
  "maximum",
  "minLength",
  "maxLength",
  "minItems",
  "maxItems",
  "pattern",
  "title",
  "description",
  "example",
]);

type Seg = string | number;
type Config = Record<string, unknown>;

interface Probe {
  name: string;
  config: Config;
  accept: boolean;
  /** The field a refusal must name (the plugin's "config rejected: <field>: ..." line). */
  field: string;
}

const schema = loadSpec("plugin.yaml").configSchema as Schema;
const validate = compile(schema as Record<string, unknown>);
const schemaAccepts = (config: Config) => validate(config, "").length === 0;

function show(path: Seg[]): string {
  let out = "";
  for (const s of path) out += typeof s === "number" ? `[${s}]` : out ? `.${s}` : s;
  return out || "(root)";
}

// ---- values the plugin takes, by field ------------------------------------------------------

/**
 * The longest CIDR the plugin parses: an IPv6 address is at most 45 characters (cidr.ts
 * parseIpv6), the prefix at most 3 digits. The shortest is "::". No valid entry reaches the
 * schema's maxLength of 64, so at the limits the nearest valid CIDR stands in for the accept
 * probe, while the refusal just past the limit is still the length's.
 */
const LONGEST_CIDR = "0000:0000:0000:0000:0000:ffff:255.255.255.255/128";

/**
 * A hosts / drain.hosts entry of n characters, valid under keyBy authority. A key is at most
 * 255 characters, but entries are read as written: authority strips a port, so a longer entry
 * ("game.example.com:000…8080") is still a valid one, which is why the schema allows 512.
 */
function hostEntry(n: number): string {
  if (n <= 255) return "h".repeat(n);
  return `game.example.com:${"8080".padStart(n - 17, "0")}`;
}

/** A valid value of (about) n characters for each string field; a missing one fails the suite. */
const STRINGS: Record<string, (n: number) => string> = {
  "hosts[0]": hostEntry,
  "drain.hosts[0]": hostEntry,
  gatewayId: (n) => "g".repeat(n),
  sharedDataPrefix: (n) => "p".repeat(n),
  "admin.path": (n) => `/${"a".repeat(n - 1)}`,
  "admin.token": (n) => "t".repeat(n),
  "admin.allowCidrs[0]": (n) =>
    n <= 2 ? "::" : n >= LONGEST_CIDR.length ? LONGEST_CIDR : "10.0.0.0/8",
  "webhook.cluster": (n) => "c".repeat(n),
  "webhook.authority": (n) => "a".repeat(n),
  "webhook.path": (n) => `/${"p".repeat(n - 1)}`,
  "webhook.secret": (n) => "s".repeat(n),
  "players.header": (n) => "x".repeat(n),
  "players.cookie": (n) => "c".repeat(n),
  "players.query": (n) => "q".repeat(n),
};

/** Distinct valid items for each list, for its maxItems / minItems. */
const ITEMS: Record<string, (i: number) => unknown> = {
  hosts: (i) => `g${i}.example.com`,
  "drain.hosts": (i) => `g${i}.example.com`,
  "admin.allowCidrs": (i) => `10.${i >> 8}.${i & 255}.0/24`,
};

const WEBHOOK = {
  cluster: "outbound|8080||drain-hook.ops.svc.cluster.local",
  authority: "drain-hook.ops.svc.cluster.local",
};

/**
 * What the probed field needs from the others, for rules no schema keyword states, so that only
 * the probed field decides the verdict.
 */
function baseFor(path: Seg[]): Config {
  const base: Config = {};
  // Host entries are read under keyBy; authority is the keyBy under which every length the
  // schema allows can be a valid entry (see hostEntry). Upstream would take addresses only.
  if (path[0] === "hosts" || (path[0] === "drain" && path[1] === "hosts")) {
    base.keyBy = "authority";
  }
  // vmTtlSeconds must cover two ticks (config.ts: vmTtlSeconds * 1000 >= 2 * tickMs): with the
  // longest TTL every tickMs fits, and with the shortest tick every TTL does.
  if (path[0] === "tickMs") base.vmTtlSeconds = 86400;
  if (path[0] === "vmTtlSeconds") base.tickMs = 100;
  // A webhook needs its cluster and authority.
  if (path[0] === "webhook") base.webhook = { ...WEBHOOK };
  // players needs exactly one source (config.ts readPlayers), unless a source is the field probed.
  const source = path[1] === "header" || path[1] === "cookie" || path[1] === "query";
  if (path[0] === "players" && path.length > 1 && !source) base.players = { header: "x-player-id" };
  // A reconnect grace needs players and rejectNew (config.ts checkReturning).
  if (path[0] === "drain" && path[1] === "reconnectGraceSeconds") {
    base.players = { header: "x-player-id" };
    base.drain = { rejectNew: true };
  }
  return base;
}

/** The base for `path` with the value at `path` set (an item path: a one-item list). */
function configWith(path: Seg[], value: unknown): Config {
  const root = structuredClone(baseFor(path));
  let node = root as Record<string | number, unknown>;
  for (let i = 0; i < path.length - 1; i++) {
    const seg = path[i] as Seg;
    const list = typeof path[i + 1] === "number";
    if (typeof node[seg] !== "object" || node[seg] === null || Array.isArray(node[seg]) !== list) {
      node[seg] = list ? [] : {};
    }
    node = node[seg] as Record<string | number, unknown>;
  }
  const last = path[path.length - 1] as Seg;
  node[last] = value;
  return root;
}

// ---- the walk -------------------------------------------------------------------------------

const probes: Probe[] = [];
const unknownKeywords: string[] = [];
const missingMakers: string[] = [];

function probe(path: Seg[], what: string, value: unknown, accept: boolean): void {
  const name = `${show(path)}: ${what} is ${accept ? "accepted" : "refused"}`;
  probes.push({ name, config: configWith(path, value), accept, field: show(path) });
}

/** Characters the schema patterns and the plugin must agree on (printable ASCII or not). */
const ODD_CHARACTERS: Array<[string, string]> = [
  [" ", "a space"],
  ["\u0001", "a control character"],
  ["\u007f", "DEL"],
  ["é", "a non-ASCII letter"],
  ["\u{1F3AE}", "a character outside the BMP"],
];

function walk(s: Schema, path: Seg[]): void {
  for (const k of Object.keys(s)) {
    if (!KNOWN.has(k) && !k.startsWith("x-")) unknownKeywords.push(`${show(path)}: ${k}`);
  }
  if (s.default !== undefined)
    probe(path, `its default ${JSON.stringify(s.default)}`, s.default, true);
  switch (s.type) {
    case "object":
      walkObject(s, path);
      return;
    case "array":
      walkArray(s, path);
      return;
    case "integer":
      walkInteger(s, path);
      return;
    case "string":
      walkString(s, path);
      return;
    case "boolean":
      for (const b of [true, false]) probe(path, String(b), b, true);
      probe(path, 'the string "true"', "true", false);
      return;
    default:
      unknownKeywords.push(`${show(path)}: type ${String(s.type)}`);
  }
}

function walkObject(s: Schema, path: Seg[]): void {
  if (path.length > 0) probe(path, "a list in place of the object", [], false);
  // (At the top level the plugin also takes the _rules_ and _match_*_ keys Higress merges into
  // the config it hands over; users never write them, so the schema refusing them is right.)
  if (s.additionalProperties === false) {
    probe([...path, "notAField"], "an unknown field", 1, false);
  }
  for (const name of s.required ?? []) {
    // The object with every other required field present and this one left out.
    const rest: Config = {};
    for (const other of s.required ?? []) {
      if (other === name) continue;
      const make = STRINGS[show([...path, other])];
      if (make) rest[other] = make(8);
      else missingMakers.push(show([...path, other]));
    }
    const config = path.length === 0 ? rest : configWith(path, rest);
    probes.push({
      name: `${show([...path, name])}: leaving out a required field is refused`,
      config,
      accept: false,
      field: show([...path, name]),
    });
  }
  for (const [name, sub] of Object.entries(s.properties ?? {})) walk(sub, [...path, name]);
}

function walkArray(s: Schema, path: Seg[]): void {
  probe(path, "a string in place of the list", "x", false);
  const item = ITEMS[show(path)];
  if (!item && (s.maxItems !== undefined || s.minItems !== undefined)) {
    missingMakers.push(`${show(path)} (items)`);
  } else if (item) {
    const list = (n: number) => Array.from({ length: n }, (_, i) => item(i));
    if (s.maxItems !== undefined) {
      probe(path, `${s.maxItems} items (maxItems)`, list(s.maxItems), true);
      probe(path, `${s.maxItems + 1} items (maxItems + 1)`, list(s.maxItems + 1), false);
    }
    if (s.minItems !== undefined) {
      probe(path, `${s.minItems} items (minItems)`, list(s.minItems), true);
      if (s.minItems > 0) {
        probe(path, `${s.minItems - 1} items (minItems - 1)`, list(s.minItems - 1), false);
      }
    }
  }
  if (s.items) walk(s.items, [...path, 0]);
}

function walkInteger(s: Schema, path: Seg[]): void {
  const inRange = s.minimum ?? s.maximum ?? 0;
  probe(path, `${inRange + 0.5} (not an integer)`, inRange + 0.5, false);
  probe(path, `the string "${inRange}"`, String(inRange), false);
  if (s.minimum !== undefined) {
    probe(path, `${s.minimum} (minimum)`, s.minimum, true);
    probe(path, `${s.minimum - 1} (minimum - 1)`, s.minimum - 1, false);
  }
  if (s.maximum !== undefined) {
    probe(path, `${s.maximum} (maximum)`, s.maximum, true);
    probe(path, `${s.maximum + 1} (maximum + 1)`, s.maximum + 1, false);
  }
  for (const v of s.enum ?? []) probe(path, `enum value ${v}`, v, true);
}

function walkString(s: Schema, path: Seg[]): void {
  probe(path, "a number", 1, false);
  if (s.enum) {
    for (const v of s.enum) probe(path, `enum value "${v}"`, v, true);
    const first = String(s.enum[0]);
    for (const v of [`${first}x`, first.toUpperCase(), ""]) {
      if (!s.enum.includes(v)) probe(path, `"${v}" (not in the enum)`, v, false);
    }
    return;
  }
  const make = STRINGS[show(path)];
  if (!make) {
    missingMakers.push(show(path));
    return;
  }
  // At each length limit: the limit (or the nearest valid value, where no valid value has that
  // length) accepted, one character past it refused.
  const at = (n: number, limit: string, accept: boolean) => {
    const v = n <= 0 ? "" : make(n);
    const what =
      v.length === n
        ? `${n} character${n === 1 ? "" : "s"} (${limit})`
        : `${v.length} characters, the nearest valid value to ${n} (${limit})`;
    probe(path, what, v, accept);
  };
  if (s.minLength !== undefined) {
    at(s.minLength, "minLength", true);
    if (s.minLength > 0) at(s.minLength - 1, "minLength - 1", false);
  }
  if (s.maxLength !== undefined) {
    at(s.maxLength, "maxLength", true);
    // Where no valid value is that long, the nearest one padded: refused for its length.
    const over = make(s.maxLength + 1).padEnd(s.maxLength + 1, "0");
    probe(path, `${over.length} characters (maxLength + 1)`, over, false);
  }
  // Characters outside printable ASCII: the plugin must judge them as the schema (its pattern,
  // or none) does. Inserted in the middle of a valid value of comfortable length.
  const length = Math.min(Math.max(s.minLength ?? 1, 12), (s.maxLength ?? 64) - 2);
  const valid = make(length);
  const mid = Math.floor(valid.length / 2);
  for (const [c, what] of ODD_CHARACTERS) {
    const v = valid.slice(0, mid) + c + valid.slice(mid);
    const config = configWith(path, v);
    const accept = schemaAccepts(config);
    probes.push({
      name: `${show(path)}: ${what} is ${accept ? "accepted" : "refused"} (as plugin.yaml says)`,
      config,
      accept,
      field: show(path),
    });
  }
}

walk(schema, []);
// The example sits beside the schema for hgctl and the console to show: it must be a config the
// plugin takes.
const example = (schema as { example?: Config }).example;
if (example)
  probes.push({ name: "the example is accepted", config: example, accept: true, field: "" });

// ---- running a probe ------------------------------------------------------------------------

const REJECTED = "conn-drain: config rejected: ";

/**
 * The plugin's verdict on a config, from a fresh gateway so that no earlier config matters (the
 * base VM only: the canary's on_configure decides, and every VM would apply the same rules).
 * Accepted means by the canary and by the VM it rolled out to.
 */
async function pluginVerdict(config: Config): Promise<{ accepted: boolean; error: string }> {
  const gw = await gateway({}, { workers: 0 });
  gw.clearLogs();
  const result = await gw.updateConfig(JSON.stringify(config));
  const error =
    gw
      .logs({ minLevel: "error" })
      .map((e) => e.message)
      .find((m) => m.startsWith(REJECTED)) ?? "";
  gw.shutdown();
  return { accepted: result.accepted && (result.noPlugin ?? []).length === 0, error };
}

describe("plugin.yaml's config schema and the plugin's validator draw the same lines", () => {
  it("the walk knows every keyword in the schema and has a valid value for every field", () => {
    expect(unknownKeywords).toEqual([]);
    expect(missingMakers).toEqual([]);
    expect(probes.length).toBeGreaterThan(100);
  });

  for (const { name, config, accept, field } of probes) {
    it(name, async () => {
      expect(schemaAccepts(config), `plugin.yaml on ${JSON.stringify(config).slice(0, 200)}`).toBe(
        accept,
      );
      const verdict = await pluginVerdict(config);
      expect(verdict.accepted, verdict.error).toBe(accept);
      if (!accept)
        expect(verdict.error.startsWith(`${REJECTED}${field}: `), verdict.error).toBe(true);
    });
  }

  // webhook.secret is printable ASCII, like admin.token, so that its length is the same count to
  // the console's schema (characters) and to the plugin (UTF-16 units): a character outside the
  // BMP counts twice in the one and once in the other.
  const game = "\u{1F3AE}";
  for (const secret of [`${"s".repeat(511)}${game}`, game.repeat(8), `${"s".repeat(20)} s`]) {
    it(`webhook.secret ${JSON.stringify(secret.slice(-4))}: refused by the schema and the plugin`, async () => {
      expect(schemaAccepts({ webhook: { ...WEBHOOK, secret } })).toBe(false);
      const verdict = await pluginVerdict({ webhook: { ...WEBHOOK, secret } });
      expect(verdict.accepted).toBe(false);
      expect(verdict.error).toContain("webhook.secret");
    });
  }
});
