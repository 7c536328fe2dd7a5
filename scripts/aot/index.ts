// Public API of the AOT compiler: WebAssembly bytes -> linux ELF or baremetal object.
import { execFile } from "node:child_process";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { promisify } from "node:util";
import { loadModule } from "./binaryen-adapter.ts";
import { emitModule } from "./module.ts";
import { getTarget, type TargetName } from "./target.ts";

export { CompileError } from "./errors.ts";
/** The target's name as the API takes it ("linux" | "baremetal"). */
export type Target = TargetName;

const run = promisify(execFile);

export interface CompileOptions {
  target: Target;
  /** output path: the ELF executable (linux) or relocatable object (baremetal) */
  out: string;
  /** keep the generated assembly next to the output as <out>.s */
  keepAsm?: boolean;
  /** run binaryen's optimizer first (default true) */
  optimize?: boolean;
}

export interface CompileResult {
  asmPath?: string;
  functions: number;
  codeBytes?: number;
}

/** Generate assembly text only (no as/ld); useful for tests. */
export function compileToAsm(wasm: Uint8Array, opts: { target: Target; optimize?: boolean }): { asm: string; functions: number } {
  const m = loadModule(wasm, { optimize: opts.optimize ?? true });
  try {
    return emitModule(m, getTarget(opts.target));
  } finally {
    m.dispose();
  }
}

export async function compile(wasm: Uint8Array, opts: CompileOptions): Promise<CompileResult> {
  getTarget(opts.target); // unknown names fail before any work
  const { asm, functions } = compileToAsm(wasm, opts);
  await mkdir(dirname(opts.out) || ".", { recursive: true });
  const asmPath = opts.out + ".s";
  const objPath = opts.target === "linux" ? opts.out + ".o" : opts.out;
  await writeFile(asmPath, asm);
  try {
    await run("as", ["--64", "-o", objPath, asmPath], { maxBuffer: 64 << 20 });
  } catch (e: any) {
    throw new Error(`assembler failed: ${String(e.stderr ?? e.message).split("\n").slice(0, 20).join("\n")}`);
  }
  let codeBytes: number | undefined;
  try { codeBytes = textSize(new Uint8Array(await readFile(objPath))); } catch { codeBytes = undefined; }
  if (opts.target === "linux") {
    try {
      await run("ld", ["-static", "-nostdlib", "--no-dynamic-linker", "-o", opts.out, objPath], { maxBuffer: 64 << 20 });
    } catch (e: any) {
      throw new Error(`linker failed: ${String(e.stderr ?? e.message).slice(0, 2000)}`);
    } finally {
      await rm(objPath, { force: true });
    }
  }
  if (!opts.keepAsm) await rm(asmPath, { force: true });
  return { asmPath: opts.keepAsm ? asmPath : undefined, functions, codeBytes };
}

/** Size of the .text section of an ELF64 object (the generated code and runtime). */
export function textSize(elf: Uint8Array): number | undefined {
  const dv = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  if (dv.getUint32(0) !== 0x7f454c46) return undefined;
  const shoff = Number(dv.getBigUint64(0x28, true));
  const shentsize = dv.getUint16(0x3a, true), shnum = dv.getUint16(0x3c, true), shstrndx = dv.getUint16(0x3e, true);
  const strOff = Number(dv.getBigUint64(shoff + shstrndx * shentsize + 24, true));
  for (let i = 0; i < shnum; i++) {
    const h = shoff + i * shentsize;
    let n = strOff + dv.getUint32(h, true), name = "";
    while (elf[n]) name += String.fromCharCode(elf[n++]);
    if (name === ".text") return Number(dv.getBigUint64(h + 32, true));
  }
  return undefined;
}
