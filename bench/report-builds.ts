// The sections of docs/benchmarks.md that compare the three builds (no-op, commit 845b441,
// current): executed instructions and allocations, which do not depend on the machine (7), and
// time with V8's optimizing tier off (8).
import { BUILD_LABELS } from "./builds.js";
import type { CountRow, Counts } from "./instructions.js";
import type { Figures } from "./report-figures.js";
import { allocs, instr, OLD, times, us } from "./report-format.js";
import { int, ms, table } from "./util.js";

export function portableSection(f: Figures): string {
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

export function liftoffSection(f: Figures): string {
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
