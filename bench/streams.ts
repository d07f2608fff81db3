// Figures 1, 2 and 5b: what one stream costs through conn-drain next to the no-op floor, how
// many host calls it makes, and whether either moves as the number of tracked hosts grows.
//
// For each worker count, one conn-drain gateway and one no-op gateway are built side by side.
// Tracked hosts are grown in steps (1, 100, 1,000, 10,000); each host holds one open
// "background" stream, so the table really holds that many hosts and the VMs hold that many
// live contexts. At each step both gateways run the same open+close cycles (host j mod N, worker
// j mod W), in interleaved batches with a forced GC before each batch.
import type { Gateway, Stream } from "../host/index.js";
import {
  benchGateway,
  cycleHosts,
  hostName,
  type Kind,
  openPlayer,
  playerCycle,
} from "./driver.js";
import { collectGarbage, note, type Summary, summarize, timeNs } from "./util.js";

export const HOST_STEPS = [1, 100, 1000, 10000] as const;
export const WORKER_COUNTS = [1, 8] as const;

export interface StreamsPlan {
  warmup: number;
  batch: number;
  runs: number;
  /** Streams whose host calls are counted, after the timed runs. */
  counted: number;
  /** Brand-new hosts opened once each to count the first-stream (claim) path. */
  coldHosts: number;
}

export const DEFAULT_PLAN: StreamsPlan = {
  warmup: 3000,
  batch: 5000,
  runs: 7,
  counted: 2000,
  coldHosts: 200,
};

export interface StreamCell {
  workers: number;
  hosts: number;
  /** ns per stream, one value per timed batch. */
  plugin: Summary;
  noop: Summary;
  /** plugin / noop per interleaved pair of batches. */
  pairedRatio: Summary;
}

export type CallCounts = Record<string, number>;

export interface HostCallCell {
  workers: number;
  hosts: number;
  /** Per stream, steady state (the host is already in the VM's slot cache). */
  plugin: CallCounts;
  noop: CallCounts;
}

export interface StreamsResult {
  plan: StreamsPlan;
  cells: StreamCell[];
  calls: HostCallCell[];
  /** Per stream, for a host no VM has seen: index lookup, slot claim, publish, gauge grant. */
  cold: { workers: number; counts: CallCounts }[];
}

class Side {
  readonly background: Stream[] = [];
  private next = 0;

  constructor(
    readonly kind: Kind,
    readonly gw: Gateway,
  ) {}

  grow(hosts: number): void {
    const workers = this.gw.workerCount;
    for (let i = this.background.length; i < hosts; i++) {
      this.background.push(openPlayer(this.gw, i % workers, hostName(i)));
    }
  }

  cycles(count: number, hosts: number): void {
    this.next = cycleHosts(this.gw, this.next, count, hosts);
  }

  /** One timed batch, in ns per stream. */
  timed(count: number, hosts: number): number {
    collectGarbage();
    return timeNs(() => this.cycles(count, hosts)) / count;
  }

  counted(count: number, hosts: number): CallCounts {
    this.gw.resetHostCallCounts();
    this.cycles(count, hosts);
    return perStream(this.gw.hostCallCounts(), count);
  }
}

function perStream(counts: Map<string, number>, streams: number): CallCounts {
  const out: CallCounts = {};
  for (const [name, n] of [...counts].sort(([a], [b]) => a.localeCompare(b))) {
    out[name] = n / streams;
  }
  return out;
}

function measureCell(plugin: Side, noop: Side, hosts: number, plan: StreamsPlan): StreamCell {
  plugin.cycles(plan.warmup, hosts);
  noop.cycles(plan.warmup, hosts);
  const p: number[] = [];
  const n: number[] = [];
  const r: number[] = [];
  for (let run = 0; run < plan.runs; run++) {
    // Alternate which side goes first, so drift (thermal, JIT, heap growth) hits both alike.
    let a: number;
    let b: number;
    if (run % 2 === 0) {
      a = plugin.timed(plan.batch, hosts);
      b = noop.timed(plan.batch, hosts);
    } else {
      b = noop.timed(plan.batch, hosts);
      a = plugin.timed(plan.batch, hosts);
    }
    p.push(a);
    n.push(b);
    r.push(a / b);
  }
  return {
    workers: plugin.gw.workerCount,
    hosts,
    plugin: summarize(p),
    noop: summarize(n),
    pairedRatio: summarize(r),
  };
}

/** The first stream of a host nobody has seen, then its close; counted per stream. */
function coldCounts(side: Side, hosts: number, base: number): CallCounts {
  const workers = side.gw.workerCount;
  side.gw.resetHostCallCounts();
  for (let i = 0; i < hosts; i++) {
    playerCycle(side.gw, i % workers, hostName(base + i));
  }
  return perStream(side.gw.hostCallCounts(), hosts);
}

export async function runStreams(plan: StreamsPlan = DEFAULT_PLAN): Promise<StreamsResult> {
  const result: StreamsResult = { plan, cells: [], calls: [], cold: [] };
  for (const workers of WORKER_COUNTS) {
    const plugin = new Side("conn-drain", await benchGateway("conn-drain", { workers }));
    const noop = new Side("no-op", await benchGateway("no-op", { workers }));
    for (const hosts of HOST_STEPS) {
      note(`streams: ${workers} VM(s), ${hosts} tracked host(s)`);
      plugin.grow(hosts);
      noop.grow(hosts);
      result.cells.push(measureCell(plugin, noop, hosts, plan));
      result.calls.push({
        workers,
        hosts,
        plugin: plugin.counted(plan.counted, hosts),
        noop: noop.counted(plan.counted, hosts),
      });
    }
    // Hosts far past the background range, so each is new to every VM and to the index.
    result.cold.push({ workers, counts: coldCounts(plugin, plan.coldHosts, 1_000_000) });
    for (const s of [...plugin.background, ...noop.background]) s.close();
  }
  return result;
}
