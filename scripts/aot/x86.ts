// x86-64 register names and small helpers for emitting Intel-syntax GNU assembler text.
import type { ValType } from "./binaryen-adapter.ts";

export const WASM_BASE = 0x0000_0100_0000_0000n;
export const DIRECT_MAP = 0xffff_8000_0000_0000n;
export const GUARD_BYTES = 0x2_0001_0000n; // 8 GiB + 64 KiB reserved after WASM_BASE

/** Registers that can hold locals. All are preserved across internal calls (callee-saved in
 *  our internal convention); only rax, rcx, rdx and xmm0-xmm3 are scratch. */
export const HOME_REGS = ["rbx", "r12", "r13", "r14", "rsi", "rdi", "r8", "r9", "r10", "r11"];
/** Caller-saved in the internal convention: free for leaf functions, saved around calls. */
export const VOLATILE_REGS = ["r8", "r9", "r10", "r11"];
/** Internal calls pass the longest suffix of integer-class arguments (at most 4) in these
 *  registers: argument n-1 in ARG_REGS[0], n-2 in ARG_REGS[1], ...; the others are pushed
 *  left to right. They are the caller-saved ones, which a caller spills around calls anyway. */
export const ARG_REGS = ["r8", "r9", "r10", "r11"];
/** For each parameter: its argument register, or null when it is passed on the stack. */
export function argRegs(params: readonly string[]): (string | null)[] {
  const out: (string | null)[] = params.map(() => null);
  for (let i = params.length - 1, k = 0; i >= 0 && k < ARG_REGS.length; i--, k++) {
    if (params[i] === "f32" || params[i] === "f64") break;
    out[i] = ARG_REGS[k];
  }
  return out;
}

/** Homes that SysV callees (extern hw_* on baremetal) may clobber. */
export const SYSV_VOLATILE_HOMES = ["rsi", "rdi", "r8", "r9", "r10", "r11"];

const R32: Record<string, string> = {
  rax: "eax", rbx: "ebx", rcx: "ecx", rdx: "edx", rsi: "esi", rdi: "edi", rbp: "ebp", rsp: "esp",
  r8: "r8d", r9: "r9d", r10: "r10d", r11: "r11d", r12: "r12d", r13: "r13d", r14: "r14d", r15: "r15d",
};
const R16: Record<string, string> = {
  rax: "ax", rbx: "bx", rcx: "cx", rdx: "dx", rsi: "si", rdi: "di", rbp: "bp", rsp: "sp",
  r8: "r8w", r9: "r9w", r10: "r10w", r11: "r11w", r12: "r12w", r13: "r13w", r14: "r14w", r15: "r15w",
};
const R8: Record<string, string> = {
  rax: "al", rbx: "bl", rcx: "cl", rdx: "dl", rsi: "sil", rdi: "dil", rbp: "bpl", rsp: "spl",
  r8: "r8b", r9: "r9b", r10: "r10b", r11: "r11b", r12: "r12b", r13: "r13b", r14: "r14b", r15: "r15b",
};

/** Register name at operand width: 8, 16, 32 or 64 bits. */
export function reg(r: string, bits: number): string {
  if (bits === 64) return r;
  if (bits === 32) return R32[r];
  if (bits === 16) return R16[r];
  return R8[r];
}

export function is64(t: ValType): boolean { return t === "i64" || t === "f64"; }
export function isFloat(t: ValType): boolean { return t === "f32" || t === "f64"; }
export function ptrSize(bits: number): string {
  return bits === 8 ? "byte ptr" : bits === 16 ? "word ptr" : bits === 32 ? "dword ptr" : "qword ptr";
}

export const INVERT: Record<string, string> = {
  e: "ne", ne: "e", l: "ge", ge: "l", g: "le", le: "g", b: "ae", ae: "b", a: "be", be: "a",
  p: "np", np: "p", s: "ns", ns: "s", o: "no", no: "o",
};
/** Condition after swapping the operands of a compare. */
export const SWAP: Record<string, string> = {
  e: "e", ne: "ne", l: "g", g: "l", le: "ge", ge: "le", b: "a", a: "b", be: "ae", ae: "be",
};

export function hex(v: bigint): string { return "0x" + v.toString(16); }

/** Signed 32-bit immediate text for a bit pattern if it fits a sign-extended imm32 at width. */
export function imm32(bits: bigint, width: 32 | 64): string | null {
  if (width === 32) return String(Number(BigInt.asIntN(32, bits)));
  const s = BigInt.asIntN(64, bits);
  if (s >= -(1n << 31n) && s < (1n << 31n)) return String(Number(s));
  return null;
}

/** Symbol-safe mangling of arbitrary export names: [A-Za-z0-9_] kept, others as _xHH_. */
export function mangle(name: string): string {
  let out = "";
  for (const ch of Buffer.from(name, "utf8")) {
    const c = String.fromCharCode(ch);
    out += /[A-Za-z0-9_]/.test(c) ? c : `_x${ch.toString(16).padStart(2, "0")}_`;
  }
  return out;
}

/** A NUL-terminated string as an .asciz directive with escapes. */
export function asciz(s: string): string {
  let out = "";
  for (const b of Buffer.from(s, "utf8")) {
    if (b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c) out += String.fromCharCode(b);
    else out += "\\" + b.toString(8).padStart(3, "0");
  }
  return `.asciz "${out}"`;
}

/** Bytes as compact .ascii lines. */
export function bytesDirective(data: Uint8Array): string {
  const lines: string[] = [];
  for (let i = 0; i < data.length; i += 64) {
    let s = "";
    for (const b of data.subarray(i, i + 64)) {
      if (b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c) s += String.fromCharCode(b);
      else s += "\\" + b.toString(8).padStart(3, "0");
    }
    lines.push(`\t.ascii "${s}"`);
  }
  return lines.join("\n");
}
