// A small ACPI table reader of our own for the tests: RSDP/XSDT/FADT/MADT fields with checksums, and a walker for the AML subset the DSDT uses.

const ascii = (b: Uint8Array, o: number, n: number): string => String.fromCharCode(...b.subarray(o, o + n));
const u16 = (b: Uint8Array, o: number): number => b[o] | (b[o + 1] << 8);
const u32 = (b: Uint8Array, o: number): number => (u16(b, o) | (u16(b, o + 2) << 16)) >>> 0;
const u64 = (b: Uint8Array, o: number): bigint => BigInt(u32(b, o)) | (BigInt(u32(b, o + 4)) << 32n);
const sum = (b: Uint8Array, o: number, n: number): number => b.subarray(o, o + n).reduce((a, v) => (a + v) & 0xff, 0);

export interface Table { addr: number; sig: string; length: number; revision: number; checksumOk: boolean; oem: string; body: Uint8Array }

export class AcpiReader {
  constructor(readonly mem: Uint8Array) {}

  /** Scans [from, to) on 16-byte boundaries for a valid RSDP signature and first checksum (ACPI 6.4 5.2.5.1). */
  findRsdp(from = 0xe0000, to = 0x100000): number {
    for (let a = from; a + 36 <= Math.min(to, this.mem.length); a += 16) {
      if (ascii(this.mem, a, 8) === "RSD PTR " && sum(this.mem, a, 20) === 0) return a;
    }
    return -1;
  }

  rsdp(a: number): { revision: number; xsdt: number; rsdt: number; length: number; checksumOk: boolean; extChecksumOk: boolean; oem: string } {
    const m = this.mem;
    if (ascii(m, a, 8) !== "RSD PTR ") throw new Error(`no RSDP at ${a.toString(16)}`);
    return {
      revision: m[a + 15], rsdt: u32(m, a + 16), length: u32(m, a + 20), xsdt: Number(u64(m, a + 24)),
      checksumOk: sum(m, a, 20) === 0, extChecksumOk: sum(m, a, u32(m, a + 20)) === 0, oem: ascii(m, a + 9, 6),
    };
  }

  table(a: number): Table {
    const m = this.mem;
    if (a + 36 > m.length) throw new Error(`table at ${a.toString(16)} is outside memory`);
    const length = u32(m, a + 4);
    if (length < 36 || a + length > m.length) throw new Error(`table at ${a.toString(16)} has a bad length ${length}`);
    return {
      addr: a, sig: ascii(m, a, 4), length, revision: m[a + 8], checksumOk: sum(m, a, length) === 0, oem: ascii(m, a + 10, 6),
      body: m.subarray(a + 36, a + length),
    };
  }

  xsdtEntries(t: Table): number[] {
    const out: number[] = [];
    for (let o = 0; o + 8 <= t.body.length; o += 8) out.push(Number(u64(t.body, o)));
    return out;
  }

  /** FADT fields by ACPI 6.4 table 5.9 offsets (body offsets are minus the 36-byte header). */
  fadt(t: Table): { dsdt: number; xdsdt: number; flags: number; iapcBootArch: number; minor: number; pmTimer: number; sciInt: number; hypervisor: string } {
    const b = t.body;
    return {
      dsdt: u32(b, 40 - 36), sciInt: u16(b, 46 - 36), pmTimer: u32(b, 76 - 36), iapcBootArch: u16(b, 109 - 36), flags: u32(b, 112 - 36),
      minor: b[131 - 36], xdsdt: Number(u64(b, 140 - 36)), hypervisor: ascii(b, 268 - 36, 8),
    };
  }

  madt(t: Table): { lapic: number; flags: number; entries: { type: number; length: number; data: number[] }[] } {
    const b = t.body;
    const entries: { type: number; length: number; data: number[] }[] = [];
    for (let o = 8; o < b.length; ) {
      const type = b[o], length = b[o + 1];
      if (length < 2 || o + length > b.length) throw new Error(`MADT entry at ${o} has a bad length ${length}`);
      entries.push({ type, length, data: [...b.subarray(o + 2, o + length)] });
      o += length;
    }
    return { lapic: u32(b, 0), flags: u32(b, 4), entries };
  }
}

// ---- AML ----

export type AmlValue = number | bigint | Uint8Array | string | AmlValue[];

/** EISA ID dword as AML stores it (big-endian compressed) back to text: 0x41D00A03 bytes -> "PNP0A03". */
export function eisaId(v: number): string {
  const b = [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
  const vendor = (b[0] << 8) | b[1];
  const product = (b[2] << 8) | b[3];
  const l = (n: number): string => String.fromCharCode(((vendor >> n) & 0x1f) + 0x40);
  return l(10) + l(5) + l(0) + product.toString(16).toUpperCase().padStart(4, "0");
}

/**
 * Walks a TermList of the subset the DSDT uses (Scope, Device, Name with
 * integer/string/buffer data) and returns every Name as "\\_SB_.PCI0._HID"
 * -> value. Anything else is an error, so an encoding slip cannot pass.
 */
export function walkAml(aml: Uint8Array): Map<string, AmlValue> {
  const names = new Map<string, AmlValue>();
  const pkgLength = (o: number): [number, number] => {
    const lead = aml[o];
    const n = lead >> 6;
    if (n === 0) return [lead & 0x3f, 1];
    let len = lead & 0x0f;
    for (let i = 0; i < n; i++) len |= aml[o + 1 + i] << (4 + 8 * i);
    return [len, n + 1];
  };
  const nameString = (o: number): [string, number] => {
    let s = "";
    let p = o;
    if (aml[p] === 0x5c) {
      s = "\\";
      p++;
    }
    s += ascii(aml, p, 4);
    if (!/^\\?[A-Z_][A-Z0-9_]{3}$/.test(s)) throw new Error(`bad NameString ${JSON.stringify(s)} at ${o}`);
    return [s, p + 4 - o];
  };
  const data = (o: number): [AmlValue, number] => {
    const op = aml[o];
    if (op === 0x00) return [0, 1];
    if (op === 0x01) return [1, 1];
    if (op === 0xff) return [0xffffffffffffffffn, 1];
    if (op === 0x0a) return [aml[o + 1], 2];
    if (op === 0x0b) return [u16(aml, o + 1), 3];
    if (op === 0x0c) return [u32(aml, o + 1), 5];
    if (op === 0x0e) return [u64(aml, o + 1), 9];
    if (op === 0x0d) {
      let e = o + 1;
      while (aml[e] !== 0) e++;
      return [ascii(aml, o + 1, e - o - 1), e - o + 1];
    }
    if (op === 0x11) {
      const [len, lb] = pkgLength(o + 1);
      const [size, sb] = data(o + 1 + lb);
      const bytes = aml.subarray(o + 1 + lb + sb, o + 1 + len);
      if (typeof size !== "number" || size !== bytes.length) throw new Error(`buffer size ${String(size)} != ${bytes.length} bytes`);
      return [bytes, 1 + len];
    }
    if (op === 0x12) {
      const [len, lb] = pkgLength(o + 1);
      const n = aml[o + 1 + lb];
      const items: AmlValue[] = [];
      let p = o + 2 + lb;
      const end = o + 1 + len;
      while (p < end) {
        const [v, vl] = data(p);
        items.push(v);
        p += vl;
      }
      if (p !== end || items.length !== n) throw new Error(`package at ${o}: ${items.length} elements of ${n}, ended at ${p} not ${end}`);
      return [items, 1 + len];
    }
    throw new Error(`unexpected data opcode 0x${op.toString(16)} at ${o}`);
  };
  const join = (scope: string, n: string): string => (n.startsWith("\\") ? n : scope === "" ? `\\${n}` : `${scope}.${n}`);
  const terms = (from: number, to: number, scope: string): void => {
    let o = from;
    while (o < to) {
      const op = aml[o];
      if (op === 0x08) {
        const [n, nl] = nameString(o + 1);
        const [v, vl] = data(o + 1 + nl);
        names.set(join(scope, n), v);
        o += 1 + nl + vl;
      } else if (op === 0x10 || (op === 0x5b && aml[o + 1] === 0x82)) {
        const start = op === 0x10 ? o + 1 : o + 2;
        const [len, lb] = pkgLength(start);
        const [n, nl] = nameString(start + lb);
        const end = start + len;
        if (end > to) throw new Error(`package at ${o} runs past its parent (${end} > ${to})`);
        const path = join(scope, n);
        if (op !== 0x10) names.set(path, "Device");
        terms(start + lb + nl, end, path);
        o = end;
      } else throw new Error(`unexpected opcode 0x${op.toString(16)} at ${o}`);
    }
    if (o !== to) throw new Error(`term list overruns: ${o} != ${to}`);
  };
  terms(0, aml.length, "");
  return names;
}

export type Resource =
  | { kind: "io"; min: number; max: number; align: number; len: number; decode16: boolean }
  | { kind: "irq"; irqs: number[] }
  | { kind: "word" | "dword"; type: number; flags: number; typeFlags: number; min: number; max: number; translation: number; len: number }
  | { kind: "end" };

/** Decodes a resource template (ACPI 6.4 6.4); throws on anything it does not know or a missing end tag. */
export function resources(b: Uint8Array): Resource[] {
  const out: Resource[] = [];
  for (let o = 0; o < b.length; ) {
    const tag = b[o];
    if (tag === 0x47) {
      out.push({ kind: "io", decode16: (b[o + 1] & 1) === 1, min: u16(b, o + 2), max: u16(b, o + 4), align: b[o + 6], len: b[o + 7] });
      o += 8;
    } else if (tag === 0x22 || tag === 0x23) {
      const mask = u16(b, o + 1);
      out.push({ kind: "irq", irqs: [...Array(16).keys()].filter((i) => (mask >> i) & 1) });
      o += 1 + (tag & 7);
    } else if (tag === 0x88) {
      if (u16(b, o + 1) !== 13) throw new Error("word descriptor length");
      out.push({ kind: "word", type: b[o + 3], flags: b[o + 4], typeFlags: b[o + 5], min: u16(b, o + 8), max: u16(b, o + 10), translation: u16(b, o + 12), len: u16(b, o + 14) });
      o += 16;
    } else if (tag === 0x87) {
      if (u16(b, o + 1) !== 23) throw new Error("dword descriptor length");
      out.push({ kind: "dword", type: b[o + 3], flags: b[o + 4], typeFlags: b[o + 5], min: u32(b, o + 10), max: u32(b, o + 14), translation: u32(b, o + 18), len: u32(b, o + 22) });
      o += 26;
    } else if (tag === 0x79) {
      out.push({ kind: "end" });
      if (o + 2 !== b.length) throw new Error("bytes after the end tag");
      return out;
    } else throw new Error(`unknown resource tag 0x${tag.toString(16)} at ${o}`);
  }
  throw new Error("no end tag");
}
