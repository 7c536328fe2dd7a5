// End-to-end tests of the AOT backend: small .wat programs compiled for linux and run.
import { describe, expect, it } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { compile, compileToAsm } from "../../scripts/aot/index.ts";

const dir = join(process.cwd(), "build/aot/test");
mkdirSync(dir, { recursive: true });

function wat2wasm(name: string, wat: string): Uint8Array {
  const src = join(dir, name + ".wat"), out = join(dir, name + ".wasm");
  writeFileSync(src, wat);
  execFileSync("wat2wasm", ["--enable-all", "--debug-names", src, "-o", out]);
  return new Uint8Array(readFileSync(out));
}

async function run(name: string, wat: string, args: string[] = [], optimize = true) {
  const wasm = wat2wasm(name, wat);
  const exe = join(dir, name + (optimize ? "" : "-O0"));
  await compile(wasm, { target: "linux", out: exe, optimize });
  const r = spawnSync(exe, args, { encoding: "utf8", timeout: 20000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const OUTB = `(import "hw" "outb" (func $outb (param i32 i32)))`;
const main = (body: string, extra = "") => `(module ${OUTB} (memory 1 100) ${extra} (func $main (export "main") (result i32) ${body}))`;

describe("linux target", () => {
  for (const optimize of [true, false]) {
    const sfx = optimize ? "" : " (unoptimized)";
    it("computes i32 arithmetic and exit status" + sfx, async () => {
      const r = await run("arith" + optimize, main(`(i32.add (i32.mul (i32.const 6) (i32.const 7)) (i32.div_s (i32.const -9) (i32.const 2)))`), [], optimize);
      expect(r.status).toBe(38);
    });
    it("writes hw.outb(0xE9) bytes to stdout" + sfx, async () => {
      const r = await run("outb" + optimize, main(`(call $outb (i32.const 0xE9) (i32.const 72)) (call $outb (i32.const 0x80) (i32.const 88)) (call $outb (i32.const 0xE9) (i32.const 105)) (i32.const 0)`), [], optimize);
      expect(r.stdout).toBe("Hi");
      expect(r.status).toBe(0);
    });
  }

  const traps: [string, string, number, string][] = [
    ["unreachable", "(unreachable)", 101, "unreachable"],
    ["div0", "(i32.div_u (i32.const 1) (call $z))", 102, "integer divide by zero"],
    ["ovf", "(i32.div_s (i32.const 0x80000000) (i32.sub (call $z) (i32.const 1)))", 103, "integer overflow"],
    ["conv", "(i32.trunc_f64_s (f64.div (f64.const 0) (f64.convert_i32_s (call $z))))", 104, "invalid conversion to integer"],
    ["oob", "(i32.load (i32.sub (call $z) (i32.const 4)))", 105, "out of bounds memory access"],
    ["stack", "(call $rec (i32.const 0))", 108, "call stack exhausted"],
    ["fill", "(memory.fill (i32.const 65000) (i32.const 0) (i32.const 1000)) (i32.const 0)", 105, "out of bounds memory access"],
  ];
  for (const [name, body, status, msg] of traps) {
    it(`traps: ${msg}`, async () => {
      const extra = `(func $z (result i32) (i32.const 0)) (func $rec (param i32) (result i32) (i32.add (call $rec (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))`;
      const r = await run("trap_" + name, `(module ${OUTB} (memory 1) ${extra} (func $main (export "main") (result i32) (call $outb (i32.const 0xE9) (i32.const 65)) ${body}))`);
      expect(r.status).toBe(status);
      expect(r.stderr).toBe(`wasm trap: ${msg}\n`);
      expect(r.stdout).toBe("A"); // buffered output is flushed before the trap message
    });
  }

  it("hw.arg reads decimal command-line arguments", async () => {
    const wat = `(module (import "hw" "arg" (func $arg (param i32) (result i32)))
      (func (export "main") (result i32) (i32.sub (call $arg (i32.const 0)) (call $arg (i32.const 1)))))`;
    expect((await run("arg", wat, ["50", "-7"])).status).toBe(57);
  });

  it("other hw imports trap with their name", async () => {
    const wat = `(module (import "hw" "rdtsc" (func $t (result i64))) (func (export "main") (result i32) (i32.wrap_i64 (call $t))))`;
    const r = await run("hwtrap", wat);
    expect(r.status).toBe(109);
    expect(r.stderr).toBe("wasm trap: hw.rdtsc is not available on linux\n");
  });

  it("runs i64, br_table, call_indirect, globals, data, start and memory.grow", async () => {
    const wat = `(module ${OUTB}
      (memory 1 3)
      (data (i32.const 100) "\\05\\00\\00\\00")
      (global $g (mut i64) (i64.const 0))
      (table 3 funcref) (elem (i32.const 0) $dbl $inc)
      (type $t (func (param i64) (result i64)))
      (func $dbl (type $t) (i64.shl (local.get 0) (i64.const 1)))
      (func $inc (type $t) (i64.add (local.get 0) (i64.const 1)))
      (func $start (global.set $g (i64.const 0x100000000)))
      (start $start)
      (func $sw (param i32) (result i32)
        (block $c
          (block $b
            (block $a
              (br_table $a $b $c (local.get 0)))
            (return (i32.const 10)))
          (return (i32.const 20)))
        (i32.const 30))
      (func (export "main") (result i32) (local $x i64)
        (local.set $x (call_indirect (type $t) (global.get $g) (i32.const 0)))
        (local.set $x (call_indirect (type $t) (local.get $x) (i32.sub (i32.load (i32.const 100)) (i32.const 4))))
        (if (i64.ne (local.get $x) (i64.const 0x200000001)) (then (unreachable)))
        (if (i32.ne (memory.grow (i32.const 2)) (i32.const 1)) (then (unreachable)))
        (if (i32.ne (memory.grow (i32.const 1)) (i32.const -1)) (then (unreachable)))
        (i32.store (i32.const 196604) (i32.const 7))
        (i32.add (i32.add (call $sw (i32.const 0)) (call $sw (i32.const 1)))
          (i32.add (call $sw (i32.const 7)) (i32.add (i32.load (i32.const 196604)) (i32.wrap_i64 (i64.rem_u (local.get $x) (i64.const 1000))))))))`;
    const r = await run("mixed", wat);
    expect(r.stderr).toBe("");
    // 10+20+30+7 + (0x200000001 % 1000 = 8589934593 % 1000 = 593) = 660 -> & 0xff = 148
    expect(r.status).toBe(660 & 0xff);
  });

  it("keeps evaluation order when the right operand writes a global or local", async () => {
    const wat = `(module (global $g (mut i32) (i32.const 1))
      (func $bump (result i32) (global.set $g (i32.const 100)) (i32.const 2))
      (func (export "main") (result i32) (local $x i32)
        (local.set $x (i32.const 5))
        (i32.add
          (i32.sub (global.get $g) (call $bump))
          (i32.sub (local.get $x) (local.tee $x (i32.const 1))))))`;
    // (1 - 2) + (5 - 1) = 3
    for (const opt of [true, false]) expect((await run("order" + opt, wat, [], opt)).status).toBe(3);
  });

  it("two complex operands: sub keeps its order, stores address through the waiting pointer, loads land in register homes", async () => {
    // Non-optimized too, so binaryen cannot fold the calls away. Exit status 1 means every check held.
    const wat = `(module (memory 1)
      (func $c (param i32) (result i32) (local.get 0))
      (func (export "main") (result i32) (local $a i32) (local $b i64) (local $ok i32)
        (local.set $ok (i32.const 1))
        ;; (100 - 58) with both sides calls: the left waits in a temporary
        (if (i32.ne (i32.sub (call $c (i32.const 100)) (call $c (i32.const 58))) (i32.const 42)) (then (local.set $ok (i32.const 0))))
        (if (i64.ne (i64.sub (i64.extend_i32_u (call $c (i32.const 7))) (i64.extend_i32_u (call $c (i32.const 9)))) (i64.const -2)) (then (local.set $ok (i32.const 0))))
        (if (i32.ne (i32.mul (call $c (i32.const 6)) (call $c (i32.const 7))) (i32.const 42)) (then (local.set $ok (i32.const 0))))
        ;; store with a complex pointer and a complex value
        (i32.store offset=4 (call $c (i32.const 64)) (call $c (i32.const 0xbeef)))
        (if (i32.ne (i32.load (i32.const 68)) (i32.const 0xbeef)) (then (local.set $ok (i32.const 0))))
        ;; loads of every width and sign straight into locals
        (i32.store (i32.const 128) (i32.const 0x80fffffb))
        (local.set $a (i32.load8_s (call $c (i32.const 128))))
        (if (i32.ne (local.get $a) (i32.const -5)) (then (local.set $ok (i32.const 0))))
        (local.set $a (i32.load16_u (call $c (i32.const 128))))
        (if (i32.ne (local.get $a) (i32.const 0xfffb)) (then (local.set $ok (i32.const 0))))
        (local.set $b (i64.load8_s (call $c (i32.const 128))))
        (if (i64.ne (local.get $b) (i64.const -5)) (then (local.set $ok (i32.const 0))))
        (local.set $b (i64.load32_u (call $c (i32.const 128))))
        (if (i64.ne (local.get $b) (i64.const 0x80fffffb)) (then (local.set $ok (i32.const 0))))
        (local.set $b (i64.load32_s (call $c (i32.const 128))))
        (if (i64.ne (local.get $b) (i64.const 0xffffffff80fffffb)) (then (local.set $ok (i32.const 0))))
        (local.get $ok)))`;
    for (const opt of [true, false]) expect((await run("operands" + opt, wat, [], opt)).status).toBe(1);
  });

  it("recognises AssemblyScript's bswap<u32>/bswap<u16> shapes exactly (near misses stay generic)", async () => {
    const sw32 = (m1: string, m2: string) => `(i32.or (i32.rotl (i32.and (local.tee $t (i32.load (i32.const 16))) (i32.const ${m1})) (i32.const 8))
                                                     (i32.rotr (i32.and (local.get $t) (i32.const ${m2})) (i32.const 8)))`;
    const sw16 = (ld: string) => `(i32.and (i32.or (i32.shl (local.tee $t (${ld} (i32.const 16))) (i32.const 8))
                                                   (i32.shr_u (local.get $t) (i32.const 8))) (i32.const 0xffff))`;
    const wat = `(module (memory 1)
      (func (export "main") (result i32) (local $t i32) (local $ok i32)
        (local.set $ok (i32.const 1))
        (i32.store (i32.const 16) (i32.const 0x8812f4a6))
        (if (i32.ne ${sw32("0xff00ff00", "0x00ff00ff")} (i32.const 0xa6f41288)) (then (local.set $ok (i32.const 0))))
        ;; the tee still happened
        (if (i32.ne (local.get $t) (i32.const 0x8812f4a6)) (then (local.set $ok (i32.const 0))))
        ;; masks swapped: not a bswap (rotl(x & 0x00ff00ff) | rotr(x & 0xff00ff00))
        (if (i32.ne ${sw32("0x00ff00ff", "0xff00ff00")} (i32.const 0x1288a6f4)) (then (local.set $ok (i32.const 0))))
        (if (i32.ne ${sw16("i32.load16_u")} (i32.const 0xa6f4)) (then (local.set $ok (i32.const 0))))
        (if (i32.ne (local.get $t) (i32.const 0xf4a6)) (then (local.set $ok (i32.const 0))))
        ;; a signed 16-bit load has upper bits set: x >> 8 brings them in, so this is no bswap
        (if (i32.ne ${sw16("i32.load16_s")} (i32.const 0xfff4)) (then (local.set $ok (i32.const 0))))
        ;; a 32-bit load: bits 16-23 reach the result through x >> 8
        (if (i32.ne ${sw16("i32.load")} (i32.const 0xb6f4)) (then (local.set $ok (i32.const 0))))
        (local.get $ok)))`;
    const asm = compileToAsm(wat2wasm("bswap", wat), { target: "linux", optimize: false }).asm;
    expect(asm.match(/\bbswap eax/g)?.length).toBe(1);
    expect(asm.match(/rol ax, 8/g)?.length).toBe(1);
    expect((await run("bswap", wat, [], false)).status).toBe(1);
  });

  it("short-circuits && and || conditions without evaluating the skipped side", async () => {
    // $t counts calls; && / || written as binaryen's if-expressions
    const wat = `(module (global $n (mut i32) (i32.const 0))
      (func $t (param i32) (result i32) (global.set $n (i32.add (global.get $n) (i32.const 1))) (local.get 0))
      (func (export "main") (result i32) (local $r i32)
        (if (if (result i32) (call $t (i32.const 0)) (then (call $t (i32.const 1))) (else (i32.const 0)))
          (then (local.set $r (i32.const 100))))
        (if (if (result i32) (call $t (i32.const 1)) (then (i32.const 1)) (else (call $t (i32.const 0))))
          (then (local.set $r (i32.add (local.get $r) (i32.const 10)))))
        (block $b (br_if $b (if (result i32) (call $t (i32.const 1)) (then (call $t (i32.const 0))) (else (i32.const 0))))
          (local.set $r (i32.add (local.get $r) (i32.const 1))))
        ;; calls: 1 + 1 + 2 = 4; r = 10 + 1 = 11
        (i32.add (local.get $r) (i32.mul (global.get $n) (i32.const 16)))))`;
    for (const opt of [true, false]) expect((await run("shortcircuit" + opt, wat, [], opt)).status).toBe(11 + 4 * 16);
  });

  it("keeps a local written inside a call argument when it lives in a caller-saved register", async () => {
    const hot = ["a", "b", "c", "d", "e"];
    const uses = hot.map((v) => `(local.set $${v} (i32.add (local.get $${v}) (local.get $i)))`).join(" ");
    const sum = hot.reduce((acc, v) => `(i32.add ${acc} (local.get $${v}))`, "(i32.const 0)");
    const wat = `(module
      (func $id (param i32) (result i32) (local.get 0))
      (func (export "main") (result i32) (local $i i32) ${hot.map((v) => `(local $${v} i32)`).join(" ")} (local $h i32) (local $r i32)
        (loop $l ${uses} (local.set $i (i32.add (local.get $i) (i32.const 1))) (br_if $l (i32.lt_u (local.get $i) (i32.const 3))))
        (local.set $r (call $id (local.tee $h (i32.const 42))))
        (i32.add (i32.add (local.get $h) (local.get $r)) (i32.and ${sum} (i32.const 0)))))`;
    for (const opt of [true, false]) expect((await run("volatile" + opt, wat, [], opt)).status).toBe(84);
  });

  it("call_indirect checks the signature and null entries", async () => {
    const base = (idx: number) => `(module (table 2 funcref) (elem (i32.const 0) $f)
      (func $f (param i32) (result i32) (local.get 0))
      (func (export "main") (result i32) (call_indirect (param i64) (result i32) (i64.const 1) (i32.const ${idx}))))`;
    // unoptimized: binaryen would turn a statically known mismatch into a plain unreachable
    const r1 = await run("ci_sig", base(0), [], false);
    expect(r1.status).toBe(107);
    const r2 = await run("ci_null", base(1), [], false);
    expect(r2.status).toBe(106);
    const r3 = await run("ci_oob", base(5), [], false);
    expect(r3.status).toBe(106);
  });

  it("float ops follow wasm semantics", async () => {
    // Each check contributes a bit; all must hold.
    const checks = [
      `(f64.eq (f64.min (f64.const -0) (f64.const 0)) (f64.const -0))`,
      `(i64.eq (i64.reinterpret_f64 (f64.min (f64.const 0) (f64.const -0))) (i64.const 0x8000000000000000))`,
      `(f64.ne (f64.max (f64.const nan) (f64.const 1)) (f64.max (f64.const nan) (f64.const 1)))`,
      `(f32.eq (f32.nearest (f32.const 2.5)) (f32.const 2))`,
      `(f64.eq (f64.copysign (f64.const 3) (f64.const -1)) (f64.const -3))`,
      `(i32.eq (i32.trunc_sat_f64_s (f64.const 1e20)) (i32.const 0x7fffffff))`,
      `(i32.eq (i32.trunc_sat_f32_u (f32.const -5)) (i32.const 0))`,
      `(i64.eq (i64.trunc_f64_u (f64.const 1.8446744073709550e19)) (i64.const 0xfffffffffffff800))`,
      `(f64.eq (f64.convert_i64_u (i64.const -1)) (f64.const 1.8446744073709552e19))`,
      `(f32.eq (f32.convert_i64_u (i64.const 0x8000008000000001)) (f32.const 0x1.000002p+63))`,
      `(i32.eq (i32.trunc_f32_s (f32.const -2147483648)) (i32.const 0x80000000))`,
      `(f32.lt (f32.const 1) (f32.const 2))`,
      `(i32.eq (i32.reinterpret_f32 (f32.const nan:0x200000)) (i32.const 0x7fa00000))`,
      `(i64.eq (i64.reinterpret_f64 (f64.neg (f64.const nan:0x4000000000001))) (i64.const 0xfff4000000000001))`,
      `(i32.eqz (f64.gt (f64.const nan) (f64.const 2)))`,
    ];
    const body = checks.map((c, i) => `(if (i32.eqz ${c}) (then (call $outb (i32.const 0xE9) (i32.const ${65 + i}))))`).join("\n");
    for (const opt of [true, false]) {
      const r = await run("floats" + opt, main(body + " (i32.const 0)"), [], opt);
      expect(r.stdout).toBe("");
      expect(r.status).toBe(0);
    }
  });

  it("inlines memory.copy/fill of constant sizes <= 64 as memmove/memset, bounds-checked before writing", async () => {
    const sizes = [0, 1, 2, 3, 7, 8, 9, 15, 16, 24, 31, 64];
    // For every size and every dest/src in [0, 24) (overlapping both ways): reset [0, 128) to a
    // pattern, copy inline, build the expected bytes at 1024 by a byte loop through a buffer at
    // 2048, compare; same for fill with the value 0x1a5 (only its low byte counts).
    const one = (n: number) => `
        (local.set $d (i32.const 0))
        (loop $ld
          (local.set $s (i32.const 0))
          (loop $ls
            (call $reset)
            (memory.copy (local.get $d) (local.get $s) (i32.const ${n}))
            (local.set $i (i32.const 0))
            (loop $c1 (if (i32.lt_u (local.get $i) (i32.const ${n})) (then
              (i32.store8 (i32.add (i32.const 2048) (local.get $i)) (i32.load8_u (i32.add (i32.const 1024) (i32.add (local.get $s) (local.get $i)))))
              (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $c1))))
            (local.set $i (i32.const 0))
            (loop $c2 (if (i32.lt_u (local.get $i) (i32.const ${n})) (then
              (i32.store8 (i32.add (i32.const 1024) (i32.add (local.get $d) (local.get $i))) (i32.load8_u (i32.add (i32.const 2048) (local.get $i))))
              (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $c2))))
            (call $compare)
            (call $reset)
            (memory.fill (local.get $d) (i32.const 0x1a5) (i32.const ${n}))
            (local.set $i (i32.const 0))
            (loop $c3 (if (i32.lt_u (local.get $i) (i32.const ${n})) (then
              (i32.store8 (i32.add (i32.const 1024) (i32.add (local.get $d) (local.get $i))) (i32.const 0xa5))
              (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $c3))))
            (call $compare)
            (local.set $s (i32.add (local.get $s) (i32.const 1)))
            (br_if $ls (i32.lt_u (local.get $s) (i32.const 24))))
          (local.set $d (i32.add (local.get $d) (i32.const 1)))
          (br_if $ld (i32.lt_u (local.get $d) (i32.const 24))))`;
    const wat = `(module (memory 1) (global $ok (mut i32) (i32.const 1))
      (func $reset (local $i i32)
        (loop $l (i32.store8 (local.get $i) (i32.add (i32.mul (local.get $i) (i32.const 7)) (i32.const 3)))
          (i32.store8 (i32.add (i32.const 1024) (local.get $i)) (i32.add (i32.mul (local.get $i) (i32.const 7)) (i32.const 3)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $i) (i32.const 128)))))
      (func $compare (local $i i32)
        (loop $l (if (i32.ne (i32.load8_u (local.get $i)) (i32.load8_u (i32.add (i32.const 1024) (local.get $i)))) (then (global.set $ok (i32.const 0))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $i) (i32.const 128)))))
      (func (export "main") (result i32) (local $d i32) (local $s i32) (local $i i32)
        ${sizes.map(one).join("")}
        (global.get $ok)))`;
    const asm = compileToAsm(wat2wasm("smallbulk", wat), { target: "linux", optimize: false }).asm;
    expect(asm).not.toMatch(/call tv_rt_memory_(copy|fill)/);
    expect((await run("smallbulk", wat, [], false)).status).toBe(1);

    // Bounds: both ranges are checked (exact edge included) before the first store.
    const edge = (body: string) => `(module (memory 1) (func (export "main") (result i32) ${body} (i32.const 1)))`;
    const cases: [string, number][] = [
      ["(memory.copy (i32.const 65512) (i32.const 0) (i32.const 24))", 1],
      ["(memory.copy (i32.const 65513) (i32.const 0) (i32.const 24))", 105],
      ["(memory.copy (i32.const 0) (i32.const 65513) (i32.const 24))", 105],
      ["(memory.copy (i32.const 0) (i32.const -1) (i32.const 24))", 105],
      ["(memory.copy (i32.const 65536) (i32.const 65536) (i32.const 0))", 1],
      ["(memory.copy (i32.const 65537) (i32.const 0) (i32.const 0))", 105],
      ["(memory.fill (i32.const 65472) (i32.const 1) (i32.const 64))", 1],
      ["(memory.fill (i32.const 65473) (i32.const 1) (i32.const 64))", 105],
      ["(memory.fill (i32.const -8) (i32.const 1) (i32.const 8))", 105],
    ];
    for (const [i, [body, status]] of cases.entries()) expect((await run("smallbulk_edge" + i, edge(body), [], false)).status).toBe(status);
    const a = compileToAsm(wat2wasm("smallbulk_order", edge("(memory.copy (local.get 0) (i32.const 8) (i32.const 24))").replace("(result i32)", "(param i32) (result i32)").replace('(export "main") ', "")), { target: "linux", optimize: false }).asm;
    const lastCheck = a.lastIndexOf("jg .Ltrap5"), firstStore = a.search(/mov qword ptr \[r15\+rcx/);
    expect(lastCheck).toBeGreaterThan(0);
    expect(firstStore).toBeGreaterThan(lastCheck);
  });

  it("memory.copy handles overlap and memory.init/data.drop", async () => {
    const wat = main(`
      (memory.init 0 (i32.const 10) (i32.const 0) (i32.const 5))
      (memory.copy (i32.const 11) (i32.const 10) (i32.const 5))
      (data.drop 0)
      (call $outb (i32.const 0xE9) (i32.load8_u (i32.const 10)))
      (call $outb (i32.const 0xE9) (i32.load8_u (i32.const 11)))
      (call $outb (i32.const 0xE9) (i32.load8_u (i32.const 15)))
      (memory.init 0 (i32.const 10) (i32.const 0) (i32.const 1))
      (i32.const 0)`, `(data "abcde")`);
    const r = await run("bulk", wat);
    expect(r.stdout).toBe("aae");
    expect(r.status).toBe(105);
  });
});

describe("baremetal target", () => {
  it("rejects floats naming the function", () => {
    const wasm = wat2wasm("bm_float", `(module (func $uses_float (export "f") (param f64) (result f64) (f64.add (local.get 0) (local.get 0))))`);
    expect(() => compileToAsm(wasm, { target: "baremetal", optimize: false })).toThrow(/uses_float.*f64/);
  });
  it("emits the ABI symbols and links against externs", async () => {
    const wasm = wat2wasm("bm", `(module (import "hw" "outb" (func $outb (param i32 i32))) (import "hw" "vmx_run" (func $run (param i64) (result i32)))
      (import "hw" "cpuid" (func $cpuid (param i32 i32 i32))) (memory 2)
      (func (export "main") (call $outb (i32.const 0x3f8) (i32.const 65)) (call $cpuid (i32.const 0) (i32.const 0) (i32.const 16)) (drop (call $run (i64.const 5))) (drop (memory.grow (i32.const 1)))))`);
    const out = join(dir, "bm.o");
    await compile(wasm, { target: "baremetal", out });
    const syms = execFileSync("nm", [out], { encoding: "utf8" });
    for (const s of ["T wasm_init", "T wasm_export_main", "R wasm_memory_initial_pages", "R wasm_memory_max_pages", "R tv_symtab", "R tv_symtab_count", "U tv_trap", "U tv_memory_grow", "U tv_stack_limit", "U hw_vmx_run"])
      expect(syms).toContain(s);
    const asm = compileToAsm(wasm, { target: "baremetal" }).asm;
    expect(asm).toMatch(/out dx, al/);
    expect(asm).toMatch(/cpuid/);
  });
});
