// make fuzz: every hardening campaign at full scale; prints what each tried and found and
// exits non-zero if anything was found. Bounded to run in under ten minutes on 2 cores: campaigns
// that work in child processes start first and run beside the single-threaded ones.
import { writeFileSync } from "node:fs";
import type { Campaign, Report } from "./campaign.js";
import { campaigns } from "./campaigns.js";

const only = process.argv.slice(2);
if (only.includes("--help") || only.includes("-h")) {
  console.log(
    "usage: npx tsx fuzz/run.ts [NAME...]   (make fuzz)\n" +
      "Runs every hardening campaign at full scale, or those whose name contains a NAME\n" +
      `(${campaigns.map((c) => c.name).join(", ")}); report in build/fuzz-report.json.\n` +
      "SAFETY_SEEDS=A..B and SAFETY_STEPS=N change the safety campaign's plan.",
  );
  process.exit(0);
}
const chosen = campaigns.filter((c) => only.length === 0 || only.some((o) => c.name.includes(o)));

function print(c: Campaign, r: Report): void {
  const figures = Object.entries(r.figures)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  console.log(
    `${c.name}: ${r.tried.toLocaleString("en")} tried in ${(r.ms / 1000).toFixed(1)} s, ` +
      `${r.findings.length} findings  ${figures}`,
  );
  for (const f of r.findings) console.log(`   FINDING ${f}`);
}

const started = Date.now();
const reports: Report[] = [];
const beside = chosen
  .filter((c) => c.forks)
  .map((c) =>
    c.run("full").then((r) => {
      print(c, r);
      return r;
    }),
  );
for (const c of chosen.filter((c) => !c.forks)) {
  const r = await c.run("full");
  reports.push(r);
  print(c, r);
}
reports.push(...(await Promise.all(beside)));
writeFileSync("build/fuzz-report.json", `${JSON.stringify(reports, null, 2)}\n`);
const found = reports.reduce((n, r) => n + r.findings.length, 0);
const wall = ((Date.now() - started) / 1000).toFixed(0);
console.log(`${found === 0 ? "no findings" : `${found} findings`} (${wall} s)`);
process.exit(found === 0 ? 0 : 1);
