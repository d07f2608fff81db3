// SipHash-2-4 (Aumasson and Bernstein): a keyed 64-bit hash. Player identities are stored only as
// this hash under a key no client knows (player_key.ts), so a stored value neither reveals the
// identity nor lets a client craft identities that collide on purpose.

function rotl(x: u64, b: u64): u64 {
  return (x << b) | (x >> (64 - b));
}

class SipState {
  v0: u64 = 0;
  v1: u64 = 0;
  v2: u64 = 0;
  v3: u64 = 0;

  round(): void {
    this.v0 += this.v1;
    this.v1 = rotl(this.v1, 13) ^ this.v0;
    this.v0 = rotl(this.v0, 32);
    this.v2 += this.v3;
    this.v3 = rotl(this.v3, 16) ^ this.v2;
    this.v0 += this.v3;
    this.v3 = rotl(this.v3, 21) ^ this.v0;
    this.v2 += this.v1;
    this.v1 = rotl(this.v1, 17) ^ this.v2;
    this.v2 = rotl(this.v2, 32);
  }

  absorb(m: u64): void {
    this.v3 ^= m;
    this.round();
    this.round();
    this.v0 ^= m;
  }
}

// The initialisation constants, "somepseudorandomlygeneratedbytes" in four words, written in
// halves (a 64-bit literal does not survive the lint's JavaScript reading of this file).
const C0: u64 = ((<u64>0x736f6d65) << 32) | 0x70736575;
const C1: u64 = ((<u64>0x646f7261) << 32) | 0x6e646f6d;
const C2: u64 = ((<u64>0x6c796765) << 32) | 0x6e657261;
const C3: u64 = ((<u64>0x74656462) << 32) | 0x79746573;

// One hash at a time per VM (callbacks never interleave), so one state is enough.
const state = new SipState();

/** SipHash-2-4 of the `size` bytes at `p` under the key (k0, k1), each read little-endian. */
export function sipHash24(k0: u64, k1: u64, p: usize, size: usize): u64 {
  const s = state;
  s.v0 = k0 ^ C0;
  s.v1 = k1 ^ C1;
  s.v2 = k0 ^ C2;
  s.v3 = k1 ^ C3;
  const whole = size & ~(<usize>7);
  for (let i: usize = 0; i < whole; i += 8) s.absorb(load<u64>(p + i));
  let last: u64 = (<u64>(size & 0xff)) << 56;
  for (let i: usize = whole; i < size; i++)
    last |= (<u64>load<u8>(p + i)) << (<u64>(i - whole) * 8);
  s.absorb(last);
  s.v2 ^= 0xff;
  s.round();
  s.round();
  s.round();
  s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}
