// Typed access to the part of binaryen.js this bench rewrites and walks: the expression
// accessors its index.d.ts leaves undeclared, the Wasm features every module is read with, a
// child position that can be read and replaced (Slot), and the children of a plain expression
// in the order they run. Kept apart so the counting plan (count-plan.ts), the rewriting
// (instrument.ts) and the inspection (wasm-inspect.ts) share one declaration of it.
import binaryen from "binaryen";

export type Ref = number;

/** The part of binaryen.js's expression API the bench uses (index.d.ts does not declare it). */
export interface Api {
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
export type Accessors<K extends string> = { [P in K as `get${P}`]: (e: Ref) => Ref } & {
  [P in K as `set${P}`]: (e: Ref, c: Ref) => void;
};
export interface Operands {
  getNumOperands(e: Ref): number;
  getOperandAt(e: Ref, i: number): Ref;
  setOperandAt(e: Ref, i: number, c: Ref): void;
}

export const api = binaryen as unknown as Api & typeof binaryen;

/** What AssemblyScript's default build uses (and what Node 20's V8 runs); nothing newer. */
export const FEATURES =
  binaryen.Features.MutableGlobals |
  binaryen.Features.NontrappingFPToInt |
  binaryen.Features.SIMD128 |
  binaryen.Features.BulkMemory |
  binaryen.Features.BulkMemoryOpt |
  binaryen.Features.SignExt |
  binaryen.Features.Multivalue;

/** A child position in its parent: read it now, replace it. */
export interface Slot {
  get(): Ref;
  set(e: Ref): void;
}

export function slot(get: () => Ref, set: (e: Ref) => void): Slot {
  return { get, set };
}

/** Children of `e` in execution order, for expressions without control flow of their own. */
export function operands(e: Ref, id: number): Slot[] {
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
