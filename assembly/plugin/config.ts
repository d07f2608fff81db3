// Plugin configuration: parsed from untrusted JSON, validated field by field. A config that
// fails any check is rejected as a whole with one message naming the field; the caller keeps
// the previous config in force.
import { Cidr, parseCidr } from "./cidr";
import { Validator } from "./config_validator";
import { hostKeysFor, KeyBy, printable } from "./host_key";
import { addPatterns, HostPatterns, patternProblem } from "./host_patterns";
import { JsonValue, parseJson } from "./json";
import { MAX_PLAYERS_PER_HOST, PlayersConfig, readPlayers } from "./players_config";

export { KeyBy } from "./host_key";

export class AdminConfig {
  path: string = "/.conn-drain";
  token: string = "";
  allowCidrs: Array<Cidr> = [];

  /** With neither a token nor an allow-list the admin path is off: nothing is exposed. */
  get enabled(): bool {
    return this.token.length > 0 || this.allowCidrs.length > 0;
  }
}

export class DrainConfig {
  /** Host keys that drain while listed, in stream-key form (host_key.ts hostKeyFor), no repeats. */
  hosts: Array<string> = [];
  deadlineSeconds: i32 = 0;
  /** How long a draining host's count must stay at zero before it completes (0: at once). */
  quietSeconds: i32 = 0;
  rejectNew: bool = false;
  retryAfterSeconds: i32 = 30;
  /**
   * Under rejectNew, a player (players.*) whose stream on a draining host ended at most this long
   * ago is let back in; 0: only players with a stream still open there.
   */
  reconnectGraceSeconds: i32 = 0;
  /** Players remembered per draining host after their stream ended (oldest forgotten first). */
  rememberPlayers: i32 = 1024;
}

export class WebhookConfig {
  cluster: string = "";
  authority: string = "";
  path: string = "/";
  timeoutMs: i32 = 5000;
  maxAttempts: i32 = 10;
  backoffMs: i32 = 1000;
  secret: string = "";

  get enabled(): bool {
    return this.cluster.length > 0;
  }
}

export class Config {
  keyBy: KeyBy = KeyBy.Authority;
  hosts: HostPatterns = new HostPatterns();
  maxHosts: i32 = 1024;
  vmTtlSeconds: i32 = 30;
  tickMs: i32 = 1000;
  gatewayId: string = "";
  sharedDataPrefix: string = "conn-drain/";
  admin: AdminConfig = new AdminConfig();
  metricsEnabled: bool = true;
  metricsMaxHosts: i32 = 256;
  drain: DrainConfig = new DrainConfig();
  webhook: WebhookConfig = new WebhookConfig();
  players: PlayersConfig = new PlayersConfig();
}

export class ConfigResult {
  config: Config | null = null;
  error: string = "";
}

export const MAX_HOSTS_LIMIT: i32 = 100000;

/** Keys Higress adds when it merges matchRules into the plugin config. */
function isHigressMatchKey(key: string): bool {
  return key.startsWith("_match_") && key.endsWith("_") && key.length > 8;
}

export function parseConfig(bytes: ArrayBuffer): ConfigResult {
  const result = new ConfigResult();
  // Envoy hands an empty buffer when the WasmPlugin has no config: every default applies.
  if (bytes.byteLength == 0) {
    result.config = new Config();
    return result;
  }
  const parsed = parseJson(bytes);
  if (parsed.value === null) {
    result.error = "config is not valid JSON: " + parsed.error;
    return result;
  }
  const root = parsed.value!;
  const c = new Config();
  const v = new Validator();
  const hosts: string[] = []; // as written; keys once keyBy is known (applyHostKeys)
  if (!v.object("config", root)) {
    result.error = v.error;
    return result;
  }
  for (let i = 0; i < root.keys.length && v.ok; i++) {
    const key = unchecked(root.keys[i]);
    const value = unchecked(root.items[i]);
    if (key == "keyBy") {
      const s = v.str("keyBy", value, 1, 16);
      if (s === null) continue;
      if (s == "authority") c.keyBy = KeyBy.Authority;
      else if (s == "cluster") c.keyBy = KeyBy.Cluster;
      else if (s == "upstream") c.keyBy = KeyBy.Upstream;
      else v.fail("keyBy", 'expected "authority", "cluster" or "upstream", got ' + v.got(value));
    } else if (key == "hosts") {
      readHosts(v, value, hosts);
    } else if (key == "maxHosts") {
      c.maxHosts = v.int("maxHosts", value, 1, MAX_HOSTS_LIMIT);
    } else if (key == "vmTtlSeconds") {
      c.vmTtlSeconds = v.int("vmTtlSeconds", value, 2, 86400);
    } else if (key == "tickMs") {
      c.tickMs = v.int("tickMs", value, 100, 60000);
    } else if (key == "gatewayId") {
      const s = v.str("gatewayId", value, 1, 128);
      if (s !== null && !printable(s)) {
        v.fail("gatewayId", "expected printable ASCII without spaces");
      } else if (s !== null) c.gatewayId = s;
    } else if (key == "sharedDataPrefix") {
      const s = v.str("sharedDataPrefix", value, 1, 64);
      if (s !== null && !printable(s)) {
        v.fail("sharedDataPrefix", "expected printable ASCII without spaces");
      } else if (s !== null) c.sharedDataPrefix = s;
    } else if (key == "admin") {
      readAdmin(v, value, c.admin);
    } else if (key == "metrics") {
      readMetrics(v, value, c);
    } else if (key == "drain") {
      readDrain(v, value, c.drain);
    } else if (key == "webhook") {
      readWebhook(v, value, c.webhook);
    } else if (key == "players") {
      readPlayers(v, value, c.players);
    } else if (key == "_rules_") {
      readRules(v, value);
    } else if (!isHigressMatchKey(key)) {
      v.fail(key, "unknown field");
    }
  }
  if (v.ok) applyHostKeys(v, c, hosts);
  // A heartbeat must land several times within the TTL, or live VMs would look dead.
  if (v.ok && c.vmTtlSeconds * 1000 < 2 * c.tickMs) {
    v.fail(
      "vmTtlSeconds",
      "expected at least two ticks (2 x tickMs = " + (2 * c.tickMs).toString() + " ms)",
    );
  }
  if (v.ok) checkReturning(v, c);
  if (!v.ok) {
    result.error = v.error;
    return result;
  }
  result.config = c;
  return result;
}

function readHosts(v: Validator, value: JsonValue, hosts: Array<string>): void {
  if (!v.array("hosts", value, 4096)) return;
  for (let i = 0; i < value.items.length; i++) {
    const path = "hosts[" + i.toString() + "]";
    const s = v.str(path, unchecked(value.items[i]), 1, 512);
    if (s === null) return;
    const problem = patternProblem(s);
    if (problem !== null) {
      v.fail(path, "expected an exact host or '*.suffix', got " + problem);
      return;
    }
    hosts.push(s);
  }
}

/**
 * Brings hosts and drain.hosts to stream-key form once keyBy is known (JSON leaves the order of
 * an object's fields open: keyBy may come after them). A value no stream can match is an error.
 */
function applyHostKeys(v: Validator, c: Config, hosts: Array<string>): void {
  const bad = addPatterns(c.keyBy, hosts, c.hosts);
  if (bad !== null) {
    v.fail("hosts[" + bad.index.toString() + "]", bad.problem);
    return;
  }
  const keys: string[] = [];
  const badDrain = hostKeysFor(c.keyBy, c.drain.hosts, keys);
  if (badDrain !== null) {
    v.fail("drain.hosts[" + badDrain.index.toString() + "]", badDrain.problem);
  }
  c.drain.hosts = keys;
}

function readAdmin(v: Validator, value: JsonValue, admin: AdminConfig): void {
  if (!v.object("admin", value)) return;
  for (let i = 0; i < value.keys.length && v.ok; i++) {
    const key = unchecked(value.keys[i]);
    const item = unchecked(value.items[i]);
    if (key == "path") {
      const s = v.str("admin.path", item, 2, 256);
      if (s === null) return;
      if (
        !s.startsWith("/") ||
        s.endsWith("/") ||
        !printable(s) ||
        s.includes("?") ||
        s.includes("#")
      ) {
        v.fail("admin.path", "expected an absolute path like /.conn-drain, got " + v.got(item));
        return;
      }
      admin.path = s;
    } else if (key == "token") {
      const s = v.str("admin.token", item, 16, 512);
      if (s === null) return;
      if (!printable(s)) {
        v.fail("admin.token", "expected printable ASCII without spaces");
        return;
      }
      admin.token = s;
    } else if (key == "allowCidrs") {
      if (!v.array("admin.allowCidrs", item, 256)) return;
      for (let j = 0; j < item.items.length; j++) {
        const path = "admin.allowCidrs[" + j.toString() + "]";
        const entry = unchecked(item.items[j]);
        const s = v.str(path, entry, 1, 64);
        if (s === null) return;
        const cidr = parseCidr(s);
        if (cidr === null) {
          v.fail(path, "expected a CIDR like 10.0.0.0/8 or fd00::/8, got " + v.got(entry));
          return;
        }
        admin.allowCidrs.push(cidr);
      }
    } else {
      v.fail("admin." + key, "unknown field");
    }
  }
}

function readMetrics(v: Validator, value: JsonValue, c: Config): void {
  if (!v.object("metrics", value)) return;
  for (let i = 0; i < value.keys.length && v.ok; i++) {
    const key = unchecked(value.keys[i]);
    const item = unchecked(value.items[i]);
    if (key == "enabled") c.metricsEnabled = v.bool("metrics.enabled", item);
    else if (key == "maxHosts") c.metricsMaxHosts = v.int("metrics.maxHosts", item, 0, 10000);
    else v.fail("metrics." + key, "unknown field");
  }
}

function readDrain(v: Validator, value: JsonValue, drain: DrainConfig): void {
  if (!v.object("drain", value)) return;
  for (let i = 0; i < value.keys.length && v.ok; i++) {
    const key = unchecked(value.keys[i]);
    const item = unchecked(value.items[i]);
    if (key == "hosts") {
      if (!v.array("drain.hosts", item, 4096)) return;
      for (let j = 0; j < item.items.length; j++) {
        const path = "drain.hosts[" + j.toString() + "]";
        const s = v.str(path, unchecked(item.items[j]), 1, 512);
        if (s === null) return;
        if (s.includes("*")) {
          v.fail(path, "a drain names one host, not a pattern, got " + v.got(item.items[j]));
          return;
        }
        drain.hosts.push(s);
      }
    } else if (key == "deadlineSeconds") {
      drain.deadlineSeconds = v.int("drain.deadlineSeconds", item, 0, 30 * 86400);
    } else if (key == "quietSeconds") {
      drain.quietSeconds = v.int("drain.quietSeconds", item, 0, 3600);
    } else if (key == "reconnectGraceSeconds") {
      drain.reconnectGraceSeconds = v.int("drain.reconnectGraceSeconds", item, 0, 3600);
    } else if (key == "rememberPlayers") {
      drain.rememberPlayers = v.int("drain.rememberPlayers", item, 1, MAX_PLAYERS_PER_HOST);
    } else if (key == "rejectNew") {
      drain.rejectNew = v.bool("drain.rejectNew", item);
    } else if (key == "retryAfterSeconds") {
      drain.retryAfterSeconds = v.int("drain.retryAfterSeconds", item, 1, 3600);
    } else {
      v.fail("drain." + key, "unknown field");
    }
  }
}

/** Letting returning players back in needs to know who a player is, and that others are kept out. */
function checkReturning(v: Validator, c: Config): void {
  if (c.drain.reconnectGraceSeconds == 0) return;
  if (!c.players.enabled) {
    v.fail("drain.reconnectGraceSeconds", "needs players (where a player's identity is found)");
  } else if (!c.drain.rejectNew) {
    v.fail("drain.reconnectGraceSeconds", "has no effect without drain.rejectNew: true");
  }
}

function readWebhook(v: Validator, value: JsonValue, hook: WebhookConfig): void {
  if (!v.object("webhook", value)) return;
  for (let i = 0; i < value.keys.length && v.ok; i++) {
    const key = unchecked(value.keys[i]);
    const item = unchecked(value.items[i]);
    if (key == "cluster") {
      const s = v.str("webhook.cluster", item, 1, 512);
      if (s !== null && !printable(s))
        v.fail("webhook.cluster", "expected printable ASCII without spaces");
      else if (s !== null) hook.cluster = s;
    } else if (key == "authority") {
      const s = v.str("webhook.authority", item, 1, 255);
      if (s !== null && !printable(s))
        v.fail("webhook.authority", "expected printable ASCII without spaces");
      else if (s !== null) hook.authority = s;
    } else if (key == "path") {
      const s = v.str("webhook.path", item, 1, 1024);
      if (s !== null && (!s.startsWith("/") || !printable(s))) {
        v.fail("webhook.path", "expected an absolute path like /drained, got " + v.got(item));
      } else if (s !== null) hook.path = s;
    } else if (key == "timeoutMs") {
      hook.timeoutMs = v.int("webhook.timeoutMs", item, 100, 60000);
    } else if (key == "maxAttempts") {
      hook.maxAttempts = v.int("webhook.maxAttempts", item, 1, 100);
    } else if (key == "backoffMs") {
      hook.backoffMs = v.int("webhook.backoffMs", item, 100, 600000);
    } else if (key == "secret") {
      const s = v.str("webhook.secret", item, 16, 512);
      // ASCII, like admin.token: its length then means the same to the console's schema
      // (characters) as here, and a receiver reads the same bytes whatever its platform.
      if (s !== null && !printable(s)) {
        v.fail("webhook.secret", "expected printable ASCII without spaces");
      } else if (s !== null) hook.secret = s;
    } else {
      v.fail("webhook." + key, "unknown field");
    }
  }
  if (v.ok && hook.cluster.length == 0) v.fail("webhook.cluster", "required when webhook is set");
  if (v.ok && hook.authority.length == 0)
    v.fail("webhook.authority", "required when webhook is set");
}

/** Per-route rules are accepted for Higress's sake; conn-drain itself has no per-route settings. */
function readRules(v: Validator, value: JsonValue): void {
  if (!v.array("_rules_", value, 4096)) return;
  for (let i = 0; i < value.items.length && v.ok; i++) {
    const path = "_rules_[" + i.toString() + "]";
    const rule = unchecked(value.items[i]);
    if (!v.object(path, rule)) return;
    for (let j = 0; j < rule.keys.length; j++) {
      const key = unchecked(rule.keys[j]);
      if (!isHigressMatchKey(key)) {
        v.fail(path + "." + key, "conn-drain has no per-route settings; set it in defaultConfig");
        return;
      }
    }
  }
}
