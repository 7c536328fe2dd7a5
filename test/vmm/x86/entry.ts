// Flat exports over the x86 decoders for test/vmm/x86/decode.test.ts: bytes go in through a buffer, results come out as text.

import { CpuMode, MmioAccess, ExitDecode, decodeMmio, decodeExit, loadResult, storeValue, hexBytes } from "../../../src/vmm/x86/decode";

const buf = new StaticArray<u8>(32);
const acc = new MmioAccess();
const ex = new ExitDecode();

export function bufPtr(): usize {
  return changetype<usize>(buf);
}

/** "len=N size=S dir=r|w reg=R|imm high=0|1 imm=HEX regsize=N ext=z|s" or "error: why". */
export function mmio(avail: i32, mode: i32): string {
  if (!decodeMmio(buf, avail, <CpuMode>mode, acc)) return "error: " + acc.error;
  return (
    "len=" + acc.length.toString() + " size=" + acc.size.toString() + " dir=" + (acc.write ? "w" : "r") +
    " reg=" + (acc.reg < 0 ? "imm" : acc.reg.toString()) + " high=" + (acc.highByte ? "1" : "0") +
    " imm=" + acc.imm.toString(16) + " regsize=" + acc.regSize.toString() + " ext=" + (acc.signExtend ? "s" : "z")
  );
}
/** The length the decoder gives, or -1. */
export function mmioLength(avail: i32, mode: i32): i32 {
  return decodeMmio(buf, avail, <CpuMode>mode, acc) ? acc.length : -1;
}
export function load(old: u64, value: u64): u64 {
  return loadResult(acc, old, value);
}
export function store(regValue: u64): u64 {
  return storeValue(acc, regValue);
}
/** "KIND LEN" or "error: why". */
export function exitInsn(avail: i32, mode: i32): string {
  if (!decodeExit(buf, avail, <CpuMode>mode, ex)) return "error: " + ex.error;
  return (<i32>ex.kind).toString() + " " + ex.length.toString();
}
/** "KIND LEN cr=N gpr=N" (MOV to CR, CLTS, LMSW) or "error: why". */
export function exitCr(avail: i32, mode: i32): string {
  if (!decodeExit(buf, avail, <CpuMode>mode, ex)) return "error: " + ex.error;
  return (<i32>ex.kind).toString() + " " + ex.length.toString() + " cr=" + ex.cr.toString() + " gpr=" + ex.gpr.toString();
}
export function hex(n: i32): string {
  return hexBytes(buf, n);
}
