// x86 instruction decoding the VMM needs in common code: the mov forms a guest uses on MMIO, and the length of exiting instructions when the CPU does not report it (SDM vol 2 ch. 2, AMD APM vol 3 ch. 1).

/** The guest's code size: CS.D / CS.L / CR0.PE decide it; it sets default operand and address sizes (SDM vol 2 2.2.1). */
export enum CpuMode {
  Real16 = 16,
  Prot32 = 32,
  Long64 = 64,
}

/** Architectural limit on instruction length (SDM vol 2 2.3.11). */
export const MAX_INSN_LENGTH: i32 = 15;

/** One decoded MMIO access. The VMM reuses one object per vCPU, so decoding allocates nothing unless it fails. */
export class MmioAccess {
  /** Bytes the instruction occupies (RIP advances by this). */
  length: i32 = 0;
  /** Bytes read from or written to memory: 1, 2, 4 or 8. */
  size: u32 = 0;
  /** True for a store to memory, false for a load from it. */
  write: bool = false;
  /** The register written by a load or read by a store (0 = rAX ... 15 = r15); -1 for an immediate store. */
  reg: i32 = -1;
  /** reg names AH/CH/DH/BH (bits 15:8 of register reg). */
  highByte: bool = false;
  /** Immediate of C6/C7 (already sign-extended to the operand size for C7 with REX.W). */
  imm: u64 = 0;
  /** Loads: how many bytes of the register are written (1, 2, 4 or 8) and how the value is extended. */
  regSize: u32 = 0;
  signExtend: bool = false;
  /** Empty when decoding succeeded; otherwise what went wrong (the VMM adds the bytes). */
  error: string = "";
}

/** The instructions whose exits need a length (SVM without NRIPS: APM vol 2 15.7.1). */
export enum ExitInsn {
  None = 0,
  Cpuid,
  Rdmsr,
  Wrmsr,
  Rdpmc,
  Invd,
  Hlt,
  /** IN/OUT with an 8-bit immediate port (E4-E7). */
  IoImm,
  /** IN/OUT with the port in DX (EC-EF). */
  IoDx,
  /** INS/OUTS (6C-6F). */
  IoString,
  Xsetbv,
  /** MOV to a control register, 0F 22 /r: `cr`, `gpr`. */
  MovToCr,
  /** CLTS (0F 06): clears CR0.TS. */
  Clts,
  /** LMSW with a register operand (0F 01 /6, mod 3): `gpr`. */
  Lmsw,
}

export class ExitDecode {
  kind: ExitInsn = ExitInsn.None;
  length: i32 = 0;
  /** MovToCr: the control register (REX.R and, on AMD, LOCK select CR8+) and the source GPR (REX.B). */
  cr: i32 = 0;
  gpr: i32 = 0;
  error: string = "";
}

/** Prefix state shared by both decoders. */
class Prefixes {
  opsize: bool = false;
  addrsize: bool = false;
  lock: bool = false;
  rep: bool = false;
  rex: u32 = 0; // 0x40-0x4F when present (and immediately before the opcode), else 0
}

/** One instance: the monitor runs one vCPU exit at a time, and decoding must not allocate. */
const PFX = new Prefixes();

/**
 * Reads legacy prefixes and, in 64-bit mode, a REX prefix. A REX followed
 * by another prefix is ignored (SDM vol 2 2.2.1). Returns the offset of the
 * opcode, or -1 when the bytes run out or exceed 15.
 */
function prefixes(b: StaticArray<u8>, avail: i32, mode: CpuMode, p: Prefixes): i32 {
  let i = 0;
  p.opsize = false;
  p.addrsize = false;
  p.lock = false;
  p.rep = false;
  p.rex = 0;
  while (i < avail && i < MAX_INSN_LENGTH) {
    const c = <u32>unchecked(b[i]);
    if (c == 0x66) p.opsize = true;
    else if (c == 0x67) p.addrsize = true;
    else if (c == 0xf0) p.lock = true;
    else if (c == 0xf2 || c == 0xf3) p.rep = true;
    else if (c == 0x2e || c == 0x36 || c == 0x3e || c == 0x26 || c == 0x64 || c == 0x65) {
      // Segment overrides: the VMM has the faulting guest-physical address already.
    } else if (mode == CpuMode.Long64 && (c & 0xf0) == 0x40) {
      p.rex = c;
      i++;
      continue; // a REX only counts if the opcode follows it
    } else {
      return i;
    }
    p.rex = 0;
    i++;
  }
  return -1;
}

function fail(out: MmioAccess, why: string): bool {
  out.error = why;
  return false;
}

/**
 * Decodes the MMIO instruction at the start of `b` (`avail` bytes fetched):
 * MOV 88/89/8A/8B, MOV C6/0 and C7/0 with an immediate, MOV A0-A3 with a
 * memory offset, MOVZX 0F B6/B7 and MOVSX 0F BE/BF, with any prefixes.
 * False (with `out.error`) for anything else: the VMM stops the VM.
 */
export function decodeMmio(b: StaticArray<u8>, avail: i32, mode: CpuMode, out: MmioAccess): bool {
  out.error = "";
  out.reg = -1;
  out.highByte = false;
  out.imm = 0;
  out.signExtend = false;
  out.regSize = 0;
  if (avail > b.length) avail = b.length;
  const p = PFX;
  let i = prefixes(b, avail, mode, p);
  if (i < 0) return fail(out, avail >= MAX_INSN_LENGTH ? "longer than 15 bytes" : "truncated");
  if (p.lock) return fail(out, "LOCK prefix on an MMIO access");
  const rexW = (p.rex & 8) != 0;
  const rexR = (p.rex & 4) != 0 ? 8 : 0;
  // Operand size (SDM vol 1 tables 3-3, 3-4): REX.W = 64; 66 toggles the 16/32 default.
  let opSize: u32 = mode == CpuMode.Real16 ? 2 : 4;
  if (p.opsize) opSize = mode == CpuMode.Real16 ? 4 : 2;
  if (rexW) opSize = 8;
  // Address size (same tables): 64-bit mode 8 (67: 4); 32-bit 4 (67: 2); 16-bit 2 (67: 4).
  let addrSize: u32 = mode == CpuMode.Long64 ? 8 : mode == CpuMode.Prot32 ? 4 : 2;
  if (p.addrsize) addrSize = mode == CpuMode.Long64 ? 4 : mode == CpuMode.Prot32 ? 2 : 4;

  let op = <u32>unchecked(b[i++]);
  let twoByte = false;
  if (op == 0x0f) {
    if (i >= avail) return fail(out, "truncated");
    op = <u32>unchecked(b[i++]);
    twoByte = true;
  }

  if (!twoByte && op >= 0xa0 && op <= 0xa3) {
    // MOV AL/rAX <-> moffs: the offset has the address size, no ModRM.
    out.size = (op & 1) == 0 ? 1 : opSize;
    out.write = op >= 0xa2;
    out.reg = 0;
    out.regSize = out.size;
    i += <i32>addrSize;
    return finish(out, i, avail);
  }

  let immSize: i32 = 0;
  if (twoByte) {
    if (op != 0xb6 && op != 0xb7 && op != 0xbe && op != 0xbf) return fail(out, "unsupported opcode");
    out.size = (op & 1) == 0 ? 1 : 2;
    out.write = false;
    out.regSize = opSize;
    out.signExtend = op >= 0xbe;
  } else if (op == 0x88 || op == 0x89 || op == 0x8a || op == 0x8b) {
    out.size = (op & 1) == 0 ? 1 : opSize;
    out.write = op <= 0x89;
    out.regSize = out.size;
  } else if (op == 0xc6 || op == 0xc7) {
    out.size = op == 0xc6 ? 1 : opSize;
    out.write = true;
    immSize = op == 0xc6 ? 1 : opSize == 2 ? 2 : 4; // imm32 sign-extended for 64-bit operands
  } else {
    return fail(out, "unsupported opcode");
  }

  if (i >= avail) return fail(out, "truncated");
  const modrm = <u32>unchecked(b[i++]);
  const mod = modrm >> 6;
  const reg = (modrm >> 3) & 7;
  const rm = modrm & 7;
  if (mod == 3) return fail(out, "register operand, not memory");
  if ((op == 0xc6 || op == 0xc7) && !twoByte) {
    if (reg != 0) return fail(out, "unsupported opcode"); // C6/C7 with reg != 0 are not MOV
  } else if (out.size == 1 && !twoByte && p.rex == 0 && reg >= 4) {
    out.reg = <i32>(reg - 4); // AH, CH, DH, BH without REX (SDM vol 2 3.7.2.1)
    out.highByte = true;
  } else {
    out.reg = <i32>(reg + rexR);
  }

  // Displacement and SIB (SDM vol 2 tables 2-1, 2-2, 2-3).
  if (addrSize == 2) {
    if (mod == 0 && rm == 6) i += 2;
    else if (mod == 1) i += 1;
    else if (mod == 2) i += 2;
  } else {
    if (rm == 4) {
      if (i >= avail) return fail(out, "truncated");
      const sib = <u32>unchecked(b[i++]);
      if (mod == 0 && (sib & 7) == 5) i += 4;
    }
    if (mod == 0 && rm == 5) i += 4; // disp32 (RIP-relative in 64-bit mode)
    else if (mod == 1) i += 1;
    else if (mod == 2) i += 4;
  }

  if (immSize > 0) {
    if (i + immSize > avail || i + immSize > MAX_INSN_LENGTH) return fail(out, i + immSize > MAX_INSN_LENGTH ? "longer than 15 bytes" : "truncated");
    let v: u64 = 0;
    for (let k = 0; k < immSize; k++) v |= <u64>unchecked(b[i + k]) << (8 * k);
    if (immSize == 4 && out.size == 8) v = <u64>(<i64>(<i32>(<u32>v)));
    out.imm = v;
    i += immSize;
  }
  return finish(out, i, avail);
}

function finish(out: MmioAccess, len: i32, avail: i32): bool {
  if (len > MAX_INSN_LENGTH) return fail(out, "longer than 15 bytes");
  if (len > avail) return fail(out, "truncated");
  out.length = len;
  return true;
}

/**
 * The register value after a load of `value` (the bytes read, zero-extended)
 * into a register that held `old`: 8- and 16-bit writes keep the other bits,
 * 32-bit writes zero bits 63:32 (SDM vol 1 3.4.1.1), MOVZX/MOVSX extend.
 */
export function loadResult(a: MmioAccess, old: u64, value: u64): u64 {
  let v = value;
  if (a.size < 8) v &= (<u64>1 << (8 * a.size)) - 1;
  if (a.signExtend) {
    v = a.size == 1 ? <u64>(<i64>(<i8>(<u8>v))) : <u64>(<i64>(<i16>(<u16>v)));
  }
  if (a.highByte) return (old & ~(<u64>0xff00)) | ((v & 0xff) << 8);
  if (a.regSize == 1) return (old & ~(<u64>0xff)) | (v & 0xff);
  if (a.regSize == 2) return (old & ~(<u64>0xffff)) | (v & 0xffff);
  if (a.regSize == 4) return v & 0xffffffff;
  return v;
}

/** The bytes a store writes, from the source register's value (ignored for immediates), masked to the access size. */
export function storeValue(a: MmioAccess, regValue: u64): u64 {
  let v = a.reg < 0 ? a.imm : a.highByte ? regValue >> 8 : regValue;
  if (a.size < 8) v &= (<u64>1 << (8 * a.size)) - 1;
  return v;
}

/**
 * The length of the exiting instruction at the start of `b`, and which one
 * it is, for CPUs that do not report it (AMD-V without NRIPS). Accepts any
 * legacy prefixes and a REX; longer than 15 bytes or anything else fails.
 */
export function decodeExit(b: StaticArray<u8>, avail: i32, mode: CpuMode, out: ExitDecode): bool {
  out.kind = ExitInsn.None;
  out.length = 0;
  out.error = "";
  out.cr = 0;
  out.gpr = 0;
  if (avail > b.length) avail = b.length;
  const p = PFX;
  let i = prefixes(b, avail, mode, p);
  if (i < 0) {
    out.error = avail >= MAX_INSN_LENGTH ? "longer than 15 bytes" : "truncated";
    return false;
  }
  const op = <u32>unchecked(b[i++]);
  let kind = ExitInsn.None;
  if (op == 0xf4) kind = ExitInsn.Hlt;
  else if (op >= 0xe4 && op <= 0xe7) {
    kind = ExitInsn.IoImm;
    i++; // the port byte
  } else if (op >= 0xec && op <= 0xef) kind = ExitInsn.IoDx;
  else if (op >= 0x6c && op <= 0x6f) kind = ExitInsn.IoString;
  else if (op == 0x0f && i < avail) {
    const op2 = <u32>unchecked(b[i++]);
    if (op2 == 0xa2) kind = ExitInsn.Cpuid;
    else if (op2 == 0x32) kind = ExitInsn.Rdmsr;
    else if (op2 == 0x30) kind = ExitInsn.Wrmsr;
    else if (op2 == 0x33) kind = ExitInsn.Rdpmc;
    else if (op2 == 0x08) kind = ExitInsn.Invd;
    else if (op2 == 0x06) kind = ExitInsn.Clts;
    else if (op2 == 0x01 && i < avail && unchecked(b[i]) == 0xd1) {
      kind = ExitInsn.Xsetbv;
      i++;
    } else if (op2 == 0x01 && i < avail && (unchecked(b[i]) & 0xf8) == 0xf0) {
      // SDM vol 2A LMSW: 0F 01 /6; the memory form is not decoded (the VM stops with its bytes)
      out.gpr = (<i32>unchecked(b[i]) & 7) | ((p.rex & 1) != 0 ? 8 : 0);
      kind = ExitInsn.Lmsw;
      i++;
    } else if (op2 == 0x22 && i < avail) {
      // SDM vol 2B MOV (control registers): ModRM.reg = CR, ModRM.rm = GPR whatever the mod bits;
      // APM vol 3: LOCK MOV CR0 is CR8.
      const modrm = <i32>unchecked(b[i++]);
      kind = ExitInsn.MovToCr;
      out.cr = ((modrm >> 3) & 7) | ((p.rex & 4) != 0 ? 8 : 0);
      if (p.lock && out.cr == 0) out.cr = 8;
      out.gpr = (modrm & 7) | ((p.rex & 1) != 0 ? 8 : 0);
    }
  } else if (op == 0x0f) {
    out.error = "truncated";
    return false;
  }
  if (kind == ExitInsn.None) {
    out.error = "not an instruction that exits";
    return false;
  }
  if (i > MAX_INSN_LENGTH) {
    out.error = "longer than 15 bytes";
    return false;
  }
  if (i > avail) {
    out.error = "truncated";
    return false;
  }
  out.kind = kind;
  out.length = i;
  return true;
}

/** "0f 0b 90" for a stop reason: the first `n` bytes fetched. */
export function hexBytes(b: StaticArray<u8>, n: i32): string {
  let s = "";
  const digits = "0123456789abcdef";
  if (n > b.length) n = b.length;
  for (let k = 0; k < n; k++) {
    const v = <i32>unchecked(b[k]);
    if (k > 0) s += " ";
    s += digits.charAt(v >> 4) + digits.charAt(v & 15);
  }
  return s;
}
