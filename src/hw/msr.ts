// Model-specific registers and control-register bits, named as the manuals do.
import { rdmsr, wrmsr, read_cr0, read_cr4 } from "./intrinsics";

/** MSR numbers (SDM vol 4; AMD APM vol 2 appendix A). */
export namespace Msr {
  export const IA32_FEATURE_CONTROL: u32 = 0x3A;
  export const IA32_PAT: u32 = 0x277;
  export const IA32_VMX_BASIC: u32 = 0x480;
  export const IA32_VMX_PINBASED_CTLS: u32 = 0x481;
  export const IA32_VMX_PROCBASED_CTLS: u32 = 0x482;
  export const IA32_VMX_EXIT_CTLS: u32 = 0x483;
  export const IA32_VMX_ENTRY_CTLS: u32 = 0x484;
  export const IA32_VMX_MISC: u32 = 0x485;
  export const IA32_VMX_CR0_FIXED0: u32 = 0x486;
  export const IA32_VMX_CR0_FIXED1: u32 = 0x487;
  export const IA32_VMX_CR4_FIXED0: u32 = 0x488;
  export const IA32_VMX_CR4_FIXED1: u32 = 0x489;
  export const IA32_VMX_VMCS_ENUM: u32 = 0x48A;
  export const IA32_VMX_PROCBASED_CTLS2: u32 = 0x48B;
  export const IA32_VMX_EPT_VPID_CAP: u32 = 0x48C;
  export const IA32_VMX_TRUE_PINBASED_CTLS: u32 = 0x48D;
  export const IA32_VMX_TRUE_PROCBASED_CTLS: u32 = 0x48E;
  export const IA32_VMX_TRUE_EXIT_CTLS: u32 = 0x48F;
  export const IA32_VMX_TRUE_ENTRY_CTLS: u32 = 0x490;
  export const IA32_EFER: u32 = 0xC0000080;
  export const IA32_FS_BASE: u32 = 0xC0000100;
  export const IA32_GS_BASE: u32 = 0xC0000101;
  export const IA32_KERNEL_GS_BASE: u32 = 0xC0000102;
  export const IA32_TSC_AUX: u32 = 0xC0000103;
  export const IA32_STAR: u32 = 0xC0000081;
  export const IA32_LSTAR: u32 = 0xC0000082;
  export const IA32_CSTAR: u32 = 0xC0000083;
  export const IA32_FMASK: u32 = 0xC0000084;
  export const IA32_TIME_STAMP_COUNTER: u32 = 0x10;
  export const IA32_PLATFORM_ID: u32 = 0x17;
  export const IA32_APIC_BASE: u32 = 0x1B;
  export const IA32_BIOS_SIGN_ID: u32 = 0x8B;
  export const IA32_MTRRCAP: u32 = 0xFE;
  export const IA32_SYSENTER_CS: u32 = 0x174;
  export const IA32_SYSENTER_ESP: u32 = 0x175;
  export const IA32_SYSENTER_EIP: u32 = 0x176;
  export const IA32_MISC_ENABLE: u32 = 0x1A0;
  export const IA32_MTRR_DEF_TYPE: u32 = 0x2FF;
  export const IA32_TSC_DEADLINE: u32 = 0x6E0;
  /** AMD: hardware configuration (APM vol 2 appendix A; bit 24 TscFreqSel: the TSC counts at the P0 frequency) */
  export const AMD64_HWCR: u32 = 0xC0010015;
  /** AMD: northbridge configuration (BKDG family 10h-16h MSRC001_001F; bit 46 EnableCF8ExtCfg) */
  export const AMD64_NB_CFG: u32 = 0xC001001F;
  /** AMD: SVM control (APM vol 2 15.30.1) */
  export const VM_CR: u32 = 0xC0010114;
  export const VM_HSAVE_PA: u32 = 0xC0010117;
}

/** IA32_FEATURE_CONTROL bits (SDM vol 3 24.7) */
export namespace FeatureControl {
  export const LOCK: u64 = 1 << 0;
  export const VMX_INSIDE_SMX: u64 = 1 << 1;
  export const VMX_OUTSIDE_SMX: u64 = 1 << 2;
}

/** VM_CR bits (APM vol 2 15.30.1) */
export namespace VmCr {
  export const LOCK: u64 = 1 << 3;
  export const SVMDIS: u64 = 1 << 4;
}

/** EFER bits (SDM vol 3 2.2.1; APM vol 2 3.1.7) */
export namespace Efer {
  export const SCE: u64 = 1 << 0;
  export const LME: u64 = 1 << 8;
  export const LMA: u64 = 1 << 10;
  export const NXE: u64 = 1 << 11;
  export const SVME: u64 = 1 << 12;
}

/** CR0 bits (SDM vol 3 2.5) */
export namespace Cr0 {
  export const PE: u64 = 1 << 0;
  export const MP: u64 = 1 << 1;
  export const ET: u64 = 1 << 4;
  export const NE: u64 = 1 << 5;
  export const WP: u64 = 1 << 16;
  export const PG: u64 = 1 << 31;
}

/** Power-on value of IA32_PAT (SDM vol 3 11.12.4). */
export const PAT_POWER_ON: u64 = 0x0007040600070406;

/** XCR0 state components (SDM vol 1 13.1): the ones guests may enable. */
export namespace Xcr0 {
  export const X87: u64 = 1 << 0;
  export const SSE: u64 = 1 << 1;
  export const AVX: u64 = 1 << 2;
}

/** CR4 bits (SDM vol 3 2.5) */
export namespace Cr4 {
  export const PAE: u64 = 1 << 5;
  export const PGE: u64 = 1 << 7;
  export const OSFXSR: u64 = 1 << 9;
  export const OSXMMEXCPT: u64 = 1 << 10;
  export const VMXE: u64 = 1 << 13;
  export const SMXE: u64 = 1 << 14;
  export const OSXSAVE: u64 = 1 << 18;
  export const PCIDE: u64 = 1 << 17;
}

export function readMsr(msr: u32): u64 {
  return <u64>rdmsr(<i32>msr);
}

export function writeMsr(msr: u32, value: u64): void {
  wrmsr(<i32>msr, <i64>value);
}

export function readCr0(): u64 {
  return <u64>read_cr0();
}

export function readCr4(): u64 {
  return <u64>read_cr4();
}
