// Guest linear -> guest-physical translation by walking the guest's own page
// tables (SDM vol 3 4.3-4.5), and the fetch of the instruction bytes at RIP
// that MMIO emulation and next-RIP decoding need. Common code: no vendor.

import { BoundedMemory } from "../lib/bounded-memory";
import { CpuState, Seg } from "./cpu-state";
import { CpuMode, MAX_INSN_LENGTH } from "./x86/decode";

/** Returned by translate() when the walk fails (not present, or a table outside RAM). */
export const NO_TRANSLATION: u64 = u64.MAX_VALUE;

const CR0_PG: u64 = 1 << 31;
const CR4_PSE: u64 = 1 << 4;
const CR4_PAE: u64 = 1 << 5;
const EFER_LMA: u64 = 1 << 10;
const ADDR_MASK: u64 = 0x000ffffffffff000; // physical-address bits of an entry (52-bit maximum)

/** The guest-physical address of linear address `la`, or NO_TRANSLATION. Permissions are not checked. */
export function translate(ram: BoundedMemory, st: CpuState, la: u64): u64 {
  if ((st.cr0 & CR0_PG) == 0) return (st.efer & EFER_LMA) != 0 ? la : la & 0xffffffff;
  if ((st.efer & EFER_LMA) != 0) {
    // 4-level paging (SDM 4.5): PML4, PDPT (1 GiB leaves), PD (2 MiB leaves), PT.
    let table = st.cr3 & ADDR_MASK;
    for (let level = 3; level >= 0; level--) {
      const shift = <u64>(12 + 9 * level);
      const e = entry64(ram, table + (((la >> shift) & 511) << 3));
      if ((e & 1) == 0) return NO_TRANSLATION;
      if (level == 0 || ((level == 1 || level == 2) && (e & 0x80) != 0)) {
        const pageMask = (<u64>1 << shift) - 1;
        return ((e & ADDR_MASK) & ~pageMask) | (la & pageMask);
      }
      table = e & ADDR_MASK;
    }
    return NO_TRANSLATION;
  }
  const la32 = la & 0xffffffff;
  if ((st.cr4 & CR4_PAE) != 0) {
    // PAE (SDM 4.4): four PDPTEs at CR3[31:5], then PD (2 MiB leaves) and PT.
    const pdpte = entry64(ram, (st.cr3 & 0xffffffe0) + ((la32 >> 30) << 3));
    if ((pdpte & 1) == 0) return NO_TRANSLATION;
    const pde = entry64(ram, (pdpte & ADDR_MASK) + (((la32 >> 21) & 511) << 3));
    if ((pde & 1) == 0) return NO_TRANSLATION;
    if ((pde & 0x80) != 0) return (pde & ADDR_MASK & ~(<u64>0x1fffff)) | (la32 & 0x1fffff);
    const pte = entry64(ram, (pde & ADDR_MASK) + (((la32 >> 12) & 511) << 3));
    if ((pte & 1) == 0) return NO_TRANSLATION;
    return (pte & ADDR_MASK) | (la32 & 0xfff);
  }
  // 32-bit paging (SDM 4.3): PD at CR3[31:12], 4 MiB leaves with CR4.PSE (PSE-36 bits 20:13 -> 39:32).
  const pde = <u64>ram.load32((st.cr3 & 0xfffff000) + ((la32 >> 22) << 2));
  if (ram.fault || (pde & 1) == 0) return NO_TRANSLATION;
  if ((pde & 0x80) != 0 && (st.cr4 & CR4_PSE) != 0) {
    return (pde & 0xffc00000) | (((pde >> 13) & 0xff) << 32) | (la32 & 0x3fffff);
  }
  const pte = <u64>ram.load32((pde & 0xfffff000) + (((la32 >> 12) & 1023) << 2));
  if (ram.fault || (pte & 1) == 0) return NO_TRANSLATION;
  return (pte & 0xfffff000) | (la32 & 0xfff);
}

/** One 8-byte entry; NO_TRANSLATION-worthy (not present) when the table lies outside RAM. */
function entry64(ram: BoundedMemory, gpa: u64): u64 {
  if (!ram.contains(gpa, 8)) return 0;
  return ram.load64(gpa);
}

/** The code size the decoder needs: 64 in long mode with CS.L, else CS.D (or real mode). */
export function cpuMode(st: CpuState): CpuMode {
  if (st.is64()) return CpuMode.Long64;
  if ((st.cr0 & 1) == 0) return CpuMode.Real16;
  return (st.seg(Seg.Cs).attr & 0x400) != 0 ? CpuMode.Prot32 : CpuMode.Real16;
}

/**
 * Copies up to 15 instruction bytes at CS:RIP into `out` (page by page, through the guest's tables);
 * returns how many could be read (0 when the first byte is not reachable).
 */
export function fetchInsn(ram: BoundedMemory, st: CpuState, out: StaticArray<u8>): i32 {
  const mode = cpuMode(st);
  let la = st.seg(Seg.Cs).base + st.rip;
  if (mode != CpuMode.Long64) la &= 0xffffffff;
  let n = 0;
  while (n < MAX_INSN_LENGTH) {
    const gpa = translate(ram, st, la + <u64>n);
    if (gpa == NO_TRANSLATION || !ram.contains(gpa, 1)) break;
    // the rest of this page in one go
    let chunk = <i32>(4096 - (gpa & 0xfff));
    if (chunk > MAX_INSN_LENGTH - n) chunk = MAX_INSN_LENGTH - n;
    if (!ram.contains(gpa, <u64>chunk)) chunk = <i32>(ram.size() - gpa);
    ram.readTo(changetype<usize>(out) + <usize>n, gpa, <u32>chunk);
    n += chunk;
  }
  return n;
}
