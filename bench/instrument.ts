// Counts what a module executes, independent of the machine: a copy of the module is rewritten
// with binaryen so that it keeps two exported i64 globals up to date while it runs,
//   __bench_instructions  Wasm instructions executed (every operator except the structural
//                         markers block, loop, else, end, and nop, which do no work),
//   __bench_allocations   entries into the allocator functions named by the caller.
//
// How the instruction count stays exact with one update per region instead of one per
// instruction: the instructions of a function are numbered in the order a stack machine runs
// them (operands before their operator; an `if` after its condition and before its arms). A
// region is code that is entered at its start: the function body, a loop body (entered again
// by every branch back to the loop) and each arm of an `if`. On entry a region adds the number
// of its own instructions (those not inside a nested region), as if it ran to its end. A
// branch that leaves early (br, br_if taken, br_table, return) subtracts what that advance
// charged and will not run: the instructions of every region it is inside that come after the
// branch and before the branch target's end. Calls need nothing: the callee counts itself.
// A trap ends the run, so nothing after one is read. The self-check in
// tests/bench/instrument.test.ts runs hand-counted probes through every case.
import binaryen from "binaryen";

type Ref = number;

/** The part of binaryen.js's expression API this file uses (index.d.ts does not declare it). */
interface Api {
  Block: {
    getName(e: Ref): string | null;
    getNumChildren(e: Ref): number;
    getChildAt(e: Ref, i: number): Ref;
    setChildAt(e: Ref, i: number, c: Ref): void;
  };
  If: Accessors<"Condition" | "IfTrue" | "IfFalse">;
  Loop: Accessors<"Body"> & { getName(e: Ref): string | null };
  Break: Accessors<"Value" | "Condition"> & { getName(e: Ref): string };
  Switch: Accessors<"Value" | "Condition"> & {
    getNames(e: Ref): string[];
    getDefaultName(e: Ref): string;
  };
  Call: Operands & { getTarget(e: Ref): string };
  CallIndirect: Operands & Accessors<"Target">;
  LocalSet: Accessors<"Value">;
  GlobalSet: Accessors<"Value">;
  Load: Accessors<"Ptr">;
  Store: Accessors<"Ptr" | "Value">;
  Unary: Accessors<"Value">;
  Binary: Accessors<"Left" | "Right">;
  Select: Accessors<"IfTrue" | "IfFalse" | "Condition">;
  Drop: Accessors<"Value">;
  Return: Accessors<"Value">;
  MemoryGrow: Accessors<"Delta">;
  MemoryFill: Accessors<"Dest" | "Value" | "Size">;
  MemoryCopy: Accessors<"Dest" | "Source" | "Size">;
  MemoryInit: Accessors<"Dest" | "Offset" | "Size">;
  SIMDExtract: Accessors<"Vec">;
  SIMDReplace: Accessors<"Vec" | "Value">;
  SIMDShuffle: Accessors<"Left" | "Right">;
  SIMDTernary: Accessors<"A" | "B" | "C">;
  SIMDShift: Accessors<"Vec" | "Shift">;
  SIMDLoad: Accessors<"Ptr">;
  SIMDLoadStoreLane: Accessors<"Ptr" | "Vec">;
  Function: { getBody(f: Ref): Ref; setBody(f: Ref, body: Ref): void };
  _BinaryenFunctionAddVar(f: Ref, type: number): number;
}
type Accessors<K extends string> = { [P in K as `get${P}`]: (e: Ref) => Ref } & {
  [P in K as `set${P}`]: (e: Ref, c: Ref) => void;
};
interface Operands {
  getNumOperands(e: Ref): number;
  getOperandAt(e: Ref, i: number): Ref;
  setOperandAt(e: Ref, i: number, c: Ref): void;
}

const api = binaryen as unknown as Api & typeof binaryen;

/** What AssemblyScript's default build uses (and what Node 20's V8 runs); nothing newer. */
export const FEATURES =
  binaryen.Features.MutableGlobals |
  binaryen.Features.NontrappingFPToInt |
  binaryen.Features.SIMD128 |
  binaryen.Features.BulkMemory |
  binaryen.Features.BulkMemoryOpt |
  binaryen.Features.SignExt |
  binaryen.Features.Multivalue;

export const INSTRUCTIONS_EXPORT = "__bench_instructions";
export const ALLOCATIONS_EXPORT = "__bench_allocations";
const COUNTER = "__bench_instructions";
const ALLOCS = "__bench_allocations";

/** A child position in its parent: read it now, replace it. */
interface Slot {
  get(): Ref;
  set(e: Ref): void;
}

function slot(get: () => Ref, set: (e: Ref) => void): Slot {
  return { get, set };
}

/** Children of `e` in execution order, for expressions without control flow of their own. */
function operands(e: Ref, id: number): Slot[] {
  const s = <K extends string>(cls: Accessors<K>, ...keys: K[]): Slot[] =>
    keys
      .filter((k) => (cls as Record<string, (e: Ref) => Ref>)[`get${k}`]?.(e))
      .map((k) => {
        const c = cls as Record<string, (e: Ref, c?: Ref) => Ref>;
        return slot(
          () => c[`get${k}`]?.(e) as Ref,
          (x) => c[`set${k}`]?.(e, x),
        );
      });
  const ops = (cls: Operands): Slot[] =>
    Array.from({ length: cls.getNumOperands(e) }, (_, i) =>
      slot(
        () => cls.getOperandAt(e, i),
        (x) => cls.setOperandAt(e, i, x),
      ),
    );
  const b = binaryen;
  switch (id) {
    case b.LocalGetId:
    case b.GlobalGetId:
    case b.ConstId:
    case b.NopId:
    case b.UnreachableId:
    case b.MemorySizeId:
    case b.DataDropId:
      return [];
    case b.CallId:
      return ops(api.Call);
    case b.CallIndirectId:
      return [...ops(api.CallIndirect), ...s(api.CallIndirect, "Target")];
    case b.LocalSetId:
      return s(api.LocalSet, "Value");
    case b.GlobalSetId:
      return s(api.GlobalSet, "Value");
    case b.LoadId:
      return s(api.Load, "Ptr");
    case b.StoreId:
      return s(api.Store, "Ptr", "Value");
    case b.UnaryId:
      return s(api.Unary, "Value");
    case b.BinaryId:
      return s(api.Binary, "Left", "Right");
    case b.SelectId:
      return s(api.Select, "IfTrue", "IfFalse", "Condition");
    case b.DropId:
      return s(api.Drop, "Value");
    case b.MemoryGrowId:
      return s(api.MemoryGrow, "Delta");
    case b.MemoryFillId:
      return s(api.MemoryFill, "Dest", "Value", "Size");
    case b.MemoryCopyId:
      return s(api.MemoryCopy, "Dest", "Source", "Size");
    case b.MemoryInitId:
      return s(api.MemoryInit, "Dest", "Offset", "Size");
    case b.SIMDExtractId:
      return s(api.SIMDExtract, "Vec");
    case b.SIMDReplaceId:
      return s(api.SIMDReplace, "Vec", "Value");
    case b.SIMDShuffleId:
      return s(api.SIMDShuffle, "Left", "Right");
    case b.SIMDTernaryId:
      return s(api.SIMDTernary, "A", "B", "C");
    case b.SIMDShiftId:
      return s(api.SIMDShift, "Vec", "Shift");
    case b.SIMDLoadId:
      return s(api.SIMDLoad, "Ptr");
    case b.SIMDLoadStoreLaneId:
      return s(api.SIMDLoadStoreLane, "Ptr", "Vec");
    default:
      throw new Error(`instrument: expression id ${id} is not supported (${binaryen.emitText(e)})`);
  }
}

interface Region {
  /** Positions of this region's own instructions, ascending. */
  own: number[];
  /** Where the entry charge goes: reads the region's code now, puts the charged code back. */
  at: Slot;
}

interface Label {
  /** Position after the last instruction of the block (or of the loop body). */
  end: number;
}

interface Branch {
  node: Ref;
  kind: "br" | "br_if" | "br_table" | "return";
  pos: number;
  /** Regions the branch is inside, innermost last. */
  active: Region[];
  /** br/br_if: one target; br_table: the targets, then the default; return: none. */
  targets: Label[];
  /** The branch's place in its parent, to put a correction in front of it. */
  at: Slot;
}

/** The numbering of one function body: its regions and its branches. */
class FunctionPlan {
  pos = 0;
  readonly regions: Region[] = [];
  readonly branches: Branch[] = [];
  /** Names of the functions this body calls directly. */
  readonly callees = new Set<string>();
  private readonly active: Region[] = [];
  private readonly labels = new Map<string, Label[]>();

  constructor(body: Slot) {
    this.region(body, () => this.visit(body));
  }

  private region(at: Slot, visit: () => void): void {
    const r: Region = { own: [], at };
    this.regions.push(r);
    this.active.push(r);
    visit();
    this.active.pop();
  }

  private count(): number {
    const p = ++this.pos;
    (this.active[this.active.length - 1] as Region).own.push(p);
    return p;
  }

  private scoped(name: string | null, visit: () => void): void {
    if (!name) {
      visit();
      return;
    }
    const label: Label = { end: Number.POSITIVE_INFINITY };
    const stack = this.labels.get(name) ?? [];
    stack.push(label);
    this.labels.set(name, stack);
    visit();
    label.end = this.pos + 1;
    stack.pop();
  }

  private label(name: string): Label {
    const l = this.labels.get(name)?.at(-1);
    if (!l) throw new Error(`instrument: branch to unknown label ${name}`);
    return l;
  }

  private visit(at: Slot): void {
    const e = at.get();
    const id = binaryen.getExpressionId(e);
    const b = binaryen;
    if (id === b.BlockId) {
      this.scoped(api.Block.getName(e), () => {
        const n = api.Block.getNumChildren(e);
        for (let i = 0; i < n; i++) {
          this.visit(
            slot(
              () => api.Block.getChildAt(e, i),
              (x) => api.Block.setChildAt(e, i, x),
            ),
          );
        }
      });
    } else if (id === b.LoopId) {
      const body = slot(
        () => api.Loop.getBody(e),
        (x) => api.Loop.setBody(e, x),
      );
      this.scoped(api.Loop.getName(e), () => this.region(body, () => this.visit(body)));
    } else if (id === b.IfId) {
      this.visit(
        slot(
          () => api.If.getCondition(e),
          (x) => api.If.setCondition(e, x),
        ),
      );
      this.count();
      const arm = (get: (e: Ref) => Ref, set: (e: Ref, c: Ref) => void) => {
        if (!get(e)) return;
        const s = slot(
          () => get(e),
          (x) => set(e, x),
        );
        this.region(s, () => this.visit(s));
      };
      arm(api.If.getIfTrue, api.If.setIfTrue);
      arm(api.If.getIfFalse, api.If.setIfFalse);
    } else if (id === b.BreakId || id === b.SwitchId || id === b.ReturnId) {
      const cls = id === b.BreakId ? api.Break : id === b.SwitchId ? api.Switch : api.Return;
      const parts: ("Value" | "Condition")[] =
        id === b.ReturnId ? ["Value"] : ["Value", "Condition"];
      for (const part of parts) {
        const c = cls as unknown as Accessors<"Value" | "Condition">;
        if (!c[`get${part}`](e)) continue;
        this.visit(
          slot(
            () => c[`get${part}`](e),
            (x) => c[`set${part}`](e, x),
          ),
        );
      }
      const pos = this.count();
      let kind: Branch["kind"];
      let targets: Label[];
      if (id === b.BreakId) {
        kind = api.Break.getCondition(e) ? "br_if" : "br";
        targets = [this.label(api.Break.getName(e))];
      } else if (id === b.SwitchId) {
        kind = "br_table";
        targets = [...api.Switch.getNames(e), api.Switch.getDefaultName(e)].map((n) =>
          this.label(n),
        );
      } else {
        kind = "return";
        targets = [];
      }
      this.branches.push({ node: e, kind, pos, active: [...this.active], targets, at });
    } else {
      if (id === b.CallId) this.callees.add(api.Call.getTarget(e));
      for (const child of operands(e, id)) this.visit(child);
      if (id !== b.NopId) this.count();
    }
  }
}

/** Instructions of the regions a branch leaves that were charged but will not run. */
function overcharge(branch: Branch, target: Label | undefined): number {
  const end = target ? target.end : Number.POSITIVE_INFINITY;
  let n = 0;
  for (const r of branch.active) n += countBetween(r.own, branch.pos, end);
  return n;
}

/** How many of the ascending `xs` lie strictly between lo and hi. */
function countBetween(xs: readonly number[], lo: number, hi: number): number {
  const firstAbove = (v: number) => {
    let a = 0;
    let b = xs.length;
    while (a < b) {
      const m = (a + b) >> 1;
      if ((xs[m] as number) <= v) a = m + 1;
      else b = m;
    }
    return a;
  };
  return Math.max(0, firstAbove(hi - 1) - firstAbove(lo));
}

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

/** Function names by index (imports first) from a module's name section; "" where none. */
export function functionNames(bytes: Uint8Array): string[] {
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
