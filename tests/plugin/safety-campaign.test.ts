import { describe, expect, it } from "vitest";
import { loadCases, replayCase, runCase } from "../../fuzz/safety/runner.js";
import { plugin } from "./harness.js";

// The model-based safety campaign (fuzz/safety/, issue 10): `make fuzz` runs a million steps;
// here, every saved regression case is replayed and a few thousand fresh steps are run. A
// violation names its kind, the step, and what the plugin said against the model.
describe("safety campaign: never signal drained with a player on", () => {
  const cases = loadCases();

  it("has saved regression cases to replay", () => {
    expect(cases.length).toBeGreaterThan(0);
  });

  for (const { file, c } of cases) {
    it(`${file.split("/").pop()}: ${c.note ?? c.kind}`, async () => {
      const r = await replayCase(plugin(), c);
      expect(r.violations.map((v) => `step ${v.step}: ${v.kind}: ${v.detail}`)).toEqual([]);
    });
  }

  it("3 seeds x 1,000 generated steps: no violation", async () => {
    const found: string[] = [];
    let steps = 0;
    for (const seed of [1, 2, 3]) {
      const r = await runCase({ module: plugin(), seed, count: 1000 });
      steps += r.steps.length;
      for (const v of r.violations)
        found.push(`seed ${seed} step ${v.step}: ${v.kind}: ${v.detail}`);
    }
    expect(steps).toBe(3000);
    expect(found).toEqual([]);
  });
});
