// src/vmm/exits.ts against a fake vCPU (test/vmm/fake): the CPUID filter, the MSR allow-list (#GP and the
// msr_denied counter for the rest), port I/O dispatch, HLT, XSETBV, the exits that inject or reflect, the
// stop rules, and next-RIP decoding when the CPU gave no length. The expected values are the policy of
// src/vmm/README.md "Guest convention", written out here rather than taken from the code.
import { beforeEach, describe, expect, it } from "vitest";
import { Exit, FakeMachine, Flag, machine, Op, Reg, State, VmError } from "./fake/machine";

const GP = 13, UD = 6;
const Msr = {
  EFER: 0xc000_0080n, PAT: 0x277n, STAR: 0xc000_0081n, LSTAR: 0xc000_0082n, FMASK: 0xc000_0084n,
  FS_BASE: 0xc000_0100n, KERNEL_GS_BASE: 0xc000_0102n, SYSENTER_CS: 0x174n, TSC: 0x10n, PLATFORM_ID: 0x17n,
  BIOS_SIGN_ID: 0x8bn, MTRRCAP: 0xfen, MISC_ENABLE: 0x1a0n, APIC_BASE: 0x1bn, TSC_AUX: 0xc000_0103n,
} as const;
/** SysMsr slots (src/vmm/vcpu.ts). */
const Sys = { Star: 0, Lstar: 1, Fmask: 3, KernelGsBase: 4, FsBase: 5, SysenterCs: 7 } as const;
const bit = (...n: number[]) => n.reduce((a, b) => (a | (1 << b)) >>> 0, 0);
const ALL = 0xffff_ffff;

/** A host whose CPUID reports every feature bit, AVX-capable XSAVE (x87|SSE|AVX, AVX at 576, 256 bytes). */
function allFeatures(leaf: number, sub: number): [number, number, number, number] | undefined {
  if (leaf === 0) return [0xd, 0x756e6547, 0x6c65746e, 0x49656e69];
  if (leaf === 1) return [0x806f0, 0x12345678, ALL, ALL];
  if (leaf === 7 && sub === 0) return [0, ALL, ALL, ALL];
  if (leaf === 7 && sub === 1) return [ALL, ALL, ALL, ALL];
  if (leaf === 0xa || leaf === 0xb || leaf === 0x1f) return [ALL, ALL, ALL, ALL];
  if (leaf === 0xd && sub === 0) return [7, 832, 832, 0];
  if (leaf === 0xd && sub === 2) return [256, 576, 0, 0];
  if (leaf === 0x8000_0001) return [0, 0, ALL, ALL];
  if (leaf === 0x8000_0007) return [0, 0, 0, ALL];
  if (leaf === 0x8000_000a) return [ALL, ALL, ALL, ALL];
  return [0x11, 0x22, 0x33, 0x44];
}

let m: FakeMachine;
let vm: number;
beforeEach(async () => {
  m = await machine((f) => {
    f.cpuid = allFeatures;
  });
  vm = m.running("t");
});

function cpuid(leaf: number, sub = 0): number[] {
  expect(m.exit(vm, Exit.Cpuid, { rax: BigInt(leaf), rcx: BigInt(sub) })).toBe(true);
  return [Reg.Rax, Reg.Rbx, Reg.Rcx, Reg.Rdx].map((r) => Number(m.reg(vm, r)));
}
const ascii = (...w: number[]) => Buffer.from(Uint32Array.from(w).buffer).toString("latin1");

describe("CPUID policy", () => {
  it("hypervisor leaves: max leaf, signature, interface and VM id, TSC and LAPIC kHz", () => {
    const [a, b, c, d] = cpuid(0x4000_0000);
    expect(a).toBe(0x4000_0010);
    expect(ascii(b, c, d)).toBe("Typevisor   ");
    expect(cpuid(0x4000_0001).slice(0, 2)).toEqual([1, vm]);
    expect(cpuid(0x4000_0010).slice(0, 2)).toEqual([1_000_000, 1_000_000]); // 1 GHz TSC before calibration
    expect(cpuid(0x4000_0002)).toEqual([0, 0, 0, 0]);
    expect(cpuid(0x4000_00ff)).toEqual([0, 0, 0, 0]);
  });

  it("leaf 1 without XSAVE switching: hypervisor bit, VMX/SMX/MONITOR/PDCM/XSAVE/OSXSAVE/AVX/FMA/F16C and the thermal/power/debug-store bits hidden, APIC id 0", () => {
    const [a, b, c, d] = cpuid(1);
    expect(a).toBe(0x806f0);
    expect(b >>> 0).toBe(0x0034_5678);
    expect(c >>> 0).toBe((ALL & ~bit(2, 3, 4, 5, 6, 7, 8, 12, 15, 26, 27, 28, 29)) >>> 0);
    expect(d >>> 0).toBe((ALL & ~bit(21, 22, 29, 31)) >>> 0);
  });

  it("leaf 1 with XSAVE: XSAVE and AVX shown, OSXSAVE follows the guest's CR4.OSXSAVE", async () => {
    m = await machine((f) => {
      f.cpuid = allFeatures;
    });
    m.x.initExtendedState();
    expect(m.cr4 & (1n << 18n)).toBe(1n << 18n); // the host turned on OSXSAVE
    vm = m.running("x");
    expect(cpuid(1)[2] >>> 0).toBe((ALL & ~bit(2, 3, 4, 5, 6, 7, 8, 15, 27)) >>> 0);
    m.x.setCr4(vm, 1n << 18n);
    expect(cpuid(1)[2] >>> 0).toBe((ALL & ~bit(2, 3, 4, 5, 6, 7, 8, 15)) >>> 0);
  });

  it("leaf 7 hides TSC_ADJUST, AVX2 (without AVX), AVX-512, MPX, PKU, TSX, RDPID and the rest of the list", () => {
    const [, b, c, d] = cpuid(7, 0);
    expect(b >>> 0).toBe((ALL & ~bit(1, 4, 5, 11, 14, 16, 17, 21, 26, 27, 28, 30, 31)) >>> 0);
    expect(c >>> 0).toBe((ALL & ~bit(1, 3, 4, 6, 11, 12, 14, 22)) >>> 0);
    expect(d >>> 0).toBe((ALL & ~bit(2, 3, 8, 22, 23, 24)) >>> 0);
    expect(cpuid(7, 1).map((v) => v >>> 0)).toEqual([ALL, ALL, ALL, ALL]); // other sub-leaves pass through
  });

  it("topology, performance monitoring and SVM leaves read 0; 0x80000001 hides SVM, OSVW, SKINIT, MONITORX, RDTSCP; 0x80000007 keeps invariant TSC only", () => {
    // (leaf 6 without a platform: no ARAT to show; 0x8000001F: no SME/SEV)
    for (const leaf of [0x6, 0xa, 0xb, 0x1f, 0x8000_000a, 0x8000_001f]) expect(cpuid(leaf), leaf.toString(16)).toEqual([0, 0, 0, 0]);
    const [, , c, d] = cpuid(0x8000_0001);
    // MONITORX/MWAITX (29): intercepted with MONITOR/MWAIT, so #UD (Bochs ryzen shows the bit: Linux's udelay used it);
    // OSVW (9): its MSRs are #GP (Linux read them unchecked on Bochs ryzen)
    expect(c >>> 0).toBe((ALL & ~bit(2, 9, 12, 29)) >>> 0);
    expect(d >>> 0).toBe((ALL & ~bit(27)) >>> 0);
    expect(cpuid(0x8000_0007)[3]).toBe(bit(8));
  });

  it("leaf 0xD: nothing without XSAVE; with it, the guest mask and the sizes for its XCR0 and for all of it", async () => {
    expect(cpuid(0xd, 0)).toEqual([0, 0, 0, 0]);
    m = await machine((f) => {
      f.cpuid = allFeatures;
    });
    m.x.initExtendedState();
    vm = m.running("x");
    expect(cpuid(0xd, 0)).toEqual([7, 576, 832, 0]);
    expect(cpuid(0xd, 1)).toEqual([0, 0, 0, 0]); // no XSAVEOPT/XSAVEC/XSAVES
    expect(cpuid(0xd, 2)).toEqual([256, 576, 0, 0]);
    expect(m.exit(vm, Exit.Xsetbv, { rcx: 0n, rax: 7n })).toBe(true);
    expect(m.x.xcr0(vm)).toBe(7n);
    expect(cpuid(0xd, 0)).toEqual([7, 832, 832, 0]);
  });

  it("other leaves pass through, and every CPUID exit steps over the instruction and is counted", () => {
    expect(cpuid(0x8000_0002)).toEqual([0x11, 0x22, 0x33, 0x44]);
    expect(m.x.advances(vm)).toBe(1);
    expect(m.x.exits(vm, Exit.Cpuid)).toBe(1n);
    expect(m.x.exitsTotal(vm)).toBe(1n);
  });
});

describe("MSR policy", () => {
  const rd = (msr: bigint) => m.exit(vm, Exit.MsrRead, { rcx: msr, rax: 0xdeadn, rdx: 0xbeefn });
  const wr = (msr: bigint, v: bigint) => m.exit(vm, Exit.MsrWrite, { rcx: msr, rax: v & 0xffff_ffffn, rdx: v >> 32n });
  const value = () => (m.reg(vm, Reg.Rdx) << 32n) | m.reg(vm, Reg.Rax);
  /** The last access raised #GP(0) without stepping over the instruction. */
  const gp = (advancesBefore: number) => {
    expect(m.x.lastVector(vm)).toBe(GP);
    expect(m.x.lastErrorCode(vm)).toBe(0);
    expect(m.x.lastHasError(vm)).toBe(1);
    expect(m.x.advances(vm)).toBe(advancesBefore);
  };

  it("an unknown MSR is #GP(0) on read and write, counted in msr_denied, registers untouched", () => {
    for (const msr of [0x1234n, Msr.TSC_AUX, Msr.APIC_BASE, 0x4000_0000n]) {
      const before = m.x.advances(vm);
      expect(rd(msr)).toBe(true);
      gp(before);
      expect(m.reg(vm, Reg.Rax)).toBe(0xdeadn);
      expect(m.reg(vm, Reg.Rdx)).toBe(0xbeefn);
      expect(wr(msr, 1n)).toBe(true);
      gp(before);
    }
    expect(m.x.msrDenied(vm)).toBe(8n);
    expect(m.x.injections(vm)).toBe(8);
    expect(m.x.exits(vm, Exit.MsrRead)).toBe(4n);
    expect(m.x.exits(vm, Exit.MsrWrite)).toBe(4n);
  });

  it("AMD's NB_CFG (0xC001001F) and HWCR (0xC0010015): on an AMD host NB_CFG reads 0 and takes writes, HWCR reads TscFreqSel; elsewhere #GP", async () => {
    const before = m.x.advances(vm);
    expect(rd(0xc001_001fn)).toBe(true); // the default fake host is GenuineIntel
    gp(before);
    expect(rd(0xc001_0015n)).toBe(true);
    gp(before);
    m = await machine((f) => {
      f.cpuid = (leaf, sub) => (leaf === 0 ? [0x10, 0x68747541, 0x444d4163, 0x69746e65] : allFeatures(leaf, sub)); // AuthenticAMD
    });
    vm = m.running("amd");
    expect(rd(0xc001_001fn)).toBe(true);
    expect(value()).toBe(0n);
    expect(wr(0xc001_001fn, 1n << 46n)).toBe(true);
    expect(rd(0xc001_001fn)).toBe(true);
    expect(value()).toBe(0n);
    expect(m.x.msrDenied(vm)).toBe(0n);
    expect(m.x.advances(vm)).toBe(3);
    expect(rd(0xc001_0020n)).toBe(true); // its neighbour stays #GP
    expect(m.x.msrDenied(vm)).toBe(1n);
    // HWCR (0xC0010015): reads TscFreqSel (bit 24), writes #GP
    expect(rd(0xc001_0015n)).toBe(true);
    expect(value()).toBe(1n << 24n);
    expect(wr(0xc001_0015n, 1n << 24n)).toBe(true);
    expect(m.x.msrDenied(vm)).toBe(2n);
  });

  it("EFER goes to the vCPU, which may refuse a value (#GP)", () => {
    expect(wr(Msr.EFER, 0x501n)).toBe(true);
    expect(m.x.efer(vm)).toBe(0x501n);
    expect(rd(Msr.EFER)).toBe(true);
    expect(value()).toBe(0x501n);
    const before = m.x.advances(vm);
    wr(Msr.EFER, 0x2n);
    gp(before);
    expect(m.x.msrDenied(vm)).toBe(1n);
  });

  it("IA32_PAT: power-on value, kept per VM, #GP for the reserved types 2, 3 and above 7", () => {
    rd(Msr.PAT);
    expect(value()).toBe(0x0007_0406_0007_0406n);
    wr(Msr.PAT, 0x0106_0504_0701_0006n);
    expect(m.x.pat(vm)).toBe(0x0106_0504_0701_0006n);
    for (const bad of [0x2n, 0x3n << 8n, 0x8n << 56n]) {
      const before = m.x.advances(vm);
      wr(Msr.PAT, bad);
      gp(before);
    }
    expect(m.x.pat(vm)).toBe(0x0106_0504_0701_0006n);
  });

  it("syscall and segment-base MSRs: kept by the vCPU, with WRMSR's own #GP rules", () => {
    wr(Msr.STAR, 0xffff_0000_1234_5678n); // any value
    expect(m.u64(m.x.sysMsr(vm, Sys.Star))).toBe(0xffff_0000_1234_5678n);
    wr(Msr.LSTAR, 0xffff_8000_0000_1000n); // canonical
    expect(m.u64(m.x.sysMsr(vm, Sys.Lstar))).toBe(0xffff_8000_0000_1000n);
    wr(Msr.FS_BASE, 0x7fff_ffff_f000n);
    expect(m.u64(m.x.sysMsr(vm, Sys.FsBase))).toBe(0x7fff_ffff_f000n);
    wr(Msr.SYSENTER_CS, 0x10n);
    expect(m.u64(m.x.sysMsr(vm, Sys.SysenterCs))).toBe(0x10n);
    rd(Msr.LSTAR);
    expect(value()).toBe(0xffff_8000_0000_1000n);
    expect(m.x.msrDenied(vm)).toBe(0n);
    for (const [msr, v] of [[Msr.LSTAR, 0x8000_0000_0000n], [Msr.KERNEL_GS_BASE, 0x0001_0000_0000_0000n], [Msr.FMASK, 1n << 32n]] as const) {
      const before = m.x.advances(vm);
      wr(msr, v);
      gp(before);
    }
    expect(m.u64(m.x.sysMsr(vm, Sys.KernelGsBase))).toBe(0n);
    expect(m.u64(m.x.sysMsr(vm, Sys.Lstar))).toBe(0xffff_8000_0000_1000n);
    expect(m.x.msrDenied(vm)).toBe(3n);
  });

  it("read-only MSRs: TSC, PLATFORM_ID, BIOS_SIGN_ID, MTRRCAP, MISC_ENABLE; writes #GP except the microcode signature", () => {
    rd(Msr.TSC);
    expect(value()).toBe(m.tsc);
    for (const [msr, v] of [[Msr.PLATFORM_ID, 0n], [Msr.BIOS_SIGN_ID, 0n], [Msr.MTRRCAP, 0n], [Msr.MISC_ENABLE, 1n]] as const) {
      rd(msr);
      expect(value(), msr.toString(16)).toBe(v);
    }
    expect(m.x.advances(vm)).toBe(5);
    wr(Msr.BIOS_SIGN_ID, 0n);
    expect(m.x.advances(vm)).toBe(6);
    for (const msr of [Msr.TSC, Msr.PLATFORM_ID, Msr.MTRRCAP, Msr.MISC_ENABLE]) {
      wr(msr, 0n);
      gp(6);
    }
    expect(m.x.msrDenied(vm)).toBe(4n);
  });
});

describe("port I/O", () => {
  const out = (port: number, v: number, size = 1) => m.exit(vm, Exit.Io, { arg: BigInt(port), arg2: size, rax: BigInt(v) });
  const inp = (port: number, size: number, rax: bigint) =>
    m.exit(vm, Exit.Io, { arg: BigInt(port), arg2: size, rax, flags: Flag.IoIn });

  it("port 0xE9 collects a line for the VM's console (CR dropped) and reads as 0xE9", () => {
    for (const c of "hi there\r\n") out(0xe9, c.charCodeAt(0));
    expect(m.consoleLine(vm)).toBe("hi there");
    expect(m.com1).toMatch(/\[t\] hi there\r?\n/);
    inp(0xe9, 1, 0x1122_3344_5566_7788n);
    expect(m.reg(vm, Reg.Rax)).toBe(0x1122_3344_5566_77e9n);
    expect(m.x.unknownIo(vm)).toBe(0n);
    expect(m.x.advances(vm)).toBe(11);
  });

  it("a line longer than the buffer is split", () => {
    for (let i = 0; i < 170; i++) out(0xe9, 0x41);
    expect(m.consoleLine(vm)).toBe("A".repeat(160));
  });

  it("unknown ports read all ones (8 and 16 bits merge into RAX, 32 bits zero-extend) and are counted; 0x80 writes are ignored", () => {
    inp(0x60, 1, 0x1122_3344_5566_7788n);
    expect(m.reg(vm, Reg.Rax)).toBe(0x1122_3344_5566_77ffn);
    inp(0x60, 2, 0x1122_3344_5566_7788n);
    expect(m.reg(vm, Reg.Rax)).toBe(0x1122_3344_5566_ffffn);
    inp(0x60, 4, 0x1122_3344_5566_7788n);
    expect(m.reg(vm, Reg.Rax)).toBe(0xffff_ffffn);
    out(0x64, 0xfe);
    expect(m.x.unknownIo(vm)).toBe(4n);
    out(0x80, 0x12);
    expect(m.x.unknownIo(vm)).toBe(4n);
    expect(m.x.advances(vm)).toBe(5);
    expect(m.x.exits(vm, Exit.Io)).toBe(5n);
  });

  it("with a platform (a Linux VM), other ports and the LAPIC's MSRs go to the device models", () => {
    m.x.attachPlatform(vm);
    inp(0x3fd, 1, 0n); // COM1 line status: the emulated 16550, transmitter empty (THRE | TEMT)
    expect(m.reg(vm, Reg.Rax)).toBe(0x60n);
    inp(0x60, 1, 0n); // nobody there: all ones, counted by the platform rather than as io_unknown
    expect(m.reg(vm, Reg.Rax)).toBe(0xffn);
    expect(m.x.unknownIo(vm)).toBe(0n);
    out(0xe9, 0x41);
    out(0xe9, 10);
    expect(m.consoleLine(vm)).toBe("A"); // the debug console stays the monitor's
    expect(m.exit(vm, Exit.MsrRead, { rcx: Msr.APIC_BASE })).toBe(true);
    expect(m.reg(vm, Reg.Rax) & 0xffff_f000n).toBe(0xfee0_0000n);
    expect(m.x.msrDenied(vm)).toBe(0n);
  });

  it("string I/O is not emulated: counted as unknown and skipped", () => {
    m.exit(vm, Exit.Io, { arg: 0xe9n, arg2: 1, rax: 0x41n, flags: Flag.IoString });
    expect(m.x.unknownIo(vm)).toBe(1n);
    expect(m.x.advances(vm)).toBe(1);
    expect(m.consoleLine(vm)).toBe("");
  });
});

describe("other exits", () => {
  it("HLT parks a test guest: halted, not runnable, cannot be paused, logged; reset wakes it", () => {
    expect(m.exit(vm, Exit.Hlt)).toBe(false);
    expect(m.x.advances(vm)).toBe(1);
    expect(m.x.isHalted(vm)).toBe(1);
    expect(m.x.state(vm)).toBe(State.Running);
    expect(m.x.runnable()).toBe(0);
    expect(m.x.runSlice()).toBe(0);
    expect(m.x.change(vm, Op.Pause)).toBe(VmError.WrongState);
    expect(m.com1).toContain("[vmm] VM t halted");
    expect(m.x.change(vm, Op.Reset)).toBe(0);
    expect(m.x.isHalted(vm)).toBe(0);
    expect(m.x.runnable()).toBe(1);
  });

  it("#AC/#DB are reflected, RDPMC is #GP(0), VMX/SVM instructions #UD, INVD a no-op", () => {
    expect(m.exit(vm, Exit.Exception, { arg: 17n })).toBe(true);
    expect(m.x.reflections(vm)).toBe(1);
    expect(m.x.injections(vm)).toBe(0);
    expect(m.exit(vm, Exit.Rdpmc)).toBe(true);
    expect([m.x.lastVector(vm), m.x.lastErrorCode(vm), m.x.lastHasError(vm)]).toEqual([GP, 0, 1]);
    expect(m.exit(vm, Exit.VirtInsn)).toBe(true);
    expect([m.x.lastVector(vm), m.x.lastHasError(vm)]).toEqual([UD, 0]);
    expect(m.x.advances(vm)).toBe(0);
    expect(m.exit(vm, Exit.Invd)).toBe(true);
    expect(m.x.advances(vm)).toBe(1);
  });

  it("XSETBV is #UD without XSAVE; with it, #GP(0) for XCR other than 0, no x87, AVX without SSE or beyond the mask", async () => {
    expect(m.exit(vm, Exit.Xsetbv, { rcx: 0n, rax: 3n })).toBe(true);
    expect(m.x.lastVector(vm)).toBe(UD);
    m = await machine((f) => {
      f.cpuid = allFeatures;
    });
    m.x.initExtendedState();
    vm = m.running("x");
    for (const [xcr, v] of [[1n, 3n], [0n, 2n], [0n, 5n], [0n, 0xfn]] as const) {
      m.exit(vm, Exit.Xsetbv, { rcx: xcr, rax: v });
      expect([m.x.lastVector(vm), m.x.lastHasError(vm)], `${xcr} ${v}`).toEqual([GP, 1]);
    }
    expect(m.x.advances(vm)).toBe(0);
    expect(m.x.xcr0(vm)).toBe(1n);
    m.exit(vm, Exit.Xsetbv, { rcx: 0n, rax: 3n });
    expect(m.x.xcr0(vm)).toBe(3n);
    expect(m.x.advances(vm)).toBe(1);
  });

  it("exits handled elsewhere (backend, preemption, interrupt, window) change nothing", () => {
    for (const k of [Exit.Handled, Exit.Preempted, Exit.Interrupt, Exit.InterruptWindow]) expect(m.exit(vm, k)).toBe(true);
    expect([m.x.advances(vm), m.x.injections(vm), m.x.state(vm)]).toEqual([0, 0, State.Running]);
    expect(m.x.exitsTotal(vm)).toBe(4n);
  });
});

describe("stop rules", () => {
  const stops: [string, number, Parameters<FakeMachine["exit"]>[2], string][] = [
    ["read", Exit.MemFault, { arg: 0x20_0000n }, "guest-physical access outside RAM at 0x200000 (read), rip 0x1000"],
    ["write", Exit.MemFault, { arg: 0xfee0_0000n, flags: Flag.Write }, "guest-physical access outside RAM at 0xfee00000 (write), rip 0x1000"],
    ["fetch", Exit.MemFault, { arg: 0x10_0000n, flags: Flag.Fetch | Flag.Write }, "guest-physical access outside RAM at 0x100000 (fetch), rip 0x1000"],
    ["triple fault", Exit.TripleFault, {}, "triple fault at rip 0x1000"],
    ["invalid state", Exit.InvalidState, {}, "invalid guest state: scripted"],
    ["entry failed", Exit.EntryFailed, {}, "VM entry failed: scripted"],
    ["unhandled", Exit.Unhandled, {}, "unhandled exit: scripted"],
  ];
  for (const [what, kind, o, reason] of stops) {
    it(`${what}: the VM stops with the reason, the others go on`, () => {
      const other = m.running("other");
      expect(m.exit(vm, kind, o)).toBe(false);
      expect(m.x.state(vm)).toBe(State.Stopped);
      expect(m.reason(vm)).toBe(reason);
      expect(m.com1).toContain(`VM t stopped: ${reason}`);
      expect(m.x.state(other)).toBe(State.Running);
      expect(m.x.change(vm, Op.Start)).toBe(0); // a stopped VM can start again, reason cleared
      expect(m.reason(vm)).toBe("");
    });
  }
});

describe("next RIP without a length from the CPU (AMD-V without NRIPS)", () => {
  it("decodes the instruction at CS:RIP, prefixes included", async () => {
    m = await machine((f) => {
      f.images.set(0, Uint8Array.from([0x66, 0x0f, 0xa2, 0xf4])); // o16 cpuid; hlt
    });
    vm = m.running("d");
    expect(m.exit(vm, Exit.Cpuid, { rax: 0x4000_0000n, flags: Flag.NoLength })).toBe(true);
    expect(m.x.rip(vm)).toBe(0x1003n);
    expect(m.reg(vm, Reg.Rax)).toBe(0x4000_0010n);
  });

  it("stops the VM when the bytes are not the instruction that exited", async () => {
    m = await machine((f) => {
      f.images.set(0, Uint8Array.from([0xf4, 0x90]));
    });
    vm = m.running("d");
    expect(m.exit(vm, Exit.Cpuid, { flags: Flag.NoLength })).toBe(false);
    expect(m.x.state(vm)).toBe(State.Stopped);
    expect(m.reason(vm)).toMatch(/^cannot decode the exiting instruction at rip 0x1000 \(f4 90/);
  });
});
