// Binary pre-pass before binaryen reads a module: table ops binaryen.js cannot describe become calls to internal imports.
//
// binaryen.js 132 has expression ids but no operand accessors for table.init, table.copy,
// elem.drop and table.fill, and aborts when asked for a passive element segment's contents.
// So, before binaryen sees the bytes, each of those instructions is replaced by `call` of a
// synthetic function import (module INTERNAL_MODULE, field naming the op and its immediates)
// whose parameters are the instruction's stack operands; the code generator lowers those
// calls back to the table operation. New imports come after the existing function imports,
// so every defined function index moves up by the number of new imports: call, ref.func,
// element segments, exports and the start function are renumbered. Element segments are
// also decoded here (all modes: active, passive, declarative; function indices or constant
// expressions), since binaryen.js cannot hand out passive ones.
// Encoding references: WebAssembly Core Specification 2.0, 5.4 (instructions), 5.5 (modules).

export const INTERNAL_MODULE = "__tv_internal";

export type RefKind = "funcref" | "externref";
export interface RawTable { kind: RefKind; initial: number; max?: number; imported: boolean }
/** An element item: a function index (renumbered), null, or a global read. */
export type RawItem = { func: number } | { null: true } | { global: number };
export interface RawElem {
  mode: "active" | "passive" | "declarative";
  table: number;
  /** active segments: the offset expression, i32.const value or global index */
  offset?: { const: number } | { global: number };
  kind: RefKind;
  items: RawItem[];
}
export interface Rewritten {
  bytes: Uint8Array;
  /** internal imports were added (function indices moved) */
  rewritten: boolean;
  tables: RawTable[];
  elems: RawElem[];
  /** some element segment is not an active funcref segment of function indices */
  rawElemsNeeded: boolean;
}

class Reader {
  pos: number;
  constructor(public b: Uint8Array, pos = 0, public end = b.length) { this.pos = pos; }
  byte(): number {
    if (this.pos >= this.end) throw new Error("unexpected end");
    return this.b[this.pos++];
  }
  u32(): number {
    let r = 0, shift = 0, c: number;
    do { c = this.byte(); r += (c & 0x7f) * 2 ** shift; shift += 7; } while (c & 0x80);
    return r;
  }
  /** signed LEB of any width, as a number (exact for the 32-bit values read here) */
  sleb(): number {
    let r = 0n, shift = 0n, c: number;
    do { c = this.byte(); r |= BigInt(c & 0x7f) << shift; shift += 7n; } while (c & 0x80);
    if (c & 0x40) r -= 1n << shift;
    return Number(BigInt.asIntN(64, r));
  }
  skip(n: number) { this.pos += n; if (this.pos > this.end) throw new Error("unexpected end"); }
  name(): string { const n = this.u32(); const s = Buffer.from(this.b.subarray(this.pos, this.pos + n)).toString("utf8"); this.skip(n); return s; }
}

class Writer {
  parts: number[] = [];
  byte(b: number) { this.parts.push(b & 0xff); }
  u32(v: number) {
    do { let c = v % 128; v = Math.floor(v / 128); if (v) c |= 0x80; this.parts.push(c); } while (v);
  }
  bytes(b: ArrayLike<number>) { for (let i = 0; i < b.length; i++) this.parts.push(b[i]); }
  name(s: string) { const b = Buffer.from(s, "utf8"); this.u32(b.length); this.bytes(b); }
  out(): Uint8Array { return Uint8Array.from(this.parts); }
}

const VALTYPE_BYTES = new Set([0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f]);
function refKind(b: number): RefKind { return b === 0x6f ? "externref" : "funcref"; }

function blockType(r: Reader) {
  const b = r.b[r.pos];
  if (b === 0x40 || VALTYPE_BYTES.has(b)) { r.pos++; return; }
  r.sleb();
}

class Unsupported extends Error {}

/**
 * Rewrites one instruction sequence (a function body or a constant expression), copying it
 * to w. `op` maps an instruction to replace onto the function index to call instead.
 */
function rewriteExpr(r: Reader, w: Writer, renum: (f: number) => number, replace: ((sub: number, imm: number[]) => number) | null, constExpr: boolean) {
  let depth = 0;
  while (r.pos < r.end) {
    const start = r.pos;
    const op = r.byte();
    const copy = () => w.bytes(r.b.subarray(start, r.pos));
    switch (op) {
      case 0x02: case 0x03: case 0x04: blockType(r); depth++; copy(); break;
      case 0x0b: copy(); if (depth-- === 0) return; break;
      case 0x0c: case 0x0d: r.u32(); copy(); break;
      case 0x0e: { const n = r.u32(); for (let i = 0; i <= n; i++) r.u32(); copy(); break; }
      case 0x10: case 0x12: case 0xd2: { const f = r.u32(); w.byte(op); w.u32(renum(f)); break; }
      case 0x11: case 0x13: r.u32(); r.u32(); copy(); break;
      case 0x1c: { const n = r.u32(); for (let i = 0; i < n; i++) r.byte(); copy(); break; }
      case 0x20: case 0x21: case 0x22: case 0x23: case 0x24: case 0x25: case 0x26: r.u32(); copy(); break;
      case 0x3f: case 0x40: r.u32(); copy(); break;
      case 0x41: case 0x42: r.sleb(); copy(); break;
      case 0x43: r.skip(4); copy(); break;
      case 0x44: r.skip(8); copy(); break;
      case 0xd0: { const b = r.b[r.pos]; if (b === 0x70 || b === 0x6f) r.pos++; else r.sleb(); copy(); break; }
      case 0xfc: {
        const sub = r.u32();
        const imm: number[] = [];
        const nimm = [0, 0, 0, 0, 0, 0, 0, 0, 2, 1, 2, 1, 2, 1, 2, 1, 1, 1][sub];
        if (nimm === undefined) throw new Unsupported(`0xfc ${sub}`);
        for (let i = 0; i < nimm; i++) imm.push(r.u32());
        const f = replace && (sub === 12 || sub === 13 || sub === 14 || sub === 17) ? replace(sub, imm) : -1;
        if (f >= 0) { w.byte(0x10); w.u32(f); } else copy();
        break;
      }
      default:
        if (op >= 0x28 && op <= 0x3e) { r.u32(); r.u32(); copy(); break; }
        if (op <= 0x01 || op === 0x05 || op === 0x0f || op === 0x1a || op === 0x1b || (op >= 0x45 && op <= 0xc4) || op === 0xd1) { copy(); break; }
        throw new Unsupported(`opcode 0x${op.toString(16)}`);
    }
    if (constExpr && depth < 0) return;
  }
  throw new Error("expression without end");
}

/** Reads a constant expression's value for element offsets (i32.const or global.get). */
function constOffset(b: Uint8Array): { const: number } | { global: number } | undefined {
  const r = new Reader(b);
  const op = r.byte();
  if (op === 0x41) return { const: r.sleb() | 0 };
  if (op === 0x23) return { global: r.u32() };
  return undefined;
}
function constItem(b: Uint8Array): RawItem | undefined {
  const r = new Reader(b);
  const op = r.byte();
  if (op === 0xd2) return { func: r.u32() };
  if (op === 0xd0) return { null: true };
  if (op === 0x23) return { global: r.u32() };
  return undefined;
}

interface Section { id: number; start: number; end: number; bodyStart: number }

/** Returns the module unchanged when it needs nothing (or cannot be decoded: binaryen reports it then). */
export function rewriteTableOps(wasm: Uint8Array): Rewritten {
  try { return rewrite(wasm); } catch (e) {
    if (e instanceof Unsupported || e instanceof Error) return { bytes: wasm, rewritten: false, tables: [], elems: [], rawElemsNeeded: false };
    throw e;
  }
}

function rewrite(wasm: Uint8Array): Rewritten {
  const r = new Reader(wasm, 8);
  const sections: Section[] = [];
  while (r.pos < wasm.length) {
    const start = r.pos;
    const id = r.byte();
    const size = r.u32();
    sections.push({ id, start, bodyStart: r.pos, end: r.pos + size });
    r.pos += size;
  }
  const sec = (id: number) => sections.find((s) => s.id === id);
  const reader = (s: Section) => new Reader(wasm, s.bodyStart, s.end);

  // function types: only their count is needed (new types are appended)
  const typeSec = sec(1);
  const ntypes = typeSec ? reader(typeSec).u32() : 0;
  // imports: count function imports, collect imported tables
  const tables: RawTable[] = [];
  let nFuncImports = 0;
  const impSec = sec(2);
  if (impSec) {
    const ir = reader(impSec);
    for (let n = ir.u32(); n > 0; n--) {
      ir.name(); ir.name();
      const kind = ir.byte();
      if (kind === 0) { ir.u32(); nFuncImports++; }
      else if (kind === 1) { const t = ir.byte(); const fl = ir.u32(); const initial = ir.u32(); const max = fl & 1 ? ir.u32() : undefined; tables.push({ kind: refKind(t), initial, max, imported: true }); }
      else if (kind === 2) { const fl = ir.u32(); ir.u32(); if (fl & 1) ir.u32(); }
      else if (kind === 3) { ir.byte(); ir.byte(); }
      else throw new Unsupported(`import kind ${kind}`);
    }
  }
  const tabSec = sec(4);
  if (tabSec) {
    const tr = reader(tabSec);
    for (let n = tr.u32(); n > 0; n--) {
      const t = tr.byte(); const fl = tr.u32(); const initial = tr.u32(); const max = fl & 1 ? tr.u32() : undefined;
      tables.push({ kind: refKind(t), initial, max, imported: false });
    }
  }

  // element segments (indices not yet renumbered)
  const elems: RawElem[] = [];
  const elemSec = sec(9);
  let rawElemsNeeded = false;
  if (elemSec) {
    const er = reader(elemSec);
    for (let n = er.u32(); n > 0; n--) {
      const flags = er.u32();
      const e: RawElem = { mode: flags & 1 ? (flags & 2 ? "declarative" : "passive") : "active", table: 0, kind: "funcref", items: [] };
      if ((flags & 1) === 0) {
        if (flags & 2) e.table = er.u32();
        const s = er.pos; rewriteExpr(er, new Writer(), (f) => f, null, true);
        e.offset = constOffset(wasm.subarray(s, er.pos));
      }
      if (flags & 4) {
        if (flags & 3) e.kind = refKind(er.byte());
        for (let k = er.u32(); k > 0; k--) {
          const s = er.pos; rewriteExpr(er, new Writer(), (f) => f, null, true);
          const it = constItem(wasm.subarray(s, er.pos));
          if (!it) throw new Unsupported("element expression");
          e.items.push(it);
        }
      } else {
        if (flags & 3) er.byte(); // elemkind 0x00 = funcref
        for (let k = er.u32(); k > 0; k--) e.items.push({ func: er.u32() });
      }
      if (e.mode !== "active" || e.kind !== "funcref" || e.items.some((i) => !("func" in i))) rawElemsNeeded = true;
      elems.push(e);
    }
  }

  // find the instructions to replace; collect the internal imports in order of first use
  const codeSec = sec(10);
  const imports = new Map<string, { index: number; params: number[] }>();
  const replaceWith = (sub: number, imm: number[]): number => {
    let name: string, params: number[];
    if (sub === 12) { name = `table.init:${imm[0]}:${imm[1]}`; params = [0x7f, 0x7f, 0x7f]; }
    else if (sub === 13) { name = `elem.drop:${imm[0]}`; params = []; }
    else if (sub === 14) { name = `table.copy:${imm[0]}:${imm[1]}`; params = [0x7f, 0x7f, 0x7f]; }
    else {
      const t = tables[imm[0]];
      if (!t) throw new Unsupported("table.fill of a missing table");
      name = `table.fill:${imm[0]}`; params = [0x7f, t.kind === "externref" ? 0x6f : 0x70, 0x7f];
    }
    let imp = imports.get(name);
    if (!imp) { imp = { index: nFuncImports + imports.size, params }; imports.set(name, imp); }
    return imp.index;
  };
  if (codeSec) {
    // dry run to learn the imports (indices of the new imports do not depend on renumbering)
    const cr = reader(codeSec);
    for (let n = cr.u32(); n > 0; n--) {
      const size = cr.u32(); const end = cr.pos + size;
      const br = new Reader(wasm, cr.pos, end);
      for (let k = br.u32(); k > 0; k--) { br.u32(); br.byte(); }
      rewriteExpr(br, new Writer(), (f) => f, replaceWith, false);
      cr.pos = end;
    }
  }
  const K = imports.size;
  const renum = (f: number) => (f < nFuncImports ? f : f + K);
  for (const e of elems) for (const it of e.items) if ("func" in it) it.func = renum(it.func);
  if (K === 0) return { bytes: wasm, rewritten: false, tables, elems, rawElemsNeeded };

  // signatures of the new imports: appended function types, one per distinct parameter list
  const newTypes: number[][] = [];
  const typeOf = (params: number[]) => {
    let i = newTypes.findIndex((p) => p.join() === params.join());
    if (i < 0) { newTypes.push(params); i = newTypes.length - 1; }
    return ntypes + i;
  };
  const impEntries = [...imports].map(([name, imp]) => ({ name, type: typeOf(imp.params) }));

  const out = new Writer();
  out.bytes(wasm.subarray(0, 8));
  const emit = (id: number, body: Uint8Array) => { out.byte(id); out.u32(body.length); out.bytes(body); };
  const sectionsOut = [...sections];
  // make sure type and import sections exist so they can be extended
  if (!typeSec) sectionsOut.splice(firstAfter(sectionsOut, 1), 0, { id: 1, start: -1, end: -1, bodyStart: -1 });
  if (!impSec) sectionsOut.splice(firstAfter(sectionsOut, 2), 0, { id: 2, start: -1, end: -1, bodyStart: -1 });
  for (const s of sectionsOut) {
    const w = new Writer();
    switch (s.id) {
      case 0:
        if (reader(s).name() === "name") continue; // function names would need renumbering; binaryen names them itself
        out.bytes(wasm.subarray(s.start, s.end));
        continue;
      case 1: {
        w.u32(ntypes + newTypes.length);
        if (s.start >= 0) { const tr = reader(s); tr.u32(); w.bytes(wasm.subarray(tr.pos, s.end)); }
        for (const p of newTypes) { w.byte(0x60); w.u32(p.length); w.bytes(p); w.u32(0); }
        break;
      }
      case 2: {
        let n = 0, rest = new Uint8Array(0);
        if (s.start >= 0) { const ir = reader(s); n = ir.u32(); rest = wasm.subarray(ir.pos, s.end); }
        w.u32(n + impEntries.length);
        w.bytes(rest); // existing imports keep their order: functions 0..nFuncImports-1 stay put
        for (const e of impEntries) { w.name(INTERNAL_MODULE); w.name(e.name); w.byte(0); w.u32(e.type); }
        break;
      }
      case 6: { // globals: ref.func in initialisers
        const gr = reader(s);
        const n = gr.u32(); w.u32(n);
        for (let k = 0; k < n; k++) { w.bytes(wasm.subarray(gr.pos, gr.pos + 2)); gr.skip(2); rewriteExpr(gr, w, renum, null, true); }
        break;
      }
      case 7: {
        const xr = reader(s);
        const n = xr.u32(); w.u32(n);
        for (let k = 0; k < n; k++) { w.name(xr.name()); const kind = xr.byte(); const idx = xr.u32(); w.byte(kind); w.u32(kind === 0 ? renum(idx) : idx); }
        break;
      }
      case 8: w.u32(renum(reader(s).u32())); break;
      case 9: {
        const er = reader(s);
        const n = er.u32(); w.u32(n);
        for (let k = 0; k < n; k++) {
          const flags = er.u32(); w.u32(flags);
          if ((flags & 1) === 0) {
            if (flags & 2) w.u32(er.u32());
            rewriteExpr(er, w, renum, null, true);
          }
          if (flags & 3) w.byte(er.byte());
          const m = er.u32(); w.u32(m);
          for (let j = 0; j < m; j++) {
            if (flags & 4) rewriteExpr(er, w, renum, null, true);
            else w.u32(renum(er.u32()));
          }
        }
        break;
      }
      case 10: {
        const cr = reader(s);
        const n = cr.u32(); w.u32(n);
        for (let k = 0; k < n; k++) {
          const size = cr.u32(); const end = cr.pos + size;
          const br = new Reader(wasm, cr.pos, end);
          const fw = new Writer();
          const localsStart = br.pos;
          for (let j = br.u32(); j > 0; j--) { br.u32(); br.byte(); }
          fw.bytes(wasm.subarray(localsStart, br.pos));
          rewriteExpr(br, fw, renum, replaceWith, false);
          const body = fw.out();
          w.u32(body.length); w.bytes(body);
          cr.pos = end;
        }
        break;
      }
      default:
        out.bytes(wasm.subarray(s.start, s.end));
        continue;
    }
    emit(s.id, w.out());
  }
  return { bytes: out.out(), rewritten: true, tables, elems, rawElemsNeeded };
}

/** Position at which a section with this id goes (known sections are ordered by id, data count 12 before code 10). */
function firstAfter(list: Section[], id: number): number {
  const order = (x: number) => (x === 12 ? 9.5 : x === 13 ? 5.5 : x);
  const i = list.findIndex((s) => s.id !== 0 && order(s.id) > order(id));
  return i < 0 ? list.length : i;
}
