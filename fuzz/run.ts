// make fuzz: every hardening campaign at full scale; prints what each tried and found and
// exits non-zero if anything was found. Bounded to run in under ten minutes on 2 cores.
import { writeFileSync } from "node:fs";
import type { Report } from "./campaign.js";
import { campaigns } from "./campaigns.js";

const only = process.argv.slice(2);
const reports: Report[] = [];
for (const c of campaigns) {
  if (only.length > 0 && !only.some((o) => c.name.includes(o))) continue;
  process.stdout.write(`${c.name} … `);
  const r = await c.run("full");
  reports.push(r);
  const figures = Object.entries(r.figures)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  console.log(
    `${r.tried.toLocaleString("en")} tried in ${(r.ms / 1000).toFixed(1)} s, ${r.findings.length} findings  ${figures}`,
  );
  for (const f of r.findings) console.log(`   FINDING ${f}`);
}
writeFileSync("build/fuzz-report.json", `${JSON.stringify(reports, null, 2)}\n`);
const found = reports.reduce((n, r) => n + r.findings.length, 0);
console.log(found === 0 ? "no findings" : `${found} findings`);
process.exit(found === 0 ? 0 : 1);
