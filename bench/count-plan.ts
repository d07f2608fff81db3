// The counting algorithm behind bench/instrument.ts: numbers one function body's instructions
// and finds the regions it charges on entry and the branches that must take back a charge.
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
import { type Accessors, api, operands, type Ref, type Slot, slot } from "./binaryen-api.js";

export interface Region {
  /** Positions of this region's own instructions, ascending. */
  own: number[];
  /** Where the entry charge goes: reads the region's code now, puts the charged code back. */
  at: Slot;
}

export interface Label {
  /** Position after the last instruction of the block (or of the loop body). */
  end: number;
}

export interface Branch {
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
export class FunctionPlan {
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
export function overcharge(branch: Branch, target: Label | undefined): number {
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
