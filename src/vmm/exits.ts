// Vendor-neutral exit handling: CPUID filtering, the I/O port table (debug
// console), the MSR allow-list, HLT, and the stop rules for memory faults,
// triple faults and invalid state. Returns false when the VM must stop.

import { ExitKind, Vector } from "./vcpu";
import { Reg } from "./regs";
import { Vm, VmState } from "./vm";
import { cpuidRaw, rdtsc } from "./hw";
import { vlog, vwarn } from "./log";
import { hex0x } from "../lib/fmt";
import { print } from "../drivers/console";

const MSR_EFER: u32 = 0xc0000080;
const cpuidOut = memory.data(16);

/** Largest hypervisor leaf (0x40000000 EAX). */
const HV_MAX_LEAF: u32 = 0x40000001;

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
    }
  } else {
    cpuidRaw(leaf, sub, cpuidOut);
    a = load<u32>(cpuidOut, 0);
    b = load<u32>(cpuidOut, 4);
    c = load<u32>(cpuidOut, 8);
    d = load<u32>(cpuidOut, 12);
    if (leaf == 1) {
      // ECX: set hypervisor (31); hide MONITOR (3), VMX (5), SMX (6),
      // XSAVE (26), OSXSAVE (27): state the monitor does not switch.
      c = (c | (<u32>1 << 31)) & ~((1 << 3) | (1 << 5) | (1 << 6) | (1 << 26) | (1 << 27));
      b &= 0x00ffffff; // initial APIC id 0
    } else if (leaf == 0x80000001) {
      c &= ~((1 << 2) | (1 << 12)); // SVM, SKINIT
    } else if (leaf == 0x8000000a || leaf == 0xd) {
      a = 0; b = 0; c = 0; d = 0; // SVM features; XSAVE state (hidden)
    }
  }
  r[Reg.Rax] = a;
  r[Reg.Rbx] = b;
  r[Reg.Rcx] = c;
  r[Reg.Rdx] = d;
  vm.vcpu.advanceRip();
}

/** Port 0xE9 debug console: bytes collected into lines prefixed with the VM name. */
function consoleByte(vm: Vm, byte: u32): void {
  if (byte == 10 || vm.line.length >= 160) {
    print("[" + vm.name + "] " + vm.line + "\n");
    vm.line = "";
    if (byte == 10) return;
  }
  if (byte == 13) return;
  vm.line += String.fromCharCode(byte >= 0x20 && byte < 0x7f ? <i32>byte : 0x3f);
}

export function flushConsole(vm: Vm): void {
  if (vm.line.length > 0) {
    print("[" + vm.name + "] " + vm.line + "\n");
    vm.line = "";
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
  if (msr == 0x17) return 0; // IA32_PLATFORM_ID
  if (msr == 0x8b) return 0; // IA32_BIOS_SIGN_ID
  if (msr == 0xfe) return 0; // IA32_MTRRCAP: no MTRRs
  if (msr == 0x1a0) return 1; // IA32_MISC_ENABLE: fast strings
  return -1;
}

/** RDMSR/WRMSR: an allow-list; everything else is #GP in the guest. */
export function emulateMsr(vm: Vm, write: bool): void {
  const r = vm.vcpu.regs;
  const msr = <u32>r[Reg.Rcx];
  const value = (r[Reg.Rdx] << 32) | (r[Reg.Rax] & 0xffffffff);
  let ok = false;
  let result: u64 = 0;
  if (msr == MSR_EFER) {
    if (write) ok = vm.vcpu.setEfer(value);
    else {
      result = vm.vcpu.efer();
      ok = true;
    }
  } else if (msr == 0x277) {
    // IA32_PAT: kept per VM (guest memory is write-back through EPT/NPT).
    if (write) {
      ok = validPat(value);
      if (ok) vm.pat = value;
    } else {
      result = vm.pat;
      ok = true;
    }
  } else if (msr == 0x10 && !write) {
    result = rdtsc();
    ok = true;
  } else if (!write) {
    const f = fixedMsr(msr);
    if (f >= 0) {
      result = <u64>f;
      ok = true;
    }
  } else if (msr == 0x8b) {
    ok = true; // microcode signature reset: ignored
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

/** SDM 11.12.2: each PAT entry is 0, 1, 4, 5, 6 or 7. */
function validPat(v: u64): bool {
  for (let i = 0; i < 8; i++) {
    const t = (v >> (<u64>i * 8)) & 0xff;
    if (t == 2 || t == 3 || t > 7) return false;
  }
  return true;
}

/** Stops `vm` with a logged reason; the monitor and the other VMs go on. */
export function stopVm(vm: Vm, reason: string): void {
  flushConsole(vm);
  vm.state = VmState.Stopped;
  vm.reason = reason;
  vwarn("VM " + vm.name + " stopped: " + reason);
}

/** Handles the exit in vm.vcpu.exit; returns true when the vCPU may run on. */
export function handleExit(vm: Vm): bool {
  const e = vm.vcpu.exit;
  const k = e.kind;
  vm.exits[k]++;
  vm.exitsTotal++;
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
    case ExitKind.Hlt:
      // No virtual interrupt sources yet: a halted vCPU waits until reset.
      vm.vcpu.advanceRip();
      vm.halted = true;
      flushConsole(vm);
      vlog("VM " + vm.name + " halted");
      return false;
    case ExitKind.MemFault:
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
