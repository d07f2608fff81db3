// The sections of docs/benchmarks.md for the figures timed on this machine against the no-op
// plugin (1 to 6: per-stream cost, host calls, admin path, drain latency, memory, size): each
// states how it was measured next to its table, so the numbers can be judged.
import { SEED_DEFAULTS } from "./drain.js";
import { CATEGORIES } from "./profile.js";
import type { Figures } from "./report-figures.js";
import { us } from "./report-format.js";
import type { CallCounts } from "./streams.js";
import { bytes, fixed, int, ms, ratio, table } from "./util.js";

export function streamsSection(f: Figures): string {
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

export function callsSection(f: Figures): string {
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

export function adminSection(f: Figures): string {
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

export function drainSection(f: Figures): string {
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

export function scaleSection(f: Figures): string {
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

export function sizeSection(f: Figures): string {
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
