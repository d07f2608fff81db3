// Figure 5a: memory as open streams and tracked hosts grow, conn-drain next to the no-op floor.
// Linear memory is what the worker VMs' WebAssembly.Memory buffers hold (it only ever grows:
// the high-water mark); shared data is what gw.sharedData.bytes() counts (keys + values).
import type { Gateway, Stream } from "../host/index.js";
import {
  BENCH_MAX_HOSTS,
  benchGateway,
  hostName,
  openPlayer,
  overflowGauge,
  workerMemory,
} from "./driver.js";
import { note } from "./util.js";

export const SCALE_WORKERS = 8;
export const STREAM_STEPS = [1000, 10000, 100000] as const;
/** Streams in the stream steps are spread over this many hosts (players per game server). */
export const SCALE_HOSTS = 1000;
/** The plugin's own ceiling for maxHosts (MAX_HOSTS_LIMIT in assembly/plugin/config.ts). */
export const MAX_HOSTS_LIMIT = 100000;

export interface MemoryRow {
  label: string;
  streams: number;
  hosts: number;
  maxHosts: number;
  /** Sum over worker VMs, and the largest single VM. */
  pluginLinear: number;
  pluginLargest: number;
  noopLinear: number;
  sharedBytes: number;
  sharedKeys: number;
  /** Streams the plugin could not give a slot (admin view), for the full-table rows. */
  overflow: number;
  /** Wall time to open this row's streams through conn-drain, ns per stream. */
  openNsPerStream: number;
}

export interface ScaleResult {
  workers: number;
  rows: MemoryRow[];
}

function open(gw: Gateway, into: Stream[], upTo: number, hostCount: number): number {
  const from = into.length;
  const t0 = process.hrtime.bigint();
  for (let i = from; i < upTo; i++) {
    into.push(openPlayer(gw, i % gw.workerCount, hostName(i % hostCount)));
  }
  const n = upTo - from;
  return n > 0 ? Number(process.hrtime.bigint() - t0) / n : 0;
}

function row(
  label: string,
  plugin: Gateway,
  noop: Gateway,
  streams: number,
  hosts: number,
  maxHosts: number,
  openNs: number,
): MemoryRow {
  const p = workerMemory(plugin);
  return {
    label,
    streams,
    hosts,
    maxHosts,
    pluginLinear: p.total,
    pluginLargest: p.largest,
    noopLinear: workerMemory(noop).total,
    sharedBytes: plugin.sharedData.bytes(),
    sharedKeys: plugin.sharedData.keys().length,
    overflow: overflowGauge(plugin),
    openNsPerStream: openNs,
  };
}

/** Streams over SCALE_HOSTS hosts, grown 0 -> 1k -> 10k -> 100k, then all closed. */
async function streamSteps(rows: MemoryRow[]): Promise<void> {
  const workers = SCALE_WORKERS;
  const plugin = await benchGateway("conn-drain", { workers, maxHosts: BENCH_MAX_HOSTS });
  const noop = await benchGateway("no-op", { workers });
  rows.push(row("configured, no stream", plugin, noop, 0, 0, BENCH_MAX_HOSTS, 0));
  const ps: Stream[] = [];
  const ns: Stream[] = [];
  for (const streams of STREAM_STEPS) {
    note(`scale: ${streams} open streams over ${SCALE_HOSTS} hosts`);
    const t = open(plugin, ps, streams, SCALE_HOSTS);
    open(noop, ns, streams, SCALE_HOSTS);
    rows.push(
      row(
        `${streams.toLocaleString("en-US")} open streams`,
        plugin,
        noop,
        streams,
        SCALE_HOSTS,
        BENCH_MAX_HOSTS,
        t,
      ),
    );
  }
  for (const s of ps) s.close();
  for (const s of ns) s.close();
  rows.push(row("all closed again", plugin, noop, 0, SCALE_HOSTS, BENCH_MAX_HOSTS, 0));
}

/** A table filled to maxHosts: one stream per host, every slot taken. */
async function fullTable(rows: MemoryRow[], maxHosts: number): Promise<void> {
  const workers = SCALE_WORKERS;
  note(`scale: table full at maxHosts ${maxHosts}`);
  const plugin = await benchGateway("conn-drain", { workers, maxHosts });
  const noop = await benchGateway("no-op", { workers });
  rows.push(
    row(
      `maxHosts ${maxHosts.toLocaleString("en-US")}, configured`,
      plugin,
      noop,
      0,
      0,
      maxHosts,
      0,
    ),
  );
  const ps: Stream[] = [];
  const ns: Stream[] = [];
  const t = open(plugin, ps, maxHosts, maxHosts);
  open(noop, ns, maxHosts, maxHosts);
  rows.push(
    row(
      `maxHosts ${maxHosts.toLocaleString("en-US")}, full`,
      plugin,
      noop,
      maxHosts,
      maxHosts,
      maxHosts,
      t,
    ),
  );
  for (const s of ps) s.close();
  for (const s of ns) s.close();
}

/** Only the fixed cost: every slot and index key created at configure, no stream. */
async function configuredOnly(rows: MemoryRow[], maxHosts: number): Promise<void> {
  note(`scale: configured at maxHosts ${maxHosts}`);
  const plugin = await benchGateway("conn-drain", { workers: SCALE_WORKERS, maxHosts });
  const noop = await benchGateway("no-op", { workers: SCALE_WORKERS });
  rows.push(
    row(
      `maxHosts ${maxHosts.toLocaleString("en-US")}, configured`,
      plugin,
      noop,
      0,
      0,
      maxHosts,
      0,
    ),
  );
}

export async function runScale(): Promise<ScaleResult> {
  const rows: MemoryRow[] = [];
  await streamSteps(rows);
  await fullTable(rows, BENCH_MAX_HOSTS);
  await configuredOnly(rows, MAX_HOSTS_LIMIT);
  return { workers: SCALE_WORKERS, rows };
}
