// Linked groups (linux target): several modules in one executable, one object file each, every
// member with its own functions, globals, tables and linear memory; an import resolved to another
// member's export refers to that member's published symbol (tvx_<member>_...), calls cross over
// through an entry thunk that switches r15 (the memory base, docs/ABI.md) and restores it.
import { binaryen, exprInfo, type FuncRec, type LoadedModule } from "./binaryen-adapter.ts";
import { CompileError, FuncGen, sigId, type ModuleCtx } from "./codegen.ts";
import { bulkMemoryHelpers, elemRef, funcDesc, globalInit, linuxImportStub, stackArgsAdapter, tableCapacity, tableHelpers } from "./module.ts";
import { LINK_STRIDE, linkedMemoryGrow, linuxRuntime, mapMemoryAt } from "./runtime-linux.ts";
import { linkedTarget, type Target } from "./target.ts";
import { INTERNAL_MODULE } from "./wasm-rewrite.ts";
import { WASM_BASE, argRegs, bytesDirective, hex } from "./x86.ts";

/** What an import of a member is bound to: another member's export, or (for the group's
 *  driver) the instantiation code of a member, checked or replayed. */
export type Resolution = { member: number; field: string } | { init: number } | { replay: number };

export interface MemberLink {
  /** this member's number: the symbols it publishes are tvx_<member>_... */
  member: number;
  resolve(module: string, field: string): Resolution | undefined;
  /** signature ids of the whole group: call_indirect compares them across members */
  sigIds: Map<string, number>;
  /** most tuple elements any member passes through the shared tv_tuple */
  maxTuple: { n: number };
}

/** Linear memory base of member k (each member's reservation is LINK_STRIDE apart). */
export const memberBase = (k: number) => WASM_BASE + BigInt(k) * LINK_STRIDE;
const hexName = (s: string) => Buffer.from(s, "utf8").toString("hex") || "_";
/** Published symbol of member k's export `field`: f entry thunk, fd descriptor, g global, t table. */
export const pubSym = (k: number, kind: "f" | "fd" | "g" | "t", field: string) => `tvx_${k}_${kind}_${hexName(field)}`;

/** Assembly of one member. Its instantiation is not at start-up: tvx_<k>_init (and, for a
 *  replay after a failed instantiation, tvx_<k>_replay) runs it when the driver says so. */
export function emitMember(m: LoadedModule, base: Target, link: MemberLink): string {
  const k = link.member;
  const resolveOf = (module: string | undefined, field: string | undefined) =>
    module === undefined || module === "hw" || module === INTERNAL_MODULE ? undefined : link.resolve(module, field ?? "");
  const exportOf = (what: string, module: string | undefined, field: string | undefined) => {
    const r = resolveOf(module, field);
    if (!r || !("member" in r)) throw new CompileError(`imported ${what} ${module}.${field} is not resolved in the linked group`);
    return r;
  };
  const isLinked = (f: FuncRec) => resolveOf(f.importModule, f.importBase) !== undefined;
  const target = linkedTarget(base, isLinked);
  const ctx: ModuleCtx = {
    m, target,
    funcIndex: new Map(m.functions.map((f) => [f.name, f.index])),
    globalIndex: new Map(m.globals.map((g) => [g.name, g.index])),
    dataIndex: new Map(m.data.map((d, i) => [d.name, i])),
    sigIds: link.sigIds, usedTraps: new Set(), importStubs: new Map(), labelSeq: 0,
    tableIndex: new Map(m.tables.map((t, i) => [t.name, i])), funcDescs: new Set(), maxTuple: 0,
  };
  if (m.memory?.shared || m.memory?.is64) throw new CompileError("shared or 64-bit memories are not supported");
  target.checkModule(m);
  const exportsOf = (kind: string, name: string) => m.exports.filter((x) => x.kind === kind && x.value === name).map((x) => x.name);

  const sets: string[] = []; // aliases of other members' symbols, ahead of every use
  const text: string[] = [".text"];
  for (const f of m.functions) if (f.importModule === undefined) text.push(...new FuncGen(ctx, f).generate());
  link.maxTuple.n = Math.max(link.maxTuple.n, ctx.maxTuple);
  const data: string[] = [".data", ".p2align 3"];
  const rodata: string[] = [".section .rodata", ".p2align 3"];

  // memory: its own (reserved at instantiation) or the exporter's, whose base r15 then holds
  const mem = m.memory;
  let memBase = memberBase(k);
  const checks: string[] = []; // current size of imported memories/tables >= the import's minimum
  if (mem?.importModule !== undefined) {
    const r = exportOf("memory", mem.importModule, mem.importBase);
    memBase = memberBase(r.member);
    sets.push(`.set tv_mem_pages, tvx_${r.member}_mem_pages`, `.set wasm_memory_max_pages, tvx_${r.member}_mem_max`);
    checks.push(`\tcmp qword ptr [rip + tv_mem_pages], ${mem.initial}`, "\tjb 3f");
  } else {
    data.push(`.globl tvx_${k}_mem_pages`, `tvx_${k}_mem_pages:`, "tv_mem_pages:", `\t.quad ${mem?.initial ?? 0}`);
    rodata.push(`.globl tvx_${k}_mem_max`, `tvx_${k}_mem_max:`, "wasm_memory_max_pages:", `\t.long ${mem ? Math.min(mem.max ?? 65536, 65536) : 0}`, ".p2align 3");
  }
  const ownsMemory = !!mem && mem.importModule === undefined;

  // globals: an imported one is the exporter's storage; an initializer reading an imported
  // global is copied at instantiation (its value is not known before)
  const copies: [number, number][] = [];
  for (const g of m.globals) {
    if (g.importModule !== undefined) {
      const r = exportOf("global", g.importModule, g.importBase);
      sets.push(`.set tv_g_${g.index}, ${pubSym(r.member, "g", r.field)}`);
      continue;
    }
    let init: string;
    const src = binaryen.getExpressionId(g.init) === binaryen.GlobalGetId ? m.globalByName.get(exprInfo(g.init).name) : undefined;
    if (src?.importModule !== undefined && src) {
      init = "0";
      copies.push([g.index, src.index]);
    } else init = globalInit(ctx, g.init, g.name);
    for (const x of exportsOf("global", g.name)) data.push(`.globl ${pubSym(k, "g", x)}`, `${pubSym(k, "g", x)}:`);
    data.push(`tv_g_${g.index}:`, `\t.quad ${init}`);
  }

  // tables: {u64 size, u64 capacity, entries} as in module.ts, empty until instantiation
  m.tables.forEach((t, i) => {
    if (t.importModule !== undefined) {
      const r = exportOf("table", t.importModule, t.importBase);
      sets.push(`.set tv_tab_${i}, ${pubSym(r.member, "t", r.field)}`);
      checks.push(`\tcmp qword ptr [rip + tv_tab_${i}], ${t.initial}`, "\tjb 3f");
      return;
    }
    const cap = tableCapacity(t, target);
    data.push(".p2align 4");
    for (const x of exportsOf("table", t.name)) data.push(`.globl ${pubSym(k, "t", x)}`, `${pubSym(k, "t", x)}:`);
    data.push(`tv_tab_${i}:`, `\t.quad ${t.initial}, ${cap}`, `\t.zero ${8 * cap}`);
  });

  // data segments: descriptors as in module.ts; active ones are copied at instantiation
  const dataInit: string[] = [];
  m.data.forEach((d, i) => {
    rodata.push(`tv_d_${i}:`, bytesDirective(d.data));
    data.push(`tv_dseg_${i}:`, `\t.quad tv_d_${i}`, `\t.quad ${d.passive ? d.data.length : 0}`);
    if (d.passive) return;
    if (!mem) throw new CompileError("data segment without a memory");
    // spec 2.0 4.5.4: memory.init then data.drop, bounds against the current size
    dataInit.push(`\tmov ecx, ${d.offset >>> 0}`, `\tlea rax, [rcx + ${d.data.length}]`, "\tmov rdx, qword ptr [rip + tv_mem_pages]", "\tshl rdx, 16", "\tcmp rax, rdx", "\tja 5f");
    if (d.data.length) dataInit.push(`\tlea rsi, [rip + tv_d_${i}]`, "\tlea rdi, [r15 + rcx]", `\tmov ecx, ${d.data.length}`, "\trep movsb");
  });

  // element segments: table.init/elem.drop descriptors as in module.ts, active ones at instantiation
  const elemInit: string[] = [];
  const entry = (ref: string | { global: number }): string =>
    typeof ref === "object" ? `\tmov rax, qword ptr [rip + tv_g_${ref.global}]` : ref === "0" ? "\txor eax, eax" : /^tv_fd_/.test(ref) ? `\tlea rax, [rip + ${ref}]` : `\tmovabs rax, ${ref}`;
  const active: { table: number; offset: string; refs: (string | { global: number })[] }[] = [];
  const offsetOf = (global: number | undefined, c: number) => (global === undefined ? `\tmov ecx, ${c >>> 0}` : `\tmov ecx, dword ptr [rip + tv_g_${global}]`);
  if (m.raw) {
    m.raw.elems.forEach((el, i) => {
      const refs = el.items.map((it) => ("global" in it && m.globals[it.global].importModule !== undefined ? { global: it.global } : elemRef(ctx, it)));
      rodata.push(`tv_ei_${i}:`, ...(refs.length ? [`\t.quad ${refs.map((r) => (typeof r === "object" ? "0" : r)).join(", ")}`] : []));
      data.push(`tv_eseg_${i}:`, `\t.quad ${el.mode === "passive" ? refs.length : 0}, tv_ei_${i}`);
      if (el.mode !== "active") return;
      if (!el.offset) throw new CompileError("element segment offset is not a constant");
      active.push({ table: el.table, offset: "const" in el.offset ? offsetOf(undefined, el.offset.const) : offsetOf(el.offset.global, 0), refs });
    });
  } else {
    for (const el of m.elems) {
      if (el.passive) continue;
      const id = binaryen.getExpressionId(el.offset);
      let offset: string;
      if (id === binaryen.ConstId) offset = offsetOf(undefined, Number(exprInfo(el.offset).value));
      else if (id === binaryen.GlobalGetId) offset = offsetOf(ctx.globalIndex.get(exprInfo(el.offset).name), 0);
      else throw new CompileError("element segment offset is not a constant");
      const refs = el.funcs.map((fname) => (fname ? funcDesc(ctx, m.funcByName.get(fname)!) : "0"));
      active.push({ table: ctx.tableIndex.get(el.table) ?? 0, offset, refs });
    }
  }
  for (const el of active) {
    if (!m.tables[el.table]) throw new CompileError("element segment without a table");
    // spec 2.0 4.5.4: table.init then elem.drop, bounds against the current size
    elemInit.push(el.offset, `\tlea rax, [rcx + ${el.refs.length}]`, `\tcmp rax, qword ptr [rip + tv_tab_${el.table}]`, "\tja 9f", `\tlea rdx, [rip + tv_tab_${el.table}]`);
    el.refs.forEach((r, i) => elemInit.push(entry(r), `\tmov qword ptr [rdx + rcx*8 + ${16 + 8 * i}], rax`));
  }

  // every exported function has a descriptor other members can alias (equal references)
  for (const x of m.exports) {
    const f = x.kind === "function" ? m.funcByName.get(x.value) : undefined;
    if (f && f.importModule === undefined) ctx.funcDescs.add(f.index);
  }
  ctx.usedTraps.add(8);
  // function descriptors: a defined function's code pointer is its entry thunk, so a call
  // through any member's table runs it with its own memory
  for (const i of [...ctx.funcDescs].sort((a, b) => a - b)) {
    const f = m.functions[i];
    if (f.importModule !== undefined) {
      const r = resolveOf(f.importModule, f.importBase);
      if (r && "member" in r) {
        sets.push(`.set tv_fd_${i}, ${pubSym(r.member, "fd", r.field)}`);
        continue;
      }
      let sym = target.importThunk(f, (s) => ctx.importStubs.set(s.name, s));
      if (argRegs(f.params).some((reg) => reg)) {
        text.push(...stackArgsAdapter(`tv_impt_${i}`, sym, f));
        sym = `tv_impt_${i}`;
      }
      rodata.push(`tv_fd_${i}:`, `\t.quad ${sym}, ${sigId(ctx, f.params, f.results)}`);
      continue;
    }
    const names = exportsOf("function", f.name);
    for (const x of names) text.push(`.globl ${pubSym(k, "f", x)}`, `${pubSym(k, "f", x)}:`);
    text.push(...entryThunk(`tv_ent_${i}`, `tvf_${i}`, memBase));
    for (const x of names) rodata.push(`.globl ${pubSym(k, "fd", x)}`, `${pubSym(k, "fd", x)}:`);
    rodata.push(`tv_fd_${i}:`, `\t.quad tv_ent_${i}, ${sigId(ctx, f.params, f.results)}`);
  }
  for (const f of ctx.importStubs.values()) {
    const r = resolveOf(f.importModule, f.importBase);
    if (!r) {
      text.push(...linuxImportStub(f));
      continue;
    }
    const sym = "member" in r ? pubSym(r.member, "f", r.field) : "init" in r ? `tvx_${r.init}_init` : `tvx_${r.replay}_replay`;
    text.push(...linkedImportStub(f, sym));
  }

  // instantiation: checked (tvx_<k>_init) and replayed after it trapped (tvx_<k>_replay: the
  // segments before the failing one take effect, spec 2.0 has no rollback; no start function)
  const start = m.start ? `\tcall tvf_${m.funcByName.get(m.start)!.index}` : "";
  for (const replay of [false, true]) {
    const sym = `tvx_${k}_${replay ? "replay" : "init"}`;
    text.push(`.globl ${sym}`, `${sym}:`, "\tpush rbp", "\tmov rbp, rsp", ...["rbx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r15"].map((r) => `\tpush ${r}`), `\tmovabs r15, ${hex(memBase)}`);
    if (ownsMemory) text.push(...mapMemoryAt(memBase, mem!.initial, "3f"));
    text.push(...checks);
    for (const [dst, src] of copies) text.push(`\tmov rax, qword ptr [rip + tv_g_${src}]`, `\tmov qword ptr [rip + tv_g_${dst}], rax`);
    text.push(...elemInit, ...dataInit);
    if (!replay && start) text.push(start);
    text.push("1:", ...["r15", "r11", "r10", "r9", "r8", "rdi", "rsi", "rbx"].map((r) => `\tpop ${r}`), "\tpop rbp", "\tret");
    // 3: the memory cannot be reserved, or an imported memory/table is smaller than imported
    text.push(...(replay ? ["3:", "5:", "9:", "\tjmp 1b"] : ["3:", "\tcall tv_trapstub_0", "5:", "\tcall tv_trapstub_5", "9:", "\tcall tv_trapstub_9"]));
  }
  ctx.usedTraps.add(0);

  for (const code of [...new Set([...ctx.usedTraps, 5, 9])].sort()) {
    text.push(`tv_trapstub_${code}:`, `\tmov edi, ${code}`, "\tpop rsi", "\tmov rdx, rbp", "\tand rsp, -16", "\tcall tv_trap", "\tud2");
  }
  text.push(...bulkMemoryHelpers(target.vectorCopy), ...tableHelpers(), ...linkedMemoryGrow());
  return [".intel_syntax noprefix", ...sets, ...text, ...data, ...rodata, ".section .note.GNU-stack,\"\",@progbits", ""].join("\n");
}

/**
 * Entry thunk (internal convention in and out): saves the caller's r15 and return address on
 * the group's side stack (so stack arguments stay where the callee expects them), sets r15 to
 * this member's memory and restores both on return. rax/rcx/rdx are scratch at a call.
 */
function entryThunk(label: string, callee: string, memBase: bigint): string[] {
  return [
    `${label}:`,
    "\tpop rcx",
    "\tmov rdx, qword ptr [rip + tv_xsp]",
    "\tlea rax, [rip + tv_xstack_end]",
    "\tcmp rdx, rax",
    "\tjb 1f",
    "\tpush rcx",
    "\tcall tv_trapstub_8",
    "1:\tmov qword ptr [rdx], r15",
    "\tmov qword ptr [rdx+8], rcx",
    "\tadd rdx, 16",
    "\tmov qword ptr [rip + tv_xsp], rdx",
    `\tmovabs r15, ${hex(memBase)}`,
    `\tcall ${callee}`,
    "\tmov rdx, qword ptr [rip + tv_xsp]",
    "\tsub rdx, 16",
    "\tmov qword ptr [rip + tv_xsp], rdx",
    "\tmov r15, qword ptr [rdx]",
    "\tpush qword ptr [rdx+8]",
    "\tret",
  ];
}

/** Stub for a call of another member's function: the caller pushed every argument (as for
 *  hw.* stubs) and may keep values in r8-r11 (a call of an import leaves a function a leaf);
 *  the callee takes the internal convention. */
function linkedImportStub(f: FuncRec, entry: string): string[] {
  const n = f.params.length;
  const regs = argRegs(f.params);
  const arg = (j: number) => `qword ptr [rbp + ${16 + 8 * (n - 1 - j)}]`;
  const out = [`tv_imp_${f.index}:`, "\tpush rbp", "\tmov rbp, rsp", "\tpush r8", "\tpush r9", "\tpush r10", "\tpush r11"];
  let nstack = 0;
  f.params.forEach((_, j) => {
    if (!regs[j]) {
      out.push(`\tpush ${arg(j)}`);
      nstack++;
    }
  });
  f.params.forEach((_, j) => {
    if (regs[j]) out.push(`\tmov ${regs[j]}, ${arg(j)}`);
  });
  out.push(`\tcall ${entry}`);
  if (nstack) out.push(`\tadd rsp, ${8 * nstack}`);
  out.push("\tpop r11", "\tpop r10", "\tpop r9", "\tpop r8", "\tpop rbp", "\tret");
  return out;
}

/** The group's start-up object: the linux runtime, main (the driver member's export "main"),
 *  the shared tuple buffer and the side stack of the entry thunks. */
export function emitGroupMain(mainEntry: string, maxTuple: number, members: number): string {
  return [
    ".intel_syntax noprefix",
    ".text",
    // members' hw.* stubs (module.ts linuxImportStub) call these runtime routines
    ".globl tv_rt_putc", ".globl tv_rt_arg", ".globl tv_rt_hwtrap",
    ".globl wasm_init", "wasm_init:", "\tret",
    "tv_group_main:", `\tcall ${mainEntry}`, "\tret",
    ".data", ".p2align 3",
    ".globl tv_tuple", "tv_tuple:", `\t.zero ${8 * Math.max(1, maxTuple)}`,
    ".globl tv_xsp", "tv_xsp:", "\t.quad tv_xstack",
    // the runtime's memory.grow is unused here (members have their own)
    "tv_mem_pages:", "\t.quad 0", "wasm_memory_max_pages:", "\t.long 0",
    ".bss", ".p2align 4", "tv_xstack:", `\t.zero ${1 << 20}`, ".globl tv_xstack_end", "tv_xstack_end:",
    linuxRuntime({ hasMemory: false, initialPages: 0, mainSym: "tv_group_main", memSpan: memberBase(members) - WASM_BASE }),
    ".section .note.GNU-stack,\"\",@progbits",
    "",
  ].join("\n");
}
