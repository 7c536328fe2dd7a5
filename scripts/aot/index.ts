// Public API of the AOT compiler: WebAssembly bytes -> linux ELF or baremetal object.
import { execFile } from "node:child_process";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { promisify } from "node:util";
import { loadModule } from "./binaryen-adapter.ts";
import { emitModule } from "./module.ts";
import { getTarget, linuxTarget, type TargetName } from "./target.ts";
import { emitGroupMain, emitMember, pubSym, type Resolution } from "./link.ts";

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

/** One module of a linked group and how its imports are bound (link.ts). */
export interface GroupMember {
  wasm: Uint8Array;
  /** import (module, field) -> the member and export it is bound to; undefined for hw.* */
  resolve(module: string, field: string): Resolution | undefined;
}

/**
 * Compile a linked group into one linux executable: one object per member (link.ts), plus the
 * runtime, whose main is member `main`'s export "main". Members are instantiated when the
 * driver calls their init imports, not at start-up.
 */
export async function compileGroup(members: GroupMember[], opts: { out: string; main: number; optimize?: boolean; keepAsm?: boolean }): Promise<void> {
  if (!members[opts.main]) throw new Error(`compileGroup: no member ${opts.main}`);
  const sigIds = new Map<string, number>();
  const maxTuple = { n: 0 };
  const asms: string[] = members.map((mem, k) => {
    const m = loadModule(mem.wasm, { optimize: opts.optimize ?? true });
    try {
      return emitMember(m, linuxTarget, { member: k, resolve: mem.resolve, sigIds, maxTuple });
    } catch (e: any) {
      throw new Error(`member ${k}: ${e?.message ?? e}`);
    } finally {
      m.dispose();
    }
  });
  asms.push(emitGroupMain(pubSym(opts.main, "f", "main"), maxTuple.n, members.length));
  await mkdir(dirname(opts.out) || ".", { recursive: true });
  const objs: string[] = [];
  try {
    for (let k = 0; k < asms.length; k++) {
      const asmPath = `${opts.out}.${k}.s`;
      const obj = `${opts.out}.${k}.o`;
      await writeFile(asmPath, asms[k]);
      try {
        await run("as", ["--64", "-o", obj, asmPath], { maxBuffer: 64 << 20 });
      } catch (e: any) {
        throw new Error(`assembler failed (member ${k}): ${String(e.stderr ?? e.message).split("\n").slice(0, 20).join("\n")}`);
      }
      objs.push(obj);
      if (!opts.keepAsm) await rm(asmPath, { force: true });
    }
    try {
      await run("ld", ["-static", "-nostdlib", "--no-dynamic-linker", "-o", opts.out, ...objs], { maxBuffer: 64 << 20 });
    } catch (e: any) {
      throw new Error(`linker failed: ${String(e.stderr ?? e.message).slice(0, 2000)}`);
    }
  } finally {
    for (const o of objs) await rm(o, { force: true });
  }
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
