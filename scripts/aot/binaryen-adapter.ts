// The one place that touches binaryen.js: loads, validates and optimizes a module and
// exposes it as plain typed records, hiding the library's pitfalls (ARCHITECTURE.md).
import binaryen from "binaryen";
import { rewriteTableOps, type RawElem, type RawTable } from "./wasm-rewrite.ts";

export { binaryen };
export type ExprRef = number;

/** Value types as small strings; the backend never sees binaryen type ids. */
export type ValType = "i32" | "i64" | "f32" | "f64" | "funcref" | "externref" | "tuple" | "none" | "unreachable";

/** Features the backend implements. SIMD, GC, reference types etc. stay off, so a module
 *  that uses them fails validation with a clear message instead of reaching codegen. */
export const SUPPORTED_FEATURES =
  binaryen.Features.MVP |
  binaryen.Features.MutableGlobals |
  binaryen.Features.NontrappingFPToInt |
  binaryen.Features.SignExt |
  binaryen.Features.BulkMemory |
  binaryen.Features.BulkMemoryOpt |
  binaryen.Features.Multivalue |
  // Needed by binaryen for bulk-memory element segments written as expressions
  // (ref.func/ref.null); reference-typed values and table ops are rejected by codegen.
  binaryen.Features.ReferenceTypes;

export function valType(t: number): ValType {
  switch (t) {
    case binaryen.i32: return "i32";
    case binaryen.i64: return "i64";
    case binaryen.f32: return "f32";
    case binaryen.f64: return "f64";
    case binaryen.none: return "none";
    case binaryen.unreachable: return "unreachable";
  }
  // reference types, any nullability or subtype (ref.func has the exact type (ref $sig),
  // ref.null the bottom types nullfuncref/nullexternref): only the hierarchy matters here
  const B = binaryen as any;
  const n = binaryen.expandType(t).length;
  if (n > 1) return "tuple"; // multi-value: elements through tupleTypes()
  if (n === 1) {
    const bottom = B._BinaryenHeapTypeGetBottom(B._BinaryenTypeGetHeapType(t));
    if (bottom === B._BinaryenHeapTypeNofunc()) return "funcref";
    if (bottom === B._BinaryenHeapTypeNoext()) return "externref";
  }
  throw new Error(`unsupported value type ${typeName(t)} (reference types and v128 are not supported)`);
}

function typeName(t: number): string {
  try { return binaryen.expandType(t).length > 1 ? "tuple (multi-value)" : `type id ${t}`; } catch { return `type id ${t}`; }
}

/** Expand a (possibly tuple) type into value types. */
export function valTypes(t: number): ValType[] {
  if (t === binaryen.none) return [];
  return binaryen.expandType(t).map(valType);
}

export interface FuncRec {
  index: number;
  name: string;
  /** set for imported functions */
  importModule?: string;
  importBase?: string;
  params: ValType[];
  results: ValType[];
  vars: ValType[];
  /** element types of the tuple-typed vars (multi-value), by local index */
  tupleVars: Map<number, ValType[]>;
  body: ExprRef;
}

export interface GlobalRec { index: number; name: string; type: ValType; mutable: boolean; init: ExprRef; importModule?: string; importBase?: string }
export interface DataRec { name: string; passive: boolean; offset: number; data: Uint8Array }
export interface TableRec { name: string; initial: number; max?: number; importModule?: string; importBase?: string }
export interface ElemRec { name: string; table: string; offset: ExprRef; passive: boolean; funcs: string[] }
export interface ExportRec { name: string; kind: "function" | "table" | "memory" | "global" | "tag"; value: string }
export interface MemoryRec { initial: number; max?: number; importModule?: string; importBase?: string; shared: boolean; is64: boolean }

export interface LoadedModule {
  mod: binaryen.Module;
  functions: FuncRec[];
  funcByName: Map<string, FuncRec>;
  globals: GlobalRec[];
  globalByName: Map<string, GlobalRec>;
  memory?: MemoryRec;
  data: DataRec[];
  tables: TableRec[];
  elems: ElemRec[];
  exports: ExportRec[];
  start?: string;
  /** tables and element segments as decoded from the binary (wasm-rewrite.ts); function
   *  indices in `elems` are binaryen function indices (the module was not optimized) */
  raw?: { tables: RawTable[]; elems: RawElem[] };
  dispose(): void;
}

let busy = false;
const TRAP_REWRITING_PASSES = ["directize", "memory-packing"];

/**
 * Validate (V8 first: spec-strict and never aborts the process; then binaryen with the
 * supported feature set), optionally optimize, and describe the module. Throws Error with
 * a readable message for malformed, invalid or unsupported input.
 */
export function loadModule(wasm: Uint8Array, opts: { optimize?: boolean } = {}): LoadedModule {
  if (!(wasm instanceof Uint8Array)) throw new Error("input is not a byte array");
  if (wasm.length < 8 || wasm[0] !== 0 || wasm[1] !== 0x61 || wasm[2] !== 0x73 || wasm[3] !== 0x6d)
    throw new Error("malformed module: missing \\0asm magic header");
  if (!WebAssembly.validate(wasm)) {
    let why = "invalid module";
    try { new WebAssembly.Module(wasm); } catch (e) { why = (e as Error).message; }
    throw new Error(`invalid or malformed module: ${why}`);
  }
  // table ops binaryen.js cannot describe become calls of internal imports; such modules and
  // modules with passive/declarative/expression element segments are compiled unoptimized,
  // so function indices and element segments stay as decoded (the optimizer may drop or
  // reorder them)
  const rw = rewriteTableOps(wasm);
  const raw = rw.rewritten || rw.rawElemsNeeded;
  if (busy) throw new Error("binaryen adapter is not reentrant");
  busy = true;
  let mod: binaryen.Module | undefined;
  try {
    mod = (binaryen as any).readBinary(rw.bytes, SUPPORTED_FEATURES) as binaryen.Module;
    mod.setFeatures(SUPPORTED_FEATURES);
    if (!quietValidate(mod)) throw new Error("module uses features the AOT compiler does not support (SIMD, reference types, multi-value, threads, ...) or failed binaryen validation");
    if (opts.optimize && !raw) {
      binaryen.setOptimizeLevel(Number(process.env.TV_AOT_OPT_LEVEL ?? 2));
      binaryen.setShrinkLevel(0);
      // Traps must stay observable: never assume they cannot happen.
      binaryen.setTrapsNeverHappen(false);
      binaryen.setLowMemoryUnused(false);
      // These passes replace a statically certain trap (null/mismatched call_indirect target,
      // out-of-bounds memory.init) with `unreachable`, which changes the reported trap kind.
      (binaryen as any).clearPassesToSkip();
      for (const p of TRAP_REWRITING_PASSES) (binaryen as any).addPassToSkip(p);
      // Tables are exported while optimizing: remove-unused-module-elements otherwise drops
      // element segments whose functions no call_indirect type matches, turning a
      // "type mismatch" trap into "undefined element".
      const keep: string[] = [];
      for (let i = 0; i < mod.getNumTables(); i++) {
        const name = (binaryen.getTableInfo(mod.getTableByIndex(i)) as any).name;
        keep.push(`__tv_keep_table_${i}`);
        (mod as any).addTableExport(name, keep[i]);
      }
      mod.optimize();
      for (const k of keep) mod.removeExport(k);
      (binaryen as any).clearPassesToSkip();
    }
    const d = describe(mod, raw);
    if (raw) d.raw = { tables: rw.tables, elems: rw.elems };
    return d;
  } catch (e) {
    mod?.dispose();
    throw e instanceof Error ? e : new Error(describeThrown(e));
  } finally {
    busy = false;
  }
}

/** binaryen prints validation errors through console; keep them out of our output. */
function quietValidate(mod: binaryen.Module): boolean {
  const log = console.log, err = console.error, warn = console.warn;
  const wr = process.stdout.write, we = process.stderr.write;
  const sink = () => true;
  console.log = console.error = console.warn = () => {};
  (process.stdout as any).write = sink; (process.stderr as any).write = sink;
  try { return mod.validate() !== 0; } finally {
    console.log = log; console.error = err; console.warn = warn;
    (process.stdout as any).write = wr; (process.stderr as any).write = we;
  }
}

/** The most recently loaded module: needed to recover f32 NaN payloads (see constBits). */
let activeModule: binaryen.Module | undefined;

function describe(mod: binaryen.Module, raw: boolean): LoadedModule {
  activeModule = mod;
  const functions: FuncRec[] = [];
  const funcByName = new Map<string, FuncRec>();
  const nf = mod.getNumFunctions();
  for (let i = 0; i < nf; i++) {
    const fi = binaryen.getFunctionInfo(mod.getFunctionByIndex(i));
    const rec: FuncRec = {
      index: i, name: fi.name,
      params: valTypes(fi.params), results: valTypes(fi.results),
      vars: fi.vars.map(valType), body: fi.body, tupleVars: new Map(),
    };
    fi.vars.forEach((t: number, k: number) => { if (binaryen.expandType(t).length > 1) rec.tupleVars.set(rec.params.length + k, valTypes(t)); });
    if (fi.module) { rec.importModule = fi.module; rec.importBase = fi.base ?? ""; }
    functions.push(rec); funcByName.set(rec.name, rec);
  }
  const globals: GlobalRec[] = [];
  const globalByName = new Map<string, GlobalRec>();
  for (let i = 0; i < mod.getNumGlobals(); i++) {
    const gi = binaryen.getGlobalInfo(mod.getGlobalByIndex(i));
    const rec: GlobalRec = { index: i, name: gi.name, type: valType(gi.type), mutable: gi.mutable, init: gi.init };
    if (gi.module) { rec.importModule = gi.module; rec.importBase = gi.base ?? ""; }
    globals.push(rec); globalByName.set(rec.name, rec);
  }
  let memory: MemoryRec | undefined;
  if (mod.hasMemory()) {
    const mi = mod.getMemoryInfo();
    memory = { initial: mi.initial, max: mi.max, shared: mi.shared, is64: mi.is64 };
    if (mi.module) { memory.importModule = mi.module; memory.importBase = mi.base ?? ""; }
  }
  const data: DataRec[] = [];
  const m: any = mod;
  for (let i = 0; i < m.getNumDataSegments(); i++) {
    const seg = m.getDataSegmentByIndex(i);
    let di: any;
    try { di = m.getDataSegmentInfo(seg); } catch (e) { throw new Error(`data segment ${i}: ${describeThrown(e).replace("binaryen failed: ", "")}`); }
    data.push({ name: di.name, passive: di.passive, offset: di.offset ?? 0, data: new Uint8Array(di.data) });
  }
  const tables: TableRec[] = [];
  for (let i = 0; i < mod.getNumTables(); i++) {
    const ti: any = binaryen.getTableInfo(mod.getTableByIndex(i));
    tables.push({ name: ti.name, initial: ti.initial, max: ti.max, importModule: ti.module || undefined, importBase: ti.module ? ti.base ?? "" : undefined });
  }
  const elems: ElemRec[] = [];
  for (let i = 0; i < mod.getNumElementSegments(); i++) {
    const ref = mod.getElementSegmentByIndex(i);
    const passive = !!(binaryen as any)._BinaryenElementSegmentIsPassive(ref);
    // binaryen.js aborts when asked for a passive segment's table or offset; table.init is
    // not supported, so passive segments are recorded without contents.
    if (passive || raw) { elems.push({ name: `passive${i}`, table: "", offset: 0, passive, funcs: [] }); continue; }
    const ei: any = binaryen.getElementSegmentInfo(ref);
    elems.push({ name: ei.name, table: ei.table, offset: ei.offset, passive, funcs: ei.data });
  }
  const exports: ExportRec[] = [];
  const kinds: Record<number, ExportRec["kind"]> = {
    [binaryen.ExternalFunction]: "function", [binaryen.ExternalTable]: "table",
    [binaryen.ExternalMemory]: "memory", [binaryen.ExternalGlobal]: "global", [binaryen.ExternalTag]: "tag",
  };
  for (let i = 0; i < mod.getNumExports(); i++) {
    const xi = binaryen.getExportInfo(mod.getExportByIndex(i));
    exports.push({ name: xi.name, kind: kinds[xi.kind], value: xi.value });
  }
  const startRef = mod.getStart();
  const start = startRef ? binaryen.getFunctionInfo(startRef).name : undefined;
  return { mod, functions, funcByName, globals, globalByName, memory, data, tables, elems, exports, start, dispose: () => mod.dispose() };
}

/** Expression info that also works for Nop and Unreachable (getExpressionInfo throws there). */
export function exprInfo(e: ExprRef): any {
  const id = binaryen.getExpressionId(e);
  if (id === binaryen.NopId) return { id, type: binaryen.none };
  if (id === binaryen.UnreachableId) return { id, type: binaryen.unreachable };
  try {
    const info = binaryen.getExpressionInfo(e);
    if (info) return info;
  } catch { /* ids binaryen.js cannot describe */ }
  return { id, type: binaryen.getExpressionType(e) };
}

/** A constant's value as BigInt bits (i32/i64) or raw IEEE bits (f32/f64). */
export function constBits(e: ExprRef): { type: ValType; bits: bigint } {
  const info = binaryen.getExpressionInfo(e) as any;
  const t = valType(info.type);
  const v = info.value;
  switch (t) {
    case "i32": return { type: t, bits: BigInt.asUintN(32, BigInt(v | 0)) };
    case "i64": {
      if (typeof v === "bigint") return { type: t, bits: BigInt.asUintN(64, v) };
      return { type: t, bits: (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0) };
    }
    case "f32": {
      if (Number.isNaN(v) && activeModule) {
        // binaryen.js hands f32 out through a float->double promotion that quiets signalling
        // NaNs; its own interpreter reinterprets the literal with exact bits.
        const runner = new (binaryen as any).ExpressionRunner(activeModule, 0, 10, 10);
        const r = runner.runAndDispose(activeModule.i32.reinterpret(activeModule.copyExpression(e)));
        if (r) return { type: t, bits: BigInt((binaryen.getExpressionInfo(r) as any).value >>> 0) };
      }
      const dv = new DataView(new ArrayBuffer(4)); dv.setFloat32(0, v, true); return { type: t, bits: BigInt(dv.getUint32(0, true)) }; }
    case "f64": { const dv = new DataView(new ArrayBuffer(8)); dv.setFloat64(0, v, true); return { type: t, bits: dv.getBigUint64(0, true) }; }
  }
  throw new Error(`unsupported constant type ${t}`);
}

/** Side-effect bits of an expression (binaryen.SideEffects). */
export function sideEffects(e: ExprRef, mod: binaryen.Module): number {
  return (binaryen as any).getSideEffects(e, mod);
}

function describeThrown(e: unknown): string {
  if (e && typeof e === "object") {
    try {
      const m = (binaryen as any).getExceptionMessage?.(e);
      if (m) return `binaryen failed: ${Array.isArray(m) ? m.filter(Boolean).join(": ") : String(m)}`;
    } catch { /* fall through */ }
    try { return `binaryen failed: ${JSON.stringify(e)}`; } catch { /* fall through */ }
  }
  return `binaryen failed: ${String(e)}`;
}
