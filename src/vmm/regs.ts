// Guest general-purpose registers not held in the VMCS/VMCB: the block that
// boot/vmentry.S loads before VM entry and stores after VM exit.

/** Slots, in x86 register-encoding order (so ModRM numbers index them). */
export const enum Reg {
  Rax = 0,
  Rcx = 1,
  Rdx = 2,
  Rbx = 3,
  Rsp = 4, // unused in the block: RSP lives in the VMCS/VMCB
  Rbp = 5,
  Rsi = 6,
  Rdi = 7,
  R8 = 8,
  R15 = 15,
  Cr2 = 16,
  Count = 17,
}

export function newRegs(): StaticArray<u64> {
  return new StaticArray<u64>(Reg.Count);
}

/** Address handed to the trampoline (p argument: a linear-memory offset). */
export function regsPtr(regs: StaticArray<u64>): usize {
  return changetype<usize>(regs);
}
