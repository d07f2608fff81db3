// Runs safety-campaign cases: generated from a seed, or replayed from a saved step list; shrinks
// a failing case to a short replay and saves it under fuzz/corpus/safety/.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Violation } from "./checker.js";
import { Driver, type DriverFigures } from "./driver.js";
import { Generator } from "./generator.js";
import { type ConfigSpec, describeStep, type Step } from "./steps.js";

export const CORPUS_DIR = "fuzz/corpus/safety";
export const WORKERS = 4;

let cached: { path: string; module: WebAssembly.Module } | undefined;

/** The plugin under test: `path`, else $CONN_DRAIN_WASM, else build/plugin.wasm. */
export function pluginPath(path?: string): string {
  return path ?? process.env.CONN_DRAIN_WASM ?? "build/plugin.wasm";
}

export function loadPlugin(path?: string): WebAssembly.Module {
  const p = pluginPath(path);
  if (cached?.path !== p) {
    cached = { path: p, module: new WebAssembly.Module(new Uint8Array(readFileSync(p))) };
  }
  return cached.module;
}

/** A case as saved: everything a replay needs, plus what it showed when it was found. */
export interface SavedCase {
  /** What the case shows, in words (curated cases; the issue finding it reproduces). */
  note?: string;
  kind: string;
  detail: string;
  seed: number;
  workers: number;
  /** Index (in `steps`) of the step after which the violation was seen. */
  step: number;
  /** The build it was found on, and the step index in the generated run it was shrunk from. */
  foundOn: string;
  originalStep: number;
  initial: ConfigSpec;
  steps: Step[];
}

export interface CaseResult {
  seed: number;
  workers: number;
  initial: ConfigSpec;
  steps: Step[];
  violations: Violation[];
  counts: Map<string, number>;
  figures: DriverFigures & Record<string, number>;
  ms: number;
}

export interface RunOptions {
  module: WebAssembly.Module;
  seed: number;
  workers?: number;
  /** Generate this many steps... */
  count?: number;
  /** ...or replay these (with this initial config). */
  replay?: { initial: ConfigSpec; steps: Step[] };
  /** Step kinds the generator leaves out. */
  without?: readonly string[];
  /** Stop as soon as a violation of this kind is seen (shrinking). */
  stopOn?: string;
  /** Print each step (replays). */
  trace?: (line: string) => void;
}

export async function runCase(o: RunOptions): Promise<CaseResult> {
  const start = performance.now();
  const workers = o.workers ?? WORKERS;
  const gen = new Generator(o.seed, { workers, without: o.without });
  const initial = o.replay ? o.replay.initial : gen.initialConfig();
  const driver = await Driver.create(o.module, workers, o.seed, initial);
  driver.checker.trace = o.trace;
  const steps: Step[] = [];
  const total = o.replay ? o.replay.steps.length : (o.count ?? 1000);
  for (let i = 0; i < total; i++) {
    const step = o.replay
      ? (o.replay.steps[i] as Step)
      : gen.next(driver.model, driver.rolloutInProgress);
    steps.push(step);
    const before = driver.checker.violations.length;
    o.trace?.(`${i}: ${describeStep(step)}`);
    await driver.step(step, i);
    if (o.trace) {
      for (const v of driver.checker.violations.slice(before))
        o.trace(`   VIOLATION ${v.kind}: ${v.detail}`);
    }
    if (o.stopOn && driver.checker.counts.has(o.stopOn)) break;
  }
  driver.finalChecks();
  return {
    seed: o.seed,
    workers,
    initial,
    steps,
    violations: driver.checker.violations,
    counts: driver.checker.counts,
    figures: { ...driver.figures, ...driver.checker.figures, steps: steps.length },
    ms: performance.now() - start,
  };
}

/** Whether replaying `steps` still shows a violation of `kind`; the step it shows at, or -1. */
async function reproduces(
  module: WebAssembly.Module,
  seed: number,
  initial: ConfigSpec,
  steps: Step[],
  kind: string,
): Promise<number> {
  const r = await runCase({ module, seed, replay: { initial, steps }, stopOn: kind });
  return r.violations.find((v) => v.kind === kind)?.step ?? -1;
}

/** Steps with their wrappers taken off: a race or storm becomes the step it wrapped. */
function unwrap(steps: Step[], at: number): Step[] | undefined {
  const s = steps[at];
  if (!s || (s.op !== "race" && s.op !== "storm")) return undefined;
  return [...steps.slice(0, at), s.inner, ...steps.slice(at + 1)];
}

/**
 * Shrinks a failing step list while the same kind of violation still shows, within a budget of
 * replays: whole kinds of step out at once, then chunks of halving size (delta debugging), then
 * races and storms replaced by the step they wrapped, then single steps.
 */
export async function shrink(
  module: WebAssembly.Module,
  seed: number,
  initial: ConfigSpec,
  steps: Step[],
  v: Violation,
  budget = { replays: 600, ms: 45_000 },
): Promise<{ steps: Step[]; step: number; replays: number }> {
  const start = performance.now();
  let replays = 0;
  const spent = () => replays >= budget.replays || performance.now() - start > budget.ms;
  let cur = steps.slice(0, v.step + 1);
  let at = v.step;
  /** Keeps `candidate` (cut after the step that now shows it) if it still fails. */
  const tryKeep = async (candidate: Step[] | undefined): Promise<boolean> => {
    if (!candidate || candidate.length === 0 || spent()) return false;
    replays++;
    const found = await reproduces(module, seed, initial, candidate, v.kind);
    if (found < 0) return false;
    cur = candidate.slice(0, found + 1);
    at = found;
    return true;
  };
  if (!(await tryKeep(cur))) return { steps: cur, step: at, replays };
  const ops = [...new Set(cur.map((s) => s.op))];
  for (const op of ops) await tryKeep(cur.filter((s) => s.op !== op));
  for (let chunk = Math.max(1, cur.length >> 1); !spent(); ) {
    let progressed = false;
    for (let i = 0; i < cur.length && !spent(); ) {
      if (await tryKeep([...cur.slice(0, i), ...cur.slice(i + chunk)])) progressed = true;
      else i += chunk;
    }
    if (!progressed) {
      if (chunk === 1) break;
      chunk = Math.max(1, chunk >> 1);
    }
  }
  for (let i = 0; i < cur.length && !spent(); i++) await tryKeep(unwrap(cur, i));
  for (let i = cur.length - 1; i >= 0 && !spent(); i--) {
    await tryKeep([...cur.slice(0, i), ...cur.slice(i + 1)]);
  }
  return { steps: cur, step: at, replays };
}

/**
 * JSON the way the project's formatter (biome) lays it out, so a saved case is lint-clean as
 * written: objects one member per line, arrays of plain values on one line when they fit in 100
 * columns.
 */
export function formatJson(v: unknown, indent = "", used = 0): string {
  if (Array.isArray(v)) {
    if (v.length === 0) return "[]";
    if (v.every((x) => x === null || typeof x !== "object")) {
      const inline = `[${v.map((x) => JSON.stringify(x)).join(", ")}]`;
      // The line also holds the closing comma, when there is one.
      if (used + inline.length + 1 <= 100) return inline;
    }
    const inner = `${indent}  `;
    return `[\n${v.map((x) => inner + formatJson(x, inner, inner.length)).join(",\n")}\n${indent}]`;
  }
  if (v !== null && typeof v === "object") {
    const entries = Object.entries(v).filter(([, x]) => x !== undefined);
    if (entries.length === 0) return "{}";
    const inner = `${indent}  `;
    const lines = entries.map(([k, x]) => {
      const head = `${inner}${JSON.stringify(k)}: `;
      return head + formatJson(x, inner, head.length);
    });
    return `{\n${lines.join(",\n")}\n${indent}}`;
  }
  return JSON.stringify(v);
}

export function stepsHash(steps: Step[]): string {
  return createHash("sha256").update(JSON.stringify(steps)).digest("hex").slice(0, 10);
}

/** Saves a case unless the same kind with the same steps is already saved; returns its path. */
export function saveCase(c: SavedCase, dir = CORPUS_DIR): string {
  mkdirSync(dir, { recursive: true });
  const hash = stepsHash(c.steps);
  for (const f of readdirSync(dir)) {
    if (f.startsWith(`${c.kind}-`) && f.endsWith(`-${hash}.json`)) return join(dir, f);
  }
  const path = join(dir, `${c.kind}-s${c.seed}-${hash}.json`);
  writeFileSync(path, `${formatJson(c)}\n`);
  return path;
}

export function loadCases(dir = CORPUS_DIR): Array<{ file: string; c: SavedCase }> {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => ({
      file: join(dir, f),
      c: JSON.parse(readFileSync(join(dir, f), "utf8")) as SavedCase,
    }));
}

/** Replays a saved case; returns the violations it shows now. */
export async function replayCase(
  module: WebAssembly.Module,
  c: SavedCase,
  trace?: (line: string) => void,
): Promise<CaseResult> {
  return runCase({
    module,
    seed: c.seed,
    workers: c.workers,
    replay: { initial: c.initial, steps: c.steps },
    trace,
  });
}

/** Shrinks the run's violation `v` and saves it as a regression case; returns the saved case. */
export async function keepCase(
  module: WebAssembly.Module,
  r: CaseResult,
  v: Violation,
  foundOn: string,
  save = true,
  dir: string = CORPUS_DIR,
): Promise<{ c: SavedCase; path: string | undefined; replays: number }> {
  const s = await shrink(module, r.seed, r.initial, r.steps, v);
  const again = await runCase({
    module,
    seed: r.seed,
    workers: r.workers,
    replay: { initial: r.initial, steps: s.steps },
    stopOn: v.kind,
  });
  const shown = again.violations.find((x) => x.kind === v.kind) ?? v;
  const c: SavedCase = {
    kind: v.kind,
    detail: shown.detail,
    seed: r.seed,
    workers: r.workers,
    step: shown.step,
    foundOn,
    originalStep: v.step,
    initial: r.initial,
    steps: s.steps,
  };
  return { c, path: save ? saveCase(c, dir) : undefined, replays: s.replays };
}
