// Per-VM ACPI tables written into guest RAM: RSDP, XSDT, a HW-reduced FADT, MADT and a hand-encoded DSDT (ACPI 6.4 ch. 5, 6 and 20).

import { BoundedMemory } from "../lib/bounded-memory";
import { pciIntxGsi } from "./pci/host";

/** What the tables describe. Defaults: the recommended platform of one VM. */
export class AcpiConfig {
  cpus: u32 = 1;
  lapicAddress: u32 = 0xfee00000;
  ioapicAddress: u32 = 0xfec00000;
  ioapicId: u32 = 0;
  /** The PCI root's 32-bit MMIO window, where the guest places BARs (must not overlap RAM or the APICs). */
  pciMmioBase: u32 = 0xc0000000;
  pciMmioSize: u32 = 0x3ec00000; // up to the IOAPIC at 0xFEC00000
  /** The PCI root's I/O window for I/O BARs (a legacy virtio device needs one). */
  pciIoBase: u32 = 0x1000;
  pciIoSize: u32 = 0xf000;
  /** Bus-0 device numbers whose INTx pins the _PRT routes (to `pciIntxGsi`); empty: no _PRT (MSI-X only). */
  pciIntxSlots: u32[] = [];
  /** COM1 at 0x3F8 on ISA IRQ 4 (= GSI 4). */
  com1: bool = true;
}

/** Where the tables went. */
export class AcpiLayout {
  rsdp: u64 = 0;
  xsdt: u64 = 0;
  fadt: u64 = 0;
  madt: u64 = 0;
  dsdt: u64 = 0;
  /** Bytes from the base to the end of the last table (the region to reserve in E820). */
  size: u64 = 0;
}

/** Bytes the tables need at most for `cfg` (callers reserve this much). */
export function acpiMaxSize(cfg: AcpiConfig): u64 {
  return 0x400 + <u64>cfg.cpus * 8 + 0x200 + <u64>cfg.pciIntxSlots.length * 4 * 16;
}

const OEM_ID = "TYPEVI";
const OEM_TABLE_ID = "TYPEVISR";
const HEADER_SIZE: u32 = 36;
const FADT_SIZE: u32 = 276; // ACPI 6.4 table 5.9, up to the hypervisor vendor identity

// FADT Flags and IAPC_BOOT_ARCH bits (ACPI 6.4 5.2.9 table 5.10, 5.2.9.3 table 5.11).
const FADT_WBINVD: u32 = 1 << 0;
const FADT_HW_REDUCED_ACPI: u32 = 1 << 20;
const IAPC_VGA_NOT_PRESENT: u32 = 1 << 2;
const IAPC_CMOS_RTC_NOT_PRESENT: u32 = 1 << 5;

/**
 * Writes the tables at `base` (16-byte aligned, below 4 GiB, inside `mem`).
 * Returns the layout, or null when they do not fit. Linux finds the RSDP
 * through boot_params.acpi_rsdp_addr, or by scanning 0xE0000-0xFFFFF when
 * `base` lies there (ACPI 6.4 5.2.5.1).
 */
export function buildAcpi(mem: BoundedMemory, base: u64, cfg: AcpiConfig): AcpiLayout | null {
  if ((base & 15) != 0 || base + acpiMaxSize(cfg) > 0x100000000 || !mem.contains(base, acpiMaxSize(cfg))) return null;
  const l = new AcpiLayout();
  l.rsdp = base;
  l.xsdt = base + 0x40;
  l.fadt = l.xsdt + 0x40;
  l.madt = align16(l.fadt + FADT_SIZE);
  const madt = madtBytes(cfg);
  l.dsdt = align16(l.madt + <u64>madt.length);
  const dsdt = dsdtBytes(cfg);
  l.size = l.dsdt + <u64>dsdt.length - base;
  if (l.size > acpiMaxSize(cfg)) return null;

  writeBytes(mem, l.madt, madt);
  writeBytes(mem, l.dsdt, dsdt);

  // FADT (ACPI 6.4 5.2.9): HW-reduced, so no PM blocks, no SCI, no PM timer, no GPEs.
  const f = new StaticArray<u8>(<i32>FADT_SIZE);
  header(f, "FACP", FADT_SIZE, 6);
  put32(f, 40, <u32>l.dsdt);
  put16(f, 109, IAPC_VGA_NOT_PRESENT | IAPC_CMOS_RTC_NOT_PRESENT); // no 8042, no VGA, no RTC
  put32(f, 112, FADT_WBINVD | FADT_HW_REDUCED_ACPI);
  f[131] = 4; // FADT minor version: ACPI 6.4
  put64(f, 140, l.dsdt); // X_DSDT
  putString(f, 268, "TYPEVISR"); // hypervisor vendor identity
  checksum(f, 9, 0, FADT_SIZE);
  writeBytes(mem, l.fadt, f);

  // XSDT (5.2.8): FADT and MADT.
  const xl: u32 = HEADER_SIZE + 16;
  const x = new StaticArray<u8>(<i32>xl);
  header(x, "XSDT", xl, 1);
  put64(x, 36, l.fadt);
  put64(x, 44, l.madt);
  checksum(x, 9, 0, xl);
  writeBytes(mem, l.xsdt, x);

  // RSDP (5.2.5.3): revision 2; the first checksum covers 20 bytes, the extended one all 36.
  const r = new StaticArray<u8>(36);
  putString(r, 0, "RSD PTR ");
  putString(r, 9, OEM_ID);
  r[15] = 2;
  put32(r, 16, 0); // no RSDT: the XSDT is used
  put32(r, 20, 36);
  put64(r, 24, l.xsdt);
  checksum(r, 8, 0, 20);
  checksum(r, 32, 0, 36);
  writeBytes(mem, l.rsdp, r);
  return l;
}

/** MADT (ACPI 6.4 5.2.12): the LAPIC address, no 8259s (PCAT_COMPAT clear), one LAPIC per CPU, one IOAPIC at GSI 0. */
function madtBytes(cfg: AcpiConfig): StaticArray<u8> {
  const len: u32 = HEADER_SIZE + 8 + 8 * cfg.cpus + 12;
  const m = new StaticArray<u8>(<i32>len);
  header(m, "APIC", len, 5);
  put32(m, 36, cfg.lapicAddress);
  put32(m, 40, 0); // flags: PCAT_COMPAT = 0, there is no PIC
  let o: u32 = 44;
  for (let i: u32 = 0; i < cfg.cpus; i++) {
    m[o] = 0; // Processor Local APIC (5.2.12.2)
    m[o + 1] = 8;
    m[o + 2] = <u8>i; // ACPI processor UID
    m[o + 3] = <u8>i; // APIC ID
    put32(m, o + 4, 1); // enabled
    o += 8;
  }
  m[o] = 1; // I/O APIC (5.2.12.3)
  m[o + 1] = 12;
  m[o + 2] = <u8>cfg.ioapicId;
  put32(m, o + 4, cfg.ioapicAddress);
  put32(m, o + 8, 0); // global system interrupt base
  checksum(m, 9, 0, len);
  return m;
}

// ---- DSDT: AML (ACPI 6.4 ch. 20) ----

const AML_ZERO: u8 = 0x00;
const AML_NAME: u8 = 0x08;
const AML_BYTE: u8 = 0x0a;
const AML_DWORD: u8 = 0x0c;
const AML_SCOPE: u8 = 0x10;
const AML_BUFFER: u8 = 0x11;
const AML_PACKAGE: u8 = 0x12;
const AML_EXT: u8 = 0x5b;
const AML_DEVICE: u8 = 0x82;

/**
 *   Scope (\_SB) {
 *     Device (PCI0) { _HID PNP0A03, _UID 0, _CRS { bus 0-255, I/O 0xCF8-0xCFF, I/O window, 32-bit MMIO window } }
 *     Device (COM1) { _HID PNP0501, _UID 1, _CRS { I/O 0x3F8-0x3FF, IRQ 4 } }
 *   }
 */
function dsdtBytes(cfg: AcpiConfig): StaticArray<u8> {
  const pci = new Aml();
  pci.nameEisa("_HID", "PNP0A03");
  pci.nameInt("_UID", 0);
  const crs = new Aml();
  // WordBusNumber: producer, min/max fixed, bus 0-255 (6.4.3.5.3).
  crs.wordAddress(2, 0, 0x0000, 0x00ff, 0x0100);
  crs.io(0xcf8, 8);
  // WordIO window, entire range (_RNG = 3).
  crs.wordAddress(1, 3, cfg.pciIoBase, cfg.pciIoBase + cfg.pciIoSize - 1, cfg.pciIoSize);
  // DWordMemory: read-write, non-cacheable.
  crs.dwordMemory(cfg.pciMmioBase, cfg.pciMmioBase + cfg.pciMmioSize - 1, cfg.pciMmioSize);
  crs.endTag();
  pci.nameBuffer("_CRS", crs);
  // _PRT (ACPI 6.4 6.2.13): { address 0xDDDDFFFF, pin 0-3, source 0 (a GSI, not a link device), GSI }; level, active low.
  const slots = cfg.pciIntxSlots;
  if (slots.length > 0 && slots.length <= 32) {
    const prt = new Aml();
    for (let i = 0; i < slots.length; i++) {
      const dev = slots[i] & 31;
      for (let pin: u32 = 0; pin < 4; pin++) {
        const e = new Aml();
        e.byte(AML_DWORD);
        e.dword((dev << 16) | 0xffff);
        e.integer(pin);
        e.integer(0);
        e.integer(pciIntxGsi(dev, pin + 1));
        prt.package(4, e);
      }
    }
    pci.byte(AML_NAME);
    pci.nameString("_PRT");
    pci.package(<u32>slots.length * 4, prt);
  }

  const sb = new Aml();
  sb.device("PCI0", pci);
  if (cfg.com1) {
    const com = new Aml();
    com.nameEisa("_HID", "PNP0501");
    com.nameInt("_UID", 1);
    const c = new Aml();
    c.io(0x3f8, 8);
    c.irq(4);
    c.endTag();
    com.nameBuffer("_CRS", c);
    sb.device("COM1", com);
  }
  const body = new Aml();
  body.scope("\\_SB_", sb);

  const len: u32 = HEADER_SIZE + <u32>body.b.length;
  const d = new StaticArray<u8>(<i32>len);
  header(d, "DSDT", len, 2); // revision 2: 64-bit integers
  for (let i = 0; i < body.b.length; i++) d[<i32>HEADER_SIZE + i] = body.b[i];
  checksum(d, 9, 0, len);
  return d;
}

/** An AML byte stream under construction. */
class Aml {
  b: u8[] = [];

  byte(v: u32): void {
    this.b.push(<u8>v);
  }
  word(v: u32): void {
    this.byte(v);
    this.byte(v >> 8);
  }
  dword(v: u32): void {
    this.word(v);
    this.word(v >> 16);
  }
  /** A NameString: an optional root prefix, then 4-character segments (20.2.2). */
  nameString(s: string): void {
    for (let i = 0; i < s.length; i++) this.byte(<u32>s.charCodeAt(i));
  }
  append(o: Aml): void {
    for (let i = 0; i < o.b.length; i++) this.b.push(o.b[i]);
  }
  /** PkgLength (20.2.4): counts itself; 1 byte below 64, else a lead byte with the count of following bytes and the low nibble. */
  pkgLength(contentLen: u32): void {
    if (contentLen + 1 < 0x40) {
      this.byte(contentLen + 1);
      return;
    }
    let n: u32 = 1;
    while (n < 3 && contentLen + n + 1 >= (<u32>1 << (4 + 8 * n))) n++;
    const total = contentLen + n + 1;
    this.byte((n << 6) | (total & 0xf));
    for (let i: u32 = 0; i < n; i++) this.byte(total >> (4 + 8 * i));
  }
  /** Integer constants with the shortest encoding (20.2.3). */
  integer(v: u32): void {
    if (v == 0) this.byte(AML_ZERO);
    else if (v == 1) this.byte(0x01);
    else if (v <= 0xff) {
      this.byte(AML_BYTE);
      this.byte(v);
    } else {
      this.byte(AML_DWORD);
      this.dword(v);
    }
  }
  nameInt(name: string, v: u32): void {
    this.byte(AML_NAME);
    this.nameString(name);
    this.integer(v);
  }
  /** Name(name, EISAID("AAA####")): 3 letters of 5 bits and 4 hex digits, stored big-endian (6.1.5). */
  nameEisa(name: string, id: string): void {
    this.byte(AML_NAME);
    this.nameString(name);
    const vendor = (eisaLetter(id, 0) << 10) | (eisaLetter(id, 1) << 5) | eisaLetter(id, 2);
    const product = (hexDigit(id, 3) << 12) | (hexDigit(id, 4) << 8) | (hexDigit(id, 5) << 4) | hexDigit(id, 6);
    this.byte(AML_DWORD);
    this.byte(vendor >> 8);
    this.byte(vendor);
    this.byte(product >> 8);
    this.byte(product);
  }
  /** Name(name, Buffer() { resource template }) (20.2.5.4 DefBuffer). */
  nameBuffer(name: string, data: Aml): void {
    this.byte(AML_NAME);
    this.nameString(name);
    const size = new Aml();
    size.integer(<u32>data.b.length);
    this.byte(AML_BUFFER);
    this.pkgLength(<u32>(size.b.length + data.b.length));
    this.append(size);
    this.append(data);
  }
  /** Package(n) { elements } (20.2.5.4 DefPackage: NumElements is one byte). */
  package(n: u32, elements: Aml): void {
    this.byte(AML_PACKAGE);
    this.pkgLength(1 + <u32>elements.b.length);
    this.byte(n);
    this.append(elements);
  }
  device(name: string, body: Aml): void {
    this.byte(AML_EXT);
    this.byte(AML_DEVICE);
    this.pkgLength(<u32>(name.length + body.b.length));
    this.nameString(name);
    this.append(body);
  }
  scope(name: string, body: Aml): void {
    this.byte(AML_SCOPE);
    this.pkgLength(<u32>(name.length + body.b.length));
    this.nameString(name);
    this.append(body);
  }

  // Resource descriptors (ACPI 6.4 6.4).

  /** I/O port descriptor, 16-bit decode, fixed base (6.4.2.5). */
  io(base: u32, len: u32): void {
    this.byte(0x47);
    this.byte(1);
    this.word(base);
    this.word(base);
    this.byte(1);
    this.byte(len);
  }
  /** IRQ descriptor without flags: edge, active high (6.4.2.1). */
  irq(n: u32): void {
    this.byte(0x22);
    this.word(<u32>1 << n);
  }
  /** Word address space descriptor (6.4.3.5.3): type 1 I/O, 2 bus; producer, min and max fixed. */
  wordAddress(type: u32, typeFlags: u32, min: u32, max: u32, len: u32): void {
    this.byte(0x88);
    this.word(13);
    this.byte(type);
    this.byte(0x0c); // min fixed, max fixed, positive decode, producer
    this.byte(typeFlags);
    this.word(0); // granularity
    this.word(min);
    this.word(max);
    this.word(0); // translation
    this.word(len);
  }
  /** DWord memory descriptor (6.4.3.5.2): producer, min and max fixed, non-cacheable, read-write. */
  dwordMemory(min: u32, max: u32, len: u32): void {
    this.byte(0x87);
    this.word(23);
    this.byte(0); // memory
    this.byte(0x0c);
    this.byte(0x01); // read-write, non-cacheable
    this.dword(0);
    this.dword(min);
    this.dword(max);
    this.dword(0);
    this.dword(len);
  }
  /** End tag with checksum 0 ("treat as valid", 6.4.2.9). */
  endTag(): void {
    this.byte(0x79);
    this.byte(0);
  }
}

function eisaLetter(id: string, i: i32): u32 {
  return (<u32>id.charCodeAt(i) - 0x40) & 0x1f;
}
function hexDigit(id: string, i: i32): u32 {
  const ch = <u32>id.charCodeAt(i);
  return ch >= 0x41 ? ch - 0x41 + 10 : ch - 0x30;
}

// ---- table plumbing ----

/** The 36-byte system description header (5.2.6) with a zero checksum. */
function header(t: StaticArray<u8>, sig: string, len: u32, revision: u32): void {
  putString(t, 0, sig);
  put32(t, 4, len);
  t[8] = <u8>revision;
  putString(t, 10, OEM_ID);
  putString(t, 16, OEM_TABLE_ID);
  put32(t, 24, 1); // OEM revision
  putString(t, 28, "TYPV"); // creator ID
  put32(t, 32, 1);
}

/** Sets byte `at` so that bytes [from, from+len) sum to 0 mod 256. */
function checksum(t: StaticArray<u8>, at: u32, from: u32, len: u32): void {
  t[<i32>at] = 0;
  let s: u32 = 0;
  for (let i = from; i < from + len; i++) s += <u32>t[<i32>i];
  t[<i32>at] = <u8>(0x100 - (s & 0xff));
}

function put16(t: StaticArray<u8>, o: u32, v: u32): void {
  t[<i32>o] = <u8>v;
  t[<i32>o + 1] = <u8>(v >> 8);
}
function put32(t: StaticArray<u8>, o: u32, v: u32): void {
  put16(t, o, v);
  put16(t, o + 2, v >> 16);
}
function put64(t: StaticArray<u8>, o: u32, v: u64): void {
  put32(t, o, <u32>v);
  put32(t, o + 4, <u32>(v >> 32));
}
function putString(t: StaticArray<u8>, o: u32, s: string): void {
  for (let i = 0; i < s.length; i++) t[<i32>o + i] = <u8>s.charCodeAt(i);
}
function align16(v: u64): u64 {
  return (v + 15) & ~(<u64>15);
}
function writeBytes(mem: BoundedMemory, at: u64, t: StaticArray<u8>): void {
  mem.writeFrom(at, changetype<usize>(t), <u32>t.length);
}
