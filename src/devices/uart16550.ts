// The guest's COM1: a 16550A UART model (registers, FIFO bits, loopback, interrupts on one GSI), with a bounded input queue and line-buffered output.

import { BusDevice, InterruptSink } from "./device";

// Register offsets from the base port (PC16550D datasheet, table II).
const RBR_THR_DLL: u32 = 0;
const IER_DLM: u32 = 1;
const IIR_FCR: u32 = 2;
const LCR: u32 = 3;
const MCR: u32 = 4;
const LSR: u32 = 5;
const MSR: u32 = 6;
const SCR: u32 = 7;

const IER_RDA: u32 = 0x01; // received data available
const IER_THRE: u32 = 0x02; // transmitter holding register empty
const IER_RLS: u32 = 0x04; // receiver line status
const IER_MSI: u32 = 0x08; // modem status

const IIR_NONE: u32 = 0x01;
const IIR_MSI: u32 = 0x00;
const IIR_THRE: u32 = 0x02;
const IIR_RDA: u32 = 0x04;
const IIR_RLS: u32 = 0x06;
const IIR_FIFO: u32 = 0xc0; // both bits set: a 16550A with working FIFOs

const FCR_ENABLE: u32 = 0x01;
const FCR_CLEAR_RX: u32 = 0x02;

const LCR_DLAB: u32 = 0x80;

const MCR_DTR: u32 = 0x01;
const MCR_RTS: u32 = 0x02;
const MCR_OUT1: u32 = 0x04;
const MCR_OUT2: u32 = 0x08;
const MCR_LOOP: u32 = 0x10;

const LSR_DR: u32 = 0x01;
const LSR_OE: u32 = 0x02;
const LSR_THRE: u32 = 0x20;
const LSR_TEMT: u32 = 0x40;

const MSR_CTS: u32 = 0x10;
const MSR_DSR: u32 = 0x20;
const MSR_RI: u32 = 0x40;
const MSR_DCD: u32 = 0x80;

/** Where complete output lines go: the VMM prefixes `[NAME] ` and keeps them for vm.console. */
export abstract class LineSink {
  /** One line of `len` bytes in `buf` (no newline; carriage returns dropped). */
  abstract line(buf: StaticArray<u8>, len: i32): void;
}

export class Uart16550 extends BusDevice {
  private ier: u32 = 0;
  private lcr: u32 = 0;
  private mcr: u32 = 0;
  private scr: u32 = 0;
  private dll: u32 = 0x0c; // 9600 baud, as after a BIOS; only stored
  private dlm: u32 = 0;
  private fifo: bool = false;
  private overrun: bool = false;
  /** MSR bits 3:0: modem lines changed since the last MSR read. */
  private msrDelta: u32 = 0;
  /** THRE interrupt pending: set when the holding register empties, cleared by reading IIR or writing THR. */
  private thrPending: bool = false;
  private irqOut: bool = false;

  // Input ring (console_write and loopback), bounded.
  private readonly rx: StaticArray<u8>;
  private rxHead: i32 = 0;
  private rxCount: i32 = 0;

  // Output line buffer.
  private readonly lineBuf: StaticArray<u8>;
  private lineLen: i32 = 0;

  /** Counters: bytes the guest transmitted, lines delivered, input bytes dropped because the queue was full. */
  txBytes: u64 = 0;
  lines: u64 = 0;
  rxDropped: u64 = 0;

  constructor(
    private readonly sink: InterruptSink,
    readonly gsi: u32,
    private readonly out: LineSink,
    rxCapacity: i32 = 4096,
    maxLine: i32 = 512,
  ) {
    super();
    this.rx = new StaticArray<u8>(rxCapacity > 0 ? rxCapacity : 1);
    this.lineBuf = new StaticArray<u8>(maxLine > 0 ? maxLine : 1);
  }

  // ---- the monitor's side ----

  /** Queues input bytes for the guest (vm.console_write); returns how many fit, the rest are counted as dropped. */
  input(buf: StaticArray<u8>, len: i32): i32 {
    let n = 0;
    if (len > buf.length) len = buf.length;
    for (let i = 0; i < len; i++) if (this.push(unchecked(buf[i]))) n++;
    this.update();
    return n;
  }
  inputByte(b: u32): bool {
    const ok = this.push(b);
    this.update();
    return ok;
  }
  /** Bytes waiting for the guest to read. */
  rxPending(): i32 {
    return this.rxCount;
  }
  /** Delivers a partial output line (a shell prompt has no newline); nothing when empty. */
  flush(): void {
    if (this.lineLen == 0) return;
    this.out.line(this.lineBuf, this.lineLen);
    this.lineLen = 0;
    this.lines++;
  }
  /** Bytes of the current partial line. */
  partialLength(): i32 {
    return this.lineLen;
  }

  // ---- the guest's side ----

  read(offset: u64, size: u32): u64 {
    // Byte registers: a wider access reads the register at its first byte (the others read 0).
    if (offset >= 8) return 0;
    const r = <u32>offset;
    const dlab = (this.lcr & LCR_DLAB) != 0;
    let v: u32 = 0;
    if (r == RBR_THR_DLL) {
      if (dlab) v = this.dll;
      else v = this.pop();
    } else if (r == IER_DLM) {
      v = dlab ? this.dlm : this.ier;
    } else if (r == IIR_FCR) {
      const id = this.interruptId();
      v = id | (this.fifo ? IIR_FIFO : 0);
      // Reading IIR while it reports THRE clears that source (datasheet table IV).
      if (id == IIR_THRE) this.thrPending = false;
    } else if (r == LCR) {
      v = this.lcr;
    } else if (r == MCR) {
      v = this.mcr;
    } else if (r == LSR) {
      v = LSR_THRE | LSR_TEMT | (this.rxCount > 0 ? LSR_DR : 0) | (this.overrun ? LSR_OE : 0);
      this.overrun = false; // OE is cleared by reading LSR
    } else if (r == MSR) {
      v = this.modemStatus() | this.msrDelta;
      this.msrDelta = 0;
    } else {
      v = this.scr;
    }
    this.update();
    return <u64>v;
  }

  write(offset: u64, size: u32, value: u64): void {
    if (offset >= 8) return;
    const r = <u32>offset;
    const v = <u32>value & 0xff;
    const dlab = (this.lcr & LCR_DLAB) != 0;
    if (r == RBR_THR_DLL) {
      if (dlab) this.dll = v;
      else this.transmit(v);
    } else if (r == IER_DLM) {
      if (dlab) this.dlm = v;
      else {
        const was = this.ier;
        this.ier = v & 0x0f;
        // Enabling THRE with the holding register empty raises the interrupt at once (real 16550s do; Linux's THRE test relies on it).
        if ((this.ier & IER_THRE) != 0 && (was & IER_THRE) == 0) this.thrPending = true;
      }
    } else if (r == IIR_FCR) {
      this.fifo = (v & FCR_ENABLE) != 0;
      if ((v & FCR_CLEAR_RX) != 0 || !this.fifo) this.clearRx();
    } else if (r == LCR) {
      this.lcr = v;
    } else if (r == MCR) {
      const before = this.modemStatus();
      this.mcr = v & 0x1f;
      this.noteModemChange(before);
    } else if (r == SCR) {
      this.scr = v;
    }
    // LSR and MSR are read-only here (factory test registers on a real part).
    this.update();
  }

  // ---- internals ----

  private transmit(b: u32): void {
    this.thrPending = false;
    if ((this.mcr & MCR_LOOP) != 0) {
      // Loopback: the transmitter feeds the receiver, nothing leaves the chip.
      this.push(b);
    } else {
      this.txBytes++;
      if (b == 0x0a) {
        this.out.line(this.lineBuf, this.lineLen);
        this.lineLen = 0;
        this.lines++;
      } else if (b != 0x0d) {
        if (this.lineLen == this.lineBuf.length) this.flush(); // a long line goes out in pieces
        unchecked((this.lineBuf[this.lineLen++] = <u8>b));
      }
    }
    // Transmission is instant: the holding register is empty again.
    this.thrPending = true;
  }

  private push(b: u32): bool {
    if (this.rxCount == this.rx.length) {
      this.rxDropped++;
      this.overrun = true;
      return false;
    }
    let i = this.rxHead + this.rxCount;
    if (i >= this.rx.length) i -= this.rx.length;
    unchecked((this.rx[i] = <u8>b));
    this.rxCount++;
    return true;
  }

  private pop(): u32 {
    if (this.rxCount == 0) return 0;
    const b = <u32>unchecked(this.rx[this.rxHead]);
    this.rxHead++;
    if (this.rxHead == this.rx.length) this.rxHead = 0;
    this.rxCount--;
    return b;
  }

  private clearRx(): void {
    this.rxHead = 0;
    this.rxCount = 0;
  }

  /** Modem inputs: in loopback they mirror MCR (DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD); otherwise a connected terminal (CTS, DSR, DCD). */
  private modemStatus(): u32 {
    if ((this.mcr & MCR_LOOP) == 0) return MSR_CTS | MSR_DSR | MSR_DCD;
    let s: u32 = 0;
    if ((this.mcr & MCR_DTR) != 0) s |= MSR_DSR;
    if ((this.mcr & MCR_RTS) != 0) s |= MSR_CTS;
    if ((this.mcr & MCR_OUT1) != 0) s |= MSR_RI;
    if ((this.mcr & MCR_OUT2) != 0) s |= MSR_DCD;
    return s;
  }

  private noteModemChange(before: u32): void {
    const now = this.modemStatus();
    const changed = before ^ now;
    if ((changed & MSR_CTS) != 0) this.msrDelta |= 0x01;
    if ((changed & MSR_DSR) != 0) this.msrDelta |= 0x02;
    if ((before & MSR_RI) != 0 && (now & MSR_RI) == 0) this.msrDelta |= 0x04; // trailing edge of RI
    if ((changed & MSR_DCD) != 0) this.msrDelta |= 0x08;
  }

  /** The highest-priority pending source (datasheet table IV): line status, data, THRE, modem status. */
  private interruptId(): u32 {
    if ((this.ier & IER_RLS) != 0 && this.overrun) return IIR_RLS;
    if ((this.ier & IER_RDA) != 0 && this.rxCount > 0) return IIR_RDA;
    if ((this.ier & IER_THRE) != 0 && this.thrPending) return IIR_THRE;
    if ((this.ier & IER_MSI) != 0 && this.msrDelta != 0) return IIR_MSI;
    return IIR_NONE;
  }

  private update(): void {
    const level = this.interruptId() != IIR_NONE;
    if (level != this.irqOut) {
      this.irqOut = level;
      this.sink.setLevel(this.gsi, level);
    }
  }
}
