// The VMM's view of src/hw: u64-typed wrappers over the intrinsics and the
// physical page allocator, so VMM code reads in the manuals' unsigned terms.

import * as I from "../hw/intrinsics";
import { physPages } from "../platform/pages";

@inline export function phys_load8(pa: u64): u32 { return <u32>I.phys_load8(<i64>pa); }
@inline export function phys_load16(pa: u64): u32 { return <u32>I.phys_load16(<i64>pa); }
@inline export function phys_load32(pa: u64): u32 { return <u32>I.phys_load32(<i64>pa); }
@inline export function phys_load64(pa: u64): u64 { return <u64>I.phys_load64(<i64>pa); }
@inline export function phys_store8(pa: u64, v: u64): void { I.phys_store8(<i64>pa, <i32>v); }
@inline export function phys_store16(pa: u64, v: u64): void { I.phys_store16(<i64>pa, <i32>v); }
@inline export function phys_store32(pa: u64, v: u64): void { I.phys_store32(<i64>pa, <i32>v); }
@inline export function phys_store64(pa: u64, v: u64): void { I.phys_store64(<i64>pa, <i64>v); }
@inline export function phys_fill(pa: u64, byte: u32, len: u64): void { I.phys_fill(<i64>pa, <i32>byte, <i64>len); }
@inline export function rdmsr(msr: u32): u64 { return <u64>I.rdmsr(<i32>msr); }
@inline export function wrmsr(msr: u32, v: u64): void { I.wrmsr(<i32>msr, <i64>v); }
@inline export function read_cr0(): u64 { return <u64>I.read_cr0(); }
@inline export function read_cr3(): u64 { return <u64>I.read_cr3(); }
@inline export function read_cr4(): u64 { return <u64>I.read_cr4(); }
@inline export function write_cr0(v: u64): void { I.write_cr0(<i64>v); }
@inline export function write_cr4(v: u64): void { I.write_cr4(<i64>v); }
@inline export function rdtsc(): u64 { return <u64>I.rdtsc(); }
@inline export function pause(): void { I.pause(); }

const cpuidBuf = memory.data(16);

/** One CPUID output register: 0 eax, 1 ebx, 2 ecx, 3 edx. */
export function cpuidReg(leaf: u32, subleaf: u32, reg: i32): u32 {
  I.cpuid(<i32>leaf, <i32>subleaf, cpuidBuf);
  return load<u32>(cpuidBuf + (<usize>reg << 2));
}

/** CPUID into four u32 at `out` (linear memory). */
export function cpuidRaw(leaf: u32, subleaf: u32, out: usize): void {
  I.cpuid(<i32>leaf, <i32>subleaf, out);
}

/** One zeroed 4 KiB frame, or 0 when memory is exhausted. */
export function allocFrame(): u64 {
  return physPages.allocPage(true);
}

/** `count` zeroed contiguous frames, 4 KiB aligned, or 0. */
export function allocFrames(count: u64): u64 {
  return physPages.allocContiguous(count, 1, true);
}

/** `count` zeroed contiguous frames aligned to 2 MiB, or 0. */
export function allocFrames2m(count: u64): u64 {
  return physPages.allocContiguous(count, 512, true);
}

export function freeFrame(pa: u64): void {
  physPages.freePage(pa);
}
