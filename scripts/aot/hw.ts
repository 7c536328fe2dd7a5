// Baremetal lowering of `hw` imports to inline instructions (docs/ABI.md, "Hardware imports").
// Arguments are pushed left to right, so the last argument is at [rsp]. Only rax, rcx, rdx
// may be clobbered (plus rbx inside cpuid, saved around it).
import type { ExprRef, FuncRec } from "./binaryen-adapter.ts";
import { DIRECT_MAP, SYSV_VOLATILE_HOMES, hex } from "./x86.ts";

/** The part of the function generator the lowering uses (kept structural so hw.ts imports no codegen). */
export interface HwEmitter {
  /** bytes pushed on the machine stack by the expression being generated */
  depth: number;
  e(line: string): void;
  fail(what: string): never;
  pushArg(e: ExprRef): void;
  popTo(r: string): void;
}

const STATUS = ["mov eax, 0", "mov ecx, 1", "cmovc eax, ecx", "mov ecx, 2", "cmovz eax, ecx"];

/** name -> [argument count, instruction lines]; lines run after arguments are pushed. */
const INLINE: Record<string, [number, string[]]> = {
  inb: [1, ["pop rdx", "in al, dx", "movzx eax, al"]],
  inw: [1, ["pop rdx", "in ax, dx", "movzx eax, ax"]],
  inl: [1, ["pop rdx", "in eax, dx"]],
  outb: [2, ["pop rax", "pop rdx", "out dx, al"]],
  outw: [2, ["pop rax", "pop rdx", "out dx, ax"]],
  outl: [2, ["pop rax", "pop rdx", "out dx, eax"]],
  rdmsr: [1, ["pop rcx", "rdmsr", "shl rdx, 32", "or rax, rdx"]],
  wrmsr: [2, ["pop rax", "pop rcx", "mov rdx, rax", "shr rdx, 32", "wrmsr"]],
  read_cr0: [0, ["mov rax, cr0"]], read_cr2: [0, ["mov rax, cr2"]], read_cr3: [0, ["mov rax, cr3"]],
  read_cr4: [0, ["mov rax, cr4"]], read_cr8: [0, ["mov rax, cr8"]],
  write_cr0: [1, ["pop rax", "mov cr0, rax"]], write_cr3: [1, ["pop rax", "mov cr3, rax"]],
  write_cr4: [1, ["pop rax", "mov cr4, rax"]], write_cr8: [1, ["pop rax", "mov cr8, rax"]],
  xgetbv: [1, ["pop rcx", "xgetbv", "shl rdx, 32", "or rax, rdx"]],
  xsetbv: [2, ["pop rax", "pop rcx", "mov rdx, rax", "shr rdx, 32", "xsetbv"]],
  read_rflags: [0, ["pushfq", "pop rax"]],
  // [rsp]=out, [rsp+8]=subleaf, [rsp+16]=leaf
  cpuid: [3, ["push rbx", "mov eax, dword ptr [rsp+24]", "mov ecx, dword ptr [rsp+16]", "cpuid",
    "mov dword ptr [rsp+16], ecx", "mov ecx, dword ptr [rsp+8]", "mov dword ptr [r15+rcx], eax",
    "mov dword ptr [r15+rcx+4], ebx", "mov dword ptr [r15+rcx+12], edx", "mov eax, dword ptr [rsp+16]",
    "mov dword ptr [r15+rcx+8], eax", "pop rbx", "add rsp, 24"]],
  invlpg: [1, ["pop rax", "invlpg [rax]"]],
  hlt: [0, ["hlt"]], pause: [0, ["pause"]], cli: [0, ["cli"]], sti: [0, ["sti"]], wbinvd: [0, ["wbinvd"]],
  rdtsc: [0, ["rdtsc", "shl rdx, 32", "or rax, rdx"]],
  phys_load8: [1, ["pop rax", `movabs rcx, ${hex(DIRECT_MAP)}`, "movzx eax, byte ptr [rcx+rax]"]],
  phys_load16: [1, ["pop rax", `movabs rcx, ${hex(DIRECT_MAP)}`, "movzx eax, word ptr [rcx+rax]"]],
  phys_load32: [1, ["pop rax", `movabs rcx, ${hex(DIRECT_MAP)}`, "mov eax, dword ptr [rcx+rax]"]],
  phys_load64: [1, ["pop rax", `movabs rcx, ${hex(DIRECT_MAP)}`, "mov rax, qword ptr [rcx+rax]"]],
  phys_store8: [2, ["pop rdx", "pop rax", `movabs rcx, ${hex(DIRECT_MAP)}`, "mov byte ptr [rcx+rax], dl"]],
  phys_store16: [2, ["pop rdx", "pop rax", `movabs rcx, ${hex(DIRECT_MAP)}`, "mov word ptr [rcx+rax], dx"]],
  phys_store32: [2, ["pop rdx", "pop rax", `movabs rcx, ${hex(DIRECT_MAP)}`, "mov dword ptr [rcx+rax], edx"]],
  phys_store64: [2, ["pop rdx", "pop rax", `movabs rcx, ${hex(DIRECT_MAP)}`, "mov qword ptr [rcx+rax], rdx"]],
  // (dst_pa, src, len): [rsp]=len, [rsp+8]=src, [rsp+16]=dst_pa
  phys_copy_in: [3, ["push rsi", "push rdi", "mov ecx, dword ptr [rsp+16]", "mov esi, dword ptr [rsp+24]", "add rsi, r15",
    "mov rdi, qword ptr [rsp+32]", `movabs rax, ${hex(DIRECT_MAP)}`, "add rdi, rax", "rep movsb", "pop rdi", "pop rsi", "add rsp, 24"]],
  // (dst, src_pa, len)
  phys_copy_out: [3, ["push rsi", "push rdi", "mov ecx, dword ptr [rsp+16]", "mov rsi, qword ptr [rsp+24]", `movabs rax, ${hex(DIRECT_MAP)}`,
    "add rsi, rax", "mov edi, dword ptr [rsp+32]", "add rdi, r15", "rep movsb", "pop rdi", "pop rsi", "add rsp, 24"]],
  // (pa, byte, len: i64)
  phys_fill: [3, ["push rdi", "mov rcx, qword ptr [rsp+8]", "mov eax, dword ptr [rsp+16]", "mov rdi, qword ptr [rsp+24]",
    `movabs rdx, ${hex(DIRECT_MAP)}`, "add rdi, rdx", "rep stosb", "pop rdi", "add rsp, 24"]],
  linear_base: [0, ["mov rax, r15"]],
  vmxon: [1, ["vmxon qword ptr [rsp]", ...STATUS, "lea rsp, [rsp+8]"]],
  vmclear: [1, ["vmclear qword ptr [rsp]", ...STATUS, "lea rsp, [rsp+8]"]],
  vmptrld: [1, ["vmptrld qword ptr [rsp]", ...STATUS, "lea rsp, [rsp+8]"]],
  vmxoff: [0, ["vmxoff", ...STATUS]],
  vmread: [1, ["pop rcx", "xor eax, eax", "vmread rax, rcx"]],
  vmwrite: [2, ["pop rax", "pop rcx", "vmwrite rcx, rax", ...STATUS]],
  invept: [2, ["pop rcx", "pop rax", "invept rax, xmmword ptr [r15+rcx]", ...STATUS]],
  invvpid: [2, ["pop rcx", "pop rax", "invvpid rax, xmmword ptr [r15+rcx]", ...STATUS]],
  vmsave: [1, ["pop rax", "vmsave rax"]],
  vmload: [1, ["pop rax", "vmload rax"]],
  stgi: [0, ["stgi"]], clgi: [0, ["clgi"]],
  invlpga: [2, ["pop rcx", "pop rax", "invlpga rax, ecx"]],
};

export const INLINE_HW = new Set(Object.keys(INLINE));

const SYSV_ARGS = ["rdi", "rsi", "rdx", "rcx", "r8", "r9"];

export function lowerHwImport(g: HwEmitter, callee: FuncRec, operands: ExprRef[]) {
  const name = callee.importBase!;
  const inl = INLINE[name];
  if (inl) {
    if (inl[0] !== operands.length) g.fail(`hw.${name} expects ${inl[0]} arguments, got ${operands.length}`);
    for (const a of operands) g.pushArg(a);
    for (const l of inl[1]) g.e(l);
    g.depth -= 8 * operands.length;
    if (callee.results[0] === "i32" && /^(rdmsr|xgetbv|rdtsc)$/.test(name)) g.e("mov eax, eax");
    return;
  }
  // Any other hw import: SysV call to extern hw_NAME.
  if (operands.length > 6) g.fail(`hw.${name}: more than 6 arguments`);
  for (const r of SYSV_VOLATILE_HOMES) { g.e(`push ${r}`); g.depth += 8; }
  for (const a of operands) g.pushArg(a);
  for (let i = operands.length - 1; i >= 0; i--) g.popTo(SYSV_ARGS[i]);
  g.e("mov rax, rsp");
  g.e("and rsp, -16");
  g.e("push rax");
  g.e("push rax");
  g.e(`call hw_${name}`);
  g.e("mov rsp, qword ptr [rsp]");
  if (callee.results[0] === "i32") g.e("mov eax, eax");
  for (const r of [...SYSV_VOLATILE_HOMES].reverse()) g.popTo(r);
}
