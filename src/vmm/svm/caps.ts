// What AMD-V offers on this CPU and the shared SVM state (host save area, permission maps, ASID owners,
// slice-timer APIC), set up once by SvmBackend.enable().

export class SvmCaps {
  nasid: u32 = 0;
  nrips: bool = false;
  /** TLB_CONTROL 3 (flush one ASID) allowed: CPUID 8000_000A EDX[6]. */
  flushByAsid: bool = false;
  hsave: u64 = 0;
  hostVmcb: u64 = 0;
  iopm: u64 = 0;
  msrpm: u64 = 0;
  /** Per ASID, the VMCB that ran with it last (APM 15.16: a new user must flush it). */
  asidOwner: StaticArray<u64> = new StaticArray<u64>(2);
  /** CR4 bits a guest may set (APM vol 2 3.1.3, from this CPU's CPUID minus what guests do not see). */
  cr4Allowed: u64 = 0;
  /** xAPIC base (physical) when the slice timer is in use, else 0. */
  apic: u64 = 0;
  /** The host APIC timer's ticks (divide by 1) per `sliceTscDen` TSC ticks, measured at setup (svm.ts). */
  sliceApicNum: u64 = 1;
  sliceTscDen: u64 = 1;
}

/** The slice timer's vector (LAPIC LVT timer, one-shot). */
export const SLICE_VECTOR: u32 = 0xf0;

/** xAPIC registers, SDM vol 3 10.4.1 table 10-1. */
export const enum Apic {
  Tpr = 0x80,
  Eoi = 0xb0,
  Svr = 0xf0,
  LvtTimer = 0x320,
  InitialCount = 0x380,
  CurrentCount = 0x390,
  DivideConfig = 0x3e0,
}

