// A guest's virtio-net driver written in TypeScript for the tests: rings and buffers in the VM's simulated RAM, independent of src/virtio's driver side.
import { expect } from "vitest";
import { Exports, NET_SOURCES, load } from "../../virtio/harness";

export const NEXT = 1, WRITE = 2, INDIRECT = 4;
export const F_VERSION_1 = 32, F_EVENT_IDX = 29, F_INDIRECT = 28, F_MAC = 5, F_STATUS = 16;
export const S = { ACK: 1, DRIVER: 2, DRIVER_OK: 4, FEATURES_OK: 8, NEEDS_RESET: 64 };
export const C = { rxPackets: 0, rxBytes: 1, rxNoBuffer: 2, rxTooSmall: 3, txPackets: 4, txBytes: 5, txMalformed: 6, rxIrq: 7, txIrq: 8 };
export const RAM = 2 << 20;
export const HDR = 12;
/** The MACs entry.ts's reset gives VM 0 ("a") and VM 1 ("b"). */
export const MAC_A = [0x02, 0x74, 0x76, 0, 0, 1], MAC_B = [0x02, 0x74, 0x76, 0, 0, 2];

/** An IPv4-typed Ethernet frame of `len` bytes from `src` to `dst`, its payload a pattern of `seed`. */
export function frame(dst: number[], src: number[], len: number, seed = 0): Uint8Array {
  const f = new Uint8Array(len);
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = 0x08;
  f[13] = 0x00;
  for (let i = 14; i < len; i++) f[i] = (i * 7 + seed) & 0xff;
  return f;
}

export function loadNet(): Promise<{ x: Exports; wasm: string }> {
  return load("virtio-net", "test/devices/virtio-net/entry.ts", NET_SOURCES);
}

/** Little-endian access to VM `vm`'s RAM. */
export class Ram {
  constructor(readonly x: Exports, readonly vm: number) {}
  dv(): DataView {
    return new DataView(this.x.memory.buffer, this.x.memBase(this.vm), RAM);
  }
  u16(a: number, v?: number): number {
    if (v !== undefined) this.dv().setUint16(a, v, true);
    return this.dv().getUint16(a, true);
  }
  u32(a: number, v?: number): number {
    if (v !== undefined) this.dv().setUint32(a, v >>> 0, true);
    return this.dv().getUint32(a, true);
  }
  desc(table: number, i: number, addr: number | bigint, len: number, flags: number, next: number): void {
    const d = this.dv();
    d.setBigUint64(table + 16 * i, BigInt(addr), true);
    d.setUint32(table + 16 * i + 8, len >>> 0, true);
    d.setUint16(table + 16 * i + 12, flags, true);
    d.setUint16(table + 16 * i + 14, next, true);
  }
  write(a: number, b: Uint8Array): void {
    new Uint8Array(this.x.memory.buffer, this.x.memBase(this.vm) + a, b.length).set(b);
  }
  read(a: number, n: number): Uint8Array {
    return new Uint8Array(this.x.memory.buffer, this.x.memBase(this.vm) + a, n).slice();
  }
}

/** One queue as the guest sees it. */
export class GuestRing {
  availIdx = 0;
  usedSeen = 0;
  constructor(readonly ram: Ram, readonly size: number, readonly desc: number, readonly avail: number, readonly used: number) {}
  offer(head: number): void {
    this.ram.u16(this.avail + 4 + 2 * (this.availIdx % this.size), head);
    this.availIdx = (this.availIdx + 1) & 0xffff;
  }
  publish(): void {
    this.ram.u16(this.avail + 2, this.availIdx);
  }
  /** Used elements not yet taken: [id, len]. */
  reap(): [number, number][] {
    const out: [number, number][] = [];
    const idx = this.ram.u16(this.used + 2);
    while (this.usedSeen !== idx) {
      const e = this.used + 4 + 8 * (this.usedSeen % this.size);
      out.push([this.ram.u32(e), this.ram.u32(e + 4)]);
      this.usedSeen = (this.usedSeen + 1) & 0xffff;
    }
    return out;
  }
  usedEvent(v: number): void {
    this.ram.u16(this.avail + 4 + 2 * this.size, v);
  }
  availEvent(): number {
    return this.ram.u16(this.used + 4 + 8 * this.size);
  }
}

/** The driver: initialisation (virtio 1.2 3.1.1), RX buffers posted, frames sent with a zero header. */
export class GuestNic {
  readonly ram: Ram;
  rx!: GuestRing;
  tx!: GuestRing;
  static readonly RX_BUF = 0x10000;
  static readonly TX_BUF = 0x100000;
  private txNext = 0;

  constructor(readonly x: Exports, readonly vm: number) {
    this.ram = new Ram(x, vm);
  }

  /** Negotiates `features` (bit numbers), sets up both queues of `size`; DRIVER_OK unless told otherwise. */
  init(features: number[], size = 256, driverOk = true): void {
    const x = this.x, vm = this.vm;
    x.writeStatus(vm, 0);
    x.writeStatus(vm, S.ACK);
    x.writeStatus(vm, S.ACK | S.DRIVER);
    let lo = 0, hi = 0;
    for (const f of features) if (f < 32) lo |= 1 << f; else hi |= 1 << (f - 32);
    x.writeDriverFeatures(vm, 0, lo >>> 0);
    x.writeDriverFeatures(vm, 1, hi >>> 0);
    x.writeStatus(vm, S.ACK | S.DRIVER | S.FEATURES_OK);
    this.rx = new GuestRing(this.ram, size, 0x1000, 0x3000, 0x4000);
    this.tx = new GuestRing(this.ram, size, 0x6000, 0x8000, 0x9000);
    for (const r of [this.rx, this.tx]) {
      // Fresh rings: zero idx and flags.
      this.ram.u32(r.avail, 0);
      this.ram.u32(r.used, 0);
    }
    expect(x.enableQueue(vm, 0, size, BigInt(this.rx.desc), BigInt(this.rx.avail), BigInt(this.rx.used))).toBe(0);
    expect(x.enableQueue(vm, 1, size, BigInt(this.tx.desc), BigInt(this.tx.avail), BigInt(this.tx.used))).toBe(0);
    if (driverOk) x.writeStatus(vm, S.ACK | S.DRIVER | S.FEATURES_OK | S.DRIVER_OK);
  }

  /** Posts RX buffers: descriptor i -> one writable buffer of `len` bytes. */
  postRx(first: number, count: number, len = 1526): void {
    for (let i = first; i < first + count; i++) {
      this.ram.desc(this.rx.desc, i % this.rx.size, GuestNic.RX_BUF + (i % this.rx.size) * 2048, len, WRITE, 0);
      this.rx.offer(i % this.rx.size);
    }
    this.rx.publish();
  }

  /** Sends frames: header and frame in one descriptor each, or split at `split` bytes into two. */
  send(frames: Uint8Array[], split = 0): void {
    for (const f of frames) {
      const d = this.txNext % this.tx.size;
      this.txNext++;
      const at = GuestNic.TX_BUF + d * 2048;
      const buf = new Uint8Array(HDR + f.length);
      buf.set(f, HDR);
      this.ram.write(at, buf);
      if (split > 0 && split < buf.length) {
        // Through an indirect table after the buffer: two segments.
        const t = at + 1600;
        this.ram.desc(t, 0, at, split, NEXT, 1);
        this.ram.desc(t, 1, at + split, buf.length - split, 0, 0);
        this.ram.desc(this.tx.desc, d, t, 32, INDIRECT, 0);
      } else {
        this.ram.desc(this.tx.desc, d, at, buf.length, 0, 0);
      }
      this.tx.offer(d);
    }
    this.tx.publish();
  }

  /** Frames received: [header, frame] per used RX element. */
  received(): { hdr: Uint8Array; frame: Uint8Array; id: number }[] {
    return this.rx.reap().map(([id, len]) => {
      const b = this.ram.read(GuestNic.RX_BUF + id * 2048, len);
      return { hdr: b.slice(0, HDR), frame: b.slice(HDR), id };
    });
  }
}

export function loadNetPci(): Promise<{ x: Exports; wasm: string }> {
  return load("virtio-net-pci", "test/devices/virtio-net/pci-entry.ts", ["src/virtio", "src/lib", "src/devices", "src/vswitch"]);
}
