// Everything the demo and the end-to-end test run on one machine: game servers, a webhook sink
// and the local gateway running conn-drain in front of them, all on 127.0.0.1 ephemeral ports.
import type { LogEntry } from "../../host/index.js";
import { defaultCluster, type Route } from "../routes.js";
import { type LocalGateway, startLocalGateway } from "../server.js";
import { AdminClient } from "./admin-client.js";
import { type GameServer, startGameServer } from "./game-server.js";
import { startWebhookSink, type WebhookSink } from "./webhook-sink.js";

export const ADMIN_TOKEN = "local-demo-token-0123456789abcdef";
export const WEBHOOK_SECRET = "local-demo-webhook-secret-0123456789";
/** Named like the Envoy cluster Higress would build for an in-cluster receiver Service. */
export const WEBHOOK_CLUSTER = "outbound|8080||conn-drain-receiver.ops.svc.cluster.local";
export const DOMAIN = "postio.example.com";

export interface TestbedOptions {
  /** Game server names; each is served as `<name>.postio.example.com`. */
  games?: string[];
  workers?: number;
  /** Extra or replacing routes (the demo's `--upstream`). */
  routes?: Route[];
  port?: number;
  nodeId?: string;
  heartbeatMs?: number;
  /** Merged over the plugin configuration below. */
  config?: Record<string, unknown>;
  onLog?: (e: LogEntry) => void;
}

export interface Testbed {
  gateway: LocalGateway;
  games: Map<string, GameServer>;
  sink: WebhookSink;
  admin: AdminClient;
  config: Record<string, unknown>;
  close(): Promise<void>;
}

export function hostOf(game: string): string {
  return `${game}.${DOMAIN}`;
}

export function pluginConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    hosts: [`*.${DOMAIN}`],
    admin: { token: ADMIN_TOKEN },
    // Short periods so a local run moves at human speed; production keeps the defaults.
    tickMs: 200,
    vmTtlSeconds: 10,
    drain: { rejectNew: true, retryAfterSeconds: 5 },
    webhook: {
      cluster: WEBHOOK_CLUSTER,
      authority: "conn-drain-receiver.ops.svc.cluster.local",
      path: "/drained",
      secret: WEBHOOK_SECRET,
      timeoutMs: 2_000,
      backoffMs: 200,
      maxAttempts: 10,
    },
    ...extra,
  };
}

/**
 * The webhook settings and the cluster route that send a local gateway's drain signals to a
 * receiver listening on 127.0.0.1:`port`, signed with `secret` (the other webhook settings at
 * their defaults): `config: pluginConfig({ webhook }), clusters`.
 */
export function receiverWebhook(
  port: number,
  secret: string,
): { webhook: Record<string, unknown>; clusters: Record<string, string> } {
  return {
    webhook: {
      cluster: WEBHOOK_CLUSTER,
      authority: "conn-drain-receiver.ops",
      path: "/drained",
      secret,
    },
    clusters: { [WEBHOOK_CLUSTER]: `127.0.0.1:${port}` },
  };
}

export async function startTestbed(o: TestbedOptions = {}): Promise<Testbed> {
  const games = new Map<string, GameServer>();
  const names = o.games ?? ["game0", "game1", "game2"];
  let sink: WebhookSink | undefined;
  try {
    for (const name of names) {
      games.set(hostOf(name), await startGameServer(name, o.heartbeatMs));
    }
    sink = await startWebhookSink(WEBHOOK_SECRET);
    const routes: Route[] = [...games].map(([host, g]) => ({
      host,
      address: g.address,
      cluster: defaultCluster(host, "0.0.0.0:5000"),
    }));
    const config = pluginConfig(o.config);
    const gateway = await startLocalGateway({
      workers: o.workers ?? 4,
      config,
      routes: [...routes, ...(o.routes ?? [])],
      clusters: { [WEBHOOK_CLUSTER]: sink.address },
      nodeId: o.nodeId ?? "local-gateway-0",
      port: o.port,
      onLog: o.onLog,
    });
    const s = sink;
    return {
      gateway,
      games,
      sink: s,
      admin: new AdminClient(gateway.url, ADMIN_TOKEN),
      config,
      async close() {
        await gateway.close();
        await s.close();
        for (const g of games.values()) await g.close();
      },
    };
  } catch (e) {
    await sink?.close();
    for (const g of games.values()) await g.close();
    throw e;
  }
}
