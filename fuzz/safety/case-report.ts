// What one generated case of the safety campaign reports to the campaign, from a child process
// (thread.ts) or in process: counts and figures always, the step list only for a case that found
// something (for shrinking). Its own module: thread.ts starts work when imported in a child.
import type { CaseResult } from "./runner.js";
import type { Step } from "./steps.js";

export interface CaseReport {
  seed: number;
  steps: number;
  ms: number;
  counts: Array<[string, number]>;
  violations: Array<{ kind: string; step: number; detail: string }>;
  figures: Record<string, number>;
  /** Present when the case found something. */
  stepList?: Step[];
  initial?: unknown;
}

export function toReport(r: CaseResult): CaseReport {
  return {
    seed: r.seed,
    steps: r.steps.length,
    ms: r.ms,
    counts: [...r.counts],
    violations: r.violations,
    figures: r.figures,
    ...(r.violations.length > 0 ? { stepList: r.steps, initial: r.initial } : {}),
  };
}
