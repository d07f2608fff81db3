// Faults: a worker dying mid-drain, the webhook cluster gone for long then back, a config update
// every second under traffic, a drain cancelled and restarted over and over. No lost or double
// signal, no count outliving its TTL.
import { Rng, type Stream } from "../host/index.js";
import {
  completeKey,
  drainConfig,
  drainGateway,
  WEBHOOK_CLUSTER,
  webhookCalls,
} from "../tests/plugin/drain-harness.js";
import { adminRequest, connectPlayer, counts } from "../tests/plugin/harness.js";
import { type Campaign, type Findings, type Scale, timed } from "./campaign.js";

const post = (gw: Awaited<ReturnType<typeof drainGateway>>, host: string) =>
  adminRequest(gw, `/.conn-drain/drain?host=${host}`, { method: "POST" });

async function workerDiesMidDrain(findings: Findings): Promise<void> {
  const gw = await drainGateway({ vmTtlSeconds: 5 });
  const host = "dies.example.com";
  const players = [0, 1, 2, 3].map((w) => connectPlayer(gw, host, { vm: w }));
  post(gw, host);
  gw.worker(2).crash("fault: worker dies holding a player");
  for (const [w, p] of players.entries()) if (w !== 2) p.close();
  findings.check(
    webhookCalls(gw).length === 0,
    "early signal",
    () => "completed while a dead VM's player was within its TTL",
  );
  for (let t = 0; t < 40 && webhookCalls(gw).length === 0; t++) gw.advance(1000);
  findings.check(
    webhookCalls(gw).length === 1,
    "lost signal",
    () => `${webhookCalls(gw).length} webhooks after the TTL`,
  );
  findings.check(completeKey(gw, host)?.reason === "drained", "key", () =>
    JSON.stringify(completeKey(gw, host)),
  );
}

async function clusterGoneThenBack(findings: Findings): Promise<void> {
  const gw = await drainGateway({
    webhook: { ...drainConfig.webhook, maxAttempts: 30, backoffMs: 1000 },
  });
  gw.setClusters([]);
  post(gw, "gone.example.com");
  gw.advance(10 * 60_000);
  const d = JSON.parse(adminRequest(gw, "/.conn-drain?host=gone.example.com").body).drain;
  findings.check(d.delivery.state === "pending" && d.delivery.attempts > 3, "retries", () =>
    JSON.stringify(d.delivery),
  );
  gw.setClusters([WEBHOOK_CLUSTER]);
  let calls = webhookCalls(gw);
  for (let t = 0; t < 400 && calls.length === 0; t++) {
    gw.advance(1000);
    calls = webhookCalls(gw);
  }
  findings.check(
    calls.length === 1,
    "not resumed",
    () => `${calls.length} calls after the cluster came back`,
  );
  if (calls[0]) gw.respondHttpCall(calls[0], { status: 200 });
  const after = JSON.parse(adminRequest(gw, "/.conn-drain?host=gone.example.com").body).drain;
  findings.check(after.delivery.state === "delivered", "delivery", () =>
    JSON.stringify(after.delivery),
  );
}

async function configEverySecond(findings: Findings, seconds: number, rng: Rng): Promise<void> {
  const gw = await drainGateway();
  const open: Stream[] = [];
  for (let s = 0; s < seconds; s++) {
    for (let k = 0; k < 5; k++)
      open.push(connectPlayer(gw, `cfg${rng.int(6)}.example.com`, { vm: rng.int(4) }));
    for (let k = 0; k < 4 && open.length > 0; k++)
      (open.splice(rng.int(open.length), 1)[0] as Stream).close();
    const r = await gw.updateConfig(
      JSON.stringify({ ...drainConfig, maxHosts: 64 + (s % 5), tickMs: 500 + (s % 7) * 100 }),
    );
    findings.check(r.accepted, "update refused", () => `second ${s}`);
    gw.advance(1000);
    findings.check(
      counts(gw).totalActive === open.length,
      "count",
      () => `second ${s}: ${counts(gw).totalActive} vs ${open.length}`,
    );
  }
  for (const s of open) s.close();
  findings.check(counts(gw).totalActive === 0, "residue", () => `${counts(gw).totalActive}`);
  findings.check(gw.trapCount === 0, "trap", () => "during config updates");
}

async function cancelRestart(findings: Findings, rounds: number, rng: Rng): Promise<void> {
  const gw = await drainGateway();
  const host = "flaky.example.com";
  const open: Stream[] = [];
  for (let i = 0; i < 3; i++) open.push(connectPlayer(gw, host, { vm: i }));
  for (let r = 0; r < rounds; r++) {
    post(gw, host);
    if (rng.chance(0.5)) open.push(connectPlayer(gw, host, { vm: rng.int(4) }));
    if (open.length > 1 && rng.chance(0.5)) (open.shift() as Stream).close();
    adminRequest(gw, `/.conn-drain/drain?host=${host}`, { method: "DELETE" });
    gw.advance(100);
  }
  findings.check(
    webhookCalls(gw).length === 0,
    "signal for a cancelled drain",
    () => `${webhookCalls(gw).length} webhooks`,
  );
  const last = JSON.parse(post(gw, host).body).drain.episode;
  for (const s of open) s.close();
  const calls = webhookCalls(gw);
  findings.check(
    calls.length === 1,
    "final signal",
    () => `${calls.length} webhooks for the final episode`,
  );
  findings.check(
    completeKey(gw, host)?.episode === last,
    "episode",
    () => `${completeKey(gw, host)?.episode} vs ${last}`,
  );
}

export const faultCampaign: Campaign = {
  name: "faults",
  run: (scale: Scale) =>
    timed("faults", async (findings, figures) => {
      const rng = new Rng(5);
      await workerDiesMidDrain(findings);
      await clusterGoneThenBack(findings);
      const seconds = scale === "full" ? 600 : 60;
      await configEverySecond(findings, seconds, rng);
      const rounds = scale === "full" ? 2_000 : 200;
      await cancelRestart(findings, rounds, rng);
      figures.configUpdates = seconds;
      figures.cancelRestartRounds = rounds;
      return 2 + seconds + rounds;
    }),
};
