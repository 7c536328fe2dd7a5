// Unit tests of local register assignment and the register calling convention: chosen registers, spills, values kept across calls.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { compile, compileToAsm } from "../../scripts/aot/index.ts";
import { parallelMove } from "../../scripts/aot/codegen.ts";
import { argRegs } from "../../scripts/aot/x86.ts";
import { dir, wat2wasm } from "./lib/wat.ts";

/** The assembly of function `name` (unoptimized, so the function is as written). */
function funcAsm(wat: string, name: string): string[] {
  const asm = compileToAsm(wat2wasm("ra_" + name, wat), { target: "linux", optimize: false }).asm.split("\n");
  const sn = asm.findIndex((l) => l.trim() === `.asciz "${name}"`);
  const idx = /^tv_sn_(\d+):/.exec(asm[sn - 1])![1];
  const start = asm.indexOf(`tvf_${idx}:`), end = asm.indexOf(`.Lfe_${idx}:`);
  return asm.slice(start, end);
}

/** main() of the module under V8 and the exit status of its AOT build (unoptimized, as written). */
async function v8AndAot(name: string, wat: string): Promise<{ v8: number; aot: number | null }> {
  const wasm = wat2wasm(name, wat);
  const { instance } = await WebAssembly.instantiate(wasm);
  const exe = join(dir, name);
  await compile(wasm, { target: "linux", out: exe, optimize: false });
  return { v8: (instance.exports.main as () => number)(), aot: spawnSync(exe, []).status };
}

describe("argument registers", () => {
  it("passes the integer suffix of the arguments, at most four, in r8-r11 (last argument in r8)", () => {
    expect(argRegs(["i32", "i64"])).toEqual(["r9", "r8"]);
    expect(argRegs(["i32", "i32", "i32", "i32", "i32", "i32"])).toEqual([null, null, "r11", "r10", "r9", "r8"]);
    expect(argRegs(["i32", "f64", "i32"])).toEqual([null, null, "r8"]);
    expect(argRegs(["f32"])).toEqual([null]);
  });
  it("resolves parallel moves, cycles through rax", () => {
    const lines: string[] = [];
    parallelMove([["r8", "r9"], ["r9", "r8"], ["rbx", "r10"]], (l) => lines.push(l));
    // simulate
    const regs: Record<string, number> = { r8: 1, r9: 2, r10: 3, rbx: 0, rax: 0 };
    for (const l of lines) { const [, d, s] = /mov (\w+), (\w+)/.exec(l)!; regs[d] = regs[s]; }
    expect([regs.r8, regs.r9, regs.rbx]).toEqual([2, 1, 3]);
  });
});

describe("local homes", () => {
  it("keeps a leaf function's register parameters in their arrival registers (no prologue moves)", () => {
    const a = funcAsm(`(module (func $leaf (export "f") (param i32 i32) (result i32) (i32.add (i32.mul (local.get 0) (local.get 1)) (local.get 0))))`, "leaf");
    expect(a.join("\n")).not.toMatch(/\[rbp\+/); // nothing read from the caller's frame
    expect(a.join("\n")).toMatch(/r9d/); // parameter 0 arrives in r9
    expect(a.join("\n")).toMatch(/r8d/);
    expect(a.filter((l) => /^\tmov (r8|r9)/.test(l))).toEqual([]);
  });
  it("gives registers by loop-weighted use and spills the rest to frame slots", () => {
    // $hot is used once, inside a loop; $cold ten times outside: the loop weight (x8) wins.
    const locals = Array.from({ length: 14 }, (_, i) => `(local $v${i} i32)`).join(" ");
    const cold = Array.from({ length: 10 }, () => `(local.set $cold (i32.add (local.get $cold) (i32.const 1)))`).join(" ");
    const uses = Array.from({ length: 14 }, (_, i) => `(local.set $v${i} (i32.add (local.get $v${i}) (local.get $v${i})))`).join(" ");
    const a = funcAsm(`(module (func $f (export "f") (param $n i32) (result i32) (local $hot i32) (local $cold i32) ${locals}
      ${cold} ${uses} ${uses}
      (loop $l (local.set $hot (i32.add (local.get $hot) (local.get $n))) (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (local.set $v0 (i32.add (local.get $v0) (local.get $hot))) (local.set $v1 (i32.add (local.get $v1) (local.get $v0)))
        (br_if $l (local.get $n)))
      (i32.add (local.get $hot) (local.get $cold))))`, "f").join("\n");
    // the loop body touches $hot, $n, $v0, $v1 only through registers
    const loop = a.slice(a.indexOf("\n.L"), a.indexOf("jne"));
    expect(loop).not.toMatch(/\[rbp/);
    // 17 integer locals live at once, 10 registers (2 kept back as temporaries): some live in frame slots
    expect(a).toMatch(/dword ptr \[rbp-\d+\]/);
  });
});

describe("values live across calls", () => {
  // $clobber takes four register arguments and overwrites all of r8-r11; $caller keeps 12
  // values live across calls, so some of them are homed in r8-r11 and must be spilled and
  // reloaded around every call.
  const names = Array.from({ length: 12 }, (_, i) => `$x${i}`);
  const WAT = `(module (import "hw" "outb" (func $outb (param i32 i32)))
    (func $clobber (param i32 i32 i32 i32) (result i32)
      (local.set 0 (i32.mul (local.get 0) (i32.const 1000003))) (local.set 1 (i32.xor (local.get 1) (i32.const -1)))
      (local.set 2 (i32.add (local.get 2) (local.get 0))) (local.set 3 (i32.sub (local.get 3) (local.get 1)))
      (i32.xor (i32.add (local.get 0) (local.get 1)) (i32.add (local.get 2) (local.get 3))))
    (func $caller (export "main") (result i32) ${names.map((n) => `(local ${n} i32)`).join(" ")} (local $acc i32)
      ${names.map((n, i) => `(local.set ${n} (i32.const ${i * 7 + 1}))`).join(" ")}
      ${names.map((n, i) => `(local.set $acc (i32.add (local.get $acc) (call $clobber (local.get ${n}) (local.get ${names[(i + 1) % 12]}) (local.get $acc) (i32.const ${i}))))`).join(" ")}
      ${names.map((n, i) => `(local.set ${n} (i32.add (local.get ${n}) (call $clobber (local.get $acc) (i32.const ${i}) (local.get ${n}) (local.get ${names[(i + 5) % 12]}))))`).join(" ")}
      (i32.and (i32.add (local.get $acc) ${names.reduce((e, n) => `(i32.xor ${e} (local.get ${n}))`, "(i32.const 0)")}) (i32.const 255))))`;
  it("homes some of the caller's values in r8-r11 (what the next test relies on)", () => {
    const a = funcAsm(WAT, "caller").join("\n");
    expect(a).toMatch(/mov qword ptr \[rbp-\d+\], r(8|9|10|11)\n/); // spilled before a call
    expect(a).toMatch(/\tcall tvf_/);
  });
  it("computes what V8 computes (a clobbered live value changes the result)", async () => {
    const wasm = wat2wasm("ra_clobber", WAT);
    const { instance } = await WebAssembly.instantiate(wasm, { hw: { outb: () => {} } });
    const want = (instance.exports.main as () => number)();
    for (const optimize of [false, true]) {
      const exe = join(dir, `ra_clobber${optimize ? "" : "-O0"}`);
      await compile(wasm, { target: "linux", out: exe, optimize });
      expect(spawnSync(exe, []).status).toBe(want);
    }
  });
});

describe("locals zeroed at entry", () => {
  // wasm gives every local 0 at entry; only locals some path reads before writing need it
  const WAT = `(module (func $z (export "main") (param $p i32) (result i32) (local $a i32) (local $b i32) (local $c i32) (local $d i32) (local $e i64)
    (local.set $a (i32.const 5))
    (if (local.get $p) (then (local.set $b (i32.const 7))))
    (block $out
      (br_if $out (i32.eq (local.get $p) (i32.const 3)))
      (local.set $c (i32.const 9)))
    (loop $l (local.set $e (i64.add (local.get $e) (i64.const 1))) (local.set $d (i32.const 1)) (br_if $l (i64.lt_u (local.get $e) (i64.const 3))))
    (i32.add (i32.add (local.get $a) (local.get $b)) (i32.add (i32.add (local.get $c) (local.get $d)) (i32.wrap_i64 (local.get $e))))))`;
  it("zeroes only locals read before written on some path (b: if without else, c: skipped by a branch, e: read in its loop)", () => {
    const a = funcAsm(WAT, "z");
    const prologue = a.slice(0, a.findIndex((l) => /mov eax|mov dword ptr \[rbp-\d+\], 5|, 5$/.test(l)));
    const zeroed = prologue.filter((l) => /^\t(xor (\w+), \2|mov qword ptr \[rbp-\d+\], 0)$/.test(l));
    expect(zeroed.length).toBe(3);
  });
  it("still gives 0 where it is read", async () => {
    const wasm = wat2wasm("ra_zero", WAT);
    for (const p of [0, 3]) {
      const { instance } = await WebAssembly.instantiate(wasm);
      const want = (instance.exports.main as (p: number) => number)(p);
      const exe = join(dir, `ra_zero_${p}`);
      // main takes no argument on the linux target: a wrapper passes p
      const w2 = wat2wasm(`ra_zero_w${p}`, WAT.replace(`(func $z (export "main") (param $p i32)`, `(func (export "main") (result i32) (call $z (i32.const ${p}))) (func $z (param $p i32)`));
      await compile(w2, { target: "linux", out: exe, optimize: false });
      expect(spawnSync(exe, []).status).toBe(want & 255);
    }
  });
});

describe("live intervals (linear scan)", () => {
  it("locals whose lifetimes do not overlap share registers: 14 short-lived locals and no frame slot", async () => {
    // each $vK lives from its set to the next statement; i32 and i64 alternate
    const n = 14;
    const locals = Array.from({ length: n }, (_, k) => `(local $v${k} ${k % 2 ? "i64" : "i32"})`).join(" ");
    const body = Array.from({ length: n }, (_, k) => k % 2
      ? `(local.set $v${k} (i64.mul (i64.extend_i32_u (local.get $p)) (i64.const ${k + 3}))) (local.set $acc (i32.add (local.get $acc) (i32.wrap_i64 (i64.shr_u (local.get $v${k}) (i64.const 1)))))`
      : `(local.set $v${k} (i32.mul (local.get $p) (i32.const ${k + 3}))) (local.set $acc (i32.xor (local.get $acc) (local.get $v${k})))`).join(" ");
    const WAT = `(module (func $f (export "main") (result i32) (call $g (i32.const 77)))
      (func $g (param $p i32) (result i32) (local $acc i32) ${locals} ${body} (i32.and (local.get $acc) (i32.const 255))))`;
    const a = funcAsm(WAT, "g").join("\n");
    expect(a).not.toMatch(/ptr \[rbp-\d+\]/);
    const regs = new Set([...a.matchAll(/\b(rbx|r1[0-4]|rsi|rdi|r8|r9)d?\b/g)].map((m) => m[1]));
    expect(regs.size).toBeLessThanOrEqual(5);
    const r = await v8AndAot("ra_share", WAT);
    expect(r.aot).toBe(r.v8);
  });
  it("a value carried round a loop keeps its register against a local that lives only later in the body", async () => {
    // $c is read at the top of the body and written in the middle; $t lives after that write.
    // Ordered by position alone they would not overlap; round the back edge they do.
    // n = 6: 115 when correct, 160 if $t overwrote $c (checked: other constants collide)
    const WAT = `(module (func (export "main") (result i32) (call $g (i32.const 6)))
      (func $g (param $n i32) (result i32) (local $c i32) (local $t i32) (local $s i32)
        (local.set $c (i32.const 1))
        (loop $l
          (local.set $s (i32.add (local.get $s) (local.get $c)))
          (local.set $c (i32.mul (local.get $c) (i32.const 3)))
          (local.set $t (i32.add (local.get $n) (i32.const 100)))
          (local.set $s (i32.xor (local.get $s) (local.get $t)))
          (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
        (i32.and (local.get $s) (i32.const 255))))`;
    const r = await v8AndAot("ra_loop", WAT);
    expect(r.v8).toBe(115);
    expect(r.aot).toBe(115);
  });
  it("temporaries of a loop body, written before read in every iteration, are not stretched over the loop", async () => {
    // 14 temporaries per iteration, each living from its set to the next statement: live at the
    // loop head only if some path reads them before writing (none does), so they share registers.
    // Stretched over the loop (as for a value carried round it) all 14 would overlap and spill.
    const n = 14;
    const locals = Array.from({ length: n }, (_, k) => `(local $v${k} i32)`).join(" ");
    const body = Array.from({ length: n }, (_, k) =>
      `(local.set $v${k} (i32.mul (local.get $i) (i32.const ${k + 3}))) (local.set $acc (i32.xor (i32.add (local.get $acc) (i32.const ${k})) (local.get $v${k})))`).join(" ");
    const WAT = `(module (func $f (export "main") (result i32) (call $g (i32.const 9)))
      (func $g (param $n i32) (result i32) (local $acc i32) (local $i i32) ${locals}
        (loop $l ${body} (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
        (i32.and (local.get $acc) (i32.const 255))))`;
    const a = funcAsm(WAT, "g").join("\n");
    expect(a).not.toMatch(/ptr \[rbp-\d+\]/);
    const r = await v8AndAot("ra_looptemps", WAT);
    expect(r.aot).toBe(r.v8);
  });
  it("an i32 argument pushed from a frame slot reaches the callee zero-extended (the slot's upper half is stale)", async () => {
    // $dirty leaves all-ones in the stack where $f's frame then lies; $f's $x is stored there as a
    // dword (upper half still ones) and is pushed while the next argument (a call) is evaluated.
    // $h addresses memory through its parameter's register (i32 values are kept zero-extended), so
    // stale upper bits send the load outside linear memory.
    const n = 12;
    const hot = Array.from({ length: n }, (_, k) => `(local $v${k} i32)`).join(" ");
    const use = Array.from({ length: n }, (_, k) => `(local.set $v${k} (i32.add (local.get $v${k}) (local.get $i)))`).join(" ");
    const sum = Array.from({ length: n }, (_, k) => `(local.get $v${k})`).reduce((a, b) => `(i32.add ${a} ${b})`);
    const dl = Array.from({ length: 24 }, (_, k) => `(local $d${k} i64)`).join(" ");
    const dset = Array.from({ length: 24 }, (_, k) => `(local.set $d${k} (i64.const -1))`).join(" ");
    const dsum = Array.from({ length: 24 }, (_, k) => `(local.get $d${k})`).reduce((a, b) => `(i64.add ${a} ${b})`);
    const WAT = `(module (memory 1)
      (func $dirty (result i64) ${dl} ${dset} (call $y) (drop) ${dsum})
      (func $y (result i32) (i32.const 7))
      (func $h (param $p i32) (param $q i32) (result i64) (i64.load (local.get $p)))
      (func $f (result i64) (local $x i32) (local $i i32) ${hot}
        (local.set $x (i32.const 5))
        (loop $l ${use} (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 3))))
        (i64.add (call $h (local.get $x) (call $y)) (i64.extend_i32_u (i32.and ${sum} (i32.const 0)))))
      (func (export "main") (result i32)
        (drop (call $dirty))
        (i32.wrap_i64 (i64.shr_u (call $f) (i64.const 32)))))`;
    const a = funcAsm(WAT, "f").join("\n");
    expect(a).toMatch(/dword ptr \[rbp-\d+\], 5\n/); // $x lives in a frame slot
    const r = await v8AndAot("ra_pushslot", WAT);
    expect(r.v8).toBe(0);
    expect(r.aot).toBe(0);
  });
});
