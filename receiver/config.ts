// The receiver's settings, from the environment (see deploy/receiver/deployment.yaml and
// docs/okg.md, "The receiver's settings"). Every mistake is a ConfigError whose message starts
// with the variable's name; main.ts prints it as one line and exits.
import { readFileSync } from "node:fs";

/** A setting the receiver cannot start with; the message names the variable. */
export class ConfigError extends Error {
  /** `text`: the whole message, when it names the variable otherwise than "VARIABLE: message". */
  constructor(
    readonly variable: string,
    message: string,
    text = `${variable}: ${message}`,
  ) {
    super(text);
    this.name = "ConfigError";
  }
}

/**
 * One GameServerSet: the hosts its Kubernetes-Ingress network gives its game servers and the
 * GameServer behind each. `<id>` is OKG's placeholder for the ordinal in both.
 */
export interface HostTarget {
  /** `game<id>.postio.example.com`, lower case (hosts arrive normalized by the plugin). */
  hostTemplate: string;
  /** Namespace of the GameServers. */
  namespace: string;
  /** `postio-<id>`: the GameServer (= pod) name for the same ordinal. */
  gameServerTemplate: string;
}

export interface ReceiverConfig {
  secret: string;
  /** GAME_NAMESPACE: the namespace of entries that name none (default "default"). */
  namespace: string;
  /** Host template → GameServer template, one per GameServerSet; no host matches two. */
  targets: HostTarget[];
  /** Gateway ids that must all report, when configured as a list. */
  gateways: string[];
  /** `namespace/name` of the gateway Service whose endpoints are the replicas. */
  gatewayService?: { namespace: string; name: string };
  blockLabel: string;
  listenHost: string;
  port: number;
  path: string;
  recheckMs: number;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
// Characters a host may hold after the plugin normalized it (lower case, no port).
const HOST_CHARS = /^[a-z0-9.\-_]+$/;
// What OKG substitutes for <id>: the ordinal in decimal, no leading zero (strconv.Itoa in
// kruise-game's cloudprovider/kubernetes/ingress.go, parseIngConfig).
const ID = /^(0|[1-9]\d{0,8})$/;

function secretOf(env: NodeJS.ProcessEnv): string {
  let secret: string;
  let from = "WEBHOOK_SECRET";
  if (env.WEBHOOK_SECRET_FILE) {
    from = "WEBHOOK_SECRET_FILE";
    try {
      secret = readFileSync(env.WEBHOOK_SECRET_FILE, "utf8").trim();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? String(e);
      throw new ConfigError(from, `cannot read ${env.WEBHOOK_SECRET_FILE} (${code})`);
    }
  } else if (env.WEBHOOK_SECRET) {
    secret = env.WEBHOOK_SECRET;
  } else {
    throw new ConfigError(
      "WEBHOOK_SECRET",
      "set WEBHOOK_SECRET, or WEBHOOK_SECRET_FILE to a file holding it",
    );
  }
  if (secret.length < 16) throw new ConfigError(from, "the secret must be at least 16 characters");
  return secret;
}

function checkTemplate(variable: string, what: string, t: string): void {
  if (t.split("<id>").length !== 2) {
    throw new ConfigError(variable, `${what} "${t}" must contain <id> exactly once`);
  }
}

function target(
  vars: { host: string; gameServer: string },
  host: string,
  gameServer: string,
  defaultNamespace: string,
): HostTarget {
  const hostTemplate = host.trim().toLowerCase();
  checkTemplate(vars.host, "host template", hostTemplate);
  if (!HOST_CHARS.test(hostTemplate.replace("<id>", "0"))) {
    throw new ConfigError(vars.host, `host template "${host.trim()}" is not a host name`);
  }
  const variable = vars.gameServer;
  let gs = gameServer.trim();
  let namespace = defaultNamespace;
  const slash = gs.indexOf("/");
  if (slash >= 0) {
    namespace = gs.slice(0, slash);
    gs = gs.slice(slash + 1);
    if (!DNS_LABEL.test(namespace)) {
      throw new ConfigError(variable, `"${namespace}" is not a namespace name`);
    }
  }
  checkTemplate(variable, "GameServer template", gs);
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(gs.replace("<id>", "0"))) {
    throw new ConfigError(variable, `GameServer template "${gs}" does not make a resource name`);
  }
  return { hostTemplate, namespace, gameServerTemplate: gs };
}

/**
 * Whether some host matches both templates. Both are `prefix<id>suffix` with <id> 1 to 9
 * digits, so for every length a host could have, compare position by position: two literal
 * characters must be equal, a literal against an <id> position must be a digit.
 */
export function templatesOverlap(a: string, b: string): boolean {
  const [pa = "", sa = ""] = a.split("<id>");
  const [pb = "", sb = ""] = b.split("<id>");
  const lo = Math.max(pa.length + sa.length, pb.length + sb.length) + 1;
  const hi = Math.min(pa.length + sa.length, pb.length + sb.length) + 9;
  const at = (p: string, s: string, n: number, i: number): string | undefined =>
    i < p.length ? p[i] : i >= n - s.length ? s[i - (n - s.length)] : undefined; // undefined: a digit
  for (let n = lo; n <= hi; n++) {
    let fits = true;
    for (let i = 0; fits && i < n; i++) {
      const x = at(pa, sa, n, i);
      const y = at(pb, sb, n, i);
      if (x !== undefined && y !== undefined) fits = x === y;
      else if (x !== undefined) fits = /\d/.test(x);
      else if (y !== undefined) fits = /\d/.test(y);
    }
    if (fits) return true;
  }
  return false;
}

function targetsOf(env: NodeJS.ProcessEnv, namespace: string): HostTarget[] {
  const list = env.HOST_TEMPLATES?.trim();
  if (!list) {
    // One GameServerSet, the original form: HOST_TEMPLATE and GAMESERVER_TEMPLATE.
    const gs = env.GAMESERVER_TEMPLATE;
    if (!gs) {
      throw new ConfigError(
        "GAMESERVER_TEMPLATE",
        "set GAMESERVER_TEMPLATE (e.g. postio-<id>), or HOST_TEMPLATES for several GameServerSets",
      );
    }
    const host = env.HOST_TEMPLATE || "game<id>.postio.example.com";
    const vars = { host: "HOST_TEMPLATE", gameServer: "GAMESERVER_TEMPLATE" };
    return [target(vars, host, gs, namespace)];
  }
  for (const v of ["HOST_TEMPLATE", "GAMESERVER_TEMPLATE"]) {
    if (env[v]) throw new ConfigError(v, "set either HOST_TEMPLATES or this, not both");
  }
  const entries = list
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter(Boolean);
  const targets = entries.map((entry, i) => {
    const eq = entry.indexOf("=");
    if (eq <= 0) {
      throw new ConfigError(
        "HOST_TEMPLATES",
        `entry ${i + 1} "${entry}" must be HOST_TEMPLATE=[NAMESPACE/]GAMESERVER_TEMPLATE`,
      );
    }
    const vars = { host: "HOST_TEMPLATES", gameServer: "HOST_TEMPLATES" };
    return target(vars, entry.slice(0, eq), entry.slice(eq + 1), namespace);
  });
  for (const [i, a] of targets.entries()) {
    for (const b of targets.slice(i + 1)) {
      if (templatesOverlap(a.hostTemplate, b.hostTemplate)) {
        throw new ConfigError(
          "HOST_TEMPLATES",
          `"${a.hostTemplate}" and "${b.hostTemplate}" both match some host; a host must map to one GameServer`,
        );
      }
    }
  }
  return targets;
}

function numberOf(
  env: NodeJS.ProcessEnv,
  variable: string,
  fallback: number,
  ok: (n: number) => boolean,
  what: string,
): number {
  const text = env[variable];
  if (text === undefined || text === "") return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || !ok(n)) throw new ConfigError(variable, `${what}, got "${text}"`);
  return n;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): ReceiverConfig {
  const secret = secretOf(env);
  const namespace = env.GAME_NAMESPACE || "default";
  if (!DNS_LABEL.test(namespace)) {
    throw new ConfigError("GAME_NAMESPACE", `"${namespace}" is not a namespace name`);
  }
  const targets = targetsOf(env, namespace);
  const gateways = (env.GATEWAYS ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  let gatewayService: ReceiverConfig["gatewayService"];
  if (env.GATEWAY_SERVICE) {
    const [ns, name, extra] = env.GATEWAY_SERVICE.split("/");
    if (!ns || !name || extra !== undefined) {
      throw new ConfigError(
        "GATEWAY_SERVICE",
        `must be namespace/name, got "${env.GATEWAY_SERVICE}"`,
      );
    }
    gatewayService = { namespace: ns, name };
  }
  if (gateways.length === 0 && !gatewayService) {
    throw new ConfigError(
      "GATEWAY_SERVICE",
      "set GATEWAY_SERVICE (namespace/name of the gateway Service) or GATEWAYS (gateway ids)",
    );
  }
  const path = env.WEBHOOK_PATH ?? "/drained";
  if (!path.startsWith("/"))
    throw new ConfigError("WEBHOOK_PATH", `must start with /, got "${path}"`);
  return {
    secret,
    namespace,
    targets,
    gateways,
    gatewayService,
    blockLabel: env.BLOCK_LABEL || "gs-sync/delete-block",
    listenHost: env.LISTEN_HOST || "0.0.0.0",
    port: numberOf(
      env,
      "PORT",
      8080,
      (n) => Number.isInteger(n) && n >= 0 && n <= 65535,
      "must be a port number from 0 to 65535",
    ),
    path,
    recheckMs:
      numberOf(
        env,
        "RECHECK_SECONDS",
        10,
        (n) => n > 0 && n <= 86_400,
        "must be a number of seconds above 0, at most 86400",
      ) * 1_000,
  };
}

/** The GameServer a host's drain is about, or undefined when the host is none of ours. */
export function gameServerFor(
  c: ReceiverConfig,
  host: string,
): { namespace: string; name: string } | undefined {
  const h = host.toLowerCase();
  for (const t of c.targets) {
    const [pre = "", post = ""] = t.hostTemplate.split("<id>");
    if (!h.startsWith(pre) || !h.endsWith(post) || h.length <= pre.length + post.length) continue;
    const id = h.slice(pre.length, h.length - post.length);
    if (!ID.test(id)) continue;
    // Templates never overlap (checked at load), so the first match is the only one.
    return { namespace: t.namespace, name: t.gameServerTemplate.replace("<id>", id) };
  }
  return undefined;
}
