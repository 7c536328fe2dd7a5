// Unit tests of the binaryen adapter: validation, feature set, typed records, pitfalls.
import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { binaryen, constBits, exprInfo, loadModule } from "../../scripts/aot/binaryen-adapter.ts";

const dir = join(process.cwd(), "build/aot/test");
mkdirSync(dir, { recursive: true });
function wat(name: string, text: string, flags: string[] = []): Uint8Array {
  const src = join(dir, name + ".wat"), out = join(dir, name + ".wasm");
  writeFileSync(src, text);
  execFileSync("wat2wasm", [...flags, "--debug-names", src, "-o", out]);
  return new Uint8Array(readFileSync(out));
}

describe("binaryen adapter", () => {
  it("rejects bytes that are not wasm with an Error", () => {
    expect(() => loadModule(new Uint8Array([1, 2, 3]))).toThrow(/magic/);
    expect(() => loadModule(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 5, 1, 0x60]))).toThrow(/invalid or malformed/);
  });
  it("rejects invalid modules (V8 pre-validation) without crashing", () => {
    const bytes = wat("invalid", `(module (func (result i32) (i64.const 1)))`, ["--no-check"]);
    expect(() => loadModule(bytes)).toThrow(/invalid or malformed module/);
  });
  it("rejects unsupported features (SIMD) with a clear message", () => {
    const bytes = wat("simd", `(module (func (export "f") (result v128) (v128.const i32x4 1 2 3 4)))`);
    expect(() => loadModule(bytes)).toThrow(/features|support/);
  });
  it("accepts bulk memory, sign-ext and sat conversions", () => {
    const m = loadModule(wat("feat", `(module (memory 1) (data "xy")
      (func (export "f") (param i32) (result i32)
        (memory.init 0 (i32.const 0) (i32.const 0) (i32.const 1))
        (memory.copy (i32.const 0) (i32.const 1) (i32.const 1))
        (i32.add (i32.extend8_s (local.get 0)) (i32.trunc_sat_f32_s (f32.const 1)))))`));
    try {
      expect(m.data).toHaveLength(1);
      expect(m.data[0].passive).toBe(true);
      expect(Array.from(m.data[0].data)).toEqual([0x78, 0x79]);
      expect(m.exports).toEqual([{ name: "f", kind: "function", value: "f" }].map((x) => ({ ...x, value: m.exports[0].value })));
    } finally { m.dispose(); }
  });
  it("describes functions, imports, globals, memory, tables and start", () => {
    const m = loadModule(wat("desc", `(module (import "hw" "outb" (func $outb (param i32 i32)))
      (memory 2 5) (global $g (mut i64) (i64.const -2)) (table 4 funcref) (elem (i32.const 1) $s)
      (func $s (local f64)) (start $s))`));
    try {
      expect(m.functions.map((f) => [f.name, f.importModule, f.importBase])).toEqual([["outb", "hw", "outb"], ["s", undefined, undefined]]);
      expect(m.functions[0].params).toEqual(["i32", "i32"]);
      expect(m.functions[1].vars).toEqual(["f64"]);
      expect(m.memory).toMatchObject({ initial: 2, max: 5 });
      expect(m.globals[0]).toMatchObject({ name: "g", type: "i64", mutable: true });
      expect(constBits(m.globals[0].init).bits).toBe(0xfffffffffffffffen);
      expect(m.tables[0].initial).toBe(4);
      expect(m.elems[0].funcs).toEqual(["s"]);
      expect(m.start).toBe("s");
    } finally { m.dispose(); }
  });
  it("exprInfo works on Nop and Unreachable", () => {
    const mod = new binaryen.Module();
    expect(exprInfo(mod.nop()).id).toBe(binaryen.NopId);
    expect(exprInfo(mod.unreachable()).id).toBe(binaryen.UnreachableId);
    mod.dispose();
  });
  it("optimizes without dropping traps", () => {
    const m = loadModule(wat("opt", `(module (memory 1) (func (export "f") (drop (i32.load (i32.const 70000)))))`), { optimize: true });
    try {
      const body = m.functions[0].body;
      // the load may trap, so it must survive optimization
      const text = m.mod.emitText();
      expect(body).not.toBe(0);
      expect(text).toMatch(/i32\.load/);
    } finally { m.dispose(); }
  });
});
