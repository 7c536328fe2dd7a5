// AMD-V intrinsics and encodings: SVM instructions (lowered inline by the
// AOT, docs/ABI.md), the VMRUN trampoline in boot/vmentry.S, VMCB layout
// (APM vol 2 appendix B), exit codes (APM appendix C) and SVM MSRs.

@external("hw", "vmsave") export declare function vmsave(pa: u64): void;
@external("hw", "vmload") export declare function vmload(pa: u64): void;
@external("hw", "stgi") export declare function stgi(): void;
@external("hw", "clgi") export declare function clgi(): void;
@external("hw", "invlpga") export declare function invlpga(vaddr: u64, asid: i32): void;

/**
 * boot/vmentry.S hw_svm_run: clgi, vmsave host, vmload/vmrun/vmsave guest,
 * vmload host, stgi; guest GPRs in `regs` (src/vmm/regs.ts layout).
 */
@external("hw", "svm_run") export declare function svm_run(vmcbPa: u64, regs: usize, hostVmcbPa: u64): void;

/**
 * boot/slice-timer.S: points IDT[vector] at a stub that EOIs the xAPIC register
 * at physical `eoiPa`, and IDT[0xFF] (spurious) at a bare iretq. Used for
 * the AMD-V slice timer (LAPIC timer + INTR intercept).
 */
@external("hw", "slice_timer_install") export declare function slice_timer_install(vector: i32, eoiPa: u64): void;
/** boot/slice-timer.S: sti; nop; cli: lets a pending host interrupt be taken. */
@external("hw", "irq_window") export declare function irq_window(): void;

/** SVM MSRs, APM 15.30. */
export const enum SvmMsr {
  VmCr = 0xc0010114,
  VmHsavePa = 0xc0010117,
}

/** EFER.SVME, APM 15.4. */
export const EFER_SVME: u64 = 1 << 12;

/** VMCB byte offsets: control area (APM table B-1), save area at 0x400 (table B-2). */
export const enum Vmcb {
  InterceptCr = 0x000, // u32: reads 15:0, writes 31:16
  InterceptDr = 0x004,
  InterceptExceptions = 0x008,
  InterceptMisc1 = 0x00c,
  InterceptMisc2 = 0x010,
  PauseFilterCount = 0x03e,
  IopmBasePa = 0x040,
  MsrpmBasePa = 0x048,
  TscOffset = 0x050,
  GuestAsid = 0x058, // u32
  TlbControl = 0x05c, // u8
  VIntr = 0x060,
  InterruptShadow = 0x068,
  ExitCode = 0x070,
  ExitInfo1 = 0x078,
  ExitInfo2 = 0x080,
  ExitIntInfo = 0x088,
  NpEnable = 0x090,
  EventInj = 0x0a8,
  NCr3 = 0x0b0,
  VmcbClean = 0x0c0, // u32
  NextRip = 0x0c8,
  GuestInstrBytes = 0x0d0,
  // save area
  Es = 0x400, // each segment: u16 sel, u16 attrib, u32 limit, u64 base
  Cs = 0x410,
  Ss = 0x420,
  Ds = 0x430,
  Fs = 0x440,
  Gs = 0x450,
  Gdtr = 0x460,
  Ldtr = 0x470,
  Idtr = 0x480,
  Tr = 0x490,
  Cpl = 0x4cb, // u8
  Efer = 0x4d0,
  Cr4 = 0x548,
  Cr3 = 0x550,
  Cr0 = 0x558,
  Dr7 = 0x560,
  Dr6 = 0x568,
  Rflags = 0x570,
  Rip = 0x578,
  Rsp = 0x5d8,
  Rax = 0x5f8,
  Star = 0x600,
  Lstar = 0x608,
  Cstar = 0x610,
  Sfmask = 0x618,
  KernelGsBase = 0x620,
  SysenterCs = 0x628,
  SysenterEsp = 0x630,
  SysenterEip = 0x638,
  Cr2 = 0x640,
  GPat = 0x668,
}

/** Segment field offsets inside a VMCB segment (APM table B-2). */
export const enum VmcbSeg {
  Selector = 0,
  Attrib = 2,
  Limit = 4,
  Base = 8,
}

/** Intercept bits in InterceptMisc1 (APM table B-1, offset 0x0c). */
export const enum SvmIntercept1 {
  Intr = 1 << 0,
  Nmi = 1 << 1,
  Smi = 1 << 2,
  Init = 1 << 3,
  Vintr = 1 << 4,
  Rdpmc = 1 << 15,
  Cpuid = 1 << 18,
  Invd = 1 << 22,
  Hlt = 1 << 24,
  Invlpga = 1 << 26,
  IoProt = 1 << 27,
  MsrProt = 1 << 28,
  TaskSwitch = 1 << 29,
  FerrFreeze = 1 << 30,
  Shutdown = 1 << 31,
}

/** Intercept bits in InterceptMisc2 (offset 0x10). */
export const enum SvmIntercept2 {
  Vmrun = 1 << 0,
  Vmmcall = 1 << 1,
  Vmload = 1 << 2,
  Vmsave = 1 << 3,
  Stgi = 1 << 4,
  Clgi = 1 << 5,
  Skinit = 1 << 6,
  Rdtscp = 1 << 7,
  Icebp = 1 << 8,
  Wbinvd = 1 << 9,
  Monitor = 1 << 10,
  Mwait = 1 << 11,
  Xsetbv = 1 << 13,
}

/** #VMEXIT codes, APM appendix C. */
export const enum SvmExit {
  /** MOV to CR4 (APM vol 2 15.9: CR writes are 0x10 + n). */
  Cr0Write = 0x10,
  Cr4Write = 0x14,
  ExceptionBase = 0x40,
  Intr = 0x60,
  Nmi = 0x61,
  Smi = 0x62,
  Init = 0x63,
  Vintr = 0x64,
  Rdpmc = 0x6f,
  Cpuid = 0x72,
  Invd = 0x76,
  Hlt = 0x78,
  Invlpga = 0x7a,
  Ioio = 0x7b,
  Msr = 0x7c,
  TaskSwitch = 0x7d,
  Shutdown = 0x7f,
  Vmrun = 0x80,
  Vmmcall = 0x81,
  Vmload = 0x82,
  Vmsave = 0x83,
  Stgi = 0x84,
  Clgi = 0x85,
  Skinit = 0x86,
  Rdtscp = 0x87,
  Wbinvd = 0x89,
  Monitor = 0x8a,
  Mwait = 0x8b,
  Xsetbv = 0x8d,
  Npf = 0x400,
  /** VMRUN failed its consistency checks (-1; compare the low 32 bits). */
  Invalid = 0xffffffff,
}
