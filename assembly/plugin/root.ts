// The root context: one per plugin configuration in each VM. A config update creates a new root
// beside the old one (which keeps serving the streams it started), while the counting and drain
// state lives in VM-wide objects and shared data, so it carries across updates.
import { HttpContext, RootContext } from "../abi/context";
import { LogLevel } from "../abi/enums";
import {
  getEnv,
  getPluginConfiguration,
  getPropertyString,
  log,
  refreshLogLevel,
  setTickPeriod,
} from "../abi/hostcalls";
import { AdminEndpoint } from "./admin";
import { Config, parseConfig } from "./config";
import { ConnectionTable } from "./connection_table";
import { DrainController } from "./drain_controller";
import { PlayerStream } from "./player_stream";

/** One table and one drain controller per VM, shared by every root context the VM ever has. */
export const table = new ConnectionTable();
export const drains = new DrainController(table);

export class ConnDrainRoot extends RootContext {
  config: Config | null = null;
  admin: AdminEndpoint | null = null;

  onConfigure(size: u32): bool {
    refreshLogLevel();
    const parsed = parseConfig(getPluginConfiguration(size));
    if (parsed.config === null) {
      log(LogLevel.Error, "config rejected: " + parsed.error);
      return false;
    }
    const config = parsed.config!;
    if (!table.configure(config)) {
      log(LogLevel.Error, "config rejected: shared data refused the plugin's keys");
      return false;
    }
    this.config = config;
    const gateway = gatewayId(config);
    drains.configure(config, gateway, this.id);
    this.admin = new AdminEndpoint(
      config.admin,
      gateway,
      table,
      drains,
      config.drain.deadlineSeconds,
      config.keyBy,
    );
    setTickPeriod(<u32>config.tickMs);
    log(
      LogLevel.Info,
      "configured: gateway " +
        gateway +
        ", maxHosts " +
        config.maxHosts.toString() +
        (config.admin.enabled ? ", admin at " + config.admin.path : ", admin off") +
        (config.webhook.enabled ? ", webhook via " + config.webhook.cluster : ", no webhook"),
    );
    return true;
  }

  onTick(): void {
    refreshLogLevel();
    table.heartbeat();
    drains.tick();
  }

  onHttpCallResponse(token: u32, headers: u32, bodySize: u32, trailers: u32): void {
    drains.onHttpCallResponse(token, headers);
  }

  /** A stream gets what it needs from the root that creates it: its config, table, admin. */
  createHttpContext(id: u32): HttpContext {
    const config = this.config;
    // Envoy creates streams only for a root whose configure succeeded; be inert otherwise.
    if (config === null) return new HttpContext(id, this);
    return new PlayerStream(id, this, config, table, this.admin);
  }
}

function gatewayId(config: Config): string {
  if (config.gatewayId.length > 0) return config.gatewayId;
  const node = getPropertyString(["node", "id"]);
  if (node !== null && node.length > 0) return node;
  const hostname = getEnv("HOSTNAME");
  if (hostname !== null && hostname.length > 0) return hostname;
  return "unknown";
}
