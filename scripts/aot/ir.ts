// Binaryen expression ids by name and the children of an expression in evaluation order: what the
// code generator and the analyses walk.
import { binaryen, type ExprRef } from "./binaryen-adapter.ts";

export const ID = {
  Block: binaryen.BlockId, If: binaryen.IfId, Loop: binaryen.LoopId, Break: binaryen.BreakId, Switch: binaryen.SwitchId,
  Call: binaryen.CallId, CallIndirect: binaryen.CallIndirectId, LocalGet: binaryen.LocalGetId, LocalSet: binaryen.LocalSetId,
  GlobalGet: binaryen.GlobalGetId, GlobalSet: binaryen.GlobalSetId, Load: binaryen.LoadId, Store: binaryen.StoreId,
  Const: binaryen.ConstId, Unary: binaryen.UnaryId, Binary: binaryen.BinaryId, Select: binaryen.SelectId, Drop: binaryen.DropId,
  Return: binaryen.ReturnId, MemorySize: binaryen.MemorySizeId, MemoryGrow: binaryen.MemoryGrowId, Nop: binaryen.NopId,
  Unreachable: binaryen.UnreachableId, MemoryInit: binaryen.MemoryInitId, DataDrop: binaryen.DataDropId,
  MemoryCopy: binaryen.MemoryCopyId, MemoryFill: binaryen.MemoryFillId,
  RefNull: binaryen.RefNullId, RefIsNull: binaryen.RefIsNullId, RefFunc: binaryen.RefFuncId,
  TupleMake: binaryen.TupleMakeId, TupleExtract: binaryen.TupleExtractId,
  TableGet: binaryen.TableGetId, TableSet: binaryen.TableSetId, TableSize: binaryen.TableSizeId, TableGrow: binaryen.TableGrowId,
};

/** Calls `fn` on each child of the expression `info` (from `exprInfo`) in evaluation order. */
export function forEachChild(info: any, fn: (e: ExprRef) => void) {
  switch (info.id) {
    case ID.Block: for (const c of info.children) fn(c); return;
    case ID.If: fn(info.condition); fn(info.ifTrue); if (info.ifFalse) fn(info.ifFalse); return;
    case ID.Loop: fn(info.body); return;
    case ID.Break: if (info.value) fn(info.value); if (info.condition) fn(info.condition); return;
    case ID.Switch: if (info.value) fn(info.value); fn(info.condition); return;
    case ID.Call: for (const c of info.operands) fn(c); return;
    case ID.CallIndirect: for (const c of info.operands) fn(c); fn(info.target); return;
    case ID.LocalSet: case ID.GlobalSet: case ID.Drop: case ID.Unary: fn(info.value); return;
    case ID.Return: if (info.value) fn(info.value); return;
    case ID.Load: fn(info.ptr); return;
    case ID.Store: fn(info.ptr); fn(info.value); return;
    case ID.Binary: fn(info.left); fn(info.right); return;
    case ID.Select: fn(info.ifTrue); fn(info.ifFalse); fn(info.condition); return;
    case ID.MemoryGrow: fn(info.delta); return;
    case ID.MemoryInit: fn(info.dest); fn(info.offset); fn(info.size); return;
    case ID.MemoryCopy: fn(info.dest); fn(info.source); fn(info.size); return;
    case ID.MemoryFill: fn(info.dest); fn(info.value); fn(info.size); return;
    case ID.RefIsNull: fn(info.value); return;
    case ID.TableGet: fn(info.index); return;
    case ID.TableSet: fn(info.index); fn(info.value); return;
    case ID.TableGrow: fn(info.value); fn(info.delta); return;
    case ID.TupleMake: for (const c of info.operands) fn(c); return;
    case ID.TupleExtract: fn(info.tuple); return;
  }
}
