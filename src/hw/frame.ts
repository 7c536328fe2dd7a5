// The CPU-state frame boot/ hands to the panic path: mirror of boot/frame.inc.
// u64 fields at these byte offsets from frame_pa (physical = identity address).
import { phys_load64 } from "./intrinsics";

export enum Frame {
  Rax = 0, Rbx = 8, Rcx = 16, Rdx = 24, Rsi = 32, Rdi = 40, Rbp = 48,
  R8 = 56, R9 = 64, R10 = 72, R11 = 80, R12 = 88, R13 = 96, R14 = 104, R15 = 112,
  Cr0 = 120, Cr2 = 128, Cr3 = 136, Cr4 = 144,
  /** exception vector; TRAP_VECTOR for a wasm trap */
  Vector = 152,
  /** CPU error code (0 when the vector has none) */
  Error = 160,
  Rip = 168, Cs = 176, Rflags = 184, Rsp = 192, Ss = 200,
  /** 0 CPU exception, 1 wasm trap */
  Kind = 208,
  /** trap code when Kind = 1 (ABI.md) */
  Trap = 216,
  Size = 224,
}

export const TRAP_VECTOR: u64 = 0xFFFF;

// @ts-ignore: decorator
@inline export function frameField(framePa: i64, field: Frame): u64 {
  return <u64>phys_load64(framePa + <i64>field);
}
