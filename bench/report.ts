// Turns the figures into markdown: the summary table printed to stdout and docs/benchmarks.md
// with every figure, the machine, the versions, and how each figure was taken.
import type { AdminResult } from "./admin.js";
import { BASELINE_COMMIT, BUILD_LABELS, type BuildLabel } from "./builds.js";
import type { DrainResult } from "./drain.js";
import { SEED_DEFAULTS } from "./drain.js";
import type { CountRow, Counts, InstructionsResult } from "./instructions.js";
import type { LiftoffResult } from "./liftoff.js";
import { CATEGORIES, type ProfileResult } from "./profile.js";
import type { ScaleResult } from "./scale.js";
import type { SizeResult } from "./size.js";
import type { CallCounts, StreamCell, StreamsResult } from "./streams.js";
import { bytes, fixed, int, ms, ratio, table } from "./util.js";

export interface Environment {
  date: string;
  cpu: string;
  cores: number;
  os: string;
  node: string;
  assemblyscript: string;
  pluginSha: string;
  noopSha: string;
  /** sha256 of BASELINE_COMMIT's release build as this run built it. */
  baselineSha: string;
  seconds: number;
  /** 1-minute load average at the start and the end: other work on the machine shows here. */
  loadStart: number;
  loadEnd: number;
}

export interface Figures {
  env: Environment;
  streams: StreamsResult;
  profile: ProfileResult;
  admin: AdminResult;
  drain: DrainResult;
  scale: ScaleResult;
  size: SizeResult;
  instructions: InstructionsResult;
  liftoff: LiftoffResult;
}

const us = (ns: number) => fixed(ns / 1000, 1);
const verdict = (ok: boolean) => (ok ? "met" : "**missed**");

function cell(f: Figures, workers: number, hosts: number): StreamCell {
  const c = f.streams.cells.find((x) => x.workers === workers && x.hosts === hosts);
  if (!c) throw new Error(`no stream cell for ${workers} VMs, ${hosts} hosts`);
  return c;
}

export function summary(f: Figures): string {
  const rows: string[][] = [];
  for (const workers of [1, 8]) {
    for (const hosts of [1, 10000]) {
      const c = cell(f, workers, hosts);
      const r = c.plugin.median / c.noop.median;
      rows.push([
        `1. Per-stream overhead, ${workers} VM${workers > 1 ? "s" : ""}, ${int(hosts)} host${hosts > 1 ? "s" : ""}`,
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

function streamsSection(f: Figures): string {
  const p = f.streams.plan;
  const rows = f.streams.cells.map((c) => [
    String(c.workers),
    int(c.hosts),
    us(c.plugin.median),
    us(c.plugin.p90),
    us(c.noop.median),
    us(c.noop.p90),
    `${fixed(c.plugin.median / c.noop.median, 2)}×`,
    `${fixed(c.pairedRatio.min, 2)}–${fixed(c.pairedRatio.max, 2)}×`,
  ]);
  const prof = CATEGORIES.map((c) => [
    c,
    `${fixed(f.profile.plugin[c], 1)} %`,
    `${fixed(f.profile.noop[c], 1)} %`,
  ]);
  return [
    "## 1 and 5b. Per-stream overhead, and cost as tracked hosts grow",
    "",
    `One stream = context create, request headers, upstream picked, response headers (101), then close (log, done, delete), driven through the project's host exactly as \`tests/plugin/harness.ts\` does. Per cell: ${int(p.warmup)} warm-up streams per side, then ${p.runs} interleaved batches of ${int(p.batch)} streams per side (order alternating, a full V8 GC before each batch); each batch gives one ns/stream figure. Each tracked host holds one open background stream; cycles go to host j mod N on worker j mod W. Ratio = median / median; paired = plugin / no-op for each pair of batches.`,
    "",
    table(
      [
        "VMs",
        "tracked hosts",
        "conn-drain µs median",
        "p90",
        "no-op µs median",
        "p90",
        "ratio",
        "paired range",
      ],
      rows,
    ),
    "",
    `Where the time goes (V8 CPU profile of ${int(f.profile.streams)} streams each, 1 VM, 1 host; self time charged to the nearest frame that says what it is):`,
    "",
    table(["category", "conn-drain", "no-op"], prof),
  ].join("\n");
}

function callsSection(f: Figures): string {
  const names = new Set<string>();
  for (const c of f.streams.calls) for (const k of Object.keys(c.plugin)) names.add(k);
  for (const c of f.streams.cold) for (const k of Object.keys(c.counts)) names.add(k);
  const cols = [...names].sort();
  const line = (label: string, counts: CallCounts) => [
    label,
    ...cols.map((n) => fixed(counts[n] ?? 0, 2)),
    fixed(
      Object.values(counts).reduce((a, b) => a + b, 0),
      2,
    ),
  ];
  const rows = [
    ...f.streams.calls.map((c) => line(`steady, ${c.workers} VM, ${int(c.hosts)} hosts`, c.plugin)),
    ...f.streams.cold.map((c) => line(`first stream of a new host, ${c.workers} VM`, c.counts)),
    ...f.streams.calls
      .filter((c) => c.hosts === 1)
      .map((c) => line(`no-op, ${c.workers} VM`, c.noop)),
  ];
  const admin = f.admin.cells.map((c) => [
    `${int(c.hosts)} hosts, maxHosts ${int(c.maxHosts)}`,
    Object.entries(c.calls)
      .map(([k, v]) => `${k} ${int(v)}`)
      .join(", "),
  ]);
  return [
    "## 2. Host calls per stream",
    "",
    `Counted by the host (\`gw.hostCallCounts()\`, by import name) over ${int(f.streams.plan.counted)} streams after the timed runs, divided by the stream count. "First stream of a new host" opens and closes one stream on each of ${int(f.streams.plan.coldHosts)} hosts no VM has seen (index lookup, slot claim, publish, gauge grant).`,
    "",
    table(["streams", ...cols.map((c) => c.replace(/^proxy_/, "")), "total"], rows),
    "",
    "Host calls of one admin JSON GET:",
    "",
    table(["table", "calls"], admin),
  ].join("\n");
}

function adminSection(f: Figures): string {
  const a = f.admin;
  const rows = a.cells.map((c) => [
    int(c.hosts),
    int(c.maxHosts),
    `${int(c.listed)} / ${int(c.overflow)}`,
    `${ms(c.json.median)} / ${ms(c.json.p90)}`,
    `${ms(c.prometheus.median)} / ${ms(c.prometheus.p90)}`,
    `${ms(c.noop.median)}`,
    `${c.json.n} / ${c.prometheus.n}`,
    `${bytes(c.jsonBytes)} / ${bytes(c.prometheusBytes)}`,
  ]);
  const top = f.profile.adminWasmTop.map((t) => [`\`${t.name}\``, `${fixed(t.percent, 1)} %`]);
  return [
    "## 3. Admin path",
    "",
    `\`GET /.conn-drain?format=json|prometheus\` on worker 0 of ${a.workers} VMs, timed from request headers to the recorded local reply. Each host has one open stream (worker i mod ${a.workers}). The first JSON and Prometheus answers are timed, their host calls counted and their bodies checked (listed hosts + overflow = streams). When they take under 100 ms they are followed by ${a.plan.warmup} warm-up GETs and left out; when they take seconds they are the first samples. Then GETs per format until ${a.plan.runs} samples, or at least ${a.plan.minRuns} and past a ${fixed(a.plan.budgetNs / 1e9, 0)} s budget per cell; a full V8 GC before each. Floor: the same GET through the no-op plugin (dispatch only).`,
    "",
    table(
      [
        "hosts",
        "maxHosts",
        "listed / overflow",
        "JSON ms median / p90",
        "Prometheus ms median / p90",
        "no-op ms",
        "runs",
        "body JSON / Prom",
      ],
      rows,
    ),
    "",
    `Where one JSON GET at ${int(f.profile.adminHosts)} hosts spends its time (self time, percent of the GET's samples; wasm functions only):`,
    "",
    table(["function", "share"], top),
  ].join("\n");
}

function drainSection(f: Figures): string {
  const d = f.drain;
  const rows = [
    [
      "close() of the last stream of a draining host (conn-drain)",
      ms(d.draining.median),
      ms(d.draining.p90),
      ms(d.draining.max),
    ],
    [
      "close() of the last stream, host not draining (conn-drain)",
      ms(d.idle.median),
      ms(d.idle.p90),
      ms(d.idle.max),
    ],
    ["close() of the last stream (no-op)", ms(d.noop.median), ms(d.noop.p90), ms(d.noop.max)],
  ];
  return [
    "## 4. Drain detection latency",
    "",
    `${d.trials} drains over ${d.workers} VMs (after warm-up): each host gets 3 streams on different workers, a drain is started through \`POST /.conn-drain/drain?host=…\`, two streams close, then the last close is timed (GC before it). The webhook (an \`http_call\` to the webhook cluster) went out inside that close, at the close's virtual instant, in **${d.sameCallback} of ${d.trials}** drains: detection is the closing callback itself; the wall time below bounds it from above and includes the HMAC-signed webhook being built.`,
    "",
    table(["what", "ms median", "p90", "max"], rows),
    "",
    `Seed approach (documented defaults, not measured): a Prometheus scrape then an OpenKruiseGame probe. Worst case ${SEED_DEFAULTS.scrapeIntervalS} s + ${SEED_DEFAULTS.probePeriodS} s = **${d.seed.worstS} s**; with independent uniform phases the expected wait is ${SEED_DEFAULTS.scrapeIntervalS / 2} s + ${SEED_DEFAULTS.probePeriodS / 2} s = **${d.seed.meanS} s** (probe thresholds and query time only add).`,
    "",
    `- scrape_interval 1m: ${SEED_DEFAULTS.scrapeSource}.`,
    `- periodSeconds 10: ${SEED_DEFAULTS.probeSource}.`,
  ].join("\n");
}

function scaleSection(f: Figures): string {
  const rows = f.scale.rows.map((r) => [
    r.label,
    int(r.hosts),
    bytes(r.pluginLinear),
    bytes(r.pluginLargest),
    bytes(r.noopLinear),
    bytes(r.sharedBytes),
    int(r.sharedKeys),
    int(r.overflow),
    r.openNsPerStream > 0 ? us(r.openNsPerStream) : "—",
  ]);
  return [
    "## 5a. Memory",
    "",
    `${f.scale.workers} worker VMs. Linear memory = \`VmHandle.memoryBytes\` summed over the workers (and the largest one); it only grows, so each row is a high-water mark. Shared data = \`gw.sharedData.bytes()\` (key + value bytes) and key count. Stream rows add streams cumulatively over 1,000 hosts; the full-table row opens one stream per host until every slot is taken (overflow = the plugin's \`conn_drain.overflow\` gauge). Open µs = wall time per stream opened (no close) through conn-drain.`,
    "",
    table(
      [
        "state",
        "hosts",
        "conn-drain linear (sum)",
        "largest VM",
        "no-op linear (sum)",
        "shared data",
        "keys",
        "overflow",
        "open µs/stream",
      ],
      rows,
    ),
  ].join("\n");
}

function sizeSection(f: Figures): string {
  const s = f.size;
  const out = [
    "## 6. Size",
    "",
    `Release \`build/plugin.wasm\` ${int(s.pluginBytes)} bytes vs \`build/noop.wasm\` ${int(s.noopBytes)} bytes (${ratio(s.pluginBytes, s.noopBytes)}). Sections from \`wasm-objdump -h\`, function bodies from \`wasm-objdump -x\`; ${s.names}.`,
    "",
  ];
  if (s.sections) {
    out.push(
      table(
        ["section", "conn-drain bytes", "no-op bytes"],
        s.sections.map((x) => [x.name, int(x.plugin), int(x.noop)]),
      ),
      "",
    );
    out.push(`Functions: ${s.pluginFunctions} vs ${s.noopFunctions}.`, "");
  }
  if (s.groups) {
    out.push(
      table(
        ["code by origin", "functions", "bytes"],
        s.groups.map((g) => [g.group, String(g.functions), int(g.bytes)]),
      ),
      "",
    );
  }
  if (s.functions) {
    out.push(
      table(
        ["largest functions", "bytes"],
        s.functions.slice(0, 15).map((x) => [`\`${x.name}\``, int(x.bytes)]),
      ),
    );
  }
  return out.join("\n");
}

function rowOf(f: Figures, id: string): CountRow {
  const r = f.instructions.rows.find((x) => x.id === id);
  if (!r) throw new Error(`no instruction row ${id}`);
  return r;
}

/** Instructions: whole numbers; an average below 100 keeps one decimal. */
const instr = (n: number) => (n >= 100 ? int(n) : fixed(n, 1));
const allocs = (n: number) => fixed(n, 2);
const times = (a: number, b: number) => (b > 0 ? `${fixed(a / b, 2)}×` : "—");
const OLD: BuildLabel = BASELINE_COMMIT;

/** "8 VM/10,000 h" for a steady row. */
function cellName(r: CountRow): string {
  const [, w, h] = r.id.split("-");
  return `${w} VM/${int(Number(h))} h`;
}

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

function portableSection(f: Figures): string {
  const x = f.instructions;
  const p = x.plan;
  const builds = x.builds.map((b) => [
    b.label,
    b.source,
    int(b.bytes),
    `\`${b.sha256.slice(0, 16)}…\``,
    int(b.stats.functions),
    int(b.stats.instructions),
    `\`${b.allocator}\``,
    b.release.instructions === b.named.instructions && b.release.allocations === b.named.allocations
      ? `equal (${int(b.release.instructions)} / ${int(b.release.allocations)})`
      : `**differ** (${int(b.release.instructions)} vs ${int(b.named.instructions)})`,
  ]);
  const line = (r: CountRow, pick: (c: Counts) => number, fmt: (n: number) => string) => [
    r.label,
    ...BUILD_LABELS.map((l) => fmt(pick(r.values[l]))),
    times(pick(r.values[OLD]), pick(r.values.current)),
    times(pick(r.values.current), pick(r.values["no-op"])),
  ];
  const head = (what: string) => [
    what,
    "no-op",
    OLD,
    "current",
    `${OLD} ÷ current`,
    "current ÷ no-op",
  ];
  return [
    "## 7. Executed instructions and allocations (portable)",
    "",
    `What the module itself executes, counted in instrumented copies of the three release builds (\`bench/instrument.ts\`, with binaryen's JS API): the same numbers on any machine, JIT tier or load, for the same bytes and the same drive. **Instructions** = Wasm operators executed, every one counting 1 except the structural \`block\`, \`loop\`, \`else\`, \`end\` and \`nop\`; calls into the host count 1 each (their cost in the host is not counted). The copy keeps an i64 counter: each region (function body, loop body, \`if\` arm) adds its own instruction count when entered, and a branch that leaves regions early (\`br\`, \`br_if\` taken, \`br_table\`, \`return\`) subtracts what those regions charged past it and up to its target's end, so the count is exact, not an estimate. Self-check: ${x.probes} hand-counted probes (\`bench/probe.ts\`, also \`tests/bench/instrument.test.ts\`) pass before anything is counted. **Allocations** = entries into the allocator function named below (found through a copy built with \`--debug\`, whose code sections equal the release build's byte for byte); every GC object (\`__new\`), buffer growth (\`__renew\`) and buffer the host asks for (\`proxy_on_memory_allocate\`) goes through it. Counts are summed over every VM of the gateway, so work on any worker counts.`,
    "",
    `Drive (as figures 1–4): steady = one open background stream per host (host i on worker i mod W), ${int(p.warmup)} warm-up streams (at least one per host), then ${int(p.streams)} streams on host j mod N, worker j mod W, which is the worker that placed that host; averages include the amortized share of collector steps. First stream = ${int(p.coldHosts)} hosts no VM has seen, with 10,000 hosts tracked. Admin = one GET after a warm-up GET of the same format, 8 VMs, maxHosts 16,384, one stream per host. Drain = the close that ends the last of 3 streams of a draining host (drain started with \`POST /.conn-drain/drain\`), whose webhook is built, HMAC-signed and dispatched inside it (checked), averaged over ${p.drains} drains after ${p.drainWarmup}; the no-op's row is the same last close without a drain.`,
    "",
    table(
      [
        "build",
        "release bytes from",
        "bytes",
        "sha256",
        "functions",
        "static instructions",
        "allocator counted",
        "release vs named copy (identity workload)",
      ],
      builds,
    ),
    "",
    "Instructions executed:",
    "",
    table(
      head("per stream / GET / drain"),
      x.rows.map((r) => line(r, (c) => c.instructions, instr)),
    ),
    "",
    "Allocations:",
    "",
    table(
      head("per stream / GET / drain"),
      x.rows.map((r) => line(r, (c) => c.allocations, allocs)),
    ),
  ].join("\n");
}

function liftoffSection(f: Figures): string {
  const l = f.liftoff;
  const fmt = (id: string, ns: number) =>
    id.startsWith("admin") ? `${ms(ns)} ms` : `${us(ns)} µs`;
  return [
    `## 8. V8 with the optimizing tier off (\`${l.flag}\`)`,
    "",
    `The same drive in a child \`node ${l.flag}\`: every Wasm function stays in Liftoff, V8's baseline compiler, as in a freshly loaded plugin before TurboFan tiers it up. Streams: ${int(l.plan.warmup)} warm-up streams per build, then ${l.plan.runs} rounds of one ${int(l.plan.batch)}-stream batch per build (order rotating, a full GC before each batch); median per build. Admin: one warm-up GET, then the median of ${l.plan.adminRuns}. Wall time on this machine (see the load average above), unlike figure 7.`,
    "",
    table(
      ["what", "no-op", OLD, "current", "current ÷ no-op", `${OLD} ÷ no-op`, `${OLD} ÷ current`],
      l.rows.map((r) => [
        r.label,
        ...BUILD_LABELS.map((b) => fmt(r.id, r.ns[b])),
        times(r.ns.current, r.ns["no-op"]),
        times(r.ns[OLD], r.ns["no-op"]),
        times(r.ns[OLD], r.ns.current),
      ]),
    ),
  ].join("\n");
}

export function document(f: Figures): string {
  const e = f.env;
  return [
    "# Benchmarks",
    "",
    "Generated by `npx tsx bench/run.ts` (`make bench`); do not edit by hand. Every figure is measured in the same run as its baseline, on the release build in the project's TypeScript proxy-wasm host (`host/`), whose host calls cost what a JS function, a copy and a guest allocation cost — not what Envoy's C++ costs. Ratios against the no-op plugin (`assembly/noop.ts`: same ABI layer and compiler flags, no counting) travel better than the times; figure 7 (Wasm instructions executed and allocations, for the no-op, today's module at commit 845b441 and the current build) does not depend on the machine at all.",
    "",
    table(
      ["", ""],
      [
        ["date", e.date],
        ["machine", `${e.cpu}, ${e.cores} cores, ${e.os}`],
        ["Node", e.node],
        ["AssemblyScript", e.assemblyscript],
        ["build/plugin.wasm sha256", `\`${e.pluginSha.slice(0, 16)}…\``],
        ["build/noop.wasm sha256", `\`${e.noopSha.slice(0, 16)}…\``],
        [`${BASELINE_COMMIT} release build sha256`, `\`${e.baselineSha.slice(0, 16)}…\``],
        ["run time", `${fixed(e.seconds, 0)} s`],
        ["load average (1 min), start / end", `${fixed(e.loadStart, 2)} / ${fixed(e.loadEnd, 2)}`],
      ],
    ),
    "",
    "## Summary",
    "",
    summary(f),
    "",
    streamsSection(f),
    "",
    callsSection(f),
    "",
    adminSection(f),
    "",
    drainSection(f),
    "",
    scaleSection(f),
    "",
    sizeSection(f),
    "",
    portableSection(f),
    "",
    liftoffSection(f),
    "",
  ].join("\n");
}
