// CPU detection: vendor, family/model, and what VT-x or AMD-V offers, read
// once at boot into `cpuInfo` for the VMM. Enables VT-x in
// IA32_FEATURE_CONTROL when firmware left it unlocked (SDM vol 3 24.7).
import { cpuid, CpuidResult, cpuidInto } from "../hw/cpuid";
import { FeatureControl, Msr, VmCr, readMsr, writeMsr } from "../hw/msr";
import { dec, hex } from "../lib/fmt";

export const enum Virt {
  None = 0,
  Vmx = 1,
  Svm = 2,
}

export class CpuInfo {
  vendor: string = "";
  brand: string = "";
  isIntel: bool = false;
  isAmd: bool = false;
  family: u32 = 0;
  model: u32 = 0;
  stepping: u32 = 0;
  maxLeaf: u32 = 0;
  maxExtLeaf: u32 = 0;
  /** CPUID.1:ECX[31]: running under another hypervisor */
  underHypervisor: bool = false;
  page1G: bool = false;
  nx: bool = false;
  x2apic: bool = false;
  physAddrBits: u32 = 36;

  /** which extension the CPU has (Virt.None when neither) */
  virt: Virt = Virt.None;
  /** false when firmware turned it off and locked it */
  virtUsable: bool = false;
  /** why virtualization is unusable, for the log */
  virtProblem: string = "";

  // VT-x (SDM vol 3 appendix A)
  featureControl: u64 = 0;
  vmxBasic: u64 = 0;
  vmcsRevision: u32 = 0;
  vmxTrueCtls: bool = false;
  vmxEpt: bool = false;
  vmxUnrestrictedGuest: bool = false;
  vmxVpid: bool = false;
  vmxPreemptionTimer: bool = false;
  /** the preemption timer counts down every 2^rate TSC cycles (IA32_VMX_MISC[4:0]) */
  vmxPreemptionTimerRate: u32 = 0;
  vmxEptVpidCap: u64 = 0;
  vmxEpt2M: bool = false;
  vmxEpt1G: bool = false;
  vmxEptWb: bool = false;
  vmxEptAd: bool = false;
  vmxInvvpid: bool = false;

  // AMD-V (APM vol 2 15.4, CPUID 0x8000000A)
  vmCr: u64 = 0;
  svmRevision: u32 = 0;
  svmAsids: u32 = 0;
  svmNpt: bool = false;
  svmNrips: bool = false;
  svmDecodeAssists: bool = false;
  svmVmcbClean: bool = false;
  svmFlushByAsid: bool = false;
  svmTscRate: bool = false;
  svmPauseFilter: bool = false;
}

/** Filled by detectCpu() at boot. */
export const cpuInfo = new CpuInfo();

function regString(r: u32): string {
  let s = "";
  for (let i = 0; i < 4; i++) {
    const c = (r >> (<u32>i * 8)) & 0xFF;
    if (c != 0) s += String.fromCharCode(<i32>c);
  }
  return s;
}

function bit(v: u64, n: i32): bool {
  return ((v >> <u64>n) & 1) != 0;
}

export function detectCpu(): CpuInfo {
  const c = cpuInfo;
  const r = new CpuidResult();
  cpuidInto(0, 0, r);
  c.maxLeaf = r.eax;
  c.vendor = regString(r.ebx) + regString(r.edx) + regString(r.ecx);
  c.isIntel = c.vendor == "GenuineIntel";
  c.isAmd = c.vendor == "AuthenticAMD";

  // leaf 1: family/model/stepping (SDM vol 2A CPUID, "display family/model")
  cpuidInto(1, 0, r);
  const baseFamily = (r.eax >> 8) & 0xF;
  const baseModel = (r.eax >> 4) & 0xF;
  c.stepping = r.eax & 0xF;
  c.family = baseFamily == 0xF ? baseFamily + ((r.eax >> 20) & 0xFF) : baseFamily;
  c.model = baseFamily == 0xF || baseFamily == 6 ? (((r.eax >> 16) & 0xF) << 4) | baseModel : baseModel;
  c.underHypervisor = (r.ecx & (1 << 31)) != 0;
  c.x2apic = (r.ecx & (1 << 21)) != 0;
  const hasVmx = (r.ecx & (1 << 5)) != 0;

  cpuidInto(0x80000000, 0, r);
  c.maxExtLeaf = r.eax;
  let hasSvm = false;
  if (c.maxExtLeaf >= 0x80000001) {
    cpuidInto(0x80000001, 0, r);
    hasSvm = (r.ecx & (1 << 2)) != 0;
    c.page1G = (r.edx & (1 << 26)) != 0;
    c.nx = (r.edx & (1 << 20)) != 0;
  }
  if (c.maxExtLeaf >= 0x80000004) {
    let b = "";
    for (let leaf: u32 = 0x80000002; leaf <= 0x80000004; leaf++) {
      cpuidInto(leaf, 0, r);
      b += regString(r.eax) + regString(r.ebx) + regString(r.ecx) + regString(r.edx);
    }
    c.brand = b.trim();
  }
  if (c.maxExtLeaf >= 0x80000008) {
    cpuidInto(0x80000008, 0, r);
    c.physAddrBits = r.eax & 0xFF;
  }

  if (hasVmx) detectVmx(c);
  else if (hasSvm) detectSvm(c);
  else c.virtProblem = "the CPU has neither VT-x (CPUID.1:ECX.VMX) nor AMD-V (CPUID.80000001h:ECX.SVM)";
  return c;
}

function allowed1(capMsr: u32): u32 {
  return <u32>(readMsr(capMsr) >> 32);
}

function detectVmx(c: CpuInfo): void {
  c.virt = Virt.Vmx;
  // IA32_FEATURE_CONTROL (SDM vol 3 24.7): VMXON faults unless the lock bit
  // and "VMX outside SMX" are set. Firmware that locked it without VMX has
  // turned VT-x off; unlocked, we enable it and lock it ourselves.
  let fc = readMsr(Msr.IA32_FEATURE_CONTROL);
  if ((fc & FeatureControl.LOCK) == 0) {
    fc |= FeatureControl.LOCK | FeatureControl.VMX_OUTSIDE_SMX;
    writeMsr(Msr.IA32_FEATURE_CONTROL, fc);
    fc = readMsr(Msr.IA32_FEATURE_CONTROL);
  }
  c.featureControl = fc;
  if ((fc & FeatureControl.VMX_OUTSIDE_SMX) == 0) {
    c.virtUsable = false;
    c.virtProblem = "VT-x is disabled by firmware: IA32_FEATURE_CONTROL is locked without VMX outside SMX (enable Intel Virtualization Technology in the BIOS setup)";
  } else c.virtUsable = true;

  // Capability MSRs (SDM vol 3 appendix A): allowed-1 settings in bits 63:32.
  c.vmxBasic = readMsr(Msr.IA32_VMX_BASIC);
  c.vmcsRevision = <u32>(c.vmxBasic & 0x7FFFFFFF);
  c.vmxTrueCtls = bit(c.vmxBasic, 55);
  const pin = allowed1(c.vmxTrueCtls ? Msr.IA32_VMX_TRUE_PINBASED_CTLS : Msr.IA32_VMX_PINBASED_CTLS);
  const proc = allowed1(c.vmxTrueCtls ? Msr.IA32_VMX_TRUE_PROCBASED_CTLS : Msr.IA32_VMX_PROCBASED_CTLS);
  c.vmxPreemptionTimer = (pin & (1 << 6)) != 0; // A.3.1
  c.vmxPreemptionTimerRate = <u32>(readMsr(Msr.IA32_VMX_MISC) & 0x1F); // A.6
  if ((proc & (1 << 31)) != 0) {
    // secondary controls exist (A.3.3)
    const proc2 = allowed1(Msr.IA32_VMX_PROCBASED_CTLS2);
    c.vmxEpt = (proc2 & (1 << 1)) != 0;
    c.vmxVpid = (proc2 & (1 << 5)) != 0;
    c.vmxUnrestrictedGuest = (proc2 & (1 << 7)) != 0;
    if (c.vmxEpt || c.vmxVpid) {
      // IA32_VMX_EPT_VPID_CAP exists only then (A.10); reading it otherwise faults
      const cap = readMsr(Msr.IA32_VMX_EPT_VPID_CAP);
      c.vmxEptVpidCap = cap;
      c.vmxEptWb = bit(cap, 14);
      c.vmxEpt2M = bit(cap, 16);
      c.vmxEpt1G = bit(cap, 17);
      c.vmxEptAd = bit(cap, 21);
      c.vmxInvvpid = bit(cap, 32);
    }
  }
}

function detectSvm(c: CpuInfo): void {
  c.virt = Virt.Svm;
  // VM_CR.SVMDIS (APM vol 2 15.30.1): set and locked means firmware disabled SVM.
  c.vmCr = readMsr(Msr.VM_CR);
  if ((c.vmCr & VmCr.SVMDIS) != 0) {
    c.virtUsable = false;
    c.virtProblem = (c.vmCr & VmCr.LOCK) != 0
      ? "AMD-V is disabled by firmware: VM_CR.SVMDIS is set and locked (enable SVM Mode in the BIOS setup)"
      : "AMD-V is disabled: VM_CR.SVMDIS is set";
  } else c.virtUsable = true;
  if (cpuInfo.maxExtLeaf >= 0x8000000A) {
    const r = cpuid(0x8000000A);
    c.svmRevision = r.eax & 0xFF;
    c.svmAsids = r.ebx;
    c.svmNpt = (r.edx & (1 << 0)) != 0;
    c.svmNrips = (r.edx & (1 << 3)) != 0;
    c.svmTscRate = (r.edx & (1 << 4)) != 0;
    c.svmVmcbClean = (r.edx & (1 << 5)) != 0;
    c.svmFlushByAsid = (r.edx & (1 << 6)) != 0;
    c.svmDecodeAssists = (r.edx & (1 << 7)) != 0;
    c.svmPauseFilter = (r.edx & (1 << 10)) != 0;
  }
}

function yn(b: bool): string {
  return b ? "yes" : "no";
}

/** "[cpu] ..." line: vendor, family/model, brand. */
export function cpuSummary(c: CpuInfo): string {
  let s = c.vendor + " family " + dec(c.family) + " model " + dec(c.model) + " stepping " + dec(c.stepping);
  if (c.brand.length > 0) s += ": " + c.brand;
  return s;
}

/** "[cpu] ..." second line: a few features the monitor relies on. */
export function cpuFeatures(c: CpuInfo): string {
  return "features: 1G pages " + yn(c.page1G) + ", NX " + yn(c.nx) + ", x2APIC " + yn(c.x2apic) +
    ", " + dec(c.physAddrBits) + "-bit physical addresses" + (c.underHypervisor ? ", running under a hypervisor" : "");
}

/** "[virt] ..." line: what the VMM can use. */
export function virtSummary(c: CpuInfo): string {
  if (c.virt == Virt.Vmx) {
    let s = "VT-x: " + (c.virtUsable ? "available" : "UNUSABLE") + " (VMCS revision 0x" + hex(c.vmcsRevision) +
      ", IA32_FEATURE_CONTROL 0x" + hex(c.featureControl) + "): EPT " + yn(c.vmxEpt);
    if (c.vmxEpt) s += " (2M " + yn(c.vmxEpt2M) + ", 1G " + yn(c.vmxEpt1G) + ", WB " + yn(c.vmxEptWb) + ", A/D " + yn(c.vmxEptAd) + ")";
    s += ", unrestricted guest " + yn(c.vmxUnrestrictedGuest) + ", VPID " + yn(c.vmxVpid) +
      ", preemption timer " + yn(c.vmxPreemptionTimer);
    if (c.vmxPreemptionTimer) s += " (TSC/2^" + dec(c.vmxPreemptionTimerRate) + ")";
    s += ", true controls " + yn(c.vmxTrueCtls);
    return s;
  }
  if (c.virt == Virt.Svm) {
    return "AMD-V: " + (c.virtUsable ? "available" : "UNUSABLE") + " (SVM revision " + dec(c.svmRevision) + ", " +
      dec(c.svmAsids) + " ASIDs): NPT " + yn(c.svmNpt) + ", NRIPS " + yn(c.svmNrips) + ", decode assists " +
      yn(c.svmDecodeAssists) + ", VMCB clean bits " + yn(c.svmVmcbClean) + ", flush by ASID " + yn(c.svmFlushByAsid) +
      ", TSC rate " + yn(c.svmTscRate) + ", pause filter " + yn(c.svmPauseFilter);
  }
  return "no hardware virtualization";
}
