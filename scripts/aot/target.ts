// The two output targets (linux ELF, baremetal object) as objects: every target-specific check and lowering lives here.
import type { ExprRef, FuncRec, LoadedModule } from "./binaryen-adapter.ts";
import { CompileError } from "./errors.ts";
import { lowerHwImport, type HwEmitter } from "./hw.ts";
import { linuxRuntime, type RuntimeOptions } from "./runtime-linux.ts";
import { INTERNAL_MODULE } from "./wasm-rewrite.ts";
import { isFloat } from "./x86.ts";

export type TargetName = "linux" | "baremetal";

/** What a target needs from the function generator to lower an import call. */
export interface ImportEmitter extends HwEmitter {
  popArgs(n: number): void;
  /** records that the module needs the linux stub for this import */
  needImportStub(f: FuncRec): void;
}

export interface Target {
  name: TargetName;
  /** f32/f64 values and operations may be compiled */
  floats: boolean;
  /** the memory.copy helper may use SSE registers (the baremetal monitor does not save them) */
  vectorCopy: boolean;
  /** entries a table may grow by past its initial size (storage is reserved at compile time) */
  tableGrowSlack: number;
  /** Module-level checks before any code is generated (imports, globals). */
  checkModule(m: LoadedModule): void;
  /** Emits a call of the hw.* import `callee`. */
  lowerImport(g: ImportEmitter, callee: FuncRec, operands: ExprRef[]): void;
  /** Symbol of a table entry for an imported function (internal calling convention). */
  importThunk(f: FuncRec, needStub: (f: FuncRec) => void): string;
  /** Target runtime: `text` goes into .text after the shared helpers, `tail` after all sections. */
  runtime(o: RuntimeOptions): { text: string[]; tail: string };
  /** Whether a non-hw import is resolved to another module of a linked group (compileGroup). */
  linked?(f: FuncRec): boolean;
}

function checkImports(m: LoadedModule) {
  for (const f of m.functions) {
    if (f.importModule !== undefined && f.importModule !== "hw" && f.importModule !== INTERNAL_MODULE) throw new CompileError(`import ${f.importModule}.${f.importBase} is not supported (only hw.* imports; remove or stub it before compiling)`);
  }
}

/** Static ELF with its own runtime (runtime-linux.ts): hw.* imports become stubs (outb 0xE9, arg), floats allowed. */
export const linuxTarget: Target = {
  name: "linux",
  floats: true,
  vectorCopy: true,
  tableGrowSlack: 4096,
  checkModule(m) { checkImports(m); },
  lowerImport(g, callee, operands) {
    g.needImportStub(callee);
    for (const a of operands) g.pushArg(a);
    g.e(`call tv_imp_${callee.index}`);
    g.popArgs(operands.length);
  },
  importThunk(f, needStub) { needStub(f); return `tv_imp_${f.index}`; },
  runtime(o) { return { text: [], tail: linuxRuntime(o) }; },
};

/** Relocatable object linked behind boot/: hw.* imports inlined (hw.ts), integer-only (the monitor saves no SSE state). */
export const baremetalTarget: Target = {
  name: "baremetal",
  floats: false,
  vectorCopy: false,
  tableGrowSlack: 0,
  checkModule(m) {
    checkImports(m);
    for (const f of m.functions) {
      if (f.importModule === undefined) continue;
      for (const t of [...f.params, ...f.results]) if (isFloat(t)) throw new CompileError(`import hw.${f.importBase}: ${t} is not supported on the baremetal target`);
    }
    for (const g of m.globals) if (isFloat(g.type)) throw new CompileError(`global ${g.name}: ${g.type} is not supported on the baremetal target`);
  },
  lowerImport(g, callee, operands) { lowerHwImport(g, callee, operands); },
  importThunk(f) { throw new CompileError(`table entry for imported function hw.${f.importBase} is not supported on baremetal`); },
  runtime() { return { text: [...baremetalGrow(), ".extern tv_trap", ".extern tv_memory_grow", ".extern tv_stack_limit"], tail: "" }; },
};

/** memory.grow on baremetal: the monitor's tv_memory_grow (SysV) with every internal-convention register saved. */
function baremetalGrow(): string[] {
  return `
tv_rt_memory_grow:
	push rsi
	push rdi
	push r8
	push r9
	push r10
	push r11
	push rbx
	push rbp
	mov rbp, rsp
	mov ebx, eax
	mov edi, eax
	and rsp, -16
	call tv_memory_grow
	mov rsp, rbp
	cmp eax, -1
	je 1f
	add qword ptr [rip + tv_mem_pages], rbx
1:	pop rbp
	pop rbx
	pop r11
	pop r10
	pop r9
	pop r8
	pop rdi
	pop rsi
	ret
`.split("\n");
}

/**
 * The linux target for one member of a linked group (index.ts compileGroup): imports resolved
 * to another member are allowed, and a call of one goes through a stub (module.ts
 * linkedImportStub) like the hw.* ones.
 */
export function linkedTarget(base: Target, isLinked: (f: FuncRec) => boolean): Target {
  if (base.name !== "linux") throw new CompileError("linked groups are built for the linux target only");
  return {
    ...base,
    checkModule(m) {
      for (const f of m.functions) {
        if (f.importModule === undefined || f.importModule === "hw" || f.importModule === INTERNAL_MODULE || isLinked(f)) continue;
        throw new CompileError(`import ${f.importModule}.${f.importBase} is not resolved in the linked group`);
      }
    },
    linked: isLinked,
  };
}

export function getTarget(name: string): Target {
  if (name === "linux") return linuxTarget;
  if (name === "baremetal") return baremetalTarget;
  throw new Error(`unknown target ${name}`);
}
