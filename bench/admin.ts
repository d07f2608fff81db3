// Figure 3: time to answer GET on the admin path (JSON and Prometheus) as tracked hosts grow,
// over 8 worker VMs, from request headers to the local reply, measured in the host. The floor
// is the same request through the no-op plugin (which passes it on: dispatch only).
import type { Gateway, Stream } from "../host/index.js";
import { adminGet, BENCH_MAX_HOSTS, benchGateway, hostName, openPlayer } from "./driver.js";
import { collectGarbage, note, type Summary, summarize, timeNs } from "./util.js";

export const ADMIN_WORKERS = 8;
export const ADMIN_HOST_STEPS = [10, 1000, 10000] as const;
/** The plugin's default maxHosts, for the row that shows what the slot scan costs. */
export const DEFAULT_MAX_HOSTS = 1024;

export interface AdminPlan {
  /** Warm-up GETs per format after the checked first GETs, when those were quick (< 100 ms). */
  warmup: number;
  /** Timed GETs per format, at most... */
  runs: number;
  /** ...and at least, whatever the budget says. */
  minRuns: number;
  /** Wall-time budget for one cell's timed GETs, ns. */
  budgetNs: number;
}

export const DEFAULT_ADMIN_PLAN: AdminPlan = {
  warmup: 3,
  runs: 11,
  minRuns: 2,
  budgetNs: 15e9,
};

export interface AdminCell {
  hosts: number;
  maxHosts: number;
  json: Summary;
  prometheus: Summary;
  noop: Summary;
  jsonBytes: number;
  prometheusBytes: number;
  /** Hosts the answer lists (the rest of the streams went to overflow). */
  listed: number;
  overflow: number;
  /** Host calls one JSON GET makes, by import name. */
  calls: Record<string, number>;
}

export interface AdminResult {
  plan: AdminPlan;
  workers: number;
  cells: AdminCell[];
}

function populate(gw: Gateway, open: Stream[], hosts: number): void {
  for (let i = open.length; i < hosts; i++) {
    open.push(openPlayer(gw, i % gw.workerCount, hostName(i)));
  }
}

function timedGet(gw: Gateway, format: "json" | "prometheus"): number {
  collectGarbage();
  return timeNs(() => {
    adminGet(gw, format);
  });
}

interface Checked {
  jsonBytes: number;
  prometheusBytes: number;
  listed: number;
  overflow: number;
  /** Wall time of the two checked GETs, ns. */
  jsonNs: number;
  prometheusNs: number;
  calls: Record<string, number>;
}

/**
 * The first JSON and Prometheus GETs, timed like the others, with their host calls counted and
 * their answers checked against the streams (listed hosts + overflow), so a fast wrong answer
 * cannot pass as a figure; how many hosts got a slot is reported, not assumed.
 */
function checkedGets(gw: Gateway, hosts: number): Checked {
  collectGarbage();
  gw.resetHostCallCounts();
  let json = { status: 0, body: "" };
  const jsonNs = timeNs(() => {
    json = adminGet(gw, "json");
  });
  const calls = Object.fromEntries([...gw.hostCallCounts()].sort(([a], [b]) => a.localeCompare(b)));
  collectGarbage();
  let prom = { status: 0, body: "" };
  const prometheusNs = timeNs(() => {
    prom = adminGet(gw, "prometheus");
  });
  if (json.status !== 200 || prom.status !== 200) {
    throw new Error(`admin answered ${json.status}/${prom.status}: ${json.body.slice(0, 200)}`);
  }
  const doc = JSON.parse(json.body) as { hosts: unknown[]; totalActive: number; overflow: number };
  if (doc.totalActive !== hosts || doc.hosts.length + doc.overflow !== hosts) {
    throw new Error(
      `admin lists ${doc.hosts.length} hosts, ${doc.totalActive} active, overflow ` +
        `${doc.overflow}; expected ${hosts} streams in all`,
    );
  }
  return {
    jsonBytes: Buffer.byteLength(json.body),
    prometheusBytes: Buffer.byteLength(prom.body),
    listed: doc.hosts.length,
    overflow: doc.overflow,
    jsonNs,
    prometheusNs,
    calls,
  };
}

function measure(
  gw: Gateway,
  floor: Gateway,
  hosts: number,
  plan: AdminPlan,
  maxHosts: number,
): AdminCell {
  const first = checkedGets(gw, hosts);
  const json: number[] = [];
  const prom: number[] = [];
  const noop: number[] = [];
  if (first.jsonNs + first.prometheusNs < 100e6) {
    // Quick enough to warm up: the checked GETs and a few more are left out of the figures.
    for (let i = 0; i < plan.warmup; i++) {
      adminGet(gw, "json");
      adminGet(gw, "prometheus");
      adminGet(floor, "json");
    }
  } else {
    // Seconds per GET: no warm-up to be had, the checked GETs are the first samples.
    json.push(first.jsonNs);
    prom.push(first.prometheusNs);
    noop.push(timedGet(floor, "json"));
  }
  const t0 = process.hrtime.bigint();
  const spent = () => Number(process.hrtime.bigint() - t0);
  while (json.length < plan.runs && (json.length < plan.minRuns || spent() < plan.budgetNs)) {
    if (json.length % 2 === 0) {
      json.push(timedGet(gw, "json"));
      prom.push(timedGet(gw, "prometheus"));
    } else {
      prom.push(timedGet(gw, "prometheus"));
      json.push(timedGet(gw, "json"));
    }
    noop.push(timedGet(floor, "json"));
  }
  return {
    hosts,
    maxHosts,
    json: summarize(json),
    prometheus: summarize(prom),
    noop: summarize(noop),
    jsonBytes: first.jsonBytes,
    prometheusBytes: first.prometheusBytes,
    listed: first.listed,
    overflow: first.overflow,
    calls: first.calls,
  };
}

export async function runAdmin(plan: AdminPlan = DEFAULT_ADMIN_PLAN): Promise<AdminResult> {
  const cells: AdminCell[] = [];
  const workers = ADMIN_WORKERS;
  const floor = await benchGateway("no-op", { workers });
  const gw = await benchGateway("conn-drain", { workers, maxHosts: BENCH_MAX_HOSTS });
  const open: Stream[] = [];
  for (const hosts of ADMIN_HOST_STEPS) {
    note(`admin: ${hosts} hosts over ${workers} VMs, maxHosts ${BENCH_MAX_HOSTS}`);
    populate(gw, open, hosts);
    cells.push(measure(gw, floor, hosts, plan, BENCH_MAX_HOSTS));
  }
  for (const s of open) s.close();
  // The same 10 hosts with the default maxHosts: the answer scans every slot up to capacity.
  note(`admin: 10 hosts over ${workers} VMs, maxHosts ${DEFAULT_MAX_HOSTS}`);
  const small = await benchGateway("conn-drain", { workers, maxHosts: DEFAULT_MAX_HOSTS });
  const few: Stream[] = [];
  populate(small, few, 10);
  cells.push(measure(small, floor, 10, plan, DEFAULT_MAX_HOSTS));
  for (const s of few) s.close();
  return { plan, workers, cells };
}
