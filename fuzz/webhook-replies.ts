// Webhook reply fuzzing: any status, missing or huge bodies, odd headers, resets and timeouts.
// No trap, and the delivery state always matches what the receiver answered.
import { type HttpCall, Rng } from "../host/index.js";
import { drainGateway, WEBHOOK_CLUSTER } from "../tests/plugin/drain-harness.js";
import { adminRequest } from "../tests/plugin/harness.js";
import { type Campaign, type Scale, timed } from "./campaign.js";
import { nastyString } from "./rng.js";

export const webhookCampaign: Campaign = {
  name: "webhook reply fuzzing",
  run: (scale: Scale) =>
    timed("webhook reply fuzzing", async (findings, figures) => {
      const drains = scale === "full" ? 3_000 : 200;
      const rng = new Rng(99);
      const gw = await drainGateway(
        {
          maxHosts: 4096,
          webhook: {
            cluster: WEBHOOK_CLUSTER,
            authority: "hook",
            maxAttempts: 4,
            backoffMs: 100,
            timeoutMs: 500,
          },
        },
        2,
      );
      let replies = 0;
      let delivered = 0;
      let failed = 0;
      for (let d = 0; d < drains; d++) {
        const host = `h${d}.example.com`;
        adminRequest(gw, `/.conn-drain/drain?host=${host}`, { method: "POST" });
        let outcome: "delivered" | "failed" | undefined;
        for (let step = 0; step < 40 && outcome === undefined; step++) {
          const call = gw
            .httpCalls()
            .find((c) => new TextDecoder().decode(c.body).includes(`"${host}"`));
          if (call) {
            replies++;
            outcome = reply(gw, call, rng);
          }
          gw.advance(200);
          const view = JSON.parse(adminRequest(gw, `/.conn-drain?host=${host}`).body);
          const state = view.drain?.delivery?.state;
          if (outcome === "delivered")
            findings.check(
              state === "delivered",
              "state",
              () => `${host} answered 2xx but shows ${state}`,
            );
          if (state === "failed") outcome = "failed";
          if (outcome === "delivered") break;
        }
        findings.check(
          outcome !== undefined,
          "stuck",
          () => `${host} neither delivered nor failed after 40 steps`,
        );
        if (outcome === "delivered") delivered++;
        if (outcome === "failed") failed++;
        findings.check(gw.trapCount === 0, "trap", () => `during ${host}`);
        if (gw.trapCount > 0) break;
      }
      figures.delivered = delivered;
      figures.failed = failed;
      figures.replies = replies;
      return replies;
    }),
};

/** Answers one call at random; returns "delivered" if that answer must end delivery. */
function reply(
  gw: Awaited<ReturnType<typeof drainGateway>>,
  call: HttpCall,
  rng: Rng,
): "delivered" | undefined {
  const k = rng.int(6);
  if (k === 0) {
    gw.failHttpCall(call);
    return undefined;
  }
  if (k === 1) return undefined; // let it time out
  const status =
    k === 2
      ? 200 + rng.int(100)
      : rng.pick([100, 101, 199, 300, 302, 400, 404, 409, 429, 500, 502, 503, 599]);
  const body = rng.pick(["", "ok", "x".repeat(1 << 20), nastyString(rng, 200)]);
  const headers: Array<[string, string]> = rng.chance(0.2) ? [["x-odd", nastyString(rng, 50)]] : [];
  gw.respondHttpCall(call, { status, body, headers });
  return status >= 200 && status < 300 ? "delivered" : undefined;
}
