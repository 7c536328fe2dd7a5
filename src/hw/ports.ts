// I/O port numbers and typed port access.
import { inb, outb } from "./intrinsics";

export namespace Port {
  export const COM1: u16 = 0x3F8;
  export const COM2: u16 = 0x2F8;
  export const COM3: u16 = 0x3E8;
  export const COM4: u16 = 0x2E8;
  /** QEMU isa-debug-exit (boot/layout.inc) */
  export const DEBUG_EXIT: u16 = 0xF4;
  export const PIC1_DATA: u16 = 0x21;
  export const PIC2_DATA: u16 = 0xA1;
}

export function in8(port: u16): u8 {
  return <u8>(inb(<i32>port) & 0xFF);
}

export function out8(port: u16, value: u8): void {
  outb(<i32>port, <i32>value & 0xFF);
}
