// The spec harness's linker: reads a module's imports and exports with their external types
// from the binary and matches each import against the export it names, as WebAssembly core
// spec 2.0 section 4.5.4 (Instantiation) step 3-4 and 4.5.1 (external type matching) define.

export type ValType = "i32" | "i64" | "f32" | "f64" | "v128" | "funcref" | "externref";
export interface Limits {
  min: number;
  max?: number;
}
export type ExternType =
  | { kind: "func"; params: ValType[]; results: ValType[] }
  | { kind: "table"; ref: ValType; limits: Limits }
  | { kind: "memory"; limits: Limits }
  | { kind: "global"; type: ValType; mut: boolean };

export interface ModuleImport {
  module: string;
  field: string;
  type: ExternType;
}
export interface ModuleExport {
  name: string;
  kind: ExternType["kind"];
  index: number;
}
export interface ModuleTypes {
  imports: ModuleImport[];
  exports: ModuleExport[];
  /** external type of each function/table/memory/global index space entry (imports first) */
  funcs: ExternType[];
  tables: ExternType[];
  memories: ExternType[];
  globals: ExternType[];
}

const VALTYPES: Record<number, ValType> = { 0x7f: "i32", 0x7e: "i64", 0x7d: "f32", 0x7c: "f64", 0x7b: "v128", 0x70: "funcref", 0x6f: "externref" };
const KINDS: ExternType["kind"][] = ["func", "table", "memory", "global"];

/** Imports, exports and index spaces of a wasm binary (sections 1-7 of the binary format, spec 5.5). */
export function moduleTypes(bytes: Uint8Array): ModuleTypes {
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) throw new Error("not a wasm binary");
  let p = 8;
  const byte = () => {
    if (p >= bytes.length) throw new Error("unexpected end of wasm binary");
    return bytes[p++];
  };
  const leb = () => {
    let r = 0;
    let shift = 0;
    for (;;) {
      const b = byte();
      r += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (!(b & 0x80)) return r;
    }
  };
  const skipSleb = () => {
    while (byte() & 0x80);
  };
  const name = () => {
    const n = leb();
    const s = Buffer.from(bytes.subarray(p, p + n)).toString("utf8");
    p += n;
    return s;
  };
  const valtype = (): ValType => {
    const b = byte();
    const t = VALTYPES[b];
    if (!t) throw new Error(`unknown value type 0x${b.toString(16)}`);
    return t;
  };
  const limits = (): Limits => {
    const flags = byte();
    const min = leb();
    return flags & 1 ? { min, max: leb() } : { min };
  };
  const types: ExternType[] = [];
  const t: ModuleTypes = { imports: [], exports: [], funcs: [], tables: [], memories: [], globals: [] };
  const space = (k: ExternType["kind"]) => (k === "func" ? t.funcs : k === "table" ? t.tables : k === "memory" ? t.memories : t.globals);
  const funcType = (i: number) => {
    const ft = types[i];
    if (!ft) throw new Error(`unknown type ${i}`);
    return ft;
  };
  // a constant expression: skipped up to its `end` (0x0b)
  const skipConstExpr = () => {
    for (;;) {
      const op = byte();
      if (op === 0x0b) return;
      if (op === 0x41 || op === 0x42) skipSleb();
      else if (op === 0x43) p += 4;
      else if (op === 0x44) p += 8;
      else if (op === 0x23 || op === 0xd2) leb();
      else if (op === 0xd0) byte();
      else throw new Error(`unsupported constant expression opcode 0x${op.toString(16)}`);
    }
  };
  while (p < bytes.length) {
    const id = byte();
    const size = leb();
    const end = p + size;
    if (id === 1) {
      for (let n = leb(), i = 0; i < n; i++) {
        if (byte() !== 0x60) throw new Error("type is not a function type");
        const params = Array.from({ length: leb() }, valtype);
        const results = Array.from({ length: leb() }, valtype);
        types.push({ kind: "func", params, results });
      }
    } else if (id === 2) {
      for (let n = leb(), i = 0; i < n; i++) {
        const module = name();
        const field = name();
        const kind = KINDS[byte()];
        let type: ExternType;
        if (kind === "func") type = funcType(leb());
        else if (kind === "table") type = { kind, ref: valtype(), limits: limits() };
        else if (kind === "memory") type = { kind, limits: limits() };
        else if (kind === "global") type = { kind, type: valtype(), mut: byte() === 1 };
        else throw new Error("unknown import kind");
        t.imports.push({ module, field, type });
        space(kind).push(type);
      }
    } else if (id === 3) {
      for (let n = leb(), i = 0; i < n; i++) t.funcs.push(funcType(leb()));
    } else if (id === 4) {
      for (let n = leb(), i = 0; i < n; i++) t.tables.push({ kind: "table", ref: valtype(), limits: limits() });
    } else if (id === 5) {
      for (let n = leb(), i = 0; i < n; i++) t.memories.push({ kind: "memory", limits: limits() });
    } else if (id === 6) {
      for (let n = leb(), i = 0; i < n; i++) {
        t.globals.push({ kind: "global", type: valtype(), mut: byte() === 1 });
        skipConstExpr();
      }
    } else if (id === 7) {
      for (let n = leb(), i = 0; i < n; i++) {
        const nm = name();
        const kind = KINDS[byte()];
        if (!kind) throw new Error("unknown export kind");
        t.exports.push({ name: nm, kind, index: leb() });
      }
    }
    p = end;
  }
  return t;
}

const sameTypes = (a: ValType[], b: ValType[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** Limits subtyping (spec 4.5.1 "Limits"): the actual minimum is at least the import's, and an
 * import with a maximum needs an actual maximum no larger. */
export function limitsMatch(actual: Limits, imported: Limits): boolean {
  if (actual.min < imported.min) return false;
  if (imported.max === undefined) return true;
  return actual.max !== undefined && actual.max <= imported.max;
}

/** Does the external type of an export match the type an import declares (spec 4.5.1)? */
export function externMatches(actual: ExternType, imported: ExternType): boolean {
  switch (imported.kind) {
    case "func":
      return actual.kind === "func" && sameTypes(actual.params, imported.params) && sameTypes(actual.results, imported.results);
    case "table":
      return actual.kind === "table" && actual.ref === imported.ref && limitsMatch(actual.limits, imported.limits);
    case "memory":
      return actual.kind === "memory" && limitsMatch(actual.limits, imported.limits);
    case "global":
      return actual.kind === "global" && actual.type === imported.type && actual.mut === imported.mut;
  }
}

/** The spectest module of the reference interpreter (spec interpreter/host/spectest.ml). */
export const SPECTEST: Map<string, ExternType> = new Map<string, ExternType>([
  ["global_i32", { kind: "global", type: "i32", mut: false }],
  ["global_i64", { kind: "global", type: "i64", mut: false }],
  ["global_f32", { kind: "global", type: "f32", mut: false }],
  ["global_f64", { kind: "global", type: "f64", mut: false }],
  ["table", { kind: "table", ref: "funcref", limits: { min: 10, max: 20 } }],
  ["memory", { kind: "memory", limits: { min: 1, max: 2 } }],
  ["print", { kind: "func", params: [], results: [] }],
  ["print_i32", { kind: "func", params: ["i32"], results: [] }],
  ["print_i64", { kind: "func", params: ["i64"], results: [] }],
  ["print_f32", { kind: "func", params: ["f32"], results: [] }],
  ["print_f64", { kind: "func", params: ["f64"], results: [] }],
  ["print_i32_f32", { kind: "func", params: ["i32", "f32"], results: [] }],
  ["print_f64_f64", { kind: "func", params: ["f64", "f64"], results: [] }],
]);

/** What an export resolves to: its external type and the defining instance and index
 * (a re-exported import resolves to the original definition). */
export interface Resolved<I> {
  type: ExternType;
  /** the instance that defines it, or "spectest" */
  owner: I | "spectest";
  kind: ExternType["kind"];
  /** index in the owner's index space of that kind; -1 for spectest */
  index: number;
  /** the owner's export name that was used, for spectest the field */
  field: string;
}

/** A registry of instances by name, each with its module types and resolved imports. */
export class Linker<I> {
  /** mayGrow(owner, kind, index): whether that memory/table may be larger now than declared
   * (its size at link time is the instance's current one, spec 4.5.3 "external typing") */
  constructor(private mayGrow: (owner: I, kind: "table" | "memory", index: number) => boolean = () => false) {}
  private registered = new Map<string, { inst: I; types: ModuleTypes; imports: Resolved<I>[] }>();
  private known = new Map<I, { types: ModuleTypes; imports: Resolved<I>[] }>();

  /** Record an instantiated module (its imports already resolved by link()). */
  add(inst: I, types: ModuleTypes, imports: Resolved<I>[]) {
    this.known.set(inst, { types, imports });
  }

  register(name: string, inst: I) {
    const k = this.known.get(inst);
    if (!k) throw new Error(`register "${name}": unknown instance`);
    this.registered.set(name, { inst, ...k });
  }

  /** Resolve export `field` of instance `inst` to its definition. */
  resolveExport(inst: I, field: string): Resolved<I> | undefined {
    const k = this.known.get(inst);
    const ex = k?.types.exports.find((e) => e.name === field);
    if (!k || !ex) return undefined;
    const nImported = k.types.imports.filter((i) => i.type.kind === ex.kind).length;
    if (ex.index < nImported) {
      // the n-th import of that kind
      const imp = k.imports.filter((r) => r.kind === ex.kind)[ex.index];
      return imp;
    }
    const space = ex.kind === "func" ? k.types.funcs : ex.kind === "table" ? k.types.tables : ex.kind === "memory" ? k.types.memories : k.types.globals;
    const type = space[ex.index];
    if (!type) return undefined;
    return { type, owner: inst, kind: ex.kind, index: ex.index, field };
  }

  /**
   * Match every import of a module (spec 4.5.4 step 3-4). Returns the resolved imports, or the
   * spec's error: "unknown import" for a missing module or field, "incompatible import type"
   * when the export's type does not match. `unknown` says why linking cannot be decided
   * statically (the imports are resolved as if it links).
   */
  link(types: ModuleTypes): { imports: Resolved<I>[]; unknown?: string } | { error: string } {
    const out: Resolved<I>[] = [];
    let unknown: string | undefined;
    for (const imp of types.imports) {
      let r: Resolved<I> | undefined;
      if (imp.module === "spectest" && !this.registered.has("spectest")) {
        const type = SPECTEST.get(imp.field);
        if (type) r = { type, owner: "spectest", kind: type.kind, index: -1, field: imp.field };
      } else {
        const reg = this.registered.get(imp.module);
        if (reg) r = this.resolveExport(reg.inst, imp.field);
      }
      if (!r) return { error: `unknown import "${imp.module}" "${imp.field}"` };
      if (!externMatches(r.type, imp.type)) {
        // only the minimum fails, and the instance may have grown since: the current size decides
        if ((r.kind === "memory" || r.kind === "table") && r.owner !== "spectest" && this.mayGrow(r.owner, r.kind, r.index)) {
          const grown = { ...r.type, limits: { ...(r.type as { limits: Limits }).limits, min: Number.MAX_SAFE_INTEGER } } as ExternType;
          if (externMatches(grown, imp.type)) {
            unknown ??= `import "${imp.module}" "${imp.field}": its minimum depends on the exporter's growth at run time`;
            out.push(r);
            continue;
          }
        }
        return { error: `incompatible import type for "${imp.module}" "${imp.field}"` };
      }
      out.push(r);
    }
    return unknown ? { imports: out, unknown } : { imports: out };
  }
}
