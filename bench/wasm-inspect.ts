// Reads a module without changing it, apart from the rewriting in instrument.ts: bench/
// instructions.ts takes the allocator's index from the named copy's function names and checks
// in the release build's direct call graph that nothing else reaches the allocator's block.
import binaryen from "binaryen";
import { api, FEATURES, slot } from "./binaryen-api.js";
import { FunctionPlan } from "./count-plan.js";

/** Function names by index (imports first) from a module's name section; "" where none. */
export function nameSectionNames(bytes: Uint8Array): string[] {
  const m = binaryen.readBinaryWithFeatures(bytes, FEATURES);
  try {
    const out: string[] = [];
    for (let i = 0; i < m.getNumFunctions(); i++) {
      out.push(binaryen.getFunctionInfo(m.getFunctionByIndex(i)).name);
    }
    return out;
  } finally {
    m.dispose();
  }
}

/** Direct calls by function index: for each defined function, the indices it calls. */
export function callGraph(bytes: Uint8Array): Map<number, Set<number>> {
  const m = binaryen.readBinaryWithFeatures(bytes, FEATURES);
  try {
    const index = new Map<string, number>();
    for (let i = 0; i < m.getNumFunctions(); i++) {
      index.set(binaryen.getFunctionInfo(m.getFunctionByIndex(i)).name, i);
    }
    const out = new Map<number, Set<number>>();
    for (let i = 0; i < m.getNumFunctions(); i++) {
      const f = m.getFunctionByIndex(i);
      if (binaryen.getFunctionInfo(f).module) continue;
      const plan = new FunctionPlan(
        slot(
          () => api.Function.getBody(f),
          () => {},
        ),
      );
      out.set(i, new Set([...plan.callees].map((n) => index.get(n) as number)));
    }
    return out;
  } finally {
    m.dispose();
  }
}
