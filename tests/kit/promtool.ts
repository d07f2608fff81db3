// Turning real scrapes into `promtool test rules` input: parse the Prometheus text exposition
// (format 0.0.4) a target served, add the labels the scrape job attaches (job, instance, ...),
// and lay the scrapes of each phase of a test out as one series per metric and label set, in the
// expanding notation of promtool's unit-test files. Series absent from a phase's scrape get `_`
// (no sample), the way a target that stops exposing a series leaves no sample in the TSDB.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/y;

function unescapeLabel(v: string): string {
  return v.replace(/\\(.)/g, (_m, c: string) => (c === "n" ? "\n" : c));
}

function parseValue(text: string): number {
  if (text === "+Inf") return Number.POSITIVE_INFINITY;
  if (text === "-Inf") return Number.NEGATIVE_INFINITY;
  if (text === "NaN") return Number.NaN;
  const n = Number(text);
  if (Number.isNaN(n)) throw new Error(`not a sample value: ${text}`);
  return n;
}

/** Every sample of a text exposition; throws on a line that is neither sample nor comment. */
export function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = LINE.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    const body = m[2] ?? "";
    LABEL.lastIndex = 0;
    while (LABEL.lastIndex < body.length) {
      const l = LABEL.exec(body);
      if (!l) throw new Error(`bad labels in: ${line}`);
      labels[l[1] as string] = unescapeLabel(l[2] as string);
    }
    out.push({ name: m[1] as string, labels, value: parseValue(m[3] as string) });
  }
  return out;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** `name{a="1",b="2"}` with labels sorted, as promtool's series notation and its output use. */
export function seriesKey(name: string, labels: Record<string, string>): string {
  const body = Object.keys(labels)
    .sort()
    .map((k) => `${k}="${escapeLabel(labels[k] as string)}"`)
    .join(",");
  return `${name}{${body}}`;
}

function promValue(v: number): string {
  if (v === Number.POSITIVE_INFINITY) return "Inf";
  if (v === Number.NEGATIVE_INFINITY) return "-Inf";
  if (Number.isNaN(v)) return "NaN";
  return String(v);
}

/**
 * The scrapes of a test in phases: each phase holds every target's scrape once and becomes
 * `stepsPerPhase` samples `interval` apart (the value as scraped, repeated, like a Prometheus
 * scraping an unchanging target). `phaseEnd(k)` is the time of phase k's last sample.
 */
export class ScrapeTimeline {
  private readonly phases: Array<Map<string, number>> = [];

  constructor(
    readonly intervalSeconds = 15,
    readonly stepsPerPhase = 24,
  ) {}

  /** Starts the next phase; returns its index. */
  nextPhase(): number {
    this.phases.push(new Map());
    return this.phases.length - 1;
  }

  /** Adds one target's scrape to the current phase, with the labels its scrape job attaches. */
  add(exposition: string, targetLabels: Record<string, string>): Sample[] {
    const phase = this.phases.at(-1);
    if (!phase) throw new Error("call nextPhase() first");
    const samples = parseExposition(exposition);
    for (const s of samples) {
      const clash = Object.keys(s.labels).find((k) => k in targetLabels);
      // Prometheus would rename an exposed label that clashes (exported_<name>); ours never do.
      if (clash) throw new Error(`exposed label ${clash} clashes with a target label`);
      const key = seriesKey(s.name, { ...s.labels, ...targetLabels });
      if (phase.has(key)) throw new Error(`series ${key} twice in one phase`);
      phase.set(key, s.value);
    }
    return samples;
  }

  /** Seconds from the start to phase k's first and last samples. */
  phaseStart(k: number): number {
    return k * this.stepsPerPhase * this.intervalSeconds;
  }

  phaseEnd(k: number): number {
    return this.phaseStart(k) + (this.stepsPerPhase - 1) * this.intervalSeconds;
  }

  /** promtool `input_series`: one entry per series seen in any phase. */
  inputSeries(): Array<{ series: string; values: string }> {
    const keys = new Set<string>();
    for (const p of this.phases) for (const k of p.keys()) keys.add(k);
    const n = this.stepsPerPhase - 1;
    return [...keys].sort().map((series) => ({
      series,
      values: this.phases
        .map((p) => {
          const v = p.get(series);
          // `v+0xN` is N + 1 samples, `_xN` is N missing ones (promtool's expanding notation).
          return v === undefined ? `_x${n + 1}` : `${promValue(v)}+0x${n}`;
        })
        .join(" "),
    }));
  }
}

export interface ExprTest {
  expr: string;
  eval_time: string;
  exp_samples: Array<{ labels: string; value: number }>;
}

/** Runs `promtool test rules` on one test group; resolves with its exit code and output. */
export function promtoolTest(
  timeline: ScrapeTimeline,
  tests: ExprTest[],
): Promise<{ code: number; output: string; file: string }> {
  const doc = {
    // promtool appends the input samples in steps of evaluation_interval and evaluates an
    // expression against what it has appended by then: a step equal to the scrape interval makes
    // every sample up to eval_time visible (with 1m, a query at 12m30s saw nothing after 12m).
    evaluation_interval: `${timeline.intervalSeconds}s`,
    tests: [
      {
        interval: `${timeline.intervalSeconds}s`,
        input_series: timeline.inputSeries(),
        promql_expr_test: tests,
      },
    ],
  };
  const file = stringify(doc, { lineWidth: 0 });
  const dir = mkdtempSync(join(tmpdir(), "conn-drain-promtool-"));
  const path = join(dir, "dashboard.test.yml");
  writeFileSync(path, file);
  return new Promise((resolve) => {
    execFile("promtool", ["test", "rules", path], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (!process.env.KEEP_PROMTOOL) rmSync(dir, { recursive: true, force: true });
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      resolve({ code, output: `${stdout}${stderr}`, file });
    });
  });
}
