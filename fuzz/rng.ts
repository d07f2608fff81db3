// Seeded randomness for the campaigns: a run is repeatable from its seed.
export class Rng {
  private a: number;

  constructor(seed: number) {
    this.a = seed >>> 0;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    this.a = (this.a + 0x6d2b79f5) >>> 0;
    let t = this.a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) % n) >>> 0;
  }

  chance(p: number): boolean {
    return this.int(1_000_000) < p * 1_000_000;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  bytes(n: number): Uint8Array {
    return Uint8Array.from({ length: n }, () => this.int(256));
  }

  /** A string mixing ASCII, controls, NUL, unicode and lone surrogates. */
  nastyString(max: number): string {
    const n = this.int(max + 1);
    let s = "";
    for (let i = 0; i < n; i++) {
      const k = this.int(10);
      if (k < 5) s += String.fromCharCode(0x20 + this.int(95));
      else if (k === 5) s += String.fromCharCode(this.int(0x20));
      else if (k === 6) s += "\u0000";
      else if (k === 7) s += String.fromCharCode(0x80 + this.int(0x7f80));
      else if (k === 8) s += String.fromCharCode(0xd800 + this.int(0x800));
      else s += "\u{1F3AE}";
    }
    return s;
  }
}
