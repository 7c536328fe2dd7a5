// Module-level emission: functions, globals, table, data segments, wasm_init, export wrappers,
// shared runtime helpers, symbol table, and (linux) the freestanding runtime.
import { binaryen, constBits, exprInfo, type LoadedModule, type FuncRec } from "./binaryen-adapter.ts";
import { CompileError, FuncGen, sigId, type ModuleCtx } from "./codegen.ts";
import type { Target } from "./target.ts";
import { WASM_BASE, asciz, bytesDirective, hex, isFloat, mangle } from "./x86.ts";

export interface AsmModule { asm: string; functions: number }

export function emitModule(m: LoadedModule, target: Target): AsmModule {
  const ctx: ModuleCtx = {
    m, target,
    funcIndex: new Map(m.functions.map((f) => [f.name, f.index])),
    globalIndex: new Map(m.globals.map((g) => [g.name, g.index])),
    dataIndex: new Map(m.data.map((d, i) => [d.name, i])),
    sigIds: new Map(), usedTraps: new Set(), importStubs: new Map(), labelSeq: 0,
    tableSize: m.tables[0]?.initial ?? 0,
  };
  if (m.memory?.importModule) throw new CompileError(`imported memory ${m.memory.importModule}.${m.memory.importBase} is not supported`);
  if (m.memory?.shared || m.memory?.is64) throw new CompileError("shared or 64-bit memories are not supported");
  if (m.tables.length > 1) throw new CompileError("more than one table is not supported");
  if (m.tables[0]?.importModule) throw new CompileError("imported tables are not supported");
  for (const g of m.globals) if (g.importModule !== undefined) throw new CompileError(`imported global ${g.importModule}.${g.importBase} is not supported`);
  target.checkModule(m);

  const text: string[] = [".intel_syntax noprefix", ".text"];
  let nfuncs = 0;
  for (const f of m.functions) {
    if (f.importModule !== undefined) continue;
    text.push(...new FuncGen(ctx, f).generate());
    nfuncs++;
  }


  // linux stubs for hw imports
  for (const f of ctx.importStubs.values()) text.push(...linuxImportStub(f));

  const data: string[] = [".data", ".p2align 3"];
  const rodata: string[] = [".section .rodata", ".p2align 3"];

  // globals
  for (const g of m.globals) {
    data.push(`tv_g_${g.index}:`, `\t.quad ${hex(globalInit(m, g.init, g.name))}`);
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

  // table: entries {u64 code address, u64 signature id}
  if (m.tables.length) {
    const entries: string[] = new Array(ctx.tableSize).fill("\t.quad 0, 0");
    for (const el of m.elems) {
      if (el.passive) continue;
      const off = Number(BigInt.asUintN(32, constOffset(el.offset, "element segment offset")));
      // an out-of-bounds active segment makes instantiation trap (after earlier segments)
      if (off + el.funcs.length > entries.length) { ctx.usedTraps.add(9); elemTrap = true; break; }
      el.funcs.forEach((fname, k) => {
        const f = fname ? m.funcByName.get(fname) : undefined;
        const slot = off + k;
        if (fname && !f) throw new CompileError(`element segment ${el.name}: entry ${k} is not a constant function reference`);
        if (!f) { entries[slot] = "\t.quad 0, 0"; return; } // ref.null
        const sym = f.importModule !== undefined ? target.importThunk(f, (s) => ctx.importStubs.set(s.name, s)) : `tvf_${f.index}`;
        entries[slot] = `\t.quad ${sym}, ${sigId(ctx, f.params, f.results)}`;
      });
    }
    data.push(".p2align 4", "tv_table:", ...entries);
  }
  if (!m.tables.length) data.push("tv_table:");

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
  for (const code of [...new Set([...ctx.usedTraps, 5])].sort()) {
    text.push(`tv_trapstub_${code}:`, `\tmov edi, ${code}`, "\tpop rsi", "\tmov rdx, rbp", "\tand rsp, -16", "\tcall tv_trap", "\tud2");
  }

  // shared runtime helpers (both targets)
  text.push(...bulkMemoryHelpers());
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

function globalInit(m: LoadedModule, e: number, name: string): bigint {
  const id = binaryen.getExpressionId(e);
  if (id === binaryen.ConstId) return constBits(e).bits;
  if (id === binaryen.GlobalGetId) {
    const g = m.globalByName.get(exprInfo(e).name)!;
    return globalInit(m, g.init, g.name);
  }
  throw new CompileError(`global ${name}: unsupported initializer`);
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
  out.push(`\tcall tvf_${f.index}`);
  if (f.params.length) out.push(`\tadd rsp, ${8 * f.params.length}`);
  out.push("\tpop rbx", "\tpop r15", "\tpop rbp", "\tret");
  return out;
}

function linuxImportStub(f: FuncRec): string[] {
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
    default: {
      const msg = `hw.${f.importBase} is not available on linux`;
      out.push(`\tlea rsi, [rip + .Lhwmsg_${f.index}]`, `\tmov edx, ${Buffer.byteLength(msg)}`, "\tjmp tv_rt_hwtrap",
        `.Lhwmsg_${f.index}:`, `\t${asciz(msg)}`);
    }
  }
  return out;
}

/** memory.copy/fill/init with the spec's bounds checks; args on the stack (dest first). */
function bulkMemoryHelpers(): string[] {
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
	cmp rdi, rsi
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
1:	rep movsb
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
