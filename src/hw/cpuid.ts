// CPUID (SDM vol 2A; AMD APM vol 3 appendix E): one call fills four registers.
import { cpuid as hwCpuid } from "./intrinsics";

const regs = memory.data(16);

export class CpuidResult {
  eax: u32 = 0;
  ebx: u32 = 0;
  ecx: u32 = 0;
  edx: u32 = 0;
}

/** Runs CPUID and keeps the registers in `out` (no allocation). */
export function cpuidInto(leaf: u32, subleaf: u32, out: CpuidResult): CpuidResult {
  hwCpuid(<i32>leaf, <i32>subleaf, regs);
  out.eax = load<u32>(regs, 0);
  out.ebx = load<u32>(regs, 4);
  out.ecx = load<u32>(regs, 8);
  out.edx = load<u32>(regs, 12);
  return out;
}

export function cpuid(leaf: u32, subleaf: u32 = 0): CpuidResult {
  return cpuidInto(leaf, subleaf, new CpuidResult());
}
