// How the report writes a number that means one thing across figures (µs, a goal's verdict,
// instruction and allocation averages, a ratio between builds); the generic formats are in
// util.ts.
import { BASELINE_COMMIT, type BuildLabel } from "./builds.js";
import { fixed, int } from "./util.js";

export const us = (ns: number) => fixed(ns / 1000, 1);
export const verdict = (ok: boolean) => (ok ? "met" : "**missed**");

/** Instructions: whole numbers; an average below 100 keeps one decimal. */
export const instr = (n: number) => (n >= 100 ? int(n) : fixed(n, 1));
export const allocs = (n: number) => fixed(n, 2);
export const times = (a: number, b: number) => (b > 0 ? `${fixed(a / b, 2)}×` : "—");
/** The build the before/after figures compare against. */
export const OLD: BuildLabel = BASELINE_COMMIT;
