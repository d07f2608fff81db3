// The receiver's own Prometheus metrics (text format 0.0.4 at /metrics): drain completions as
// the gateways report them, how long each drain took (completedAt - startedAt from the signed
// body), and what the receiver did about the GameServer. The gateway's admin path has the live
// counts; completions and durations exist only in the webhooks, so they are counted here.
import { OUTCOMES, type Outcome } from "./release.js";
import { DRAIN_REASONS, type DrainComplete, REJECTIONS } from "./signature.js";

/** Why a delivery was refused: its signature (malformed, mismatch, stale, future) or its body. */
const REJECT_REASONS = [...REJECTIONS, "body", "idempotency-key"] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

const BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400];

export class ReceiverMetrics {
  // Every label value starts at 0: a counter whose series first appears already at 1 loses that
  // increment to rate()/increase(), so the dashboard would miss each first report and decision.
  private readonly reports = new Map<string, number>(DRAIN_REASONS.map((r) => [r, 0]));
  private readonly outcomes = new Map<string, number>(OUTCOMES.map((o) => [o, 0]));
  private readonly counts = BUCKETS.map(() => 0);
  private total = 0;
  private sum = 0;
  private readonly rejections = new Map<RejectReason, number>(REJECT_REASONS.map((r) => [r, 0]));
  /** Authentic reports whose episode had expired (completedAt older than the ledger TTL). */
  expired = 0;

  reject(reason: RejectReason): void {
    this.rejections.set(reason, (this.rejections.get(reason) ?? 0) + 1);
  }

  /** Deliveries refused, every reason together. */
  get rejected(): number {
    let n = 0;
    for (const v of this.rejections.values()) n += v;
    return n;
  }

  rejectedFor(reason: RejectReason): number {
    return this.rejections.get(reason) ?? 0;
  }

  /** A fresh (not repeated) verified report from one gateway replica. */
  report(b: DrainComplete): void {
    this.reports.set(b.reason, (this.reports.get(b.reason) ?? 0) + 1);
    const seconds = (Date.parse(b.completedAt) - Date.parse(b.startedAt)) / 1000;
    if (!Number.isFinite(seconds) || seconds < 0) return;
    this.total++;
    this.sum += seconds;
    BUCKETS.forEach((le, i) => {
      if (seconds <= le) this.counts[i] = (this.counts[i] ?? 0) + 1;
    });
  }

  outcome(o: Outcome): void {
    this.outcomes.set(o, (this.outcomes.get(o) ?? 0) + 1);
  }

  render(): string {
    const out: string[] = [
      "# HELP conn_drain_receiver_drain_reports_total Drain-complete webhooks accepted, one per gateway replica and episode.",
      "# TYPE conn_drain_receiver_drain_reports_total counter",
    ];
    for (const [reason, n] of this.reports) {
      out.push(`conn_drain_receiver_drain_reports_total{reason="${reason}"} ${n}`);
    }
    out.push(
      "# HELP conn_drain_receiver_drain_duration_seconds From drain start to its last player leaving, per report.",
      "# TYPE conn_drain_receiver_drain_duration_seconds histogram",
    );
    BUCKETS.forEach((le, i) => {
      out.push(`conn_drain_receiver_drain_duration_seconds_bucket{le="${le}"} ${this.counts[i]}`);
    });
    out.push(
      `conn_drain_receiver_drain_duration_seconds_bucket{le="+Inf"} ${this.total}`,
      `conn_drain_receiver_drain_duration_seconds_sum ${this.sum}`,
      `conn_drain_receiver_drain_duration_seconds_count ${this.total}`,
      "# HELP conn_drain_receiver_decisions_total What the receiver decided for a host after a report or re-check.",
      "# TYPE conn_drain_receiver_decisions_total counter",
    );
    for (const [o, n] of this.outcomes) {
      out.push(`conn_drain_receiver_decisions_total{outcome="${o}"} ${n}`);
    }
    out.push(
      "# HELP conn_drain_receiver_rejected_total Deliveries refused: signature malformed, mismatch, stale or future (outside the window), body, idempotency-key.",
      "# TYPE conn_drain_receiver_rejected_total counter",
    );
    for (const [reason, n] of this.rejections) {
      out.push(`conn_drain_receiver_rejected_total{reason="${reason}"} ${n}`);
    }
    out.push(
      "# HELP conn_drain_receiver_expired_reports_total Authentic reports of an episode older than the ledger TTL, ignored.",
      "# TYPE conn_drain_receiver_expired_reports_total counter",
      `conn_drain_receiver_expired_reports_total ${this.expired}`,
    );
    return `${out.join("\n")}\n`;
  }
}
