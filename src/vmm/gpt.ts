// Guest-physical page tables (EPT or NPT): a 4-level radix tree built in
// frames owned by one VM. The entry bits come from the backend's TableFormat;
// both formats keep the physical address in bits 51:12 (SDM 28.3.2,
// APM 15.25.5).

import { TableFormat } from "./vcpu";
import { allocFrame, phys_load64, phys_store64 } from "./hw";

const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;
const LARGE: u64 = 0x200000;

export class GuestTables {
  root: u64;
  /** Frames used by the tables themselves (for accounting). */
  frames: i32 = 1;

  constructor(public format: TableFormat) {
    this.root = allocFrame();
  }

  /** Maps guest-physical [gpa, gpa+len) to host-physical [hpa, ...); 4 KiB aligned. */
  map(gpa: u64, hpa: u64, len: u64): bool {
    let off: u64 = 0;
    while (off < len) {
      const g = gpa + off;
      const h = hpa + off;
      if (this.format.large && (g & (LARGE - 1)) == 0 && (h & (LARGE - 1)) == 0 && len - off >= LARGE) {
        const pd = this.table(g, 2);
        if (pd == 0) return false;
        phys_store64(pd + (((g >> 21) & 511) << 3), h | this.format.leaf2mBits);
        off += LARGE;
      } else {
        const pt = this.table(g, 1);
        if (pt == 0) return false;
        phys_store64(pt + (((g >> 12) & 511) << 3), h | this.format.leaf4kBits);
        off += 4096;
      }
    }
    return true;
  }

  /** The table at `level` (1 = PT, 2 = PD, 3 = PDPT) covering gpa, created as needed. */
  private table(gpa: u64, level: i32): u64 {
    let t = this.root;
    for (let l = 4; l > level; l--) {
      const shift = <u64>(12 + 9 * (l - 1));
      const slot = t + (((gpa >> shift) & 511) << 3);
      const e = phys_load64(slot);
      if (e == 0) {
        const n = allocFrame();
        if (n == 0) return 0;
        this.frames++;
        phys_store64(slot, n | this.format.tableBits);
        t = n;
      } else {
        t = e & ADDR_MASK;
      }
    }
    return t;
  }

  /** Host-physical address backing gpa, or u64.MAX_VALUE when unmapped. */
  translate(gpa: u64): u64 {
    let t = this.root;
    for (let l = 4; l >= 1; l--) {
      const shift = <u64>(12 + 9 * (l - 1));
      const e = phys_load64(t + (((gpa >> shift) & 511) << 3));
      if (e == 0) return u64.MAX_VALUE;
      if (l == 2 && (e & 0x80) != 0) return (e & ADDR_MASK & ~(LARGE - 1)) | (gpa & (LARGE - 1));
      t = e & ADDR_MASK;
    }
    return t | (gpa & 0xfff);
  }
}
