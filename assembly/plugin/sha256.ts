// SHA-256 and HMAC-SHA256 (FIPS 180-4, RFC 2104), for signing webhook bodies so a receiver can
// reject forgeries. Envoy gives a Wasm plugin no crypto, so the plugin carries its own.

const K: StaticArray<u32> = [
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

function compress(state: StaticArray<u32>, block: Uint8Array, w: StaticArray<u32>): void {
  for (let i = 0; i < 16; i++) {
    unchecked(
      (w[i] =
        ((<u32>block[4 * i]) << 24) |
        ((<u32>block[4 * i + 1]) << 16) |
        ((<u32>block[4 * i + 2]) << 8) |
        <u32>block[4 * i + 3]),
    );
  }
  for (let i = 16; i < 64; i++) {
    const a = unchecked(w[i - 15]);
    const b = unchecked(w[i - 2]);
    const s0 = rotr<u32>(a, 7) ^ rotr<u32>(a, 18) ^ (a >>> 3);
    const s1 = rotr<u32>(b, 17) ^ rotr<u32>(b, 19) ^ (b >>> 10);
    unchecked((w[i] = unchecked(w[i - 16]) + s0 + unchecked(w[i - 7]) + s1));
  }
  let a = unchecked(state[0]);
  let b = unchecked(state[1]);
  let c = unchecked(state[2]);
  let d = unchecked(state[3]);
  let e = unchecked(state[4]);
  let f = unchecked(state[5]);
  let g = unchecked(state[6]);
  let h = unchecked(state[7]);
  for (let i = 0; i < 64; i++) {
    const t1 =
      h +
      (rotr<u32>(e, 6) ^ rotr<u32>(e, 11) ^ rotr<u32>(e, 25)) +
      ((e & f) ^ (~e & g)) +
      unchecked(K[i]) +
      unchecked(w[i]);
    const t2 =
      (rotr<u32>(a, 2) ^ rotr<u32>(a, 13) ^ rotr<u32>(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    h = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  unchecked((state[0] += a));
  unchecked((state[1] += b));
  unchecked((state[2] += c));
  unchecked((state[3] += d));
  unchecked((state[4] += e));
  unchecked((state[5] += f));
  unchecked((state[6] += g));
  unchecked((state[7] += h));
}

export function sha256(data: Uint8Array): Uint8Array {
  const state: StaticArray<u32> = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
  ];
  const w = new StaticArray<u32>(64);
  // Pad: data, 0x80, zeros, 64-bit big-endian bit length, to a multiple of 64 bytes.
  const total = ((data.length + 9 + 63) >> 6) << 6;
  const padded = new Uint8Array(total);
  padded.set(data);
  padded[data.length] = 0x80;
  const bits = <u64>data.length * 8;
  for (let i = 0; i < 8; i++) padded[total - 1 - i] = <u8>(bits >> (8 * i));
  for (let off = 0; off < total; off += 64) compress(state, padded.subarray(off, off + 64), w);
  const out = new Uint8Array(32);
  for (let i = 0; i < 8; i++) {
    const v = unchecked(state[i]);
    out[4 * i] = <u8>(v >> 24);
    out[4 * i + 1] = <u8>(v >> 16);
    out[4 * i + 2] = <u8>(v >> 8);
    out[4 * i + 3] = <u8>v;
  }
  return out;
}

export function hmacSha256(key: Uint8Array, message: Uint8Array): Uint8Array {
  const k = key.length > 64 ? sha256(key) : key;
  const inner = new Uint8Array(64 + message.length);
  const outer = new Uint8Array(64 + 32);
  for (let i = 0; i < 64; i++) {
    const b: u8 = i < k.length ? k[i] : 0;
    inner[i] = b ^ 0x36;
    outer[i] = b ^ 0x5c;
  }
  inner.set(message, 64);
  outer.set(sha256(inner), 64);
  return sha256(outer);
}

export function toHex(bytes: Uint8Array): string {
  const digits = "0123456789abcdef";
  const parts = new Array<string>(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const b = <i32>bytes[i];
    parts[i] = digits.charAt(b >> 4) + digits.charAt(b & 15);
  }
  return parts.join("");
}
