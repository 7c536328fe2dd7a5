// The VM's I/O APIC at 0xFEC00000: IOREGSEL/IOWIN, 24 redirection entries, edge and level (remote IRR) delivery to the local APIC (82093AA datasheet; SDM vol 3 10.11).

import { BusDevice } from "./device";
import { EoiListener, Lapic } from "./lapic";

export const IOAPIC_BASE: u64 = 0xfec00000;
export const IOAPIC_SIZE: u64 = 0x1000;
export const IOAPIC_PINS: u32 = 24;

// MMIO offsets and indirect registers (82093AA 3.0, 3.2).
const IOREGSEL: u64 = 0x00;
const IOWIN: u64 = 0x10;
const IOEOI: u64 = 0x40; // version 0x20 parts: directed EOI by vector
const REG_ID: u32 = 0x00;
const REG_VERSION: u32 = 0x01;
const REG_ARB: u32 = 0x02;
const REG_REDIR: u32 = 0x10;

// Redirection entry bits (82093AA 3.2.4).
// Delivery status (bit 12) always reads 0: a message reaches the local APIC at once.
const RTE_REMOTE_IRR: u64 = 1 << 14;
const RTE_LEVEL: u64 = 1 << 15;
const RTE_MASKED: u64 = 1 << 16;
/** Guest-writable: vector, delivery mode, destination mode, polarity, trigger mode, mask, destination. */
const RTE_WRITABLE: u64 = 0xff000000000000ff | (7 << 8) | (1 << 11) | (1 << 13) | RTE_LEVEL | RTE_MASKED;

/** Forwards the local APIC's EOI broadcasts to the IOAPIC. */
class IoapicEoi extends EoiListener {
  io: Ioapic | null = null;
  eoi(vector: u32): void {
    const io = this.io;
    if (io != null) io.eoi(vector);
  }
}

export class Ioapic extends BusDevice {
  private select: u32 = 0;
  private id: u32 = 0;
  private readonly rte: StaticArray<u64> = new StaticArray<u64>(<i32>IOAPIC_PINS);
  /** Asserted input lines, and edges seen while masked (delivered on unmask). */
  private lines: u32 = 0;
  private latched: u32 = 0;
  /** Wire `lapic.eoiListener = ioapic.eoiPort` so level-triggered EOIs reach remote IRR. */
  readonly eoiPort: IoapicEoi = new IoapicEoi();
  /** Counters: messages delivered, and dropped (unsupported delivery mode or no such destination). */
  delivered: u64 = 0;
  dropped: u64 = 0;

  constructor(private readonly lapic: Lapic) {
    super();
    this.eoiPort.io = this;
    for (let i = 0; i < <i32>IOAPIC_PINS; i++) unchecked((this.rte[i] = RTE_MASKED)); // masked at reset
  }

  // ---- input lines ----

  /**
   * GSI `pin` asserted or not. Devices report the logical assertion, so the
   * polarity bit (which only describes the electrical line) is not applied.
   * Edge: a rising assertion sends one message; level: the message repeats
   * after each EOI while the line stays asserted (82093AA 3.2.4, remote IRR).
   */
  setLevel(pin: u32, high: bool): void {
    if (pin >= IOAPIC_PINS) return;
    const bit: u32 = 1 << pin;
    const was = (this.lines & bit) != 0;
    this.lines = high ? this.lines | bit : this.lines & ~bit;
    const e = unchecked(this.rte[<i32>pin]);
    if ((e & RTE_LEVEL) != 0) {
      if (high) this.service(pin);
    } else if (high && !was) {
      this.latched |= bit;
      this.service(pin);
    }
  }

  /** The local APIC's EOI for `vector`: clears remote IRR of level entries with it and re-sends if still asserted. */
  eoi(vector: u32): void {
    for (let pin: u32 = 0; pin < IOAPIC_PINS; pin++) {
      const e = unchecked(this.rte[<i32>pin]);
      if ((e & RTE_LEVEL) == 0 || <u32>(e & 0xff) != vector || (e & RTE_REMOTE_IRR) == 0) continue;
      unchecked((this.rte[<i32>pin] = e & ~RTE_REMOTE_IRR));
      this.service(pin);
    }
  }

  entry(pin: u32): u64 {
    return pin < IOAPIC_PINS ? unchecked(this.rte[<i32>pin]) : 0;
  }

  // ---- MMIO ----

  read(offset: u64, size: u32): u64 {
    if (offset == IOREGSEL) return <u64>this.select;
    if (offset == IOWIN) return <u64>this.readReg(this.select);
    return 0;
  }

  write(offset: u64, size: u32, value: u64): void {
    const v = <u32>value;
    if (offset == IOREGSEL) this.select = v & 0xff;
    else if (offset == IOWIN && size >= 4) this.writeReg(this.select, v);
    else if (offset == IOEOI && size >= 4) this.eoi(v & 0xff);
  }

  private readReg(r: u32): u32 {
    if (r == REG_ID || r == REG_ARB) return this.id << 24;
    // Version 0x20 (has the EOI register), maximum redirection entry 23.
    if (r == REG_VERSION) return 0x20 | ((IOAPIC_PINS - 1) << 16);
    if (r >= REG_REDIR && r < REG_REDIR + 2 * IOAPIC_PINS) {
      const e = unchecked(this.rte[<i32>((r - REG_REDIR) >> 1)]);
      return (r & 1) == 0 ? <u32>e : <u32>(e >> 32);
    }
    return 0;
  }

  private writeReg(r: u32, v: u32): void {
    if (r == REG_ID) {
      this.id = (v >> 24) & 0xf;
      return;
    }
    if (r < REG_REDIR || r >= REG_REDIR + 2 * IOAPIC_PINS) return;
    const pin = (r - REG_REDIR) >> 1;
    const old = unchecked(this.rte[<i32>pin]);
    const shift: u64 = (r & 1) == 0 ? 0 : 32;
    const field: u64 = (<u64>0xffffffff << shift) & RTE_WRITABLE;
    let e = (old & ~field) | ((<u64>v << shift) & field);
    // Switching to edge drops a stale remote IRR (it means nothing for edge entries).
    if ((e & RTE_LEVEL) == 0) e &= ~RTE_REMOTE_IRR;
    unchecked((this.rte[<i32>pin] = e));
    // An unmask delivers a level line still asserted, or an edge that came while masked.
    this.service(pin);
  }

  private service(pin: u32): void {
    const i = <i32>pin;
    const e = unchecked(this.rte[i]);
    if ((e & RTE_MASKED) != 0) return;
    const bit: u32 = 1 << pin;
    if ((e & RTE_LEVEL) != 0) {
      if ((this.lines & bit) == 0 || (e & RTE_REMOTE_IRR) != 0) return;
      if (this.send(e, true)) unchecked((this.rte[i] = e | RTE_REMOTE_IRR));
    } else {
      if ((this.latched & bit) == 0) return;
      this.latched &= ~bit;
      this.send(e, false);
    }
  }

  /** One message to the local APIC: fixed or lowest-priority to a matching destination (SDM 10.11); else dropped. */
  private send(e: u64, level: bool): bool {
    const mode = <u32>(e >> 8) & 7;
    const logical = (e & (1 << 11)) != 0;
    const dest = <u32>(e >> 56);
    if ((mode != 0 && mode != 1) || !this.lapic.matches(dest, logical)) {
      this.dropped++;
      return false;
    }
    this.delivered++;
    this.lapic.accept(<u32>e & 0xff, level);
    return true;
  }
}
