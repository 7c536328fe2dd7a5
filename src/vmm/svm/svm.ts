// AMD-V backend: EFER.SVME, the host save area, the shared I/O and MSR
// permission maps, and the factory for SvmVcpu. AMD APM vol 2 chapter 15.

import { EFER_SVME, SvmMsr, slice_timer_install } from "../../hw/svm";
import { TableFormat, Vcpu, VirtBackend } from "../vcpu";
import { allocFrame, allocFrames, cpuidReg, phys_fill, phys_load32, phys_store32, rdmsr, wrmsr } from "../hw";
import { SvmVcpu } from "./vcpu";
import { Apic, SLICE_VECTOR, SvmCaps } from "./caps";
import { Msr } from "../../hw/msr";
import { hostXapicBase } from "../../platform/host-apic";
import { tscHz } from "../../platform/tsc";
import { rdtsc } from "../hw";
import { mulDiv } from "../../lib/muldiv";

/**
 * The CR4 bits a guest may set on AMD-V (APM vol 2 3.1.3 figure 3-7; SDM vol 3 2.5): VME..OSXMMEXCPT always,
 * the others when this CPU has the feature. Never VMXE/SMXE (no VMX or SMX on AMD), PKE (the guest's CPUID
 * hides PKU) or CET (its MSRs are not switched). Without the intercept a CPU (QEMU TCG) may take a reserved
 * bit and fail the next VMRUN's consistency check (APM 15.5.1) instead of raising #GP.
 */
function guestCr4Bits(): u64 {
  let m: u64 = 0x7ff; // VME PVI TSD DE PSE PAE MCE PGE PCE OSFXSR OSXMMEXCPT
  const ecx1 = cpuidReg(1, 0, 2);
  const max = cpuidReg(0, 0, 0);
  const ebx7 = max >= 7 ? cpuidReg(7, 0, 1) : 0;
  const ecx7 = max >= 7 ? cpuidReg(7, 0, 2) : 0;
  if ((ecx7 & (1 << 2)) != 0) m |= 1 << 11; // UMIP
  if ((ecx7 & (1 << 16)) != 0) m |= 1 << 12; // LA57
  if ((ebx7 & 1) != 0) m |= 1 << 16; // FSGSBASE
  if ((ecx1 & (1 << 17)) != 0) m |= 1 << 17; // PCIDE
  if ((ecx1 & (1 << 26)) != 0) m |= 1 << 18; // OSXSAVE
  if ((ebx7 & (1 << 7)) != 0) m |= 1 << 20; // SMEP
  if ((ebx7 & (1 << 20)) != 0) m |= 1 << 21; // SMAP
  return m;
}

export class SvmBackend extends VirtBackend {
  caps: SvmCaps = new SvmCaps();

  name(): string {
    return "svm";
  }

  enable(): string {
    const c = this.caps;
    if ((cpuidReg(0x80000001, 0, 2) & (1 << 2)) == 0) return "CPUID.80000001:ECX.SVM is clear";
    if ((rdmsr(SvmMsr.VmCr) & (1 << 4)) != 0) return "SVM disabled by firmware (VM_CR.SVMDIS)"; // APM 15.4
    const edx = cpuidReg(0x8000000a, 0, 3); // APM 15.4 / CPUID Fn8000_000A
    if ((edx & 1) == 0) return "no nested paging (NPT)";
    c.nrips = (edx & (1 << 3)) != 0;
    c.flushByAsid = (edx & (1 << 6)) != 0;
    c.nasid = cpuidReg(0x8000000a, 0, 1);
    c.asidOwner = new StaticArray<u64>(c.nasid > 1 ? <i32>c.nasid : 2);
    c.cr4Allowed = guestCr4Bits();
    wrmsr(Msr.IA32_EFER, rdmsr(Msr.IA32_EFER) | EFER_SVME);
    c.hsave = allocFrame();
    wrmsr(SvmMsr.VmHsavePa, c.hsave); // APM 15.30.4
    c.hostVmcb = allocFrame();
    // APM 15.10.1 / 15.11: IOPM 12 KiB, MSRPM 8 KiB, physically contiguous.
    // All ones: every port and MSR exits; the allow-lists live in common code.
    c.iopm = allocFrames(3);
    c.msrpm = allocFrames(2);
    if (c.iopm == 0 || c.msrpm == 0) return "out of memory for the permission maps";
    phys_fill(c.iopm, 0xff, 3 * 4096);
    phys_fill(c.msrpm, 0xff, 2 * 4096);
    this.setupSliceTimer();
    return "";
  }

  /**
   * Time slices on AMD-V: the local APIC timer, one-shot, armed for each
   * slice; with the INTR intercept and V_INTR_MASKING its interrupt ends the
   * guest's run (#VMEXIT(INTR), APM 15.21.1). Without an xAPIC (x2APIC mode
   * or disabled) slices end at the first exit after their budget.
   */
  private setupSliceTimer(): void {
    const apic = hostXapicBase();
    if (apic == 0) return;
    slice_timer_install(<i32>SLICE_VECTOR, apic + Apic.Eoi);
    phys_store32(apic + Apic.Svr, 0x1ff); // software enable, spurious vector 0xFF
    phys_store32(apic + Apic.Tpr, 0);
    phys_store32(apic + Apic.DivideConfig, 0xb); // divide by 1
    // The timer counts the bus (or core crystal) clock, not the TSC (SDM vol 3 10.5.4): QEMU's runs at
    // 1 GHz beside a 2.6 GHz TSC, so a slice armed in TSC ticks lasted 2.6 times longer than the TSC budget
    // that ends the slices of a VM that exits. Measure the rate against the TSC, masked, for 10 ms.
    phys_store32(apic + Apic.LvtTimer, SLICE_VECTOR | 0x10000);
    phys_store32(apic + Apic.InitialCount, 0xffffffff);
    const t0 = rdtsc();
    let t1 = t0;
    while (t1 - t0 < tscHz / 100) t1 = rdtsc();
    const ticks = <u64>(0xffffffff - <u32>phys_load32(apic + Apic.CurrentCount));
    if (ticks > 0 && t1 > t0) {
      this.caps.sliceApicNum = ticks;
      this.caps.sliceTscDen = t1 - t0;
    }
    phys_store32(apic + Apic.InitialCount, 0);
    phys_store32(apic + Apic.LvtTimer, SLICE_VECTOR); // one-shot, unmasked
    this.caps.apic = apic;
  }

  createVcpu(rootPa: u64, tag: u32): Vcpu {
    return new SvmVcpu(this.caps, rootPa, tag);
  }

  tableFormat(): TableFormat {
    // APM 15.25.5: NPT entries are long-mode entries; every level needs
    // U/S=1 (nested walks are user accesses). P|RW|US, bit 7 = 2 MiB leaf.
    const f = new TableFormat();
    f.tableBits = 7;
    f.leaf4kBits = 7;
    f.leaf2mBits = 7 | 0x80;
    f.large = true;
    return f;
  }

  flushGuestTlb(vcpu: Vcpu): void {
    (<SvmVcpu>vcpu).flushNext = true;
  }

  describe(): string {
    const c = this.caps;
    return "AMD-V: NPT+2M, " + c.nasid.toString() + " ASIDs, " + (c.nrips ? "NRIPS" : "no NRIPS (next RIP computed)") +
      (c.apic != 0 ? ", APIC-timer slices (timer " + (mulDiv(tscHz, c.sliceApicNum, c.sliceTscDen) / 1000).toString() + " kHz)" :
        ", exit-bounded slices (no xAPIC)");
  }
}
