// SipHash-2-4 in TypeScript, from the paper's description: the reference the plugin's stored
// player hashes are checked against (tests/plugin/returning-players.test.ts), itself checked
// against the paper's published test vectors.
const MASK = (1n << 64n) - 1n;

function rotl(x: bigint, b: bigint): bigint {
  return ((x << b) | (x >> (64n - b))) & MASK;
}

function readU64(bytes: Uint8Array, at: number): bigint {
  let v = 0n;
  for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(bytes[at + i] ?? 0);
  return v;
}

/** SipHash-2-4 of `message` under a 16-byte key. */
export function sipHash24(key: Uint8Array, message: Uint8Array): bigint {
  const k0 = readU64(key, 0);
  const k1 = readU64(key, 8);
  const v = [
    k0 ^ 0x736f6d6570736575n,
    k1 ^ 0x646f72616e646f6dn,
    k0 ^ 0x6c7967656e657261n,
    k1 ^ 0x7465646279746573n,
  ];
  const round = () => {
    v[0] = (v[0]! + v[1]!) & MASK;
    v[1] = rotl(v[1]!, 13n) ^ v[0];
    v[0] = rotl(v[0], 32n);
    v[2] = (v[2]! + v[3]!) & MASK;
    v[3] = rotl(v[3]!, 16n) ^ v[2];
    v[0] = (v[0] + v[3]) & MASK;
    v[3] = rotl(v[3], 21n) ^ v[0];
    v[2] = (v[2] + v[1]) & MASK;
    v[1] = rotl(v[1], 17n) ^ v[2];
    v[2] = rotl(v[2], 32n);
  };
  const absorb = (m: bigint) => {
    v[3] = v[3]! ^ m;
    round();
    round();
    v[0] = v[0]! ^ m;
  };
  const whole = message.length - (message.length % 8);
  for (let i = 0; i < whole; i += 8) absorb(readU64(message, i));
  let last = BigInt(message.length & 0xff) << 56n;
  for (let i = whole; i < message.length; i++) {
    last |= BigInt(message[i]!) << BigInt((i - whole) * 8);
  }
  absorb(last);
  v[2] = v[2]! ^ 0xffn;
  for (let i = 0; i < 4; i++) round();
  return v[0]! ^ v[1]! ^ v[2]! ^ v[3]!;
}
