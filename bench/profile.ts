// Where the time goes: a V8 CPU profile (node:inspector) of the same open+close cycles through
// conn-drain and through the no-op plugin, each sample charged to the nearest frame that says
// what it is: the plugin's wasm, the host's import functions (what a host call costs here), the
// gateway's stream dispatch, V8's GC, or the bench driver. A second profile of one admin GET
// lists the wasm functions it spends its time in.
import { Session } from "node:inspector/promises";
import type { Gateway } from "../host/index.js";
import { adminGet, benchGateway, hostName, openPlayer, playerCycle } from "./driver.js";
import { note } from "./util.js";

interface CallFrame {
  functionName: string;
  url: string;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export const CATEGORIES = [
  "plugin wasm",
  "host import functions",
  "gateway stream dispatch",
  "V8 GC",
  "bench driver",
  "other",
] as const;
export type Category = (typeof CATEGORIES)[number];

/** Files of host/ whose code runs inside a host call (the imports and what they use). */
const IMPORT_FILES = [
  "imports-proxy.ts",
  "imports.ts",
  "shared-data.ts",
  "memory.ts",
  "metrics.ts",
  "logs.ts",
  "clock.ts",
  "http-calls.ts",
  "random.ts",
];

function classify(frame: CallFrame): Category | undefined {
  if (frame.url.startsWith("wasm://") || frame.functionName.startsWith("wasm-function")) {
    return "plugin wasm";
  }
  if (frame.functionName === "(garbage collector)") return "V8 GC";
  const file = frame.url.split("/").pop() ?? "";
  if (frame.url.includes("/host/")) {
    return IMPORT_FILES.includes(file) ? "host import functions" : "gateway stream dispatch";
  }
  if (frame.url.includes("/bench/")) return "bench driver";
  return undefined;
}

async function profiled(fn: () => void): Promise<CpuProfile> {
  const session = new Session();
  session.connect();
  try {
    await session.post("Profiler.enable");
    await session.post("Profiler.setSamplingInterval", { interval: 100 });
    await session.post("Profiler.start");
    fn();
    const { profile } = await session.post("Profiler.stop");
    return profile as unknown as CpuProfile;
  } finally {
    session.disconnect();
  }
}

/** Self time per category, in percent of all samples (idle and program frames left out). */
function breakdown(profile: CpuProfile): Record<Category, number> {
  const parent = new Map<number, number>();
  const byId = new Map<number, ProfileNode>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const memo = new Map<number, Category>();
  const categoryOf = (id: number): Category => {
    const known = memo.get(id);
    if (known) return known;
    let at: number | undefined = id;
    let found: Category = "other";
    while (at !== undefined) {
      const node = byId.get(at);
      const c = node ? classify(node.callFrame) : undefined;
      if (c) {
        found = c;
        break;
      }
      at = parent.get(at);
    }
    memo.set(id, found);
    return found;
  };
  const totals = Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<Category, number>;
  let all = 0;
  profile.samples.forEach((id, i) => {
    const name = byId.get(id)?.callFrame.functionName;
    if (name === "(idle)" || name === "(program)" || name === "(root)") return;
    const dt = profile.timeDeltas[i] ?? 0;
    totals[categoryOf(id)] += dt;
    all += dt;
  });
  for (const c of CATEGORIES) totals[c] = all > 0 ? (100 * totals[c]) / all : 0;
  return totals;
}

/** Self time of wasm functions, in percent of all wasm samples, largest first. */
function wasmTop(profile: CpuProfile, names: Map<number, string> | undefined, top: number) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let all = 0;
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id)?.callFrame;
    const dt = profile.timeDeltas[i] ?? 0;
    if (!frame || frame.functionName === "(idle)" || frame.functionName === "(program)") return;
    all += dt;
    if (classify(frame) !== "plugin wasm") return;
    const m = /wasm-function\[(\d+)\]/.exec(frame.functionName);
    const name = m ? (names?.get(Number(m[1])) ?? frame.functionName) : frame.functionName;
    self.set(name, (self.get(name) ?? 0) + dt);
  });
  return [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, t]) => ({ name, percent: all > 0 ? (100 * t) / all : 0 }));
}

export interface ProfileResult {
  streams: number;
  plugin: Record<Category, number>;
  noop: Record<Category, number>;
  adminHosts: number;
  adminWasmTop: { name: string; percent: number }[];
}

function cycles(gw: Gateway, n: number): void {
  for (let j = 0; j < n; j++) playerCycle(gw, 0, hostName(0));
}

export async function runProfile(
  names: Map<number, string> | undefined,
  streams = 20000,
  adminHosts = 1000,
): Promise<ProfileResult> {
  note(`profile: ${streams} streams each through conn-drain and no-op, 1 VM, 1 host`);
  const plugin = await benchGateway("conn-drain", { workers: 1 });
  const noop = await benchGateway("no-op", { workers: 1 });
  cycles(plugin, 2000);
  cycles(noop, 2000);
  const p = breakdown(await profiled(() => cycles(plugin, streams)));
  const n = breakdown(await profiled(() => cycles(noop, streams)));
  note(`profile: one admin JSON GET at ${adminHosts} hosts over 8 VMs`);
  const admin = await benchGateway("conn-drain", { workers: 8 });
  for (let i = 0; i < adminHosts; i++) openPlayer(admin, i % 8, hostName(i));
  adminGet(admin, "json");
  const a = await profiled(() => {
    adminGet(admin, "json");
  });
  return { streams, plugin: p, noop: n, adminHosts, adminWasmTop: wasmTop(a, names, 10) };
}
