// The summary table: one row per headline number, what was measured, its goal where the issue
// sets one and whether it was met. It opens docs/benchmarks.md so the verdicts read without
// the detail of the sections.
import { cell, cellName, type Figures, rowOf } from "./report-figures.js";
import { allocs, instr, OLD, times, us, verdict } from "./report-format.js";
import type { CallCounts } from "./streams.js";
import { bytes, cellLabel, fixed, ms, ratio, table } from "./util.js";

export function summary(f: Figures): string {
  const rows: string[][] = [];
  for (const workers of [1, 8]) {
    for (const hosts of [1, 10000]) {
      const c = cell(f, workers, hosts);
      const r = c.plugin.median / c.noop.median;
      rows.push([
        `1. Per-stream overhead, ${cellLabel(workers, hosts)}`,
        `${us(c.plugin.median)} µs vs ${us(c.noop.median)} µs no-op = **${fixed(r, 2)}×** (paired p90 ${fixed(c.pairedRatio.p90, 2)}×)`,
        "≤ 1.5×",
        verdict(r <= 1.5),
      ]);
    }
  }
  const steady = f.streams.calls.find((c) => c.workers === 8 && c.hosts === 1);
  const total = (c: CallCounts | undefined) => Object.values(c ?? {}).reduce((a, b) => a + b, 0);
  rows.push([
    "2. Host calls per stream (8 VMs, steady)",
    `${fixed(total(steady?.plugin), 1)} vs ${fixed(total(steady?.noop), 1)} no-op`,
    "—",
    "see figure 2",
  ]);
  const big = f.admin.cells.find((c) => c.hosts === 10000 && c.maxHosts !== 1024);
  if (big) {
    rows.push([
      "3. Admin GET, 10,000 hosts, 8 VMs",
      `JSON ${ms(big.json.median)} ms (p90 ${ms(big.json.p90)}), Prometheus ${ms(big.prometheus.median)} ms`,
      "≤ 10 ms",
      verdict(big.json.median <= 10e6 && big.prometheus.median <= 10e6),
    ]);
  }
  const d = f.drain;
  rows.push([
    "4. Drain detection latency",
    `${ms(d.draining.median)} ms (p90 ${ms(d.draining.p90)}), webhook in the closing call ${d.sameCallback}/${d.trials}; seed ${d.seed.worstS} s worst, ${d.seed.meanS} s mean`,
    "same callback, < 1 ms",
    verdict(d.sameCallback === d.trials && d.draining.median < 1e6),
  ]);
  const s100k = f.scale.rows.find((r) => r.streams === 100000);
  if (s100k) {
    rows.push([
      "5. Memory, 100,000 streams, 8 VMs",
      `linear ${bytes(s100k.pluginLinear)} vs ${bytes(s100k.noopLinear)} no-op; shared data ${bytes(s100k.sharedBytes)}`,
      "—",
      "—",
    ]);
  }
  // Flat: the overhead over the floor does not grow. Ratio at 10,000 hosts / ratio at 1 host.
  const rel = (w: number, h: number) => cell(f, w, h).plugin.median / cell(f, w, h).noop.median;
  const flat = [1, 8].map((w) => rel(w, 10000) / rel(w, 1));
  rows.push([
    "5. Cost per stream, 10,000 vs 1 host (ratio to no-op)",
    flat.map((x, i) => `${i ? 8 : 1} VM: ${fixed(x, 2)}×`).join(", "),
    "flat (≈ 1×)",
    verdict(flat.every((x) => x < 1.25)),
  ]);
  rows.push([
    "6. Release wasm size",
    `${bytes(f.size.pluginBytes)} vs ${bytes(f.size.noopBytes)} no-op (${ratio(f.size.pluginBytes, f.size.noopBytes)})`,
    "≤ 64 KiB",
    verdict(f.size.pluginBytes <= 64 * 1024),
  ]);
  rows.push(...portableSummary(f));
  return table(["figure", "measured", "goal", "status"], rows);
}

/** Rows for the portable figures: instructions and allocations (7), Liftoff time (8). */
function portableSummary(f: Figures): string[][] {
  const rows: string[][] = [];
  const steady = f.instructions.rows.filter((r) => r.id.startsWith("steady-"));
  const fewer = steady.map((r) => ({
    r,
    x: r.values[OLD].instructions / r.values.current.instructions,
  }));
  const worst = fewer.reduce((a, b) => (b.x < a.x ? b : a));
  rows.push([
    "7. Instructions per stream, steady open + close",
    `${OLD} ÷ current: ${fewer.map(({ r, x }) => `${cellName(r)} ${fixed(x, 2)}×`).join(", ")}; worst ${cellName(worst.r)}: current ${instr(worst.r.values.current.instructions)}, ${OLD} ${instr(worst.r.values[OLD].instructions)}, no-op ${instr(worst.r.values["no-op"].instructions)} (beyond the no-op: ${times(worst.r.values[OLD].instructions - worst.r.values["no-op"].instructions, worst.r.values.current.instructions - worst.r.values["no-op"].instructions)} fewer)`,
    `≥ 10× fewer than ${OLD}`,
    verdict(worst.x >= 10),
  ]);
  const extra = steady.map((r) => r.values.current.allocations - r.values["no-op"].allocations);
  rows.push([
    "7. Allocations per steady stream, beyond the no-op's",
    `current ${steady.map((r) => allocs(r.values.current.allocations)).join(", ")}; no-op ${steady.map((r) => allocs(r.values["no-op"].allocations)).join(", ")}; ${OLD} ${steady.map((r) => allocs(r.values[OLD].allocations)).join(", ")}`,
    "0 (none beyond the no-op's ABI layer)",
    verdict(extra.every((x) => x <= 0.005)),
  ]);
  const flat = [1, 8].map(
    (w) =>
      rowOf(f, `steady-${w}-10000`).values.current.instructions /
      rowOf(f, `steady-${w}-1`).values.current.instructions,
  );
  rows.push([
    "7. Instructions per stream, 10,000 vs 1 host (current)",
    flat.map((x, i) => `${i ? 8 : 1} VM: ${fixed(x, 2)}×`).join(", "),
    "flat (≈ 1×)",
    verdict(flat.every((x) => x < 1.25)),
  ]);
  const a = ["json", "prometheus"].map((fmt) => rowOf(f, `admin-${fmt}-1000`));
  const ax = a.map((r) => r.values[OLD].instructions / r.values.current.instructions);
  rows.push([
    "7. Admin GET at 1,000 hosts, instructions",
    `${OLD} ÷ current: JSON ${fixed(ax[0] ?? 0, 2)}× (${instr(a[0]?.values[OLD].instructions ?? 0)} → ${instr(a[0]?.values.current.instructions ?? 0)}), Prometheus ${fixed(ax[1] ?? 0, 2)}× (${instr(a[1]?.values[OLD].instructions ?? 0)} → ${instr(a[1]?.values.current.instructions ?? 0)})`,
    `≥ 10× fewer than ${OLD}`,
    verdict(ax.every((x) => x >= 10)),
  ]);
  const big = ["json", "prometheus"].map((fmt) => rowOf(f, `admin-${fmt}-10000`));
  const small = ["json", "prometheus"].map((fmt) => rowOf(f, `admin-${fmt}-10`));
  rows.push([
    "7. Admin GET, 10 → 10,000 hosts, instructions (current)",
    big
      .map(
        (b, i) =>
          `${i ? "Prometheus" : "JSON"} ${instr(small[i]?.values.current.instructions ?? 0)} → ${instr(b.values.current.instructions)}`,
      )
      .join("; "),
    "proportional to tracked hosts",
    "see figure 7",
  ]);
  const d = rowOf(f, "drain");
  rows.push([
    "7. Drain path (last close, webhook signed), instructions",
    `current ${instr(d.values.current.instructions)}, ${OLD} ${instr(d.values[OLD].instructions)} (${OLD} ÷ current ${times(d.values[OLD].instructions, d.values.current.instructions)}); allocations ${allocs(d.values.current.allocations)} vs ${allocs(d.values[OLD].allocations)}`,
    "—",
    "—",
  ]);
  const l = f.liftoff.rows.find((r) => r.id.startsWith("streams-8"));
  if (l) {
    rows.push([
      `8. Per-stream time, ${l.label.replace("open + close, ", "")}, ${f.liftoff.flag}`,
      `current ${us(l.ns.current)} µs, ${OLD} ${us(l.ns[OLD])} µs, no-op ${us(l.ns["no-op"])} µs: current ${times(l.ns.current, l.ns["no-op"])} the no-op`,
      "—",
      "—",
    ]);
  }
  return rows;
}
