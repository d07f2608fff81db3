// Which gateway replicas have reported a drain of which host. Each replica is its own Envoy
// with its own episodes, so a host is drained only when every replica reported one; a retried
// delivery carries the same idempotency key and is recognised as a repeat.
import type { GatewayReplica } from "./kube.js";
import type { DrainComplete } from "./signature.js";

export interface HostDrain {
  host: string;
  /** gateway id → episode it reported */
  reports: Map<string, string>;
  firstAt: number;
  released: boolean;
}

/**
 * Does a reported gateway id name this replica? conn-drain's gatewayId defaults to Envoy's
 * node.id, which in Higress is `router~<pod ip>~<pod name>.<namespace>~<namespace>.svc.cluster.local`;
 * a gatewayId set to the pod name or IP also matches.
 */
export function gatewayIsReplica(gatewayId: string, r: GatewayReplica): boolean {
  if (gatewayId === r.ip || gatewayId === r.pod) return true;
  const parts = gatewayId.split("~");
  if (parts.length < 3) return false;
  return parts[1] === r.ip || (r.pod !== undefined && parts[2]?.split(".")[0] === r.pod);
}

export class Ledger {
  private readonly hosts = new Map<string, HostDrain>();
  private readonly keys = new Set<string>();

  constructor(
    private readonly maxHosts = 10_000,
    private readonly maxKeys = 100_000,
  ) {}

  /** Records a verified delivery; false when its idempotency key was seen before. */
  record(body: DrainComplete, key: string, now = Date.now()): boolean {
    if (this.keys.has(key)) return false;
    let h = this.hosts.get(body.host);
    if (!h || h.released) {
      if (!h && this.hosts.size >= this.maxHosts) this.evictOldest();
      h = { host: body.host, reports: new Map(), firstAt: now, released: false };
      this.hosts.set(body.host, h);
    }
    this.keys.add(key);
    // Bounded memory: the oldest keys go first (a Set iterates in insertion order).
    if (this.keys.size > this.maxKeys) this.keys.delete(this.keys.values().next().value as string);
    h.reports.set(body.gateway, body.episode);
    return true;
  }

  get(host: string): HostDrain | undefined {
    return this.hosts.get(host);
  }

  pending(): HostDrain[] {
    return [...this.hosts.values()].filter((h) => !h.released);
  }

  /** Replicas (known by id, or by address from the API) that have not reported yet. */
  missing(h: HostDrain, known: { ids?: string[]; replicas?: GatewayReplica[] }): string[] {
    const ids = [...h.reports.keys()];
    const out: string[] = [];
    for (const id of known.ids ?? []) if (!h.reports.has(id)) out.push(id);
    for (const r of known.replicas ?? []) {
      if (!ids.some((id) => gatewayIsReplica(id, r))) out.push(r.pod ?? r.ip);
    }
    return out;
  }

  markReleased(host: string): void {
    const h = this.hosts.get(host);
    if (h) h.released = true;
  }

  forget(host: string): void {
    this.hosts.delete(host);
  }

  private evictOldest(): void {
    let oldest: HostDrain | undefined;
    for (const h of this.hosts.values()) if (!oldest || h.firstAt < oldest.firstAt) oldest = h;
    if (oldest) this.hosts.delete(oldest.host);
  }
}
