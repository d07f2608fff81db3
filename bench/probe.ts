// Hand-counted probes for the instruction counter (bench/instrument.ts): small functions whose
// executed instructions can be counted on paper, one per way control can leave a region (fall
// through, br_if out of a loop, br back to a loop, br_table to three targets, br/br_if with a
// value, return from a loop, return without a value from an `if` arm), plus calls and an
// allocator. The bench runs them before it counts anything (selfCheck), and so does
// tests/bench/instrument.test.ts. Counting rule: every operator is one instruction except
// block, loop, else, end and nop.
import binaryen from "binaryen";
import { ALLOCATIONS_EXPORT, INSTRUCTIONS_EXPORT, instrument } from "./instrument.js";

export const PROBE_WAT = `(module
  (func $straight (export "straight") (param $a i32) (param $b i32) (result i32)
    ;; local.get, local.get, i32.add, i32.const, i32.mul = 5
    (i32.mul (i32.add (local.get $a) (local.get $b)) (i32.const 2)))

  (func $sum (export "sum") (param $n i32) (result i32) (local $i i32) (local $s i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $s (i32.add (local.get $s) (local.get $i)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $s))

  (func $pick (export "pick") (param $x i32) (result i32)
    (if (result i32) (local.get $x)
      (then (i32.add (local.get $x) (i32.const 10)))
      (else (i32.const 7))))

  (func $early (export "early") (param $n i32) (result i32) (local $i i32)
    (loop $l
      (if (i32.eq (local.get $i) (local.get $n))
        (then (return (i32.mul (local.get $i) (i32.const 3)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l))
    (i32.const -1))

  (func $table (export "table") (param $k i32) (result i32) (local $r i32)
    (block $c
      (block $b
        (block $a
          (br_table $a $b $c (local.get $k)))
        (local.set $r (i32.const 1))
        (br $c))
      (local.set $r (i32.const 2)))
    (i32.add (local.get $r) (i32.const 100)))

  (func $brvalue (export "brvalue") (param $x i32) (result i32)
    (i32.add
      (block $out (result i32)
        (drop (br_if $out (i32.const 5) (local.get $x)))
        (i32.const 9))
      (i32.const 1)))

  (func $skipodd (export "skipodd") (param $n i32) (result i32) (local $i i32) (local $c i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $l (i32.and (local.get $i) (i32.const 1)))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $l)))
    (local.get $c))

  (func $void (export "void") (param $x i32)
    (if (local.get $x) (then (return)))
    (drop (select (i32.const 1) (i32.const 2) (local.get $x))))

  (func $alloc (param $size i32) (result i32)
    (i32.add (local.get $size) (i32.const 16)))

  (func $allocs (export "allocs") (param $k i32) (result i32) (local $t i32)
    (block $done
      (loop $l
        (br_if $done (i32.eqz (local.get $k)))
        (local.set $t (i32.add (local.get $t) (call $alloc (local.get $k))))
        (local.set $k (i32.sub (local.get $k) (i32.const 1)))
        (br $l)))
    (local.get $t))
)`;

/** Index of $alloc in the probe's function index space (no imports; source order). */
export const PROBE_ALLOCATOR = 8;

export interface ProbeCase {
  fn: string;
  args: number[];
  /** What the function returns (undefined for a void function). */
  result: number | undefined;
  instructions: number;
  allocations: number;
}

const odd = (n: number) => Math.ceil(n / 2);
const even = (n: number) => Math.floor(n / 2);

/** Each case with its count worked out by hand in the comments. */
export const PROBE_CASES: ProbeCase[] = [
  // local.get ×2, add, const, mul
  { fn: "straight", args: [3, 4], result: 14, instructions: 5, allocations: 0 },
  // per iteration: br_if not taken 4, two local.set lines 4 + 4, br 1 = 13; the last check 4
  // (br_if taken skips the 9 after it); local.get 1 => 13n + 5
  ...[0, 1, 10].map((n) => ({
    fn: "sum",
    args: [n],
    result: (n * (n - 1)) / 2 || 0,
    instructions: 13 * n + 5,
    allocations: 0,
  })),
  // local.get, if, then: local.get, const, add = 5; else: const = 3
  { fn: "pick", args: [2], result: 12, instructions: 5, allocations: 0 },
  { fn: "pick", args: [0], result: 7, instructions: 3, allocations: 0 },
  // per iteration not equal: get, get, eq, if (4) + set line 4 + br 1 = 9; at i == n:
  // 4 + get, const, mul, return (4) = 8 => 9n + 8
  ...[0, 4].map((n) => ({
    fn: "early",
    args: [n],
    result: 3 * n,
    instructions: 9 * n + 8,
    allocations: 0,
  })),
  // local.get, br_table = 2; to $a: + set 2 + br 1; to $b: + set 2; all: + get, const, add 3
  { fn: "table", args: [0], result: 101, instructions: 8, allocations: 0 },
  { fn: "table", args: [1], result: 102, instructions: 7, allocations: 0 },
  { fn: "table", args: [2], result: 100, instructions: 5, allocations: 0 },
  { fn: "table", args: [99], result: 100, instructions: 5, allocations: 0 },
  // const, get, br_if (taken) 3 + const, add 2 = 5; not taken: + drop, const 9 = 7
  { fn: "brvalue", args: [1], result: 6, instructions: 5, allocations: 0 },
  { fn: "brvalue", args: [0], result: 10, instructions: 7, allocations: 0 },
  // i becomes odd: 4 + 4 + br_if taken 4 = 12; even: 12 + set 4 + br 1 = 17; last check 4,
  // local.get 1 => 12 odd(n) + 17 even(n) + 5
  ...[0, 1, 5, 8].map((n) => ({
    fn: "skipodd",
    args: [n],
    result: even(n),
    instructions: 12 * odd(n) + 17 * even(n) + 5,
    allocations: 0,
  })),
  // get, if, return = 3; x = 0: get, if, const, const, get, select, drop = 7
  { fn: "void", args: [1], result: undefined, instructions: 3, allocations: 0 },
  { fn: "void", args: [0], result: undefined, instructions: 7, allocations: 0 },
  // per iteration: get, eqz, br_if 3 + get, get, call, add, set 5 + $alloc (get, const, add) 3
  // + get, const, sub, set 4 + br 1 = 16; last check 3 (br_if taken); get 1 => 16k + 4
  ...[0, 1, 6].map((k) => ({
    fn: "allocs",
    args: [k],
    result: (k * (k + 1)) / 2 + 16 * k,
    instructions: 16 * k + 4,
    allocations: k,
  })),
];

export function probeBinary(): Uint8Array<ArrayBuffer> {
  const m = binaryen.parseText(PROBE_WAT);
  try {
    if (!m.validate()) throw new Error("probe module does not validate");
    return new Uint8Array(m.emitBinary());
  } finally {
    m.dispose();
  }
}

export interface ProbeOutcome extends ProbeCase {
  gotResult: number | undefined;
  gotInstructions: number;
  gotAllocations: number;
  ok: boolean;
}

/** Instruments the probe module and runs every case; each outcome says what was counted. */
export function runProbes(): ProbeOutcome[] {
  const { bytes } = instrument(probeBinary(), { allocators: [PROBE_ALLOCATOR] });
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
  const ex = instance.exports as Record<string, unknown>;
  const counter = ex[INSTRUCTIONS_EXPORT] as WebAssembly.Global;
  const allocs = ex[ALLOCATIONS_EXPORT] as WebAssembly.Global;
  return PROBE_CASES.map((c) => {
    const i0 = counter.value as bigint;
    const a0 = allocs.value as bigint;
    const r = (ex[c.fn] as (...a: number[]) => number | undefined)(...c.args);
    const gotInstructions = Number((counter.value as bigint) - i0);
    const gotAllocations = Number((allocs.value as bigint) - a0);
    return {
      ...c,
      gotResult: r,
      gotInstructions,
      gotAllocations,
      ok: r === c.result && gotInstructions === c.instructions && gotAllocations === c.allocations,
    };
  });
}

/** Throws unless every probe counts what was worked out by hand. */
export function selfCheck(): number {
  const outcomes = runProbes();
  const bad = outcomes.filter((o) => !o.ok);
  if (bad.length > 0) {
    throw new Error(
      `instruction counter self-check failed: ${bad
        .map(
          (o) =>
            `${o.fn}(${o.args}) counted ${o.gotInstructions} instr / ${o.gotAllocations} alloc, ` +
            `expected ${o.instructions} / ${o.allocations} (result ${o.gotResult} vs ${o.result})`,
        )
        .join("; ")}`,
    );
  }
  return outcomes.length;
}
