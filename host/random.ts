import { randomFillSync } from "node:crypto";

/**
 * WASI random_get source. With a seed it is a deterministic PRNG (mulberry32), shared by all
 * VMs of the gateway in call order; without one it is the OS CSPRNG.
 */
export function makeRandom(seed?: number): (buf: Uint8Array) => void {
  if (seed === undefined) return (buf) => void randomFillSync(buf);
  const next = mulberry32(seed);
  return (buf) => {
    for (let i = 0; i < buf.length; i += 4) {
      const v = next();
      for (let j = 0; j < 4 && i + j < buf.length; j++) buf[i + j] = (v >>> (8 * j)) & 0xff;
    }
  };
}

/** mulberry32: a small seeded PRNG of uint32s; the same seed gives the same sequence. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}
