// The receiver's settings, from the environment (see deploy/receiver/deployment.yaml).
import { readFileSync } from "node:fs";

export interface ReceiverConfig {
  secret: string;
  /** Namespace of the GameServers. */
  namespace: string;
  /** `game<id>.postio.example.com`: OKG's Kubernetes-Ingress Host with its `<id>` placeholder. */
  hostTemplate: string;
  /** `postio-<id>`: the GameServer (= pod) name for the same ordinal. */
  gameServerTemplate: string;
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

function need(env: NodeJS.ProcessEnv, name: string): string {
  const v = env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): ReceiverConfig {
  const secret = env.WEBHOOK_SECRET_FILE
    ? readFileSync(env.WEBHOOK_SECRET_FILE, "utf8").trim()
    : need(env, "WEBHOOK_SECRET");
  if (secret.length < 16) throw new Error("the webhook secret must be at least 16 characters");
  const hostTemplate = env.HOST_TEMPLATE ?? "game<id>.postio.example.com";
  const gameServerTemplate = need(env, "GAMESERVER_TEMPLATE");
  for (const [k, t] of [
    ["HOST_TEMPLATE", hostTemplate],
    ["GAMESERVER_TEMPLATE", gameServerTemplate],
  ]) {
    if (t?.split("<id>").length !== 2) throw new Error(`${k} must contain <id> exactly once`);
  }
  const gateways = (env.GATEWAYS ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  let gatewayService: ReceiverConfig["gatewayService"];
  if (env.GATEWAY_SERVICE) {
    const [namespace, name] = env.GATEWAY_SERVICE.split("/");
    if (!namespace || !name) throw new Error("GATEWAY_SERVICE must be namespace/name");
    gatewayService = { namespace, name };
  }
  if (gateways.length === 0 && !gatewayService) {
    throw new Error("set GATEWAYS (gateway ids) or GATEWAY_SERVICE (namespace/name)");
  }
  return {
    secret,
    namespace: env.GAME_NAMESPACE ?? "default",
    hostTemplate,
    gameServerTemplate,
    gateways,
    gatewayService,
    blockLabel: env.BLOCK_LABEL ?? "gs-sync/delete-block",
    listenHost: env.LISTEN_HOST ?? "0.0.0.0",
    port: Number(env.PORT ?? 8080),
    path: env.WEBHOOK_PATH ?? "/drained",
    recheckMs: Number(env.RECHECK_SECONDS ?? 10) * 1_000,
  };
}

/** game7.postio.example.com → postio-7 (undefined when the host is not one of ours). */
export function gameServerFor(c: ReceiverConfig, host: string): string | undefined {
  const [pre = "", post = ""] = c.hostTemplate.split("<id>");
  if (!host.startsWith(pre) || !host.endsWith(post) || host.length <= pre.length + post.length) {
    return undefined;
  }
  const id = host.slice(pre.length, host.length - post.length);
  if (!/^\d{1,9}$/.test(id)) return undefined;
  return c.gameServerTemplate.replace("<id>", id);
}
