// The campaigns draw from the project's one seeded PRNG (host/random.ts); what lives here is
// only the fuzz-specific input shape built on it.
import type { Rng } from "../host/random.js";

/** A string of up to max UTF-16 units mixing ASCII, controls, NUL, unicode and lone surrogates. */
export function nastyString(rng: Rng, max: number): string {
  const n = rng.int(max + 1);
  let s = "";
  for (let i = 0; i < n; i++) {
    const k = rng.int(10);
    if (k < 5) s += String.fromCharCode(0x20 + rng.int(95));
    else if (k === 5) s += String.fromCharCode(rng.int(0x20));
    else if (k === 6) s += "\u0000";
    else if (k === 7) s += String.fromCharCode(0x80 + rng.int(0x7f80));
    else if (k === 8) s += String.fromCharCode(0xd800 + rng.int(0x800));
    else s += "\u{1F3AE}";
  }
  return s;
}
