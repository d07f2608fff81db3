import { randomFillSync } from "node:crypto";

/**
 * The project's one seeded PRNG (mulberry32): the host's WASI random_get and rollout order, the
 * test suites and the fuzz campaigns all draw from it, so a run is repeatable from its seed and
 * there is one generator to read. Not for secrets: without a seed, random_get uses the OS CSPRNG.
 */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** The next uint32 of the sequence. */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** An integer in [0, n) (modulo draw: the bias is negligible for the small n used here). */
  int(n: number): number {
    return this.next() % n;
  }

  /** True with probability p, to one part in a million. */
  chance(p: number): boolean {
    return this.int(1_000_000) < p * 1_000_000;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  /** n bytes, one draw each (the fuzz campaigns' sequences depend on that). */
  bytes(n: number): Uint8Array {
    return Uint8Array.from({ length: n }, () => this.int(256));
  }

  /**
   * Fills buf four bytes per draw, little-endian, as random_get always has; a draw's bytes past
   * the end are dropped, so a fill of n bytes consumes ceil(n / 4) draws.
   */
  fill(buf: Uint8Array): void {
    for (let i = 0; i < buf.length; i += 4) {
      const v = this.next();
      for (let j = 0; j < 4 && i + j < buf.length; j++) buf[i + j] = (v >>> (8 * j)) & 0xff;
    }
  }
}

/**
 * WASI random_get source. With a seed it is one Rng shared by all VMs of the gateway in call
 * order; without one it is the OS CSPRNG.
 */
export function makeRandom(seed?: number): (buf: Uint8Array) => void {
  if (seed === undefined) return (buf) => void randomFillSync(buf);
  const rng = new Rng(seed);
  return (buf) => rng.fill(buf);
}
