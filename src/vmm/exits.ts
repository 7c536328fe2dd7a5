// Vendor-neutral exit handling: CPUID filtering, the I/O port table (debug
// console), the MSR allow-list, HLT, and the stop rules for memory faults,
// triple faults and invalid state. Returns false when the VM must stop.

import { ExitKind, SysMsr, Vector } from "./vcpu";
import { Reg } from "./regs";
import { Vm, VmState } from "./vm";
import { cpuidRaw, rdtsc } from "./hw";
import { vlog, vwarn } from "./log";
import { hex0x } from "../lib/fmt";
import { Cr4, Msr, Xcr0 } from "../hw/msr";
import { guestXcr0Mask, liveXcr0, setGuestXcr0, useXsave } from "./lazy-state";
import { CpuState } from "./cpu-state";
import { cpuMode, fetchInsn } from "./guest-walk";
import { CpuMode, decodeExit, ExitDecode, ExitInsn, hexBytes, MAX_INSN_LENGTH } from "./x86/decode";
import { LAPIC_BUS_HZ, VmPlatform } from "./guest-platform";
import { tscHz } from "../platform/tsc";
import { print } from "../drivers/console";

const cpuidOut = memory.data(16);

/** Largest hypervisor leaf (0x40000000 EAX). */
const HV_MAX_LEAF: u32 = 0x40000010;

/** Filtered CPUID (issue 6): hypervisor bit, Typevisor leaves, no VMX/SVM. */
export function emulateCpuid(vm: Vm): void {
  const r = vm.vcpu.regs;
  const leaf = <u32>r[Reg.Rax];
  const sub = <u32>r[Reg.Rcx];
  let a: u32 = 0, b: u32 = 0, c: u32 = 0, d: u32 = 0;
  if (leaf >= 0x40000000 && leaf <= 0x400000ff) {
    if (leaf == 0x40000000) {
      a = HV_MAX_LEAF;
      b = 0x65707954; // "Type"
      c = 0x6f736976; // "viso"
      d = 0x20202072; // "r   "
    } else if (leaf == 0x40000001) {
      a = 1; // interface version
      b = <u32>vm.id;
    } else if (leaf == 0x40000010) {
      // TSC and LAPIC-timer bus frequencies in kHz (the convention other hypervisors use for this leaf)
      a = <u32>(tscHz / 1000);
      b = <u32>(LAPIC_BUS_HZ / 1000);
    }
  } else {
    cpuidRaw(leaf, sub, cpuidOut);
    a = load<u32>(cpuidOut, 0);
    b = load<u32>(cpuidOut, 4);
    c = load<u32>(cpuidOut, 8);
    d = load<u32>(cpuidOut, 12);
    if (leaf == 1) {
      // ECX: set hypervisor (31); hide MONITOR (3), VMX (5), SMX (6), PDCM (15); XSAVE (26) only with the
      // monitor's XSAVE switching, OSXSAVE (27) = the guest's CR4.OSXSAVE, AVX (28) only if XCR0 may enable it.
      c = (c | (<u32>1 << 31)) & ~((1 << 3) | (1 << 5) | (1 << 6) | (1 << 15) | (1 << 27));
      if (!useXsave) c &= ~(1 << 26);
      else if ((vm.vcpu.cr4() & Cr4.OSXSAVE) != 0) c |= 1 << 27;
      if ((guestXcr0Mask & Xcr0.AVX) == 0) c &= ~((1 << 28) | (1 << 12) | (1 << 29)); // AVX, FMA, F16C
      // Thermal, power and debug-store features whose MSRs a guest gets #GP for (SDM vol 3 15.8, 15.3,
      // 18.6): EDX DS (21), ACPI thermal (22), TM (29), PBE (31); ECX DTES64 (2), DS-CPL (4), EST (7), TM2 (8).
      // Linux programs IA32_THERM_INTERRUPT (0x19B) when it sees ACPI and TM.
      d &= ~((1 << 21) | (1 << 22) | (1 << 29) | (<u32>1 << 31));
      c &= ~((1 << 2) | (1 << 4) | (1 << 7) | (1 << 8));
      b &= 0x00ffffff; // initial APIC id 0
      if (vm.platform) {
        c |= (1 << 21) | (1 << 24); // the emulated LAPIC: x2APIC, TSC-deadline timer
        d |= 1 << 9; // APIC
      }
    } else if (leaf == 7 && sub == 0) {
      // Features whose state XCR0 cannot enable here (SDM vol 1 13.1): AVX2 without AVX, AVX-512, MPX,
      // PKU, AMX; and RTM/HLE (TSX aborts leak nothing but are not worth the errata).
      if ((guestXcr0Mask & Xcr0.AVX) == 0) b &= ~(<u32>1 << 5);
      if (!vm.vcpu.invpcid) b &= ~(<u32>1 << 10); // INVPCID would #UD (VT-x without "enable INVPCID")
      // IA32_TSC_ADJUST (bit 1; MSR 0x3B, SDM vol 3 17.17.3): not emulated (the guest TSC is the host's).
      b &= ~(<u32>1 << 1);
      b &= ~((1 << 4) | (1 << 11) | (1 << 14) | (1 << 16) | (1 << 17) | (1 << 21) | (1 << 26) | (1 << 27) |
        (1 << 28) | (1 << 30) | (<u32>1 << 31));
      c &= ~((1 << 1) | (1 << 3) | (1 << 4) | (1 << 6) | (1 << 11) | (1 << 12) | (1 << 14) | (1 << 22)); // ... RDPID
      d &= ~((1 << 2) | (1 << 3) | (1 << 8) | (1 << 22) | (1 << 23) | (1 << 24));
    } else if (leaf == 6) {
      // Thermal and power management (SDM vol 2A CPUID leaf 06H): only ARAT (EAX bit 2), true of the
      // emulated LAPIC timer; no digital thermal sensor, HWP, APERF/MPERF or energy-bias MSRs.
      a = vm.platform ? a & (1 << 2) : 0;
      b = 0; c = 0; d = 0;
    } else if (leaf == 0xb || leaf == 0x1f) {
      a = 0; b = 0; c = 0; d = 0; // no extended topology: one vCPU
    } else if (leaf == 0x80000007) {
      d &= 1 << 8; // invariant TSC only: the guest TSC is the host's, constant rate (no power-management bits)
    } else if (leaf == 0xa) {
      a = 0; b = 0; c = 0; d = 0; // architectural performance monitoring: none (RDPMC is #GP)
    } else if (leaf == 0xd) {
      xsaveLeaf(vm, sub);
      return;
    } else if (leaf == 0x80000001) {
      // SVM (2), SKINIT (12), MONITORX/MWAITX (29): the MONITOR and MWAIT intercepts cover MONITORX and
      // MWAITX too (APM vol 3 MONITORX/MWAITX, vol 2 table B-1), and those exits are #UD like MONITOR's.
      // Linux's udelay() uses MWAITX when it sees the bit (delay_halt_mwaitx): #UD in the guest's delay loop.
      // OSVW (9): its MSRs (0xC0010140-0xC0010141, APM vol 2 appendix A) are #GP here; Linux reads them
      // with a plain RDMSR when the bit is shown (cpu_has_amd_erratum).
      c &= ~((1 << 2) | (1 << 9) | (1 << 12) | (1 << 29));
      d &= ~(<u32>1 << 27); // RDTSCP: IA32_TSC_AUX is not switched per VM
    } else if (leaf == 0x8000000a) {
      a = 0; b = 0; c = 0; d = 0; // SVM features
    } else if (leaf == 0x8000001f) {
      // AMD memory encryption (SME, SEV, SEV-ES, SNP; APM vol 2 15.34, vol 3 CPUID Fn8000_001F): none for
      // guests. Linux's decompressor reads MSR_AMD64_SEV (0xC0010131, #GP here) when SEV is shown, with no
      // IDT yet: a triple fault.
      a = 0; b = 0; c = 0; d = 0;
    }
  }
  r[Reg.Rax] = a;
  r[Reg.Rbx] = b;
  r[Reg.Rcx] = c;
  r[Reg.Rdx] = d;
  vm.vcpu.advanceRip();
}

/**
 * CPUID leaf 0xD for the components guests may enable (SDM vol 1 13.2): sub-leaf 0 EAX/EDX the XCR0 mask,
 * EBX the XSAVE area size for the guest's current XCR0, ECX for all of the mask; sub-leaf 1 none of
 * XSAVEOPT/XSAVEC/XSAVES (not switched); sub-leaf 2 (AVX) passed through when AVX is in the mask.
 */
function xsaveLeaf(vm: Vm, sub: u32): void {
  const r = vm.vcpu.regs;
  let a: u32 = 0, b: u32 = 0, c: u32 = 0, d: u32 = 0;
  if (useXsave) {
    if (sub == 0) {
      a = <u32>guestXcr0Mask;
      b = xsaveSize(liveXcr0(vm.vcpu));
      c = xsaveSize(guestXcr0Mask);
    } else if (sub == 2 && (guestXcr0Mask & Xcr0.AVX) != 0) {
      cpuidRaw(0xd, 2, cpuidOut);
      a = load<u32>(cpuidOut, 0);
      b = load<u32>(cpuidOut, 4);
    }
  }
  r[Reg.Rax] = a;
  r[Reg.Rbx] = b;
  r[Reg.Rcx] = c;
  r[Reg.Rdx] = d;
  vm.vcpu.advanceRip();
}

/** Bytes of a standard-format XSAVE area for `mask`: 576 for x87/SSE and the header, then AVX at its offset. */
function xsaveSize(mask: u64): u32 {
  if ((mask & Xcr0.AVX) == 0) return 576;
  cpuidRaw(0xd, 2, cpuidOut);
  return load<u32>(cpuidOut, 4) + load<u32>(cpuidOut, 0);
}

/** Port 0xE9 debug console: bytes collected into lines prefixed with the VM name. */
function consoleByte(vm: Vm, byte: u32): void {
  if (byte == 10 || vm.lineLen >= vm.lineBuf.length) {
    flushConsole(vm);
    if (byte == 10) return;
  }
  if (byte == 13) return;
  vm.lineBuf[vm.lineLen++] = <u8>byte; // ConsoleLog.line makes it printable
}

/** A complete line goes to the VM's console log (the only allocation: one string per line). */
export function flushConsole(vm: Vm): void {
  if (vm.lineLen > 0) {
    vm.console.line(vm.lineBuf, vm.lineLen);
    vm.lineLen = 0;
  }
}

export const DEBUG_CONSOLE_PORT: u32 = 0xe9;
const POST_PORT: u32 = 0x80;

/** One port access; returns the value read (all ones when nobody answers). */
function portAccess(vm: Vm, port: u32, size: u32, isIn: bool, value: u32): u32 {
  if (port == DEBUG_CONSOLE_PORT) {
    if (isIn) return 0xe9; // the Bochs/QEMU convention: the port reads as its number
    consoleByte(vm, value & 0xff);
    return 0;
  }
  if (port == POST_PORT && !isIn) return 0; // POST codes and I/O delays
  const p = vm.platform;
  if (p) {
    p.io(port, size, !isIn, value);
    return <u32>p.value;
  }
  vm.unknownIo++;
  return 0xffffffff;
}

export function emulateIo(vm: Vm): void {
  const e = vm.vcpu.exit;
  const r = vm.vcpu.regs;
  if (e.ioString) {
    // INS/OUTS are not emulated: counted as unknown, skipped.
    vm.unknownIo++;
    vm.vcpu.advanceRip();
    return;
  }
  const v = portAccess(vm, e.ioPort, e.ioSize, e.ioIn, <u32>r[Reg.Rax]);
  if (e.ioIn) {
    const old = r[Reg.Rax];
    if (e.ioSize == 1) r[Reg.Rax] = (old & ~(<u64>0xff)) | (v & 0xff);
    else if (e.ioSize == 2) r[Reg.Rax] = (old & ~(<u64>0xffff)) | (v & 0xffff);
    else r[Reg.Rax] = <u64>v; // 32-bit results zero-extend
  }
  vm.vcpu.advanceRip();
}

/** Read-only MSRs with fixed values a guest may probe. */
function fixedMsr(msr: u32): i64 {
  if (msr == Msr.IA32_PLATFORM_ID) return 0;
  if (msr == Msr.IA32_BIOS_SIGN_ID) return 0;
  if (msr == Msr.IA32_MTRRCAP) return 0; // no MTRRs
  // CPUID shows MTRR, so IA32_MTRR_DEF_TYPE exists (SDM vol 3 11.11.1, 11.11.2.1): E = 0, MTRRs disabled
  // (guest memory types come from EPT/NPT and the guest's PAT). Linux reads it at boot.
  if (msr == Msr.IA32_MTRR_DEF_TYPE) return 0;
  if (msr == Msr.IA32_MISC_ENABLE) return 1; // fast strings
  return -1;
}

/** The CPU's vendor is AMD (CPUID leaf 0 "AuthenticAMD"): guests see the host's vendor. */
function hostIsAmd(): bool {
  cpuidRaw(0, 0, cpuidOut);
  return load<u32>(cpuidOut, 4) == 0x68747541 && load<u32>(cpuidOut, 12) == 0x69746e65 && load<u32>(cpuidOut, 8) == 0x444d4163;
}

/** RDMSR/WRMSR: an allow-list; everything else is #GP in the guest. */
export function emulateMsr(vm: Vm, write: bool): void {
  const r = vm.vcpu.regs;
  const msr = <u32>r[Reg.Rcx];
  const value = (r[Reg.Rdx] << 32) | (r[Reg.Rax] & 0xffffffff);
  let ok = false;
  let result: u64 = 0;
  const p = vm.platform;
  if (p && p.ownsMsr(msr)) {
    // APIC base, TSC deadline, x2APIC registers: the emulated LAPIC decides (#GP on false)
    if (write) ok = p.writeMsr(msr, value);
    else {
      ok = p.readMsr(msr);
      result = p.value;
    }
  } else if (msr == Msr.IA32_EFER) {
    if (write) ok = vm.vcpu.setEfer(value);
    else {
      result = vm.vcpu.efer();
      ok = true;
    }
  } else if (msr == Msr.IA32_PAT) {
    // IA32_PAT: kept per VM (guest memory is write-back through EPT/NPT).
    if (write) {
      ok = validPat(value);
      if (ok) vm.pat = value;
    } else {
      result = vm.pat;
      ok = true;
    }
  } else if (sysMsrIndex(msr) >= 0) {
    const m = <SysMsr>sysMsrIndex(msr);
    if (write) {
      ok = validSysMsr(m, value);
      if (ok) vm.vcpu.writeSysMsr(m, value);
    } else {
      result = vm.vcpu.readSysMsr(m);
      ok = true;
    }
  } else if (msr == Msr.IA32_TIME_STAMP_COUNTER && !write) {
    result = rdtsc();
    ok = true;
  } else if (!write) {
    const f = fixedMsr(msr);
    if (f >= 0) {
      result = <u64>f;
      ok = true;
    }
  } else if (msr == Msr.IA32_BIOS_SIGN_ID) {
    ok = true; // microcode signature reset: ignored
  }
  if (!ok && msr == Msr.AMD64_NB_CFG && hostIsAmd()) {
    // AMD's NB_CFG: Linux sets EnableCF8ExtCfg (bit 46) in it on every AMD family from 10h on
    // (amd_bus_cpu_online), with a plain WRMSR. There is no northbridge here: it reads 0, writes are ignored.
    result = 0;
    ok = true;
  } else if (!ok && !write && msr == Msr.AMD64_HWCR && hostIsAmd()) {
    // AMD's HWCR, read-only here: TscFreqSel (bit 24) set, as CPUID 0x80000007 shows an invariant TSC. Linux
    // reads it with a plain RDMSR when it sees a constant TSC (bsp_init_amd); its writes use the safe forms.
    result = <u64>1 << 24;
    ok = true;
  }
  if (!ok) {
    vm.msrDenied++;
    vm.vcpu.injectException(Vector.GP, 0, true);
    return;
  }
  if (!write) {
    r[Reg.Rax] = result & 0xffffffff;
    r[Reg.Rdx] = result >> 32;
  }
  vm.vcpu.advanceRip();
}

/** The SysMsr slot of an MSR number, or -1. */
function sysMsrIndex(msr: u32): i32 {
  if (msr == Msr.IA32_STAR) return SysMsr.Star;
  if (msr == Msr.IA32_LSTAR) return SysMsr.Lstar;
  if (msr == Msr.IA32_CSTAR) return SysMsr.Cstar;
  if (msr == Msr.IA32_FMASK) return SysMsr.Fmask;
  if (msr == Msr.IA32_KERNEL_GS_BASE) return SysMsr.KernelGsBase;
  if (msr == Msr.IA32_FS_BASE) return SysMsr.FsBase;
  if (msr == Msr.IA32_GS_BASE) return SysMsr.GsBase;
  if (msr == Msr.IA32_SYSENTER_CS) return SysMsr.SysenterCs;
  if (msr == Msr.IA32_SYSENTER_ESP) return SysMsr.SysenterEsp;
  if (msr == Msr.IA32_SYSENTER_EIP) return SysMsr.SysenterEip;
  return -1;
}

/** What WRMSR itself would #GP on (SDM vol 4 table 2-2): non-canonical addresses, FMASK bits 63:32. On VT-x
 * the value is written to the real MSR, so this check is what keeps a guest from faulting the monitor. */
function validSysMsr(m: SysMsr, v: u64): bool {
  if (m == SysMsr.Star || m == SysMsr.SysenterCs) return true;
  if (m == SysMsr.Fmask) return (v >> 32) == 0;
  return isCanonical(v);
}

/** Bits 63:47 all equal (48-bit linear addresses, SDM vol 1 3.3.7.1). */
export function isCanonical(v: u64): bool {
  const top = v >> 47;
  return top == 0 || top == 0x1ffff;
}

/** SDM 11.12.2: each PAT entry is 0, 1, 4, 5, 6 or 7. */
function validPat(v: u64): bool {
  for (let i = 0; i < 8; i++) {
    const t = (v >> (<u64>i * 8)) & 0xff;
    if (t == 2 || t == 3 || t > 7) return false;
  }
  return true;
}

/**
 * An access outside RAM by a Linux VM: the instruction is decoded (EPT violations and NPFs carry no data,
 * SDM 28.3.3.2 / APM 15.25.6) and the device that owns the address does it. An address no device claims,
 * or an instruction the decoder does not know, stops the VM with the reason and the bytes.
 */
function emulateMmio(vm: Vm): bool {
  const v = vm.vcpu;
  const p = <VmPlatform>vm.platform;
  const e = v.exit;
  v.getState(insnState);
  const n = fetchInsn(vm.ram, insnState, insnBytes);
  const len = p.mmio(e.gpa, insnBytes, n, cpuMode(insnState), v.regs);
  if (len < 0) {
    stopVm(vm, p.stopReason + ", rip " + hex0x(insnState.rip));
    return false;
  }
  v.exit.insnLen = <u32>len;
  v.advanceRip();
  return true;
}

/** XSETBV (SDM vol 2C): #UD without XSAVE, #GP(0) for XCR other than 0 or a value XCR0 cannot take. */
function emulateXsetbv(vm: Vm): void {
  const v = vm.vcpu;
  const r = v.regs;
  if (!useXsave) {
    v.injectException(Vector.UD, 0, false);
    return;
  }
  const value = (r[Reg.Rdx] << 32) | (r[Reg.Rax] & 0xffffffff);
  if (<u32>r[Reg.Rcx] != 0 || !setGuestXcr0(v, value)) {
    v.injectException(Vector.GP, 0, true);
    return;
  }
  v.advanceRip();
}

/** Stops `vm` with a logged reason; the monitor and the other VMs go on. */
export function stopVm(vm: Vm, reason: string): void {
  flushConsole(vm);
  vm.state = VmState.Stopped;
  vm.reason = reason;
  vwarn("VM " + vm.name + " stopped: " + reason);
}

const insnState = new CpuState();
const insnBytes = new StaticArray<u8>(MAX_INSN_LENGTH);
const insnDecode = new ExitDecode();

/** The instruction each exit kind must be, for next-RIP decoding. */
function expectedInsn(k: ExitKind): ExitInsn {
  if (k == ExitKind.Cpuid) return ExitInsn.Cpuid;
  if (k == ExitKind.MsrRead) return ExitInsn.Rdmsr;
  if (k == ExitKind.MsrWrite) return ExitInsn.Wrmsr;
  if (k == ExitKind.Hlt) return ExitInsn.Hlt;
  if (k == ExitKind.Invd) return ExitInsn.Invd;
  if (k == ExitKind.Rdpmc) return ExitInsn.Rdpmc;
  if (k == ExitKind.Xsetbv) return ExitInsn.Xsetbv;
  return ExitInsn.None;
}

/**
 * The exiting instruction's length when the CPU did not report it (AMD-V without NRIPS, APM 15.7.1):
 * decoded from the guest's bytes at CS:RIP, prefixes included. False (VM stopped with the bytes) when the
 * bytes are not the instruction that exited: another vCPU or DMA changed them, or the fetch failed.
 */
function decodeLength(vm: Vm): bool {
  const v = vm.vcpu;
  const want = expectedInsn(v.exit.kind);
  if (want == ExitInsn.None) return true;
  v.getState(insnState);
  const n = fetchInsn(vm.ram, insnState, insnBytes);
  if (!decodeExit(insnBytes, n, cpuMode(insnState), insnDecode) || insnDecode.kind != want) {
    stopVm(vm, "cannot decode the exiting instruction at rip " + hex0x(insnState.rip) + " (" +
      (n > 0 ? hexBytes(insnBytes, n) : "not fetchable") + (insnDecode.error.length > 0 ? ": " + insnDecode.error : "") + ")");
    return false;
  }
  v.exit.insnLen = <u32>insnDecode.length;
  return true;
}

/**
 * An intercepted MOV to CR0/CR4 (AMD-V, APM vol 2 15.9): decoded from the guest's bytes (length and source
 * register, with or without decode assists), then checked by the backend: #GP(0) for what the guest may not
 * set, as the CPU would (SDM vol 2B MOV CR, APM vol 2 3.1); CLTS and LMSW (register form) too. Other bytes
 * (LMSW from memory included) stop the VM with the bytes in the reason.
 */
function emulateCrWrite(vm: Vm): bool {
  const v = vm.vcpu;
  v.getState(insnState);
  const n = fetchInsn(vm.ram, insnState, insnBytes);
  const mode = cpuMode(insnState);
  const cr = v.exit.cr;
  const ok = decodeExit(insnBytes, n, mode, insnDecode);
  if (ok && (insnDecode.kind == ExitInsn.Clts || insnDecode.kind == ExitInsn.Lmsw) && cr == 0) {
    // CLTS: TS off. LMSW (SDM vol 2A): the low 4 bits (PE, MP, EM, TS) from the source; PE cannot be cleared.
    // Neither has a #GP case at CPL 0 (higher CPLs fault before the intercept).
    let cr0 = insnState.cr0 & ~(<u64>8);
    if (insnDecode.kind == ExitInsn.Lmsw) {
      const src = insnDecode.gpr == Reg.Rsp ? insnState.rsp : v.regs[insnDecode.gpr];
      cr0 = (insnState.cr0 & ~(<u64>0xe)) | (src & 0xf);
    }
    v.writeCr(0, cr0);
    v.exit.insnLen = <u32>insnDecode.length;
    v.advanceRip();
    return true;
  }
  if (!ok || insnDecode.kind != ExitInsn.MovToCr || <u32>insnDecode.cr != cr) {
    stopVm(vm, "cannot decode the MOV to CR" + cr.toString() + " at rip " + hex0x(insnState.rip) + " (" +
      (n > 0 ? hexBytes(insnBytes, n) : "not fetchable") + (insnDecode.error.length > 0 ? ": " + insnDecode.error : "") + ")");
    return false;
  }
  let value = insnDecode.gpr == Reg.Rsp ? insnState.rsp : v.regs[insnDecode.gpr];
  if (mode != CpuMode.Long64) value &= 0xffffffff; // a 32-bit operand outside 64-bit mode
  if (!v.writeCr(cr, value)) {
    v.injectException(Vector.GP, 0, true);
    return true;
  }
  v.exit.insnLen = <u32>insnDecode.length;
  v.advanceRip();
  return true;
}

/** Handles the exit in vm.vcpu.exit; returns true when the vCPU may run on. */
export function handleExit(vm: Vm): bool {
  const e = vm.vcpu.exit;
  const k = e.kind;
  vm.exits[k]++;
  vm.exitsTotal++;
  if (e.insnLen == 0 && !decodeLength(vm)) return false;
  switch (k) {
    case ExitKind.Handled:
    case ExitKind.Preempted:
    case ExitKind.Interrupt:
      return true;
    case ExitKind.Cpuid:
      emulateCpuid(vm);
      return true;
    case ExitKind.Io:
      emulateIo(vm);
      return true;
    case ExitKind.MsrRead:
      emulateMsr(vm, false);
      return true;
    case ExitKind.MsrWrite:
      emulateMsr(vm, true);
      return true;
    case ExitKind.Exception:
      vm.vcpu.reflectException();
      return true;
    case ExitKind.Xsetbv:
      emulateXsetbv(vm);
      return true;
    case ExitKind.Rdpmc:
      vm.vcpu.injectException(Vector.GP, 0, true); // no counters are exposed (CPUID 0xA reads 0)
      return true;
    case ExitKind.Invd:
      vm.vcpu.advanceRip();
      return true;
    case ExitKind.VirtInsn:
      vm.vcpu.injectException(Vector.UD, 0, false); // VMX/SVM/SMX/MONITOR are not in the guest's CPUID
      return true;
    case ExitKind.Hlt:
      vm.vcpu.advanceRip();
      vm.halted = true;
      if (vm.platform) return false; // parked until its timer or an interrupt (Monitor.wake)
      // A test guest has no interrupt sources: it waits until reset.
      flushConsole(vm);
      vlog("VM " + vm.name + " halted");
      return false;
    case ExitKind.InterruptWindow:
      return true; // Monitor.deliver injects before the next entry
    case ExitKind.CrWrite:
      return emulateCrWrite(vm);
    case ExitKind.MemFault:
      if (vm.platform && !e.fetch) return emulateMmio(vm);
      stopVm(vm, "guest-physical access outside RAM at " + hex0x(e.gpa) +
        (e.fetch ? " (fetch)" : e.write ? " (write)" : " (read)") + ", rip " + hex0x(vm.vcpu.rip()));
      return false;
    case ExitKind.TripleFault:
      stopVm(vm, "triple fault at rip " + hex0x(vm.vcpu.rip()));
      return false;
    case ExitKind.InvalidState:
      stopVm(vm, "invalid guest state: " + e.detail);
      return false;
    case ExitKind.EntryFailed:
      stopVm(vm, "VM entry failed: " + e.detail);
      return false;
    default:
      stopVm(vm, "unhandled exit: " + e.detail);
      return false;
  }
}
