// 16550 UART driver (PC16550D datasheet): COM1 is the console, COM2 the
// management channel. Polled, no interrupts: the byte API below never blocks
// for reads and waits a bounded time for the transmitter.
import { inb, outb, pause } from "../hw/intrinsics";
import { Port } from "../hw/ports";

/** Register offsets from the base port. */
const enum Reg {
  Data = 0, // RBR/THR, DLL when LCR.DLAB
  Ier = 1, // DLM when LCR.DLAB
  Fcr = 2,
  Lcr = 3,
  Mcr = 4,
  Lsr = 5,
  Scr = 7,
}

const enum Lsr {
  DataReady = 0x01,
  Thre = 0x20,
  Temt = 0x40,
}

/** Spins allowed waiting for THRE before a byte is dropped (a missing or stuck UART must not hang the monitor). */
const TX_SPIN_LIMIT = 100_000;

export class Uart16550 {
  present: bool = false;
  dropped: u32 = 0;

  constructor(public base: u16) {}

  /** 8N1 at `baud` (a divisor of 115200), FIFOs on, interrupts off. Returns false if no UART answers (scratch register test). */
  init(baud: u32 = 115200): bool {
    const b = <i32>this.base;
    outb(b + Reg.Scr, 0x5A);
    if ((inb(b + Reg.Scr) & 0xFF) != 0x5A) {
      this.present = false;
      return false;
    }
    const divisor = baud == 0 ? 1 : <i32>(115200 / baud);
    outb(b + Reg.Ier, 0x00);
    outb(b + Reg.Lcr, 0x80); // DLAB
    outb(b + Reg.Data, divisor & 0xFF);
    outb(b + Reg.Ier, (divisor >> 8) & 0xFF);
    outb(b + Reg.Lcr, 0x03); // 8N1
    outb(b + Reg.Fcr, 0xC7); // FIFO on, clear both, 14-byte trigger
    outb(b + Reg.Mcr, 0x03); // DTR, RTS
    this.present = true;
    return true;
  }

  /** True when a received byte is waiting. */
  canRead(): bool {
    return (inb(<i32>this.base + Reg.Lsr) & Lsr.DataReady) != 0;
  }

  /** The next received byte, or -1 when none is waiting (never blocks). */
  readByte(): i32 {
    if (!this.canRead()) return -1;
    return inb(<i32>this.base + Reg.Data) & 0xFF;
  }

  /** True when the transmitter holding register is empty. */
  canWrite(): bool {
    return (inb(<i32>this.base + Reg.Lsr) & Lsr.Thre) != 0;
  }

  /** Sends one byte, waiting a bounded time for room. Returns false if it was dropped. */
  writeByte(byte: u8): bool {
    const b = <i32>this.base;
    for (let i = 0; i < TX_SPIN_LIMIT; i++) {
      if ((inb(b + Reg.Lsr) & Lsr.Thre) != 0) {
        outb(b + Reg.Data, <i32>byte);
        return true;
      }
      pause();
    }
    this.dropped++;
    return false;
  }

  /** Writes an ASCII string; "\n" goes out as "\r\n". */
  write(s: string): void {
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c == 10) this.writeByte(13);
      this.writeByte(<u8>(c < 0x80 ? c : 0x3F));
    }
  }

  /** Waits (bounded) until every byte has left the shift register (LSR.TEMT). */
  drain(): void {
    const b = <i32>this.base;
    for (let i = 0; i < TX_SPIN_LIMIT; i++) {
      if ((inb(b + Reg.Lsr) & Lsr.Temt) != 0) return;
      pause();
    }
  }
}

/** COM1: the console. */
export const com1 = new Uart16550(Port.COM1);
/** COM2: reserved for the management channel (src/mgmt-api polls it with readByte/writeByte). */
export const com2 = new Uart16550(Port.COM2);
