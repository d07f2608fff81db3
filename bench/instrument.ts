// Counts what a module executes, independent of the machine: a copy of the module is rewritten
// with binaryen so that it keeps two exported i64 globals up to date while it runs,
//   __bench_instructions  Wasm instructions executed (every operator except the structural
//                         markers block, loop, else, end, and nop, which do no work),
//   __bench_allocations   entries into the allocator functions named by the caller.
// This file does the rewriting: one charge at the start of each region and one correction on
// each branch that leaves regions early, where count-plan.ts says (and why that is exact).
// The self-check in tests/bench/instrument.test.ts runs hand-counted probes through every case.
import binaryen from "binaryen";
import { api, FEATURES, type Ref, slot } from "./binaryen-api.js";
import { type Branch, FunctionPlan, overcharge } from "./count-plan.js";

export const INSTRUCTIONS_EXPORT = "__bench_instructions";
export const ALLOCATIONS_EXPORT = "__bench_allocations";
const COUNTER = "__bench_instructions";
const ALLOCS = "__bench_allocations";

/** What instrumenting a module did, for the report and the self-check. */
export interface InstrumentStats {
  functions: number;
  regions: number;
  corrections: number;
  /** Static instruction count of every function body. */
  instructions: number;
  allocators: string[];
}

export interface InstrumentOptions {
  /** Indices (function index space, imports first) of the functions whose entries count as allocations. */
  allocators?: readonly number[];
}

/**
 * Returns a copy of `bytes` that counts the instructions it executes and the entries into the
 * allocator functions, in the exported mutable i64 globals INSTRUCTIONS_EXPORT and
 * ALLOCATIONS_EXPORT. The original exports, imports and behaviour are unchanged.
 */
export function instrument(
  bytes: Uint8Array,
  options: InstrumentOptions = {},
): { bytes: Uint8Array<ArrayBuffer>; stats: InstrumentStats } {
  const m = binaryen.readBinaryWithFeatures(bytes, FEATURES);
  try {
    m.setFeatures(FEATURES);
    m.addGlobal(COUNTER, binaryen.i64, true, m.i64.const(0n));
    m.addGlobal(ALLOCS, binaryen.i64, true, m.i64.const(0n));
    m.addGlobalExport(COUNTER, INSTRUCTIONS_EXPORT);
    m.addGlobalExport(ALLOCS, ALLOCATIONS_EXPORT);
    const add = (global: string, n: Ref) =>
      m.global.set(global, m.i64.add(m.global.get(global, binaryen.i64), n));
    const charge = (n: number) => add(COUNTER, m.i64.const(BigInt(n)));
    const stats: InstrumentStats = {
      functions: 0,
      regions: 0,
      corrections: 0,
      instructions: 0,
      allocators: [],
    };
    const allocators = new Set(options.allocators ?? []);
    for (let i = 0; i < m.getNumFunctions(); i++) {
      const f = m.getFunctionByIndex(i);
      const info = binaryen.getFunctionInfo(f);
      if (info.module) {
        if (allocators.has(i)) throw new Error(`instrument: allocator ${i} is an import`);
        continue;
      }
      stats.functions++;
      const body = slot(
        () => api.Function.getBody(f),
        (x) => api.Function.setBody(f, x),
      );
      const plan = new FunctionPlan(body);
      stats.instructions += plan.pos;
      const temps = new Map<number, number>();
      const temp = (type: number) => {
        let t = temps.get(type);
        if (t === undefined) {
          t = api._BinaryenFunctionAddVar(f, type);
          temps.set(type, t);
        }
        return t;
      };
      // Corrections first: a branch may be the whole arm or body that a region charge wraps.
      for (const br of plan.branches) {
        if (correct(m, br, charge, temp)) stats.corrections++;
      }
      for (const r of plan.regions) {
        if (r.own.length === 0) continue;
        r.at.set(m.block(null, [charge(r.own.length), r.at.get()], binaryen.auto));
        stats.regions++;
      }
      if (allocators.has(i)) {
        body.set(m.block(null, [add(ALLOCS, m.i64.const(1n)), body.get()], binaryen.auto));
        stats.allocators.push(info.name);
      }
    }
    if (stats.allocators.length !== allocators.size) {
      throw new Error(`instrument: allocator indices ${[...allocators]} not all defined functions`);
    }
    if (!m.validate()) throw new Error("instrument: the rewritten module does not validate");
    return { bytes: new Uint8Array(m.emitBinary()), stats };
  } finally {
    m.dispose();
  }
}

/** Puts a branch's correction where it runs only when the branch is taken; false if none. */
function correct(
  m: binaryen.Module,
  br: Branch,
  charge: (n: number) => Ref,
  temp: (type: number) => number,
): boolean {
  const e = br.node;
  const unreachable = (x: Ref) => x !== 0 && binaryen.getExpressionType(x) === binaryen.unreachable;
  if (br.kind === "br_table") {
    const ks = br.targets.map((t) => overcharge(br, t));
    const dflt = ks[ks.length - 1] as number;
    if (ks.every((k) => k === 0)) return false;
    const cond = api.Switch.getCondition(e);
    if (unreachable(cond) || unreachable(api.Switch.getValue(e))) return false;
    const t = temp(binaryen.i32);
    let amount = m.i64.const(BigInt(-dflt));
    ks.slice(0, -1).forEach((k, i) => {
      if (k === dflt) return;
      amount = m.select(
        m.i32.eq(m.local.get(t, binaryen.i32), m.i32.const(i)),
        m.i64.const(BigInt(-k)),
        amount,
      );
    });
    api.Switch.setCondition(
      e,
      m.block(
        null,
        [
          m.local.set(t, cond),
          m.global.set(COUNTER, m.i64.add(m.global.get(COUNTER, binaryen.i64), amount)),
          m.local.get(t, binaryen.i32),
        ],
        binaryen.i32,
      ),
    );
    return true;
  }
  const k = overcharge(br, br.targets[0]);
  if (k === 0) return false;
  if (br.kind === "br_if") {
    const cond = api.Break.getCondition(e);
    if (unreachable(cond) || unreachable(api.Break.getValue(e))) return false;
    const t = temp(binaryen.i32);
    api.Break.setCondition(
      e,
      m.block(
        null,
        [
          m.local.set(t, cond),
          m.if(m.local.get(t, binaryen.i32), charge(-k)),
          m.local.get(t, binaryen.i32),
        ],
        binaryen.i32,
      ),
    );
    return true;
  }
  // br or return: the correction runs after the value (if any) and right before the branch.
  const cls = br.kind === "br" ? api.Break : api.Return;
  const value = cls.getValue(e);
  if (value) {
    if (unreachable(value)) return false;
    const type = binaryen.getExpressionType(value);
    const t = temp(type);
    cls.setValue(e, m.block(null, [m.local.set(t, value), charge(-k), m.local.get(t, type)], type));
    return true;
  }
  if (br.at.get() !== e) throw new Error("instrument: a branch moved before its correction");
  br.at.set(m.block(null, [charge(-k), e], binaryen.auto));
  return true;
}
