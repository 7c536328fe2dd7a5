// Intel VT-x intrinsics and encodings: VMX instructions (lowered inline by
// the AOT, docs/ABI.md), the entry trampoline in boot/vmentry.S, VMCS field
// encodings (SDM appendix B), exit reasons (SDM appendix C), control bits
// (SDM 24.6-24.8) and the capability MSRs (SDM appendix A).

/** VMX instruction status: 0 ok, 1 VMfailInvalid (CF), 2 VMfailValid (ZF). */
export const enum VmxStatus {
  Ok = 0,
  FailInvalid = 1,
  FailValid = 2,
}

@external("hw", "vmxon") export declare function vmxon(pa: u64): i32;
@external("hw", "vmxoff") export declare function vmxoff(): i32;
@external("hw", "vmclear") export declare function vmclear(pa: u64): i32;
@external("hw", "vmptrld") export declare function vmptrld(pa: u64): i32;
@external("hw", "vmread") export declare function vmread(field: u64): u64;
@external("hw", "vmwrite") export declare function vmwrite(field: u64, value: u64): i32;
@external("hw", "invept") export declare function invept(type: u64, desc: usize): i32;
@external("hw", "invvpid") export declare function invvpid(type: u64, desc: usize): i32;

/**
 * boot/vmentry.S hw_vmx_run: VMLAUNCH (launched = 0) or VMRESUME into the
 * current VMCS with the guest GPRs in `regs` (src/vmm/regs.ts layout);
 * returns a VmxStatus after the VM exit (Ok) or a failed entry.
 */
@external("hw", "vmx_run") export declare function vmx_run(regs: usize, launched: i32): i32;
/**
 * boot/vmentry.S hw_host_tables: u64 slots at `out`: gdt base, gdt limit,
 * idt base, idt limit, tr selector, tr base, cs, ss, ds, es, fs, gs.
 */
@external("hw", "host_tables") export declare function host_tables(out: usize): void;

/** VMCS field encodings, SDM appendix B. */
export const enum VmcsField {
  // 16-bit control
  Vpid = 0x0000,
  // 16-bit guest state
  GuestEsSelector = 0x0800,
  GuestCsSelector = 0x0802,
  GuestSsSelector = 0x0804,
  GuestDsSelector = 0x0806,
  GuestFsSelector = 0x0808,
  GuestGsSelector = 0x080a,
  GuestLdtrSelector = 0x080c,
  GuestTrSelector = 0x080e,
  // 16-bit host state
  HostEsSelector = 0x0c00,
  HostCsSelector = 0x0c02,
  HostSsSelector = 0x0c04,
  HostDsSelector = 0x0c06,
  HostFsSelector = 0x0c08,
  HostGsSelector = 0x0c0a,
  HostTrSelector = 0x0c0c,
  // 64-bit control
  IoBitmapA = 0x2000,
  IoBitmapB = 0x2002,
  MsrBitmap = 0x2004,
  VmExitMsrStoreAddr = 0x2006,
  VmExitMsrLoadAddr = 0x2008,
  VmEntryMsrLoadAddr = 0x200a,
  TscOffset = 0x2010,
  EptPointer = 0x201a,
  // 64-bit read-only
  GuestPhysicalAddress = 0x2400,
  // 64-bit guest state
  VmcsLinkPointer = 0x2800,
  GuestIa32Debugctl = 0x2802,
  GuestIa32Pat = 0x2804,
  GuestIa32Efer = 0x2806,
  // 64-bit host state
  HostIa32Pat = 0x2c00,
  HostIa32Efer = 0x2c02,
  // 32-bit control
  PinBasedControls = 0x4000,
  ProcBasedControls = 0x4002,
  ExceptionBitmap = 0x4004,
  PageFaultErrorCodeMask = 0x4006,
  PageFaultErrorCodeMatch = 0x4008,
  Cr3TargetCount = 0x400a,
  VmExitControls = 0x400c,
  VmExitMsrStoreCount = 0x400e,
  VmExitMsrLoadCount = 0x4010,
  VmEntryControls = 0x4012,
  VmEntryMsrLoadCount = 0x4014,
  VmEntryInterruptionInfo = 0x4016,
  VmEntryExceptionErrorCode = 0x4018,
  VmEntryInstructionLength = 0x401a,
  TprThreshold = 0x401c,
  ProcBasedControls2 = 0x401e,
  // 32-bit read-only
  VmInstructionError = 0x4400,
  ExitReason = 0x4402,
  VmExitInterruptionInfo = 0x4404,
  VmExitInterruptionErrorCode = 0x4406,
  IdtVectoringInfo = 0x4408,
  IdtVectoringErrorCode = 0x440a,
  VmExitInstructionLength = 0x440c,
  VmExitInstructionInfo = 0x440e,
  // 32-bit guest state
  GuestEsLimit = 0x4800,
  GuestCsLimit = 0x4802,
  GuestSsLimit = 0x4804,
  GuestDsLimit = 0x4806,
  GuestFsLimit = 0x4808,
  GuestGsLimit = 0x480a,
  GuestLdtrLimit = 0x480c,
  GuestTrLimit = 0x480e,
  GuestGdtrLimit = 0x4810,
  GuestIdtrLimit = 0x4812,
  GuestEsAccessRights = 0x4814,
  GuestCsAccessRights = 0x4816,
  GuestSsAccessRights = 0x4818,
  GuestDsAccessRights = 0x481a,
  GuestFsAccessRights = 0x481c,
  GuestGsAccessRights = 0x481e,
  GuestLdtrAccessRights = 0x4820,
  GuestTrAccessRights = 0x4822,
  GuestInterruptibilityState = 0x4824,
  GuestActivityState = 0x4826,
  GuestSysenterCs = 0x482a,
  PreemptionTimerValue = 0x482e,
  // 32-bit host state
  HostSysenterCs = 0x4c00,
  // natural-width control
  Cr0GuestHostMask = 0x6000,
  Cr4GuestHostMask = 0x6002,
  Cr0ReadShadow = 0x6004,
  Cr4ReadShadow = 0x6006,
  // natural-width read-only
  ExitQualification = 0x6400,
  GuestLinearAddress = 0x640a,
  // natural-width guest state
  GuestCr0 = 0x6800,
  GuestCr3 = 0x6802,
  GuestCr4 = 0x6804,
  GuestEsBase = 0x6806,
  GuestCsBase = 0x6808,
  GuestSsBase = 0x680a,
  GuestDsBase = 0x680c,
  GuestFsBase = 0x680e,
  GuestGsBase = 0x6810,
  GuestLdtrBase = 0x6812,
  GuestTrBase = 0x6814,
  GuestGdtrBase = 0x6816,
  GuestIdtrBase = 0x6818,
  GuestDr7 = 0x681a,
  GuestRsp = 0x681c,
  GuestRip = 0x681e,
  GuestRflags = 0x6820,
  GuestPendingDebugExceptions = 0x6822,
  GuestSysenterEsp = 0x6824,
  GuestSysenterEip = 0x6826,
  // natural-width host state
  HostCr0 = 0x6c00,
  HostCr3 = 0x6c02,
  HostCr4 = 0x6c04,
  HostFsBase = 0x6c06,
  HostGsBase = 0x6c08,
  HostTrBase = 0x6c0a,
  HostGdtrBase = 0x6c0c,
  HostIdtrBase = 0x6c0e,
  HostSysenterEsp = 0x6c10,
  HostSysenterEip = 0x6c12,
  HostRsp = 0x6c14,
  HostRip = 0x6c16,
}

/** Basic exit reasons, SDM appendix C. */
export const enum VmxExit {
  ExceptionOrNmi = 0,
  ExternalInterrupt = 1,
  TripleFault = 2,
  InitSignal = 3,
  Sipi = 4,
  InterruptWindow = 7,
  TaskSwitch = 9,
  Cpuid = 10,
  Getsec = 11,
  Hlt = 12,
  Invd = 13,
  Invlpg = 14,
  Rdpmc = 15,
  Rdtsc = 16,
  Vmcall = 18,
  Vmclear = 19,
  Vmlaunch = 20,
  Vmptrld = 21,
  Vmptrst = 22,
  Vmread = 23,
  Vmresume = 24,
  Vmwrite = 25,
  Vmxoff = 26,
  Vmxon = 27,
  CrAccess = 28,
  DrAccess = 29,
  IoInstruction = 30,
  Rdmsr = 31,
  Wrmsr = 32,
  InvalidGuestState = 33,
  MsrLoading = 34,
  MwaitInstruction = 36,
  MonitorInstruction = 39,
  PauseInstruction = 40,
  MachineCheck = 41,
  EptViolation = 48,
  EptMisconfig = 49,
  Invept = 50,
  Rdtscp = 51,
  PreemptionTimer = 52,
  Invvpid = 53,
  Wbinvd = 54,
  Xsetbv = 55,
}

/** Capability MSRs, SDM appendix A. */
export const enum VmxMsr {
  FeatureControl = 0x3a,
  Basic = 0x480,
  PinbasedCtls = 0x481,
  ProcbasedCtls = 0x482,
  ExitCtls = 0x483,
  EntryCtls = 0x484,
  Misc = 0x485,
  Cr0Fixed0 = 0x486,
  Cr0Fixed1 = 0x487,
  Cr4Fixed0 = 0x488,
  Cr4Fixed1 = 0x489,
  ProcbasedCtls2 = 0x48b,
  EptVpidCap = 0x48c,
  TruePinbasedCtls = 0x48d,
  TrueProcbasedCtls = 0x48e,
  TrueExitCtls = 0x48f,
  TrueEntryCtls = 0x490,
}

/** Pin-based controls, SDM 24.6.1. */
export const enum PinCtl {
  ExternalInterruptExiting = 1 << 0,
  NmiExiting = 1 << 3,
  PreemptionTimer = 1 << 6,
}

/** Primary processor-based controls, SDM 24.6.2 table 24-6. */
export const enum ProcCtl {
  InterruptWindowExiting = 1 << 2,
  HltExiting = 1 << 7,
  MwaitExiting = 1 << 10,
  RdpmcExiting = 1 << 11,
  MonitorExiting = 1 << 29,
  UseTscOffsetting = 1 << 3,
  Cr3LoadExiting = 1 << 15,
  Cr3StoreExiting = 1 << 16,
  UseIoBitmaps = 1 << 25,
  UseMsrBitmaps = 1 << 28,
  ActivateSecondary = 1 << 31,
}

/** Secondary processor-based controls, SDM 24.6.2 table 24-7. */
export const enum ProcCtl2 {
  EnableEpt = 1 << 1,
  EnableRdtscp = 1 << 3,
  EnableVpid = 1 << 5,
  UnrestrictedGuest = 1 << 7,
  EnableInvpcid = 1 << 12,
  EnableXsaves = 1 << 20,
}

/** VM-exit controls, SDM 24.7.1. */
export const enum ExitCtl {
  HostAddressSpaceSize = 1 << 9,
  AckInterruptOnExit = 1 << 15,
  SavePat = 1 << 18,
  LoadPat = 1 << 19,
  SaveEfer = 1 << 20,
  LoadEfer = 1 << 21,
  SavePreemptionTimer = 1 << 22,
}

/** VM-entry controls, SDM 24.8.1. */
export const enum EntryCtl {
  Ia32eModeGuest = 1 << 9,
  LoadPat = 1 << 14,
  LoadEfer = 1 << 15,
}
