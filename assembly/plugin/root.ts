// The root context: one per plugin configuration in each VM. A config update creates a new root
// beside the old one (which keeps serving the streams it started), while the counting and drain
// state lives in one VmState per VM and in shared data, so it carries across updates.
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
import { DeliveryTerms } from "./drain_rules";
import { Drains } from "./drains";
import { PlayerStream } from "./player_stream";
import { Webhook } from "./webhook";

/** What one VM keeps across every root context it ever has: its table, webhook and drains. */
export class VmState {
  readonly table: ConnectionTable;
  readonly webhook: Webhook;
  readonly drains: Drains;

  constructor() {
    const terms = new DeliveryTerms();
    const table = new ConnectionTable(terms);
    const webhook = new Webhook(table, terms);
    // The table signals each completion it writes through the webhook module, which needs the
    // table for delivery: tied here, once both exist.
    table.sink = webhook;
    this.table = table;
    this.webhook = webhook;
    this.drains = new Drains(table, webhook);
  }
}

export class ConnDrainRoot extends RootContext {
  config: Config | null = null;
  admin: AdminEndpoint | null = null;

  constructor(
    id: u32,
    private vm: VmState,
  ) {
    super(id);
  }

  onConfigure(size: u32): bool {
    refreshLogLevel();
    const parsed = parseConfig(getPluginConfiguration(size));
    if (parsed.config === null) {
      log(LogLevel.Error, "config rejected: " + parsed.error);
      return false;
    }
    const config = parsed.config!;
    const vm = this.vm;
    if (!vm.table.configure(config)) {
      log(LogLevel.Error, "config rejected: shared data refused the plugin's keys");
      return false;
    }
    this.config = config;
    const gateway = gatewayId(config);
    vm.webhook.configure(config, gateway, this.id);
    vm.drains.configure(config);
    // Without a token or an allow-list the admin path is off: streams need not look at :path.
    this.admin = !config.admin.enabled
      ? null
      : new AdminEndpoint(
          config.admin,
          gateway,
          vm.table,
          vm.drains,
          config.drain,
          config.keyBy,
          config.players.enabled,
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
    const config = this.config;
    if (config === null) return;
    refreshLogLevel();
    // Every root ticks, an older config's too while its streams last: each one's ticks are a
    // clock of their own for judging other VMs (vm_liveness.ts).
    this.vm.table.heartbeat(this.id, <i64>config.tickMs);
    this.vm.drains.tick();
  }

  onHttpCallResponse(token: u32, headers: u32, bodySize: u32, trailers: u32): void {
    this.vm.webhook.onHttpCallResponse(token, headers);
  }

  /** A stream gets what it needs from the root that creates it. */
  createHttpContext(id: u32): HttpContext {
    const config = this.config;
    // Envoy creates streams only for a root whose configure succeeded; be inert otherwise.
    if (config === null) return new HttpContext(id, this);
    return new PlayerStream(id, this, config, this.vm.table, this.admin);
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
