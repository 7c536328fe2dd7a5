// The x86 decoders: a table of MMIO mov encodings (fields and register results), lengths checked against GNU as, exit-instruction lengths with prefixes, the 15-byte limit, and random bytes.
import { beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Exports, load, rng, root } from "../../devices/harness";

let x: Exports;
beforeAll(async () => {
  x = await load(join(root, "test/vmm/x86/entry.ts"));
});

const M64 = 64, M32 = 32, M16 = 16;
const bytes = (h: string): number[] => h.trim().split(/\s+/).filter(Boolean).map((b) => parseInt(b, 16));
function put(b: number[]): void {
  const m = new Uint8Array(x.memory.buffer, x.bufPtr(), 32);
  m.fill(0x90);
  m.set(b);
}
const mmio = (h: string, mode = M64, avail?: number): string => {
  const b = bytes(h);
  put(b);
  return x.mmio(avail ?? b.length, mode);
};
const exitInsn = (h: string, mode = M64, avail?: number): string => {
  const b = bytes(h);
  put(b);
  return x.exitInsn(avail ?? b.length, mode);
};

/** Assembles lines with GNU as and returns each instruction's bytes (an independent length oracle). */
function assemble(lines: string[], code: 16 | 32 | 64): number[][] {
  const dir = mkdtempSync(join(tmpdir(), "tv-x86-"));
  const src = [`.code${code}`, ...lines.flatMap((l, i) => [`l${i}:`, l]), `l${lines.length}:`].join("\n") + "\n";
  writeFileSync(join(dir, "a.s"), src);
  execFileSync("as", ["--64", "-o", join(dir, "a.o"), join(dir, "a.s")]);
  execFileSync("objcopy", ["-O", "binary", "-j", ".text", join(dir, "a.o"), join(dir, "a.bin")]);
  const bin = readFileSync(join(dir, "a.bin"));
  const syms = execFileSync("nm", ["-n", join(dir, "a.o")], { encoding: "utf8" });
  const at = new Map<string, number>();
  for (const l of syms.split("\n")) {
    const m = /^([0-9a-f]+) t (l\d+)$/.exec(l.trim());
    if (m) at.set(m[2], parseInt(m[1], 16));
  }
  rmSync(dir, { recursive: true, force: true });
  return lines.map((_, i) => [...bin.subarray(at.get(`l${i}`)!, at.get(`l${i + 1}`) ?? bin.length)]);
}

describe("MMIO mov decoding: table", () => {
  const table: [string, number, string][] = [
    // mov [rdi], eax
    ["89 07", M64, "len=2 size=4 dir=w reg=0 high=0 imm=0 regsize=4 ext=z"],
    // mov eax, [rdi+0x300]  (a LAPIC read through a pointer)
    ["8b 87 00 03 00 00", M64, "len=6 size=4 dir=r reg=0 high=0 imm=0 regsize=4 ext=z"],
    // mov r9d, [r8+0x10]
    ["45 8b 48 10", M64, "len=4 size=4 dir=r reg=9 high=0 imm=0 regsize=4 ext=z"],
    // mov [rax], rcx
    ["48 89 08", M64, "len=3 size=8 dir=w reg=1 high=0 imm=0 regsize=8 ext=z"],
    // mov [rax], cx
    ["66 89 08", M64, "len=3 size=2 dir=w reg=1 high=0 imm=0 regsize=2 ext=z"],
    // mov [rbx], ah (no REX: high byte)
    ["88 23", M64, "len=2 size=1 dir=w reg=0 high=1 imm=0 regsize=1 ext=z"],
    // mov [rbx], spl (REX: not AH)
    ["40 88 23", M64, "len=3 size=1 dir=w reg=4 high=0 imm=0 regsize=1 ext=z"],
    // mov bh, [rsi]
    ["8a 3e", M64, "len=2 size=1 dir=r reg=3 high=1 imm=0 regsize=1 ext=z"],
    // mov byte [rdx+4], 0x7f
    ["c6 42 04 7f", M64, "len=4 size=1 dir=w reg=imm high=0 imm=7f regsize=0 ext=z"],
    // mov dword [rip+0x1000], 0xdeadbeef
    ["c7 05 00 10 00 00 ef be ad de", M64, "len=10 size=4 dir=w reg=imm high=0 imm=deadbeef regsize=0 ext=z"],
    // mov qword [rax], -2 (imm32 sign-extended)
    ["48 c7 00 fe ff ff ff", M64, "len=7 size=8 dir=w reg=imm high=0 imm=fffffffffffffffe regsize=0 ext=z"],
    // mov word [rax], 0x1234
    ["66 c7 00 34 12", M64, "len=5 size=2 dir=w reg=imm high=0 imm=1234 regsize=0 ext=z"],
    // movzx eax, byte [rdi]
    ["0f b6 07", M64, "len=3 size=1 dir=r reg=0 high=0 imm=0 regsize=4 ext=z"],
    // movzx r10, word [rsp+8] (SIB)
    ["4c 0f b7 54 24 08", M64, "len=6 size=2 dir=r reg=10 high=0 imm=0 regsize=8 ext=z"],
    // movsx ecx, byte [rbx+rax*4-4]
    ["0f be 4c 83 fc", M64, "len=5 size=1 dir=r reg=1 high=0 imm=0 regsize=4 ext=s"],
    // movsx rdx, word [r12]
    ["49 0f bf 14 24", M64, "len=5 size=2 dir=r reg=2 high=0 imm=0 regsize=8 ext=s"],
    // mov eax, [abs 0xfee00030] (moffs64)
    ["a1 30 00 e0 fe 00 00 00 00", M64, "len=9 size=4 dir=r reg=0 high=0 imm=0 regsize=4 ext=z"],
    // mov [moffs32], al with 67
    ["67 a2 00 00 c0 fe", M64, "len=6 size=1 dir=w reg=0 high=0 imm=0 regsize=1 ext=z"],
    // mov rax, [moffs64]
    ["48 a1 00 00 c0 fe 00 00 00 00", M64, "len=10 size=8 dir=r reg=0 high=0 imm=0 regsize=8 ext=z"],
    // mov eax, [ebx] with 67 in 64-bit mode; segment override and a REX.W ignored because a prefix follows it
    ["48 64 67 8b 03", M64, "len=5 size=4 dir=r reg=0 high=0 imm=0 regsize=4 ext=z"],
    // mov [r13+0], r15d (mod 1, rm 5 with REX.B: disp8)
    ["45 89 7d 00", M64, "len=4 size=4 dir=w reg=15 high=0 imm=0 regsize=4 ext=z"],
    // mov eax, [rax*8+0x10] (SIB without base: disp32)
    ["8b 04 c5 10 00 00 00", M64, "len=7 size=4 dir=r reg=0 high=0 imm=0 regsize=4 ext=z"],
    // 32-bit mode: mov [0xfec00000], ecx (disp32); 0x40 is INC, not REX
    ["89 0d 00 00 c0 fe", M32, "len=6 size=4 dir=w reg=1 high=0 imm=0 regsize=4 ext=z"],
    ["66 a1 00 00 c0 fe", M32, "len=6 size=2 dir=r reg=0 high=0 imm=0 regsize=2 ext=z"],
    // 16-bit mode: mov [bx+si+0x10], ax; mov ax, [0x1234]; with 66: eax
    ["89 40 10", M16, "len=3 size=2 dir=w reg=0 high=0 imm=0 regsize=2 ext=z"],
    ["8b 06 34 12", M16, "len=4 size=2 dir=r reg=0 high=0 imm=0 regsize=2 ext=z"],
    ["66 8b 06 34 12", M16, "len=5 size=4 dir=r reg=0 high=0 imm=0 regsize=4 ext=z"],
    ["a1 34 12", M16, "len=3 size=2 dir=r reg=0 high=0 imm=0 regsize=2 ext=z"],
    ["67 8b 04 24", M16, "len=4 size=2 dir=r reg=0 high=0 imm=0 regsize=2 ext=z"],
  ];
  it.each(table)("%s (%i-bit)", (h, mode, want) => {
    expect(mmio(h, mode)).toBe(want);
  });

  it("fails clearly on what it does not decode", () => {
    expect(mmio("89 c0")).toBe("error: register operand, not memory");
    expect(mmio("01 07")).toBe("error: unsupported opcode"); // add [rdi], eax
    expect(mmio("c7 47 04 00 00 00 00".replace("47", "4f"))).toBe("error: unsupported opcode"); // C7 /1
    expect(mmio("f0 89 07")).toBe("error: LOCK prefix on an MMIO access");
    expect(mmio("0f 0b")).toBe("error: unsupported opcode");
    expect(mmio("40 89 07", M32)).toBe("error: unsupported opcode"); // INC eax in 32-bit mode
    expect(mmio("8b 87 00 03", M64, 4)).toBe("error: truncated");
    expect(mmio("c7 05 00 10 00 00 ef be", M64, 8)).toBe("error: truncated");
    expect(mmio("0f", M64, 1)).toBe("error: truncated");
    expect(mmio("66 66 66 66 66 66 66 66 66 66 66 66 66 66 89 07")).toBe("error: longer than 15 bytes");
    expect(mmio("66 66 66 66 66 66 66 66 66 66 66 66 89 07")).toMatch(/^len=14 /);
    expect(mmio("66 66 66 66 66 66 66 66 66 66 66 c7 05 00 10 00 00 ef be")).toBe("error: longer than 15 bytes");
    put(bytes("0f 0b 90"));
    expect(x.hex(3)).toBe("0f 0b 90");
  });
});

describe("MMIO register results", () => {
  const old = 0x1122334455667788n;
  const cases: [string, bigint, bigint][] = [
    ["8b 07", 0xaabbccddn, 0xaabbccddn], // 32-bit load zero-extends to 64
    ["48 8b 07", 0xfffffffffffffff0n, 0xfffffffffffffff0n],
    ["66 8b 07", 0xbeefn, 0x112233445566beefn], // 16-bit keeps 63:16
    ["8a 07", 0xeen, 0x11223344556677een], // AL keeps 63:8
    ["8a 27", 0xeen, 0x112233445566ee88n], // AH
    ["0f b6 07", 0x80n, 0x80n],
    ["0f be 07", 0x80n, 0xffffff80n], // movsx r32: sign to 32, zero above
    ["48 0f be 07", 0x80n, 0xffffffffffffff80n],
    ["66 0f bf 07", 0x8000n, 0x1122334455668000n], // movsx r16, m16
    ["48 0f b7 07", 0xfffffn, 0xffffn], // value masked to the access size
  ];
  it.each(cases)("%s", (h, value, want) => {
    expect(mmio(h)).toMatch(/^len=/);
    expect(BigInt.asUintN(64, x.load(old, value))).toBe(want);
  });
  it("stores take the register (AH from bits 15:8) or the immediate, masked to the size", () => {
    mmio("88 27");
    expect(BigInt.asUintN(64, x.store(0x1234n))).toBe(0x12n);
    mmio("66 89 07");
    expect(BigInt.asUintN(64, x.store(0x12345678n))).toBe(0x5678n);
    mmio("c7 07 78 56 34 12");
    expect(BigInt.asUintN(64, x.store(0xffffn))).toBe(0x12345678n);
  });
});

describe("lengths against GNU as", () => {
  const forms = (r32: string[], r8: string[], mems: string[]): string[] => [
    ...mems.flatMap((m) => r32.flatMap((r) => [`mov ${r}, ${m}`, `mov ${m}, ${r}`])),
    ...mems.flatMap((m) => r8.map((r) => `mov ${r}, ${m}`)),
    ...mems.flatMap((m) => [`movl $0x12345678, ${m}`, `movb $0x12, ${m}`, `movw $0x1234, ${m}`]),
  ];
  it("agrees with the assembler on 64-bit forms", () => {
    const mems = ["(%rdi)", "0x10(%r8)", "-0x1000(%rbp)", "(%rsp)", "(%r12)", "(%r13)", "0x300(%rax,%rbx,4)", "0x7ee00030", "0x20(%rip)", "(%rax,%r15,8)", "0x7f(%esi)", "%fs:0x28"];
    const lines = [
      ...forms(["%eax", "%r9d", "%rcx", "%r15", "%si", "%r11w"], ["%al", "%ah", "%sil", "%r10b", "%bh"].filter((r) => r !== "%ah" && r !== "%bh"), mems),
      ...mems.flatMap((m) => [`movzbl ${m}, %eax`, `movzwq ${m}, %r10`, `movsbl ${m}, %ecx`, `movswq ${m}, %rdx`, `movzbw ${m}, %ax`, `movq $-2, ${m}`]),
      "mov (%rbx), %ah", "mov %bh, (%rcx)",
      "movabs 0xfee00030, %eax", "movabs %rax, 0xfec00010", "movabs 0xfee00030, %al",
    ];
    const enc = assemble(lines, 64);
    const bad: string[] = [];
    enc.forEach((b, i) => {
      put(b);
      const len = x.mmioLength(b.length, M64);
      if (len !== b.length) bad.push(`${lines[i]}: ${b.map((v) => v.toString(16).padStart(2, "0")).join(" ")} -> ${len}`);
    });
    expect(bad).toEqual([]);
    expect(enc.length).toBeGreaterThan(150);
  });
  it("agrees with the assembler on 32- and 16-bit forms", () => {
    for (const code of [32, 16] as const) {
      const mems = code === 32 ? ["(%edi)", "0x10(%eax)", "0xfee00030", "(%esp)", "0x300(%eax,%ebx,4)", "(%ebp)", "(%di)"] : ["(%bx,%si)", "0x10(%bp)", "0x1234", "(%bx)", "(%eax)", "0x12(%esi,%ecx,2)"];
      const lines = [...forms(["%eax", "%cx"], ["%al", "%dh"], mems), ...mems.map((m) => `movzbl ${m}, %eax`), "mov 0x1234, %eax", "mov %al, 0x12"];
      const enc = assemble(lines, code);
      const bad: string[] = [];
      enc.forEach((b, i) => {
        put(b);
        const len = x.mmioLength(b.length, code);
        if (len !== b.length) bad.push(`${code}: ${lines[i]}: ${b.map((v) => v.toString(16).padStart(2, "0")).join(" ")} -> ${len}`);
      });
      expect(bad).toEqual([]);
    }
  });
});

describe("exit instruction lengths (no NRIPS)", () => {
  const CPUID = 1, RDMSR = 2, WRMSR = 3, RDPMC = 4, INVD = 5, HLT = 6, IOIMM = 7, IODX = 8, IOSTR = 9, XSETBV = 10;
  const table: [string, number, string][] = [
    ["0f a2", M64, `${CPUID} 2`], ["0f 32", M64, `${RDMSR} 2`], ["0f 30", M64, `${WRMSR} 2`], ["0f 33", M64, `${RDPMC} 2`],
    ["0f 08", M64, `${INVD} 2`], ["f4", M64, `${HLT} 1`], ["e4 60", M64, `${IOIMM} 2`], ["66 e7 80", M64, `${IOIMM} 3`],
    ["ec", M64, `${IODX} 1`], ["66 ef", M64, `${IODX} 2`], ["f3 6c", M64, `${IOSTR} 2`], ["f3 48 6f", M64, `${IOSTR} 3`],
    ["67 f3 66 6d", M32, `${IOSTR} 4`], ["0f 01 d1", M64, `${XSETBV} 3`], ["2e 3e 26 36 64 65 f0 f2 f3 66 67 48 0f a2", M64, `${CPUID} 14`],
    ["66 66 66 66 66 66 66 66 66 66 66 66 66 f4", M64, `${HLT} 14`], ["66 66 66 66 66 66 66 66 66 66 66 66 66 66 f4", M64, `${HLT} 15`],
    ["e6 80", M16, `${IOIMM} 2`], ["ee", M16, `${IODX} 1`],
  ];
  it.each(table)("%s (%i-bit)", (h, mode, want) => {
    expect(exitInsn(h, mode)).toBe(want);
  });
  it("fails on anything else, past 15 bytes, or when truncated", () => {
    expect(exitInsn("66 66 66 66 66 66 66 66 66 66 66 66 66 66 66 f4")).toBe("error: longer than 15 bytes");
    expect(exitInsn("0f 01 d0")).toBe("error: not an instruction that exits");
    expect(exitInsn("90")).toBe("error: not an instruction that exits");
    expect(exitInsn("48 f4", M32)).toBe("error: not an instruction that exits"); // DEC eax in 32-bit mode
    expect(exitInsn("e4", M64, 1)).toBe("error: truncated");
    expect(exitInsn("0f", M64, 1)).toBe("error: truncated");
    expect(exitInsn("0f 01", M64, 2)).toBe("error: not an instruction that exits");
    expect(exitInsn("66 66", M64, 2)).toBe("error: truncated");
  });
  it("MOV to CR0/CR4, CLTS and LMSW (AMD-V's CR write intercepts): length, control register, source register", () => {
    const cr = (h: string, mode = M64) => {
      const b = bytes(h);
      put(b);
      return x.exitCr(b.length, mode);
    };
    // ExitInsn: MovToCr 11, Clts 12, Lmsw 13; cr/gpr are only meaningful for the kinds that have them
    expect(cr("0f 22 e0")).toBe("11 3 cr=4 gpr=0"); // mov %rax, %cr4
    expect(cr("0f 22 e0", M16)).toBe("11 3 cr=4 gpr=0"); // real mode: no operand-size prefix needed
    expect(cr("41 0f 22 e7")).toBe("11 4 cr=4 gpr=15"); // mov %r15, %cr4 (REX.B)
    expect(cr("0f 22 c4")).toBe("11 3 cr=0 gpr=4"); // mov %rsp, %cr0
    expect(cr("44 0f 22 c0")).toBe("11 4 cr=8 gpr=0"); // REX.R: CR8
    expect(cr("f0 0f 22 c0", M32)).toBe("11 4 cr=8 gpr=0"); // AMD's LOCK MOV CR0 is CR8
    expect(cr("0f 06").split(" ").slice(0, 2).join(" ")).toBe("12 2"); // clts
    expect(cr("0f 01 f3")).toBe("13 3 cr=0 gpr=3"); // lmsw %bx
    expect(cr("41 0f 01 f1")).toBe("13 4 cr=0 gpr=9"); // lmsw %r9w
    expect(cr("0f 01 30")).toBe("error: not an instruction that exits"); // lmsw (%rax): the memory form is not decoded
    expect(cr("0f 22", M64)).toBe("error: not an instruction that exits"); // as "0f 01": the ModRM is missing
  });
  it("agrees with GNU as", () => {
    const lines = ["mov %rax, %cr4", "mov %r9, %cr0", "clts", "lmsw %ax", "lmsw %r10w", "cpuid", "rdmsr", "wrmsr", "rdpmc", "invd", "hlt", "in $0x60, %al", "in $0x71, %eax", "out %al, $0x80", "out %ax, $0x80", "in %dx, %al", "out %eax, %dx", "in %dx, %ax", "insb", "rep insw", "rep outsl", "outsb", "xsetbv", "rep; cpuid", "data16 rdmsr", "lock; rdmsr", "cs; ds; hlt", "addr32 rep insb"];
    const enc = assemble(lines, 64);
    const bad: string[] = [];
    enc.forEach((b, i) => {
      put(b);
      const r = x.exitInsn(b.length, M64);
      if (r.startsWith("error") || Number(r.split(" ")[1]) !== b.length) bad.push(`${lines[i]} -> ${r}`);
    });
    expect(bad).toEqual([]);
  });
});

describe("fuzz", () => {
  it("random bytes never trap; a success stays within 15 bytes and the bytes given", () => {
    const r = rng(0xdec0de);
    const pool = [0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x2e, 0x48, 0x41, 0x0f, 0x88, 0x89, 0x8a, 0x8b, 0xc6, 0xc7, 0xa0, 0xa1, 0xa2, 0xa3, 0xb6, 0xbf, 0x04, 0x05, 0x24, 0x44, 0x84, 0xf4, 0xe4, 0xec, 0x6c, 0x01, 0xd1, 0xa2];
    let ok = 0;
    for (let n = 0; n < 30000; n++) {
      const len = 1 + (r() % 20);
      const b = Array.from({ length: len }, () => (r() & 3 ? pool[r() % pool.length] : r() & 0xff));
      put(b);
      const avail = Math.min(len, 1 + (r() % 20));
      const mode = [16, 32, 64][r() % 3];
      const l = x.mmioLength(avail, mode);
      if (l >= 0) {
        ok++;
        expect(l).toBeLessThanOrEqual(Math.min(15, avail));
      }
      const e = x.exitInsn(avail, mode);
      if (!e.startsWith("error")) expect(Number(e.split(" ")[1])).toBeLessThanOrEqual(Math.min(15, avail));
    }
    expect(ok).toBeGreaterThan(1000); // the generator reaches the success paths
  });
});
