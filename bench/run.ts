// The bench entry point (`npx tsx bench/run.ts`, `make bench`): builds only if the release wasm
// is missing, installs wabt/binaryen from Debian if absent, builds commit 845b441 (once, cached
// in build/bench-cache) for the before/after figures, runs every figure, prints the report and
// writes it to docs/benchmarks.md. Progress goes to stderr, the report to stdout.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, type } from "node:os";
import { runAdmin } from "./admin.js";
import { BASELINE_COMMIT, countedBuilds } from "./builds.js";
import { runDrain } from "./drain.js";
import { loadBuilds, PLUGIN_WASM } from "./driver.js";
import { runInstructions } from "./instructions.js";
import { runLiftoff } from "./liftoff.js";
import { runProfile } from "./profile.js";
import { document, type Environment } from "./report.js";
import { runScale } from "./scale.js";
import { analyzeSize, functionNames } from "./size.js";
import { runStreams } from "./streams.js";
import { note } from "./util.js";

const OUT = "docs/benchmarks.md";

if (process.argv.includes("--help") || process.argv.includes("-h")) {
  console.log(
    "usage: npx tsx bench/run.ts   (make bench)\n" +
      "Runs every benchmark figure (a few minutes on 2 cores; builds commit 845b441 once into\n" +
      "build/bench-cache), prints the report and rewrites docs/benchmarks.md.",
  );
  process.exit(0);
}

function ensureBuild(): void {
  if (existsSync(PLUGIN_WASM)) return;
  note(`${PLUGIN_WASM} missing: npm run build`);
  execFileSync("npm", ["run", "--silent", "build"], { stdio: "inherit" });
}

function ensureTools(): void {
  try {
    execFileSync("bash", ["bench/install-tools.sh"], { stdio: ["ignore", "inherit", "inherit"] });
  } catch (e) {
    note(
      `could not install wabt/binaryen (${e instanceof Error ? e.message : e}); size figure will be partial`,
    );
  }
}

function assemblyscriptVersion(): string {
  const pkg = JSON.parse(readFileSync("node_modules/assemblyscript/package.json", "utf8")) as {
    version: string;
  };
  return pkg.version;
}

async function main(): Promise<void> {
  const started = process.hrtime.bigint();
  const loadStart = loadavg()[0] ?? 0;
  ensureBuild();
  ensureTools();
  const { plugin, noop } = loadBuilds();
  note(`conn-drain ${plugin.bytes.length} bytes, no-op ${noop.bytes.length} bytes`);
  // First, so a stale build/ (sources changed since `make build`) stops the run right away.
  const counted = await countedBuilds(plugin.bytes, noop.bytes);
  const size = analyzeSize(plugin.bytes, noop.bytes);
  const streams = await runStreams();
  const profile = await runProfile(functionNames(plugin.bytes));
  const drain = await runDrain(100);
  const scale = await runScale();
  const admin = await runAdmin();
  const instructions = await runInstructions(counted);
  const liftoff = runLiftoff(counted);
  const cpu = cpus();
  const env: Environment = {
    date: new Date().toISOString(),
    cpu: cpu[0]?.model ?? "unknown",
    cores: cpu.length,
    os: `${type()} ${release()}`,
    node: process.version,
    assemblyscript: assemblyscriptVersion(),
    pluginSha: plugin.sha256,
    noopSha: noop.sha256,
    baselineSha: counted.find((b) => b.label === BASELINE_COMMIT)?.sha256 ?? "",
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
    loadStart,
    loadEnd: loadavg()[0] ?? 0,
  };
  const doc = document({
    env,
    streams,
    profile,
    admin,
    drain,
    scale,
    size,
    instructions,
    liftoff,
  });
  writeFileSync(OUT, doc);
  process.stdout.write(`${doc}\n`);
  note(`wrote ${OUT} in ${env.seconds.toFixed(0)} s`);
}

main().catch((e: unknown) => {
  process.stderr.write(
    `bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
  );
  process.exit(1);
});
