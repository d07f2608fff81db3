// Releasing OKG's preDelete block once a host is drained on every gateway replica: patch the
// GameServer (OKG copies `gs-sync/` labels from the GameServer to the pod, so a pod patch would
// be reverted), only while it is in PreDelete, conditioned on the version that was checked.
import { gameServerFor, type ReceiverConfig } from "./config.js";
import { type Kube, KubeError } from "./kube.js";
import type { Ledger } from "./ledger.js";
import type { ReceiverMetrics } from "./metrics.js";

/** What the receiver decides for a host, in the order its metrics list them. */
export const OUTCOMES = [
  "released",
  "already-released",
  "waiting-for-replicas",
  "not-predelete",
  "unknown-host",
  "gone",
  "retry",
] as const;
export type Outcome = (typeof OUTCOMES)[number];

export class Releaser {
  private readonly busy = new Set<string>();

  constructor(
    private readonly c: ReceiverConfig,
    private readonly kube: Kube,
    private readonly ledger: Ledger,
    private readonly log: (line: string) => void = console.log,
    private readonly metrics?: ReceiverMetrics,
  ) {}

  /** Decides and, when every replica reported and the GameServer is PreDelete, releases. */
  async evaluate(host: string): Promise<Outcome> {
    // One evaluation per host at a time: two deliveries arriving together patch once.
    if (this.busy.has(host)) return "retry";
    this.busy.add(host);
    try {
      const outcome = await this.decide(host);
      this.log(`${host}: ${outcome}`);
      this.metrics?.outcome(outcome);
      return outcome;
    } catch (e) {
      this.log(`${host}: retry (${e instanceof Error ? e.message : String(e)})`);
      this.metrics?.outcome("retry");
      return "retry";
    } finally {
      this.busy.delete(host);
    }
  }

  /** Re-evaluates every host still waiting (replicas appear, OKG reaches PreDelete later). */
  async recheck(): Promise<void> {
    for (const h of this.ledger.pending()) await this.evaluate(h.host);
  }

  private async decide(host: string): Promise<Outcome> {
    const h = this.ledger.get(host);
    if (!h || h.released) return "already-released";
    const target = gameServerFor(this.c, host);
    if (!target) {
      this.ledger.forget(host);
      return "unknown-host";
    }
    const svc = this.c.gatewayService;
    const replicas = svc ? await this.kube.serviceReplicas(svc.namespace, svc.name) : undefined;
    if (svc && replicas?.length === 0) return "waiting-for-replicas";
    const missing = this.ledger.missing(h, { ids: this.c.gateways, replicas });
    if (missing.length > 0) return "waiting-for-replicas";

    let gs: Awaited<ReturnType<Kube["getGameServer"]>>;
    try {
      gs = await this.kube.getGameServer(target.namespace, target.name);
    } catch (e) {
      if (e instanceof KubeError && e.status === 404) {
        this.ledger.forget(host);
        return "gone";
      }
      throw e;
    }
    if (gs.metadata.labels?.[this.c.blockLabel] === "false") {
      this.ledger.markReleased(host);
      return "already-released";
    }
    if (gs.status?.currentState !== "PreDelete") return "not-predelete";
    // A report of a drain that completed before this GameServer existed was about an earlier one
    // of the same name (OKG reuses names): a replay after a receiver restart, or a leftover.
    const created = Date.parse(gs.metadata.creationTimestamp ?? "");
    if (Number.isFinite(created) && this.ledger.dropReportsBefore(h, created) > 0) {
      this.log(`${host}: ignored reports of drains completed before ${target.name} was created`);
      if (this.ledger.missing(h, { ids: this.c.gateways, replicas }).length > 0) {
        return "waiting-for-replicas";
      }
    }
    try {
      await this.kube.patchGameServerLabels(
        target.namespace,
        target.name,
        { [this.c.blockLabel]: "false" },
        gs.metadata.resourceVersion,
      );
    } catch (e) {
      // Changed since we read it: decide again on the next round with fresh state.
      if (e instanceof KubeError && e.status === 409) return "retry";
      throw e;
    }
    this.ledger.markReleased(host);
    return "released";
  }
}
