// A VT-x vCPU: its VMCS, entry through hw_vmx_run, and the translation of
// VM exits into the common ExitInfo. SDM vol 3 chapters 24-27.

import {
  EntryCtl, ExitCtl, ProcCtl, ProcCtl2, VmcsField, VmxExit, VmxStatus,
  invept, invvpid, vmclear, vmptrld, vmread, vmwrite, vmx_run,
} from "../../hw/vmx";
import { ExitKind, REFLECTED_EXCEPTIONS, SysMsr, Vcpu, Vector } from "../vcpu";
import { CpuState, Seg } from "../cpu-state";
import { hostApicEoi } from "../../platform/host-apic";
import { read_dr6, write_dr6 } from "../../hw/intrinsics";
import { Reg, regsPtr } from "../regs";
import { allocFrame, phys_store32, phys_store64, rdmsr, read_cr0, read_cr3, read_cr4, wrmsr } from "../hw";
import { VmxCaps } from "./caps";
import { hex0x } from "../../lib/fmt";
import { Cr4, Msr, PAT_POWER_ON } from "../../hw/msr";

/** MSR numbers of the unswitched SysMsr slots, and the VMCS fields of the others. */
const SYS_MSRS: StaticArray<u32> = [Msr.IA32_STAR, Msr.IA32_LSTAR, Msr.IA32_CSTAR, Msr.IA32_FMASK, Msr.IA32_KERNEL_GS_BASE];
const SYS_FIELDS: StaticArray<VmcsField> = [
  VmcsField.GuestFsBase, VmcsField.GuestGsBase, VmcsField.GuestSysenterCs, VmcsField.GuestSysenterEsp, VmcsField.GuestSysenterEip,
];

const EFER_LME: u64 = 1 << 8;
const EFER_LMA: u64 = 1 << 10;
const CR0_PE: u64 = 1;
const CR0_PG: u64 = 1 << 31;
const CR4_VMXE: u64 = 1 << 13;

/** The VMCS currently loaded on this CPU (vmptrld is skipped when it matches). */
let currentVmcs: u64 = 0;

function w(field: VmcsField, value: u64): void {
  vmwrite(<u64>field, value);
}
function r(field: VmcsField): u64 {
  return vmread(<u64>field);
}

export class VmxVcpu extends Vcpu {
  vmcs: u64;
  launched: bool = false;
  /** CR0/CR4 bits the guest may not own (fixed by VMX): masked and shadowed. */
  cr0Mask: u64;
  cr4Mask: u64;
  desc: StaticArray<u64> = new StaticArray<u64>(2);
  /** STAR, LSTAR, CSTAR, FMASK, KERNEL_GS_BASE while another vCPU has the CPU (VT-x switches none of them). */
  sys: StaticArray<u64> = new StaticArray<u64>(SysMsr.Unswitched);
  /** The intercepted exception of the last ExitKind.Exception exit, as VM-exit interruption information. */
  private reflectInfo: u32 = 0;
  private reflectError: u32 = 0;
  private reflectLen: u32 = 0;

  constructor(public caps: VmxCaps, public eptRoot: u64, public vpid: u32) {
    super();
    this.vmcs = allocFrame();
    phys_store32(this.vmcs, caps.revision); // SDM 24.2: revision identifier
    vmclear(this.vmcs);
    // Bits forced to 1 or 0 by the fixed MSRs, except PE/PG which
    // unrestricted guest lets the guest own (SDM 26.3.1.1).
    this.cr0Mask = (caps.cr0Fixed0 | ~caps.cr0Fixed1) & ~(CR0_PE | CR0_PG) & 0xffffffff;
    this.cr4Mask = (caps.cr4Fixed0 | ~caps.cr4Fixed1) & 0xffffffff;
    this.invpcid = (caps.proc2 & ProcCtl2.EnableInvpcid) != 0;
    this.load();
    this.setupControls();
    this.setupHost();
  }

  private load(): void {
    if (currentVmcs != this.vmcs) {
      vmptrld(this.vmcs);
      currentVmcs = this.vmcs;
    }
  }

  private setupControls(): void {
    const c = this.caps;
    w(VmcsField.PinBasedControls, c.pin);
    w(VmcsField.ProcBasedControls, c.proc);
    let p2 = c.proc2;
    if (this.vpid == 0) p2 &= ~(<u32>ProcCtl2.EnableVpid);
    w(VmcsField.ProcBasedControls2, p2);
    w(VmcsField.VmExitControls, c.exit);
    w(VmcsField.VmEntryControls, c.entry);
    w(VmcsField.ExceptionBitmap, REFLECTED_EXCEPTIONS);
    w(VmcsField.PageFaultErrorCodeMask, 0);
    w(VmcsField.PageFaultErrorCodeMatch, 0);
    w(VmcsField.Cr3TargetCount, 0);
    w(VmcsField.VmExitMsrStoreCount, 0);
    w(VmcsField.VmExitMsrLoadCount, 0);
    w(VmcsField.VmEntryMsrLoadCount, 0);
    w(VmcsField.VmEntryInterruptionInfo, 0);
    w(VmcsField.IoBitmapA, c.ioBitmapA);
    w(VmcsField.IoBitmapB, c.ioBitmapB);
    w(VmcsField.MsrBitmap, c.msrBitmap);
    // SDM 24.6.11: memory type WB (6) or UC (0), walk length 4 - 1 in bits 5:3.
    w(VmcsField.EptPointer, this.eptRoot | (c.eptWb ? 6 : 0) | (3 << 3));
    if (this.vpid != 0) w(VmcsField.Vpid, this.vpid);
    w(VmcsField.Cr0GuestHostMask, this.cr0Mask);
    w(VmcsField.Cr4GuestHostMask, this.cr4Mask);
    w(VmcsField.VmcsLinkPointer, u64.MAX_VALUE); // SDM 26.3.1.5
  }

  private setupHost(): void {
    // SDM 26.2.2-26.2.4: host state checked at every entry.
    const h = this.caps.host;
    w(VmcsField.HostCr0, read_cr0());
    w(VmcsField.HostCr3, read_cr3());
    w(VmcsField.HostCr4, read_cr4());
    w(VmcsField.HostCsSelector, h[6] & 0xf8);
    w(VmcsField.HostSsSelector, h[7] & 0xf8);
    w(VmcsField.HostDsSelector, h[8] & 0xf8);
    w(VmcsField.HostEsSelector, h[9] & 0xf8);
    w(VmcsField.HostFsSelector, h[10] & 0xf8);
    w(VmcsField.HostGsSelector, h[11] & 0xf8);
    w(VmcsField.HostTrSelector, h[4] & 0xf8);
    w(VmcsField.HostTrBase, h[5]);
    w(VmcsField.HostGdtrBase, h[0]);
    w(VmcsField.HostIdtrBase, h[2]);
    w(VmcsField.HostFsBase, rdmsr(Msr.IA32_FS_BASE));
    w(VmcsField.HostGsBase, rdmsr(Msr.IA32_GS_BASE));
    w(VmcsField.HostSysenterCs, rdmsr(Msr.IA32_SYSENTER_CS) & 0xffffffff);
    w(VmcsField.HostSysenterEsp, rdmsr(Msr.IA32_SYSENTER_ESP));
    w(VmcsField.HostSysenterEip, rdmsr(Msr.IA32_SYSENTER_EIP));
    w(VmcsField.HostIa32Efer, rdmsr(Msr.IA32_EFER));
    if ((this.caps.exit & ExitCtl.LoadPat) != 0) w(VmcsField.HostIa32Pat, rdmsr(Msr.IA32_PAT));
  }

  setState(st: CpuState): void {
    this.load();
    for (let i = 0; i < Seg.Count; i++) {
      const g = st.segs[i];
      w(<VmcsField>(VmcsField.GuestEsSelector + 2 * i), g.sel);
      w(<VmcsField>(VmcsField.GuestEsLimit + 2 * i), g.limit);
      w(<VmcsField>(VmcsField.GuestEsAccessRights + 2 * i), toAccessRights(g.attr));
      w(<VmcsField>(VmcsField.GuestEsBase + 2 * i), g.base);
    }
    w(VmcsField.GuestGdtrBase, st.gdtBase);
    w(VmcsField.GuestGdtrLimit, st.gdtLimit);
    w(VmcsField.GuestIdtrBase, st.idtBase);
    w(VmcsField.GuestIdtrLimit, st.idtLimit);
    // CR0/CR4: VMX's fixed bits (NE, VMXE) are set in the real registers; the guest reads its own values
    // from the shadows. Unrestricted guest lets it own PE and PG (SDM 26.3.1.1).
    w(VmcsField.Cr0ReadShadow, st.cr0);
    w(VmcsField.GuestCr0, (st.cr0 | (this.caps.cr0Fixed0 & ~(CR0_PE | CR0_PG))) & this.caps.cr0Fixed1);
    w(VmcsField.Cr4ReadShadow, st.cr4);
    w(VmcsField.GuestCr4, (st.cr4 | this.caps.cr4Fixed0 | CR4_VMXE) & this.caps.cr4Fixed1);
    w(VmcsField.GuestCr3, st.cr3);
    w(VmcsField.GuestIa32Efer, st.efer);
    // SDM 26.2.1.3/26.3.1.1: "IA-32e mode guest" must equal EFER.LMA.
    let entry = this.caps.entry;
    if ((st.efer & EFER_LMA) != 0) entry |= EntryCtl.Ia32eModeGuest;
    w(VmcsField.VmEntryControls, entry);
    w(VmcsField.GuestRsp, st.rsp);
    w(VmcsField.GuestRip, st.rip);
    w(VmcsField.GuestRflags, st.rflags);
    w(VmcsField.GuestDr7, 0x400);
    w(VmcsField.GuestPendingDebugExceptions, 0);
    w(VmcsField.GuestInterruptibilityState, 0);
    w(VmcsField.GuestActivityState, 0);
    w(VmcsField.GuestSysenterCs, 0);
    w(VmcsField.GuestSysenterEsp, 0);
    w(VmcsField.GuestSysenterEip, 0);
    w(VmcsField.GuestIa32Debugctl, 0);
    w(VmcsField.GuestIa32Pat, PAT_POWER_ON);
    w(VmcsField.VmEntryInterruptionInfo, 0);
    for (let i = 0; i < SysMsr.Unswitched; i++) this.sys[i] = 0;
    this.invalidate();
  }

  getState(st: CpuState): void {
    this.load();
    for (let i = 0; i < Seg.Count; i++) {
      st.segs[i].set(<u32>r(<VmcsField>(VmcsField.GuestEsSelector + 2 * i)), r(<VmcsField>(VmcsField.GuestEsBase + 2 * i)),
        <u32>r(<VmcsField>(VmcsField.GuestEsLimit + 2 * i)), fromAccessRights(<u32>r(<VmcsField>(VmcsField.GuestEsAccessRights + 2 * i))));
    }
    st.gdtBase = r(VmcsField.GuestGdtrBase);
    st.gdtLimit = <u32>r(VmcsField.GuestGdtrLimit);
    st.idtBase = r(VmcsField.GuestIdtrBase);
    st.idtLimit = <u32>r(VmcsField.GuestIdtrLimit);
    const m0 = this.cr0Mask;
    st.cr0 = (r(VmcsField.GuestCr0) & ~m0) | (r(VmcsField.Cr0ReadShadow) & m0);
    st.cr4 = this.cr4();
    st.cr3 = r(VmcsField.GuestCr3);
    st.efer = r(VmcsField.GuestIa32Efer);
    st.rsp = r(VmcsField.GuestRsp);
    st.rip = r(VmcsField.GuestRip);
    st.rflags = r(VmcsField.GuestRflags);
  }

  /** INVEPT/INVVPID single-context for this vCPU (SDM 28.4.3). */
  invalidate(): void {
    this.desc[0] = this.eptRoot | (this.caps.eptWb ? 6 : 0) | (3 << 3);
    this.desc[1] = 0;
    invept(this.caps.inveptSingle ? 1 : 2, changetype<usize>(this.desc));
    if (this.vpid != 0) {
      this.desc[0] = this.vpid;
      this.desc[1] = 0;
      invvpid(this.caps.invvpidSingle ? 1 : 2, changetype<usize>(this.desc));
    }
  }

  run(sliceTsc: u64): void {
    this.load();
    const e = this.exit;
    e.kind = ExitKind.Handled;
    e.detail = "";
    if (this.caps.preempt) {
      let v = sliceTsc >> this.caps.preemptShift;
      if (v == 0) v = 1;
      if (v > 0xffffffff) v = 0xffffffff;
      w(VmcsField.PreemptionTimerValue, v);
    }
    const s = vmx_run(regsPtr(this.regs), this.launched ? 1 : 0);
    if (s != VmxStatus.Ok) {
      e.kind = ExitKind.EntryFailed;
      e.code = s;
      e.detail = (this.launched ? "VMRESUME" : "VMLAUNCH") + " failed, status " + s.toString() +
        (s == VmxStatus.FailValid ? ", VM-instruction error " + r(VmcsField.VmInstructionError).toString() : "");
      return;
    }
    this.launched = true;
    const reason = r(VmcsField.ExitReason);
    const basic = <u32>(reason & 0xffff);
    e.code = reason;
    e.insnLen = <u32>r(VmcsField.VmExitInstructionLength);
    if ((reason & 0x80000000) != 0) {
      // SDM 26.8: VM-entry failure during or after loading guest state.
      e.kind = ExitKind.InvalidState;
      e.detail = basic == VmxExit.InvalidGuestState ? "invalid guest state" : "VM entry failed, reason " + basic.toString();
      this.launched = false;
      return;
    }
    // SDM 27.2.4: an exit during event delivery leaves the event in the IDT-vectoring information; it is
    // delivered again at the next entry (unless the handler injects something first, which replaces it).
    const idt = <u32>r(VmcsField.IdtVectoringInfo);
    if ((idt & 0x80000000) != 0) {
      w(VmcsField.VmEntryInterruptionInfo, idt & ~(<u32>0x1000));
      if ((idt & 0x800) != 0) w(VmcsField.VmEntryExceptionErrorCode, r(VmcsField.IdtVectoringErrorCode));
      w(VmcsField.VmEntryInstructionLength, e.insnLen);
    }
    switch (basic) {
      case VmxExit.Cpuid: e.kind = ExitKind.Cpuid; break;
      case VmxExit.Hlt: e.kind = ExitKind.Hlt; break;
      case VmxExit.Rdmsr: e.kind = ExitKind.MsrRead; break;
      case VmxExit.Wrmsr: e.kind = ExitKind.MsrWrite; break;
      case VmxExit.IoInstruction: {
        const q = r(VmcsField.ExitQualification); // SDM table 27-5
        e.kind = ExitKind.Io;
        e.ioSize = <u32>(q & 7) + 1;
        e.ioIn = (q & 8) != 0;
        e.ioString = (q & 16) != 0;
        e.ioPort = <u32>(q >> 16) & 0xffff;
        break;
      }
      case VmxExit.EptViolation: {
        const q = r(VmcsField.ExitQualification); // SDM table 27-7
        e.kind = ExitKind.MemFault;
        e.gpa = r(VmcsField.GuestPhysicalAddress);
        e.write = (q & 2) != 0;
        e.fetch = (q & 4) != 0;
        break;
      }
      case VmxExit.EptMisconfig:
        e.kind = ExitKind.Unhandled;
        e.detail = "EPT misconfiguration at " + hex0x(r(VmcsField.GuestPhysicalAddress));
        break;
      case VmxExit.TripleFault: e.kind = ExitKind.TripleFault; break;
      case VmxExit.PreemptionTimer: e.kind = ExitKind.Preempted; break;
      case VmxExit.ExternalInterrupt:
        // Acknowledged on exit (ExitCtl.AckInterruptOnExit): end it at the xAPIC.
        e.kind = ExitKind.Interrupt;
        hostApicEoi();
        break;
      case VmxExit.ExceptionOrNmi: {
        // SDM 24.9.2: interruption type in bits 10:8 (2 NMI, 3 hardware, 5 privileged software, 6 software).
        const info = <u32>r(VmcsField.VmExitInterruptionInfo);
        if (((info >> 8) & 7) == 2) {
          e.kind = ExitKind.Interrupt; // an NMI: nothing to forward in this monitor
          break;
        }
        e.kind = ExitKind.Exception;
        e.vector = info & 0xff;
        e.hasError = (info & 0x800) != 0;
        e.errorCode = e.hasError ? <u32>r(VmcsField.VmExitInterruptionErrorCode) : 0;
        this.reflectInfo = info;
        this.reflectError = e.errorCode;
        this.reflectLen = e.insnLen;
        if (e.vector == Vector.DB) {
          // SDM 27.1: a #DB that exits leaves DR6 alone; the exit qualification has B0-B3, BD, BS.
          const q = r(VmcsField.ExitQualification) & 0x600f;
          write_dr6(<i64>((<u64>read_dr6() & ~(<u64>0x600f)) | q));
        }
        break;
      }
      case VmxExit.Rdpmc: e.kind = ExitKind.Rdpmc; break;
      case VmxExit.InterruptWindow: e.kind = ExitKind.InterruptWindow; break;
      case VmxExit.Xsetbv: e.kind = ExitKind.Xsetbv; break;
      case VmxExit.Invd: e.kind = ExitKind.Invd; break; // exits unconditionally (SDM 25.1.2)
      case VmxExit.CrAccess:
        if (!this.movToCr(r(VmcsField.ExitQualification))) {
          e.kind = ExitKind.Unhandled;
          e.detail = "unsupported control-register access";
        }
        break;
      case VmxExit.Getsec:
      case VmxExit.MwaitInstruction:
      case VmxExit.MonitorInstruction:
      // the VMX instructions exit unconditionally (SDM 25.1.2)
      case VmxExit.Vmcall:
      case VmxExit.Vmclear:
      case VmxExit.Vmlaunch:
      case VmxExit.Vmptrld:
      case VmxExit.Vmptrst:
      case VmxExit.Vmread:
      case VmxExit.Vmresume:
      case VmxExit.Vmwrite:
      case VmxExit.Vmxoff:
      case VmxExit.Vmxon:
      case VmxExit.Invept:
      case VmxExit.Invvpid:
        e.kind = ExitKind.VirtInsn;
        break;
      default:
        e.kind = ExitKind.Unhandled;
        e.detail = "VMX exit reason " + basic.toString();
    }
  }

  /** MOV to CR0/CR4 touching a masked bit (SDM 27.2.1 table 27-3): keep the fixed bits. */
  private movToCr(q: u64): bool {
    const cr = <u32>(q & 15);
    const type = <u32>(q >> 4) & 3;
    const reg = <i32>(q >> 8) & 15;
    if (type != 0) return false;
    const v = reg == Reg.Rsp ? r(VmcsField.GuestRsp) : this.regs[reg];
    if (cr == 0) {
      // MOV to CR0 (SDM vol 2B): #GP(0) for bits 63:32, PG without PE, NW without CD.
      if ((v >> 32) != 0 || ((v & CR0_PG) != 0 && (v & CR0_PE) == 0) || ((v & (1 << 29)) != 0 && (v & (1 << 30)) == 0)) {
        this.injectException(Vector.GP, 0, true);
        return true;
      }
      w(VmcsField.Cr0ReadShadow, v);
      w(VmcsField.GuestCr0, (v | (this.caps.cr0Fixed0 & ~(CR0_PE | CR0_PG))) & this.caps.cr0Fixed1);
      // SDM 26.3.1.1/26.2.1.3: IA-32e mode guest follows EFER.LME when paging turns on/off.
      const efer = r(VmcsField.GuestIa32Efer);
      let entry = <u32>r(VmcsField.VmEntryControls);
      if ((v & CR0_PG) != 0 && (efer & EFER_LME) != 0) {
        w(VmcsField.GuestIa32Efer, efer | EFER_LMA);
        entry |= EntryCtl.Ia32eModeGuest;
      } else {
        w(VmcsField.GuestIa32Efer, efer & ~EFER_LMA);
        entry &= ~(<u32>EntryCtl.Ia32eModeGuest);
      }
      w(VmcsField.VmEntryControls, entry);
    } else if (cr == 4) {
      // SDM 2.5 / MOV to CR4: #GP(0) for reserved bits and features the guest does not have (VMX, SMX hidden).
      const allowed = this.caps.cr4Fixed1 & ~(CR4_VMXE | Cr4.SMXE);
      if ((v & ~allowed) != 0) {
        this.injectException(Vector.GP, 0, true);
        return true;
      }
      w(VmcsField.Cr4ReadShadow, v);
      w(VmcsField.GuestCr4, (v | this.caps.cr4Fixed0 | CR4_VMXE) & this.caps.cr4Fixed1);
    } else {
      return false;
    }
    this.advanceRip();
    return true;
  }

  rip(): u64 {
    this.load();
    return r(VmcsField.GuestRip);
  }

  injectInterrupt(vector: u32): void {
    this.load();
    w(VmcsField.VmEntryInterruptionInfo, <u64>vector | (<u64>1 << 31)); // SDM 24.8.3: type 0, external interrupt
  }

  interruptible(): bool {
    this.load();
    // SDM 24.4.2: blocking by STI (bit 0) or MOV SS (bit 1); an event already queued for entry
    return (r(VmcsField.GuestRflags) & 0x200) != 0 && (r(VmcsField.GuestInterruptibilityState) & 3) == 0 &&
      (r(VmcsField.VmEntryInterruptionInfo) & 0x80000000) == 0;
  }

  requestInterruptWindow(on: bool): void {
    this.load();
    // SDM 25.2: interrupt-window exiting exits before the first instruction with RFLAGS.IF = 1 and no blocking.
    const p = <u32>r(VmcsField.ProcBasedControls);
    const want = on ? p | ProcCtl.InterruptWindowExiting : p & ~(<u32>ProcCtl.InterruptWindowExiting);
    if (want != p) w(VmcsField.ProcBasedControls, want);
  }

  reflectException(): void {
    this.load();
    // SDM 26.6.1.1: the same type and vector; software exceptions (types 5, 6) need the instruction length.
    w(VmcsField.VmEntryInterruptionInfo, this.reflectInfo & ~(<u32>0x1000));
    if ((this.reflectInfo & 0x800) != 0) w(VmcsField.VmEntryExceptionErrorCode, this.reflectError);
    w(VmcsField.VmEntryInstructionLength, this.reflectLen);
  }

  saveUnswitched(): void {
    const s = this.sys;
    s[SysMsr.Star] = rdmsr(Msr.IA32_STAR);
    s[SysMsr.Lstar] = rdmsr(Msr.IA32_LSTAR);
    s[SysMsr.Cstar] = rdmsr(Msr.IA32_CSTAR);
    s[SysMsr.Fmask] = rdmsr(Msr.IA32_FMASK);
    s[SysMsr.KernelGsBase] = rdmsr(Msr.IA32_KERNEL_GS_BASE);
  }

  loadUnswitched(): void {
    const s = this.sys;
    wrmsr(Msr.IA32_STAR, s[SysMsr.Star]);
    wrmsr(Msr.IA32_LSTAR, s[SysMsr.Lstar]);
    wrmsr(Msr.IA32_CSTAR, s[SysMsr.Cstar]);
    wrmsr(Msr.IA32_FMASK, s[SysMsr.Fmask]);
    wrmsr(Msr.IA32_KERNEL_GS_BASE, s[SysMsr.KernelGsBase]);
  }

  // The running vCPU owns the live unswitched MSRs (lazy-state.ts), so reads and writes go to the CPU;
  // the others are guest-state fields of the VMCS (SDM 24.4.1).
  readSysMsr(m: SysMsr): u64 {
    if (m < SysMsr.Unswitched) return rdmsr(SYS_MSRS[m]);
    this.load();
    return r(SYS_FIELDS[m - SysMsr.Unswitched]);
  }

  writeSysMsr(m: SysMsr, value: u64): void {
    if (m < SysMsr.Unswitched) {
      wrmsr(SYS_MSRS[m], value);
      return;
    }
    this.load();
    w(SYS_FIELDS[m - SysMsr.Unswitched], m == SysMsr.SysenterCs ? value & 0xffffffff : value);
  }

  advanceRip(): void {
    this.load();
    w(VmcsField.GuestRip, r(VmcsField.GuestRip) + this.exit.insnLen);
    // SDM 25.3: emulating an instruction ends blocking by STI / MOV SS.
    const st = r(VmcsField.GuestInterruptibilityState);
    if ((st & 3) != 0) w(VmcsField.GuestInterruptibilityState, st & ~(<u64>3));
  }

  injectException(vector: u32, errorCode: u32, hasError: bool): void {
    this.load();
    // SDM 24.8.3: type 3 = hardware exception; no error code in real mode (26.2.1.3).
    const deliver = hasError && this.protectedMode();
    let info: u64 = <u64>vector | (3 << 8) | (<u64>1 << 31);
    if (deliver) {
      info |= 1 << 11;
      w(VmcsField.VmEntryExceptionErrorCode, errorCode);
    }
    w(VmcsField.VmEntryInterruptionInfo, info);
  }

  efer(): u64 {
    this.load();
    return r(VmcsField.GuestIa32Efer);
  }

  setEfer(value: u64): bool {
    this.load();
    // SCE, LME, NXE only (bits 0, 8, 11); LMA is the processor's.
    if ((value & ~(<u64>0x901 | EFER_LMA)) != 0) return false;
    const lma = r(VmcsField.GuestIa32Efer) & EFER_LMA;
    w(VmcsField.GuestIa32Efer, (value & ~EFER_LMA) | lma);
    return true;
  }

  cr4(): u64 {
    this.load();
    const mask = this.cr4Mask;
    return (r(VmcsField.GuestCr4) & ~mask) | (r(VmcsField.Cr4ReadShadow) & mask);
  }

  protectedMode(): bool {
    this.load();
    return (r(VmcsField.GuestCr0) & CR0_PE) != 0;
  }
}

/** Packed attributes (cpu-state.ts) -> VMX access rights: bits 11:8 move to 15:12; 0 is unusable (bit 16). */
function toAccessRights(attr: u32): u32 {
  if (attr == 0) return 0x10000;
  return (attr & 0xff) | ((attr & 0xf00) << 4);
}

function fromAccessRights(ar: u32): u32 {
  if ((ar & 0x10000) != 0) return 0;
  return (ar & 0xff) | ((ar >> 4) & 0xf00);
}


