// Which gateway replicas have reported a drain of which host. Each replica is its own Envoy
// with its own episodes, so a host is drained only when every replica reported one.
//
// The ledger is kept per episode, and every episode expires `ttlMs` after its completedAt (the
// gateway's signed time). Until then a delivery of the same episode (a retry, or a replay inside
// the signature window) is a repeat and changes nothing, and after a release it cannot start a
// new round. After it, a delivery of that episode is "expired" and ignored, and its report no
// longer counts towards a host: a report left over from an old drain can never combine with a
// later drain of a re-created game server to release it.
import type { GatewayReplica } from "./kube.js";
import type { DrainComplete } from "./signature.js";

export interface HostDrain {
  host: string;
  /** gateway id → episode it reported (only episodes that have not expired) */
  reports: Map<string, string>;
  firstAt: number;
  released: boolean;
}

interface Episode {
  host: string;
  gateway: string;
  /** The gateway's signed completedAt, epoch ms. */
  completedAt: number;
  expiresAt: number;
}

export type Recorded = "fresh" | "repeat" | "expired";

/** One day: replicas' drains of one host may complete hours apart (no deadline, long matches). */
export const DEFAULT_LEDGER_TTL_SECONDS = 86_400;

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

export interface LedgerOptions {
  /** How long an episode is remembered and counts, from its completedAt. */
  ttlMs?: number;
  maxHosts?: number;
  maxEpisodes?: number;
  /** The receiver's clock, epoch milliseconds. */
  now?: () => number;
}

export class Ledger {
  private readonly hosts = new Map<string, HostDrain>();
  /** episode (= idempotency key) → what it reported and until when */
  private readonly episodes = new Map<string, Episode>();
  private readonly ttlMs: number;
  private readonly maxHosts: number;
  private readonly maxEpisodes: number;
  private readonly now: () => number;
  /** No episode expires before this: most calls skip the scan. */
  private nextExpiry = Number.POSITIVE_INFINITY;

  constructor(o: LedgerOptions = {}) {
    this.ttlMs = o.ttlMs ?? DEFAULT_LEDGER_TTL_SECONDS * 1000;
    this.maxHosts = o.maxHosts ?? 10_000;
    this.maxEpisodes = o.maxEpisodes ?? 100_000;
    this.now = o.now ?? Date.now;
  }

  /** Records a verified delivery whose idempotency key is `key` (= its episode). */
  record(body: DrainComplete, key: string): Recorded {
    const now = this.now();
    this.expire(now);
    if (this.episodes.has(key)) return "repeat";
    const completedAt = Date.parse(body.completedAt);
    const expiresAt = completedAt + this.ttlMs;
    if (!(expiresAt > now)) return "expired";
    let h = this.hosts.get(body.host);
    if (!h || h.released) {
      if (!h && this.hosts.size >= this.maxHosts) this.evictOldestHost();
      h = { host: body.host, reports: new Map(), firstAt: now, released: false };
      this.hosts.set(body.host, h);
    }
    // Bounded memory: the oldest episodes go first (a Map iterates in insertion order).
    if (this.episodes.size >= this.maxEpisodes) {
      const oldest = this.episodes.keys().next().value as string;
      this.drop(oldest);
    }
    this.episodes.set(key, { host: body.host, gateway: body.gateway, completedAt, expiresAt });
    this.nextExpiry = Math.min(this.nextExpiry, expiresAt);
    h.reports.set(body.gateway, key);
    return "fresh";
  }

  get(host: string): HostDrain | undefined {
    this.expire(this.now());
    return this.hosts.get(host);
  }

  pending(): HostDrain[] {
    this.expire(this.now());
    return [...this.hosts.values()].filter((h) => !h.released);
  }

  /** Episodes remembered now (expired ones are gone). */
  size(): number {
    this.expire(this.now());
    return this.episodes.size;
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

  /**
   * Stops counting the host's reports of drains that completed before `sinceMs` (the GameServer's
   * creation): they were about an earlier game server of the same name. Their episodes stay
   * remembered, so a replay of one is still a repeat. Returns how many were dropped.
   */
  dropReportsBefore(h: HostDrain, sinceMs: number): number {
    let dropped = 0;
    for (const [gateway, key] of h.reports) {
      const e = this.episodes.get(key);
      if (e && e.completedAt < sinceMs) {
        h.reports.delete(gateway);
        dropped++;
      }
    }
    return dropped;
  }

  markReleased(host: string): void {
    const h = this.hosts.get(host);
    if (h) h.released = true;
  }

  /** Drops the host's round; its episodes stay remembered (a replay is still a repeat). */
  forget(host: string): void {
    this.hosts.delete(host);
  }

  /** Drops every episode past its expiry, its report, and hosts left without reports. */
  private expire(now: number): void {
    if (now < this.nextExpiry) return;
    this.nextExpiry = Number.POSITIVE_INFINITY;
    for (const [key, e] of this.episodes) {
      if (e.expiresAt <= now) this.drop(key);
      else this.nextExpiry = Math.min(this.nextExpiry, e.expiresAt);
    }
  }

  private drop(key: string): void {
    const e = this.episodes.get(key);
    if (!e) return;
    this.episodes.delete(key);
    const h = this.hosts.get(e.host);
    if (h?.reports.get(e.gateway) === key) {
      h.reports.delete(e.gateway);
      if (h.reports.size === 0) this.hosts.delete(e.host);
    }
  }

  private evictOldestHost(): void {
    let oldest: HostDrain | undefined;
    for (const h of this.hosts.values()) if (!oldest || h.firstAt < oldest.firstAt) oldest = h;
    if (oldest) this.hosts.delete(oldest.host);
  }
}
