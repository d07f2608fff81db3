// The local gateway's route table: which upstream address and Envoy cluster name serve a host.
// Higress builds one cluster per game server from OKG's per-pod Service
// (`outbound|<port>||<service>.<namespace>.svc.cluster.local`); the default names follow it so
// that `keyBy: cluster` behaves here as it would behind Higress.

export interface Route {
  /** Lower-case host name without port, as the plugin normalizes `:authority`. */
  host: string;
  /** `ip:port` the gateway connects to. */
  address: string;
  /** What the plugin reads as `cluster_name`. */
  cluster: string;
}

/** Lower-cases and strips a port, like the plugin does with `:authority`. */
export function normalizeHost(authority: string): string {
  const a = authority.trim().toLowerCase();
  if (a.startsWith("[")) {
    const end = a.indexOf("]");
    return end > 0 ? a.slice(0, end + 1) : a;
  }
  const colon = a.lastIndexOf(":");
  return colon >= 0 && a.indexOf(":") === colon ? a.slice(0, colon) : a;
}

export function splitAddress(address: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(address);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || port < 1 || port > 65535) throw new Error(`not an ip:port address: "${address}"`);
  return { host: (m[1] as string).replace(/^\[|\]$/g, ""), port };
}

export function defaultCluster(host: string, address: string): string {
  const service = host.split(".")[0] ?? host;
  return `outbound|${splitAddress(address).port}||${service}.default.svc.cluster.local`;
}

/** Parses `host=ip:port` or `host=ip:port,cluster-name` (the `--upstream` option). */
export function parseUpstream(arg: string): Route {
  const eq = arg.indexOf("=");
  if (eq <= 0) throw new Error(`--upstream wants host=ip:port[,cluster], got "${arg}"`);
  const host = normalizeHost(arg.slice(0, eq));
  const [address = "", cluster] = arg.slice(eq + 1).split(",", 2);
  splitAddress(address);
  return { host, address, cluster: cluster || defaultCluster(host, address) };
}

export class RouteTable {
  private readonly routes = new Map<string, Route>();

  constructor(routes: Iterable<Route> = []) {
    for (const r of routes) this.set(r);
  }

  /** Adds or replaces the route of `route.host` (a later `--upstream` wins). */
  set(route: Route): void {
    this.routes.set(normalizeHost(route.host), { ...route, host: normalizeHost(route.host) });
  }

  lookup(authority: string | undefined): Route | undefined {
    return authority === undefined ? undefined : this.routes.get(normalizeHost(authority));
  }

  list(): Route[] {
    return [...this.routes.values()];
  }
}
