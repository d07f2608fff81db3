import { describe, expect, it } from "vitest";
import { campaigns } from "../../fuzz/campaigns.js";

// The hardening campaigns of `make fuzz`, at a smaller scale so the suite stays quick. Each one
// asserts its own oracle (no trap, exact counts, one signal per drain, bounded memory) and reports
// a finding for every violation; none may be found.
describe("hardening campaigns (test scale; make fuzz runs them at full scale)", () => {
  for (const campaign of campaigns) {
    it(campaign.name, async () => {
      const report = await campaign.run("test");
      expect(report.tried).toBeGreaterThan(0);
      expect(report.findings).toEqual([]);
    });
  }
});
