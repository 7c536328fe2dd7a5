// An AMD-V vCPU: its VMCB, entry through hw_svm_run, and the translation of
// #VMEXITs into the common ExitInfo. AMD APM vol 2 chapter 15, appendix B-C.

import { EFER_SVME, SvmExit, SvmIntercept1, SvmIntercept2, Vmcb, VmcbSeg, irq_window, svm_run } from "../../hw/svm";
import { ExitKind, REFLECTED_EXCEPTIONS, SysMsr, Vcpu, Vector } from "../vcpu";
import { CpuState, Seg } from "../cpu-state";
import { Reg, regsPtr } from "../regs";
import { allocFrame, phys_fill, phys_load16, phys_load32, phys_load64, phys_load8, phys_store16, phys_store32, phys_store64, phys_store8 } from "../hw";
import { Apic, SvmCaps } from "./caps";
import { hex0x } from "../../lib/fmt";
import { mulDiv } from "../../lib/muldiv";
import { Cr4, PAT_POWER_ON } from "../../hw/msr";


/** VMCB save-area offsets of the segments in Seg order (APM table B-2). */
const SEG_OFFSETS: StaticArray<u32> = [Vmcb.Es, Vmcb.Cs, Vmcb.Ss, Vmcb.Ds, Vmcb.Fs, Vmcb.Gs, Vmcb.Ldtr, Vmcb.Tr];

/** VMCB offsets of the SysMsr slots (APM table B-2). */
const SYS_OFFSETS: StaticArray<u32> = [
  Vmcb.Star, Vmcb.Lstar, Vmcb.Cstar, Vmcb.Sfmask, Vmcb.KernelGsBase,
  Vmcb.Fs + VmcbSeg.Base, Vmcb.Gs + VmcbSeg.Base, Vmcb.SysenterCs, Vmcb.SysenterEsp, Vmcb.SysenterEip,
];

const CR0_PE: u64 = 1 << 0;
const CR0_ET: u64 = 1 << 4;
const CR0_NW: u64 = 1 << 29;
const CR0_CD: u64 = 1 << 30;
const CR0_PG: u64 = 1 << 31;
const EFER_LME: u64 = 1 << 8;
const EFER_LMA: u64 = 1 << 10;
const CR4_LA57: u64 = 1 << 12;

export class SvmVcpu extends Vcpu {
  vmcb: u64;
  flushNext: bool = true;
  asid: u32;
  /** The intercepted exception of the last ExitKind.Exception exit, re-injected by reflectException(). */
  private reflectEvent: u64 = 0;

  constructor(public caps: SvmCaps, public nptRoot: u64, tag: u32) {
    super();
    // APM 15.5.1: ASID 0 is the host's and ASIDs must be below CPUID 8000_000A EBX.
    const n = caps.nasid > 1 ? caps.nasid : 2;
    // More VMs than ASIDs share them; run() flushes an ASID whenever another VMCB used it last.
    this.asid = tag < n ? tag : 1 + (tag - 1) % (n - 1);
    this.vmcb = allocFrame();
    this.setupControls();
  }

  private setupControls(): void {
    const v = this.vmcb;
    phys_fill(v, 0, 4096);
    phys_store32(v + Vmcb.InterceptExceptions, REFLECTED_EXCEPTIONS);
    // APM 15.9: CR0 and CR4 writes are intercepted (bits 16 + n; the CR0 one covers CLTS and LMSW too) and
    // checked in writeCr() as VT-x does with its masks: a CPU that took a reserved bit would fail the next
    // VMRUN's consistency check (APM 15.5.1) where silicon raises #GP. (With the selective CR0 intercept,
    // QEMU 7.2 TCG took CR0 bit 32 without an exit: the plain one is used.)
    phys_store32(v + Vmcb.InterceptCr, (1 << (16 + 0)) | (1 << (16 + 4)));
    phys_store32(v + Vmcb.InterceptMisc1,
      SvmIntercept1.Intr | SvmIntercept1.Nmi | SvmIntercept1.Init | SvmIntercept1.Cpuid | SvmIntercept1.Hlt |
      SvmIntercept1.Invd | // INVD would drop the host's dirty cache lines: done as a no-op
      SvmIntercept1.Rdpmc | // host performance counters are not the guest's
      SvmIntercept1.Invlpga | SvmIntercept1.IoProt | SvmIntercept1.MsrProt | SvmIntercept1.Shutdown |
      SvmIntercept1.FerrFreeze);
    // APM 15.5.1: VMRUN must be intercepted; the other SVM instructions too,
    // since SVM is hidden from guests (they get #UD).
    phys_store32(v + Vmcb.InterceptMisc2,
      SvmIntercept2.Vmrun | SvmIntercept2.Vmmcall | SvmIntercept2.Vmload | SvmIntercept2.Vmsave |
      SvmIntercept2.Stgi | SvmIntercept2.Clgi | SvmIntercept2.Skinit | SvmIntercept2.Monitor |
      SvmIntercept2.Mwait | SvmIntercept2.Xsetbv);
    phys_store64(v + Vmcb.IopmBasePa, this.caps.iopm);
    phys_store64(v + Vmcb.MsrpmBasePa, this.caps.msrpm);
    phys_store32(v + Vmcb.GuestAsid, this.asid);
    // V_INTR_MASKING (APM 15.21.1): the guest's IF does not mask host interrupts.
    phys_store64(v + Vmcb.VIntr, <u64>1 << 24);
    phys_store64(v + Vmcb.NpEnable, 1); // APM 15.25.3
    phys_store64(v + Vmcb.NCr3, this.nptRoot);
    phys_store64(v + Vmcb.GPat, PAT_POWER_ON);
  }

  private seg(off: u32, sel: u32, attrib: u32, limit: u32, base: u64): void {
    const a = this.vmcb + off;
    phys_store16(a + VmcbSeg.Selector, sel);
    phys_store16(a + VmcbSeg.Attrib, attrib);
    phys_store32(a + VmcbSeg.Limit, limit);
    phys_store64(a + VmcbSeg.Base, base);
  }

  setState(st: CpuState): void {
    const v = this.vmcb;
    for (let i = 0; i < Seg.Count; i++) {
      const g = st.segs[i];
      this.seg(SEG_OFFSETS[i], g.sel, g.attr, g.limit, g.base);
    }
    this.seg(Vmcb.Gdtr, 0, 0, st.gdtLimit, st.gdtBase);
    this.seg(Vmcb.Idtr, 0, 0, st.idtLimit, st.idtBase);
    // APM 15.5.1: CPL is SS.DPL (0 in real mode).
    phys_store8(v + Vmcb.Cpl, (st.cr0 & 1) != 0 ? (st.segs[Seg.Ss].attr >> 5) & 3 : 0);
    phys_store64(v + Vmcb.Efer, st.efer | EFER_SVME); // the guest never sees SVME (efer())
    phys_store64(v + Vmcb.Cr0, st.cr0);
    phys_store64(v + Vmcb.Cr3, st.cr3);
    phys_store64(v + Vmcb.Cr4, st.cr4);
    phys_store64(v + Vmcb.Cr2, 0);
    phys_store64(v + Vmcb.Dr6, 0xffff0ff0);
    phys_store64(v + Vmcb.Dr7, 0x400);
    phys_store64(v + Vmcb.Rflags, st.rflags);
    phys_store64(v + Vmcb.Rip, st.rip);
    phys_store64(v + Vmcb.Rsp, st.rsp);
    phys_store64(v + Vmcb.Rax, 0);
    phys_store64(v + Vmcb.EventInj, 0);
    phys_store64(v + Vmcb.InterruptShadow, 0);
    phys_store64(v + Vmcb.GPat, PAT_POWER_ON);
    for (let i = 0; i < 8; i++) phys_store64(v + Vmcb.Star + <u64>(i * 8), 0); // STAR..SYSENTER_EIP
    this.flushNext = true;
  }

  getState(st: CpuState): void {
    const v = this.vmcb;
    for (let i = 0; i < Seg.Count; i++) {
      const a = v + SEG_OFFSETS[i];
      st.segs[i].set(phys_load16(a + VmcbSeg.Selector), phys_load64(a + VmcbSeg.Base), phys_load32(a + VmcbSeg.Limit),
        phys_load16(a + VmcbSeg.Attrib));
    }
    st.gdtBase = phys_load64(v + Vmcb.Gdtr + VmcbSeg.Base);
    st.gdtLimit = phys_load32(v + Vmcb.Gdtr + VmcbSeg.Limit);
    st.idtBase = phys_load64(v + Vmcb.Idtr + VmcbSeg.Base);
    st.idtLimit = phys_load32(v + Vmcb.Idtr + VmcbSeg.Limit);
    st.cr0 = phys_load64(v + Vmcb.Cr0);
    st.cr3 = phys_load64(v + Vmcb.Cr3);
    st.cr4 = phys_load64(v + Vmcb.Cr4);
    st.efer = this.efer();
    st.rsp = phys_load64(v + Vmcb.Rsp);
    st.rip = phys_load64(v + Vmcb.Rip);
    st.rflags = phys_load64(v + Vmcb.Rflags);
  }

  run(sliceTsc: u64): void {
    const v = this.vmcb;
    const e = this.exit;
    e.kind = ExitKind.Handled;
    e.detail = "";
    // APM 15.16.1 TLB_CONTROL: 3 = flush this guest's ASID (with FlushByAsid),
    // else 1 = flush everything.
    const flush: u32 = this.caps.flushByAsid ? 3 : 1;
    // APM 15.16.1: an ASID that another VMCB used since this one last ran may hold its translations.
    const owners = this.caps.asidOwner;
    const shared = owners[this.asid] != v;
    owners[this.asid] = v;
    phys_store8(v + Vmcb.TlbControl, this.flushNext || shared ? flush : 0);
    this.flushNext = false;
    phys_store32(v + Vmcb.VmcbClean, 0); // APM 15.15: nothing cached
    const rip = phys_load64(v + Vmcb.Rip);
    svm_run(v, regsPtr(this.regs), this.caps.hostVmcb);
    const code = phys_load64(v + Vmcb.ExitCode);
    const info1 = phys_load64(v + Vmcb.ExitInfo1);
    const info2 = phys_load64(v + Vmcb.ExitInfo2);
    e.code = code;
    const newRip = phys_load64(v + Vmcb.Rip);
    if (<u32>code == <u32>SvmExit.Invalid) {
      // QEMU reports 0x00000000ffffffff, Bochs all ones: compare 32 bits.
      e.kind = ExitKind.InvalidState;
      e.detail = "VMRUN consistency check failed (VMEXIT_INVALID)";
      return;
    }
    // APM 15.7.2: an intercept during event delivery leaves the event in EXITINTINFO; deliver it again.
    const pending = phys_load64(v + Vmcb.ExitIntInfo);
    if ((pending & 0x80000000) != 0) phys_store64(v + Vmcb.EventInj, pending);
    const c32 = <u32>code;
    if (c32 >= <u32>SvmExit.ExceptionBase && c32 < <u32>SvmExit.ExceptionBase + 32) {
      // APM 15.12: exception intercepts; EXITINFO1 holds the error code where the exception has one.
      e.kind = ExitKind.Exception;
      e.vector = c32 - <u32>SvmExit.ExceptionBase;
      e.hasError = e.vector == Vector.AC;
      e.errorCode = e.hasError ? <u32>info1 : 0;
      let ev: u64 = <u64>e.vector | (3 << 8) | (<u64>1 << 31);
      if (e.hasError) ev |= (1 << 11) | (<u64>e.errorCode << 32);
      this.reflectEvent = ev;
      return;
    }
    switch (c32) {
      case SvmExit.Cpuid: e.kind = ExitKind.Cpuid; e.insnLen = 2; break;
      case SvmExit.Cr0Write:
      case SvmExit.Cr4Write:
        // APM 15.9: a CR write intercept happens before the write; exits.ts decodes the MOV (length, GPR).
        e.kind = ExitKind.CrWrite;
        e.cr = c32 == <u32>SvmExit.Cr4Write ? 4 : 0;
        e.insnLen = 0;
        break;
      case SvmExit.Hlt: e.kind = ExitKind.Hlt; e.insnLen = 1; break;
      case SvmExit.Msr:
        e.kind = info1 == 1 ? ExitKind.MsrWrite : ExitKind.MsrRead;
        e.insnLen = 2;
        break;
      case SvmExit.Ioio:
        // APM 15.10.2 figure 15-2: EXITINFO1 fields, EXITINFO2 = next RIP.
        e.kind = ExitKind.Io;
        e.ioIn = (info1 & 1) != 0;
        e.ioString = (info1 & 4) != 0;
        e.ioSize = (info1 & 0x10) != 0 ? 1 : (info1 & 0x20) != 0 ? 2 : 4;
        e.ioPort = <u32>(info1 >> 16) & 0xffff;
        e.insnLen = <u32>(info2 - newRip);
        break;
      case SvmExit.Npf:
        // APM 15.25.6: EXITINFO2 = faulting guest-physical address, EXITINFO1 = #PF code.
        e.kind = ExitKind.MemFault;
        e.gpa = info2;
        e.write = (info1 & 2) != 0;
        e.fetch = (info1 & 16) != 0;
        break;
      case SvmExit.Invd: e.kind = ExitKind.Invd; e.insnLen = 2; break;
      case SvmExit.Vintr:
        e.kind = ExitKind.InterruptWindow;
        this.requestInterruptWindow(false);
        break;
      case SvmExit.Rdpmc: e.kind = ExitKind.Rdpmc; e.insnLen = 2; break;
      case SvmExit.Xsetbv: e.kind = ExitKind.Xsetbv; e.insnLen = 3; break;
      case SvmExit.Shutdown: e.kind = ExitKind.TripleFault; break;
      case SvmExit.Intr:
        // The only host interrupt source is the slice timer: take it (EOI) and end the slice.
        irq_window();
        e.kind = this.caps.apic != 0 ? ExitKind.Preempted : ExitKind.Interrupt;
        break;
      case SvmExit.Nmi:
        e.kind = ExitKind.Interrupt;
        break;
      case SvmExit.Vmrun:
      case SvmExit.Vmmcall:
      case SvmExit.Vmload:
      case SvmExit.Vmsave:
      case SvmExit.Stgi:
      case SvmExit.Clgi:
      case SvmExit.Skinit:
      case SvmExit.Monitor:
      case SvmExit.Mwait:
      case SvmExit.Invlpga:
        e.kind = ExitKind.VirtInsn;
        break;
      default:
        e.kind = ExitKind.Unhandled;
        e.detail = "SVM exit code " + hex0x(code) + " at rip " + hex0x(rip);
    }
    // APM 15.7.1: with NRIPS the VMCB's next RIP is exact for these intercepts. Without it (QEMU TCG)
    // the length is left 0 and exits.ts decodes it from the guest's bytes (prefixes change it).
    if (e.kind != ExitKind.Io && e.insnLen != 0) {
      if (this.caps.nrips) {
        const next = phys_load64(v + Vmcb.NextRip);
        e.insnLen = next > newRip ? <u32>(next - newRip) : 0;
      } else {
        e.insnLen = 0;
      }
    }
  }

  rip(): u64 {
    return phys_load64(this.vmcb + Vmcb.Rip);
  }

  injectInterrupt(vector: u32): void {
    phys_store64(this.vmcb + Vmcb.EventInj, <u64>vector | (<u64>1 << 31)); // APM 15.20: type 0 = INTR
  }

  interruptible(): bool {
    const v = this.vmcb;
    return (phys_load64(v + Vmcb.Rflags) & 0x200) != 0 && (phys_load64(v + Vmcb.InterruptShadow) & 1) == 0 &&
      (phys_load64(v + Vmcb.EventInj) & 0x80000000) == 0;
  }

  requestInterruptWindow(on: bool): void {
    // APM 15.21.4: a virtual interrupt (V_IRQ, priority ignored with V_IGN_TPR) with the VINTR intercept
    // exits as soon as the guest could take it; V_INTR_MASKING (bit 24) stays set.
    const v = this.vmcb;
    phys_store64(v + Vmcb.VIntr, (<u64>1 << 24) | (on ? (<u64>1 << 8) | (<u64>1 << 20) : 0));
    const m = phys_load32(v + Vmcb.InterceptMisc1);
    phys_store32(v + Vmcb.InterceptMisc1, on ? m | SvmIntercept1.Vintr : m & ~(<u32>SvmIntercept1.Vintr));
  }

  reflectException(): void {
    phys_store64(this.vmcb + Vmcb.EventInj, this.reflectEvent);
  }

  // VMLOAD/VMSAVE in hw_svm_run switch these with the VMCB (APM 15.5.2): they live there.
  readSysMsr(m: SysMsr): u64 {
    return phys_load64(this.vmcb + SYS_OFFSETS[m]);
  }

  writeSysMsr(m: SysMsr, value: u64): void {
    phys_store64(this.vmcb + SYS_OFFSETS[m], value);
  }

  beginSlice(sliceTsc: u64): void {
    const apic = this.caps.apic;
    if (apic == 0) return;
    // the TSC budget in APIC timer ticks at the rate measured at setup (svm.ts), bounded to 32 bits
    const c = this.caps;
    const ticks = mulDiv(sliceTsc, c.sliceApicNum, c.sliceTscDen);
    phys_store32(apic + Apic.InitialCount, ticks == 0 ? 1 : ticks > 0xffffffff ? 0xffffffff : ticks);
  }

  endSlice(): void {
    const apic = this.caps.apic;
    if (apic == 0) return;
    phys_store32(apic + Apic.InitialCount, 0); // stops the timer (SDM 10.5.4)
    irq_window(); // a timer interrupt that fired in the monitor is taken now
  }

  advanceRip(): void {
    const v = this.vmcb;
    phys_store64(v + Vmcb.Rip, phys_load64(v + Vmcb.Rip) + this.exit.insnLen);
    phys_store64(v + Vmcb.InterruptShadow, 0);
  }

  injectException(vector: u32, errorCode: u32, hasError: bool): void {
    // APM 15.20 EVENTINJ: vector, type 3 (exception), EV, V; no error code in real mode.
    let ev: u64 = <u64>vector | (3 << 8) | (<u64>1 << 31);
    if (hasError && this.protectedMode()) ev |= (1 << 11) | (<u64>errorCode << 32);
    phys_store64(this.vmcb + Vmcb.EventInj, ev);
  }

  efer(): u64 {
    return phys_load64(this.vmcb + Vmcb.Efer) & ~EFER_SVME; // LMA as the CPU set it
  }

  setEfer(value: u64): bool {
    if ((value & ~(<u64>0xd01)) != 0) return false; // SCE, LME, LMA, NXE
    const cur = phys_load64(this.vmcb + Vmcb.Efer);
    const lma = cur & (1 << 10);
    // The VMCB copy always keeps SVME (APM 15.5.1); the guest never sees it.
    phys_store64(this.vmcb + Vmcb.Efer, (value & ~(<u64>1 << 10)) | lma | EFER_SVME);
    return true;
  }

  writeCr(cr: u32, value: u64): bool {
    return cr == 0 ? this.writeCr0(value) : cr == 4 ? this.writeCr4(value) : false;
  }

  /** MOV to CR0 (APM vol 2 3.1.1, 14.6.1; SDM vol 2B MOV CR): the #GP cases, then EFER.LMA follows PG. */
  private writeCr0(value: u64): bool {
    const v = this.vmcb;
    const old = phys_load64(v + Vmcb.Cr0);
    let efer = phys_load64(v + Vmcb.Efer);
    value |= CR0_ET; // reads as 1
    if ((value >> 32) != 0) return false; // CR0[63:32]
    if ((value & CR0_NW) != 0 && (value & CR0_CD) == 0) return false;
    if ((value & CR0_PG) != 0 && (value & CR0_PE) == 0) return false;
    const longCode = (phys_load16(v + Vmcb.Cs + VmcbSeg.Attrib) & (1 << 9)) != 0; // CS.L
    if ((value & CR0_PG) != 0 && (old & CR0_PG) == 0 && (efer & EFER_LME) != 0) {
      // activating long mode: needs CR4.PAE, and not from a 64-bit code segment
      if ((phys_load64(v + Vmcb.Cr4) & Cr4.PAE) == 0 || longCode) return false;
      efer |= EFER_LMA;
    } else if ((value & CR0_PG) == 0 && (old & CR0_PG) != 0 && (efer & EFER_LMA) != 0) {
      if (longCode) return false; // paging off only from compatibility mode
      efer &= ~EFER_LMA;
    }
    phys_store64(v + Vmcb.Cr0, value);
    phys_store64(v + Vmcb.Efer, efer);
    this.flushNext = true; // PG, WP, CD changes: the TLB flush the MOV would have done
    return true;
  }

  /** MOV to CR4 (APM vol 2 3.1.3; SDM vol 3 2.5). */
  private writeCr4(value: u64): bool {
    const v = this.vmcb;
    const old = phys_load64(v + Vmcb.Cr4);
    const lma = (phys_load64(v + Vmcb.Efer) & EFER_LMA) != 0;
    if ((value & ~this.caps.cr4Allowed) != 0) return false; // APM 3.1.3: reserved bits #GP(0)
    if (lma && (value & Cr4.PAE) == 0) return false; // clearing PAE in long mode
    if (lma && ((value ^ old) & CR4_LA57) != 0) return false; // LA57 changes only outside long mode (SDM vol 2B MOV CR)
    // Setting PCIDE: only in long mode with CR3[11:0] = 0 (SDM vol 3 4.10.1, APM 3.1.3)
    if ((value & Cr4.PCIDE) != 0 && (old & Cr4.PCIDE) == 0 && (!lma || (phys_load64(v + Vmcb.Cr3) & 0xfff) != 0)) return false;
    phys_store64(v + Vmcb.Cr4, value);
    // The CPU did not execute the MOV, so its TLB flush (PGE, PAE, PSE, SMEP, PCIDE changes) is ours.
    this.flushNext = true;
    return true;
  }

  cr4(): u64 {
    return phys_load64(this.vmcb + Vmcb.Cr4);
  }

  protectedMode(): bool {
    return (phys_load64(this.vmcb + Vmcb.Cr0) & 1) != 0;
  }
}
