// Instruction selection (issue 15): each shape is checked twice, by the instructions chosen for
// it and by running it on values that tell the right result from the plausible wrong ones.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { compile, compileToAsm } from "../../scripts/aot/index.ts";
import { computeInPlace, dropDeadRax, dropReloads, foldConstTests, peephole } from "../../scripts/aot/codegen.ts";
import { dir, wat2wasm } from "./lib/wat.ts";

/** The body of function `name` as emitted (unoptimized, so the function is as written). */
function funcAsm(file: string, wat: string, name: string): string[] {
  const asm = compileToAsm(wat2wasm(file, wat), { target: "linux", optimize: false }).asm.split("\n");
  const sn = asm.findIndex((l) => l.trim() === `.asciz "${name}"`);
  const idx = /^tv_sn_(\d+):/.exec(asm[sn - 1])![1];
  return asm.slice(asm.indexOf(`tvf_${idx}:`), asm.indexOf(`.Lfe_${idx}:`));
}

/** Runs `main` of the module (unoptimized) with the arguments; its result is the exit status. */
async function status(file: string, wat: string, args: number[]): Promise<number | null> {
  const exe = join(dir, file);
  await compile(wat2wasm(file, wat), { target: "linux", out: exe, optimize: false });
  return spawnSync(exe, args.map(String), { timeout: 20000 }).status;
}

const ARG = `(import "hw" "arg" (func $arg (param i32) (result i32)))`;
/** A module with function $f (under test) and a main that calls it with hw.arg(0..n-1). */
function mod(f: string, nargs: number): string {
  const args = Array.from({ length: nargs }, (_, i) => `(call $arg (i32.const ${i}))`).join(" ");
  return `(module ${ARG} (memory 1) ${f} (func $main (export "main") (result i32) (i32.and (call $f ${args}) (i32.const 255))))`;
}

describe("instruction selection", () => {
  it("add(x, y << k) is one lea, the complex operand evaluated first as written", async () => {
    // $f(p, i) = load(p) + (i << 2); memory[0..4) = 5
    const f = `(func $f (param $p i32) (param $i i32) (result i32) (i32.add (i32.load (local.get $p)) (i32.shl (local.get $i) (i32.const 2))))`;
    const a = funcAsm("isel_lea", mod(f, 2), "f").join("\n");
    expect(a).toMatch(/\tlea eax, \[r\w+\+r\w+\*4\]/);
    expect(a).not.toMatch(/\tshl/);
    const m = mod(f, 2).replace("(memory 1)", `(memory 1) (data (i32.const 0) "\\05")`);
    expect(await status("isel_lea", m, [0, 10])).toBe(45);
    // the index operand writes the base local: the base must be read before it changes
    const g = `(func $f (param $a i32) (param $b i32) (result i32) (i32.add (local.get $a) (i32.shl (local.tee $a (i32.add (local.get $b) (i32.const 1))) (i32.const 3))))`;
    expect(await status("isel_lea_order", mod(g, 2), [3, 4])).toBe(3 + 5 * 8);
    // both sides complex: base waits in a temporary
    const h = `(func $f (param $a i32) (param $b i32) (result i32) (i32.add (i32.mul (local.get $a) (local.get $a)) (i32.shl (i32.sub (local.get $b) (local.get $a)) (i32.const 1))))`;
    expect(await status("isel_lea_both", mod(h, 2), [5, 9])).toBe(25 + 8);
  });

  it("select with a compare of operands is cmp + cmov, no setcc or value shuffling", async () => {
    const f = `(func $f (param $x i32) (param $y i32) (result i32) (select (i32.const 64) (i32.sub (local.get $y) (local.get $x)) (i32.lt_s (local.get $x) (i32.const 10))))`;
    const a = funcAsm("isel_sel", mod(f, 2), "f");
    const body = a.filter((l) => /^\t/.test(l)).map((l) => l.trim());
    expect(body.join("\n")).toMatch(/cmp r\w+, 10\n\s*cmovl eax, ecx/);
    expect(body.join("\n")).not.toMatch(/^set|^push rax|^mov r\w+, rax/m);
    expect(await status("isel_sel", mod(f, 2), [3, 100])).toBe(64);
    expect(await status("isel_sel", mod(f, 2), [20, 100])).toBe(80);
    // register arm read after the other arm is evaluated, unless that arm writes it
    const g = `(func $f (param $x i32) (param $y i32) (result i32) (select (local.get $x) (local.tee $x (i32.const 7)) (local.get $y)))`;
    expect(await status("isel_sel2", mod(g, 2), [3, 1])).toBe(3);
    expect(await status("isel_sel2", mod(g, 2), [3, 0])).toBe(7);
  });

  it("or/and of comparisons in a branch: setcc into bytes when the right side may trap, a branch chain when it is pure", async () => {
    // right side loads (may trap): both sides evaluated, combined as bytes
    const f = `(func $f (param $x i32) (param $y i32) (result i32)
      (if (i32.or (i32.eqz (local.get $x)) (i32.eq (i32.load (i32.const 0)) (local.get $y))) (then (return (i32.const 1))))
      (i32.const 2))`;
    const a = funcAsm("isel_or", mod(f, 2), "f").join("\n");
    expect(a).toMatch(/\tor al, \w+/);
    expect(a).not.toMatch(/movzx eax, al/);
    const m = mod(f, 2).replace("(memory 1)", `(memory 1) (data (i32.const 0) "\\07")`);
    expect(await status("isel_or", m, [0, 1])).toBe(1);
    expect(await status("isel_or", m, [5, 7])).toBe(1);
    expect(await status("isel_or", m, [5, 6])).toBe(2);
    // pure right side: no materialized booleans at all
    const g = `(func $f (param $x i32) (param $y i32) (result i32)
      (if (i32.and (i32.gt_s (local.get $x) (i32.const 3)) (i32.lt_u (local.get $y) (i32.const 9))) (then (return (i32.const 1))))
      (i32.const 2))`;
    const b = funcAsm("isel_and", mod(g, 2), "f").join("\n");
    expect(b).not.toMatch(/\tset/);
    for (const [x, y, want] of [[4, 8, 1], [3, 8, 2], [4, 9, 2], [-1, 0, 2]]) expect(await status("isel_and", mod(g, 2), [x, y])).toBe(want);
  });

  it("extensions: i64.extend_i32_u of an i32 value costs nothing, extend_s of a local is one movsxd, a constant condition no test", async () => {
    const f = `(func $f (param $x i32) (param $y i32) (result i32)
      (if (i32.const 1) (then (nop)) (else (unreachable)))
      (i32.wrap_i64 (i64.shr_u (i64.add (i64.extend_i32_u (i32.add (local.get $x) (local.get $y))) (i64.extend_i32_s (local.get $y))) (i64.const 24))))`;
    const a = funcAsm("isel_ext", mod(f, 2), "f").join("\n");
    expect(a.match(/mov eax, eax/g)?.length).toBe(1); // only the wrap after the shift zero-extends
    expect(a).toMatch(/movsxd rax, r\w+d/);
    expect(a).not.toMatch(/\ttest/);
    // x + y = 0xffff_ffff (unsigned, no sign extension) plus y = -1 sign-extended: 0xffff_fffe >> 24 = 255
    expect(await status("isel_ext", mod(f, 2), [0, -1])).toBe(255);
    // x + y = 0x1_0000_0000 wraps to 0 as i32 before extend_u: (0 + 2^31 - 1) >> 24 = 127
    expect(await status("isel_ext", mod(f, 2), [-2147483647, 2147483647])).toBe(127);
  });

  it("store(p, op(load(p), x)) is one read-modify-write instruction; other shapes stay load + op + store", async () => {
    // counter at p += x, flags at p |= 1 (byte), and a near miss: the load reads p+4, the store writes p
    const f = `(func $f (param $p i32) (param $x i32) (result i32)
      (i32.store offset=8 (local.get $p) (i32.add (i32.load offset=8 (local.get $p)) (local.get $x)))
      (i32.store8 offset=12 (local.get $p) (i32.or (i32.load8_u offset=12 (local.get $p)) (i32.const 0x81)))
      (i32.store offset=16 (local.get $p) (i32.sub (i32.load offset=20 (local.get $p)) (i32.const 1)))
      (i32.add (i32.add (i32.load offset=8 (local.get $p)) (i32.load8_u offset=12 (local.get $p))) (i32.load offset=16 (local.get $p))))`;
    const a = funcAsm("isel_rmw", mod(f, 2), "f").join("\n");
    expect(a).toMatch(/\tadd dword ptr \[r15\+r\w+\+8\], r\w+d/);
    expect(a).toMatch(/\tor byte ptr \[r15\+r\w+\+12\], -127/);
    expect(a).not.toMatch(/\tsub dword ptr/);
    const m = mod(f, 2).replace("(memory 1)", `(memory 1) (data (i32.const 108) "\\05\\00\\00\\00\\02\\00\\00\\00\\00\\00\\00\\00\\0a")`);
    // [108] = 5 + 30 = 35; [112] = 2 | 0x81 = 131; [116] = [120] - 1 = 9: 35 + 131 + 9 = 175
    expect(await status("isel_rmw", m, [100, 30])).toBe(175);
  });

  it("compares and zero tests read memory operands directly", async () => {
    const f = `(func $f (param $p i32) (param $x i32) (result i32) (local $s i32)
      (local.set $s (i32.load offset=4 (local.get $p)))
      (if (i32.load8_u (local.get $p)) (then (return (i32.const 1))))
      (if (i64.eq (i64.load offset=8 (local.get $p)) (i64.const 0)) (then (return (i32.const 2))))
      (if (i32.lt_u (local.get $x) (i32.load offset=4 (local.get $p))) (then (return (i32.const 3))))
      (i32.const 4))`;
    const a = funcAsm("isel_cmpmem", mod(f, 2), "f").join("\n");
    expect(a).toMatch(/\tcmp byte ptr \[r15\+r\w+\], 0/);
    expect(a).toMatch(/\tcmp qword ptr \[r15\+r\w+\+8\], 0/);
    expect(a).toMatch(/\tcmp r\w+, dword ptr \[r15\+r\w+\+4\]/);
    const m = (bytes: string) => mod(f, 2).replace("(memory 1)", `(memory 1) (data (i32.const 0) "${bytes}")`);
    expect(await status("isel_cmpmem1", m("\\01"), [0, 0])).toBe(1);
    expect(await status("isel_cmpmem2", m("\\00\\00\\00\\00\\09"), [0, 5])).toBe(2);
    expect(await status("isel_cmpmem3", m("\\00\\00\\00\\00\\09\\00\\00\\00\\00\\00\\00\\00\\00\\00\\01"), [0, 5])).toBe(3);
    expect(await status("isel_cmpmem4", m("\\00\\00\\00\\00\\09\\00\\00\\00\\00\\00\\00\\00\\00\\00\\01"), [0, 9])).toBe(4);
  });

  it("drops a move straight back, but not when the first move changes the address of the second", () => {
    expect(dropReloads(["\tmov dword ptr [rbp-8], eax", "\tmov eax, dword ptr [rbp-8]"])).toEqual(["\tmov dword ptr [rbp-8], eax"]);
    expect(dropReloads(["\tmov ebx, eax", "\tmov eax, ebx"])).toEqual(["\tmov ebx, eax"]);
    const keep = ["\tmov eax, dword ptr [r15+rax]", "\tmov dword ptr [r15+rax], eax"];
    expect(dropReloads(keep)).toEqual(keep);
    const label = ["\tmov ebx, eax", ".L1:", "\tmov eax, ebx"];
    expect(dropReloads(label)).toEqual(label);
    const imm = ["\tmov eax, 5", "\tmov 5, eax"];
    expect(dropReloads(imm)).toEqual(imm);
  });

  it("memory.copy of variable sizes: SSE blocks, words and bytes on linux, memmove both ways; none of it on baremetal", async () => {
    // sizes 0..150 at shifting offsets, source and destination overlapping either way or apart;
    // a rolling hash over the region after each copy
    const WAT = `(module (memory 1)
      (func (export "main") (result i32) (local $i i32) (local $h i32) (local $k i32)
        (loop $fill (i32.store8 (local.get $i) (i32.mul (local.get $i) (i32.const 31))) (br_if $fill (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 1024))))
        (local.set $i (i32.const 0))
        (loop $l
          (memory.copy (i32.add (i32.const 300) (i32.rem_u (i32.mul (local.get $i) (i32.const 7)) (i32.const 97)))
                       (i32.add (i32.const 300) (i32.rem_u (i32.mul (local.get $i) (i32.const 13)) (i32.const 89))) (local.get $i))
          (memory.copy (i32.add (i32.const 700) (local.get $i)) (i32.const 10) (i32.sub (i32.const 150) (local.get $i)))
          (local.set $k (i32.const 0))
          (loop $sum
            (local.set $h (i32.add (i32.mul (local.get $h) (i32.const 33)) (i32.load8_u (i32.add (i32.const 280) (local.get $k)))))
            (br_if $sum (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 1))) (i32.const 600))))
          (br_if $l (i32.le_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 150))))
        (i32.and (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 16))) (i32.const 255))))`;
    const wasm = wat2wasm("isel_copy", WAT);
    const { instance } = await WebAssembly.instantiate(wasm);
    const exe = join(dir, "isel_copy");
    await compile(wasm, { target: "linux", out: exe, optimize: false, keepAsm: true });
    expect(spawnSync(exe, []).status).toBe((instance.exports.main as () => number)());
    const helper = (asm: string) => asm.slice(asm.indexOf("tv_rt_memory_copy:"), asm.indexOf("tv_rt_memory_fill:"));
    expect(helper(readFileSync(exe + ".s", "utf8"))).toMatch(/movdqu xmm0/);
    expect(helper(compileToAsm(wasm, { target: "baremetal", optimize: false }).asm)).not.toMatch(/xmm/);
  });

  it("memory.copy sizes 0..260 at every distance -300..300 between source and destination equal V8's (fast paths: 4..63 loads first, 64+ SSE blocks, 128+ AVX2 blocks, each with an overlapping last block)", async () => {
    // region [700, 1700) refilled before each copy; after it a 32-bit hash over it goes
    // into a running hash, printed as 8 hex digits (an 8-bit exit status would let 1 in 256 slip)
    const WAT = `(module (import "hw" "outb" (func $outb (param i32 i32))) (memory 1)
      (func $hex (param $v i32) (local $k i32)
        (loop $d (call $outb (i32.const 0xE9) (i32.add (i32.const 65) (i32.and (i32.shr_u (local.get $v) (i32.sub (i32.const 28) (i32.shl (local.get $k) (i32.const 2)))) (i32.const 15))))
          (br_if $d (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 1))) (i32.const 8)))))
      (func (export "main") (result i32) (local $n i32) (local $d i32) (local $i i32) (local $h i32) (local $run i32)
        (loop $ln (local.set $d (i32.const -300))
          (loop $ld
            (local.set $i (i32.const 700))
            (loop $fill (i32.store8 (local.get $i) (i32.xor (i32.mul (local.get $i) (i32.const 37)) (local.get $n))) (br_if $fill (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 1700))))
            (memory.copy (i32.add (i32.const 1100) (local.get $d)) (i32.const 1100) (local.get $n))
            (local.set $i (i32.const 700)) (local.set $h (i32.const 0))
            (loop $sum (local.set $h (i32.add (i32.mul (local.get $h) (i32.const 31)) (i32.load8_u (local.get $i))))
              (br_if $sum (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 1700))))
            (local.set $run (i32.xor (i32.mul (local.get $run) (i32.const 16777619)) (local.get $h)))
            (br_if $ld (i32.le_s (local.tee $d (i32.add (local.get $d) (i32.const 1))) (i32.const 300))))
          (br_if $ln (i32.le_u (local.tee $n (i32.add (local.get $n) (i32.const 1))) (i32.const 260))))
        (call $hex (local.get $run)) (i32.const 0)))`;
    const wasm = wat2wasm("isel_copy_all", WAT);
    let want = "";
    const { instance } = await WebAssembly.instantiate(wasm, { hw: { outb: (_p: number, v: number) => { want += String.fromCharCode(v); } } });
    (instance.exports.main as () => number)();
    const exe = join(dir, "isel_copy_all");
    await compile(wasm, { target: "linux", out: exe, optimize: false });
    const r = spawnSync(exe, [], { encoding: "latin1", timeout: 60000 });
    expect(want).toMatch(/^[A-P]{8}$/);
    expect(r.stdout).toBe(want);
  });

  it("a tee into a register local serves as the waiting left operand (no copy), and is not changed by a sub", async () => {
    // f(x, y) = ((a = x * 3) - (y * y)) + a * 2, evaluated left to right
    const f = `(func $f (param $x i32) (param $y i32) (result i32) (local $a i32) (local $b i32)
      (local.set $b (i32.sub (local.tee $a (i32.mul (local.get $x) (i32.const 3))) (i32.mul (local.get $y) (local.get $y))))
      (i32.add (local.get $b) (i32.shl (local.get $a) (i32.const 1))))`;
    const a = funcAsm("isel_tee", mod(f, 2), "f");
    // the tee is computed in its home (computeInPlace), which is then the waiting operand itself
    const i = a.findIndex((l) => /^\timul (r\w+d|e[bsd]\w), \1, 3$/.test(l));
    expect(i).toBeGreaterThan(0);
    expect(a[i + 1]).not.toMatch(/^\tmov r\w+, rax$/); // no copy of it into a temporary
    expect(a.join("\n")).toMatch(/\tneg eax\n\tadd eax, /);
    expect(await status("isel_tee", mod(f, 2), [20, 5])).toBe(60 - 25 + 120);
  });
  it("a value is computed in its destination register, not through rax, when rax is dead after (computeInPlace)", async () => {
    const t = (ls: string[]) => ls.map((l) => (l.endsWith(":") ? l : "\t" + l));
    // renamed: rax is redefined right after the move
    expect(computeInPlace(t(["mov eax, dword ptr [rbp-64]", "imul eax, eax, 2112", "add eax, r11d", "mov ebx, eax", "mov eax, dword ptr [rbp-8]"])))
      .toEqual(t(["mov ebx, dword ptr [rbp-64]", "imul ebx, ebx, 2112", "add ebx, r11d", "mov eax, dword ptr [rbp-8]"]));
    // a run starting from the destination's own value drops that move; sub-registers are renamed too
    expect(computeInPlace(t(["mov eax, esi", "sub eax, 1", "movzx eax, al", "mov esi, eax", "cmp edi, 3", "xor eax, eax"])))
      .toEqual(t(["sub esi, 1", "movzx esi, sil", "cmp edi, 3", "xor eax, eax"]));
    // reads of rax before its redefinition read the destination instead (also in the redefinition's address)
    expect(computeInPlace(t(["mov eax, dword ptr [rbp-8]", "mov r12d, eax", "mov esi, dword ptr [r15+rax+4]", "cmp eax, 7", "mov eax, dword ptr [r15+rax]"])))
      .toEqual(t(["mov r12d, dword ptr [rbp-8]", "mov esi, dword ptr [r15+r12+4]", "cmp r12d, 7", "mov eax, dword ptr [r15+r12]"]));
    expect(computeInPlace(t(["imul eax, dword ptr [rbp-8], 24", "add eax, 4", "mov ebx, eax", "mov rax, qword ptr [r15+rax]"])))
      .toEqual(t(["imul ebx, dword ptr [rbp-8], 24", "add ebx, 4", "mov rax, qword ptr [r15+rbx]"]));
    // a compare's result: setcc + movzx into the destination's low byte
    expect(computeInPlace(t(["cmp eax, 129", "sete al", "movzx eax, al", "mov r14d, eax", "test eax, eax", "mov eax, dword ptr [rbp-8]"])))
      .toEqual(t(["cmp eax, 129", "sete r14b", "movzx r14d, r14b", "test r14d, r14d", "mov eax, dword ptr [rbp-8]"]));
    expect(computeInPlace(t(["sete al", "add eax, 1", "mov ebx, eax", "mov eax, 0"]))).toEqual(t(["sete al", "add eax, 1", "mov ebx, eax", "mov eax, 0"]));
    // a branch on the value: rax is dead at both successors
    expect(computeInPlace(t(["mov eax, dword ptr [rbp-8]", "mov r9d, eax", "test eax, eax", "je .L2", "mov eax, 1", ".L2:", "xor eax, eax"])))
      .toEqual(t(["mov r9d, dword ptr [rbp-8]", "test r9d, r9d", "je .L2", "mov eax, 1", ".L2:", "xor eax, eax"]));
    // kept: rax read after the move, a label or a jump before rax is redefined, the run reading the
    // destination, a 64-bit result truncated by a 32-bit move, a run not starting with a definition of rax
    const keep = [
      ["mov eax, dword ptr [rbp-8]", "add eax, 1", "mov ebx, eax", "test eax, eax"],
      ["mov eax, dword ptr [rbp-8]", "add eax, 1", "mov ebx, eax", ".L1:", "mov eax, 0"],
      ["mov eax, dword ptr [rbp-8]", "add eax, 1", "mov ebx, eax", "jmp .L1", "mov eax, 0"],
      ["mov eax, dword ptr [rbp-8]", "add eax, ebx", "mov ebx, eax", "mov eax, 0"],
      ["mov rax, qword ptr [rbp-8]", "shr rax, 3", "mov ebx, eax", "mov eax, 0"],
      ["add eax, 1", "mov ebx, eax", "mov eax, 0"],
      ["mov eax, dword ptr [rbp-8]", "add eax, 1", "mov ebx, eax", "call tvf_3", "mov eax, 0"],
      ["mov eax, dword ptr [rbp-8]", "add eax, 1", "mov ebx, eax", "test eax, eax", "je .L2", "mov eax, 0"], // .L2 is not here: rax may be read
      ["mov eax, dword ptr [rbp-8]", "add eax, 1", "mov ebx, eax", "test eax, eax", "je .L2", "mov eax, 0", ".L2:", "add eax, 1"],
      ["mov eax, dword ptr [rbp-8]", "add eax, 1", "mov ebx, eax", "add ebx, 2", "mov ecx, eax", "mov eax, 0"], // R changes while rax is read
      ["mov eax, dword ptr [rbp-8]", "add eax, 1", "mov ebx, eax", "sete al", "mov eax, 0"],
    ].map(t);
    for (const k of keep) expect(computeInPlace(k)).toEqual(k);
    // in generated code: b = x * 2112 + y lands in b's register directly, and the result is right
    const f = `(func $f (param $x i32) (param $y i32) (result i32) (local $b i32)
      (local.set $b (i32.add (i32.mul (local.get $x) (i32.const 2112)) (i32.load (local.get $y))))
      (i32.add (i32.load offset=4 (local.get $y)) (local.get $b)))`;
    const a = funcAsm("isel_inplace", mod(f, 2), "f");
    const j = a.findIndex((l) => /imul \w+, \w+, 2112$/.test(l));
    expect(a[j]).not.toMatch(/imul eax/);
    expect(a.slice(j, j + 3).join("\n")).not.toMatch(/mov \w+, eax/);
    expect(await status("isel_inplace", mod(f, 2), [3, 0])).toBe((3 * 2112) & 255); // memory is zero: b = 6336, plus 0
  });
  it("a constant tested for zero decides its jump at compile time (foldConstTests)", async () => {
    const t = (ls: string[]) => ls.map((l) => (l.endsWith(":") ? l : "\t" + l));
    expect(foldConstTests(t(["mov eax, 1", "test eax, eax", "je .L3", "add ebx, 1"]))).toEqual(t(["mov eax, 1", "add ebx, 1"]));
    expect(foldConstTests(t(["mov eax, 1", "test eax, eax", "jne .L3", "add ebx, 1"]))).toEqual(t(["mov eax, 1", "jmp .L3", "add ebx, 1"]));
    expect(foldConstTests(t(["mov eax, 0", "test eax, eax", "je .L3", "add ebx, 1"]))).toEqual(t(["mov eax, 0", "jmp .L3", "add ebx, 1"]));
    expect(foldConstTests(t(["mov rax, 0", "test rax, rax", "jne .L3", "add ebx, 1"]))).toEqual(t(["mov rax, 0", "add ebx, 1"]));
    // a label between (a block end that other values reach too): the constant's path jumps, the test stays
    expect(foldConstTests(t(["mov eax, 1", ".L2:", "test eax, eax", "jne .L3", "add ebx, 1"]), "9"))
      .toEqual(t(["mov eax, 1", "jmp .L3", ".L2:", "test eax, eax", "jne .L3", "add ebx, 1"]));
    expect(foldConstTests(t(["mov eax, 1", ".L2:", "test eax, eax", "je .L3", "add ebx, 1"]), "9"))
      .toEqual(t(["mov eax, 1", "jmp .Lcf9_0", ".L2:", "test eax, eax", "je .L3", ".Lcf9_0:", "add ebx, 1"]));
    // the constant copied on, then tested (a condition local set from an inlined constant)
    expect(foldConstTests(t(["xor eax, eax", ".L4:", "mov r8d, eax", ".L2:", "test r8d, r8d", "je .L5", "add ebx, 1"]), "9"))
      .toEqual(t(["xor eax, eax", "mov r8d, eax", "jmp .L5", ".L4:", "mov r8d, eax", ".L2:", "test r8d, r8d", "je .L5", "add ebx, 1"]));
    expect(foldConstTests(t(["mov r9d, 3", "mov esi, r9d", "test esi, esi", "je .L5", "add ebx, 1"])))
      .toEqual(t(["mov r9d, 3", "mov esi, r9d", "add ebx, 1"]));
    // kept: another condition, flags read after the jump, a value that is not a constant, a copy at
    // another width, a register changed between, a byte register
    for (const k of [["xor eax, eax", "mov r8, rax", "test r8d, r8d", "je .L3"], ["xor eax, eax", "mov r8d, eax", "add r8d, ebx", "test r8d, r8d", "je .L3"],
      ["mov r8b, 0", "test r8b, r8b", "je .L3"], ["mov eax, 0", "mov r8d, ecx", "test r8d, r8d", "je .L3"]].map(t)) expect(foldConstTests(k)).toEqual(k);
    // kept: another condition, flags read after the jump, a value that is not a constant
    const keep = [["mov eax, 1", "test eax, eax", "jl .L3"],
      ["mov eax, 1", "test eax, eax", "je .L3", "sete al"], ["mov eax, ebx", "test eax, eax", "je .L3"]].map(t);
    for (const k of keep) expect(foldConstTests(k)).toEqual(k);
    // in generated code: a block whose value is a constant, tested by an if
    const f = `(func $f (param $x i32) (result i32)
      (if (result i32) (block $b (result i32) (local.set $x (i32.add (local.get $x) (i32.const 1)))
          (drop (br_if $b (i32.const 0) (i32.eq (local.get $x) (i32.const 8)))) (i32.const 1))
        (then (i32.add (local.get $x) (i32.const 40))) (else (i32.const 7))))`;
    const a = funcAsm("isel_const", mod(f, 1), "f").join("\n");
    // the constant's path jumps past the test (and its `mov eax, 1` goes: rax is dead there)
    expect(a).toMatch(/\tjmp \.Lcf\d+_0\n/);
    expect(a).not.toMatch(/\tmov eax, 1\n/);
    expect(await status("isel_const", mod(f, 1), [3])).toBe(44);
    expect(await status("isel_const", mod(f, 1), [7])).toBe(7); // the branch's 0 still reaches the test
  });
  it("peephole: imul from the operand, no test after a logic op, jumps to jumps threaded", async () => {
    const t = (ls: string[]) => ls.map((l) => (l.endsWith(":") ? l : "\t" + l));
    expect(peephole(t(["mov eax, edi", "imul eax, eax, 24", "add eax, 4"]))).toEqual(t(["imul eax, edi, 24", "add eax, 4"]));
    expect(peephole(t(["mov eax, dword ptr [rbp-8]", "imul eax, eax, 24"]))).toEqual(t(["imul eax, dword ptr [rbp-8], 24"]));
    expect(peephole(t(["mov ebx, edi", "imul ebx, ebx, 24"]))).toEqual(t(["imul ebx, edi, 24"]));
    expect(peephole(t(["and rax, 1", "mov eax, eax", "test eax, eax", "je .L3"]))).toEqual(t(["and rax, 1", "je .L3"]));
    expect(peephole(t(["shr rax, 40", "mov eax, eax", "and eax, 7"]))).toEqual(t(["shr rax, 40", "and eax, 7"]));
    for (const k of [["shr rax, 40", "mov eax, eax", "mov r8d, eax"], ["shr rax, 40", "mov eax, eax", "add rax, 1"], ["shr rax, 40", "mov eax, eax", "imul eax, eax, 3"]].map(t))
      expect(peephole(k)).toEqual(k);
    expect(peephole(t(["or eax, r10d", "mov dword ptr [rbp-40], eax", "test eax, eax", "je .L3"])))
      .toEqual(t(["or eax, r10d", "mov dword ptr [rbp-40], eax", "je .L3"]));
    expect(peephole(t(["jne .L5", "add ebx, 1", ".L5:", ".L6:", "jmp .L7", ".L7:", "jmp .L9"])))
      .toEqual(t(["jne .L9", "add ebx, 1", ".L5:", ".L6:", "jmp .L9", ".L7:", "jmp .L9"]));
    const keep = [
      ["mov eax, dword ptr [r15+rax]", "imul eax, eax, 24"], // reads rax
      ["mov eax, 5", "imul eax, eax, 24"], // an immediate cannot be imul's source
      ["mov ebx, dword ptr [r15+rbx]", "imul ebx, ebx, 24"], // reads the register it writes
      ["and rax, 0x80000000", "mov eax, eax", "test eax, eax"], // the upper half may be set, or bit 31 differs
      ["and rax, rcx", "mov eax, eax"],
      ["add eax, 1", "test eax, eax", "je .L3"], // add sets CF/OF otherwise
      ["and eax, 1", "mov eax, dword ptr [rbp-8]", "test eax, eax"], // the tested value is another
      ["and eax, 1", "mov al, 3", "test eax, eax"],
      ["and eax, 1", ".L2:", "test eax, eax"], // another path reaches the test
    ].map(t);
    for (const k of keep) expect(peephole(k)).toEqual(k);
    // in generated code: the slot index i * 24 is one imul from the local, and the result is right
    const f = `(func $f (param $x i32) (param $y i32) (result i32) (local $i i32)
      (local.set $i (i32.and (local.get $x) (i32.const 7)))
      (if (i32.and (local.get $y) (local.get $x)) (then (local.set $i (i32.add (local.get $i) (i32.const 1)))))
      (i32.add (i32.mul (local.get $i) (i32.const 24)) (i32.load (local.get $y))))`;
    const a = funcAsm("isel_peep", mod(f, 2), "f").join("\n");
    expect(a).toMatch(/\timul eax, \w+, 24\n/);
    expect(a).not.toMatch(/\tand eax, \w+\n\ttest eax, eax/);
    expect(await status("isel_peep", mod(f, 2), [13, 0])).toBe(5 * 24);
    expect(await status("isel_peep", mod(f, 2), [13, 2])).toBe(5 * 24);
    expect(await status("isel_peep", mod(f, 2), [13, 4])).toBe(6 * 24);
  });
  it("peephole: a setcc boolean tested at once branches on the compare's flags; loops test their exit at the bottom", async () => {
    const t = (ls: string[]) => ls.map((l) => (l.endsWith(":") ? l : "\t" + l));
    expect(peephole(t(["cmp esi, 129", "sete r8b", "movzx r8d, r8b", "test r8d, r8d", "jne .L3", "add ebx, 1"])))
      .toEqual(t(["cmp esi, 129", "sete r8b", "movzx r8d, r8b", "je .L3", "add ebx, 1"]));
    expect(peephole(t(["cmp esi, ebx", "setb al", "movzx eax, al", "test eax, eax", "je .L3", "add ebx, 1"])))
      .toEqual(t(["cmp esi, ebx", "setb al", "movzx eax, al", "jae .L3", "add ebx, 1"]));
    for (const k of [["sete r8b", "movzx r9d, r9b", "test r9d, r9d", "jne .L3"], ["sete r8b", "movzx r8d, r8b", "test r8d, r8d", "jl .L3"],
      ["sete r8b", "movzx r8d, r8b", "test r8d, r8d", "jne .L3", "sete al"]].map(t)) expect(peephole(k)).toEqual(k);
    // rotation: the back edge repeats the exit test and jumps into the body; the exit is a jump after it
    expect(peephole(t([".L1:", "mov eax, dword ptr [rbp-8]", "cmp eax, ebx", "jge .L2", "add esi, eax", "add dword ptr [rbp-8], 1", "jmp .L1", ".L2:"]), "7"))
      .toEqual(t([".L1:", "mov eax, dword ptr [rbp-8]", "cmp eax, ebx", "jge .L2", ".Lrot7_0:", "add esi, eax", "add dword ptr [rbp-8], 1",
        "mov eax, dword ptr [rbp-8]", "cmp eax, ebx", "jl .Lrot7_0", "jmp .L2", ".L2:"]));
    // not rotated: a forward jump, a top with a call or more than four instructions, no conditional exit
    for (const k of [["jmp .L1", "add esi, 1", ".L1:", "cmp esi, 3", "jl .L2"], [".L1:", "call tvf_2", "test eax, eax", "je .L2", "jmp .L1"],
      [".L1:", "mov eax, 1", "add eax, 1", "add eax, 1", "add eax, 1", "cmp eax, ebx", "je .L2", "jmp .L1"],
      [".L1:", "add esi, 1", "jmp .L1"]].map(t)) expect(peephole(k)).toEqual(k);
    // in generated code: a counted loop's back edge is the compare and a conditional jump, and it counts right
    const f = `(func $f (param $n i32) (param $m i32) (result i32) (local $i i32) (local $s i32)
      (block $out (loop $top
        (br_if $out (i32.ge_s (local.get $i) (local.get $n)))
        (local.set $s (i32.add (local.get $s) (i32.mul (local.get $i) (local.get $m))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $top)))
      (local.get $s))`;
    const a = funcAsm("isel_rot", mod(f, 2), "f").join("\n");
    expect(a).toMatch(/\.Lrot\d+_0:/);
    expect(a).toMatch(/\tjl \.Lrot\d+_0\n/);
    expect(await status("isel_rot", mod(f, 2), [10, 3])).toBe(135);
    expect(await status("isel_rot", mod(f, 2), [0, 3])).toBe(0);
  });
  it("rax values nothing reads are dropped; a masked load tested for zero is one test (dropDeadRax)", () => {
    const t = (ls: string[]) => ls.map((l) => (l.endsWith(":") ? l : "\t" + l));
    expect(dropDeadRax(t(["mov eax, 1", "jmp .L9", "add ebx, 1", ".L9:", "add esi, 1", "mov eax, dword ptr [rbp-8]", "ret"])))
      .toEqual(t(["jmp .L9", "add ebx, 1", ".L9:", "add esi, 1", "mov eax, dword ptr [rbp-8]", "ret"]));
    expect(dropDeadRax(t(["xor eax, eax", "jmp .L9", ".L9:", "call tvf_4", "ret"]))).toEqual(t(["jmp .L9", ".L9:", "call tvf_4", "ret"]));
    expect(dropDeadRax(t(["mov rax, qword ptr [rbp-176]", "and rax, 1", "je .L3", "mov eax, 0", "ret", ".L3:", "mov eax, 2", "ret"])))
      .toEqual(t(["test byte ptr [rbp-176], 1", "je .L3", "mov eax, 0", "ret", ".L3:", "mov eax, 2", "ret"]));
    expect(dropDeadRax(t(["mov eax, dword ptr [r15+rbx]", "and eax, 4096", "jne .L3", "xor eax, eax", ".L3:", "xor eax, eax"])))
      .toEqual(t(["test dword ptr [r15+rbx], 4096", "jne .L3", "xor eax, eax", ".L3:", "xor eax, eax"]));
    // kept: rax read later (here, after the jump, or at a label not in these lines), a load (it may trap),
    // an xor not right before a jmp (its flags), an indirect call that reads rax, the masked value read on one path
    for (const k of [["mov eax, 1", "jmp .L9", ".L9:", "test eax, eax"], ["mov eax, 1", "jmp .L8"], ["mov eax, dword ptr [rbp-8]", "jmp .L9", ".L9:", "xor eax, eax"],
      ["xor eax, eax", "add ebx, 1", "jmp .L9", ".L9:", "xor eax, eax"], ["mov eax, 5", "jmp .L9", ".L9:", "call qword ptr [rax]"],
      ["mov rax, qword ptr [rbp-176]", "and rax, 1", "je .L3", "mov ebx, eax", ".L3:", "xor eax, eax"]].map(t)) expect(dropDeadRax(k)).toEqual(k);
  });
  it("select(x, 0, c) as a branch condition tests c first, then x; x is evaluated before c as written", async () => {
    // $f(a, b): if (select (tee $t (a & 0xfff)) 0 (b > 5)) then 100 + t else t
    const f = `(func $f (param $a i32) (param $b i32) (result i32) (local $t i32)
      (if (result i32) (select (local.tee $t (i32.and (local.get $a) (i32.const 0xfff))) (i32.const 0) (i32.gt_s (local.get $b) (i32.const 5)))
        (then (i32.add (local.get $t) (i32.const 100))) (else (local.get $t))))`;
    const a = funcAsm("isel_seland", mod(f, 2), "f").join("\n");
    expect(a).not.toMatch(/\tcmov/);
    expect(a).toMatch(/\tcmp \w+, 5\n\tjle \.L\d+\n\ttest (\w+), \1\n\tje /);
    expect(await status("isel_seland", mod(f, 2), [7, 9])).toBe(107);
    expect(await status("isel_seland", mod(f, 2), [7, 2])).toBe(7); // c false: t is still set
    expect(await status("isel_seland", mod(f, 2), [4096, 9])).toBe(0); // x zero
    // select(0, x, c): x when c is false
    const g = f.replace("(select (local.tee $t (i32.and (local.get $a) (i32.const 0xfff))) (i32.const 0)", "(select (i32.const 0) (local.tee $t (i32.and (local.get $a) (i32.const 0xfff)))");
    expect(await status("isel_seland2", mod(g, 2), [7, 9])).toBe(7);
    expect(await status("isel_seland2", mod(g, 2), [7, 2])).toBe(107);
  });
  it("cmp(load, complex right side) reads the load as cmp's memory operand when the right side only reads", async () => {
    // $f(p, q): load(p) < load(q) - load(q + 8), and the same with a division on the right (kept in order)
    const f = `(func $f (param $p i32) (param $q i32) (result i32)
      (i32.lt_s (i32.load (local.get $p)) (i32.sub (i32.load (local.get $q)) (i32.load offset=8 (local.get $q)))))`;
    const data = `(memory 1) (data (i32.const 0) "\\03\\00\\00\\00\\0a\\00\\00\\00\\00\\00\\00\\00\\05")`;
    const a = funcAsm("isel_cmpmem", mod(f, 2).replace("(memory 1)", data), "f").join("\n");
    expect(a).toMatch(/\tcmp dword ptr \[r15\+\w+\], eax\n/);
    expect(await status("isel_cmpmem", mod(f, 2).replace("(memory 1)", data), [0, 4])).toBe(1); // 3 < 10 - 5
    expect(await status("isel_cmpmem", mod(f, 2).replace("(memory 1)", data), [0, 0])).toBe(0); // 3 < 3 - 0 is false
    const g = f.replace("(i32.load offset=8 (local.get $q))", "(i32.div_s (i32.load offset=8 (local.get $q)) (local.get $q))");
    const b = funcAsm("isel_cmpdiv", mod(g, 2).replace("(memory 1)", data), "f").join("\n");
    expect(b).not.toMatch(/\tcmp dword ptr \[r15\+\w+\], eax\n/);
    // the left load is out of bounds and the right side divides by zero: the left load's trap comes first
    const exe = join(dir, "isel_cmpdiv");
    await compile(wat2wasm("isel_cmpdiv", mod(g, 2).replace("(memory 1)", data)), { target: "linux", out: exe, optimize: false });
    const r = spawnSync(exe, ["2000000000", "0"], { timeout: 20000, encoding: "utf8" });
    expect(r.stderr).toMatch(/out of bounds memory access/);
    // and with the reordering (a load only on the right), an out-of-bounds right side still traps
    const exe2 = join(dir, "isel_cmpmem_oob");
    await compile(wat2wasm("isel_cmpmem_oob", mod(f, 2).replace("(memory 1)", data)), { target: "linux", out: exe2, optimize: false });
    expect(spawnSync(exe2, ["0", "2000000000"], { timeout: 20000, encoding: "utf8" }).stderr).toMatch(/out of bounds memory access/);
  });
});
