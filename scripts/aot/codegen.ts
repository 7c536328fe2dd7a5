// Tree-walking single-pass code generator: Binaryen IR of one function -> x86-64 assembly text.
//
// Evaluation model: every expression leaves its value in rax (i32 zero-extended, i64) or xmm0
// (f32/f64). Operands that are "simple" (constants, locals, globals) are used directly as
// immediates/registers/memory; other left operands are pushed on the machine stack while the
// right one is evaluated. The pushed depth is tracked so branches leaving an expression
// rebalance rsp. Locals live in fixed homes: callee-saved registers by weighted use count,
// then rbp-relative stack slots. See README.md for the register conventions.
import { binaryen, exprInfo, constBits, sideEffects, valType, valTypes, type ExprRef, type FuncRec, type LoadedModule, type ValType } from "./binaryen-adapter.ts";
import { CompileError } from "./errors.ts";
import { INTERNAL_MODULE } from "./wasm-rewrite.ts";
import { ID, forEachChild } from "./ir.ts";
import { hasLocal, loopLiveIn, readBeforeWrite } from "./liveness.ts";
import type { Target } from "./target.ts";
import { HOME_REGS, INVERT, SWAP, VOLATILE_REGS, argRegs, imm32, isFloat, ptrSize, reg, hex } from "./x86.ts";

export { CompileError };

// Binaryen's unary and binary operation ids are separate enums with overlapping numbers.
const UNARY_OP: Record<number, string> = {};
const BINARY_OP: Record<number, string> = {};
for (const k of Object.keys(binaryen)) {
  const v = (binaryen as any)[k];
  if (typeof v !== "number" || !/^[A-Z]/.test(k) || !/(Int32|Int64|Float32|Float64)$/.test(k) || /Id$|Vec|x\d|Lane|Atomic|MulWide/.test(k)) continue;
  const isBinary = /^(Add|Sub|Mul|DivS|DivU|Div|RemS|RemU|And|Or|Xor|Shl|ShrS|ShrU|RotL|RotR|Eq|Ne|LtS|LtU|Lt|LeS|LeU|Le|GtS|GtU|Gt|GeS|GeU|Ge|CopySign|Min|Max)(Int|Float)(32|64)$/.test(k);
  (isBinary ? BINARY_OP : UNARY_OP)[v] = k;
}
const ID_NAME: Record<number, string> = {};
for (const k of Object.keys(binaryen)) {
  const v = (binaryen as any)[k];
  const m = /^_Binaryen(\w+)Id$/.exec(k);
  if (m && typeof v === "function" && v.length === 0) { try { ID_NAME[v()] ??= m[1]; } catch { /* not an id getter */ } }
  else if (k.endsWith("Id") && typeof v === "number") ID_NAME[v] ??= k.slice(0, -2);
}


/** A tuple local (multi-value) takes `tuple` slots: element j at off - 8*j. */
type Home = { kind: "reg"; reg: string } | { kind: "slot"; off: number; tuple?: number };
interface Label { name: string; asm: string; depth: number }

/** Module-wide state shared by all function generators. */
export interface ModuleCtx {
  m: LoadedModule;
  target: Target;
  funcIndex: Map<string, number>;
  globalIndex: Map<string, number>;
  dataIndex: Map<string, number>;
  sigIds: Map<string, number>;
  usedTraps: Set<number>;
  /** most elements of any tuple (multi-value) the code passes through tv_tuple */
  maxTuple: number;
  /** imports called; name -> stub label (linux) */
  importStubs: Map<string, FuncRec>;
  labelSeq: number;
  /** table name -> index (tv_tab_<index>) */
  tableIndex: Map<string, number>;
  /** functions whose descriptor tv_fd_<index> is referenced */
  funcDescs: Set<number>;
}

export function sigKey(params: ValType[], results: ValType[]): string {
  return params.join(",") + "->" + results.join(",");
}
export function sigId(ctx: ModuleCtx, params: ValType[], results: ValType[]): number {
  const k = sigKey(params, results);
  let id = ctx.sigIds.get(k);
  if (id === undefined) { id = ctx.sigIds.size + 1; ctx.sigIds.set(k, id); }
  return id;
}

const CMP_CC: Record<string, string> = {
  Eq: "e", Ne: "ne", LtS: "l", LtU: "b", LeS: "le", LeU: "be", GtS: "g", GtU: "a", GeS: "ge", GeU: "ae",
};

export class FuncGen {
  out: string[] = [];
  depth = 0;
  homes: Home[] = [];
  types: ValType[] = [];
  labels: Label[] = [];
  traps = new Set<number>();
  savedRegs: string[] = [];
  homeRegs: string[] = [];
  /** argument register of each parameter (null: on the stack), x86.ts argRegs */
  argRegs: (string | null)[] = [];
  volatileBase = 0;
  slotBytes = 0;
  /** callee-saved registers not used as homes: temporaries instead of push/pop */
  freeTemps: string[] = [];
  /** locals that may be read before written (zeroed in the prologue) */
  needsZero = new Set<number>();
  /** live interval of each register candidate (positions in evaluation order), for tests */
  intervals = new Map<number, [number, number]>();
  usedTemps = new Set<string>();
  opName = "";
  constructor(public ctx: ModuleCtx, public f: FuncRec) {}

  fail(what: string): never {
    throw new CompileError(`function ${this.f.name}: ${what}`);
  }
  e(s: string) { this.out.push("\t" + s); }
  label(l: string) { this.out.push(l + ":"); }
  newLabel(): string { return `.L${this.ctx.labelSeq++}`; }
  trap(code: number): string { this.traps.add(code); this.ctx.usedTraps.add(code); return `.Ltrap${code}_${this.f.index}`; }
  sym(): string { return `tvf_${this.f.index}`; }

  // ---------------------------------------------------------------- locals
  assignHomes() {
    const f = this.f;
    this.types = [...f.params, ...f.vars];
    const n = this.types.length, np = f.params.length;
    const weight = new Array(n).fill(0);
    // positions in evaluation order: a local.get where it is visited, a local.set after its value
    const refs: number[][] = this.types.map(() => []);
    const loops: [number, number, ExprRef][] = [];
    let pos = 0;
    let leaf = true;
    const walk = (e: ExprRef, loop: number) => {
      if (!e) return;
      const info = exprInfo(e);
      const p0 = pos++;
      if (info.id === ID.CallIndirect || (info.id === ID.Call && this.ctx.m.funcByName.get(info.target)?.importModule === undefined)) leaf = false;
      if (info.id === ID.LocalGet || info.id === ID.LocalSet) weight[info.index] += loop;
      const inner = info.id === ID.Loop ? Math.min(loop * 8, 1 << 20) : loop;
      forEachChild(info, (c) => walk(c, inner));
      if (info.id === ID.LocalGet) refs[info.index].push(p0);
      else if (info.id === ID.LocalSet) refs[info.index].push(pos++);
      else if (info.id === ID.Loop) loops.push([p0, pos++, e]);
    };
    walk(f.body, 1);
    const order = this.types.map((_, i) => i).filter((i) => !isFloat(this.types[i]) && this.types[i] !== "tuple" && weight[i] > 0)
      .sort((a, b) => weight[b] - weight[a]);
    // Live intervals: first to last reference (parameters and locals that may be read before
    // written start at entry), stretched over every loop at whose head the local is live, since
    // its value then travels round the back edge (or leaves the loop from an earlier point of the
    // body). A local written before it is read in every iteration (a temporary of the body) is not
    // stretched. Every path between a point where a local is live and its read then stays inside
    // the interval (forward paths in order of position, the others through a stretched loop), so
    // locals whose intervals do not overlap can share a register.
    this.needsZero = readBeforeWrite(f.body, np);
    const heads = loops.length ? loopLiveIn(f.body, n) : new Map();
    const start = new Array(n).fill(0), end = new Array(n).fill(0);
    for (const i of order) {
      const r = refs[i];
      let s = i < np || this.needsZero.has(i) ? 0 : r[0], e = r[r.length - 1];
      for (const [ls, le, loop] of loops) {
        if (!hasLocal(heads.get(loop), i)) continue;
        // any reference inside [ls, le]? (refs are sorted)
        let lo = 0, hi = r.length;
        while (lo < hi) { const mid = (lo + hi) >> 1; if (r[mid] < ls) lo = mid + 1; else hi = mid; }
        if (lo < r.length && r[lo] <= le) { s = Math.min(s, ls); e = Math.max(e, le); }
      }
      start[i] = s; end[i] = e;
    }
    this.intervals = new Map(order.map((i) => [i, [start[i], end[i]] as [number, number]]));
    let slot = 0;
    const homes: Home[] = new Array(n);
    // With many candidates keep a few registers back as expression temporaries.
    // Leaf functions take the caller-saved registers first (no save needed at all).
    const pool = leaf ? [...VOLATILE_REGS, ...HOME_REGS.filter((r) => !VOLATILE_REGS.includes(r))] : HOME_REGS;
    const regs = pool.slice(0, order.length > pool.length - 1 ? pool.length - 2 : pool.length);
    this.argRegs = argRegs(f.params);
    // Linear scan over the intervals in order of start (Poletto & Sarkar), parameters first at
    // entry. A freed register already in use elsewhere is taken before a new one (fewer
    // callee-saved registers to save); a parameter arriving in a free pool register keeps it (leaf
    // functions only: elsewhere r8-r11 would be spilled around every call). With no register free,
    // the lowest loop-weighted interval among the active ones and the new one goes to a frame slot.
    const byStart = [...order].sort((a, b) => start[a] - start[b] || a - b);
    const active: number[] = [];
    const used = new Set<string>();
    let free = [...regs];
    for (const i of byStart) {
      for (let k = active.length - 1; k >= 0; k--) {
        const j = active[k];
        if (end[j] < start[i]) { active.splice(k, 1); free.push((homes[j] as { reg: string }).reg); }
      }
      free = regs.filter((r) => free.includes(r));
      let r: string | undefined;
      const a = this.argRegs[i];
      if (leaf && i < np && a && free.includes(a)) r = a;
      else r = free.find((x) => used.has(x)) ?? free[0];
      if (r === undefined) {
        let victim = -1;
        for (const j of active) if (victim < 0 || weight[j] < weight[victim]) victim = j;
        if (victim < 0 || weight[victim] >= weight[i]) continue; // i stays in a slot
        r = (homes[victim] as { reg: string }).reg;
        homes[victim] = undefined as never;
        active.splice(active.indexOf(victim), 1);
      } else free.splice(free.indexOf(r), 1);
      homes[i] = { kind: "reg", reg: r };
      used.add(r);
      active.push(i);
    }
    this.homeRegs = regs.filter((r) => used.has(r));
    this.savedRegs = this.homeRegs.filter((r) => !VOLATILE_REGS.includes(r));
    // stack params stay in the caller's argument area; other slots sit right below rbp,
    // callee-saved registers below the slots (their number is known after the body).
    const nstack = this.argRegs.filter((r) => r === null).length;
    for (let i = 0; i < this.types.length; i++) {
      if (homes[i]) continue;
      const tuple = f.tupleVars.get(i)?.length;
      if (i < np && !this.argRegs[i]) homes[i] = { kind: "slot", off: 16 + 8 * (nstack - 1 - i) };
      else if (tuple) { homes[i] = { kind: "slot", off: -8 * (slot + 1), tuple }; slot += tuple; this.ctx.maxTuple = Math.max(this.ctx.maxTuple, tuple); }
      else { slot++; homes[i] = { kind: "slot", off: -8 * slot }; }
    }
    this.homes = homes;
    // non-leaf functions spill live r8-r11 to fixed slots around each call
    if (!leaf) { this.volatileBase = 8 * slot; slot += VOLATILE_REGS.length; }
    this.slotBytes = 8 * slot;
    // pop() takes from the end: prefer registers that need no saving around calls
    this.freeTemps = pool.filter((r) => !this.homeRegs.includes(r)).reverse();
  }

  homeOperand(i: number, bits: number): string {
    const h = this.homes[i];
    return h.kind === "reg" ? reg(h.reg, bits) : `${ptrSize(bits)} ${slot(h.off)}`;
  }
  slotOf(i: number): string { return slot((this.homes[i] as { off: number }).off); }

  // ---------------------------------------------------------------- function
  generate(): string[] {
    const f = this.f;
    this.ctx.maxTuple = Math.max(this.ctx.maxTuple, f.results.length);
    if (!this.ctx.target.floats) {
      for (const t of [...f.params, ...f.vars, ...f.results]) if (isFloat(t)) this.fail(`${t} is not supported on the ${this.ctx.target.name} target (the monitor is integer-only)`);
    }
    this.assignHomes();
    const np = f.params.length;
    this.gen(f.body);
    const body = this.out;
    this.out = [];
    const saved = [...this.savedRegs, ...HOME_REGS.filter((r) => this.usedTemps.has(r) && !VOLATILE_REGS.includes(r))];
    const saveAt = (k: number) => `[rbp-${this.slotBytes + 8 * (k + 1)}]`;
    const frame = this.slotBytes + 8 * saved.length;
    this.out.push(`\t.p2align 4`, `${this.sym()}:`);
    this.e("push rbp");
    this.e("mov rbp, rsp");
    this.e("cmp rsp, qword ptr [rip + tv_stack_limit]");
    this.e(`jb ${this.trap(8)}`);
    if (frame) this.e(`sub rsp, ${frame}`);
    saved.forEach((r, k) => this.e(`mov qword ptr ${saveAt(k)}, ${r}`));
    // register parameters to their homes: slots first, then a parallel move between registers
    const moves: [string, string][] = [];
    for (let i = 0; i < np; i++) {
      const a = this.argRegs[i], h = this.homes[i];
      if (!a) continue;
      if (h.kind === "slot") this.e(`mov qword ptr ${slot(h.off)}, ${a}`);
      else if (h.reg !== a) moves.push([h.reg, a]);
    }
    parallelMove(moves, (l) => this.e(l));
    const nstack = this.argRegs.filter((r) => r === null).length;
    const needsZero = this.needsZero;
    for (let i = 0; i < this.types.length; i++) {
      const t = this.types[i], h = this.homes[i];
      const bits = t === "i32" || t === "f32" ? 32 : 64;
      if (i < np) {
        if (h.kind === "reg" && !this.argRegs[i]) this.e(`mov ${reg(h.reg, bits)}, ${ptrSize(bits)} [rbp+${16 + 8 * (nstack - 1 - i)}]`);
      } else if (needsZero.has(i)) {
        if (h.kind === "reg") this.e(`xor ${reg(h.reg, 32)}, ${reg(h.reg, 32)}`);
        else for (let j = 0; j < (h.tuple ?? 1); j++) this.e(`mov qword ptr ${slot(h.off - 8 * j)}, 0`);
      }
    }
    // post-passes over the emitted body, in order (each documented at its function); computeInPlace
    // and dropDeadRax run again after foldConstTests, whose new jumps open more of their cases
    const id = String(f.index);
    const passes: ((l: string[]) => string[])[] = [dropReloads, computeInPlace, dropDeadRax, (l) => foldConstTests(l, id),
      computeInPlace, dropDeadRax, (l) => peephole(l, id), dropDeadRax];
    this.out.push(...passes.reduce((l, pass) => pass(l), body));
    this.label(`.Lret_${f.index}`);
    saved.forEach((r, k) => this.e(`mov ${r}, qword ptr ${saveAt(k)}`));
    this.e("leave");
    this.e("ret");
    for (const code of [...this.traps].sort()) {
      this.label(`.Ltrap${code}_${f.index}`);
      this.e(`call tv_trapstub_${code}`);
    }
    this.label(`.Lfe_${f.index}`);
    return this.out;
  }

  // ---------------------------------------------------------------- helpers
  tyOf(e: ExprRef): ValType { return valType(binaryen.getExpressionType(e)); }

  push(t: ValType) {
    if (isFloat(t)) { this.e("sub rsp, 8"); this.e("movsd qword ptr [rsp], xmm0"); }
    else this.e("push rax");
    this.depth += 8;
  }
  popTo(r: string) { this.e(`pop ${r}`); this.depth -= 8; }

  /** Keep the current value (rax or xmm0) while another expression is evaluated. */
  save(t: ValType): string {
    const r = this.freeTemps.pop();
    if (r === undefined) { this.push(t); return "stack"; }
    this.usedTemps.add(r);
    this.e(isFloat(t) ? `movq ${r}, xmm0` : `mov ${r}, rax`);
    return r;
  }
  /** Evaluates integer expression e and keeps it like save(); an integer load goes straight into the temporary. */
  evalSaved(e: ExprRef, next?: ExprRef): string {
    const t = this.tyOf(e);
    // a local.tee into a register home that `next` (evaluated before the value is used) cannot
    // write: the home itself keeps the value (release() leaves it alone)
    if (next !== undefined && binaryen.getExpressionId(e) === ID.LocalSet && !isFloat(t)) {
      const li = binaryen.getExpressionInfo(e) as any;
      const h = this.homes[li.index];
      if (li.isTee && h.kind === "reg" && !this.localsWritten(next).has(li.index)) { this.gen(e); return h.reg; }
    }
    if (!isFloat(t) && binaryen.getExpressionId(e) === ID.Load && this.freeTemps.length > 0) {
      const r = this.freeTemps.pop()!;
      this.usedTemps.add(r);
      this.genLoad(exprInfo(e), r);
      return r;
    }
    this.gen(e);
    return this.save(t);
  }
  /** Gives back a temporary from evalSaved()/save(); a borrowed local home stays the local's. */
  release(h: string) { if (!this.homeRegs.includes(h)) this.freeTemps.push(h); }
  restoreInt(h: string, into: string) {
    if (h === "stack") { this.popTo(into); return; }
    this.e(`mov ${into}, ${h}`);
    this.release(h);
  }
  restoreXmm(h: string, xmm: string, t: ValType) {
    if (h === "stack") {
      this.e(`${t === "f32" ? "movss" : "movsd"} ${xmm}, ${t === "f32" ? "dword" : "qword"} ptr [rsp]`);
      this.e("add rsp, 8");
      this.depth -= 8;
      return;
    }
    this.e(`movq ${xmm}, ${h}`);
    this.release(h);
  }

  /** Integer operand usable directly as the source of an ALU op (imm, register or memory). */
  operand(e: ExprRef, allowMem = true): string | null {
    const id = binaryen.getExpressionId(e);
    if (id === ID.Const) {
      const c = constBits(e);
      if (c.type === "i32") return imm32(c.bits, 32);
      if (c.type === "i64") return imm32(c.bits, 64);
      return null;
    }
    if (id === ID.LocalGet) {
      const info = binaryen.getExpressionInfo(e) as any;
      const t = this.types[info.index];
      if (isFloat(t)) return null;
      const h = this.homes[info.index];
      if (h.kind === "slot" && !allowMem) return null;
      return this.homeOperand(info.index, t === "i32" ? 32 : 64);
    }
    if (id === ID.GlobalGet && allowMem) {
      const info = binaryen.getExpressionInfo(e) as any;
      const t = this.tyOf(e);
      if (isFloat(t)) return null;
      return `${ptrSize(t === "i32" ? 32 : 64)} [rip + tv_g_${this.ctx.globalIndex.get(info.name)}]`;
    }
    return null;
  }

  isConst(e: ExprRef): boolean { return binaryen.getExpressionId(e) === ID.Const; }
  writesLocals(e: ExprRef): boolean { return (sideEffects(e, this.ctx.m.mod) & binaryen.SideEffects.WritesLocal) !== 0; }
  /** True when evaluating e cannot change what a local/global operand reads. */
  preservesOperands(e: ExprRef): boolean {
    const S = binaryen.SideEffects;
    return (sideEffects(e, this.ctx.m.mod) & (S.WritesLocal | S.WritesGlobal | S.Calls)) === 0;
  }
  /** The locals that evaluating e may write (local.set/tee anywhere inside it), memoized per expression. */
  localsWritten(e: ExprRef): Set<number> {
    let w = this.writtenMemo.get(e);
    if (w) return w;
    w = new Set<number>();
    const info = exprInfo(e);
    if (info.id === ID.LocalSet) w.add(info.index);
    forEachChild(info, (c) => { if (c) for (const i of this.localsWritten(c)) w!.add(i); });
    this.writtenMemo.set(e, w);
    return w;
  }
  writtenMemo = new Map<ExprRef, Set<number>>();
  /**
   * True when operand expression `op` (a constant, local.get or global.get) reads the same value
   * after `e` is evaluated as before: a local only changes if e sets that very local (calls cannot
   * touch this function's locals), a global if e writes globals or calls.
   */
  operandSafe(op: ExprRef, e: ExprRef): boolean {
    const id = binaryen.getExpressionId(op);
    if (id === ID.Const) return true;
    if (id === ID.LocalGet) return !this.localsWritten(e).has((binaryen.getExpressionInfo(op) as any).index);
    return this.preservesOperands(e);
  }

  /** Branch to a label from the current stack depth, optionally on condition cc. */
  jumpTo(l: Label, cc?: string) {
    const diff = this.depth - l.depth;
    if (diff === 0) { this.e(cc ? `j${cc} ${l.asm}` : `jmp ${l.asm}`); return; }
    if (cc) {
      const skip = this.newLabel();
      this.e(`j${INVERT[cc]} ${skip}`);
      this.e(`lea rsp, [rsp+${diff}]`);
      this.e(`jmp ${l.asm}`);
      this.label(skip);
    } else {
      this.e(`lea rsp, [rsp+${diff}]`);
      this.e(`jmp ${l.asm}`);
    }
  }
  findLabel(name: string): Label {
    for (let i = this.labels.length - 1; i >= 0; i--) if (this.labels[i].name === name) return this.labels[i];
    this.fail(`branch to unknown label ${name}`);
  }

  // ---------------------------------------------------------------- expressions
  gen(e: ExprRef): void {
    const info = exprInfo(e);
    if (!this.ctx.target.floats && (info.type === binaryen.f32 || info.type === binaryen.f64))
      this.fail(`${valType(info.type)} ${ID_NAME[info.id] ?? "expression"} is not supported on the ${this.ctx.target.name} target (the monitor is integer-only)`);
    switch (info.id) {
      case ID.Nop: return;
      case ID.Unreachable: this.ctx.usedTraps.add(1); this.e("call tv_trapstub_1"); return;
      case ID.Block: {
        const name: string | null = info.name;
        let l: Label | undefined;
        if (name) { l = { name, asm: this.newLabel(), depth: this.depth }; this.labels.push(l); }
        for (const c of info.children) this.gen(c);
        if (l) { this.labels.pop(); this.label(l.asm); }
        return;
      }
      case ID.Loop: {
        const l: Label = { name: info.name, asm: this.newLabel(), depth: this.depth };
        this.labels.push(l);
        this.label(l.asm);
        this.gen(info.body);
        this.labels.pop();
        return;
      }
      case ID.If: {
        const lelse = this.newLabel();
        this.genJump(info.condition, lelse, false);
        this.gen(info.ifTrue);
        if (info.ifFalse) {
          const lend = this.newLabel();
          this.e(`jmp ${lend}`);
          this.label(lelse);
          this.gen(info.ifFalse);
          this.label(lend);
        } else this.label(lelse);
        return;
      }
      case ID.Break: {
        const l = this.findLabel(info.name);
        if (info.value) this.gen(info.value);
        if (!info.condition) { this.jumpTo(l); return; }
        if (info.value && this.tyOf(info.value) === "tuple") {
          const n = this.tupleSave(info.value);
          const cc = this.genCond(info.condition);
          this.tupleRestore(n);
          this.jumpTo(l, cc);
        } else if (info.value) {
          const vt = this.tyOf(info.value);
          const h = this.save(vt);
          const cc = this.genCond(info.condition);
          if (isFloat(vt)) this.restoreXmm(h, "xmm0", vt); else this.restoreInt(h, "rax");
          this.jumpTo(l, cc);
        } else if (l.depth === this.depth) {
          this.genJump(info.condition, l.asm, true);
        } else {
          this.jumpTo(l, this.genCond(info.condition));
        }
        return;
      }
      case ID.Switch: return this.genSwitch(info);
      case ID.Return: {
        if (info.value) this.gen(info.value);
        this.e(`jmp .Lret_${this.f.index}`);
        return;
      }
      case ID.Drop: this.gen(info.value); return;
      case ID.Const: return this.genConst(e);
      case ID.LocalGet: {
        const t = this.types[info.index], h = this.homes[info.index];
        if (t === "tuple") { this.tupleCopy(info.index, false); return; }
        if (t === "f32") this.e(`movss xmm0, dword ptr ${this.slotOf(info.index)}`);
        else if (t === "f64") this.e(`movsd xmm0, qword ptr ${this.slotOf(info.index)}`);
        else this.e(`mov ${t === "i32" ? "eax" : "rax"}, ${this.homeOperand(info.index, t === "i32" ? 32 : 64)}`);
        return;
      }
      case ID.LocalSet: return this.genLocalSet(info);
      case ID.GlobalGet: {
        const t = valType(info.type);
        const g = `tv_g_${this.ctx.globalIndex.get(info.name)}`;
        if (t === "f32") this.e(`movss xmm0, dword ptr [rip + ${g}]`);
        else if (t === "f64") this.e(`movsd xmm0, qword ptr [rip + ${g}]`);
        else this.e(`mov ${t === "i32" ? "eax" : "rax"}, ${ptrSize(t === "i32" ? 32 : 64)} [rip + ${g}]`);
        return;
      }
      case ID.GlobalSet: {
        const g = `tv_g_${this.ctx.globalIndex.get(info.name)}`;
        const t = this.tyOf(info.value);
        const op = isFloat(t) ? null : this.operand(info.value, false);
        if (op !== null && !op.startsWith("qword") && !op.startsWith("dword")) { this.e(`mov ${ptrSize(t === "i32" ? 32 : 64)} [rip + ${g}], ${op}`); return; }
        this.gen(info.value);
        if (t === "f32") this.e(`movss dword ptr [rip + ${g}], xmm0`);
        else if (t === "f64") this.e(`movsd qword ptr [rip + ${g}], xmm0`);
        else this.e(`mov ${ptrSize(t === "i32" ? 32 : 64)} [rip + ${g}], ${t === "i32" ? "eax" : "rax"}`);
        return;
      }
      case ID.Load: return this.genLoad(info);
      case ID.Store: return this.genStore(info);
      case ID.Unary: return this.genUnary(info, e);
      case ID.Binary: return this.genBinary(info, e);
      case ID.Select: return this.genSelect(info);
      case ID.Call: return this.genCall(info);
      case ID.CallIndirect: return this.genCallIndirect(info);
      case ID.MemorySize: this.needMemory("memory.size"); this.e("mov eax, dword ptr [rip + tv_mem_pages]"); return;
      case ID.MemoryGrow:
        this.needMemory("memory.grow");
        this.gen(info.delta);
        this.e("call tv_rt_memory_grow");
        return;
      case ID.MemoryCopy: {
        this.needMemory("memory.copy");
        const n = this.smallSize(info.size);
        if (n !== null) return this.genSmallBulk(info.dest, info.source, n, "copy");
        return this.genRtCall("tv_rt_memory_copy", [info.dest, info.source, info.size]);
      }
      case ID.MemoryFill: {
        this.needMemory("memory.fill");
        const n = this.smallSize(info.size);
        if (n !== null) return this.genSmallBulk(info.dest, info.value, n, "fill");
        return this.genRtCall("tv_rt_memory_fill", [info.dest, info.value, info.size]);
      }
      case ID.MemoryInit: {
        this.needMemory("memory.init");
        const seg = this.ctx.dataIndex.get(info.segment);
        return this.genRtCall("tv_rt_memory_init", [info.dest, info.offset, info.size], [`lea rax, [rip + tv_dseg_${seg}]`]);
      }
      case ID.DataDrop: {
        const seg = this.ctx.dataIndex.get(info.segment);
        this.e(`mov qword ptr [rip + tv_dseg_${seg}+8], 0`);
        return;
      }
      case ID.TupleMake: {
        // a tuple value travels in tv_tuple (one quad per element), written only after every
        // operand is evaluated (an operand may pass another tuple through it)
        const ops: ExprRef[] = info.operands;
        this.ctx.maxTuple = Math.max(this.ctx.maxTuple, ops.length);
        for (const o of ops) this.pushArg(o);
        for (let j = ops.length - 1; j >= 0; j--) { this.e(`pop qword ptr [rip + tv_tuple+${8 * j}]`); this.depth -= 8; }
        return;
      }
      case ID.TupleExtract: {
        this.gen(info.tuple);
        const t = valType(info.type), a = `[rip + tv_tuple+${8 * info.index}]`;
        if (t === "f32") this.e(`movss xmm0, dword ptr ${a}`);
        else if (t === "f64") this.e(`movsd xmm0, qword ptr ${a}`);
        else if (t === "i32") this.e(`mov eax, dword ptr ${a}`);
        else this.e(`mov rax, qword ptr ${a}`);
        return;
      }
      // references are u64 values in integer registers: 0 is null (module.ts, "tables")
      case ID.RefNull: this.e("xor eax, eax"); return;
      case ID.RefIsNull: this.gen(info.value); this.e("test rax, rax"); this.e("sete al"); this.e("movzx eax, al"); return;
      case ID.RefFunc: this.e(`lea rax, [rip + ${this.funcDesc(info.func)}]`); return;
      case ID.TableSize: this.e(`mov eax, dword ptr [rip + ${this.table(info.table)}]`); return;
      case ID.TableGet: {
        const t = this.table(info.table);
        this.gen(info.index); // zero-extended u32
        this.e(`cmp rax, qword ptr [rip + ${t}]`);
        this.e(`jae ${this.trap(9)}`);
        this.e(`lea rcx, [rip + ${t}]`);
        this.e("mov rax, qword ptr [rcx+16+rax*8]");
        return;
      }
      case ID.TableSet: {
        const t = this.table(info.table);
        const h = this.evalSaved(info.index);
        this.gen(info.value);
        this.restoreInt(h, "rcx");
        this.e(`cmp rcx, qword ptr [rip + ${t}]`);
        this.e(`jae ${this.trap(9)}`);
        this.e(`lea rdx, [rip + ${t}]`);
        this.e("mov qword ptr [rdx+16+rcx*8], rax");
        return;
      }
      case ID.TableGrow: return this.genRtCall("tv_rt_table_grow", [info.value, info.delta], [`lea rax, [rip + ${this.table(info.table)}]`]);
    }
    this.fail(`unsupported op ${ID_NAME[info.id] ?? info.id}`);
  }

  /** Copies tuple local i from (toLocal) or to tv_tuple. */
  tupleCopy(i: number, toLocal: boolean) {
    const h = this.homes[i] as { off: number; tuple: number };
    for (let j = 0; j < h.tuple; j++) {
      const a = `qword ptr [rip + tv_tuple+${8 * j}]`, l = `qword ptr ${slot(h.off - 8 * j)}`;
      this.e(`mov rax, ${toLocal ? a : l}`);
      this.e(`mov ${toLocal ? l : a}, rax`);
    }
  }
  /** Pushes the tuple in tv_tuple (while a condition is evaluated); returns its element count. */
  tupleSave(e: ExprRef): number {
    const n = valTypes(binaryen.getExpressionType(e)).length;
    for (let j = 0; j < n; j++) { this.e(`push qword ptr [rip + tv_tuple+${8 * j}]`); this.depth += 8; }
    return n;
  }
  /** Pops a tuple saved by tupleSave back into tv_tuple; pop and mov leave the flags alone. */
  tupleRestore(n: number) {
    for (let j = n - 1; j >= 0; j--) { this.e(`pop qword ptr [rip + tv_tuple+${8 * j}]`); this.depth -= 8; }
  }

  table(name: string): string {
    const k = this.ctx.tableIndex.get(name);
    if (k === undefined) this.fail(`unknown table ${name}`);
    return `tv_tab_${k}`;
  }
  funcDesc(name: string): string {
    const f = this.ctx.m.funcByName.get(name);
    if (!f) this.fail(`ref.func of unknown function ${name}`);
    this.ctx.funcDescs.add(f.index);
    return `tv_fd_${f.index}`;
  }

  /** The table instructions the binary pre-pass turned into calls of internal imports (wasm-rewrite.ts). */
  genInternalCall(callee: FuncRec, operands: ExprRef[]) {
    const [op, a, b] = callee.importBase!.split(":");
    const seg = (k: string) => {
      if (!this.ctx.m.raw?.elems[Number(k)]) this.fail(`${op}: unknown element segment ${k}`);
      return `tv_eseg_${k}`;
    };
    const tab = (k: string) => {
      if (!this.ctx.m.tables[Number(k)]) this.fail(`${op}: unknown table ${k}`);
      return `tv_tab_${k}`;
    };
    switch (op) {
      case "table.init": return this.genRtCall("tv_rt_table_init", operands, [`lea rax, [rip + ${tab(b)}]`, `lea rdx, [rip + ${seg(a)}]`]);
      case "table.copy": return this.genRtCall("tv_rt_table_copy", operands, [`lea rax, [rip + ${tab(a)}]`, `lea rdx, [rip + ${tab(b)}]`]);
      case "table.fill": return this.genRtCall("tv_rt_table_fill", operands, [`lea rax, [rip + ${tab(a)}]`]);
      case "elem.drop": this.e(`mov qword ptr [rip + ${seg(a)}], 0`); return;
    }
    this.fail(`unknown internal import ${callee.importBase}`);
  }

  /** A constant memory.copy/fill size small enough to inline (<= 64 bytes), else null. */
  smallSize(e: ExprRef): number | null {
    if (!this.isConst(e)) return null;
    const n = Number(constBits(e).bits & 0xffffffffn);
    return n <= 64 ? n : null;
  }

  /**
   * memory.copy / memory.fill with a constant size n <= 64, inline with GPR moves (no SSE:
   * the baremetal monitor does not save xmm registers). Wasm semantics kept exactly:
   * - operands are evaluated in order (dest, then source/value; the size is a constant);
   * - both ranges are bounds-checked before any byte is written, trapping like the runtime
   *   helper (trap 5). dest/src are zero-extended u32 and memsize - n >= -64, so one signed
   *   64-bit compare per range is exact (also for n = 0);
   * - copy is a memmove: pieces go upwards when dest <= src and downwards otherwise, and each
   *   piece is loaded before it is stored, so no piece overwrites source bytes not yet read.
   */
  genSmallBulk(dest: ExprRef, src: ExprRef, n: number, kind: "copy" | "fill") {
    const h = this.evalSaved(dest);
    this.gen(src);
    this.restoreInt(h, "rcx"); // rcx = dest, rax = source address / fill value
    this.e("mov rdx, qword ptr [rip + tv_mem_pages]");
    this.e("shl rdx, 16");
    if (n !== 0) this.e(`sub rdx, ${n}`);
    this.e("cmp rcx, rdx");
    this.e(`jg ${this.trap(5)}`);
    if (kind === "copy") { this.e("cmp rax, rdx"); this.e(`jg ${this.trap(5)}`); }
    if (n === 0) return;
    const pieces: [number, number][] = [];
    for (let o = 0; o < n;) {
      const w = n - o >= 8 ? 8 : n - o >= 4 ? 4 : n - o >= 2 ? 2 : 1;
      pieces.push([o, w]);
      o += w;
    }
    const ptr = (w: number) => (w === 8 ? "qword ptr" : w === 4 ? "dword ptr" : w === 2 ? "word ptr" : "byte ptr");
    const dx = (w: number) => reg("rdx", w * 8);
    if (kind === "fill") {
      // broadcast the low byte of the value into all 8 bytes of rdx
      this.e("movzx eax, al");
      this.e("movabs rdx, 0x0101010101010101");
      this.e("imul rdx, rax");
      for (const [o, w] of pieces) this.e(`mov ${ptr(w)} [r15+rcx+${o}], ${dx(w)}`);
      return;
    }
    const move = (list: [number, number][]) => {
      for (const [o, w] of list) {
        this.e(`mov ${dx(w)}, ${ptr(w)} [r15+rax+${o}]`);
        this.e(`mov ${ptr(w)} [r15+rcx+${o}], ${dx(w)}`);
      }
    };
    if (pieces.length === 1) { move(pieces); return; } // one load before one store: any overlap is fine
    const down = this.newLabel(), done = this.newLabel();
    this.e("cmp rcx, rax");
    this.e(`ja ${down}`);
    move(pieces);
    this.e(`jmp ${done}`);
    this.label(down);
    move([...pieces].reverse());
    this.label(done);
  }

  needMemory(op: string) { if (!this.ctx.m.memory) this.fail(`${op} without a memory`); }

  genConst(e: ExprRef) {
    const c = constBits(e);
    switch (c.type) {
      case "i32": this.e(c.bits === 0n ? "xor eax, eax" : `mov eax, ${Number(BigInt.asIntN(32, c.bits))}`); return;
      case "i64": {
        const s = BigInt.asIntN(64, c.bits);
        if (s === 0n) this.e("xor eax, eax");
        else if (c.bits < (1n << 32n)) this.e(`mov eax, ${hex(c.bits)}`);
        else if (s >= -(1n << 31n) && s < 0n) this.e(`mov rax, ${s}`);
        else this.e(`movabs rax, ${hex(c.bits)}`);
        return;
      }
      case "f32":
        if (c.bits === 0n) this.e("xorps xmm0, xmm0");
        else { this.e(`mov eax, ${hex(c.bits)}`); this.e("movd xmm0, eax"); }
        return;
      case "f64":
        if (c.bits === 0n) this.e("xorps xmm0, xmm0");
        else { this.e(`movabs rax, ${hex(c.bits)}`); this.e("movq xmm0, rax"); }
        return;
    }
  }

  genLocalSet(info: any) {
    const i: number = info.index;
    const t = this.types[i], h = this.homes[i];
    if (t === "tuple") { this.gen(info.value); this.tupleCopy(i, true); return; }
    if (isFloat(t)) {
      this.gen(info.value);
      this.e(`${t === "f32" ? "movss dword" : "movsd qword"} ptr ${this.slotOf(i)}, xmm0`);
      return;
    }
    const bits = t === "i32" ? 32 : 64;
    const dst = this.homeOperand(i, bits);
    const ra = reg("rax", bits);
    // local = const
    const op = this.operand(info.value, h.kind === "reg");
    if (op !== null && !info.isTee && (h.kind === "reg" || /^-?\d+$/.test(op))) {
      if (op !== dst) this.e(`mov ${dst}, ${op}`);
      return;
    }
    // local = local op simple  ->  op local, simple
    if (!info.isTee && binaryen.getExpressionId(info.value) === ID.Binary) {
      const b = binaryen.getExpressionInfo(info.value) as any;
      const name = BINARY_OP[b.op] ?? "";
      const m = /^(Add|Sub|And|Or|Xor)Int(32|64)$/.exec(name);
      if (m && binaryen.getExpressionId(b.left) === ID.LocalGet && (binaryen.getExpressionInfo(b.left) as any).index === i) {
        const src = this.operand(b.right, h.kind === "reg");
        if (src !== null && (h.kind === "reg" || /^-?\d+$/.test(src))) {
          this.e(`${m[1].toLowerCase()} ${dst}, ${src}`);
          return;
        }
      }
    }
    // local = wrap(x): the 32-bit store of the home truncates (a 32-bit register write zero-extends)
    if (!info.isTee && bits === 32 && binaryen.getExpressionId(info.value) === ID.Unary && UNARY_OP[(binaryen.getExpressionInfo(info.value) as any).op] === "WrapInt64"
      && this.operand((binaryen.getExpressionInfo(info.value) as any).value, true) === null) {
      this.gen((binaryen.getExpressionInfo(info.value) as any).value);
      this.e(`mov ${dst}, eax`);
      return;
    }
    // local = load: straight into a register home (writing a 32-bit register zero-extends, as i32 values are kept)
    if (!info.isTee && h.kind === "reg" && binaryen.getExpressionId(info.value) === ID.Load) {
      this.genLoad(exprInfo(info.value), h.reg);
      return;
    }
    this.gen(info.value);
    this.e(`mov ${dst}, ${ra}`);
  }

  // ---------------------------------------------------------------- memory
  /** Address operand for a linear-memory access, evaluating ptr into `into` if needed. */
  address(ptr: ExprRef, offset: number, into = "rax"): string {
    const off = offset >>> 0;
    const id = binaryen.getExpressionId(ptr);
    if (id === ID.Const) {
      const c = Number(constBits(ptr).bits) + off;
      if (c <= 0x7fffffff) return `[r15+${c}]`;
      this.e(`mov ${into}, ${c}`);
      return `[r15+${into}]`;
    }
    if (id === ID.LocalGet && off <= 0x7fffffff) {
      const li = (binaryen.getExpressionInfo(ptr) as any).index;
      const h = this.homes[li];
      if (h.kind === "reg") return off ? `[r15+${h.reg}+${off}]` : `[r15+${h.reg}]`;
    }
    this.gen(ptr);
    if (into !== "rax") this.e(`mov ${reg(into, 32)}, eax`);
    return this.fixOffset(into, off);
  }
  fixOffset(r: string, off: number): string {
    if (off === 0) return `[r15+${r}]`;
    if (off <= 0x7fffffff) return `[r15+${r}+${off}]`;
    if (this.homeRegs.includes(r)) { this.e(`mov rcx, ${r}`); r = "rcx"; } // a borrowed local home is not changed
    this.e(`mov edx, ${off}`);
    this.e(`add ${r}, rdx`);
    return `[r15+${r}]`;
  }
  ptrIsStable(ptr: ExprRef): boolean {
    const id = binaryen.getExpressionId(ptr);
    if (id === ID.Const) return true;
    if (id === ID.LocalGet) return this.homes[(binaryen.getExpressionInfo(ptr) as any).index].kind === "reg";
    return false;
  }

  /** An integer load leaves its value in `into` (default rax; local.set passes a register home). */
  genLoad(info: any, into = "rax") {
    const t = valType(info.type);
    const a = this.address(info.ptr, info.offset);
    const bytes: number = info.bytes;
    if (t === "f32") { this.e(`movss xmm0, dword ptr ${a}`); return; }
    if (t === "f64") { this.e(`movsd xmm0, qword ptr ${a}`); return; }
    const r64 = into, r32 = reg(into, 32);
    const dst = t === "i64" ? r64 : r32;
    if (bytes === 8) this.e(`mov ${r64}, qword ptr ${a}`);
    else if (bytes === 4) {
      if (t === "i64" && info.isSigned) this.e(`movsxd ${r64}, dword ptr ${a}`);
      else this.e(`mov ${r32}, dword ptr ${a}`);
    } else {
      const p = bytes === 1 ? "byte ptr" : "word ptr";
      this.e(info.isSigned ? `movsx ${dst}, ${p} ${a}` : `movzx ${r32}, ${p} ${a}`);
    }
  }

  genStore(info: any) {
    const vt = this.tyOf(info.value);
    const bytes: number = info.bytes;
    const bits = bytes * 8;
    // value is an immediate or register: no temporaries needed
    if (!isFloat(vt)) {
      const op = this.operand(info.value, false);
      if (op !== null) {
        const a = this.address(info.ptr, info.offset);
        let src = op;
        if (/^-?\d+$/.test(op)) {
          const v = BigInt(op);
          src = bits === 64 ? op : String(Number(BigInt.asIntN(bits, v)));
        } else src = reg(regOf(op), bits);
        this.e(`mov ${ptrSize(bits)} ${a}, ${src}`);
        return;
      }
    }
    if (!isFloat(vt) && this.genStoreRmw(info, bits)) return;
    // value a memory operand (a local in a frame slot, a global): the pointer is evaluated first as
    // written, the value then read into rcx
    const mop = isFloat(vt) ? null : this.operand(info.value, true);
    if (mop !== null) {
      const a = this.address(info.ptr, info.offset);
      this.e(`mov ${reg("rcx", vt === "i64" ? 64 : 32)}, ${mop}`);
      this.e(`mov ${ptrSize(bits)} ${a}, ${reg("rcx", bits)}`);
      return;
    }
    if (this.ptrIsStable(info.ptr) && this.operandSafe(info.ptr, info.value)) {
      this.gen(info.value);
      const a = this.address(info.ptr, info.offset, "rcx");
      this.storeFrom(a, vt, bits);
      return;
    }
    const off = info.offset >>> 0;
    const h = this.evalSaved(info.ptr, info.value);
    this.gen(info.value);
    if (h !== "stack") {
      // The pointer waits in register h (zero-extended: it came from a 32-bit eax): address through it.
      this.storeFrom(this.fixOffset(h, off), vt, bits);
      this.release(h);
      return;
    }
    this.restoreInt(h, "rcx");
    this.storeFrom(this.fixOffset("rcx", off), vt, bits);
  }
  /** store(p, op(load(p), x)) with the same address and width, x an immediate or register: one
   *  read-modify-write instruction (only the stored low bits matter, so a narrow load's extension does not). */
  genStoreRmw(info: any, bits: number): boolean {
    if (binaryen.getExpressionId(info.value) !== ID.Binary) return false;
    const b = binaryen.getExpressionInfo(info.value) as any;
    const m = /^(Add|Sub|And|Or|Xor)Int(32|64)$/.exec(BINARY_OP[b.op] ?? "");
    if (!m || binaryen.getExpressionId(b.left) !== ID.Load) return false;
    const ld = binaryen.getExpressionInfo(b.left) as any;
    if (ld.bytes !== info.bytes || (ld.offset >>> 0) !== (info.offset >>> 0) || !this.ptrIsStable(info.ptr) || !this.samePtr(ld.ptr, info.ptr)) return false;
    const src = this.operand(b.right, false);
    if (src === null) {
      // a right side that only reads (no trap, write or call) may run before the load
      if (!this.isPure(b.right)) return false;
      this.gen(b.right);
      this.e(`${m[1].toLowerCase()} ${ptrSize(bits)} ${this.address(info.ptr, info.offset)}, ${reg("rax", bits)}`);
      return true;
    }
    const a = this.address(info.ptr, info.offset);
    const isImm = /^-?\d+$/.test(src);
    const v = isImm ? (bits === 64 ? src : String(Number(BigInt.asIntN(bits, BigInt(src))))) : reg(regOf(src), bits);
    this.e(`${m[1].toLowerCase()} ${ptrSize(bits)} ${a}, ${v}`);
    return true;
  }
  /** Two pointer expressions that read the same thing: the same constant or the same local. */
  samePtr(a: ExprRef, b: ExprRef): boolean {
    const ia = binaryen.getExpressionId(a), ib = binaryen.getExpressionId(b);
    if (ia !== ib) return false;
    if (ia === ID.Const) return constBits(a).bits === constBits(b).bits;
    if (ia === ID.LocalGet) return (binaryen.getExpressionInfo(a) as any).index === (binaryen.getExpressionInfo(b) as any).index;
    return false;
  }
  storeFrom(a: string, vt: ValType, bits: number) {
    if (vt === "f32") this.e(`movss dword ptr ${a}, xmm0`);
    else if (vt === "f64") this.e(`movsd qword ptr ${a}, xmm0`);
    else this.e(`mov ${ptrSize(bits)} ${a}, ${reg("rax", bits)}`);
  }

  // ---------------------------------------------------------------- calls
  pushArg(e: ExprRef) {
    const t = this.tyOf(e);
    if (!isFloat(t)) {
      const op = this.operand(e, true);
      if (op !== null) {
        // a callee takes an i32 argument zero-extended (x86.ts): `push imm32` sign-extends a negative
        // i32, and an i32 in memory (a frame slot, a global) is stored as a dword, the upper half of its
        // 8 bytes being whatever was there before; both go through eax, which zero-extends
        if (t === "i32" && (op.includes("ptr") || op.startsWith("-"))) { this.e(`mov eax, ${op}`); this.e("push rax"); }
        else if (/^-?\d+$/.test(op)) this.e(`push ${op}`);
        else if (op.includes("ptr")) this.e(`push qword ${op.slice(op.indexOf("ptr"))}`);
        else this.e(`push ${regOf(op)}`);
        this.depth += 8;
        return;
      }
    }
    this.gen(e);
    this.push(t);
  }

  genCall(info: any) {
    const callee = this.ctx.m.funcByName.get(info.target)!;
    if (info.isReturn) this.fail("tail calls are not supported");
    if (callee.importModule !== undefined) return this.genImportCall(callee, info.operands);
    const plan = this.evalArgs(info.operands, callee.params, null);
    const keep = this.saveVolatiles();
    this.loadRegArgs(plan);
    this.e(`call tvf_${callee.index}`);
    this.restoreVolatiles(keep);
    this.popArgs(plan.nstack);
  }

  /**
   * Evaluates call arguments in order. Stack arguments are pushed; a register argument is
   * pushed too unless it is a local, constant or global whose value nothing after it (later
   * arguments, `after`) can change: that one is read straight into its register at the call.
   */
  evalArgs(ops: ExprRef[], params: ValType[], after: ExprRef | null): { nstack: number; regs: { reg: string; late: ExprRef | null }[] } {
    const regs = argRegs(params);
    const rest = (i: number) => [...ops.slice(i + 1), ...(after ? [after] : [])];
    const plan = { nstack: 0, regs: [] as { reg: string; late: ExprRef | null }[] };
    ops.forEach((a, i) => {
      const r = regs[i];
      if (!r) { this.pushArg(a); plan.nstack++; return; }
      const late = this.operand(a, true) !== null && rest(i).every((x) => this.preservesOperands(x));
      if (!late) this.pushArg(a);
      plan.regs.push({ reg: r, late: late ? a : null });
    });
    return plan;
  }
  /** After saveVolatiles: pushed register arguments popped, late ones loaded (a local homed in
   *  r8-r11 is read from its spill slot, since the registers are being overwritten). */
  loadRegArgs(plan: { regs: { reg: string; late: ExprRef | null }[] }) {
    for (let k = plan.regs.length - 1; k >= 0; k--) if (!plan.regs[k].late) this.popTo(plan.regs[k].reg);
    for (const { reg: r, late } of plan.regs) {
      if (!late) continue;
      const t = this.tyOf(late);
      const bits = t === "i32" ? 32 : 64;
      let op = this.operand(late, true)!;
      const home = regOf(op);
      if (VOLATILE_REGS.includes(home)) op = `${ptrSize(bits)} ${this.volatileSlot(home)}`;
      if (/^-?\d+$/.test(op) && bits === 64) this.e(`mov ${r}, ${op}`);
      else this.e(`mov ${reg(r, bits)}, ${op}`);
    }
  }
  /** r8-r11 holding locals or live temporaries are spilled to frame slots around internal
   *  calls, after the arguments are evaluated (an argument may write such a local). */
  saveVolatiles(): string[] {
    const live = VOLATILE_REGS.filter((r) => this.homeRegs.includes(r) || (this.usedTemps.has(r) && !this.freeTemps.includes(r)));
    for (const r of live) this.e(`mov qword ptr ${this.volatileSlot(r)}, ${r}`);
    return live;
  }
  volatileSlot(r: string): string { return `[rbp-${this.volatileBase + 8 * (VOLATILE_REGS.indexOf(r) + 1)}]`; }
  restoreVolatiles(live: string[]) {
    for (const r of live) this.e(`mov ${r}, qword ptr ${this.volatileSlot(r)}`);
  }
  needImportStub(f: FuncRec) { this.ctx.importStubs.set(f.name, f); }
  popArgs(n: number) {
    if (n) { this.e(`add rsp, ${8 * n}`); this.depth -= 8 * n; }
  }

  genCallIndirect(info: any) {
    if (info.isReturn) this.fail("tail calls are not supported");
    const t = this.table(info.table);
    const params = valTypes(info.params), results = valTypes(info.results);
    const sig = sigId(this.ctx, params, results);
    const plan = this.evalArgs(info.operands, params, info.target);
    this.gen(info.target);
    const keep = this.saveVolatiles();
    this.loadRegArgs(plan);
    // entry = descriptor address {code, signature id} or 0 (module.ts, "tables")
    this.e(`cmp rax, qword ptr [rip + ${t}]`);
    this.e(`jae ${this.trap(6)}`);
    this.e(`lea rcx, [rip + ${t}]`);
    this.e("mov rdx, qword ptr [rcx+16+rax*8]");
    this.e("test rdx, rdx");
    this.e(`jz ${this.trap(6)}`);
    this.e(`cmp qword ptr [rdx+8], ${sig}`);
    this.e(`jne ${this.trap(7)}`);
    this.e("call qword ptr [rdx]");
    this.restoreVolatiles(keep);
    this.popArgs(plan.nstack);
  }

  /** Call one of the shared runtime helpers with its operands on the stack. */
  genRtCall(fn: string, args: ExprRef[], pre: string[] = []) {
    for (const a of args) this.pushArg(a);
    for (const l of pre) this.e(l);
    this.e(`call ${fn}`);
    this.popArgs(args.length);
  }

  genImportCall(callee: FuncRec, operands: ExprRef[]) {
    if (callee.importModule === INTERNAL_MODULE) return this.genInternalCall(callee, operands);
    if (callee.importModule !== "hw" && !this.ctx.target.linked?.(callee)) this.fail(`import ${callee.importModule}.${callee.importBase} is not supported (only hw.* imports)`);
    this.ctx.target.lowerImport(this, callee, operands);
  }

  // ---------------------------------------------------------------- select / switch
  genSelect(info: any) {
    const t = valType(info.type);
    if (t === "unreachable") { this.gen(info.ifTrue); this.gen(info.ifFalse); this.gen(info.condition); return; }
    const fl = isFloat(t);
    const bits = t === "i32" || t === "f32" ? 32 : 64;
    if (!fl && this.flagsOnly(info.condition)) {
      // the condition only sets flags (rax and rcx untouched): arms first, then cmp + cmov
      const ra = reg("rax", bits), rc = reg("rcx", bits);
      const isImm = (x: string | null) => x !== null && /^-?\d+$/.test(x);
      const top = this.operand(info.ifTrue, true), fop = this.operand(info.ifFalse, true);
      if (top !== null && !isImm(top) && this.operandSafe(info.ifTrue, info.ifFalse)) {
        this.gen(info.ifFalse);
        this.e(`cmov${this.genCond(info.condition)} ${ra}, ${top}`);
        return;
      }
      if (isImm(top)) {
        this.gen(info.ifFalse);
        this.e(`mov ${rc}, ${top}`);
        this.e(`cmov${this.genCond(info.condition)} ${ra}, ${rc}`);
        return;
      }
      if (isImm(fop)) {
        this.gen(info.ifTrue);
        this.e(`mov ${rc}, ${fop}`);
        this.e(`cmov${INVERT[this.genCond(info.condition)]} ${ra}, ${rc}`);
        return;
      }
      const h = this.evalSaved(info.ifTrue);
      this.gen(info.ifFalse);
      if (h !== "stack") {
        this.e(`cmov${this.genCond(info.condition)} ${ra}, ${reg(h, bits)}`);
        this.release(h);
        return;
      }
      this.popTo("rcx");
      this.e(`cmov${this.genCond(info.condition)} ${ra}, ${rc}`);
      return;
    }
    this.gen(info.ifTrue);
    const h1 = this.save(t);
    const fop = fl ? null : this.operand(info.ifFalse, true);
    if (fop !== null && !/^-?\d+$/.test(fop) && this.operandSafe(info.ifFalse, info.condition)) {
      const cc = this.genCond(info.condition);
      this.restoreInt(h1, "rax");
      this.e(`cmov${INVERT[cc]} ${reg("rax", bits)}, ${fop}`);
      return;
    }
    this.gen(info.ifFalse);
    if (fl) this.e("movq rax, xmm0"); // value bits travel through integer registers
    const h2 = this.save("i64");
    const cc = this.genCond(info.condition);
    this.restoreInt(h2, "rcx");
    this.restoreInt(h1, "rax");
    this.e(`cmov${INVERT[cc]} ${reg("rax", bits)}, ${reg("rcx", bits)}`);
    if (fl) this.e("movq xmm0, rax");
  }

  genSwitch(info: any) {
    const targets: Label[] = info.names.map((n: string) => this.findLabel(n));
    const def = this.findLabel(info.defaultName);
    let vt: ValType | undefined;
    let h = "";
    let tupleN = 0;
    if (info.value) {
      vt = this.tyOf(info.value); this.gen(info.value);
      if (vt === "tuple") tupleN = this.tupleSave(info.value); else h = this.save(vt);
    }
    this.gen(info.condition);
    this.e("mov ecx, eax");
    if (tupleN) this.tupleRestore(tupleN);
    else if (vt) { if (isFloat(vt)) this.restoreXmm(h, "xmm0", vt); else this.restoreInt(h, "rax"); }
    if (targets.length === 0) { this.jumpTo(def); return; }
    this.e(`cmp ecx, ${targets.length}`);
    this.jumpTo(def, "ae");
    const tab = this.newLabel();
    this.e(`lea rdx, [rip + ${tab}]`);
    this.e("movsxd rcx, dword ptr [rdx+rcx*4]");
    this.e("add rcx, rdx");
    this.e("jmp rcx");
    const tramp: string[] = [];
    const entries: string[] = [];
    const trampFor = new Map<Label, string>();
    for (const l of targets) {
      if (l.depth === this.depth) { entries.push(l.asm); continue; }
      let t = trampFor.get(l);
      if (!t) {
        t = this.newLabel();
        trampFor.set(l, t);
        tramp.push(`${t}:`, `\tlea rsp, [rsp+${this.depth - l.depth}]`, `\tjmp ${l.asm}`);
      }
      entries.push(t);
    }
    this.out.push("\t.p2align 2", `${tab}:`);
    for (const en of entries) this.e(`.long ${en} - ${tab}`);
    this.out.push(...tramp);
  }

  // ---------------------------------------------------------------- conditions
  /** Jump to `label` when condition e is true (jumpIf) or false (!jumpIf); short-circuit
   *  shapes `if (a) b else 0` (&&) and `if (a) 1 else b` (||) become branch chains. */
  genJump(e: ExprRef, label: string, jumpIf: boolean): void {
    if (this.isConst(e)) { // a constant condition: an unconditional jump or none
      if ((constBits(e).bits !== 0n) === jumpIf) this.e(`jmp ${label}`);
      return;
    }
    if (binaryen.getExpressionId(e) === ID.If && binaryen.getExpressionType(e) === binaryen.i32) {
      const info = binaryen.getExpressionInfo(e) as any;
      const k = (x: ExprRef): bigint | null => x && this.isConst(x) ? constBits(x).bits : null;
      if (info.ifFalse && k(info.ifFalse) === 0n) { // a && b
        if (jumpIf) { const skip = this.newLabel(); this.genJump(info.condition, skip, false); this.genJump(info.ifTrue, label, true); this.label(skip); }
        else { this.genJump(info.condition, label, false); this.genJump(info.ifTrue, label, false); }
        return;
      }
      if (info.ifFalse && k(info.ifTrue) !== null && k(info.ifTrue) !== 0n) { // a || b
        if (jumpIf) { this.genJump(info.condition, label, true); this.genJump(info.ifFalse, label, true); }
        else { const skip = this.newLabel(); this.genJump(info.condition, skip, true); this.genJump(info.ifFalse, label, false); this.label(skip); }
        return;
      }
      if (info.ifFalse) { // if (c) a else b as a condition: each arm branches on its own value
        const lelse = this.newLabel(), lend = this.newLabel();
        this.genJump(info.condition, lelse, false);
        this.genJump(info.ifTrue, label, jumpIf);
        this.e(`jmp ${lend}`);
        this.label(lelse);
        this.genJump(info.ifFalse, label, jumpIf);
        this.label(lend);
        return;
      }
    }
    // select(x, 0, c) is binaryen's `c && x` (select(0, x, c): `!c && x`): nonzero iff c decides
    // for x and x is nonzero. x is evaluated first, as written (the 0 arm is a constant); then c,
    // which only compares operands (no rax), decides whether x's value is tested at all.
    if (binaryen.getExpressionId(e) === ID.Select) {
      const info = binaryen.getExpressionInfo(e) as any;
      const zero = (x: ExprRef) => this.isConst(x) && constBits(x).bits === 0n;
      const t = this.tyOf(e);
      if ((t === "i32" || t === "i64") && zero(info.ifTrue) !== zero(info.ifFalse) && this.flagsOnly(info.condition)) {
        const x = zero(info.ifFalse) ? info.ifTrue : info.ifFalse;
        this.gen(x);
        // a tee into a register home: test the home (rax is then only a carrier computeInPlace removes)
        const xi = exprInfo(x);
        const h = xi.id === ID.LocalSet ? this.homes[xi.index] : null;
        const v = h && h.kind === "reg" ? reg(h.reg, t === "i64" ? 64 : 32) : reg("rax", t === "i64" ? 64 : 32);
        const cc = this.genCond(info.condition);
        const ccX = zero(info.ifFalse) ? cc : INVERT[cc]; // x is the value when ccX holds
        if (jumpIf) {
          const skip = this.newLabel();
          this.e(`j${INVERT[ccX]} ${skip}`);
          this.e(`test ${v}, ${v}`);
          this.e(`jne ${label}`);
          this.label(skip);
        } else {
          this.e(`j${INVERT[ccX]} ${label}`);
          this.e(`test ${v}, ${v}`);
          this.e(`je ${label}`);
        }
        return;
      }
    }
    // or(a, b) / and(a, b) of conditions with a pure b (nothing but reads: no trap, write or call,
    // so skipping it is unobservable) become branch chains. or(a, b) != 0 iff a != 0 or b != 0 for
    // any values; and needs both sides 0/1.
    const lg = this.logical(e);
    if (lg && this.isPure(lg.r) && (lg.op === "Or" || (this.isBool(lg.l) && this.isBool(lg.r)))) {
      const skip = this.newLabel();
      if (lg.op === "Or") {
        if (jumpIf) { this.genJump(lg.l, label, true); this.genJump(lg.r, label, true); }
        else { this.genJump(lg.l, skip, true); this.genJump(lg.r, label, false); this.label(skip); }
      } else {
        if (jumpIf) { this.genJump(lg.l, skip, false); this.genJump(lg.r, label, true); this.label(skip); }
        else { this.genJump(lg.l, label, false); this.genJump(lg.r, label, false); }
      }
      return;
    }
    const cc = this.genCond(e);
    this.e(`j${jumpIf ? cc : INVERT[cc]} ${label}`);
  }
  /** genCond(e) would emit only a cmp/test of registers, memory operands and immediates. */
  flagsOnly(e: ExprRef): boolean {
    const id = binaryen.getExpressionId(e);
    if (id === ID.LocalGet) return !isFloat(this.tyOf(e)) && this.operand(e, false) !== null;
    if (id === ID.Binary) {
      const info = binaryen.getExpressionInfo(e) as any;
      if (!/^(Eq|Ne|LtS|LtU|LeS|LeU|GtS|GtU|GeS|GeU)Int(32|64)$/.test(BINARY_OP[info.op] ?? "")) return false;
      const lop = this.operand(info.left, false);
      return lop !== null && !/^-?\d+$/.test(lop) && this.operand(info.right, true) !== null;
    }
    if (id === ID.Unary) {
      const info = binaryen.getExpressionInfo(e) as any;
      const name = UNARY_OP[info.op];
      if (name !== "EqZInt32" && name !== "EqZInt64") return false;
      if (name === "EqZInt32" && binaryen.getExpressionId(info.value) === ID.Binary && this.flagsOnly(info.value)) return true;
      const op = this.operand(info.value, false);
      return op !== null && !/^-?\d+$/.test(op);
    }
    return false;
  }
  /** i32.or / i32.and: its operands, else null. */
  logical(e: ExprRef): { op: "Or" | "And"; l: ExprRef; r: ExprRef } | null {
    if (binaryen.getExpressionId(e) !== ID.Binary) return null;
    const info = binaryen.getExpressionInfo(e) as any;
    const name = BINARY_OP[info.op];
    if (name !== "OrInt32" && name !== "AndInt32") return null;
    return { op: name === "OrInt32" ? "Or" : "And", l: info.left, r: info.right };
  }
  /** A comparison or eqz: the value is 0 or 1. */
  isBool(e: ExprRef): boolean {
    const id = binaryen.getExpressionId(e);
    if (id === ID.Binary) return /^(Eq|Ne|LtS|LtU|LeS|LeU|GtS|GtU|GeS|GeU|Lt|Le|Gt|Ge)(Int|Float)(32|64)$/.test(BINARY_OP[(binaryen.getExpressionInfo(e) as any).op] ?? "");
    if (id === ID.Unary) return /^EqZInt(32|64)$/.test(UNARY_OP[(binaryen.getExpressionInfo(e) as any).op] ?? "");
    return false;
  }
  /** e only reads (locals, globals, memory) and computes; a load's out-of-bounds trap is the only
   *  one it can raise (no division, float conversion, call or write). Moving another load across
   *  it cannot change what is read or which trap is seen. */
  onlyLoadsTrap(e: ExprRef): boolean {
    const info = exprInfo(e);
    switch (info.id) {
      case ID.LocalGet: case ID.GlobalGet: case ID.Const: return true;
      case ID.Load: return this.onlyLoadsTrap(info.ptr);
      case ID.Unary: return !/Trunc/.test(UNARY_OP[info.op] ?? "Trunc") && this.onlyLoadsTrap(info.value);
      case ID.Binary: return !/Div|Rem/.test(BINARY_OP[info.op] ?? "Div") && this.onlyLoadsTrap(info.left) && this.onlyLoadsTrap(info.right);
      case ID.Select: return this.onlyLoadsTrap(info.ifTrue) && this.onlyLoadsTrap(info.ifFalse) && this.onlyLoadsTrap(info.condition);
    }
    return false;
  }
  /** Evaluating e only reads locals/globals: it may be skipped or repeated unobservably. */
  isPure(e: ExprRef): boolean {
    const S = binaryen.SideEffects;
    return (sideEffects(e, this.ctx.m.mod) & ~(S.ReadsLocal | S.ReadsGlobal)) === 0;
  }

  /** Evaluate an i32 condition into flags; returns the x86 condition code meaning "true". */
  genCond(e: ExprRef): string {
    const id = binaryen.getExpressionId(e);
    // or/and of two conditions: each side's flags as a byte (setcc), combined with one or/and
    const lg = this.logical(e);
    if (lg && (lg.op === "Or" || (this.isBool(lg.l) && this.isBool(lg.r))) && (this.isBool(lg.l) || this.isBool(lg.r)) && this.freeTemps.length > 0) {
      const cl = this.genCond(lg.l);
      const t = this.freeTemps.pop()!;
      this.usedTemps.add(t);
      this.e(`set${cl} ${reg(t, 8)}`);
      const cr = this.genCond(lg.r);
      this.e(`set${cr} al`);
      this.e(`${lg.op.toLowerCase()} al, ${reg(t, 8)}`);
      this.freeTemps.push(t);
      return "ne";
    }
    if (id === ID.Binary) {
      const info = binaryen.getExpressionInfo(e) as any;
      const name = BINARY_OP[info.op] ?? "";
      const m = /^(Eq|Ne|LtS|LtU|LeS|LeU|GtS|GtU|GeS|GeU)Int(32|64)$/.exec(name);
      if (m) return this.genIntCompare(info.left, info.right, CMP_CC[m[1]], m[2] === "64" ? 64 : 32);
      const fm = /^(Lt|Le|Gt|Ge)Float(32|64)$/.exec(name);
      if (fm) {
        const ins = fm[2] === "32" ? "ucomiss" : "ucomisd";
        this.genFloatPair(info.left, info.right, fm[2] === "32" ? "f32" : "f64");
        // xmm0 = left, xmm1 = right; unordered -> CF=ZF=PF=1: "a"/"ae" are false then.
        if (fm[1] === "Gt") { this.e(`${ins} xmm0, xmm1`); return "a"; }
        if (fm[1] === "Ge") { this.e(`${ins} xmm0, xmm1`); return "ae"; }
        if (fm[1] === "Lt") { this.e(`${ins} xmm1, xmm0`); return "a"; }
        this.e(`${ins} xmm1, xmm0`); return "ae";
      }
    }
    if (id === ID.Unary) {
      const info = binaryen.getExpressionInfo(e) as any;
      const name = UNARY_OP[info.op];
      if (name === "EqZInt32" || name === "EqZInt64") {
        const inner = binaryen.getExpressionId(info.value) === ID.Binary ? BINARY_OP[(binaryen.getExpressionInfo(info.value) as any).op] ?? "" : "";
        if (name === "EqZInt32" && /^(Eq|Ne|LtS|LtU|LeS|LeU|GtS|GtU|GeS|GeU)Int(32|64)$/.test(inner)) return INVERT[this.genCond(info.value)];
        const bits = name === "EqZInt64" ? 64 : 32;
        const op = this.operand(info.value, false);
        if (op !== null && !/^-?\d+$/.test(op)) { this.e(`test ${op}, ${op}`); return "e"; }
        if (binaryen.getExpressionId(info.value) === ID.Load) { this.cmpLoadZero(info.value); return "e"; }
        this.gen(info.value);
        this.e(`test ${reg("rax", bits)}, ${reg("rax", bits)}`);
        return "e";
      }
    }
    if (id === ID.LocalGet) {
      const op = this.operand(e, true);
      if (op !== null) { this.e(/ptr/.test(op) ? `cmp ${op}, 0` : `test ${op}, ${op}`); return "ne"; }
    }
    if (id === ID.Load && !isFloat(this.tyOf(e))) { this.cmpLoadZero(e); return "ne"; }
    this.gen(e);
    this.e("test eax, eax");
    return "ne";
  }
  /** Flags of (load e) compared with 0, straight from memory (zero or sign extension does not change zero-ness). */
  cmpLoadZero(e: ExprRef) {
    const info = exprInfo(e);
    const a = this.address(info.ptr, info.offset);
    this.e(`cmp ${ptrSize(info.bytes * 8)} ${a}, 0`);
  }
  /** A full-width integer load whose address needs no instructions and that `before` cannot move:
   *  its memory operand, else null. */
  loadOperand(e: ExprRef, before: ExprRef | null, bits: number): string | null {
    if (binaryen.getExpressionId(e) !== ID.Load) return null;
    const info = exprInfo(e);
    if (isFloat(this.tyOf(e)) || info.bytes * 8 !== bits || (info.offset >>> 0) > 0x7fffffff) return null;
    if (!this.ptrIsStable(info.ptr) || (before && !this.operandSafe(info.ptr, before))) return null;
    if (this.isConst(info.ptr) && Number(constBits(info.ptr).bits) + (info.offset >>> 0) > 0x7fffffff) return null; // would need a register
    return `${ptrSize(bits)} ${this.address(info.ptr, info.offset)}`;
  }

  genIntCompare(l: ExprRef, r: ExprRef, cc: string, bits: number): string {
    const ra = reg("rax", bits);
    const rop = this.operand(r, true);
    if (rop !== null) {
      const lop = this.operand(l, !/ptr/.test(rop)); // at most one memory operand
      if (lop !== null && !/^-?\d+$/.test(lop)) { this.e(`cmp ${lop}, ${rop}`); return cc; }
      // load vs immediate/register: cmp straight from memory (the operand is read after the load, as written)
      if (!/ptr/.test(rop)) {
        const lm = this.loadOperand(l, null, bits);
        if (lm) { this.e(`cmp ${lm}, ${/^-?\d+$/.test(rop) ? rop : reg(regOf(rop), bits)}`); return cc; }
      }
      this.gen(l);
      this.e(`cmp ${ra}, ${rop}`);
      return cc;
    }
    // a load on the right whose address needs no instructions: a memory operand of the cmp
    const rm = this.loadOperand(r, l, bits);
    if (rm) {
      const lr = this.operand(l, false);
      if (lr !== null && !/^-?\d+$/.test(lr)) { this.e(`cmp ${lr}, ${rm}`); return cc; }
      this.gen(l); this.e(`cmp ${ra}, ${rm}`); return cc;
    }
    const lop = this.operand(l, true);
    if (lop !== null && this.operandSafe(l, r)) {
      this.gen(r);
      this.e(`cmp ${ra}, ${lop}`);
      return SWAP[cc];
    }
    // a load on the left and a right side that only reads (its only traps are loads, the same
    // trap as the left's): the right side first, then cmp straight from memory, no waiting register
    const lm = this.onlyLoadsTrap(r) ? this.loadOperand(l, r, bits) : null;
    if (lm) { this.gen(r); this.e(`cmp ${lm}, ${ra}`); return cc; }
    const h = this.evalSaved(l, r);
    this.gen(r);
    if (h !== "stack") { this.e(`cmp ${reg(h, bits)}, ${ra}`); this.release(h); return cc; }
    this.e(`mov ${reg("rcx", bits)}, ${ra}`);
    this.popTo("rax");
    this.e(`cmp ${ra}, ${reg("rcx", bits)}`);
    return cc;
  }

  /** left -> xmm0, right -> xmm1 */
  genFloatPair(l: ExprRef, r: ExprRef, t: ValType) {
    const mov = t === "f32" ? "movss" : "movsd";
    const simpleR = this.floatMem(r);
    this.gen(l);
    if (simpleR) { this.e(`${mov} xmm1, ${simpleR}`); return; }
    this.genFloatPairFromXmm0(r, t);
  }
  /** A float local/global as a memory operand, or null. */
  floatMem(e: ExprRef): string | null {
    const id = binaryen.getExpressionId(e);
    const t = this.tyOf(e);
    const p = t === "f32" ? "dword ptr" : "qword ptr";
    if (id === ID.LocalGet) { const i = (binaryen.getExpressionInfo(e) as any).index; return `${p} ${this.slotOf(i)}`; }
    if (id === ID.GlobalGet) return `${p} [rip + tv_g_${this.ctx.globalIndex.get((binaryen.getExpressionInfo(e) as any).name)}]`;
    return null;
  }

  genFloatPairFromXmm0(r: ExprRef, t: ValType) {
    // xmm0 holds left; evaluate right into xmm1 keeping left.
    const h = this.save(t);
    this.gen(r);
    this.e("movaps xmm1, xmm0");
    this.restoreXmm(h, "xmm0", t);
  }

  // ---------------------------------------------------------------- arithmetic
  genBinary(info: any, e: ExprRef) {
    const name = BINARY_OP[info.op];
    if (!name) this.fail(`unsupported binary op ${info.op}`);
    const m = /^(.*?)(Int|Float)(32|64)$/.exec(name)!;
    const op = m[1], isInt = m[2] === "Int", bits = Number(m[3]);
    if (isInt) {
      if (CMP_CC[op] !== undefined) {
        const cc = this.genIntCompare(info.left, info.right, CMP_CC[op], bits);
        this.e(`set${cc} al`);
        this.e("movzx eax, al");
        return;
      }
      if (bits === 32 && (op === "Or" || op === "And") && this.genBswap(op, info)) return;
      return this.genIntArith(op, info.left, info.right, bits);
    }
    return genFloatBinary(this, op, info.left, info.right, bits === 32 ? "f32" : "f64");
  }

  /** A register-homed integer local as its 64-bit register name, else null. */
  regLocal(e: ExprRef): string | null {
    if (binaryen.getExpressionId(e) !== ID.LocalGet) return null;
    const h = this.homes[(binaryen.getExpressionInfo(e) as any).index];
    return h.kind === "reg" ? h.reg : null;
  }

  /**
   * AssemblyScript's bswap<u32>(x) / bswap<u16>(x) after binaryen -O, matched exactly:
   *   u32: (i32.or (i32.rotl (i32.and (local.tee $t X) 0xff00ff00) 8) (i32.rotr (i32.and (local.get $t) 0x00ff00ff) 8))
   *   u16: (i32.and (i32.or (i32.shl (local.tee $t X) 8) (i32.shr_u (local.get $t) 8)) 0xffff), X an i32.load16_u
   * (either operand order of the or). The tee is still performed, then one bswap / rol.
   * For u16 X has bits 16-31 zero, so (x<<8 | x>>8) & 0xffff is exactly a byte swap of ax.
   */
  genBswap(op: string, info: any): boolean {
    const bin = (e: ExprRef, name: string) => {
      if (binaryen.getExpressionId(e) !== ID.Binary) return null;
      const i = binaryen.getExpressionInfo(e) as any;
      return BINARY_OP[i.op] === name ? i : null;
    };
    const k32 = (e: ExprRef, v: bigint) => this.isConst(e) && (constBits(e).bits & 0xffffffffn) === v;
    const tee = (e: ExprRef) => {
      if (binaryen.getExpressionId(e) !== ID.LocalSet) return null;
      const i = binaryen.getExpressionInfo(e) as any;
      return i.isTee ? i : null;
    };
    const getOf = (e: ExprRef, index: number) =>
      binaryen.getExpressionId(e) === ID.LocalGet && (binaryen.getExpressionInfo(e) as any).index === index;
    // left must be evaluated first: it holds the tee and the right operand the get of the same local
    const pair = (first: ExprRef, second: ExprRef, firstOp: string, secondOp: string) => {
      const a = bin(first, firstOp), b = bin(second, secondOp);
      return a && b ? [a, b] : null;
    };
    if (op === "Or") {
      const [l, r] = [info.left, info.right];
      for (const [fo, so, fm, sm] of [["RotLInt32", "RotRInt32", 0xff00ff00n, 0x00ff00ffn], ["RotRInt32", "RotLInt32", 0x00ff00ffn, 0xff00ff00n]] as const) {
        const p = pair(l, r, fo, so);
        if (!p || !k32(p[0].right, 8n) || !k32(p[1].right, 8n)) continue;
        const a = bin(p[0].left, "AndInt32"), b = bin(p[1].left, "AndInt32");
        if (!a || !b || !k32(a.right, fm) || !k32(b.right, sm)) continue;
        const t = tee(a.left);
        if (!t || !getOf(b.left, t.index)) continue;
        this.gen(a.left);
        this.e("bswap eax");
        return true;
      }
      return false;
    }
    if (!k32(info.right, 0xffffn)) return false;
    const o = bin(info.left, "OrInt32");
    if (!o) return false;
    for (const [fo, so] of [["ShlInt32", "ShrUInt32"], ["ShrUInt32", "ShlInt32"]]) {
      const p = pair(o.left, o.right, fo, so);
      if (!p || !k32(p[0].right, 8n) || !k32(p[1].right, 8n)) continue;
      const t = tee(p[0].left);
      if (!t || !getOf(p[1].left, t.index)) continue;
      if (binaryen.getExpressionId(t.value) !== ID.Load) continue;
      const ld = binaryen.getExpressionInfo(t.value) as any;
      if (ld.bytes !== 2 || ld.isSigned || this.tyOf(t.value) !== "i32") continue;
      this.gen(p[0].left);
      this.e("rol ax, 8"); // bits 16-31 stay zero
      return true;
    }
    return false;
  }

  genIntArith(op: string, l: ExprRef, r: ExprRef, bits: number) {
    if (op === "Add") {
      // lea computes base + index*scale + disp without touching flags; a 32-bit destination
      // wraps exactly like i32.add.
      const a = this.regLocal(l) ?? this.regLocal(r);
      const other = a === this.regLocal(l) ? r : l;
      if (a) {
        const b = this.regLocal(other);
        if (b) { this.e(`lea ${reg("rax", bits)}, [${a}+${b}]`); return; }
        if (this.isConst(other)) {
          const c = constBits(other);
          const imm = imm32(c.bits, bits as 32 | 64);
          if (imm !== null) { this.e(`lea ${reg("rax", bits)}, [${a}${Number(imm) < 0 ? "" : "+"}${imm}]`); return; }
        }
      }
      if (this.genScaledAdd(l, r, bits)) return;
    }
    const commutative = op === "Add" || op === "Mul" || op === "And" || op === "Or" || op === "Xor";
    let rop = this.operand(r, true);
    if (rop !== null) {
      this.gen(l);
      this.intOp(op, bits, rop, r);
      return;
    }
    const aluOp = commutative || op === "Sub";
    if (bits === 64 && this.isConst(r)) { // a constant too wide for an immediate
      this.gen(l);
      this.e(`movabs rcx, ${hex(constBits(r).bits)}`);
      this.intOp(op, bits, "rcx", null);
      return;
    }
    // a load on the right (its address needs no instructions): a memory operand
    const rm = aluOp ? this.loadOperand(r, l, bits) : null;
    if (rm) { this.gen(l); this.intOp(op, bits, rm, null); return; }
    // a load on the left and a right side that only reads: evaluate the right side first
    if (commutative && this.isPure(r)) {
      const lm = this.loadOperand(l, null, bits);
      if (lm) { this.gen(r); this.intOp(op, bits, lm, null); return; }
    }
    const lop = this.operand(l, true);
    if (lop !== null && this.operandSafe(l, r)) {
      if (commutative) { this.gen(r); this.intOp(op, bits, lop, l); return; }
      if (binaryen.getExpressionId(r) === ID.Load && !isFloat(this.tyOf(r))) this.genLoad(exprInfo(r), "rcx");
      else { this.gen(r); this.e(`mov ${reg("rcx", bits)}, ${reg("rax", bits)}`); }
      this.loadInt(l, bits, lop);
      this.intOp(op, bits, reg("rcx", bits), null);
      return;
    }
    if (!aluOp && binaryen.getExpressionId(r) === ID.Load && !isFloat(this.tyOf(r))) {
      // shift count / divisor loaded straight into rcx after the left value, when its address needs no register
      const ri = exprInfo(r);
      if (this.ptrIsStable(ri.ptr) && this.operandSafe(ri.ptr, l) && (ri.offset >>> 0) <= 0x7fffffff
        && !(this.isConst(ri.ptr) && Number(constBits(ri.ptr).bits) + (ri.offset >>> 0) > 0x7fffffff)) {
        this.gen(l);
        this.genLoad(ri, "rcx");
        this.intOp(op, bits, reg("rcx", bits), null);
        return;
      }
    }
    const h = this.evalSaved(l, r);
    if (!aluOp && binaryen.getExpressionId(r) === ID.Load && !isFloat(this.tyOf(r))) {
      this.genLoad(exprInfo(r), "rcx");
      this.restoreInt(h, "rax");
      this.intOp(op, bits, reg("rcx", bits), null);
      return;
    }
    this.gen(r);
    if (h !== "stack" && (commutative || op === "Sub")) {
      // The left value waits in register h: combine in place instead of shuffling through rcx.
      const a = reg("rax", bits), t = reg(h, bits);
      if (op === "Sub" && this.homeRegs.includes(h)) { this.e(`neg ${a}`); this.e(`add ${a}, ${t}`); } // h is a local: leave it
      else if (op === "Sub") { this.e(`sub ${t}, ${a}`); this.e(`mov ${a}, ${t}`); }
      else this.e(op === "Mul" ? `imul ${a}, ${t}` : `${op.toLowerCase()} ${a}, ${t}`);
      this.release(h);
      return;
    }
    this.e(`mov ${reg("rcx", bits)}, ${reg("rax", bits)}`);
    this.restoreInt(h, "rax");
    this.intOp(op, bits, reg("rcx", bits), null);
  }
  /** x << k for k = 1..3 (a scaled index): [x, scale], else null. */
  scaled(e: ExprRef, bits: number): [ExprRef, number] | null {
    if (binaryen.getExpressionId(e) !== ID.Binary) return null;
    const bi = binaryen.getExpressionInfo(e) as any;
    if (BINARY_OP[bi.op] !== `ShlInt${bits}` || !this.isConst(bi.right)) return null;
    const k = Number(constBits(bi.right).bits & BigInt(bits - 1));
    return k >= 1 && k <= 3 ? [bi.left, 1 << k] : null;
  }
  /**
   * add(x, y << k) or add(y << k, x), k = 1..3, as one `lea` (base + index*scale). x and y are
   * evaluated in source order; a register local is read in place when the other operand cannot
   * write it. A 32-bit destination wraps exactly like i32.add.
   */
  genScaledAdd(l: ExprRef, r: ExprRef, bits: number): boolean {
    const sr = this.scaled(r, bits), sl = sr ? null : this.scaled(l, bits);
    if (!sr && !sl) return false;
    const [idxE, scale] = (sr ?? sl)!;
    const baseE = sr ? l : r;
    const first = sr ? baseE : idxE, second = sr ? idxE : baseE; // evaluation order
    const dst = reg("rax", bits);
    const lea = (b: string, i: string) => this.e(`lea ${dst}, [${b}+${i}*${scale}]`);
    const fReg = this.regLocal(first), sReg = this.regLocal(second);
    const base = (f: string, s: string) => (first === baseE ? [f, s] : [s, f]) as [string, string];
    if (fReg && sReg) { lea(...base(fReg, sReg)); return true; }
    if (fReg && this.operandSafe(first, second)) { this.gen(second); lea(...base(fReg, "rax")); return true; }
    if (sReg) { this.gen(first); lea(...base("rax", sReg)); return true; }
    const h = this.evalSaved(first, second);
    this.gen(second);
    if (h === "stack") { this.popTo("rcx"); lea(...base("rcx", "rax")); return true; }
    lea(...base(h, "rax"));
    this.release(h);
    return true;
  }
  loadInt(_e: ExprRef, bits: number, op: string) {
    if (/^-?\d+$/.test(op) && bits === 64) this.e(`mov rax, ${op}`);
    else this.e(`mov ${reg("rax", bits)}, ${op}`);
  }

  /** rax = rax <op> src, where src is an imm, register or memory operand. */
  intOp(op: string, bits: number, src: string, srcExpr: ExprRef | null) {
    const a = reg("rax", bits), c = reg("rcx", bits);
    const isImm = /^-?\d+$/.test(src);
    switch (op) {
      case "Add": case "Sub": case "And": case "Or": case "Xor":
        this.e(`${op.toLowerCase()} ${a}, ${src}`); return;
      case "Mul":
        this.e(isImm ? `imul ${a}, ${a}, ${src}` : `imul ${a}, ${src}`); return;
      case "Shl": case "ShrS": case "ShrU": case "RotL": case "RotR": {
        const ins = { Shl: "shl", ShrS: "sar", ShrU: "shr", RotL: "rol", RotR: "ror" }[op]!;
        if (isImm) { this.e(`${ins} ${a}, ${Number(BigInt(src) & BigInt(bits - 1))}`); return; }
        if (src !== c) this.e(`mov ${c}, ${src}`);
        this.e(`${ins} ${a}, cl`);
        return;
      }
      case "DivS": case "DivU": case "RemS": case "RemU": {
        let known: bigint | null = isImm ? BigInt(src) : null;
        if (src !== c) this.e(`mov ${c}, ${src}`);
        const signed = op === "DivS" || op === "RemS";
        const d = reg("rdx", bits);
        if (known === null || known === 0n) { this.e(`test ${c}, ${c}`); this.e(`jz ${this.trap(2)}`); }
        if (!signed) {
          this.e(`xor edx, edx`);
          this.e(`div ${c}`);
          if (op === "RemU") this.e(`mov ${a}, ${d}`);
          return;
        }
        const ext = bits === 32 ? "cdq" : "cqo";
        if (known !== null && known !== -1n) {
          this.e(ext); this.e(`idiv ${c}`);
          if (op === "RemS") this.e(`mov ${a}, ${d}`);
          return;
        }
        const ok = this.newLabel(), done = this.newLabel();
        this.e(`cmp ${c}, -1`);
        this.e(`jne ${ok}`);
        if (op === "DivS") {
          if (bits === 32) this.e("cmp eax, 0x80000000");
          else { this.e("movabs rdx, 0x8000000000000000"); this.e("cmp rax, rdx"); }
          this.e(`je ${this.trap(3)}`);
          this.e(`neg ${a}`);
          this.e(`jmp ${done}`);
        } else {
          this.e("xor eax, eax");
          this.e(`jmp ${done}`);
        }
        this.label(ok);
        this.e(ext);
        this.e(`idiv ${c}`);
        if (op === "RemS") this.e(`mov ${a}, ${d}`);
        this.label(done);
        return;
      }
    }
    this.fail(`unsupported integer op ${op}${bits}`);
  }

  genUnary(info: any, e: ExprRef) {
    const name = UNARY_OP[info.op];
    if (!name) this.fail(`unsupported unary op ${info.op}`);
    if (name === "EqZInt32" || name === "EqZInt64") {
      const cc = this.genCond(e);
      this.e(`set${cc} al`); this.e("movzx eax, al");
      return;
    }
    const intUnary = genIntUnary(this, name, info.value);
    if (intUnary) return;
    if (!genFloatUnary(this, name, info.value)) this.fail(`unsupported op ${name}`);
  }
}


/** Emits register moves [dst, src] as if all happened at once (rax breaks cycles). */
/**
 * Drops `mov B, A` right after `mov A, B` (no label between): a local written from rax and read
 * straight back, a value saved and restored at once. Both moves have the same width, so the
 * destination of the second already holds what it would load.
 */
export function dropReloads(lines: string[]): string[] {
  const out: string[] = [];
  const mov = /^\tmov ([^,]+), (.+)$/;
  for (const l of lines) {
    const prev = out.length ? mov.exec(out[out.length - 1]) : null;
    const cur = mov.exec(l);
    // (not when the first move changes a register the memory operand addresses through)
    if (prev && cur && cur[1] === prev[2] && cur[2] === prev[1] && !/^(-?\d+|0x)/.test(prev[2]) && !(prev[2].includes("[") && addressesThrough(prev[2], prev[1]))) continue;
    out.push(l);
  }
  return out;
}

/** Whether memory operand `mem` uses register `r` (any width of it). */
function addressesThrough(mem: string, r: string): boolean {
  const names = new Set(["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"]);
  for (const r64 of names) if ([64, 32, 16, 8].some((b) => reg(r64, b) === r)) return new RegExp(`\\b${r64}\\b`).test(mem);
  return true; // not a register: keep both moves
}

export function parallelMove(moves: [string, string][], emit: (l: string) => void) {
  const pending = moves.filter(([d, s]) => d !== s);
  while (pending.length) {
    const k = pending.findIndex(([d]) => !pending.some(([, s]) => s === d));
    if (k >= 0) { const [d, s] = pending.splice(k, 1)[0]; emit(`mov ${d}, ${s}`); continue; }
    // only cycles left: free one destination through rax
    const [d, s] = pending[0];
    emit(`mov rax, ${d}`);
    for (const m of pending) if (m[1] === d) m[1] = "rax";
    emit(`mov ${d}, ${s}`);
    pending.shift();
  }
}

function slot(off: number): string { return off >= 0 ? `[rbp+${off}]` : `[rbp${off}]`; }

function regOf(op: string): string {
  const map: Record<string, string> = {};
  for (const r of ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"]) {
    for (const b of [8, 16, 32, 64]) map[reg(r, b)] = r;
  }
  return map[op] ?? op;
}

// ---------------------------------------------------------------- integer unary ops
function genIntUnary(g: FuncGen, name: string, v: ExprRef): boolean {
  switch (name) {
    case "ClzInt32": g.gen(v); g.e("mov ecx, 63"); g.e("bsr eax, eax"); g.e("cmovz eax, ecx"); g.e("xor eax, 31"); return true;
    case "ClzInt64": g.gen(v); g.e("mov ecx, 127"); g.e("bsr rax, rax"); g.e("cmovz eax, ecx"); g.e("xor eax, 63"); return true;
    case "CtzInt32": g.gen(v); g.e("mov ecx, 32"); g.e("bsf eax, eax"); g.e("cmovz eax, ecx"); return true;
    case "CtzInt64": g.gen(v); g.e("mov ecx, 64"); g.e("bsf rax, rax"); g.e("cmovz eax, ecx"); return true;
    case "PopcntInt32": g.gen(v); g.e("popcnt eax, eax"); return true;
    case "PopcntInt64": g.gen(v); g.e("popcnt rax, rax"); return true;
    case "ExtendSInt32": {
      const op = g.operand(v, true);
      if (op !== null && !/^-?\d+$/.test(op)) { g.e(`movsxd rax, ${op}`); return true; }
      g.gen(v); g.e("movsxd rax, eax"); return true;
    }
    case "ExtendUInt32": case "WrapInt64": {
      // a 32-bit mov zero-extends: read the low half of a local/global/constant directly
      const op = g.operand(v, true);
      if (op !== null && !/^-?\d+$/.test(op)) { g.e(`mov eax, ${op.startsWith("qword") ? op.replace("qword", "dword") : op.startsWith("dword") ? op : reg(regOf(op), 32)}`); return true; }
      g.gen(v);
      // an i32 value is kept zero-extended in rax: extend_u needs no instruction
      if (name === "WrapInt64") g.e("mov eax, eax");
      return true;
    }
    case "ExtendS8Int32": g.gen(v); g.e("movsx eax, al"); return true;
    case "ExtendS16Int32": g.gen(v); g.e("movsx eax, ax"); return true;
    case "ExtendS8Int64": g.gen(v); g.e("movsx rax, al"); return true;
    case "ExtendS16Int64": g.gen(v); g.e("movsx rax, ax"); return true;
    case "ExtendS32Int64": g.gen(v); g.e("movsxd rax, eax"); return true;
  }
  return false;
}

// ---------------------------------------------------------------- floats
function genFloatBinary(g: FuncGen, op: string, l: ExprRef, r: ExprRef, t: ValType) {
  const s = t === "f32" ? "ss" : "sd";
  const ucom = t === "f32" ? "ucomiss" : "ucomisd";
  if (!g.ctx.target.floats) g.fail(`${t} arithmetic is not supported on the ${g.ctx.target.name} target`);
  switch (op) {
    case "Add": case "Sub": case "Mul": case "Div": {
      const mem = g.floatMem(r);
      g.gen(l);
      if (mem) { g.e(`${op.toLowerCase()}${s} xmm0, ${mem}`); return; }
      g.genFloatPairFromXmm0(r, t);
      g.e(`${op.toLowerCase()}${s} xmm0, xmm1`);
      return;
    }
    case "Min": case "Max": {
      g.genFloatPair(l, r, t);
      const nan = g.newLabel(), ord = g.newLabel(), done = g.newLabel();
      g.e(`${ucom} xmm0, xmm1`);
      g.e(`jp ${nan}`);
      g.e(`jne ${ord}`);
      // equal: handles -0 vs +0 (min: or the sign bits, max: and them)
      g.e(op === "Min" ? "orps xmm0, xmm1" : "andps xmm0, xmm1");
      g.e(`jmp ${done}`);
      g.label(nan);
      g.e(`add${s} xmm0, xmm1`);
      g.e(`jmp ${done}`);
      g.label(ord);
      g.e(`${op.toLowerCase()}${s} xmm0, xmm1`);
      g.label(done);
      return;
    }
    case "CopySign": {
      g.genFloatPair(l, r, t);
      if (t === "f32") {
        g.e("movd eax, xmm0"); g.e("movd ecx, xmm1");
        g.e("and eax, 0x7fffffff"); g.e("and ecx, 0x80000000"); g.e("or eax, ecx"); g.e("movd xmm0, eax");
      } else {
        g.e("movq rax, xmm0"); g.e("movq rcx, xmm1");
        g.e("btr rax, 63"); g.e("shr rcx, 63"); g.e("shl rcx, 63"); g.e("or rax, rcx"); g.e("movq xmm0, rax");
      }
      return;
    }
    case "Eq": case "Ne": case "Lt": case "Le": case "Gt": case "Ge": {
      g.genFloatPair(l, r, t);
      switch (op) {
        case "Eq": g.e(`${ucom} xmm0, xmm1`); g.e("sete al"); g.e("setnp cl"); g.e("and al, cl"); break;
        case "Ne": g.e(`${ucom} xmm0, xmm1`); g.e("setne al"); g.e("setp cl"); g.e("or al, cl"); break;
        case "Gt": g.e(`${ucom} xmm0, xmm1`); g.e("seta al"); break;
        case "Ge": g.e(`${ucom} xmm0, xmm1`); g.e("setae al"); break;
        case "Lt": g.e(`${ucom} xmm1, xmm0`); g.e("seta al"); break;
        case "Le": g.e(`${ucom} xmm1, xmm0`); g.e("setae al"); break;
      }
      g.e("movzx eax, al");
      return;
    }
  }
  g.fail(`unsupported float op ${op}`);
}

function f64bits(x: number): string { const dv = new DataView(new ArrayBuffer(8)); dv.setFloat64(0, x, true); return hex(dv.getBigUint64(0, true)); }
function f32bits(x: number): string { const dv = new DataView(new ArrayBuffer(4)); dv.setFloat32(0, x, true); return hex(BigInt(dv.getUint32(0, true))); }

/** xmm1 = constant x of type t (uses rcx). */
function loadFConst(g: FuncGen, t: ValType, x: number, xmm = "xmm1") {
  if (t === "f32") { g.e(`mov ecx, ${f32bits(x)}`); g.e(`movd ${xmm}, ecx`); }
  else { g.e(`movabs rcx, ${f64bits(x)}`); g.e(`movq ${xmm}, rcx`); }
}

function genFloatUnary(g: FuncGen, name: string, v: ExprRef): boolean {
  if (!g.ctx.target.floats && /Float|Reinterpret|Convert|Promote|Demote/.test(name)) g.fail(`${name} is not supported on the ${g.ctx.target.name} target (integer-only)`);
  let m = /^(Neg|Abs|Ceil|Floor|Trunc|Nearest|Sqrt)Float(32|64)$/.exec(name);
  if (m) {
    const f32 = m[2] === "32";
    g.gen(v);
    switch (m[1]) {
      case "Neg": case "Abs":
        if (f32) { g.e("movd eax, xmm0"); g.e(m[1] === "Neg" ? "xor eax, 0x80000000" : "and eax, 0x7fffffff"); g.e("movd xmm0, eax"); }
        else { g.e("movq rax, xmm0"); g.e(m[1] === "Neg" ? "btc rax, 63" : "btr rax, 63"); g.e("movq xmm0, rax"); }
        return true;
      case "Sqrt": g.e(f32 ? "sqrtss xmm0, xmm0" : "sqrtsd xmm0, xmm0"); return true;
      default: {
        const mode = { Nearest: 8, Floor: 9, Ceil: 10, Trunc: 11 }[m[1]]!;
        g.e(`${f32 ? "roundss" : "roundsd"} xmm0, xmm0, ${mode}`);
        return true;
      }
    }
  }
  switch (name) {
    case "ReinterpretFloat32": g.gen(v); g.e("movd eax, xmm0"); return true;
    case "ReinterpretFloat64": g.gen(v); g.e("movq rax, xmm0"); return true;
    case "ReinterpretInt32": g.gen(v); g.e("movd xmm0, eax"); return true;
    case "ReinterpretInt64": g.gen(v); g.e("movq xmm0, rax"); return true;
    case "PromoteFloat32": g.gen(v); g.e("cvtss2sd xmm0, xmm0"); return true;
    case "DemoteFloat64": g.gen(v); g.e("cvtsd2ss xmm0, xmm0"); return true;
    case "ConvertSInt32ToFloat32": g.gen(v); g.e("cvtsi2ss xmm0, eax"); return true;
    case "ConvertSInt32ToFloat64": g.gen(v); g.e("cvtsi2sd xmm0, eax"); return true;
    case "ConvertUInt32ToFloat32": g.gen(v); g.e("cvtsi2ss xmm0, rax"); return true;
    case "ConvertUInt32ToFloat64": g.gen(v); g.e("cvtsi2sd xmm0, rax"); return true;
    case "ConvertSInt64ToFloat32": g.gen(v); g.e("cvtsi2ss xmm0, rax"); return true;
    case "ConvertSInt64ToFloat64": g.gen(v); g.e("cvtsi2sd xmm0, rax"); return true;
    case "ConvertUInt64ToFloat32": case "ConvertUInt64ToFloat64": {
      const s = name.endsWith("32") ? "ss" : "sd";
      g.gen(v);
      const big = g.newLabel(), done = g.newLabel();
      g.e("test rax, rax");
      g.e(`js ${big}`);
      g.e(`cvtsi2${s} xmm0, rax`);
      g.e(`jmp ${done}`);
      g.label(big);
      // halve with a sticky low bit so the single rounding stays correct, then double
      g.e("mov rcx, rax"); g.e("shr rcx, 1"); g.e("and eax, 1"); g.e("or rcx, rax");
      g.e(`cvtsi2${s} xmm0, rcx`);
      g.e(`add${s} xmm0, xmm0`);
      g.label(done);
      return true;
    }
  }
  m = /^Trunc(Sat)?(S|U)Float(32|64)ToInt(32|64)$/.exec(name);
  if (m) { genTrunc(g, v, !!m[1], m[2] === "S", m[3] === "32" ? "f32" : "f64", m[4] === "32" ? 32 : 64); return true; }
  return false;
}

/** Float -> int truncation, trapping or saturating, with exact wasm range checks. */
function genTrunc(g: FuncGen, v: ExprRef, sat: boolean, signed: boolean, ft: ValType, bits: number) {
  const ucom = ft === "f32" ? "ucomiss" : "ucomisd";
  const cvt = ft === "f32" ? "cvttss2si" : "cvttsd2si";
  const s = ft === "f32" ? "ss" : "sd";
  g.gen(v);
  const done = g.newLabel();
  // valid iff lo (<|<=) x < hi
  let lo: number, loInclusive: boolean, hi: number;
  if (signed) {
    if (bits === 32) { if (ft === "f64") { lo = -2147483649; loInclusive = false; } else { lo = -2147483648; loInclusive = true; } hi = 2147483648; }
    else { lo = -9223372036854775808; loInclusive = true; hi = 9223372036854775808; }
  } else { lo = -1; loInclusive = false; hi = bits === 32 ? 4294967296 : 18446744073709551616; }
  const minVal = signed ? (bits === 32 ? "0x80000000" : "0x8000000000000000") : "0";
  const maxVal = signed ? (bits === 32 ? "0x7fffffff" : "0x7fffffffffffffff") : (bits === 32 ? "0xffffffff" : "0xffffffffffffffff");
  const nanL = sat ? g.newLabel() : g.trap(4);
  const lowL = sat ? g.newLabel() : g.trap(3);
  const highL = sat ? g.newLabel() : g.trap(3);
  g.e(`${ucom} xmm0, xmm0`);
  g.e(`jp ${nanL}`);
  loadFConst(g, ft, lo);
  g.e(`${ucom} xmm0, xmm1`);
  g.e(`${loInclusive ? "jb" : "jbe"} ${lowL}`);
  loadFConst(g, ft, hi);
  g.e(`${ucom} xmm0, xmm1`);
  g.e(`jae ${highL}`);
  if (signed) g.e(`${cvt} ${bits === 32 ? "eax" : "rax"}, xmm0`);
  else if (bits === 32) { g.e(`${cvt} rax, xmm0`); g.e("mov eax, eax"); }
  else {
    const big = g.newLabel();
    loadFConst(g, ft, 9223372036854775808);
    g.e(`${ucom} xmm0, xmm1`);
    g.e(`jae ${big}`);
    g.e(`${cvt} rax, xmm0`);
    g.e(`jmp ${done}`);
    g.label(big);
    g.e(`sub${s} xmm0, xmm1`);
    g.e(`${cvt} rax, xmm0`);
    g.e("btc rax, 63");
  }
  if (sat) {
    g.e(`jmp ${done}`);
    g.label(nanL); g.e("xor eax, eax"); g.e(`jmp ${done}`);
    g.label(lowL); g.e(bits === 64 ? `movabs rax, ${minVal}` : `mov eax, ${minVal}`); g.e(`jmp ${done}`);
    g.label(highL); g.e(bits === 64 ? `movabs rax, ${maxVal}` : `mov eax, ${maxVal}`);
  }
  g.label(done);
}



/** Parses one emitted instruction line (`\top a, b`); null for labels and directives. */
function parseInsn(l: string): { op: string; args: string[] } | null {
  const m = /^\t([a-z0-9]+)(?: (.*))?$/.exec(l);
  if (!m || m[1].startsWith(".")) return null;
  return { op: m[1], args: m[2] ? m[2].split(", ") : [] };
}

/**
 * What the post-passes know of rax in a function's lines: which instructions define it from
 * nothing of it, which are harmless to pass over, and whether it is dead at a line (redefined
 * before any read on every path, jumps followed a few levels; a label outside these lines, e.g.
 * the return or a trap, counts as a read). `out` may change between calls (labels are re-read).
 */
function raxFacts(out: string[]) {
  const RAX = /\b(rax|eax|ax|al|ah)\b/;
  const ALU = new Set(["mov", "movzx", "movsx", "movsxd", "lea", "add", "sub", "and", "or", "xor", "shl", "shr", "sar", "rol", "ror", "imul", "neg", "not", "bswap", "inc", "dec"]);
  const parse = parseInsn;
  const familyOf = (r: string): string | null => {
    for (const r64 of HOME_REGS) for (const b of [64, 32, 16, 8]) if (reg(r64, b) === r) return r64;
    return null;
  };
  const widthOf = (r: string): number => (/^(rax|eax|ax|al|ah)$/.test(r) ? ({ rax: 64, eax: 32, ax: 16, al: 8, ah: 0 } as Record<string, number>)[r] : 0);
  /** A definition of rax that reads nothing of rax (rax dead before it). */
  const pureDef = (p: { op: string; args: string[] }): boolean => {
    if (!["rax", "eax"].includes(p.args[0] ?? "")) return false;
    if (["mov", "movzx", "movsx", "movsxd", "lea"].includes(p.op) && p.args.length === 2) return !RAX.test(p.args[1]);
    if (p.op === "imul" && p.args.length === 3) return !RAX.test(p.args[1]) && !RAX.test(p.args[2]);
    if (p.op === "xor" && p.args.length === 2 && p.args[0] === p.args[1]) return true;
    return false;
  };
  const harmless = (p: { op: string; args: string[] }): boolean =>
    (ALU.has(p.op) && (p.op !== "imul" || p.args.length >= 2)) || p.op === "cmp" || p.op === "test" || /^(set|cmov)[a-z]+$/.test(p.op);
  // rax dead at line i: redefined before any read on every path (jumps followed a few levels; a
  // label outside these lines, e.g. the return or a trap, counts as a read)
  let labelAt = new Map<string, number>();
  const labels = () => { labelAt = new Map(); out.forEach((l, i) => { const m = /^([.\w]+):$/.exec(l); if (m) labelAt.set(m[1], i); }); };
  labels();
  const deadAt = (i: number, depth: number): boolean => {
    for (let steps = 0; i < out.length && steps < 24; i++, steps++) {
      if (/^[.\w]+:$/.test(out[i])) continue;
      const p = parse(out[i]);
      if (!p) return false;
      const j = /^j([a-z]+)$/.exec(p.op);
      if (j && p.args.length === 1) {
        let at = labelAt.get(p.args[0]);
        if (at !== undefined && out[at] !== `${p.args[0]}:`) { labels(); at = labelAt.get(p.args[0]); }
        if (depth <= 0 || at === undefined || at >= out.length || out[at] !== `${p.args[0]}:` || !deadAt(at + 1, depth - 1)) return false;
        if (j[1] === "mp") return true;
        continue;
      }
      // a direct call of a compiled function defines rax (its result or scratch; arguments travel
      // on the stack and in r8-r11, x86.ts), so rax is dead before it
      if (p.op === "call" && /^tvf_\d+$/.test(p.args[0] ?? "")) return true;
      if (!harmless(p)) return false;
      if (pureDef(p)) return true;
      if (p.args.some((a) => RAX.test(a))) return false;
    }
    return false;
  };
  return { RAX, ALU, parse, familyOf, widthOf, pureDef, harmless, deadAt };
}

/**
 * Drops a value put in rax that nothing reads: `mov eax, IMM|REG`, `lea eax, [..]` (no memory
 * access, no flags) where rax is dead after (`raxFacts.deadAt`), and `xor eax, eax` right before a
 * `jmp` to where it is dead. The generator leaves these where a block's or an inlined function's
 * value is dropped: `mov eax, 1; jmp .L9` with `.L9: add dword ptr [rbp-168], 1; jmp .L2`, and
 * `.L2: mov eax, dword ptr [rbp-168]`.
 */
export function dropDeadRax(lines: string[]): string[] {
  const out = lines.slice();
  const { deadAt } = raxFacts(out);
  const drop = new Set<number>();
  for (let k = 0; k < out.length; k++) {
    // `mov rax, qword ptr [M]; and rax, IMM; je/jne L` with rax dead after -> `test byte ptr [M], IMM`
    // (ZF alike; a mask below 2^8 only needs the low byte, x86 being little-endian)
    const ld = /^\tmov (rax|eax), (qword|dword) ptr (\[[^\]]+\])$/.exec(out[k]);
    const an = ld ? /^\tand (rax|eax), (\d+|0x[0-9a-f]+)$/.exec(out[k + 1] ?? "") : null;
    if (ld && an && an[1] === ld[1] && Number(an[2]) <= 0x7fffffff && /^\tj(e|ne) /.test(out[k + 2] ?? "") && deadAt(k + 2, 3)) {
      out[k + 1] = `\ttest ${Number(an[2]) < 256 ? "byte" : ld[2]} ptr ${ld[3]}, ${an[2]}`;
      drop.add(k);
      continue;
    }
    const p = parseInsn(out[k]);
    if (!p || !["rax", "eax"].includes(p.args[0] ?? "") || p.args.length !== 2) continue;
    const plain = (p.op === "mov" && !p.args[1].includes("[")) || p.op === "lea";
    const zero = p.op === "xor" && p.args[1] === p.args[0] && /^\tjmp /.test(out[k + 1] ?? "");
    if ((plain || zero) && deadAt(k + 1, 3)) drop.add(k);
  }
  return drop.size ? out.filter((_, k) => !drop.has(k)) : out;
}

/**
 * Evaluates into the destination register instead of through rax (issue 15): a run of
 * instructions that defines rax from nothing of rax (`mov`/`movzx`/`lea`/... of other operands),
 * computes on it, and ends in `mov R, eax` (or `rax`) is renamed to compute in R itself when rax
 * is dead afterwards, i.e. the straight-line code that follows (no label, jump or call) redefines
 * rax before anything reads it. Saves the final move:
 *   mov eax, dword ptr [rbp-64]; imul eax, eax, 2112; add eax, r11d; mov ebx, eax; mov eax, ...
 *   -> mov ebx, dword ptr [rbp-64]; imul ebx, ebx, 2112; add ebx, r11d; mov eax, ...
 * A run that starts `mov eax, R` (R's own value) starts at its second instruction instead.
 */
export function computeInPlace(lines: string[]): string[] {
  const out = lines.slice();
  const { RAX, ALU, parse, familyOf, widthOf, pureDef, harmless, deadAt } = raxFacts(out);
  for (let k = 0; k < out.length; k++) {
    // k: the final `mov R, eax|rax`
    const fin = parse(out[k]);
    if (!fin || fin.op !== "mov" || fin.args.length !== 2 || !["eax", "rax"].includes(fin.args[1])) continue;
    const R = familyOf(fin.args[0]);
    if (!R || (fin.args[1] === "eax") !== (fin.args[0] === reg(R, 32))) continue;
    const RX = new RegExp(`\\b(${[64, 32, 16, 8].map((b) => reg(R, b)).join("|")})\\b`);
    // rax dead after k: redefined in straight-line code before anything but reads that can read R
    // instead (R and rax hold the same 64 bits there) and that write neither R nor rax
    let dead = -1, renameKill = false;
    for (let j = k + 1; j < out.length && j <= k + 16; j++) {
      const p = parse(out[j]);
      if (p && /^j[a-z]+$/.test(p.op) && p.args.length === 1 && !p.args[0].includes("[")) { if (deadAt(j, 3)) dead = j; break; }
      if (!p || !harmless(p) || p.args.some((a) => /\bah\b/.test(a))) break;
      const writes = !["cmp", "test"].includes(p.op) && p.args.length > 0;
      if (writes && RX.test(p.args[0]) && !p.args[0].includes("[")) break;
      if (pureDef(p)) { dead = j; break; }
      const renamed = { op: p.op, args: p.args.map((a) => a.replace(/\b(rax|eax|ax|al)\b/g, (m) => reg(R, widthOf(m)))) };
      if (writes && ["rax", "eax"].includes(p.args[0]) && pureDef({ op: p.op, args: [p.args[0], ...renamed.args.slice(1)] })) { dead = j; renameKill = true; break; }
      if (writes && RAX.test(p.args[0]) && !p.args[0].includes("[")) break;
    }
    if (dead < 0) continue;
    // walk back over the run: each step writes rax/eax/ax and touches no R; the first one is a pure definition
    let s = k - 1, start = -1, dropFirst = false;
    for (; s >= 0 && s >= k - 12; s--) {
      const p = parse(out[s]);
      // `setcc al; movzx eax, al` defines all of rax from the flags alone
      if (p && /^set[a-z]+$/.test(p.op) && p.args[0] === "al" && s + 1 < k && out[s + 1] === "\tmovzx eax, al") { start = s; break; }
      if (!p || !ALU.has(p.op) || (p.op === "imul" && p.args.length < 2)) break;
      if (!["rax", "eax", "ax"].includes(p.args[0] ?? "")) break;
      if (fin.args[1] === "eax" && p.args[0] === "rax") break; // a 64-bit result truncated by the final move
      if (p.op === "mov" && p.args[0] === fin.args[1] && p.args[1] === fin.args[0]) { start = s; dropFirst = true; break; }
      if (p.args.some((a) => RX.test(a)) || p.args.some((a) => /\bah\b/.test(a))) break;
      if (pureDef(p)) { start = s; break; }
    }
    if (start < 0 || (dropFirst && start === k - 1)) continue;
    const rename = (l: string) => l.replace(/\b(rax|eax|ax|al)\b/g, (m) => reg(R, widthOf(m)));
    const body = out.slice(dropFirst ? start + 1 : start, k).map(rename);
    // the reads of rax between the move and rax's redefinition (or a jump where it is dead) read R (the redefinition's sources too)
    const between = out.slice(k + 1, dead + 1).map((l, n) => {
      if (n < dead - k - 1) return rename(l);
      if (!renameKill) return l;
      const p = parse(l)!;
      return `\t${p.op} ${p.args[0]}, ${p.args.slice(1).map((a) => rename("\t" + a).slice(1)).join(", ")}`;
    });
    out.splice(k + 1, dead - k, ...between);
    out.splice(start, k - start + 1, ...body);
    k = start + body.length - 1;
  }
  return out;
}

/**
 * A register known to hold a constant, tested for zero: an inlined function's constant result tested
 * by its caller, or a condition local set from one. The constant is `mov X, IMM` or `xor X, X`; it
 * may be copied on (`mov Y, X`, same width) before `test Y, Y; jCC L` with labels between. The
 * constant decides the jump (the generator never reads flags past a conditional jump, checked for
 * the next line): with no label between, `je`/`jne` become `jmp L` or nothing and the test goes;
 * with labels between (a block end other values also reach), the path from the constant performs
 * the copies itself and jumps straight to where the test would send it (`jmp L`, or to a new label
 * `.Lcf<prefix>_<n>` after the jump), and the copies, test and jump stay for the other paths.
 * The constant and its copies stay: the registers may be read later.
 *   xor eax, eax; .L4: mov r8d, eax; .L2: test r8d, r8d; je .L5
 *   -> xor eax, eax; mov r8d, eax; jmp .L5; .L4: mov r8d, eax; .L2: test r8d, r8d; je .L5
 */
export function foldConstTests(lines: string[], prefix = ""): string[] {
  const out: string[] = [];
  const REG = /^(r(ax|bx|cx|dx|si|di|8|9|1[0-4])d?|e(ax|bx|cx|dx|si|di))$/;
  let n = 0;
  for (let k = 0; k < lines.length; k++) {
    const m = /^\tmov (\w+), (-?\d+|0x[0-9a-f]+)$/.exec(lines[k]) ?? /^\txor (\w+), \1$/.exec(lines[k]);
    if (!m || !REG.test(m[1])) { out.push(lines[k]); continue; }
    const value = m[2] === undefined ? 0n : BigInt(m[2]);
    const wide = (r: string) => r.startsWith("r") && !/d$/.test(r);
    const known = new Set([m[1]]);
    const copies: string[] = [];
    let l = k + 1, labels = 0;
    for (; l < lines.length; l++) {
      if (/^[.\w]+:$/.test(lines[l])) { labels++; continue; }
      const c = /^\tmov (\w+), (\w+)$/.exec(lines[l]);
      if (!c || !known.has(c[2]) || !REG.test(c[1]) || wide(c[1]) !== wide(c[2])) break;
      known.add(c[1]);
      copies.push(lines[l]);
    }
    const t = /^\ttest (\w+), \1$/.exec(lines[l] ?? "");
    const j = t && known.has(t[1]) ? /^\tj(e|z|ne|nz) (\S+)$/.exec(lines[l + 1] ?? "") : null;
    const readsFlags = /^\t(j|set|cmov|adc|sbb)/.test(lines[l + 2] ?? "");
    // a 32-bit constant tested at 64 bits (or the reverse) is not what the test sees
    if (!t || !j || wide(t[1]) !== wide(m[1]) || readsFlags) { out.push(lines[k]); continue; }
    const taken = (j[1] === "e" || j[1] === "z") === (value === 0n);
    out.push(lines[k]);
    if (labels === 0) {
      out.push(...copies);
      if (taken) out.push(`\tjmp ${j[2]}`);
      k = l + 1;
      continue;
    }
    const after = `.Lcf${prefix}_${n++}`;
    out.push(...copies, `\tjmp ${taken ? j[2] : after}`, ...lines.slice(k + 1, l + 2));
    if (!taken) out.push(`${after}:`);
    k = l + 1;
  }
  return out;
}

/**
 * Small rewrites of emitted code (issue 15, from the callgrind profile of the learned-unicast path):
 * - `mov eax, X; imul eax, eax, IMM` -> `imul eax, X, IMM` (X a register or memory operand);
 * - `and/or/xor R, X` then `test R, R` (only moves between, which leave the flags) -> no test:
 *   the logic op sets ZF/SF/PF from its result and clears CF/OF, as the test would;
 * - `mov eax, eax` right before a 32-bit ALU op on eax goes (the op zero-extends its result);
 * - `setCC R8; movzx R32, R8; test R32, R32; jne/je L` -> `jCC/jNCC L` without the test: setcc and
 *   movzx leave the flags of the compare, which decide the same way (the boolean is still stored);
 * - a jump (conditional or not) to a label whose first instruction is `jmp L2` goes to L2 directly;
 * - loop rotation: a backward `jmp TOP` where TOP is a short exit test (at most four instructions
 *   without labels, jumps or calls, then `jCC EXIT`) repeats the test in place of the jump and
 *   continues at a new label `.Lrot<prefix>_<n>` after it: `...; jNCC .LrotN; jmp EXIT`. A loop
 *   iteration then costs one jump less (the exit's `jmp` runs once).
 */
export function peephole(lines: string[], prefix = ""): string[] {
  /** Any width of the 64-bit register `r` is one of (null for a name that is not a known register). */
  const familyRe = (r: string): RegExp | null => {
    const fam = HOME_REGS.concat(["rax", "rcx", "rdx"]).find((x) => [64, 32, 16, 8].some((w) => reg(x, w) === r));
    return fam ? new RegExp(`\\b(${[64, 32, 16, 8].map((w) => reg(fam, w)).join("|")}${fam === "rax" ? "|ah" : ""})\\b`) : null;
  };
  let out: string[] = [];
  for (let k = 0; k < lines.length; k++) {
    const m = /^\tmov (\w+), ([^,]+)$/.exec(lines[k]);
    const i = m ? /^\timul (\w+), \1, (-?\d+|0x[0-9a-f]+)$/.exec(lines[k + 1] ?? "") : null;
    const fm = m ? familyRe(m[1]) : null;
    if (m && i && fm && i[1] === m[1] && !/^(-?\d+|0x)/.test(m[2]) && !fm.test(m[2])) { out.push(`\timul ${m[1]}, ${m[2]}, ${i[2]}`); k++; continue; }
    // `and rax, IMM` with IMM < 2^31 leaves the upper half zero: a following `mov eax, eax` is a no-op
    const small = (l: string | undefined) => { const a = /^\tand rax, (\d+|0x[0-9a-f]+)$/.exec(l ?? ""); return a !== null && Number(a[1]) <= 0x7fffffff; };
    if (lines[k] === "\tmov eax, eax" && small(out[out.length - 1])) continue;
    // `mov eax, eax` (an i64 wrapped to i32) right before a 32-bit ALU op on eax: the op reads only
    // the low half and zero-extends its result itself
    if (lines[k] === "\tmov eax, eax" && /^\t(and|or|xor|add|sub|shl|shr|sar|rol|ror|imul) eax, (?!.*\b(rax|ah)\b)[^,]+$/.test(lines[k + 1] ?? "")) continue;
    const t = /^\ttest (\w+), \1$/.exec(lines[k]);
    if (t && t[1] === "eax" && small(out[out.length - 1])) continue; // same ZF, and SF 0 either way
    // the boolean of a setcc tested at once: the compare's flags decide the jump
    const sc = t ? /^\tset([a-z]+) (\w+)$/.exec(out[out.length - 2] ?? "") : null;
    const zj = sc ? /^\tj(e|ne) (\S+)$/.exec(lines[k + 1] ?? "") : null;
    if (sc && zj && INVERT[sc[1]] && out[out.length - 1] === `\tmovzx ${t![1]}, ${sc[2]}` && !/^\t(j|set|cmov|adc|sbb)/.test(lines[k + 2] ?? "")) {
      out.push(`\tj${zj[1] === "ne" ? sc[1] : INVERT[sc[1]]} ${zj[2]}`);
      k++;
      continue;
    }
    if (t) {
      let b = out.length - 1;
      const fam = HOME_REGS.concat(["rax", "rcx", "rdx"]).find((r) => [64, 32, 16, 8].some((w) => reg(r, w) === t[1]));
      const writesR = (l: string) => fam === undefined || new RegExp(`^\\tmov (${[64, 32, 16, 8].map((w) => reg(fam, w)).join("|")}|ah),`).test(l);
      while (b >= 0 && /^\tmov /.test(out[b]) && !writesR(out[b])) b--;
      if (b >= 0 && new RegExp(`^\\t(and|or|xor) ${t[1]}, [^,]+$`).test(out[b])) continue;
    }
    out.push(lines[k]);
  }
  // jump threading
  const target = new Map<string, string>();
  for (let k = 0; k < out.length; k++) {
    const l = /^([.\w]+):$/.exec(out[k]);
    if (!l) continue;
    let n = k + 1;
    while (n < out.length && /^[.\w]+:$/.test(out[n])) n++;
    const j = /^\tjmp (\.L\w+)$/.exec(out[n] ?? "");
    if (j) target.set(l[1], j[1]);
  }
  const final = (l: string): string => { for (let d = 0; d < 8 && target.has(l) && target.get(l) !== l; d++) l = target.get(l)!; return l; };
  out = out.map((l) => {
    const j = /^\t(j[a-z]+) (\.L\w+)$/.exec(l);
    return j && target.has(j[2]) ? `\t${j[1]} ${final(j[2])}` : l;
  });
  return rotateLoops(out, prefix);
}

/** Loop rotation (see `peephole`). */
function rotateLoops(lines: string[], prefix: string): string[] {
  const at = new Map<string, number>();
  lines.forEach((l, i) => { const m = /^([.\w]+):$/.exec(l); if (m) at.set(m[1], i); });
  const rotated = new Map<number, string>(); // line of the exit test's jump -> label after it
  const repl = new Map<number, string[]>();
  let n = 0;
  for (let k = 0; k < lines.length; k++) {
    const j = /^\tjmp (\.L\w+)$/.exec(lines[k]);
    const top = j ? at.get(j[1]) : undefined;
    if (top === undefined || top >= k) continue;
    let b = top + 1;
    while (b < lines.length && /^[.\w]+:$/.test(lines[b])) b++;
    let e = b;
    while (e < lines.length && e - b < 4 && /^\t(?!j|call|ret|push|pop|leave)[a-z]/.test(lines[e])) e++;
    const x = /^\tj([a-z]+) (\S+)$/.exec(lines[e] ?? "");
    if (e === b || !x || x[1] === "mp" || !INVERT[x[1]] || e >= k) continue;
    let after = rotated.get(e);
    if (!after) { after = `.Lrot${prefix}_${n++}`; rotated.set(e, after); }
    repl.set(k, [...lines.slice(b, e), `\tj${INVERT[x[1]]} ${after}`, `\tjmp ${x[2]}`]);
  }
  if (!repl.size) return lines;
  const out: string[] = [];
  lines.forEach((l, i) => {
    out.push(...(repl.get(i) ?? [l]));
    const after = rotated.get(i);
    if (after) out.push(`${after}:`);
  });
  return out;
}
