// Tests of linked groups (scripts/aot/link.ts, compileGroup): modules sharing a memory, a table and a global in one executable.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { compileGroup, type GroupMember } from "../../scripts/aot/index.ts";
import type { Resolution } from "../../scripts/aot/link.ts";
import { dir, wat2wasm } from "./lib/wat.ts";

// A owns a memory, a table and a mutable global; B imports all three and writes into them at
// instantiation; C has a memory of its own and puts a function reading it into A's table.
const A = `(module
  (type $v (func (result i32)))
  (memory (export "mem") 1 4)
  (table (export "tab") 4 funcref)
  (global (export "g") (mut i32) (i32.const 7))
  (data (i32.const 0) "\\01")
  (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (func (export "call") (param i32) (result i32) (call_indirect (type $v) (local.get 0)))
  (func (export "size") (result i32) (memory.size)))`;
const B = `(module
  (import "A" "mem" (memory 1))
  (import "A" "tab" (table 4 funcref))
  (import "A" "g" (global $g (mut i32)))
  (elem (i32.const 1) $seven)
  (data (i32.const 1) "\\2a")
  (func $seven (result i32) (i32.const 65))
  (func (export "setg") (param i32) (global.set $g (local.get 0)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))`;
const C = `(module
  (import "A" "tab" (table 1 funcref))
  (import "A" "load" (func $aload (param i32) (result i32)))
  (memory 1)
  (data (i32.const 0) "\\63")
  (elem (i32.const 2) $own)
  (func $own (result i32) (i32.load8_u (i32.const 0)))
  (func (export "both") (result i32) (i32.add (i32.load8_u (i32.const 0)) (call $aload (i32.const 0)))))`;
const DRIVER = `(module
  (import "hw" "outb" (func $outb (param i32 i32)))
  (import "hw" "arg" (func $arg (param i32) (result i32)))
  (import "tv_init" "0" (func $i0)) (import "tv_init" "1" (func $i1)) (import "tv_init" "2" (func $i2))
  (import "A" "load" (func $load (param i32) (result i32)))
  (import "A" "call" (func $call (param i32) (result i32)))
  (import "A" "size" (func $size (result i32)))
  (import "A" "g" (global $g (mut i32)))
  (import "B" "setg" (func $setg (param i32)))
  (import "B" "grow" (func $grow (param i32) (result i32)))
  (import "C" "both" (func $both (result i32)))
  (func $p (param i32) (call $outb (i32.const 0xE9) (local.get 0)))
  (func (export "main") (result i32)
    (call $i0) (call $i1) (call $i2)
    (call $p (i32.add (i32.const 48) (call $load (i32.const 1))))
    (call $p (call $call (i32.const 1)))
    (call $p (i32.add (global.get $g) (i32.const 59)))
    (call $setg (i32.const 66))
    (call $p (global.get $g))
    (call $p (call $both))
    (call $p (call $call (i32.const 2)))
    (call $p (i32.add (i32.const 48) (call $grow (i32.const 2))))
    (call $p (i32.add (i32.const 48) (call $size)))
    (if (call $arg (i32.const 0)) (then (drop (call $call (i32.const 3)))))
    (i32.const 0)))`;

const NAMES = ["A", "B", "C"];
function member(name: string, wat: string): GroupMember {
  return {
    wasm: wat2wasm(`group-${name}`, wat),
    resolve(module: string, field: string): Resolution | undefined {
      if (module === "tv_init") return { init: Number(field) };
      const k = NAMES.indexOf(module);
      return k >= 0 ? { member: k, field } : undefined;
    },
  };
}

async function build(name: string, members: GroupMember[]) {
  const exe = join(dir, name);
  await compileGroup(members, { out: exe, main: members.length - 1 });
  return (arg = "0") => spawnSync(exe, [arg], { encoding: "latin1", timeout: 20000 });
}

describe("linked group (compileGroup)", () => {
  it("shares memory, table and global; calls switch to the callee's memory", async () => {
    const run = await build("group-abc", [member("A", A), member("B", B), member("C", C), member("D", DRIVER)]);
    const r = run();
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    // Z: B's data in A's memory; A: B's function from A's table; B: A's global 7 seen, then set
    // by B; d: C's memory (0x63) + A's (1); c: C's function through A's table reads C's memory;
    // 1, 3: B grew A's memory from 1 page to 3
    expect(r.stdout).toBe("ZABBdc13");
  });

  it("a trap in another member's function reports its code", async () => {
    const run = await build("group-abc", [member("A", A), member("B", B), member("C", C), member("D", DRIVER)]);
    const r = run("1");
    expect(r.stdout).toBe("ZABBdc13");
    // ABI.md code 6: a null entry (uninitialized) and an index past the size share it
    expect(r.stderr).toMatch(/wasm trap: undefined element/);
    expect(r.status).toBe(106);
  });

  it("arguments on the stack and in registers, float and multi-value results cross members", async () => {
    const callee = `(module
      (func (export "mix") (param i32 f64 i64 f32 i32 i32 i32 i32) (result f64)
        (f64.add (f64.add (local.get 1) (f64.promote_f32 (local.get 3)))
          (f64.convert_i64_s (i64.add (local.get 2) (i64.extend_i32_s (i32.add (i32.add (local.get 0) (local.get 4))
            (i32.add (local.get 5) (i32.mul (local.get 6) (local.get 7)))))))))
      (func (export "two") (param i32) (result i32 i32) (i32.add (local.get 0) (i32.const 1)) (i32.add (local.get 0) (i32.const 2))))`;
    const driver = `(module
      (import "hw" "outb" (func $outb (param i32 i32)))
      (import "tv_init" "0" (func $i0))
      (import "A" "mix" (func $mix (param i32 f64 i64 f32 i32 i32 i32 i32) (result f64)))
      (import "A" "two" (func $two (param i32) (result i32 i32)))
      (func $p (param i32) (call $outb (i32.const 0xE9) (local.get 0)))
      (func (export "main") (result i32) (local $a i32) (local $b i32)
        (call $i0)
        ;; 0.5 + 0.25 + (10 + 1 + 2 + 3 + 4 * 5) = 36.75 -> 36 and 75
        (call $p (i32.trunc_f64_s (call $mix (i32.const 1) (f64.const 0.5) (i64.const 10) (f32.const 0.25)
          (i32.const 2) (i32.const 3) (i32.const 4) (i32.const 5))))
        (call $p (i32.trunc_f64_s (f64.mul (f64.const 100) (f64.sub (call $mix (i32.const 1) (f64.const 0.5) (i64.const 10)
          (f32.const 0.25) (i32.const 2) (i32.const 3) (i32.const 4) (i32.const 5)) (f64.const 36)))))
        (call $two (i32.const 64)) (local.set $b) (local.set $a)
        (call $p (local.get $a)) (call $p (local.get $b))
        (i32.const 0)))`;
    const run = await build("group-args", [member("A", callee), member("D", driver)]);
    const r = run();
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("\x24\x4bAB");
  });

  it("an import no member provides is a compile error", async () => {
    const bad = { ...member("B", B), resolve: () => undefined };
    await expect(build("group-bad", [member("A", A), bad, member("D", DRIVER)])).rejects.toThrow(/not resolved in the linked group/);
  });
});
