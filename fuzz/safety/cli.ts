// The safety campaign from the command line, against any build:
//   npx tsx fuzz/safety/cli.ts [--wasm FILE] [--seeds A..B] [--steps N] [--without op,op]
//                              [--shrink [--shrink-all]] [--save [--out DIR]]
//   npx tsx fuzz/safety/cli.ts [--wasm FILE] --replay fuzz/corpus/safety/<case>.json [--trace]
// --shrink shrinks the first violation of each kind to a short replay (and prints it); --save
// also writes it to fuzz/corpus/safety/.
import { readFileSync } from "node:fs";
import { keepCase, loadPlugin, pluginPath, replayCase, runCase, type SavedCase } from "./runner.js";
import { describeStep } from "./steps.js";

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const value = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};

const wasm = pluginPath(value("--wasm"));
const module = loadPlugin(wasm);
const replay = value("--replay");
if (replay) {
  const c = JSON.parse(readFileSync(replay, "utf8")) as SavedCase;
  const r = await replayCase(module, c, flag("--trace") ? (l) => console.log(l) : undefined);
  console.log(`${replay}: ${c.steps.length} steps on ${wasm}`);
  for (const v of r.violations) console.log(`  step ${v.step}: ${v.kind}: ${v.detail}`);
  console.log(r.violations.length === 0 ? "  no violation" : `  ${r.violations.length} kind(s)`);
  process.exit(r.violations.length === 0 ? 0 : 1);
}

const [from, to] = (value("--seeds") ?? "1..10").split("..").map(Number) as [number, number];
const count = Number(value("--steps") ?? 2000);
const without = value("--without")?.split(",");
const kinds = new Map<string, number>();
const shrunk = new Set<string>();
let steps = 0;
let ms = 0;
for (let seed = from; seed <= to; seed++) {
  const r = await runCase({ module, seed, count, without });
  steps += r.steps.length;
  ms += r.ms;
  for (const [k, n] of r.counts) kinds.set(k, (kinds.get(k) ?? 0) + n);
  for (const v of r.violations) {
    console.log(`seed ${seed} step ${v.step}: ${v.kind}: ${v.detail}`);
    if (!(flag("--shrink") || flag("--save"))) continue;
    if (!flag("--shrink-all") && shrunk.has(v.kind)) continue;
    shrunk.add(v.kind);
    const k = await keepCase(module, r, v, wasm, flag("--save"), value("--out"));
    console.log(
      `  shrunk to ${k.c.steps.length} steps (${k.replays} replays)${k.path ? `: ${k.path}` : ""}`,
    );
    for (const [i, s] of k.c.steps.entries()) console.log(`    ${i}: ${describeStep(s)}`);
    console.log(`    => step ${k.c.step}: ${k.c.detail}`);
  }
}
console.log(
  `${steps} steps in ${(ms / 1000).toFixed(1)} s (${Math.round(steps / (ms / 1000))} steps/s); ` +
    `violations: ${[...kinds].map(([k, n]) => `${k} ${n}`).join(", ") || "none"}`,
);
