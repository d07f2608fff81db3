// A child process of the safety campaign at full scale: runs a share of the seeds and reports
// each case to the parent (the step list only for a case that found something, for shrinking).
import { type CaseReport, toReport } from "./case-report.js";
import { loadPlugin, runCase } from "./runner.js";

export type { CaseReport } from "./case-report.js";

export interface ThreadJob {
  wasm: string;
  seeds: number[];
  steps: number;
}

/**
 * Sends one message and waits until it is handed to the channel: a child that disconnects with
 * sends still queued loses them (seen under load: a third of the cases never reached the parent,
 * so their steps, and any violation in them, went uncounted).
 */
function sent(message: CaseReport | "done"): Promise<void> {
  return new Promise((resolve, reject) => {
    process.send?.(message, undefined, undefined, (err) => (err ? reject(err) : resolve()));
  });
}

if (process.send) {
  process.once("message", async (job: ThreadJob) => {
    const module = loadPlugin(job.wasm);
    for (const seed of job.seeds) {
      await sent(toReport(await runCase({ module, seed, count: job.steps })));
    }
    await sent("done");
    process.disconnect();
  });
}
