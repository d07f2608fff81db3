// The bench's instruction counter (bench/instrument.ts, planned by bench/count-plan.ts) against
// functions counted by hand (bench/probe.ts): every way control leaves a region, calls, and the
// allocator entry count.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { sameCode } from "../../bench/builds.js";
import { ALLOCATIONS_EXPORT, INSTRUCTIONS_EXPORT, instrument } from "../../bench/instrument.js";
import { PROBE_ALLOCATOR, PROBE_CASES, probeBinary, runProbes } from "../../bench/probe.js";
import { callGraph } from "../../bench/wasm-inspect.js";

describe("instruction counter", () => {
  const outcomes = runProbes();

  it.each(outcomes.map((o) => [`${o.fn}(${o.args.join(", ")})`, o] as const))(
    "%s counts what was counted by hand",
    (_name, o) => {
      expect(o.gotResult).toBe(o.result);
      expect(o.gotInstructions).toBe(o.instructions);
      expect(o.gotAllocations).toBe(o.allocations);
    },
  );

  it("covers every probe case", () => {
    expect(outcomes).toHaveLength(PROBE_CASES.length);
  });

  it("counts nothing as an allocation when no allocator is named", () => {
    const { bytes } = instrument(probeBinary());
    const ex = new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports as Record<
      string,
      unknown
    >;
    (ex.allocs as (k: number) => number)(6);
    expect((ex[ALLOCATIONS_EXPORT] as WebAssembly.Global).value).toBe(0n);
    expect((ex[INSTRUCTIONS_EXPORT] as WebAssembly.Global).value).toBe(100n);
  });

  it("leaves the module's imports and exports as they were, adding the two counters", () => {
    const original = new WebAssembly.Module(readFileSync("build/noop.wasm"));
    const { bytes } = instrument(new Uint8Array(readFileSync("build/noop.wasm")));
    const counted = new WebAssembly.Module(bytes);
    expect(WebAssembly.Module.imports(counted)).toEqual(WebAssembly.Module.imports(original));
    expect(WebAssembly.Module.exports(counted)).toEqual([
      ...WebAssembly.Module.exports(original),
      { name: INSTRUCTIONS_EXPORT, kind: "global" },
      { name: ALLOCATIONS_EXPORT, kind: "global" },
    ]);
  });

  it("finds the probe's direct calls", () => {
    const graph = callGraph(probeBinary());
    expect([...(graph.get(PROBE_ALLOCATOR + 1) ?? [])]).toEqual([PROBE_ALLOCATOR]);
    expect(graph.get(0)?.size).toBe(0);
  });
});

describe("sameCode", () => {
  const bytes = probeBinary();
  // A custom section ("name" with an empty payload): id 0, size 5, name length 4, "name".
  const named = new Uint8Array([...bytes, 0, 5, 4, ...Buffer.from("name")]);

  it("ignores custom sections", () => {
    expect(sameCode(bytes, named)).toBe(true);
  });

  it("tells apart modules whose code differs", () => {
    const other = instrument(bytes).bytes;
    expect(sameCode(bytes, other)).toBe(false);
  });
});
