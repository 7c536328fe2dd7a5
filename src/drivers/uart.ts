// 16550 UART driver (PC16550D / TL16C550 datasheets): COM1 is the console, COM2 the
// management channel. Polled, no interrupts. Normal output goes into a
// bounded transmit queue that poll() hands to the UART as it accepts bytes
// (never waiting); only the panic and shutdown paths write synchronously.
import { inb, outb, pause } from "../hw/intrinsics";
import { Port } from "../hw/ports";
import { ByteQueue } from "../lib/byte-queue";

/** Register offsets from the base port. */
const enum Reg {
  Data = 0, // RBR/THR, DLL when LCR.DLAB
  Ier = 1, // DLM when LCR.DLAB
  Fcr = 2, // write: FIFO control; read: IIR
  Lcr = 3,
  Mcr = 4,
  Lsr = 5,
  Scr = 7,
}

const enum Lsr {
  DataReady = 0x01,
  /** A received byte arrived with the receiver FIFO full and was lost; cleared by reading LSR. */
  Overrun = 0x02,
  Thre = 0x20,
  Temt = 0x40,
}

const enum Mcr {
  Dtr = 0x01,
  /** RTS: with RTS/CTS flow control the peer sends only while it is asserted. */
  Rts = 0x02,
  /** Loopback: transmitter wired to receiver, SIN disconnected. */
  Loop = 0x10,
}

/** IIR bits 7:6 read 11 when the FIFOs are enabled (16550A); 10 is the 16550 with the broken FIFO, 00 no FIFO. */
const IIR_FIFO_MASK = 0xC0;

/** Depth of the 16550A transmit FIFO: when LSR.THRE is set in FIFO mode the whole FIFO is empty. */
export const TX_FIFO_DEPTH: i32 = 16;

/** Spins allowed waiting for THRE in the synchronous path before a byte is dropped (a missing or stuck UART must not hang the monitor). */
const TX_SPIN_LIMIT = 100_000;

/** Received bytes init() can save from the receiver before resetting the FIFOs (16 in the FIFO plus the holding register). */
const RESCUE_MAX = 17;

export class Uart16550 {
  present: bool = false;
  /** Bytes the synchronous path (writeByte) dropped after the spin limit. */
  dropped: u32 = 0;
  /** Bytes the UART takes per THRE: 16 with the FIFOs on (16550A), else 1. */
  txBurst: i32 = 1;
  /** Output waiting for the transmitter (bounded; poll() drains it). */
  readonly tx: ByteQueue;
  /**
   * Receiver overruns seen (LSR.OE): each time at least one received byte was
   * lost because nobody read the 16-byte FIFO in time (real hardware without
   * flow control; QEMU holds input back instead).
   */
  rxOverruns: u32 = 0;
  /** Times init() ran (COM2 must be set up once: a second FIFO reset would lose received bytes). */
  inits: i32 = 0;
  /**
   * The management pump has queued part of a reply line: another writer
   * (the console, with console=ttyS1) must not put bytes inside it.
   */
  midLine: bool = false;

  private rescue: StaticArray<u8> = new StaticArray<u8>(RESCUE_MAX);
  private rescueLen: i32 = 0;
  private rescuePos: i32 = 0;
  private rts: bool = true;

  constructor(public base: u16, txCapacity: i32) {
    this.tx = new ByteQueue(txCapacity);
  }

  /**
   * 8N1 at `baud` (a divisor of 115200), FIFOs on, interrupts off. Returns
   * false if no UART answers (scratch register test).
   *
   * Bytes that already arrived are kept: a client may write to COM2 before
   * the monitor is up, and enabling the FIFOs discards the receiver's
   * contents (QEMU's 16550 resets both FIFOs and clears LSR.DR whenever
   * FCR bit 0 changes, hw/char/serial.c; PC16550D: FCR bit 1 clears the
   * receiver FIFO). So they are read out first and readByte() serves them
   * before anything newer. During that read the UART is in loopback mode
   * (MCR bit 4): QEMU then does not ask its chardev for the next byte when
   * RBR is read, so the next byte normally stays there until the FIFOs are
   * on (measured: test/vmm/liveness.test.ts, requests sent before boot).
   * The datasheet disconnects SIN in loopback: on real hardware a byte on
   * the line during these few microseconds is lost, as it would be anyway.
   */
  init(baud: u32 = 115200): bool {
    const b = <i32>this.base;
    this.inits++;
    outb(b + Reg.Scr, 0x5A);
    if ((inb(b + Reg.Scr) & 0xFF) != 0x5A) {
      this.present = false;
      return false;
    }
    outb(b + Reg.Mcr, Mcr.Loop | Mcr.Dtr | Mcr.Rts);
    outb(b + Reg.Lcr, 0x03); // DLAB off: offset 0 is RBR
    while (this.rescueLen < RESCUE_MAX && (inb(b + Reg.Lsr) & Lsr.DataReady) != 0) {
      unchecked((this.rescue[this.rescueLen++] = <u8>inb(b + Reg.Data)));
    }
    outb(b + Reg.Fcr, 0xC7); // FIFO on, clear both, 14-byte trigger
    const divisor = baud == 0 ? 1 : <i32>(115200 / baud);
    outb(b + Reg.Ier, 0x00);
    outb(b + Reg.Lcr, 0x80); // DLAB
    outb(b + Reg.Data, divisor & 0xFF);
    outb(b + Reg.Ier, (divisor >> 8) & 0xFF);
    outb(b + Reg.Lcr, 0x03); // 8N1
    this.txBurst = (inb(b + Reg.Fcr) & IIR_FIFO_MASK) == IIR_FIFO_MASK ? TX_FIFO_DEPTH : 1;
    outb(b + Reg.Mcr, Mcr.Dtr | Mcr.Rts);
    this.rts = true;
    this.present = true;
    return true;
  }

  /** LSR, counting a receiver overrun it reports (reading LSR clears OE). */
  private lsr(): i32 {
    const v = inb(<i32>this.base + Reg.Lsr);
    if ((v & Lsr.Overrun) != 0) this.rxOverruns++;
    return v;
  }

  /** True when a received byte is waiting. */
  canRead(): bool {
    return this.rescuePos < this.rescueLen || (this.lsr() & Lsr.DataReady) != 0;
  }

  /** The next received byte, or -1 when none is waiting (never blocks). */
  readByte(): i32 {
    if (this.rescuePos < this.rescueLen) return <i32>unchecked(this.rescue[this.rescuePos++]);
    if ((this.lsr() & Lsr.DataReady) == 0) return -1;
    return inb(<i32>this.base + Reg.Data) & 0xFF;
  }

  /**
   * Asserts (true) or drops RTS, the "ready to receive" line of RTS/CTS flow
   * control (MCR bit 1): a reader that stops taking bytes tells the peer to
   * stop instead of letting the receive FIFO overrun. Writes MCR only on a change.
   */
  setReceiving(on: bool): void {
    if (on == this.rts || !this.present) return;
    this.rts = on;
    outb(<i32>this.base + Reg.Mcr, on ? Mcr.Dtr | Mcr.Rts : Mcr.Dtr);
  }

  /** True when the transmitter holding register (FIFO mode: the whole FIFO) is empty. */
  canWrite(): bool {
    return (inb(<i32>this.base + Reg.Lsr) & Lsr.Thre) != 0;
  }

  /**
   * Moves queued bytes to the transmitter while it has room, at most `budget`:
   * up to txBurst bytes per LSR.THRE seen (PC16550D: in FIFO mode THRE means
   * the 16-byte transmit FIFO is empty). Never waits. Returns the bytes sent.
   */
  poll(budget: i32): i32 {
    const q = this.tx;
    const b = <i32>this.base;
    let sent = 0;
    while (sent < budget && !q.isEmpty()) {
      if ((inb(b + Reg.Lsr) & Lsr.Thre) == 0) break;
      let k = this.txBurst;
      while (k > 0 && sent < budget && !q.isEmpty()) {
        outb(b + Reg.Data, q.pop());
        k--;
        sent++;
      }
    }
    return sent;
  }

  /** Synchronous: sends one byte, waiting a bounded time for room. Returns false if it was dropped. */
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

  /**
   * Synchronous: sends what is queued, waiting (bounded per byte). For the
   * panic and shutdown paths only; a stuck transmitter ends it at the first
   * dropped byte (the rest of the queue is counted as dropped).
   */
  flushSync(): void {
    const q = this.tx;
    while (!q.isEmpty()) {
      if (!this.writeByte(<u8>q.pop())) {
        this.dropped += <u32>q.length;
        q.clear();
        return;
      }
    }
  }

  /** Synchronous (panic path): flushes the queue, then writes an ASCII string; "\n" goes out as "\r\n". */
  write(s: string): void {
    this.flushSync();
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c == 10) this.writeByte(13);
      this.writeByte(<u8>(c < 0x80 ? c : 0x3F));
    }
  }

  /** Synchronous: flushes the queue, then waits (bounded) until every byte has left the shift register (LSR.TEMT). */
  drain(): void {
    this.flushSync();
    const b = <i32>this.base;
    for (let i = 0; i < TX_SPIN_LIMIT; i++) {
      if ((inb(b + Reg.Lsr) & Lsr.Temt) != 0) return;
      pause();
    }
  }
}

/** Console queue: a boot log and a burst of guest lines at 115200 baud (~11.5 KB/s). */
export const COM1_TX_QUEUE: i32 = 16384;
/** Management queue: the server keeps the rest of a reply until this has room (back-pressure, never a drop). */
export const COM2_TX_QUEUE: i32 = 4096;

/** COM1: the console. */
export const com1 = new Uart16550(Port.COM1, COM1_TX_QUEUE);
/** COM2: the management channel (src/vmm/mgmt.ts pumpCom2 moves bytes between it and the server). */
export const com2 = new Uart16550(Port.COM2, COM2_TX_QUEUE);
