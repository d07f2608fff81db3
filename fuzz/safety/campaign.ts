// The safety campaign as `make fuzz` and the test suite run it: the saved regression cases
// first, then generated cases (full scale: 500 seeds x 2,000 steps, split over one child process
// per core). Each violation is shrunk to a short replay and saved under fuzz/corpus/safety/.
import { fork } from "node:child_process";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { type Campaign, type Scale, timed } from "../campaign.js";
import { type CaseReport, toReport } from "./case-report.js";
import type { Violation } from "./checker.js";
import {
  type CaseResult,
  keepCase,
  loadCases,
  loadPlugin,
  pluginPath,
  replayCase,
  runCase,
  WORKERS,
} from "./runner.js";
import type { ConfigSpec } from "./steps.js";
import type { ThreadJob } from "./thread.js";

/**
 * Seeds and steps per scale; SAFETY_SEEDS=A..B and SAFETY_STEPS=N override (and SAFETY_SAVE_DIR
 * saves new cases elsewhere than fuzz/corpus/safety/, e.g. when pointing at an old build).
 */
function plan(scale: Scale): { seeds: number[]; steps: number } {
  const [a, b] = (process.env.SAFETY_SEEDS ?? (scale === "full" ? "1..500" : "1..3"))
    .split("..")
    .map(Number) as [number, number];
  const steps = Number(process.env.SAFETY_STEPS ?? (scale === "full" ? 2000 : 1000));
  return { seeds: Array.from({ length: b - a + 1 }, (_, i) => a + i), steps };
}

function inProcess(module: WebAssembly.Module, seeds: number[], steps: number) {
  return (async function* () {
    for (const seed of seeds) {
      const r = await runCase({ module, seed, count: steps });
      yield toReport(r);
    }
  })();
}

/** Runs the seeds in `n` child processes (round-robin), yielding each case as it finishes. */
async function* forked(wasm: string, seeds: number[], steps: number, n: number) {
  const script = fileURLToPath(new URL("./thread.ts", import.meta.url));
  const queue: CaseReport[] = [];
  let running = n;
  let wake: (() => void) | undefined;
  let failure: Error | undefined;
  for (let i = 0; i < n; i++) {
    const child = fork(script, [], { execArgv: ["--import", "tsx"], stdio: "inherit" });
    const job: ThreadJob = { wasm, seeds: seeds.filter((_, k) => k % n === i), steps };
    child.send(job);
    child.on("message", (m: CaseReport | "done") => {
      if (m !== "done") queue.push(m);
      wake?.();
    });
    child.on("exit", (code) => {
      if (code !== 0) failure ??= new Error(`safety campaign child ${i} exited with ${code}`);
      running--;
      wake?.();
    });
  }
  for (;;) {
    while (queue.length > 0) yield queue.shift() as CaseReport;
    if (failure) throw failure;
    if (running === 0) return;
    await new Promise<void>((resolve) => {
      wake = resolve;
    });
    wake = undefined;
  }
}

export const safetyCampaign: Campaign = {
  name: "safety",
  forks: true,
  run: (scale: Scale) =>
    timed("safety", async (findings, figures) => {
      const wasm = pluginPath();
      const module = loadPlugin(wasm);
      let tried = 0;
      // Saved regression cases: each must now replay without a violation.
      const saved = loadCases();
      for (const { file, c } of saved) {
        const r = await replayCase(module, c);
        tried += r.steps.length;
        for (const v of r.violations)
          findings.add(`regression ${v.kind}`, `${file} step ${v.step}: ${v.detail}`);
      }
      figures.savedCases = saved.length;
      const { seeds, steps } = plan(scale);
      const parallel = scale === "full" ? Math.min(availableParallelism(), 4) : 1;
      const cases =
        parallel > 1 ? forked(wasm, seeds, steps, parallel) : inProcess(module, seeds, steps);
      const kinds = new Map<string, number>();
      const sums: Record<string, number> = {};
      const firsts = new Map<string, { report: CaseReport; v: Violation }>();
      let generated = 0;
      let cpuMs = 0;
      let received = 0;
      const start = performance.now();
      for await (const r of cases) {
        received++;
        generated += r.steps;
        cpuMs += r.ms;
        for (const [k, n] of r.counts) kinds.set(k, (kinds.get(k) ?? 0) + n);
        for (const [k, n] of Object.entries(r.figures)) {
          if (k.startsWith("max")) sums[k] = Math.max(sums[k] ?? 0, n);
          else sums[k] = (sums[k] ?? 0) + n;
        }
        for (const v of r.violations) if (!firsts.has(v.kind)) firsts.set(v.kind, { report: r, v });
      }
      const wallMs = performance.now() - start;
      // Every seed must report: a case lost on the way is a case whose violations went unseen.
      findings.check(
        received === seeds.length,
        "lost cases",
        () => `${seeds.length - received} of ${seeds.length} cases never reported back`,
      );
      tried += generated;
      // Each kind's first violation, shrunk to a short replay and kept as a regression case.
      for (const [kind, { report, v }] of firsts) {
        const r: CaseResult = {
          seed: report.seed,
          workers: WORKERS,
          initial: report.initial as ConfigSpec,
          steps: report.stepList ?? [],
          violations: report.violations,
          counts: new Map(report.counts),
          figures: {} as CaseResult["figures"],
          ms: report.ms,
        };
        const kept = await keepCase(module, r, v, wasm, true, process.env.SAFETY_SAVE_DIR);
        findings.add(
          kind,
          `seed ${report.seed} step ${v.step}: ${v.detail} — ${kinds.get(kind)} in all; ` +
            `replay (${kept.c.steps.length} steps): npx tsx fuzz/safety/cli.ts --replay ${kept.path}`,
        );
      }
      figures.seeds = seeds.length;
      figures.steps = generated;
      figures.processes = parallel;
      figures.stepsPerSecond = Math.round(generated / (wallMs / 1000));
      figures.stepsPerCpuSecond = Math.round(generated / (cpuMs / 1000));
      for (const k of [
        "opened",
        "posts",
        "pushes",
        "rolloutSteps",
        "crashes",
        "revived",
        "injected",
        "stormWrites",
        "jumps",
        "replies",
        "completions",
        "webhooks",
        "hostQueries",
        "flaggedUpperBounds",
        "playerAnswers",
        "exactPlayerAnswers",
        "returningLetIn",
        "refusedWhileDraining",
        "maxKeys",
        "maxMemory",
      ]) {
        figures[k] = sums[k] ?? 0;
      }
      figures.violations = [...kinds].map(([k, n]) => `${k} ${n}`).join(", ") || "none";
      return tried;
    }),
};
