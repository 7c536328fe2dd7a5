// The guest CPU state in vendor-neutral terms: segments, descriptor tables,
// control registers, EFER, RSP/RIP/RFLAGS. Vcpu.getState/setState move it in
// and out of the VMCS or VMCB; common code builds entry states from it.

/** Segment registers in x86 encoding order (ModRM sreg numbers, the VMCS field order), then LDTR and TR. */
export const enum Seg {
  Es = 0,
  Cs = 1,
  Ss = 2,
  Ds = 3,
  Fs = 4,
  Gs = 5,
  Ldtr = 6,
  Tr = 7,
  Count = 8,
}

/**
 * A segment register's hidden part. `attr` is the descriptor's attribute bits packed as the VMCB does
 * (APM vol 2 15.5.1): type 3:0, S 4, DPL 6:5, P 7, AVL 8, L 9, D/B 10, G 11. attr 0 is an unusable
 * (null) segment; the VMX backend converts to access rights (SDM 24.4.1, bit 16 unusable).
 */
export class Segment {
  sel: u32 = 0;
  base: u64 = 0;
  limit: u32 = 0;
  attr: u32 = 0;

  set(sel: u32, base: u64, limit: u32, attr: u32): void {
    this.sel = sel;
    this.base = base;
    this.limit = limit;
    this.attr = attr;
  }
}

export namespace SegAttr {
  /** Real-mode code and data (present, S, accessed; code readable), SDM 9.1.1. */
  export const REAL_CODE: u32 = 0x9b;
  export const REAL_DATA: u32 = 0x93;
  /** LDTR present, type 2; TR present, busy 32/64-bit TSS (type 11), SDM 26.3.1.2. */
  export const LDT: u32 = 0x82;
  export const TSS_BUSY: u32 = 0x8b;
  /** 64-bit code: P, S, type 11 (execute/read, accessed), L; 4 KiB granularity. */
  export const CODE64: u32 = 0xa9b;
  /** 32-bit data: P, S, type 3, D/B, G. */
  export const DATA32: u32 = 0xc93;
}

export class CpuState {
  segs: StaticArray<Segment> = [
    new Segment(), new Segment(), new Segment(), new Segment(),
    new Segment(), new Segment(), new Segment(), new Segment(),
  ];
  gdtBase: u64 = 0;
  gdtLimit: u32 = 0;
  idtBase: u64 = 0;
  idtLimit: u32 = 0;
  cr0: u64 = 0;
  cr3: u64 = 0;
  cr4: u64 = 0;
  efer: u64 = 0;
  rsp: u64 = 0;
  rip: u64 = 0;
  rflags: u64 = 2;

  seg(s: Seg): Segment {
    return this.segs[<i32>s];
  }

  /** SDM vol 3 9.1.1 power-on state, with CS:IP = 0:ip and SP = sp (the test guests' convention). */
  realMode(ip: u64, sp: u64): CpuState {
    for (let i = 0; i < 6; i++) this.segs[i].set(0, 0, 0xffff, i == Seg.Cs ? SegAttr.REAL_CODE : SegAttr.REAL_DATA);
    this.seg(Seg.Ldtr).set(0, 0, 0xffff, SegAttr.LDT);
    this.seg(Seg.Tr).set(0, 0, 0xffff, SegAttr.TSS_BUSY);
    this.gdtBase = 0;
    this.gdtLimit = 0xffff;
    this.idtBase = 0;
    this.idtLimit = 0x3ff;
    this.cr0 = 0x10; // ET
    this.cr3 = 0;
    this.cr4 = 0;
    this.efer = 0;
    this.rsp = sp;
    this.rip = ip;
    this.rflags = 2;
    return this;
  }

  /** Long mode, CPL 0, flat: the state the Linux 64-bit boot protocol asks for (boot.rst "64-bit BOOT PROTOCOL"). */
  longMode(rip: u64, cr3: u64, gdtBase: u64, gdtLimit: u32, codeSel: u32, dataSel: u32): CpuState {
    this.seg(Seg.Cs).set(codeSel, 0, 0xffffffff, SegAttr.CODE64);
    for (let i = 0; i < 6; i++) if (i != Seg.Cs) this.segs[i].set(dataSel, 0, 0xffffffff, SegAttr.DATA32);
    this.seg(Seg.Ldtr).set(0, 0, 0xffff, SegAttr.LDT);
    this.seg(Seg.Tr).set(0, 0, 0xffff, SegAttr.TSS_BUSY);
    this.gdtBase = gdtBase;
    this.gdtLimit = gdtLimit;
    this.idtBase = 0;
    this.idtLimit = 0;
    this.cr0 = 0x80050033; // PG, AM, WP, NE, ET, MP, PE
    this.cr3 = cr3;
    this.cr4 = 0x20; // PAE
    this.efer = 0x500; // LME, LMA
    this.rsp = 0;
    this.rip = rip;
    this.rflags = 2;
    return this;
  }

  /** True in 64-bit mode (EFER.LMA and CS.L). */
  is64(): bool {
    return (this.efer & 0x400) != 0 && (this.seg(Seg.Cs).attr & 0x200) != 0;
  }
}
