// VT-x backend: VMXON on this CPU, capabilities from the VMX MSRs, and the
// factory for VmxVcpu. SDM vol 3 chapters 23-24 and appendix A.

import { ExitCtl, EntryCtl, PinCtl, ProcCtl, ProcCtl2, VmxMsr, vmxon, VmxStatus, host_tables } from "../../hw/vmx";
import { TableFormat, Vcpu, VirtBackend } from "../vcpu";
import { allocFrame, allocFrames, cpuidReg, phys_fill, phys_store32, rdmsr, read_cr0, read_cr4, wrmsr, write_cr0, write_cr4 } from "../hw";
import { VmxVcpu } from "./vcpu";
import { VmxCaps } from "./caps";
import { hex0x } from "../../lib/fmt";

const CR4_VMXE: u64 = 1 << 13;
const FC_LOCK: u64 = 1;
const FC_VMX_OUTSIDE_SMX: u64 = 1 << 2;


/**
 * The allowed settings of a control from its capability MSR (SDM A.3-A.5):
 * bits 31:0 are allowed-0 (must be 1), bits 63:32 allowed-1 (may be 1).
 * Returns `want` adjusted, with `need` checked by the caller.
 */
function adjust(msr: u32, want: u32): u32 {
  const cap = rdmsr(msr);
  const must = <u32>cap;
  const may = <u32>(cap >> 32);
  return (want | must) & may;
}

export class VmxBackend extends VirtBackend {
  caps: VmxCaps = new VmxCaps();
  vmxonPa: u64 = 0;

  name(): string {
    return "vmx";
  }

  enable(): string {
    const c = this.caps;
    if ((cpuidReg(1, 0, 2) & (1 << 5)) == 0) return "CPUID.1:ECX.VMX is clear";
    // IA32_FEATURE_CONTROL, SDM 23.7: locked without VMX-outside-SMX = off by firmware.
    let fc = rdmsr(VmxMsr.FeatureControl);
    if ((fc & FC_LOCK) != 0 && (fc & FC_VMX_OUTSIDE_SMX) == 0) return "VMX disabled by firmware (IA32_FEATURE_CONTROL locked)";
    if ((fc & FC_LOCK) == 0) wrmsr(VmxMsr.FeatureControl, fc | FC_LOCK | FC_VMX_OUTSIDE_SMX);

    const basic = rdmsr(VmxMsr.Basic);
    c.revision = <u32>basic & 0x7fffffff;
    const trueCtls = (basic & (<u64>1 << 55)) != 0; // SDM A.1: TRUE_* MSRs exist
    if (((basic >> 50) & 0xf) != 6) return "VMCS memory type is not write-back";

    c.cr0Fixed0 = rdmsr(VmxMsr.Cr0Fixed0);
    c.cr0Fixed1 = rdmsr(VmxMsr.Cr0Fixed1);
    c.cr4Fixed0 = rdmsr(VmxMsr.Cr4Fixed0);
    c.cr4Fixed1 = rdmsr(VmxMsr.Cr4Fixed1);

    // Controls (SDM 24.6-24.8, A.3-A.5).
    c.pin = adjust(trueCtls ? VmxMsr.TruePinbasedCtls : VmxMsr.PinbasedCtls,
      PinCtl.ExternalInterruptExiting | PinCtl.NmiExiting | PinCtl.PreemptionTimer);
    c.preempt = (c.pin & PinCtl.PreemptionTimer) != 0;
    const wantProc: u32 = ProcCtl.HltExiting | ProcCtl.UseIoBitmaps | ProcCtl.UseMsrBitmaps |
      ProcCtl.ActivateSecondary | ProcCtl.MwaitExiting | ProcCtl.MonitorExiting | ProcCtl.RdpmcExiting;
    c.proc = adjust(trueCtls ? VmxMsr.TrueProcbasedCtls : VmxMsr.ProcbasedCtls, wantProc);
    if ((c.proc & ProcCtl.ActivateSecondary) == 0) return "no secondary controls (needed for EPT)";
    const needProc: u32 = ProcCtl.UseIoBitmaps | ProcCtl.UseMsrBitmaps | ProcCtl.HltExiting | ProcCtl.RdpmcExiting;
    if ((c.proc & needProc) != needProc) return "I/O or MSR bitmaps, HLT or RDPMC exiting unsupported";
    // INVPCID: with "enable INVPCID" 0 it raises #UD in VMX non-root operation (SDM 24.6.2 table 24-7),
    // while CPUID still shows it; Linux's global TLB flush uses it when CPUID does. With EPT and VPID it
    // only touches the guest's own VPID-tagged mappings (SDM 28.3.3.1), so it needs no exit.
    c.proc2 = adjust(VmxMsr.ProcbasedCtls2,
      ProcCtl2.EnableEpt | ProcCtl2.UnrestrictedGuest | ProcCtl2.EnableVpid | ProcCtl2.EnableInvpcid);
    if ((c.proc2 & ProcCtl2.EnableEpt) == 0) return "no EPT";
    if ((c.proc2 & ProcCtl2.UnrestrictedGuest) == 0) return "no unrestricted guest";
    c.vpid = (c.proc2 & ProcCtl2.EnableVpid) != 0;
    c.exit = adjust(trueCtls ? VmxMsr.TrueExitCtls : VmxMsr.ExitCtls,
      ExitCtl.HostAddressSpaceSize | ExitCtl.AckInterruptOnExit | ExitCtl.SaveEfer | ExitCtl.LoadEfer |
      ExitCtl.SavePat | ExitCtl.LoadPat);
    if ((c.exit & ExitCtl.HostAddressSpaceSize) == 0) return "64-bit host not allowed";
    if ((c.exit & (ExitCtl.SaveEfer | ExitCtl.LoadEfer)) != (ExitCtl.SaveEfer | ExitCtl.LoadEfer)) return "cannot switch IA32_EFER";
    c.entry = adjust(trueCtls ? VmxMsr.TrueEntryCtls : VmxMsr.EntryCtls, EntryCtl.LoadEfer | EntryCtl.LoadPat);
    c.entry &= ~(<u32>EntryCtl.Ia32eModeGuest);
    if ((c.entry & EntryCtl.LoadEfer) == 0) return "cannot load guest IA32_EFER";

    const ev = rdmsr(VmxMsr.EptVpidCap); // SDM A.10
    if ((ev & (1 << 6)) == 0) return "EPT has no 4-level walk";
    c.eptWb = (ev & (1 << 14)) != 0;
    c.ept2m = (ev & (1 << 16)) != 0;
    c.inveptSingle = (ev & (1 << 20)) != 0 && (ev & (1 << 25)) != 0;
    c.invvpidSingle = (ev & (<u64>1 << 32)) != 0 && (ev & (<u64>1 << 41)) != 0;
    c.preemptShift = <u32>rdmsr(VmxMsr.Misc) & 0x1f; // SDM A.6

    // CR0/CR4 fixed bits (SDM 23.8, A.7-A.8), then VMXON (SDM 24.11.5).
    write_cr0((read_cr0() | c.cr0Fixed0) & c.cr0Fixed1);
    write_cr4((read_cr4() | c.cr4Fixed0 | CR4_VMXE) & c.cr4Fixed1);
    this.vmxonPa = allocFrame();
    phys_store32(this.vmxonPa, c.revision);
    const s = vmxon(this.vmxonPa);
    if (s != VmxStatus.Ok) return "VMXON failed (status " + s.toString() + ")";

    // Every port and MSR exits: the allow-lists live in common code.
    c.ioBitmapA = allocFrame();
    c.ioBitmapB = allocFrame();
    c.msrBitmap = allocFrame();
    phys_fill(c.ioBitmapA, 0xff, 4096);
    phys_fill(c.ioBitmapB, 0xff, 4096);
    phys_fill(c.msrBitmap, 0xff, 4096);
    host_tables(changetype<usize>(c.host));
    return "";
  }

  createVcpu(rootPa: u64, tag: u32): Vcpu {
    return new VmxVcpu(this.caps, rootPa, tag);
  }

  tableFormat(): TableFormat {
    // SDM 28.3.2: R|W|X in every entry; leaves carry the memory type (6 = WB)
    // in bits 5:3, and bit 7 marks a 2 MiB leaf.
    const f = new TableFormat();
    const mt: u64 = this.caps.eptWb ? 6 << 3 : 0;
    f.tableBits = 7;
    f.leaf4kBits = 7 | mt;
    f.leaf2mBits = 7 | mt | 0x80;
    f.large = this.caps.ept2m;
    return f;
  }

  flushGuestTlb(vcpu: Vcpu): void {
    (<VmxVcpu>vcpu).invalidate();
  }

  describe(): string {
    const c = this.caps;
    return "VT-x: EPT" + (c.ept2m ? "+2M" : "") + ", unrestricted guest" + (c.vpid ? ", VPID" : "") +
      (c.preempt ? ", preemption timer (TSC>>" + c.preemptShift.toString() + ")" : ", no preemption timer") +
      ", revision " + hex0x(c.revision);
  }
}
