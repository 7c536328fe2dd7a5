// Module-level emission: functions, globals, table, data segments, wasm_init, export wrappers,
// shared runtime helpers, symbol table, and (linux) the freestanding runtime.
import { binaryen, constBits, exprInfo, type LoadedModule, type FuncRec } from "./binaryen-adapter.ts";
import { CompileError, FuncGen, sigId, type ModuleCtx } from "./codegen.ts";
import type { Target } from "./target.ts";
import type { RawItem } from "./wasm-rewrite.ts";
import { WASM_BASE, argRegs, asciz, bytesDirective, hex, isFloat, mangle } from "./x86.ts";

export interface AsmModule { asm: string; functions: number }

export function emitModule(m: LoadedModule, target: Target): AsmModule {
  const ctx: ModuleCtx = {
    m, target,
    funcIndex: new Map(m.functions.map((f) => [f.name, f.index])),
    globalIndex: new Map(m.globals.map((g) => [g.name, g.index])),
    dataIndex: new Map(m.data.map((d, i) => [d.name, i])),
    sigIds: new Map(), usedTraps: new Set(), importStubs: new Map(), labelSeq: 0,
    tableIndex: new Map(m.tables.map((t, k) => [t.name, k])), funcDescs: new Set(), maxTuple: 0,
  };
  if (m.memory?.importModule) throw new CompileError(`imported memory ${m.memory.importModule}.${m.memory.importBase} is not supported`);
  if (m.memory?.shared || m.memory?.is64) throw new CompileError("shared or 64-bit memories are not supported");
  if (m.tables.some((t) => t.importModule)) throw new CompileError("imported tables are not supported");
  for (const g of m.globals) if (g.importModule !== undefined) throw new CompileError(`imported global ${g.importModule}.${g.importBase} is not supported`);
  target.checkModule(m);

  const text: string[] = [".intel_syntax noprefix", ".text"];
  let nfuncs = 0;
  for (const f of m.functions) {
    if (f.importModule !== undefined) continue;
    text.push(...new FuncGen(ctx, f).generate());
    nfuncs++;
  }



  const data: string[] = [".data", ".p2align 3"];
  const rodata: string[] = [".section .rodata", ".p2align 3"];

  // multi-value: a tuple in flight (codegen.ts, TupleMake)
  data.push("tv_tuple:", `\t.zero ${8 * Math.max(1, ctx.maxTuple)}`);
  // globals
  for (const g of m.globals) {
    data.push(`tv_g_${g.index}:`, `\t.quad ${globalInit(ctx, g.init, g.name)}`);
  }
  // memory
  const mem = m.memory;
  const initialPages = mem?.initial ?? 0;
  const maxPages = mem ? (mem.max ?? 65536) : 0;
  data.push(".globl tv_mem_pages", "tv_mem_pages:", `\t.quad ${initialPages}`);
  rodata.push(".globl wasm_memory_initial_pages", "wasm_memory_initial_pages:", `\t.long ${initialPages}`);
  rodata.push(".globl wasm_memory_max_pages", "wasm_memory_max_pages:", `\t.long ${Math.min(maxPages, 65536)}`, ".p2align 3");

  let elemTrap = false;
  // data segments: descriptor {u64 address, u64 length}; length 0 once dropped
  const init: string[] = [];
  m.data.forEach((d, i) => {
    rodata.push(`tv_d_${i}:`, bytesDirective(d.data));
    data.push(`tv_dseg_${i}:`, `\t.quad tv_d_${i}`, `\t.quad ${d.passive ? d.data.length : 0}`);
    if (!d.passive) {
      if (!mem) throw new CompileError("data segment without a memory");
      const off = d.offset >>> 0;
      // bounds are checked even for empty segments (spec: instantiation traps)
      if (off + d.data.length > initialPages * 65536) init.push(`\tcall tv_trapstub_5`);
      else if (d.data.length) init.push(`\tlea rsi, [rip + tv_d_${i}]`, `\tmov rdi, ${off}`, `\tadd rdi, r15`, `\tmov ecx, ${d.data.length}`, "\trep movsb");
    }
  });

  // tables: {u64 size, u64 capacity} then `capacity` entries, each a reference (u64): 0 is
  // null, a funcref is the address of a descriptor {u64 code, u64 signature id}, an externref
  // the host's value. The capacity is fixed at compile time (table.grow past it returns -1,
  // which the spec allows).
  const tableEntries = m.tables.map((t) => new Array<string>(t.initial).fill("0"));
  for (const el of activeElems(ctx)) {
    const entries = tableEntries[el.table];
    // an out-of-bounds active segment makes instantiation trap (after earlier segments)
    if (!entries || el.offset + el.refs.length > entries.length) { ctx.usedTraps.add(9); elemTrap = true; break; }
    el.refs.forEach((r, i) => { entries[el.offset + i] = r; });
  }
  m.tables.forEach((t, k) => {
    const entries = tableEntries[k];
    const cap = tableCapacity(t, target);
    data.push(".p2align 4", `tv_tab_${k}:`, `\t.quad ${t.initial}, ${cap}`);
    for (let i = 0; i < entries.length; i += 8) data.push(`\t.quad ${entries.slice(i, i + 8).join(", ")}`);
    if (cap > t.initial) data.push(`\t.zero ${8 * (cap - t.initial)}`);
  });
  // element segments for table.init/elem.drop: {u64 length, u64 items}; active and
  // declarative segments count as dropped once the module is instantiated
  if (m.raw) {
    m.raw.elems.forEach((el, k) => {
      const refs = el.items.map((it) => elemRef(ctx, it));
      rodata.push(`tv_ei_${k}:`, ...(refs.length ? [`\t.quad ${refs.join(", ")}`] : []));
      data.push(`tv_eseg_${k}:`, `\t.quad ${el.mode === "passive" ? refs.length : 0}, tv_ei_${k}`);
    });
  }

  // function descriptors {code, signature id}: what funcref values point at
  rodata.push(".p2align 3");
  for (const i of [...ctx.funcDescs].sort((a, b) => a - b)) {
    const f = m.functions[i];
    let sym = f.importModule !== undefined ? target.importThunk(f, (s) => ctx.importStubs.set(s.name, s)) : `tvf_${f.index}`;
    if (f.importModule !== undefined && argRegs(f.params).some((r) => r)) {
      // stubs take every argument on the stack: an adapter for calls through the table
      text.push(...stackArgsAdapter(`tv_impt_${i}`, sym, f));
      sym = `tv_impt_${i}`;
    }
    rodata.push(`tv_fd_${i}:`, `\t.quad ${sym}, ${sigId(ctx, f.params, f.results)}`);
  }
  // linux stubs for hw imports
  for (const f of ctx.importStubs.values()) text.push(...linuxImportStub(f));

  // wasm_init
  text.push(".globl wasm_init", "wasm_init:", "\tpush rbp", "\tmov rbp, rsp", "\tpush r15", "\tpush rbx",
    `\tmovabs r15, ${hex(WASM_BASE)}`, ...(elemTrap ? ["\tcall tv_trapstub_9"] : []), ...init);
  if (m.start) text.push(`\tcall tvf_${m.funcByName.get(m.start)!.index}`);
  text.push("\tpop rbx", "\tpop r15", "\tpop rbp", "\tret");

  // export wrappers (SysV); mangled names are made unique
  const usedSyms = new Set<string>();
  for (const x of m.exports) {
    if (x.kind !== "function") continue;
    const f = m.funcByName.get(x.value)!;
    let sym = `wasm_export_${mangle(x.name)}`;
    for (let k = 2; usedSyms.has(sym); k++) sym = `wasm_export_${mangle(x.name)}_${k}`;
    usedSyms.add(sym);
    text.push(...exportWrapper(sym, f));
  }

  // trap stubs: called from the trapping function so [rsp] is an address inside it
  for (const code of [...new Set([...ctx.usedTraps, 5, 9])].sort()) {
    text.push(`tv_trapstub_${code}:`, `\tmov edi, ${code}`, "\tpop rsi", "\tmov rdx, rbp", "\tand rsp, -16", "\tcall tv_trap", "\tud2");
  }

  // shared runtime helpers (both targets)
  text.push(...bulkMemoryHelpers(target.vectorCopy), ...tableHelpers());
  const main = m.exports.find((x) => x.kind === "function" && x.name === "main");
  const rt = target.runtime({ hasMemory: !!mem, initialPages, mainSym: main ? `wasm_export_${mangle("main")}` : null });
  text.push(...rt.text);

  // symbol table
  rodata.push(".p2align 3", ".globl tv_symtab", "tv_symtab:");
  const names: string[] = [];
  for (const f of m.functions) {
    if (f.importModule !== undefined) continue;
    rodata.push(`\t.quad tvf_${f.index}, .Lfe_${f.index}, tv_sn_${f.index}`);
    names.push(`tv_sn_${f.index}:`, `\t${asciz(f.name)}`);
  }
  rodata.push(".globl tv_symtab_count", "tv_symtab_count:", `\t.quad ${nfuncs}`, ...names);

  const asm = [...text, ...data, ...rodata, rt.tail, ".section .note.GNU-stack,\"\",@progbits", ""].join("\n");
  return { asm, functions: nfuncs };
}

function constOffset(e: number, what: string): bigint {
  if (binaryen.getExpressionId(e) !== binaryen.ConstId) throw new CompileError(`${what} is not a constant`);
  return constBits(e).bits;
}

/** A global's initial value as an assembler expression (a number, or a function descriptor). */
export function globalInit(ctx: ModuleCtx, e: number, name: string): string {
  const m = ctx.m;
  const id = binaryen.getExpressionId(e);
  if (id === binaryen.ConstId) return hex(constBits(e).bits);
  if (id === binaryen.GlobalGetId) {
    const g = m.globalByName.get(exprInfo(e).name)!;
    return globalInit(ctx, g.init, g.name);
  }
  if (id === binaryen.RefNullId) return "0";
  if (id === binaryen.RefFuncId) return funcDesc(ctx, m.funcByName.get(exprInfo(e).func)!);
  throw new CompileError(`global ${name}: unsupported initializer`);
}

/** The descriptor symbol {code, signature id} that stands for a function reference. */
export function funcDesc(ctx: ModuleCtx, f: FuncRec): string {
  ctx.funcDescs.add(f.index);
  return `tv_fd_${f.index}`;
}

/** Entries a table can hold: its maximum, capped at the initial size plus the target's slack. */
export function tableCapacity(t: { initial: number; max?: number }, target: Target): number {
  const limit = Math.min(t.max ?? 0xffffffff, 0xffffffff);
  return Math.max(t.initial, Math.min(limit, t.initial + target.tableGrowSlack));
}

/** Active element segments in order: table index, offset, entries as assembler expressions. */
export function activeElems(ctx: ModuleCtx): { table: number; offset: number; refs: string[] }[] {
  const m = ctx.m;
  if (m.raw) {
    return m.raw.elems.filter((el) => el.mode === "active").map((el) => {
      let offset: number;
      if (!el.offset) throw new CompileError("element segment offset is not a constant");
      if ("const" in el.offset) offset = el.offset.const >>> 0;
      else offset = Number(BigInt(globalInit(ctx, m.globals[el.offset.global].init, m.globals[el.offset.global].name)) & 0xffffffffn);
      return { table: el.table, offset, refs: el.items.map((it) => elemRef(ctx, it)) };
    });
  }
  return m.elems.filter((el) => !el.passive).map((el) => ({
    table: ctx.tableIndex.get(el.table) ?? 0,
    offset: Number(BigInt.asUintN(32, constOffset(el.offset, "element segment offset"))),
    refs: el.funcs.map((fname, k) => {
      if (!fname) return "0"; // ref.null
      const f = m.funcByName.get(fname);
      if (!f) throw new CompileError(`element segment ${el.name}: entry ${k} is not a constant function reference`);
      return funcDesc(ctx, f);
    }),
  }));
}

export function elemRef(ctx: ModuleCtx, it: RawItem): string {
  if ("null" in it) return "0";
  if ("func" in it) return funcDesc(ctx, ctx.m.functions[it.func]);
  const g = ctx.m.globals[it.global];
  return globalInit(ctx, g.init, g.name);
}


function exportWrapper(sym: string, f: FuncRec): string[] {
  const out = [`.globl ${sym}`, `${sym}:`, "\tpush rbp", "\tmov rbp, rsp", "\tpush r15", "\tpush rbx", `\tmovabs r15, ${hex(WASM_BASE)}`];
  const intRegs = ["rdi", "rsi", "rdx", "rcx", "r8", "r9"];
  let ni = 0, nf = 0, stack = 0;
  for (const t of f.params) {
    if (isFloat(t)) {
      if (nf < 8) { out.push(`\tmovq rax, xmm${nf++}`, "\tpush rax"); }
      else { out.push(`\tpush qword ptr [rbp+${16 + 8 * stack++}]`); }
    } else {
      if (ni < 6) out.push(`\tpush ${intRegs[ni++]}`);
      else out.push(`\tpush qword ptr [rbp+${16 + 8 * stack++}]`);
    }
  }
  // the internal convention takes the register suffix of the arguments in registers
  const regs = argRegs(f.params);
  for (let i = f.params.length - 1; i >= 0 && regs[i]; i--) out.push(`\tpop ${regs[i]}`);
  const nstack = regs.filter((r) => r === null).length;
  out.push(`\tcall tvf_${f.index}`);
  if (nstack) out.push(`\tadd rsp, ${8 * nstack}`);
  out.push("\tpop rbx", "\tpop r15", "\tpop rbp", "\tret");
  return out;
}

/** Internal convention (register suffix) -> every argument pushed, for a stub reading the stack. */
export function stackArgsAdapter(label: string, target: string, f: FuncRec): string[] {
  const regs = argRegs(f.params);
  const nstack = regs.filter((r) => r === null).length;
  const out = [`${label}:`, "\tpush rbp", "\tmov rbp, rsp"];
  f.params.forEach((_, i) => out.push(regs[i] ? `\tpush ${regs[i]}` : `\tpush qword ptr [rbp+${16 + 8 * (nstack - 1 - i)}]`));
  out.push(`\tcall ${target}`, "\tleave", "\tret");
  return out;
}

export function linuxImportStub(f: FuncRec): string[] {
  const out = [`tv_imp_${f.index}:`];
  const n = f.params.length;
  const arg = (i: number) => `[rsp+${8 + 8 * (n - 1 - i)}]`;
  switch (f.importBase) {
    case "outb":
      out.push(`\tcmp dword ptr ${arg(0)}, 0xE9`, "\tjne 1f", `\tmov eax, dword ptr ${arg(1)}`, "\tcall tv_rt_putc", "1:", "\tret");
      break;
    case "arg":
      out.push(`\tmov eax, dword ptr ${arg(0)}`, "\tcall tv_rt_arg", "\tret");
      break;
    // test hooks for the spec harness: the host value N as an externref (N+1, so that 0
    // stays null), and a reference's bits as an i64
    case "ref_extern":
      out.push(`\tmov eax, dword ptr ${arg(0)}`, "\tinc rax", "\tret");
      break;
    case "ref_bits": case "ref_bits_func":
      out.push(`\tmov rax, qword ptr ${arg(0)}`, "\tret");
      break;
    default: {
      const msg = `hw.${f.importBase} is not available on linux`;
      out.push(`\tlea rsi, [rip + .Lhwmsg_${f.index}]`, `\tmov edx, ${Buffer.byteLength(msg)}`, "\tjmp tv_rt_hwtrap",
        `.Lhwmsg_${f.index}:`, `\t${asciz(msg)}`);
    }
  }
  return out;
}

/** memory.copy/fill/init with the spec's bounds checks; args on the stack (dest first). */
export function bulkMemoryHelpers(vector: boolean): string[] {
  // The upward copy: with SSE (linux), 64-byte blocks through xmm0/xmm1 (never live across a
  // call in generated code), then 8-byte words, then bytes: `rep movsb` costs tens of cycles to
  // start on the CPUs measured (bench/aot "switch"). Each block is loaded before it is stored,
  // which keeps an overlapping copy to a lower address (memmove) exact.
  const up = vector ? `1:	cmp rcx, 64
	jb 5f
4:	movdqu xmm0, xmmword ptr [rsi]
	movdqu xmm1, xmmword ptr [rsi+16]
	movdqu xmmword ptr [rdi], xmm0
	movdqu xmmword ptr [rdi+16], xmm1
	movdqu xmm0, xmmword ptr [rsi+32]
	movdqu xmm1, xmmword ptr [rsi+48]
	movdqu xmmword ptr [rdi+32], xmm0
	movdqu xmmword ptr [rdi+48], xmm1
	add rsi, 64
	add rdi, 64
	sub rcx, 64
	cmp rcx, 64
	jae 4b
5:	cmp rcx, 8
	jb 6f
7:	mov rax, qword ptr [rsi]
	mov qword ptr [rdi], rax
	add rsi, 8
	add rdi, 8
	sub rcx, 8
	cmp rcx, 8
	jae 7b
6:	test rcx, rcx
	jz 2f
8:	mov al, byte ptr [rsi]
	mov byte ptr [rdi], al
	inc rsi
	inc rdi
	dec rcx
	jnz 8b` : `1:	rep movsb`;
  // Linux (SSE): the fast paths in front of the exact copy below. Sizes 4..63 load everything
  // before storing anything (two overlapping moves of the largest fitting width), so they are a
  // memmove in either direction. From 64 bytes, when the ranges do not overlap or the destination
  // lies at least 64 bytes below the source: 64-byte blocks through xmm0-xmm3 (scratch, x86.ts), the
  // last block ending at the end and overlapping the one before (its source bytes are not yet
  // overwritten: the destination is below by 64 or more, or apart). From 128 bytes, 128 bytes below
  // or apart, and with AVX2 (tv_have_avx2, set by _start from CPUID/XGETBV): the same in 128-byte
  // blocks through ymm0-ymm3, then `vzeroupper` (SSE code after dirty upper halves is slow on Intel,
  // SDM vol 1 14.4 / optimization manual). Everything else (sizes 0..3, near or upward overlaps)
  // goes the exact way.
  // four 16-byte (xmm) or 32-byte (ymm) registers loaded from [rsi+at], then stored to [rdi+at]
  const block = (w: 16 | 32, at: string): string => {
    const [r, mov] = w === 16 ? ["xmm", "movdqu"] : ["ymm", "vmovdqu"];
    const off = (k: number) => `${at}${k ? `+${k * w}` : ""}`;
    const ks = [0, 1, 2, 3];
    return ks.map((k) => `\t${mov} ${r}${k}, ${r}word ptr [rsi${off(k)}]\n`).join("") +
      ks.map((k) => `\t${mov} ${r}word ptr [rdi${off(k)}], ${r}${k}\n`).join("");
  };
  const fast = vector ? `	cmp rcx, 64
	jae 14f
	cmp rcx, 4
	jb 20f
	cmp rcx, 16
	jb 12f
	cmp rcx, 32
	jb 11f
	movdqu xmm0, xmmword ptr [rsi]
	movdqu xmm1, xmmword ptr [rsi+16]
	movdqu xmm2, xmmword ptr [rsi+rcx-32]
	movdqu xmm3, xmmword ptr [rsi+rcx-16]
	movdqu xmmword ptr [rdi], xmm0
	movdqu xmmword ptr [rdi+16], xmm1
	movdqu xmmword ptr [rdi+rcx-32], xmm2
	movdqu xmmword ptr [rdi+rcx-16], xmm3
	jmp 2f
11:	movdqu xmm0, xmmword ptr [rsi]
	movdqu xmm1, xmmword ptr [rsi+rcx-16]
	movdqu xmmword ptr [rdi], xmm0
	movdqu xmmword ptr [rdi+rcx-16], xmm1
	jmp 2f
12:	cmp rcx, 8
	jb 13f
	mov rax, qword ptr [rsi]
	mov rdx, qword ptr [rsi+rcx-8]
	mov qword ptr [rdi], rax
	mov qword ptr [rdi+rcx-8], rdx
	jmp 2f
13:	mov eax, dword ptr [rsi]
	mov edx, dword ptr [rsi+rcx-4]
	mov dword ptr [rdi], eax
	mov dword ptr [rdi+rcx-4], edx
	jmp 2f
14:	mov rax, rsi
	sub rax, rdi
	cmp rax, 64
	jb 20f
	cmp rdi, rsi
	jbe 15f
	lea rdx, [rsi+rcx]
	cmp rdi, rdx
	jb 20f
15:	cmp rcx, 128
	jb 17f
	cmp rax, 128
	jb 17f
	cmp byte ptr [rip + tv_have_avx2], 0
	je 17f
	sub rcx, 128
18:${block(32, "")}	add rsi, 128
	add rdi, 128
	sub rcx, 128
	ja 18b
${block(32, "+rcx")}	vzeroupper
	jmp 2f
17:	sub rcx, 64
16:${block(16, "")}	add rsi, 64
	add rdi, 64
	sub rcx, 64
	ja 16b
${block(16, "+rcx")}	jmp 2f
20:` : "";
  return `
tv_rt_memory_copy:
	push rsi
	push rdi
	mov ecx, dword ptr [rsp+24]
	mov esi, dword ptr [rsp+32]
	mov edi, dword ptr [rsp+40]
	mov rax, qword ptr [rip + tv_mem_pages]
	shl rax, 16
	lea rdx, [rsi+rcx]
	cmp rdx, rax
	ja 9f
	lea rdx, [rdi+rcx]
	cmp rdx, rax
	ja 9f
	add rsi, r15
	add rdi, r15
${fast}	cmp rdi, rsi
	jbe 1f
	lea rdx, [rsi+rcx]
	cmp rdi, rdx
	jae 1f
	lea rsi, [rsi+rcx-1]
	lea rdi, [rdi+rcx-1]
	std
	rep movsb
	cld
	jmp 2f
${up}
2:	pop rdi
	pop rsi
	ret
9:	pop rdi
	pop rsi
	call tv_trapstub_5
tv_rt_memory_fill:
	push rdi
	mov ecx, dword ptr [rsp+16]
	mov edi, dword ptr [rsp+32]
	mov rax, qword ptr [rip + tv_mem_pages]
	shl rax, 16
	lea rdx, [rdi+rcx]
	cmp rdx, rax
	ja 9f
	add rdi, r15
	mov eax, dword ptr [rsp+24]
	rep stosb
	pop rdi
	ret
9:	pop rdi
	call tv_trapstub_5
tv_rt_memory_init:
	push rsi
	push rdi
	push rax
	mov ecx, dword ptr [rsp+32]
	mov esi, dword ptr [rsp+40]
	mov edi, dword ptr [rsp+48]
	lea rdx, [rsi+rcx]
	cmp rdx, qword ptr [rax+8]
	ja 9f
	mov rdx, qword ptr [rip + tv_mem_pages]
	shl rdx, 16
	lea rax, [rdi+rcx]
	cmp rax, rdx
	ja 9f
	pop rax
	add rsi, qword ptr [rax]
	add rdi, r15
	rep movsb
	pop rdi
	pop rsi
	ret
9:	pop rax
	pop rdi
	pop rsi
	call tv_trapstub_5
`.split("\n");
}

/**
 * Table helpers, operands on the stack (first pushed first), table address in rax (and the
 * second table or element segment in rdx). Table: {u64 size, u64 capacity, u64 entries[]};
 * segment: {u64 length, u64 items}. i32 operands are read as dwords (a pushed constant is
 * sign-extended). Only rax, rcx, rdx may change (the internal convention's scratch registers).
 * Bounds as in the spec (2.0, 4.4.6): n = 0 still traps when an index is past the end.
 */
export function tableHelpers(): string[] {
  // table.copy and table.init: rsi, rdi, rbx saved; ecx = n, esi = source index, edi = destination index;
  // to 9f when source + n passes the source's length ([rdx]) or destination + n the table's size ([rax])
  const TWO_RANGE_ENTRY = `	push rsi
	push rdi
	push rbx
	mov ecx, dword ptr [rsp+32]
	mov esi, dword ptr [rsp+40]
	mov edi, dword ptr [rsp+48]
	lea rbx, [rsi+rcx]
	cmp rbx, qword ptr [rdx]
	ja 9f
	lea rbx, [rdi+rcx]
	cmp rbx, qword ptr [rax]
	ja 9f`;
  const TWO_RANGE_TRAP = `9:	pop rbx
	pop rdi
	pop rsi
	call tv_trapstub_9`;
  return `
tv_rt_table_fill:
	push rsi
	push rdi
	mov esi, dword ptr [rsp+40]
	mov ecx, dword ptr [rsp+24]
	lea rdx, [rsi+rcx]
	cmp rdx, qword ptr [rax]
	ja 9f
	lea rdi, [rax+16+rsi*8]
	mov rax, qword ptr [rsp+32]
	rep stosq
	pop rdi
	pop rsi
	ret
9:	pop rdi
	pop rsi
	call tv_trapstub_9
tv_rt_table_copy:
${TWO_RANGE_ENTRY}
	lea rsi, [rdx+16+rsi*8]
	lea rdi, [rax+16+rdi*8]
	cmp rdi, rsi
	jbe 1f
	lea rdx, [rsi+rcx*8]
	cmp rdi, rdx
	jae 1f
	lea rsi, [rsi+rcx*8-8]
	lea rdi, [rdi+rcx*8-8]
	std
	rep movsq
	cld
	jmp 2f
1:	rep movsq
2:	pop rbx
	pop rdi
	pop rsi
	ret
${TWO_RANGE_TRAP}
tv_rt_table_init:
${TWO_RANGE_ENTRY}
	mov rdx, qword ptr [rdx+8]
	lea rsi, [rdx+rsi*8]
	lea rdi, [rax+16+rdi*8]
	rep movsq
	pop rbx
	pop rdi
	pop rsi
	ret
${TWO_RANGE_TRAP}
tv_rt_table_grow:
	push rdi
	mov ecx, dword ptr [rsp+16]
	mov rdx, qword ptr [rax]
	add rcx, rdx
	cmp rcx, qword ptr [rax+8]
	ja 8f
	mov qword ptr [rax], rcx
	sub rcx, rdx
	lea rdi, [rax+16+rdx*8]
	mov rax, qword ptr [rsp+24]
	rep stosq
	mov eax, edx
	pop rdi
	ret
8:	mov eax, -1
	pop rdi
	ret
`.split("\n");
}
