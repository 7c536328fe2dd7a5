// MSI-X state of one PCI function: the vector table and pending-bit array a BAR exposes (PCI local bus 3.0 6.8.2).

import { InterruptSink } from "../device";

/** Bytes per table entry: address low, address high, data, vector control (PCI 3.0 6.8.2.6-9). */
export const MSIX_ENTRY_SIZE: u32 = 16;
/** The table size field is 11 bits (N - 1). */
export const MSIX_MAX_VECTORS: u32 = 2048;

/** What `send` did with a message. */
export enum MsixResult {
  /** Written to the interrupt sink. */
  Delivered = 0,
  /** Masked (entry or function mask): the pending bit is set and it goes out on unmask. */
  Pending = 1,
  /** MSI-X is disabled (the function would use INTx) or the vector does not exist. */
  NotSent = 2,
}

export class MsixTable {
  /** `vectors` entries of 16 bytes, little-endian as the guest sees them. */
  readonly table: StaticArray<u8>;
  /** One bit per vector, in qwords (PCI 3.0 6.8.2.10: the PBA is qword-sized). */
  readonly pba: StaticArray<u64>;
  /** Message Control bit 15 and bit 14, mirrored by the owning function on each write. */
  enabled: bool = false;
  functionMask: bool = false;
  /** Counters: messages written to the sink, and messages held pending. */
  delivered: u64 = 0;
  pended: u64 = 0;

  constructor(public readonly vectors: u32, private readonly sink: InterruptSink) {
    this.table = new StaticArray<u8>(<i32>(vectors * MSIX_ENTRY_SIZE));
    this.pba = new StaticArray<u64>(<i32>((vectors + 63) >> 6));
    this.reset();
  }

  /** Every entry masked, addresses and data zero, nothing pending (PCI 3.0 6.8.2.9: mask bit resets to 1). */
  reset(): void {
    for (let i = 0; i < this.table.length; i++) unchecked((this.table[i] = 0));
    for (let v: u32 = 0; v < this.vectors; v++) unchecked((this.table[<i32>(v * MSIX_ENTRY_SIZE + 12)] = 1));
    for (let i = 0; i < this.pba.length; i++) unchecked((this.pba[i] = 0));
    this.enabled = false;
    this.functionMask = false;
  }

  /** Bytes the table occupies in its BAR. */
  tableBytes(): u32 {
    return this.vectors * MSIX_ENTRY_SIZE;
  }
  /** Bytes the PBA occupies in its BAR (qword multiple). */
  pbaBytes(): u32 {
    return <u32>this.pba.length * 8;
  }

  address(v: u32): u64 {
    const o = v * MSIX_ENTRY_SIZE;
    return <u64>this.word(o) | (<u64>this.word(o + 4) << 32);
  }
  data(v: u32): u32 {
    return this.word(v * MSIX_ENTRY_SIZE + 8);
  }
  masked(v: u32): bool {
    return v < this.vectors && (this.word(v * MSIX_ENTRY_SIZE + 12) & 1) != 0;
  }
  pending(v: u32): bool {
    return v < this.vectors && (unchecked(this.pba[<i32>(v >> 6)]) & (<u64>1 << (v & 63))) != 0;
  }

  /**
   * Signals vector `v`. Masked by the entry or the function mask: the pending
   * bit is set instead and the message goes out when unmasked (PCI 3.0 6.8.3.4).
   */
  send(v: u32): MsixResult {
    if (!this.enabled || v >= this.vectors) return MsixResult.NotSent;
    if (this.functionMask || this.masked(v)) {
      this.setPending(v, true);
      this.pended++;
      return MsixResult.Pending;
    }
    this.deliver(v);
    return MsixResult.Delivered;
  }

  /** A read of `size` (1-8) bytes at `offset` in the table; bytes past the end read 0. */
  readTable(offset: u32, size: u32): u64 {
    let r: u64 = 0;
    for (let i: u32 = 0; i < size; i++) {
      const o = offset + i;
      if (o < <u32>this.table.length) r |= <u64>unchecked(this.table[<i32>o]) << (8 * i);
    }
    return r;
  }

  /** A read of the PBA; writes to it are ignored (PCI 3.0 6.8.2.10: read-only). */
  readPba(offset: u32, size: u32): u64 {
    let r: u64 = 0;
    for (let i: u32 = 0; i < size; i++) {
      const o = offset + i;
      if (o < this.pbaBytes()) r |= ((unchecked(this.pba[<i32>(o >> 3)]) >> (8 * (o & 7))) & 0xff) << (8 * i);
    }
    return r;
  }

  /**
   * A write of `size` bytes into the table. Address bits 1:0 stay zero (dword
   * aligned, 6.8.2.6) and only the mask bit of vector control is writable
   * (6.8.2.9); clearing a mask with the pending bit set sends the message.
   */
  writeTable(offset: u32, size: u32, value: u64): void {
    for (let i: u32 = 0; i < size; i++) {
      const o = offset + i;
      if (o >= <u32>this.table.length) break;
      let b = <u32>(value >> (8 * i)) & 0xff;
      const field = o & 15;
      if (field == 0) b &= 0xfc;
      else if (field == 12) b &= 1;
      else if (field > 12) b = 0;
      unchecked((this.table[<i32>o] = <u8>b));
    }
    // Re-check the vectors touched: an unmask may release a pending message.
    const first = offset / MSIX_ENTRY_SIZE;
    const last = (offset + size - 1) / MSIX_ENTRY_SIZE;
    for (let v = first; v <= last && v < this.vectors; v++) this.releaseIfUnmasked(v);
  }

  /** The owning function's Message Control changed: enable/function mask; a cleared function mask releases pending vectors. */
  setControl(enabled: bool, functionMask: bool): void {
    this.enabled = enabled;
    this.functionMask = functionMask;
    if (enabled && !functionMask) {
      for (let v: u32 = 0; v < this.vectors; v++) this.releaseIfUnmasked(v);
    }
  }

  private releaseIfUnmasked(v: u32): void {
    if (this.enabled && !this.functionMask && this.pending(v) && !this.masked(v)) this.deliver(v);
  }

  private deliver(v: u32): void {
    this.setPending(v, false);
    this.delivered++;
    this.sink.msi(this.address(v), this.data(v));
  }

  private setPending(v: u32, on: bool): void {
    const i = <i32>(v >> 6);
    const bit = <u64>1 << (v & 63);
    const w = unchecked(this.pba[i]);
    unchecked((this.pba[i] = on ? w | bit : w & ~bit));
  }

  private word(o: u32): u32 {
    return <u32>this.readTable(o, 4);
  }
}
