// Small helpers shared by every figure: clocks, order statistics, a forced GC between batches,
// number formatting and markdown tables. Nothing here knows about the plugin.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/** Nanoseconds on the monotonic clock, as a number (fine for intervals under ~100 days). */
export function nowNs(): number {
  return Number(process.hrtime.bigint());
}

/** Times `fn` once; returns elapsed nanoseconds. */
export function timeNs(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0);
}

let forcedGc: (() => void) | undefined;

/**
 * A full V8 collection before each timed batch, so that one batch does not pay for the garbage
 * of the previous one. `npx tsx` gives no way to pass --expose-gc, so it is switched on here.
 */
export function collectGarbage(): void {
  if (!forcedGc) {
    setFlagsFromString("--expose-gc");
    forcedGc = runInNewContext("gc") as () => void;
  }
  forcedGc();
}

/** Nearest-rank percentile (p in 0..100) of a non-empty sample. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new Error("percentile of an empty sample");
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1] as number;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) throw new Error("median of an empty sample");
  const mid = Math.floor(n / 2);
  return n % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export interface Summary {
  median: number;
  p90: number;
  min: number;
  max: number;
  n: number;
}

export function summarize(values: readonly number[]): Summary {
  return {
    median: median(values),
    p90: percentile(values, 90),
    min: Math.min(...values),
    max: Math.max(...values),
    n: values.length,
  };
}

/** 12345 -> "12,345". */
export function int(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** 1, "VM" -> "1 VM"; 10000, "host" -> "10,000 hosts". */
export function quantity(n: number, unit: string): string {
  return `${int(n)} ${unit}${n > 1 ? "s" : ""}`;
}

/** A stream cell as the report names it: "1 VM, 1 host", "8 VMs, 10,000 hosts". */
export function cellLabel(workers: number, hosts: number): string {
  return `${quantity(workers, "VM")}, ${quantity(hosts, "host")}`;
}

export function fixed(n: number, digits: number): string {
  return n.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

export function ratio(a: number, b: number): string {
  return `${fixed(a / b, 2)}×`;
}

/** Milliseconds with enough digits to read small values. */
export function ms(ns: number): string {
  const v = ns / 1e6;
  return v >= 100 ? fixed(v, 0) : v >= 10 ? fixed(v, 1) : fixed(v, 2);
}

export function bytes(n: number): string {
  if (n >= 1 << 20) return `${fixed(n / (1 << 20), 1)} MiB`;
  if (n >= 1 << 10) return `${fixed(n / (1 << 10), 1)} KiB`;
  return `${int(n)} B`;
}

/** A GitHub-flavoured markdown table; cells are taken as they are. */
export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}

/** Progress on stderr, so stdout holds only the report. */
const startedAt = process.hrtime.bigint();

export function note(message: string): void {
  const s = Number(process.hrtime.bigint() - startedAt) / 1e9;
  process.stderr.write(`bench [${s.toFixed(0).padStart(3)} s]: ${message}\n`);
}
