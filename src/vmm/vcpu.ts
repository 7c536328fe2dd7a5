// The one vCPU interface: common code drives guests only through it; the
// VT-x (vmx/) and AMD-V (svm/) backends implement it.

import { newRegs, Reg } from "./regs";
import { CpuState } from "./cpu-state";

/** Scratch state for resets (the exit path allocates nothing). */
const resetState = new CpuState();

/** Why a vCPU came back to the monitor, in vendor-neutral terms. */
export const enum ExitKind {
  /** Fully handled inside the backend (e.g. a CR shadow update). */
  Handled = 0,
  Cpuid = 1,
  Io = 2,
  MsrRead = 3,
  MsrWrite = 4,
  Hlt = 5,
  /** EPT violation / nested page fault: `gpa`, `write`, `fetch`. */
  MemFault = 6,
  TripleFault = 7,
  /** VM entry refused the guest state (VMX exit 33, SVM VMEXIT_INVALID). */
  InvalidState = 8,
  /** The time slice ended (VMX preemption timer). */
  Preempted = 9,
  /** A host interrupt arrived while the guest ran. */
  Interrupt = 10,
  /** VMLAUNCH/VMRESUME/VMRUN itself failed: a monitor bug; `detail` says why. */
  EntryFailed = 11,
  /** An exit the monitor does not handle: the VM is stopped. */
  Unhandled = 12,
  /** An intercepted guest exception to reflect (#DB, #AC: `vector`, `errorCode`, `hasError`). */
  Exception = 13,
  /** XSETBV: ECX = XCR number, EDX:EAX = value. */
  Xsetbv = 14,
  /** RDPMC: performance counters are not exposed. */
  Rdpmc = 15,
  /** INVD: guest memory is write-back and coherent, so a no-op. */
  Invd = 16,
  /** VMX, SVM, SMX and MONITOR/MWAIT instructions: hidden from guests. */
  VirtInsn = 17,
  /** The guest became able to take an external interrupt (requestInterruptWindow). */
  InterruptWindow = 18,
  /** MOV to CR0/CR4 intercepted (AMD-V): `cr`; the instruction is decoded in common code, checked by the backend. */
  CrWrite = 19,
  Count = 20,
}

/** Counter names reported by vm.list, indexed by ExitKind. */
export const EXIT_NAMES: StaticArray<string> = [
  "handled", "cpuid", "io", "msr_read", "msr_write", "hlt", "mem_fault",
  "triple_fault", "invalid_state", "preempt", "interrupt", "entry_failed", "unhandled",
  "exception", "xsetbv", "rdpmc", "invd", "virt_insn", "irq_window", "cr_write",
];

export class ExitInfo {
  kind: ExitKind = ExitKind.Handled;
  /** Length of the exiting instruction, for advanceRip(). */
  insnLen: u32 = 0;
  ioPort: u32 = 0;
  ioSize: u32 = 0;
  ioIn: bool = false;
  ioString: bool = false;
  gpa: u64 = 0;
  write: bool = false;
  fetch: bool = false;
  /** ExitKind.Exception: the vector and error code to reflect. */
  vector: u32 = 0;
  errorCode: u32 = 0;
  hasError: bool = false;
  /** ExitKind.CrWrite: the control register written (0 or 4). */
  cr: u32 = 0;
  /** Vendor exit code, for logs. */
  code: u64 = 0;
  detail: string = "";
}

/** Standard exception vectors used for injection. */
export const enum Vector {
  DB = 1,
  UD = 6,
  GP = 13,
  AC = 17,
}

/** Exceptions both backends intercept and reflect, so that a guest cannot make delivery loop forever in the
 * CPU (CVE-2015-5307 #AC, CVE-2015-8104 #DB: the monitor sees every delivery as an exit). */
export const REFLECTED_EXCEPTIONS: u32 = (1 << Vector.DB) | (1 << Vector.AC);

/**
 * System MSRs kept in the guest's state. The first five are not switched by VT-x (SDM vol 3 27.3/27.5:
 * the backend switches them itself); FS/GS base and SYSENTER live in the VMCS/VMCB on both backends.
 */
export const enum SysMsr {
  Star = 0,
  Lstar = 1,
  Cstar = 2,
  Fmask = 3,
  KernelGsBase = 4,
  Unswitched = 5,
  FsBase = 5,
  GsBase = 6,
  SysenterCs = 7,
  SysenterEsp = 8,
  SysenterEip = 9,
  Count = 10,
}

export abstract class Vcpu {
  /** GPRs other than RSP/RIP; slots as in regs.ts. */
  regs: StaticArray<u64> = newRegs();
  exit: ExitInfo = new ExitInfo();
  /** Frame holding the state VM entry/exit does not switch (lazy-state.ts): XSAVE area, DRs. */
  statePa: u64 = 0;
  /** The guest's XCR0 (XSETBV is emulated). */
  xcr0: u64 = 1;
  /**
   * INVPCID runs in the guest. False on VT-x without the "enable INVPCID" control, where it raises #UD
   * (SDM vol 3 24.6.2 table 24-7): CPUID then hides it (leaf 7 EBX bit 10).
   */
  invpcid: bool = true;

  /** Saves the MSRs this backend does not switch (called when another vCPU takes the CPU). */
  saveUnswitched(): void {}
  /** Loads them before this vCPU runs again. */
  loadUnswitched(): void {}

  /** Reads the whole guest CPU state (segments, tables, CR0/3/4, EFER, RSP, RIP, RFLAGS). */
  abstract getState(s: CpuState): void;
  /**
   * Loads a whole guest CPU state as at a reset: no pending event or interrupt shadow, DR7 0x400,
   * PAT and the unswitched MSRs at their power-on values, the vCPU's TLB tags flushed.
   */
  abstract setState(s: CpuState): void;

  /** Power-on state: 16-bit real mode, CS:IP = 0:ip, SP = sp, EFER = 0, GPRs 0. */
  resetRealMode(ip: u64, sp: u64): void {
    this.setState(resetState.realMode(ip, sp));
    this.clearRegs();
  }

  /** GPRs (and the CR2 slot) to 0. */
  clearRegs(): void {
    for (let i = 0; i < Reg.Count; i++) this.regs[i] = 0;
  }
  /** Enters the guest and returns at the next exit, described in `exit`. */
  abstract run(sliceTsc: u64): void;
  abstract rip(): u64;
  /** Steps over the instruction that exited (length from the exit). */
  abstract advanceRip(): void;
  /** Queues a hardware exception for the next entry. */
  abstract injectException(vector: u32, errorCode: u32, hasError: bool): void;
  /** Delivers external interrupt `vector` at the next entry; call only when interruptible(). */
  abstract injectInterrupt(vector: u32): void;
  /** The guest can take an external interrupt now: RFLAGS.IF, no STI/MOV SS shadow, no event pending. */
  abstract interruptible(): bool;
  /** With `on`, the next time the guest becomes interruptible it exits (ExitKind.InterruptWindow). */
  abstract requestInterruptWindow(on: bool): void;
  /** Re-delivers the exception of the last ExitKind.Exception exit to the guest exactly as the CPU raised it. */
  abstract reflectException(): void;
  /** The guest's value of an MSR the CPU does not switch (SysMsr). */
  abstract readSysMsr(m: SysMsr): u64;
  /** Sets it; the caller has checked the value (canonical addresses). */
  abstract writeSysMsr(m: SysMsr, value: u64): void;
  /** Guest-visible IA32_EFER (without the hypervisor's own bits). */
  abstract efer(): u64;
  /** Emulated WRMSR IA32_EFER; returns false when the value must #GP. */
  abstract setEfer(value: u64): bool;
  /** CR4 as the guest reads it. */
  abstract cr4(): u64;
  /**
   * An intercepted MOV to CR0 or CR4 (ExitKind.CrWrite, AMD-V): false when `value` must #GP(0) in the guest.
   * VT-x checks CR0/CR4 in its own exit handler (guest/host masks), so it never produces CrWrite.
   */
  writeCr(cr: u32, value: u64): bool {
    return false;
  }
  /** Guest CR0.PE: protected mode (decides whether an exception has an error code). */
  abstract protectedMode(): bool;
  /** A time slice of `sliceTsc` ticks starts (backends with a slice timer arm it). */
  beginSlice(sliceTsc: u64): void {}
  /** The slice ended: disarm the timer, drop a timer interrupt that came late. */
  endSlice(): void {}
}

/** A vendor backend: one per physical CPU, chosen once at start. */
export abstract class VirtBackend {
  /** "vmx" or "svm" (for system.info only; common code never branches on it). */
  abstract name(): string;
  /** Enables VMX/SVM on this CPU; returns "" or why it cannot. */
  abstract enable(): string;
  /**
   * A vCPU for a VM whose memory is mapped by the nested table at `rootPa`
   * (built by newGuestTables()); `tag` is the VPID/ASID (>= 1).
   */
  abstract createVcpu(rootPa: u64, tag: u32): Vcpu;
  /** The nested paging format (EPT or NPT bits). */
  abstract tableFormat(): TableFormat;
  /** Called after a VM's nested tables lost mappings (INVEPT / ASID flush). */
  abstract flushGuestTlb(vcpu: Vcpu): void;
  /** One line describing the features in use, for the boot log. */
  abstract describe(): string;
}

/** Entry bits of a nested page-table format; the walker in gpt.ts is shared. */
export class TableFormat {
  /** Bits of a non-leaf entry. */
  tableBits: u64 = 0;
  /** Bits of a 4 KiB leaf. */
  leaf4kBits: u64 = 0;
  /** Bits of a 2 MiB leaf (including the page-size bit). */
  leaf2mBits: u64 = 0;
  /** Whether 2 MiB leaves may be used. */
  large: bool = false;
}
