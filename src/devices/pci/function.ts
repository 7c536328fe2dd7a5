// A PCI function with a type-0 configuration header: IDs, command/status, BARs, capability list, MSI-X and INTx (PCI local bus 3.0 ch. 6).

import { InterruptSink } from "../device";
import { MsixTable, MsixResult, MSIX_MAX_VECTORS } from "./msix";
import {
  BarKind, CAP_ID_MSIX, CMD_INTX_DISABLE, CMD_IO, CMD_MEMORY, CMD_WRITABLE, PCI_BAR0, PCI_CACHE_LINE, PCI_CAP_PTR,
  PCI_CAP_START, PCI_CLASS_PROG, PCI_COMMAND, PCI_CONFIG_SIZE, PCI_DEVICE_ID, PCI_INT_LINE, PCI_INT_PIN, PCI_LATENCY,
  PCI_REVISION, PCI_STATUS, PCI_SUBSYS_ID, PCI_SUBSYS_VENDOR, PCI_VENDOR_ID, STS_CAP_LIST, STS_INTX, STS_W1C,
} from "./regs";

export const PCI_BAR_COUNT: u32 = 6;

/**
 * The configuration header and the BAR dispatch every device model shares.
 * A device subclasses it, sets its IDs/BARs/capabilities in its constructor,
 * and overrides `barRead`/`barWrite` (and, if it has live capability fields,
 * `onConfigRead`/`onConfigWrite`). Every register access is bounded: any
 * offset, size and value a guest produces is safe.
 */
export class PciFunction {
  /** The 256 bytes the guest reads. */
  protected readonly config: StaticArray<u8> = new StaticArray<u8>(<i32>PCI_CONFIG_SIZE);
  /** Per byte: the bits a guest write may change. */
  private readonly wmask: StaticArray<u8> = new StaticArray<u8>(<i32>PCI_CONFIG_SIZE);
  /** Per byte: the bits a guest write of 1 clears (status error bits). */
  private readonly w1c: StaticArray<u8> = new StaticArray<u8>(<i32>PCI_CONFIG_SIZE);
  private readonly barKinds: StaticArray<u8> = new StaticArray<u8>(<i32>PCI_BAR_COUNT);
  private readonly barSizes: StaticArray<u64> = new StaticArray<u64>(<i32>PCI_BAR_COUNT);
  /** Next free capability offset and the last capability (to chain the next one). */
  private capNext: u32 = PCI_CAP_START;
  private capLast: u32 = 0;

  msix: MsixTable | null = null;
  /** Offset of the MSI-X capability, its BAR and the table/PBA offsets in that BAR. */
  msixCap: u32 = 0;
  msixBar: u32 = 0;
  msixTableOffset: u32 = 0;
  msixPbaOffset: u32 = 0;

  /** The GSI the INTx pin drives (-1: not routed), the device's line and what the sink last saw. */
  intxGsi: i32 = -1;
  private intxLevel: bool = false;
  private intxOut: bool = false;

  constructor(vendor: u32, device: u32, classCode: u32, revision: u32, protected readonly sink: InterruptSink) {
    this.set16(PCI_VENDOR_ID, vendor);
    this.set16(PCI_DEVICE_ID, device);
    this.set8(PCI_REVISION, revision);
    this.set8(PCI_CLASS_PROG, classCode & 0xff);
    this.set16(PCI_CLASS_PROG + 1, (classCode >> 8) & 0xffff);
    this.setWriteMask(PCI_COMMAND, 2, CMD_WRITABLE);
    this.setW1cMask(PCI_STATUS, 2, STS_W1C);
    // Cache line size and latency timer are plain read/write registers (6.2.4); the interrupt line is scratch for the OS (6.2.4).
    this.setWriteMask(PCI_CACHE_LINE, 1, 0xff);
    this.setWriteMask(PCI_LATENCY, 1, 0xff);
    this.setWriteMask(PCI_INT_LINE, 1, 0xff);
  }

  // ---- setup, called by the device's constructor ----

  setSubsystem(vendor: u32, id: u32): void {
    this.set16(PCI_SUBSYS_VENDOR, vendor);
    this.set16(PCI_SUBSYS_ID, id);
  }

  /**
   * Declares BAR `i`: `size` a power of two (memory >= 16 bytes, I/O 4-256
   * bytes, PCI 3.0 6.2.5.1). A 64-bit BAR takes slots i and i+1. The
   * writable bits are the address bits above the size, so writing all ones
   * reads back the size mask with the type bits. False when refused.
   */
  setBar(i: u32, kind: BarKind, size: u64, prefetchable: bool = false): bool {
    if (i >= PCI_BAR_COUNT || size == 0 || (size & (size - 1)) != 0) return false;
    if (unchecked(this.barKinds[<i32>i]) != <u8>BarKind.None) return false;
    const off = PCI_BAR0 + 4 * i;
    if (kind == BarKind.Io) {
      if (size < 4 || size > 256) return false;
      this.set32(off, 1); // bit 0: I/O space indicator
      this.setWriteMask(off, 4, ~(<u32>size - 1) & 0xfffffffc);
    } else if (kind == BarKind.Mem32) {
      if (size < 16 || size > 0x80000000) return false;
      this.set32(off, prefetchable ? 8 : 0);
      this.setWriteMask(off, 4, ~(<u32>size - 1) & 0xfffffff0);
    } else if (kind == BarKind.Mem64) {
      if (size < 16 || i + 1 >= PCI_BAR_COUNT || unchecked(this.barKinds[<i32>(i + 1)]) != <u8>BarKind.None) return false;
      this.set32(off, 4 | (prefetchable ? 8 : 0)); // type 10b: 64-bit
      const mask = ~(size - 1);
      this.setWriteMask(off, 4, <u32>mask & 0xfffffff0);
      this.setWriteMask(off + 4, 4, <u32>(mask >> 32));
      unchecked((this.barKinds[<i32>(i + 1)] = <u8>BarKind.Mem64High));
    } else {
      return false;
    }
    unchecked((this.barKinds[<i32>i] = <u8>kind));
    unchecked((this.barSizes[<i32>i] = size));
    return true;
  }

  /**
   * Appends a capability: `id`, the next pointer (filled in here), then
   * `body` (the bytes after the first two). Dword aligned in [0x40, 0x100)
   * (PCI 3.0 6.7). Returns its offset, or -1 when it does not fit. The body
   * is read-only unless the caller sets a write mask on it.
   */
  addCapability(id: u8, body: StaticArray<u8>): i32 {
    const at = this.capNext;
    const len = <u32>body.length + 2;
    if (at + len > PCI_CONFIG_SIZE) return -1;
    this.set8(at, id);
    this.set8(at + 1, 0);
    for (let i: u32 = 0; i < <u32>body.length; i++) this.set8(at + 2 + i, unchecked(body[<i32>i]));
    if (this.capLast == 0) this.set8(PCI_CAP_PTR, at);
    else this.set8(this.capLast + 1, at);
    this.set16(PCI_STATUS, this.get16(PCI_STATUS) | STS_CAP_LIST);
    this.capLast = at;
    this.capNext = (at + len + 3) & ~3;
    return <i32>at;
  }

  /**
   * Adds the MSI-X capability with `vectors` entries whose table and PBA
   * live in BAR `bar` at the given offsets (8-byte aligned, inside the BAR,
   * not overlapping; PCI 3.0 6.8.2.4-5). Returns the capability offset or -1.
   */
  enableMsix(vectors: u32, bar: u32, tableOffset: u32, pbaOffset: u32): i32 {
    if (this.msix != null || vectors == 0 || vectors > MSIX_MAX_VECTORS || bar >= PCI_BAR_COUNT) return -1;
    const kind = unchecked(this.barKinds[<i32>bar]);
    if (kind != <u8>BarKind.Mem32 && kind != <u8>BarKind.Mem64) return -1;
    if ((tableOffset & 7) != 0 || (pbaOffset & 7) != 0) return -1;
    const size = unchecked(this.barSizes[<i32>bar]);
    const tableEnd = <u64>tableOffset + <u64>vectors * 16;
    const pbaEnd = <u64>pbaOffset + <u64>(((vectors + 63) >> 6) * 8);
    if (tableEnd > size || pbaEnd > size) return -1;
    if (<u64>pbaOffset < tableEnd && <u64>tableOffset < pbaEnd) return -1;
    const body = new StaticArray<u8>(10);
    const control = vectors - 1; // bits 10:0: table size N-1
    body[0] = <u8>control;
    body[1] = <u8>(control >> 8);
    const t = tableOffset | bar;
    const p = pbaOffset | bar;
    for (let i = 0; i < 4; i++) {
      body[2 + i] = <u8>(t >> (8 * i));
      body[6 + i] = <u8>(p >> (8 * i));
    }
    const at = this.addCapability(CAP_ID_MSIX, body);
    if (at < 0) return -1;
    // Only the enable (15) and function mask (14) bits are writable (6.8.2.3).
    this.setWriteMask(<u32>at + 2, 2, 0xc000);
    this.msix = new MsixTable(vectors, this.sink);
    this.msixCap = <u32>at;
    this.msixBar = bar;
    this.msixTableOffset = tableOffset;
    this.msixPbaOffset = pbaOffset;
    return at;
  }

  /** Routes INTx pin `pin` (1 = INTA#) to `gsi`. */
  setIntx(pin: u32, gsi: i32): void {
    this.set8(PCI_INT_PIN, pin & 0xff);
    this.intxGsi = gsi;
  }

  // ---- the device signals ----

  /** Sends MSI-X vector `v` (pending if masked; NotSent when MSI-X is off or `v` does not exist). */
  msixSend(v: u32): MsixResult {
    const m = this.msix;
    if (m == null) return MsixResult.NotSent;
    return m.send(v);
  }

  msixEnabled(): bool {
    const m = this.msix;
    return m != null && m.enabled;
  }

  /** The device's INTx line. It reaches the GSI only while INTx is enabled in the command register and MSI-X is off (6.8.3.3). */
  setIntxLevel(high: bool): void {
    this.intxLevel = high;
    this.updateIntx();
  }

  // ---- BARs as the host sees them ----

  barKind(i: u32): BarKind {
    return i < PCI_BAR_COUNT ? <BarKind>unchecked(this.barKinds[<i32>i]) : BarKind.None;
  }
  barSize(i: u32): u64 {
    return i < PCI_BAR_COUNT ? unchecked(this.barSizes[<i32>i]) : 0;
  }
  /** The address the guest programmed (type bits stripped; both halves of a 64-bit BAR). */
  barBase(i: u32): u64 {
    const k = this.barKind(i);
    const off = PCI_BAR0 + 4 * i;
    if (k == BarKind.Io) return <u64>(this.get32(off) & 0xfffffffc);
    if (k == BarKind.Mem32) return <u64>(this.get32(off) & 0xfffffff0);
    if (k == BarKind.Mem64) return <u64>(this.get32(off) & 0xfffffff0) | (<u64>this.get32(off + 4) << 32);
    return 0;
  }
  /** True when BAR `i` is declared, programmed (non-zero) and its space is enabled in the command register (6.2.2). */
  barDecodes(i: u32): bool {
    const k = this.barKind(i);
    const cmd = this.get16(PCI_COMMAND);
    if (k == BarKind.Io) return (cmd & CMD_IO) != 0 && this.barBase(i) != 0;
    if (k == BarKind.Mem32 || k == BarKind.Mem64) return (cmd & CMD_MEMORY) != 0 && this.barBase(i) != 0;
    return false;
  }

  /** A read in BAR `bar` (offset inside it): the MSI-X table and PBA, else the device. */
  readBar(bar: u32, offset: u64, size: u32): u64 {
    const m = this.msix;
    if (m != null && bar == this.msixBar) {
      if (offset >= <u64>this.msixTableOffset && offset < <u64>this.msixTableOffset + <u64>m.tableBytes()) {
        return m.readTable(<u32>(offset - <u64>this.msixTableOffset), size);
      }
      if (offset >= <u64>this.msixPbaOffset && offset < <u64>this.msixPbaOffset + <u64>m.pbaBytes()) {
        return m.readPba(<u32>(offset - <u64>this.msixPbaOffset), size);
      }
    }
    return this.barRead(bar, offset, size);
  }

  writeBar(bar: u32, offset: u64, size: u32, value: u64): void {
    const m = this.msix;
    if (m != null && bar == this.msixBar) {
      if (offset >= <u64>this.msixTableOffset && offset < <u64>this.msixTableOffset + <u64>m.tableBytes()) {
        m.writeTable(<u32>(offset - <u64>this.msixTableOffset), size, value);
        return;
      }
      if (offset >= <u64>this.msixPbaOffset && offset < <u64>this.msixPbaOffset + <u64>m.pbaBytes()) return;
    }
    this.barWrite(bar, offset, size, value);
  }

  // ---- hooks for the device ----

  /** The device's registers in BAR `bar`; `offset + size` lies inside the BAR. Default: reads 0. */
  barRead(bar: u32, offset: u64, size: u32): u64 {
    return 0;
  }
  /** Default: writes ignored. */
  barWrite(bar: u32, offset: u64, size: u32, value: u64): void {}
  /** After a configuration read: may replace the value of live fields. */
  onConfigRead(offset: u32, size: u32, value: u32): u32 {
    return value;
  }
  /** After a configuration write has been stored (with masks applied). */
  onConfigWrite(offset: u32, size: u32, value: u32): void {}

  // ---- configuration space as the host sees it ----

  /** Reads `size` (1, 2 or 4) bytes at `offset`; bytes beyond 0xFF read 0. */
  configRead(offset: u32, size: u32): u32 {
    if (size > 4) size = 4;
    let v: u32 = 0;
    for (let i: u32 = 0; i < size; i++) v |= this.get8(offset + i) << (8 * i);
    return this.onConfigRead(offset, size, v);
  }

  /** Writes with the per-byte write and write-1-to-clear masks; bytes beyond 0xFF are dropped. */
  configWrite(offset: u32, size: u32, value: u32): void {
    if (size > 4) size = 4;
    let touchesDecode = false;
    let touchesMsix = false;
    for (let i: u32 = 0; i < size; i++) {
      const o = offset + i;
      if (o >= PCI_CONFIG_SIZE) break;
      const b = (value >> (8 * i)) & 0xff;
      const wm = <u32>unchecked(this.wmask[<i32>o]);
      const cm = <u32>unchecked(this.w1c[<i32>o]);
      let cur = <u32>unchecked(this.config[<i32>o]);
      cur = (cur & ~wm) | (b & wm);
      cur &= ~(b & cm);
      unchecked((this.config[<i32>o] = <u8>cur));
      if (o == PCI_COMMAND || o == PCI_COMMAND + 1 || (o >= PCI_BAR0 && o < PCI_BAR0 + 4 * PCI_BAR_COUNT)) touchesDecode = true;
      if (this.msix != null && (o == this.msixCap + 2 || o == this.msixCap + 3)) touchesMsix = true;
    }
    const m = this.msix;
    if (m != null && touchesMsix) {
      const ctl = this.get16(this.msixCap + 2);
      m.setControl((ctl & 0x8000) != 0, (ctl & 0x4000) != 0);
    }
    if (touchesDecode || touchesMsix) this.updateIntx();
    this.onConfigWrite(offset, size, value);
  }

  // ---- raw access for the device (no masks) ----

  get8(o: u32): u32 {
    return o < PCI_CONFIG_SIZE ? <u32>unchecked(this.config[<i32>o]) : 0;
  }
  get16(o: u32): u32 {
    return this.get8(o) | (this.get8(o + 1) << 8);
  }
  get32(o: u32): u32 {
    return this.get16(o) | (this.get16(o + 2) << 16);
  }
  set8(o: u32, v: u32): void {
    if (o < PCI_CONFIG_SIZE) unchecked((this.config[<i32>o] = <u8>v));
  }
  set16(o: u32, v: u32): void {
    this.set8(o, v);
    this.set8(o + 1, v >> 8);
  }
  set32(o: u32, v: u32): void {
    this.set16(o, v);
    this.set16(o + 2, v >> 16);
  }
  /** Bits of [o, o+size) a guest may write (little-endian mask). */
  setWriteMask(o: u32, size: u32, mask: u32): void {
    for (let i: u32 = 0; i < size && o + i < PCI_CONFIG_SIZE; i++) unchecked((this.wmask[<i32>(o + i)] = <u8>(mask >> (8 * i))));
  }
  /** Bits of [o, o+size) a guest clears by writing 1. */
  setW1cMask(o: u32, size: u32, mask: u32): void {
    for (let i: u32 = 0; i < size && o + i < PCI_CONFIG_SIZE; i++) unchecked((this.w1c[<i32>(o + i)] = <u8>(mask >> (8 * i))));
  }

  private updateIntx(): void {
    const enabled = (this.get16(PCI_COMMAND) & CMD_INTX_DISABLE) == 0 && !this.msixEnabled();
    const status = this.get16(PCI_STATUS);
    this.set16(PCI_STATUS, this.intxLevel ? status | STS_INTX : status & ~STS_INTX);
    const out = this.intxLevel && enabled && this.intxGsi >= 0;
    if (out != this.intxOut) {
      this.intxOut = out;
      this.sink.setLevel(<u32>this.intxGsi, out);
    }
  }
}
