// Figure 7: what the module itself executes, in numbers that do not depend on the machine, the
// JIT or the load: Wasm instructions executed and allocations (entries into the module's
// allocator) per stream, per admin GET and per drain, for the no-op plugin, today's module
// (commit 845b441) and the current build side by side. Each module is instrumented
// (bench/instrument.ts) and driven through the project's host exactly like the timed figures.
//
// The host keeps each VM's WebAssembly.Instance to itself, so while a counted gateway is being
// created the instances of its module are collected through a subclass of WebAssembly.Instance
// installed for that moment (nothing in host/ changes); a reading is the sum of the counters
// of every VM of that gateway (canary, base and workers), so work on any VM is counted.
import type { Gateway, Stream } from "../host/index.js";
import { ADMIN_HOST_STEPS, ADMIN_WORKERS } from "./admin.js";
import { BUILD_LABELS, type BuildLabel, type CountedBuild } from "./builds.js";
import {
  DRAIN_WORKERS,
  prepare,
  WEBHOOK_CLUSTER,
  webhookCalls,
  webhookConfig,
  webhookCount,
} from "./drain.js";
import {
  adminGet,
  BENCH_MAX_HOSTS,
  type BenchGatewayOptions,
  cycleHosts,
  gatewayFor,
  hostName,
  openPlayer,
  playerCycle,
} from "./driver.js";
import {
  ALLOCATIONS_EXPORT,
  INSTRUCTIONS_EXPORT,
  type InstrumentStats,
  instrument,
} from "./instrument.js";
import { selfCheck } from "./probe.js";
import { WORKER_COUNTS } from "./streams.js";
import { cellLabel, note, quantity } from "./util.js";
import { callGraph, nameSectionNames } from "./wasm-inspect.js";

/**
 * Where an allocation is counted, first match wins: the TLSF allocator's entry that every GC
 * object (`__new`), every buffer growth (`__renew` -> `__new`) and every buffer the host asks
 * for (`proxy_on_memory_allocate`) goes through; the lower or other runtimes' entries when a
 * build has no such function.
 */
export const ALLOCATOR_NAMES = [
  "~lib/rt/tlsf/__alloc",
  "~lib/rt/tlsf/allocateBlock",
  "~lib/rt/stub/__alloc",
  "~lib/rt/itcms/__new",
  "~lib/rt/stub/__new",
] as const;

/** Functions that may call allocateBlock without being an allocation entry of their own. */
const ALLOCATE_BLOCK_CALLERS = new Set([
  "~lib/rt/tlsf/__alloc",
  "~lib/rt/tlsf/__realloc",
  "~lib/rt/tlsf/reallocateBlock",
  "~lib/rt/tlsf/moveBlock",
]);

export interface Counts {
  instructions: number;
  allocations: number;
}

/** Host counts of the steady rows: the ends of the timed figure's steps (bench/streams.ts). */
export const HOST_STEPS = [1, 10000] as const;

export interface InstructionsPlan {
  /** Streams counted per steady cell (each an open + close), after one warm-up pass. */
  streams: number;
  /** Warm-up streams per steady cell, at least one per tracked host. */
  warmup: number;
  /** Brand-new hosts opened once each for the first-stream row. */
  coldHosts: number;
  /** Drains counted (after warm-up ones). */
  drains: number;
  drainWarmup: number;
}

export const DEFAULT_INSTRUCTIONS_PLAN: InstructionsPlan = {
  streams: 10000,
  warmup: 1000,
  coldHosts: 200,
  drains: 20,
  drainWarmup: 5,
};

export interface CountRow {
  id: string;
  group: "streams" | "admin" | "drain";
  label: string;
  /** Per stream / per GET / per drain, by build. */
  values: Record<BuildLabel, Counts>;
}

export interface BuildReport {
  label: BuildLabel;
  source: string;
  sha256: string;
  bytes: number;
  allocator: string;
  stats: InstrumentStats;
  /** Counts of the identity workload through the instrumented release and named copies. */
  release: Counts;
  named: Counts;
}

export interface InstructionsResult {
  plan: InstructionsPlan;
  probes: number;
  builds: BuildReport[];
  rows: CountRow[];
}

// ---- collecting the instances of a gateway ---------------------------------------------------

const OriginalInstance = WebAssembly.Instance;
let sink: { module: WebAssembly.Module; instances: WebAssembly.Instance[] } | undefined;

class CollectingInstance extends OriginalInstance {
  constructor(module: WebAssembly.Module, imports?: WebAssembly.Imports) {
    super(module, imports);
    if (sink?.module === module) sink.instances.push(this);
  }
}

/** A gateway on an instrumented module, and a reading of its counters over all its VMs. */
interface Metered {
  gw: Gateway;
  read(): Counts;
}

async function metered(module: WebAssembly.Module, opts: BenchGatewayOptions): Promise<Metered> {
  const instances: WebAssembly.Instance[] = [];
  sink = { module, instances };
  const ns = WebAssembly as unknown as { Instance: typeof WebAssembly.Instance };
  ns.Instance = CollectingInstance;
  let gw: Gateway;
  try {
    gw = await gatewayFor(module, opts);
  } finally {
    ns.Instance = OriginalInstance;
    sink = undefined;
  }
  if (instances.length === 0) throw new Error("no instance of the counted module was created");
  return {
    gw,
    read() {
      let i = 0n;
      let a = 0n;
      for (const inst of instances) {
        i += (inst.exports[INSTRUCTIONS_EXPORT] as WebAssembly.Global).value as bigint;
        a += (inst.exports[ALLOCATIONS_EXPORT] as WebAssembly.Global).value as bigint;
      }
      return { instructions: Number(i), allocations: Number(a) };
    },
  };
}

/** Counts of `fn`, divided by `per`. */
function count(m: Metered, per: number, fn: () => void): Counts {
  const before = m.read();
  fn();
  const after = m.read();
  return {
    instructions: (after.instructions - before.instructions) / per,
    allocations: (after.allocations - before.allocations) / per,
  };
}

// ---- the module under count ------------------------------------------------------------------

function allocatorOf(build: CountedBuild): { index: number; name: string } {
  const names = nameSectionNames(build.named);
  for (const name of ALLOCATOR_NAMES) {
    const index = names.indexOf(name);
    if (index < 0) continue;
    if (name === "~lib/rt/tlsf/__alloc") {
      // Entries into __alloc are every allocation only if nothing else reaches allocateBlock.
      const block = names.indexOf("~lib/rt/tlsf/allocateBlock");
      const graph = callGraph(build.release);
      const others = [...graph]
        .filter(([, callees]) => callees.has(block))
        .map(([caller]) => names[caller] ?? String(caller))
        .filter((n) => !ALLOCATE_BLOCK_CALLERS.has(n));
      if (block >= 0 && others.length > 0) {
        throw new Error(
          `${build.label}: allocateBlock is also called from ${others.join(", ")} (__alloc ` +
            "inlined?); entries into __alloc would miss allocations",
        );
      }
    }
    return { index, name };
  }
  throw new Error(`${build.label}: none of ${ALLOCATOR_NAMES.join(", ")} in its names section`);
}

interface Prepared {
  build: CountedBuild;
  allocator: string;
  stats: InstrumentStats;
  module: WebAssembly.Module;
  namedModule: WebAssembly.Module;
}

function prepareBuild(build: CountedBuild): Prepared {
  const alloc = allocatorOf(build);
  const r = instrument(build.release, { allocators: [alloc.index] });
  const n = instrument(build.named, { allocators: [alloc.index] });
  return {
    build,
    allocator: alloc.name,
    stats: r.stats,
    module: new WebAssembly.Module(r.bytes),
    namedModule: new WebAssembly.Module(n.bytes),
  };
}

// ---- workloads -------------------------------------------------------------------------------

const isPlugin = (label: BuildLabel) => label !== "no-op";

/** Steady open + close at each host count, then the first stream of brand-new hosts. */
async function streams(
  module: WebAssembly.Module,
  workers: number,
  plan: InstructionsPlan,
  out: (id: string, label: string, c: Counts) => void,
): Promise<void> {
  const m = await metered(module, { workers });
  const background: Stream[] = [];
  let next = 0;
  // Host j mod N on worker j mod W: steady state, each stream finds its host already placed.
  const cycles = (n: number, hosts: number) => {
    next = cycleHosts(m.gw, next, n, hosts);
  };
  for (const hosts of HOST_STEPS) {
    for (let i = background.length; i < hosts; i++) {
      background.push(openPlayer(m.gw, i % workers, hostName(i)));
    }
    cycles(Math.max(plan.warmup, hosts), hosts);
    const c = count(m, plan.streams, () => cycles(plan.streams, hosts));
    out(`steady-${workers}-${hosts}`, `open + close, steady, ${cellLabel(workers, hosts)}`, c);
  }
  const cold = count(m, plan.coldHosts, () => {
    for (let i = 0; i < plan.coldHosts; i++) {
      playerCycle(m.gw, i % workers, hostName(1_000_000 + i));
    }
  });
  out(`first-${workers}`, `first stream of a new host, ${quantity(workers, "VM")}`, cold);
  for (const s of background) s.close();
}

/** Players per host in the players workload (each opens and closes in turn). */
const PLAYERS_PER_HOST = 50;
export const PLAYERS_WORKERS = 8;
const PLAYERS_HOSTS = 10;

/**
 * Steady open + close where every stream carries a player id, twice: without `players` (ids
 * ignored) and with `players.header`, where the current build keeps each host's roster (one more
 * read and write per open and per close): the difference between the two rows of the current
 * build is what the roster costs. A build older than the players section refuses that config and
 * runs the same traffic without it (ids ignored), which is what its figure then means.
 */
async function players(
  module: WebAssembly.Module,
  plan: InstructionsPlan,
  out: (id: string, label: string, c: Counts) => void,
): Promise<void> {
  const workers = PLAYERS_WORKERS;
  const shape = `${workers} VMs, ${PLAYERS_HOSTS} hosts x ${PLAYERS_PER_HOST} players online`;
  const off = await metered(module, { workers });
  out(
    "players-off",
    `open + close with player ids, players off, ${shape}`,
    playerCycles(off, plan),
  );
  let on: Metered;
  try {
    on = await metered(module, { workers, config: { players: { header: "x-player-id" } } });
  } catch {
    on = await metered(module, { workers });
  }
  out(
    "players-on",
    `open + close with player ids, players.header, ${shape}`,
    playerCycles(on, plan),
  );
}

/** Every host's players online in the background; streams cycle as their second tabs. */
function playerCycles(m: Metered, plan: InstructionsPlan): Counts {
  const workers = PLAYERS_WORKERS;
  const everyone = PLAYERS_HOSTS * PLAYERS_PER_HOST;
  const idOf = (j: number) => ({ "x-player-id": `player-${j % everyone}` });
  const background: Stream[] = [];
  for (let i = 0; i < everyone; i++) {
    background.push(openPlayer(m.gw, i % workers, hostName(i % PLAYERS_HOSTS), idOf(i)));
  }
  let next = 0;
  const cycles = (n: number) => {
    next = cycleHosts(m.gw, next, n, PLAYERS_HOSTS, idOf);
  };
  cycles(plan.warmup);
  const c = count(m, plan.streams, () => cycles(plan.streams));
  for (const s of background) s.close();
  return c;
}

async function admin(
  label: BuildLabel,
  module: WebAssembly.Module,
  out: (id: string, label: string, c: Counts) => void,
): Promise<void> {
  const m = await metered(module, { workers: ADMIN_WORKERS, maxHosts: BENCH_MAX_HOSTS });
  const open: Stream[] = [];
  for (const hosts of ADMIN_HOST_STEPS) {
    for (let i = open.length; i < hosts; i++) {
      open.push(openPlayer(m.gw, i % ADMIN_WORKERS, hostName(i)));
    }
    for (const format of ["json", "prometheus"] as const) {
      adminGet(m.gw, format);
      let status = 0;
      const c = count(m, 1, () => {
        status = adminGet(m.gw, format).status;
      });
      if (isPlugin(label) && status !== 200) {
        throw new Error(`${label}: admin GET (${format}) at ${hosts} hosts answered ${status}`);
      }
      out(
        `admin-${format}-${hosts}`,
        `admin GET ${format === "json" ? "JSON" : "Prometheus"}, ${hosts.toLocaleString("en-US")} hosts, ${ADMIN_WORKERS} VMs, maxHosts ${BENCH_MAX_HOSTS.toLocaleString("en-US")}`,
        c,
      );
    }
  }
  for (const s of open) s.close();
}

async function drain(
  label: BuildLabel,
  module: WebAssembly.Module,
  plan: InstructionsPlan,
  out: (id: string, label: string, c: Counts) => void,
): Promise<void> {
  const m = await metered(module, {
    workers: DRAIN_WORKERS,
    config: webhookConfig,
    clusters: [WEBHOOK_CLUSTER],
  });
  const total: Counts = { instructions: 0, allocations: 0 };
  for (let k = 0; k < plan.drainWarmup + plan.drains; k++) {
    const last = prepare(m.gw, `drain-${k}.game.example.com`, k, isPlugin(label));
    const before = webhookCount(m.gw);
    const c = count(m, 1, () => last.close());
    if (isPlugin(label) && webhookCount(m.gw) !== before + 1) {
      throw new Error(`${label}: the last close of a draining host sent no webhook`);
    }
    // Answer the webhook (pending calls only are listed) so nothing is left between drains.
    for (const call of webhookCalls(m.gw)) {
      m.gw.respondHttpCall(call, { status: 200 });
    }
    if (k < plan.drainWarmup) continue;
    total.instructions += c.instructions / plan.drains;
    total.allocations += c.allocations / plan.drains;
  }
  out(
    "drain",
    `last close of a draining host, webhook built, signed and sent, ${DRAIN_WORKERS} VMs (no-op: last close)`,
    total,
  );
}

/** A short workload run through both the release and the named copy: the counts must match. */
async function identity(module: WebAssembly.Module, label: BuildLabel): Promise<Counts> {
  const m = await metered(module, { workers: 2 });
  for (let i = 0; i < 10; i++) openPlayer(m.gw, i % 2, hostName(i));
  return count(m, 1, () => {
    for (let j = 0; j < 200; j++) playerCycle(m.gw, j % 2, hostName(j % 10));
    for (let j = 0; j < 20; j++) playerCycle(m.gw, j % 2, hostName(500 + j));
    const r = adminGet(m.gw, "json");
    if (isPlugin(label) && r.status !== 200)
      throw new Error(`${label}: admin answered ${r.status}`);
  });
}

export async function runInstructions(
  builds: CountedBuild[],
  plan: InstructionsPlan = DEFAULT_INSTRUCTIONS_PLAN,
): Promise<InstructionsResult> {
  const probes = selfCheck();
  note(`instructions: counter self-check passed (${probes} hand-counted probes)`);
  const rows = new Map<string, CountRow>();
  const reports: BuildReport[] = [];
  const group = (id: string): CountRow["group"] =>
    id.startsWith("admin") ? "admin" : id === "drain" ? "drain" : "streams";
  for (const build of builds) {
    const p = prepareBuild(build);
    const out = (id: string, label: string, c: Counts) => {
      let row = rows.get(id);
      if (!row) {
        row = { id, group: group(id), label, values: {} as Record<BuildLabel, Counts> };
        rows.set(id, row);
      }
      row.values[build.label] = c;
    };
    note(`instructions: ${build.label}: identity check, release vs named copy`);
    const release = await identity(p.module, build.label);
    const named = await identity(p.namedModule, build.label);
    if (release.instructions !== named.instructions || release.allocations !== named.allocations) {
      throw new Error(
        `${build.label}: the named copy counts ${named.instructions}/${named.allocations}, the ` +
          `release build ${release.instructions}/${release.allocations}`,
      );
    }
    for (const workers of WORKER_COUNTS) {
      note(`instructions: ${build.label}: streams, ${workers} VM(s)`);
      await streams(p.module, workers, plan, out);
    }
    note(`instructions: ${build.label}: streams with player ids`);
    await players(p.module, plan, out);
    note(`instructions: ${build.label}: admin GETs`);
    await admin(build.label, p.module, out);
    note(`instructions: ${build.label}: drains`);
    await drain(build.label, p.module, plan, out);
    reports.push({
      label: build.label,
      source: build.source,
      sha256: build.sha256,
      bytes: build.release.length,
      allocator: p.allocator,
      stats: p.stats,
      release,
      named,
    });
  }
  for (const row of rows.values()) {
    for (const label of BUILD_LABELS) {
      if (!row.values[label]) throw new Error(`no ${label} figure for ${row.id}`);
    }
  }
  return { plan, probes, builds: reports, rows: [...rows.values()] };
}
