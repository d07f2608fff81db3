// Figure 8: wall time with V8's optimizing Wasm tier off (`node --liftoff-only`): every
// function stays in Liftoff, V8's baseline compiler, as a freshly loaded plugin runs before
// TurboFan has tiered it up, so what the module executes weighs more than under the default
// tiers. The bench runs this file in a child process with that flag (the flag must be set
// before V8 compiles any Wasm) and reads its JSON from stdout. Same drive as figures 1 and 3:
// open + close cycles in interleaved batches across the three builds, and admin GETs.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Gateway } from "../host/index.js";
import type { BuildLabel, CountedBuild } from "./builds.js";
import {
  adminGet,
  BENCH_MAX_HOSTS,
  cycleHosts,
  gatewayFor,
  hostName,
  openPlayer,
} from "./driver.js";
import { cellLabel, collectGarbage, median, note, timeNs } from "./util.js";

export const LIFTOFF_FLAG = "--liftoff-only";

export interface LiftoffPlan {
  warmup: number;
  batch: number;
  runs: number;
  adminRuns: number;
}

export const DEFAULT_LIFTOFF_PLAN: LiftoffPlan = {
  warmup: 2000,
  batch: 3000,
  runs: 7,
  adminRuns: 3,
};

export const LIFTOFF_STREAM_CELLS = [
  { workers: 1, hosts: 1 },
  { workers: 8, hosts: 10000 },
] as const;
export const LIFTOFF_ADMIN = { workers: 8, hosts: 10000 } as const;

export interface LiftoffRow {
  id: string;
  label: string;
  /** Median ns per stream or per GET, by build. */
  ns: Record<BuildLabel, number>;
}

export interface LiftoffResult {
  plan: LiftoffPlan;
  flag: string;
  rows: LiftoffRow[];
}

interface ChildInput {
  plan: LiftoffPlan;
  builds: { label: BuildLabel; file: string }[];
}

/** Runs the figure in `node --liftoff-only` on the exact bytes of `builds`. */
export function runLiftoff(
  builds: CountedBuild[],
  plan: LiftoffPlan = DEFAULT_LIFTOFF_PLAN,
): LiftoffResult {
  const dir = mkdtempSync(join(tmpdir(), "conn-drain-liftoff-"));
  try {
    const input: ChildInput = {
      plan,
      builds: builds.map((b) => {
        const file = join(dir, `${b.label}.wasm`);
        writeFileSync(file, b.release);
        return { label: b.label, file };
      }),
    };
    const inputFile = join(dir, "input.json");
    writeFileSync(inputFile, JSON.stringify(input));
    note(`liftoff: child node ${LIFTOFF_FLAG}`);
    const out = execFileSync(
      process.execPath,
      [LIFTOFF_FLAG, "--import", "tsx", "bench/liftoff.ts", inputFile],
      { stdio: ["ignore", "pipe", "inherit"], maxBuffer: 16 << 20, encoding: "utf8" },
    );
    return JSON.parse(out) as LiftoffResult;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Side {
  label: BuildLabel;
  gw: Gateway;
  next: number;
}

function cycles(side: Side, n: number, hosts: number): void {
  side.next = cycleHosts(side.gw, side.next, n, hosts);
}

async function child(input: ChildInput): Promise<LiftoffResult> {
  if (!process.execArgv.includes(LIFTOFF_FLAG)) {
    throw new Error(`bench/liftoff.ts must run under node ${LIFTOFF_FLAG}`);
  }
  const { plan } = input;
  const modules = input.builds.map((b) => ({
    label: b.label,
    module: new WebAssembly.Module(new Uint8Array(readFileSync(b.file))),
  }));
  const rows: LiftoffRow[] = [];
  for (const cell of LIFTOFF_STREAM_CELLS) {
    note(`liftoff: streams, ${cell.workers} VM(s), ${cell.hosts} host(s)`);
    const sides: Side[] = [];
    for (const m of modules) {
      const gw = await gatewayFor(m.module, { workers: cell.workers });
      for (let i = 0; i < cell.hosts; i++) openPlayer(gw, i % cell.workers, hostName(i));
      sides.push({ label: m.label, gw, next: 0 });
    }
    for (const s of sides) cycles(s, Math.max(plan.warmup, cell.hosts), cell.hosts);
    const samples = new Map<BuildLabel, number[]>(sides.map((s) => [s.label, []]));
    for (let run = 0; run < plan.runs; run++) {
      // Rotate which build goes first, so drift hits every build alike.
      for (let k = 0; k < sides.length; k++) {
        const s = sides[(run + k) % sides.length] as Side;
        collectGarbage();
        samples.get(s.label)?.push(timeNs(() => cycles(s, plan.batch, cell.hosts)) / plan.batch);
      }
    }
    rows.push({
      id: `streams-${cell.workers}-${cell.hosts}`,
      label: `open + close, ${cellLabel(cell.workers, cell.hosts)}`,
      ns: Object.fromEntries([...samples].map(([l, v]) => [l, median(v)])) as Record<
        BuildLabel,
        number
      >,
    });
  }
  const { workers, hosts } = LIFTOFF_ADMIN;
  note(`liftoff: admin GETs, ${hosts} hosts over ${workers} VMs`);
  const gws: { label: BuildLabel; gw: Gateway }[] = [];
  for (const m of modules) {
    const gw = await gatewayFor(m.module, { workers, maxHosts: BENCH_MAX_HOSTS });
    for (let i = 0; i < hosts; i++) openPlayer(gw, i % workers, hostName(i));
    gws.push({ label: m.label, gw });
  }
  for (const format of ["json", "prometheus"] as const) {
    const ns = {} as Record<BuildLabel, number>;
    for (const { label, gw } of gws) {
      adminGet(gw, format);
      const v: number[] = [];
      for (let r = 0; r < plan.adminRuns; r++) {
        collectGarbage();
        v.push(timeNs(() => adminGet(gw, format)));
      }
      ns[label] = median(v);
    }
    rows.push({
      id: `admin-${format}`,
      label: `admin GET ${format === "json" ? "JSON" : "Prometheus"}, ${hosts.toLocaleString("en-US")} hosts, ${workers} VMs`,
      ns,
    });
  }
  return { plan, flag: LIFTOFF_FLAG, rows };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const input = JSON.parse(readFileSync(process.argv[2] as string, "utf8")) as ChildInput;
  child(input)
    .then((r) => process.stdout.write(`${JSON.stringify(r)}\n`))
    .catch((e: unknown) => {
      process.stderr.write(`liftoff failed: ${e instanceof Error ? (e.stack ?? e.message) : e}\n`);
      process.exit(1);
    });
}
