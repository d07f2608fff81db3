import { describe, expect, it } from "vitest";
import { campaigns } from "../../fuzz/campaigns.js";
import { safetyCampaign } from "../../fuzz/safety/campaign.js";

// The hardening campaigns of `make fuzz`, at a smaller scale so the suite stays quick. Each one
// asserts its own oracle (no trap, exact counts, one signal per drain, bounded memory) and reports
// a finding for every violation; none may be found. The safety campaign is left to
// tests/plugin/safety-campaign.test.ts, which replays the same saved cases and runs the same
// seeds with an assertion per case (run here too, it would do all of that twice per `make test`
// and save any failing case into fuzz/corpus/safety/).
describe("hardening campaigns (test scale; make fuzz runs them at full scale)", () => {
  for (const campaign of campaigns.filter((c) => c !== safetyCampaign)) {
    it(campaign.name, async () => {
      const report = await campaign.run("test");
      expect(report.tried).toBeGreaterThan(0);
      expect(report.findings).toEqual([]);
    });
  }
});
