// SipHash-2-4 (Aumasson and Bernstein): a keyed 64-bit hash. Player identities are stored only as
// this hash under a key no client knows (player_key.ts), so a stored value neither reveals the
// identity nor lets a client craft identities that collide on purpose.

// The initialisation constants, "somepseudorandomlygeneratedbytes" in four words, written in
// halves (a 64-bit literal does not survive the lint's JavaScript reading of this file).
const C0: u64 = ((<u64>0x736f6d65) << 32) | 0x70736575;
const C1: u64 = ((<u64>0x646f7261) << 32) | 0x6e646f6d;
const C2: u64 = ((<u64>0x6c796765) << 32) | 0x6e657261;
const C3: u64 = ((<u64>0x74656462) << 32) | 0x79746573;

/**
 * SipHash-2-4 of the `size` bytes at `p` under the key (k0, k1), each read little-endian. The
 * state lives in locals and each round is written out once: this runs on every identified
 * stream, and an interpreter (WAMR) pays for every load and store a field would cost.
 */
export function sipHash24(k0: u64, k1: u64, p: usize, size: usize): u64 {
  let v0 = k0 ^ C0;
  let v1 = k1 ^ C1;
  let v2 = k0 ^ C2;
  let v3 = k1 ^ C3;
  const whole = size & ~(<usize>7);
  let last: u64 = (<u64>(size & 0xff)) << 56;
  for (let i = whole; i < size; i++) last |= (<u64>load<u8>(p + i)) << (<u64>(i - whole) * 8);
  // Each block, the last one included, in two rounds ("2"); then four to finish ("4").
  let at: usize = 0;
  let m: u64 = whole > 0 ? load<u64>(p) : last;
  let rounds = 2;
  v3 ^= m;
  while (true) {
    for (let r = 0; r < rounds; r++) {
      v0 += v1;
      v1 = rotl<u64>(v1, 13) ^ v0;
      v0 = rotl<u64>(v0, 32);
      v2 += v3;
      v3 = rotl<u64>(v3, 16) ^ v2;
      v0 += v3;
      v3 = rotl<u64>(v3, 21) ^ v0;
      v2 += v1;
      v1 = rotl<u64>(v1, 17) ^ v2;
      v2 = rotl<u64>(v2, 32);
    }
    if (rounds == 4) break;
    v0 ^= m;
    if (at == whole) {
      // That was the last block.
      v2 ^= 0xff;
      rounds = 4;
      continue;
    }
    at += 8;
    m = at < whole ? load<u64>(p + at) : last;
    v3 ^= m;
  }
  return v0 ^ v1 ^ v2 ^ v3;
}
