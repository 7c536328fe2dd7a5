// Tests of table instructions, reference types and multi-value on the linux target, and of the binary pre-pass (wasm-rewrite.ts).
import { describe, expect, it } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { compile } from "../../scripts/aot/index.ts";
import { INTERNAL_MODULE, rewriteTableOps } from "../../scripts/aot/wasm-rewrite.ts";

const dir = join(process.cwd(), "build/aot/test");
mkdirSync(dir, { recursive: true });

function wat2wasm(name: string, wat: string): Uint8Array {
  const src = join(dir, name + ".wat"), out = join(dir, name + ".wasm");
  writeFileSync(src, wat);
  execFileSync("wat2wasm", [src, "-o", out]); // wabt 1.0.32 defaults: reference types, multi-value, bulk memory
  return new Uint8Array(readFileSync(out));
}

async function run(name: string, wat: string, optimize = true) {
  const exe = join(dir, name + (optimize ? "" : "-O0"));
  await compile(wat2wasm(name, wat), { target: "linux", out: exe, optimize });
  const r = spawnSync(exe, [], { encoding: "utf8", timeout: 20000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const OUT = `(import "hw" "outb" (func $outb (param i32 i32)))
  (func $o (param i32) (call $outb (i32.const 0xE9) (local.get 0)))`;

const TABLE_OPS = `(module ${OUT}
  (type $v (func (result i32)))
  (table $t0 4 10 funcref)
  (table $t1 4 funcref)
  (elem $p funcref (ref.func $a) (ref.func $b) (ref.null func))
  (elem (table $t0) (i32.const 0) func $b)
  (func $a (result i32) (i32.const 65))
  (func $b (result i32) (i32.const 66))
  (func (export "main") (result i32)
    (table.init $t1 $p (i32.const 1) (i32.const 0) (i32.const 2))   ;; t1 = [_, a, b, _]
    (table.copy $t0 $t1 (i32.const 2) (i32.const 1) (i32.const 2))  ;; t0 = [b, _, a, b]
    (call $o (call_indirect $t0 (type $v) (i32.const 0)))
    (call $o (call_indirect $t1 (type $v) (i32.const 1)))
    (call $o (call_indirect $t0 (type $v) (i32.const 3)))
    (call $o (i32.add (i32.const 48) (table.grow $t0 (ref.func $a) (i32.const 3))))
    (call $o (i32.add (i32.const 48) (table.size $t0)))
    (call $o (call_indirect $t0 (type $v) (i32.const 6)))
    (call $o (i32.add (i32.const 48) (table.grow $t0 (ref.null func) (i32.const 4))))
    (table.fill $t0 (i32.const 0) (ref.null func) (i32.const 2))
    (call $o (i32.add (i32.const 48) (ref.is_null (table.get $t0 (i32.const 1)))))
    (table.set $t0 (i32.const 1) (table.get $t1 (i32.const 2)))
    (call $o (call_indirect $t0 (type $v) (i32.const 1)))
    (elem.drop $p)
    (table.init $t1 $p (i32.const 1) (i32.const 0) (i32.const 1))
    (i32.const 0)))`;

describe("binary pre-pass", () => {
  it("turns table.init/table.copy/elem.drop/table.fill into calls of new imports and renumbers functions", () => {
    const wasm = wat2wasm("rw_ops", TABLE_OPS);
    const rw = rewriteTableOps(wasm);
    expect(rw.rewritten).toBe(true);
    expect(WebAssembly.validate(rw.bytes)).toBe(true);
    const imports = WebAssembly.Module.imports(new WebAssembly.Module(rw.bytes));
    expect(imports.map((i) => `${i.module}.${i.name}`)).toEqual([
      "hw.outb", `${INTERNAL_MODULE}.table.init:0:1`, `${INTERNAL_MODULE}.table.copy:0:1`,
      `${INTERNAL_MODULE}.table.fill:0`, `${INTERNAL_MODULE}.elem.drop:0`,
    ]);
    const text = execFileSync("wasm2wat", ["-"], { input: rw.bytes, encoding: "utf8" }).replace(/\s+/g, " ");
    // $o was function 1, now 5; $a/$b (2, 3) are 6, 7 in the element segments
    expect(text).toContain("call 5");
    const code = text.replace(/"[^"]*"/g, '""'); // import names mention the ops
    for (const op of ["table.init", "table.copy", "table.fill", "elem.drop"]) expect(code).not.toContain(op);
    expect(text).toMatch(/\(elem \(;0;\) funcref \(ref\.func 6\) \(ref\.func 7\) \(ref\.null func\)\)/);
    expect(rw.elems.map((e) => e.mode)).toEqual(["passive", "active"]);
    expect(rw.elems[0].items).toEqual([{ func: 6 }, { func: 7 }, { null: true }]);
  });
  it("leaves a module without those instructions byte for byte alone", () => {
    const wasm = wat2wasm("rw_none", `(module (table 2 funcref) (func $f) (elem (i32.const 0) $f) (func (export "g") (call $f)))`);
    const rw = rewriteTableOps(wasm);
    expect(rw.rewritten).toBe(false);
    expect(rw.bytes).toBe(wasm);
  });
});

describe("tables and references", () => {
  for (const optimize of [true, false]) {
    it(`table.init/copy/fill/grow/get/set/size and elem.drop${optimize ? "" : " (unoptimized)"}`, async () => {
      const r = await run("tables" + optimize, TABLE_OPS, optimize);
      expect(r.stdout).toBe("BAB47A/1B"); // "/" = 48 - 1: growing past the maximum fails
      expect(r.stderr).toBe("wasm trap: out of bounds table access\n");
      expect(r.status).toBe(109);
    });
  }
  it("keeps a type-mismatch trap for a table entry no call_indirect type matches (optimizer)", async () => {
    const r = await run("ci_unused_type", `(module (type $ii (func (param i32) (result i32))) (table 4 funcref)
      (elem (i32.const 0) $f) (elem (i32.const 3) $z)
      (func $f (type $ii) (local.get 0)) (func $z)
      (func (export "main") (result i32) (call_indirect (type $ii) (i32.const 7) (i32.const 3))))`);
    expect(r.stderr).toBe("wasm trap: indirect call type mismatch\n");
  });
  it("passes externref values through locals, globals, tables and select", async () => {
    const r = await run("externref", `(module
      (import "hw" "ref_extern" (func $ext (param i32) (result externref)))
      (import "hw" "ref_bits" (func $bits (param externref) (result i64)))
      ${OUT}
      (table $t 2 externref) (global $g (mut externref) (ref.null extern))
      (func $pick (param externref externref i32) (result externref) (select (result externref) (local.get 0) (local.get 1) (local.get 2)))
      (func (export "main") (result i32) (local $x externref)
        (local.set $x (call $ext (i32.const 41)))
        (table.set $t (i32.const 1) (local.get $x))
        (global.set $g (call $pick (ref.null extern) (table.get $t (i32.const 1)) (i32.const 0)))
        (call $o (i32.add (i32.const 48) (ref.is_null (table.get $t (i32.const 0)))))
        (call $o (i32.wrap_i64 (i64.add (i64.const 22) (call $bits (global.get $g)))))
        (i32.const 0)))`);
    // extern 41 is represented as 42 (0 is null): 22 + 42 = 64 = '@'
    expect(r.stdout).toBe("1@");
    expect(r.status).toBe(0);
  });
});

describe("multi-value", () => {
  const MV = `(module ${OUT}
    (func $three (param i32) (result i32 i64 f64) (local.get 0) (i64.extend_i32_u (i32.mul (local.get 0) (i32.const 2))) (f64.const 2.5))
    (func $swap (param i32 i32) (result i32 i32) (local.get 1) (local.get 0))
    (func $sum (param i32 i64 f64) (result i32)
      (i32.add (i32.add (local.get 0) (i32.wrap_i64 (local.get 1))) (i32.trunc_f64_s (f64.mul (local.get 2) (f64.const 2)))))
    ;; br_if carries two values while its condition calls a function returning two other values
    (func $brif (param i32) (result i32 i32)
      (block $b (result i32 i32)
        (br_if $b (i32.const 70) (i32.const 71) (i32.eqz (i32.sub (call $swap (local.get 0) (i32.const 1)))))
        (drop) (drop) (i32.const 80) (i32.const 81)))
    (func (export "main") (result i32)
      (call $o (call $sum (call $three (i32.const 20))))          ;; 20 + 40 + 5 = 65
      (call $swap (i32.const 66) (i32.const 67)) (call $o) (call $o) ;; B then C
      (call $brif (i32.const 1)) (drop) (call $o)                  ;; taken: F
      (call $brif (i32.const 5)) (call $o) (drop)                  ;; not taken: Q
      (i32.const 0)))`;
  for (const optimize of [true, false]) {
    it(`returns, passes and branches with several values${optimize ? "" : " (unoptimized)"}`, async () => {
      const r = await run("multivalue" + optimize, MV, optimize);
      expect(r.stdout).toBe("ABCFQ");
      expect(r.status).toBe(0);
    });
  }
});
