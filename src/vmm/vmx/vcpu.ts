// A VT-x vCPU: its VMCS, entry through hw_vmx_run, and the translation of
// VM exits into the common ExitInfo. SDM vol 3 chapters 24-27.

import {
  EntryCtl, ExitCtl, ProcCtl2, VmcsField, VmxExit, VmxStatus,
  invept, invvpid, vmclear, vmptrld, vmread, vmwrite, vmx_run,
} from "../../hw/vmx";
import { ExitKind, Vcpu, Vector } from "../vcpu";
import { Reg, regsPtr } from "../regs";
import { allocFrame, phys_store32, phys_store64, rdmsr, read_cr0, read_cr3, read_cr4 } from "../hw";
import { VmxCaps } from "./vmx";
import { hex0x } from "../../lib/fmt";

const MSR_EFER: u32 = 0xc0000080;
const MSR_PAT: u32 = 0x277;
const EFER_LME: u64 = 1 << 8;
const EFER_LMA: u64 = 1 << 10;
const CR0_PE: u64 = 1;
const CR0_PG: u64 = 1 << 31;
const CR4_VMXE: u64 = 1 << 13;
const PAT_DEFAULT: u64 = 0x0007040600070406;

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

  constructor(public caps: VmxCaps, public eptRoot: u64, public vpid: u32) {
    super();
    this.vmcs = allocFrame();
    phys_store32(this.vmcs, caps.revision); // SDM 24.2: revision identifier
    vmclear(this.vmcs);
    // Bits forced to 1 or 0 by the fixed MSRs, except PE/PG which
    // unrestricted guest lets the guest own (SDM 26.3.1.1).
    this.cr0Mask = (caps.cr0Fixed0 | ~caps.cr0Fixed1) & ~(CR0_PE | CR0_PG) & 0xffffffff;
    this.cr4Mask = (caps.cr4Fixed0 | ~caps.cr4Fixed1) & 0xffffffff;
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
    w(VmcsField.ExceptionBitmap, 0);
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
    w(VmcsField.HostFsBase, rdmsr(0xc0000100));
    w(VmcsField.HostGsBase, rdmsr(0xc0000101));
    w(VmcsField.HostSysenterCs, rdmsr(0x174) & 0xffffffff);
    w(VmcsField.HostSysenterEsp, rdmsr(0x175));
    w(VmcsField.HostSysenterEip, rdmsr(0x176));
    w(VmcsField.HostIa32Efer, rdmsr(MSR_EFER));
    if ((this.caps.exit & ExitCtl.LoadPat) != 0) w(VmcsField.HostIa32Pat, rdmsr(MSR_PAT));
  }

  resetRealMode(ip: u64, sp: u64): void {
    this.load();
    // Real mode under unrestricted guest, SDM 26.3.1.2: CS type 11, data 3,
    // DPL 0, TR a busy TSS (type 11), LDTR unusable (bit 16).
    const segs: StaticArray<VmcsField> = [
      VmcsField.GuestEsSelector, VmcsField.GuestCsSelector, VmcsField.GuestSsSelector,
      VmcsField.GuestDsSelector, VmcsField.GuestFsSelector, VmcsField.GuestGsSelector,
    ];
    for (let i = 0; i < 6; i++) {
      const sel = segs[i];
      w(sel, 0);
      w(<VmcsField>(VmcsField.GuestEsLimit + 2 * i), 0xffff);
      w(<VmcsField>(VmcsField.GuestEsAccessRights + 2 * i), i == 1 ? 0x9b : 0x93);
      w(<VmcsField>(VmcsField.GuestEsBase + 2 * i), 0);
    }
    w(VmcsField.GuestLdtrSelector, 0);
    w(VmcsField.GuestLdtrLimit, 0xffff);
    w(VmcsField.GuestLdtrAccessRights, 0x10000);
    w(VmcsField.GuestLdtrBase, 0);
    w(VmcsField.GuestTrSelector, 0);
    w(VmcsField.GuestTrLimit, 0xffff);
    w(VmcsField.GuestTrAccessRights, 0x8b);
    w(VmcsField.GuestTrBase, 0);
    w(VmcsField.GuestGdtrBase, 0);
    w(VmcsField.GuestGdtrLimit, 0xffff);
    w(VmcsField.GuestIdtrBase, 0);
    w(VmcsField.GuestIdtrLimit, 0x3ff);
    // CR0: ET and whatever VMX forces (NE); the guest reads its shadow.
    const cr0: u64 = 0x10;
    w(VmcsField.GuestCr0, (cr0 | (this.caps.cr0Fixed0 & ~(CR0_PE | CR0_PG))) & this.caps.cr0Fixed1);
    w(VmcsField.Cr0ReadShadow, cr0);
    w(VmcsField.GuestCr4, (this.caps.cr4Fixed0 | CR4_VMXE) & this.caps.cr4Fixed1);
    w(VmcsField.Cr4ReadShadow, 0);
    w(VmcsField.GuestCr3, 0);
    w(VmcsField.GuestDr7, 0x400);
    w(VmcsField.GuestRsp, sp);
    w(VmcsField.GuestRip, ip);
    w(VmcsField.GuestRflags, 2);
    w(VmcsField.GuestPendingDebugExceptions, 0);
    w(VmcsField.GuestInterruptibilityState, 0);
    w(VmcsField.GuestActivityState, 0);
    w(VmcsField.GuestSysenterCs, 0);
    w(VmcsField.GuestSysenterEsp, 0);
    w(VmcsField.GuestSysenterEip, 0);
    w(VmcsField.GuestIa32Debugctl, 0);
    w(VmcsField.GuestIa32Efer, 0);
    w(VmcsField.GuestIa32Pat, PAT_DEFAULT);
    w(VmcsField.VmEntryControls, this.caps.entry);
    w(VmcsField.VmEntryInterruptionInfo, 0);
    for (let i = 0; i < Reg.Count; i++) this.regs[i] = 0;
    this.invalidate();
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
        apicEoi();
        break;
      case VmxExit.ExceptionOrNmi:
        e.kind = ExitKind.Interrupt; // an NMI: nothing to forward in this monitor
        break;
      case VmxExit.CrAccess:
        if (!this.movToCr(r(VmcsField.ExitQualification))) {
          e.kind = ExitKind.Unhandled;
          e.detail = "unsupported control-register access";
        }
        break;
      case VmxExit.Invd:
        this.advanceRip(); // INVD exits unconditionally (SDM 25.1.2): a no-op for the guest
        break;
      case VmxExit.Getsec:
      case VmxExit.Xsetbv:
      case VmxExit.MwaitInstruction:
      case VmxExit.MonitorInstruction:
        this.injectException(Vector.UD, 0, false);
        break;
      default:
        // VMX instructions (reasons 18-27, 50, 53) and others: VMX is hidden
        // from guests, so #UD (SDM 25.1.2: they exit unconditionally).
        if ((basic >= 18 && basic <= 27) || basic == 50 || basic == 53) {
          this.injectException(Vector.UD, 0, false);
        } else {
          e.kind = ExitKind.Unhandled;
          e.detail = "VMX exit reason " + basic.toString();
        }
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

  protectedMode(): bool {
    this.load();
    return (r(VmcsField.GuestCr0) & CR0_PE) != 0;
  }
}

/** xAPIC EOI register (SDM vol 3 10.8.5) through the direct map. */
function apicEoi(): void {
  const base = rdmsr(0x1b) & 0xfffff000;
  phys_store32(base + 0xb0, 0);
}
