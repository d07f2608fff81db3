// Figure 4: drain detection latency. conn-drain: wall time of the close() that ends the last
// stream of a draining host (on_log, on_done, on_delete through the plugin), with the check that
// the webhook was dispatched inside that very call at the same virtual instant; beside it the
// same close for a host that is not draining, and the no-op floor. The seed's approach (a
// Prometheus scrape feeding an OpenKruiseGame probe) is computed from documented defaults.
import type { Gateway, HttpCall, Stream } from "../host/index.js";
import { adminCall, benchGateway, openPlayer } from "./driver.js";
import { collectGarbage, note, type Summary, summarize, timeNs } from "./util.js";

export const DRAIN_WORKERS = 8;
export const WEBHOOK_CLUSTER = "outbound|8080||drain-hook.ops.svc.cluster.local";
/** Streams per host; the last one closed is the one timed. */
const STREAMS_PER_HOST = 3;

export const webhookConfig = {
  webhook: {
    cluster: WEBHOOK_CLUSTER,
    authority: "drain-hook.ops.svc.cluster.local",
    path: "/drained",
    secret: "bench-hook-secret-0123456789",
    timeoutMs: 2000,
    backoffMs: 1000,
    maxAttempts: 5,
  },
};

/** Documented defaults the seed's detection path waits on, with where each is stated. */
export const SEED_DEFAULTS = {
  scrapeIntervalS: 60,
  scrapeSource:
    "Prometheus configuration reference, `global.scrape_interval` `| default = 1m ]` " +
    "(https://prometheus.io/docs/prometheus/latest/configuration/configuration/; " +
    "prometheus/prometheus docs/configuration/configuration.md)",
  probePeriodS: 10,
  probeSource:
    "Kubernetes probe `periodSeconds`: “Default to 10 seconds. The minimum value is 1.” " +
    "(https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/#configure-probes); " +
    "OpenKruiseGame's ServiceQuality embeds `corev1.Probe` inline, so the same default applies " +
    "(https://openkruise.io/kruisegame/user-manuals/service-qualities)",
};

export interface SeedLatency {
  worstS: number;
  meanS: number;
}

/**
 * A drain seen through a scrape then a probe: in the worst case the last stream ends just after
 * a scrape and the probe runs just before the next scrape lands, so one full interval of each;
 * with independent, uniformly placed phases the expected wait is half of each.
 * Probe success/failure thresholds (default 1/3) and query time are left out: they only add.
 */
export function seedLatency(): SeedLatency {
  const { scrapeIntervalS: s, probePeriodS: p } = SEED_DEFAULTS;
  return { worstS: s + p, meanS: s / 2 + p / 2 };
}

export interface DrainResult {
  workers: number;
  trials: number;
  /** close() of the last stream of a draining host, ns. */
  draining: Summary;
  /** close() of the last stream of a host that is not draining, ns (same plugin). */
  idle: Summary;
  /** close() of the last stream through the no-op plugin, ns. */
  noop: Summary;
  /** Trials whose webhook went out inside the timed close, at the close's virtual instant. */
  sameCallback: number;
  seed: SeedLatency;
}

/** The webhook calls the gateway lists (pending ones, until they are answered). */
export function webhookCalls(gw: Gateway): HttpCall[] {
  return gw.httpCalls().filter((c) => c.cluster === WEBHOOK_CLUSTER);
}

export function webhookCount(gw: Gateway): number {
  return webhookCalls(gw).length;
}

/** Opens the host's streams, optionally starts its drain, closes all but one. */
export function prepare(gw: Gateway, host: string, k: number, drain: boolean): Stream {
  const open: Stream[] = [];
  for (let s = 0; s < STREAMS_PER_HOST; s++) {
    open.push(openPlayer(gw, (k + s) % gw.workerCount, host));
  }
  if (drain) {
    const r = adminCall(gw, "POST", `/.conn-drain/drain?host=${host}`);
    if (r.status !== 202 && r.status !== 200) {
      throw new Error(`starting a drain answered ${r.status}: ${r.body.slice(0, 200)}`);
    }
  }
  for (let s = 0; s < STREAMS_PER_HOST - 1; s++) open[s]?.close();
  const last = open[STREAMS_PER_HOST - 1];
  if (!last) throw new Error("no stream left to close");
  return last;
}

export async function runDrain(trials = 200, warmup = 20): Promise<DrainResult> {
  note(`drain: ${trials} drains over ${DRAIN_WORKERS} VMs`);
  const options = {
    workers: DRAIN_WORKERS,
    config: webhookConfig,
    clusters: [WEBHOOK_CLUSTER],
  };
  const gw = await benchGateway("conn-drain", options);
  const floor = await benchGateway("no-op", options);
  const draining: number[] = [];
  const idle: number[] = [];
  const noop: number[] = [];
  let sameCallback = 0;
  for (let k = 0; k < warmup + trials; k++) {
    const host = `drain-${k}.game.example.com`;
    const last = prepare(gw, host, k, true);
    const before = webhookCount(gw);
    collectGarbage();
    const t = timeNs(() => last.close());
    const hooks = webhookCalls(gw);
    const sent = hooks.length === before + 1 && hooks[hooks.length - 1]?.sentAt === gw.now();
    const calm = prepare(gw, `calm-${k}.game.example.com`, k, false);
    collectGarbage();
    const ti = timeNs(() => calm.close());
    const base = prepare(floor, host, k, false);
    collectGarbage();
    const tn = timeNs(() => base.close());
    // Answer the webhook so nothing stays pending between trials.
    for (const call of hooks) gw.respondHttpCall(call, { status: 200 });
    if (k < warmup) continue;
    draining.push(t);
    idle.push(ti);
    noop.push(tn);
    if (sent) sameCallback++;
  }
  return {
    workers: DRAIN_WORKERS,
    trials,
    draining: summarize(draining),
    idle: summarize(idle),
    noop: summarize(noop),
    sameCallback,
    seed: seedLatency(),
  };
}
