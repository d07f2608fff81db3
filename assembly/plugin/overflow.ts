// Overflow slots: where the streams of hosts that found no slot of their own are counted, one
// of OVERFLOW_BUCKETS slots chosen by the host's hash. A host's overflow slot counts against it
// (docs/design.md, "A flood of invented hosts").
import { bucketOf, bucketOfBytes } from "./host_slots";

/** Overflow slots hold a host whose name no real key can equal (keys are printable ASCII). */
export const OVERFLOW_HOST = "\u0001overflow";
/** How many overflow slots share the streams of hosts that found no slot (by host hash). */
export const OVERFLOW_BUCKETS: i32 = 64;

export function overflowBucketOf(host: string): i32 {
  return bucketOf(host) & (OVERFLOW_BUCKETS - 1);
}

/** overflowBucketOf for a name given as its `n` bytes at `p`. */
export function overflowBucketAt(p: usize, n: usize): i32 {
  return bucketOfBytes(p, n) & (OVERFLOW_BUCKETS - 1);
}
