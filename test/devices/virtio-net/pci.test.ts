// The virtio-pci modern transport: header and vendor capabilities, the driver's initialisation through MMIO, MSI-X and INTx, the PCI_CFG window, register fuzzing.
import { beforeAll, beforeEach, describe, expect, test } from "vitest";
import { Exports } from "../../virtio/harness";
import { F_EVENT_IDX, F_MAC, F_STATUS, F_VERSION_1, GuestRing, HDR, Ram, S, loadNetPci } from "./guest";

let x: Exports;
const BAR4 = 0xfe000000, BAR1 = 0xfebf0000;
const COMMON = BAR4, ISR = BAR4 + 0x1000, DEVCFG = BAR4 + 0x2000, NOTIFY = BAR4 + 0x3000;

beforeAll(async () => {
  x = (await loadNetPci()).x;
});
beforeEach(() => x.reset(1 << 20));

/** The capability list: [offset, id, bytes...]. */
function caps(): { at: number; id: number; body: number[] }[] {
  const out: { at: number; id: number; body: number[] }[] = [];
  expect(x.cfgRead(0x06, 2) & 0x10).toBe(0x10);
  for (let at = x.cfgRead(0x34, 1); at !== 0 && out.length < 48; at = x.cfgRead(at + 1, 1)) {
    const len = x.cfgRead(at, 1) === 0x09 ? x.cfgRead(at + 2, 1) : 12;
    out.push({ at, id: x.cfgRead(at, 1), body: Array.from({ length: len }, (_, i) => x.cfgRead(at + i, 1)) });
  }
  return out;
}
const le32 = (b: number[], o: number) => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;

function programBars(): void {
  x.cfgWrite(0x14, 4, BAR1);
  x.cfgWrite(0x20, 4, BAR4);
  x.cfgWrite(0x24, 4, 0);
  x.cfgWrite(0x04, 2, 0x6); // memory space, bus master
}
const w8 = (a: number, v: number) => expect(x.mmioWrite(BigInt(a), 1, BigInt(v))).toBe(true);
const w16 = (a: number, v: number) => expect(x.mmioWrite(BigInt(a), 2, BigInt(v))).toBe(true);
const w32 = (a: number, v: number) => expect(x.mmioWrite(BigInt(a), 4, BigInt(v >>> 0))).toBe(true);
const r = (a: number, size: number) => Number(x.mmioRead(BigInt(a), size));

function enableMsix(vectors: number): void {
  const msix = caps().find((c) => c.id === 0x11)!;
  x.cfgWrite(msix.at + 2, 2, 0x8000);
  for (let v = 0; v < vectors; v++) {
    w32(BAR1 + 16 * v, 0xfee00000);
    w32(BAR1 + 16 * v + 4, 0);
    w32(BAR1 + 16 * v + 8, 0x40 + v);
    w32(BAR1 + 16 * v + 12, 0); // unmask
  }
}

/** What Linux's virtio_pci_modern + virtio_net do at probe, through the BAR. */
function linuxInit(ram: Ram, vectors: boolean): GuestRing[] {
  w8(COMMON + 0x14, 0);
  expect(r(COMMON + 0x14, 1)).toBe(0);
  w8(COMMON + 0x14, S.ACK);
  w8(COMMON + 0x14, S.ACK | S.DRIVER);
  w32(COMMON + 0x00, 0);
  const lo = r(COMMON + 0x04, 4);
  w32(COMMON + 0x00, 1);
  const hi = r(COMMON + 0x04, 4);
  expect(hi & 1).toBe(1); // VERSION_1
  const want = (1 << F_MAC) | (1 << F_STATUS) | (1 << F_EVENT_IDX);
  w32(COMMON + 0x08, 0);
  w32(COMMON + 0x0c, lo & want);
  w32(COMMON + 0x08, 1);
  w32(COMMON + 0x0c, 1 << (F_VERSION_1 - 32));
  w8(COMMON + 0x14, S.ACK | S.DRIVER | S.FEATURES_OK);
  expect(r(COMMON + 0x14, 1) & S.FEATURES_OK).toBe(S.FEATURES_OK);
  if (vectors) {
    w16(COMMON + 0x10, 0);
    expect(r(COMMON + 0x10, 2)).toBe(0);
  }
  expect(r(COMMON + 0x12, 2)).toBe(2);
  const rings: GuestRing[] = [];
  for (let q = 0; q < 2; q++) {
    w16(COMMON + 0x16, q);
    expect(r(COMMON + 0x18, 2)).toBe(256);
    w16(COMMON + 0x18, 128);
    if (vectors) {
      w16(COMMON + 0x1a, q + 1);
      expect(r(COMMON + 0x1a, 2)).toBe(q + 1);
    }
    const base = 0x10000 * (q + 1);
    const ring = new GuestRing(ram, 128, base, base + 0x800, base + 0x1000);
    // 64-bit fields as two 32-bit halves (virtio 1.2 4.1.3.1).
    for (const [off, a] of [[0x20, ring.desc], [0x28, ring.avail], [0x30, ring.used]]) {
      w32(COMMON + off, a);
      w32(COMMON + off + 4, 0);
      expect(r(COMMON + off, 4)).toBe(a);
    }
    expect(r(COMMON + 0x1e, 2)).toBe(q);
    w16(COMMON + 0x1c, 1);
    expect(r(COMMON + 0x1c, 2)).toBe(1);
    rings.push(ring);
  }
  w8(COMMON + 0x14, S.ACK | S.DRIVER | S.FEATURES_OK | S.DRIVER_OK);
  return rings;
}

describe("configuration header and capabilities", () => {
  test("IDs, class, revision 1 (modern only), subsystem", () => {
    expect(x.cfgRead(0, 4) >>> 0).toBe(0x10411af4);
    expect(x.cfgRead(0x08, 4) >>> 0).toBe(0x02000001);
    expect(x.cfgRead(0x2c, 2)).toBe(0x1af4);
  });
  test("vendor capabilities for common, notify (multiplier 4), ISR, device and PCI_CFG; MSI-X with config + 2 queue vectors", () => {
    const list = caps();
    const vendor = list.filter((c) => c.id === 0x09).map((c) => ({
      type: c.body[3], bar: c.body[4], off: le32(c.body, 8), len: le32(c.body, 12), capLen: c.body[2],
      mult: c.body[3] === 2 ? le32(c.body, 16) : undefined,
    }));
    expect(vendor).toEqual([
      { type: 1, bar: 4, off: 0, len: 0x40, capLen: 16, mult: undefined },
      { type: 2, bar: 4, off: 0x3000, len: 8, capLen: 20, mult: 4 },
      { type: 3, bar: 4, off: 0x1000, len: 1, capLen: 16, mult: undefined },
      { type: 4, bar: 4, off: 0x2000, len: 12, capLen: 16, mult: undefined },
      { type: 5, bar: 0, off: 0, len: 0, capLen: 20, mult: undefined },
    ]);
    const msix = list.find((c) => c.id === 0x11)!;
    expect(x.cfgRead(msix.at + 2, 2) & 0x7ff).toBe(2); // 3 vectors
    expect(x.cfgRead(msix.at + 4, 4)).toBe(1); // table at 0 in BAR 1
    expect(x.cfgRead(msix.at + 8, 4)).toBe(0x801); // PBA at 0x800 in BAR 1
  });
  test("BAR sizing: BAR 4 is 64-bit prefetchable 16 KiB, BAR 1 32-bit 4 KiB", () => {
    x.cfgWrite(0x20, 4, 0xffffffff);
    x.cfgWrite(0x24, 4, 0xffffffff);
    expect(x.cfgRead(0x20, 4) >>> 0).toBe(0xffffc00c);
    expect(x.cfgRead(0x24, 4) >>> 0).toBe(0xffffffff);
    x.cfgWrite(0x14, 4, 0xffffffff);
    expect(x.cfgRead(0x14, 4) >>> 0).toBe(0xfffff000);
  });
});

describe("a driver's initialisation and the data path through the BAR", () => {
  test("Linux's sequence with MSI-X: queues set up, kicks by notify address, MSI-X messages per queue", () => {
    programBars();
    enableMsix(3);
    const ram = new Ram(x, 0);
    const [rx, tx] = linuxInit(ram, true);
    expect(x.status()).toBe(S.ACK | S.DRIVER | S.FEATURES_OK | S.DRIVER_OK);
    // MAC and link through the device-config structure.
    expect([0, 1, 2, 3, 4, 5].map((i) => r(DEVCFG + i, 1))).toEqual([2, 0x74, 0x76, 0, 0, 1]);
    expect(r(DEVCFG + 6, 2)).toBe(1);
    // TX: one frame, kicked at queue 1's notify address.
    const frame = new Uint8Array(HDR + 60);
    frame.fill(0xff, HDR, HDR + 6);
    frame[HDR + 6] = 2;
    ram.write(0x40000, frame);
    ram.desc(tx.desc, 0, 0x40000, frame.length, 0, 0);
    tx.offer(0);
    tx.publish();
    w16(NOTIFY + 4, 1);
    expect(x.kicked()).toBe(2);
    expect(x.transmit()).toBe(1);
    expect(x.peerQueued()).toBe(1);
    expect(x.msis()).toBe("fee00000:42"); // vector 2: queue 1 (the used_event 0 was crossed)
    // RX: a posted buffer, a frame from the peer, vector 1.
    ram.desc(rx.desc, 0, 0x50000, 2048, 2, 0);
    rx.offer(0);
    rx.publish();
    expect(x.fromPeer(64)).toBe(1);
    expect(rx.reap()).toEqual([[0, HDR + 64]]);
    expect(x.msis()).toBe("fee00000:42,fee00000:41");
    expect(x.memFault()).toBe(false);
  });
  test("INTx without MSI-X: ISR bits, the line up, reading ISR clears and lowers it", () => {
    programBars();
    const ram = new Ram(x, 0);
    const [rx] = linuxInit(ram, false);
    ram.desc(rx.desc, 0, 0x50000, 2048, 2, 0);
    rx.offer(0);
    rx.publish();
    expect(x.fromPeer(64)).toBe(1);
    expect(x.intx()).toBe(true);
    expect(r(ISR, 1)).toBe(1);
    expect(x.intx()).toBe(false);
    expect(r(ISR, 1)).toBe(0);
  });
  test("vectors beyond the table read back NO_VECTOR; no interrupt is sent for NO_VECTOR", () => {
    programBars();
    enableMsix(3);
    w16(COMMON + 0x10, 3);
    expect(r(COMMON + 0x10, 2)).toBe(0xffff);
    w16(COMMON + 0x16, 0);
    w16(COMMON + 0x1a, 0x7ff);
    expect(r(COMMON + 0x1a, 2)).toBe(0xffff);
  });
  test("queue addresses: 64-bit writes, 32-bit halves, misaligned or odd-sized writes ignored", () => {
    programBars();
    w16(COMMON + 0x16, 1);
    expect(x.mmioWrite(BigInt(COMMON + 0x20), 8, 0x1_2345_6780n)).toBe(true);
    expect(r(COMMON + 0x20, 4)).toBe(0x23456780);
    expect(r(COMMON + 0x24, 4)).toBe(1);
    expect(BigInt(x.mmioRead(BigInt(COMMON + 0x20), 8))).toBe(0x1_2345_6780n);
    w32(COMMON + 0x2c, 2); // driver area, high half
    w32(COMMON + 0x28, 0x1000);
    expect(BigInt(x.mmioRead(BigInt(COMMON + 0x28), 8))).toBe(0x2_0000_1000n);
    w16(COMMON + 0x30, 0x5555); // a 16-bit write to a 64-bit field
    w32(COMMON + 0x32, 0x5555); // misaligned
    expect(r(COMMON + 0x30, 4)).toBe(0);
    expect(x.mmioWrite(BigInt(COMMON + 0x24), 8, 7n)).toBe(true); // 64-bit at the high half
    expect(r(COMMON + 0x24, 4)).toBe(1);
  });
  test("a queue that does not exist reads size 0 and ignores writes", () => {
    programBars();
    w16(COMMON + 0x16, 5);
    expect(r(COMMON + 0x18, 2)).toBe(0);
    w16(COMMON + 0x1c, 1);
    expect(r(COMMON + 0x1c, 2)).toBe(0);
  });
  test("a ring outside RAM at queue_enable: NEEDS_RESET, [net] line, configuration vector; reset clears", () => {
    programBars();
    enableMsix(3);
    w8(COMMON + 0x14, S.ACK | S.DRIVER);
    w32(COMMON + 0x08, 1);
    w32(COMMON + 0x0c, 1);
    w8(COMMON + 0x14, S.ACK | S.DRIVER | S.FEATURES_OK);
    w16(COMMON + 0x10, 0);
    w8(COMMON + 0x14, S.ACK | S.DRIVER | S.FEATURES_OK | S.DRIVER_OK);
    w16(COMMON + 0x16, 1);
    w32(COMMON + 0x20, 0xfff00000);
    w16(COMMON + 0x1c, 1);
    expect(r(COMMON + 0x14, 1) & S.NEEDS_RESET).toBe(S.NEEDS_RESET);
    expect(x.logLines()).toBe("[net] vm1: tx queue: ring outside memory; device needs reset");
    expect(x.msis()).toBe("fee00000:40");
    w8(COMMON + 0x14, 0);
    expect(r(COMMON + 0x14, 1)).toBe(0);
    w16(COMMON + 0x16, 1);
    expect(r(COMMON + 0x1c, 2)).toBe(0);
    expect(r(COMMON + 0x20, 4)).toBe(0);
  });
  test("the PCI_CFG capability reaches the BAR through configuration space", () => {
    const c = caps().find((k) => k.id === 0x09 && k.body[3] === 5)!;
    x.cfgWrite(c.at + 4, 1, 4); // bar
    x.cfgWrite(c.at + 8, 4, 0x12); // num_queues
    x.cfgWrite(c.at + 12, 4, 2);
    expect(x.cfgRead(c.at + 16, 4)).toBe(2);
    x.cfgWrite(c.at + 8, 4, 0x14); // device_status
    x.cfgWrite(c.at + 12, 4, 1);
    x.cfgWrite(c.at + 16, 4, S.ACK);
    expect(x.status()).toBe(S.ACK);
  });
});

test("register fuzz: 200,000 random configuration and BAR accesses never trap or touch memory outside RAM", async () => {
  let s = 12345;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 8);
  programBars();
  const sizes = [1, 2, 4, 8];
  for (let i = 0; i < 200_000; i++) {
    const k = rnd() % 10;
    const size = sizes[rnd() % 4];
    const v = BigInt(rnd()) | (BigInt(rnd()) << 24n);
    if (k < 2) x.cfgWrite(rnd() % 256, Math.min(size, 4), Number(v & 0xffffffffn));
    else if (k < 3) x.cfgRead(rnd() % 256, Math.min(size, 4));
    else if (k < 7) x.mmioWrite(BigInt(BAR4 + (rnd() % 0x4010)), size, rnd() % 3 === 0 ? v & 0xffn : v);
    else if (k < 9) x.mmioRead(BigInt(BAR4 + (rnd() % 0x4010)), size);
    else {
      x.transmit();
      x.fromPeer(60 + (rnd() % 100));
    }
    if (i % 5000 === 0) {
      programBars(); // keep the BARs decoding most of the time
      await new Promise((r) => setImmediate(r)); // let vitest's worker answer its RPC on a loaded machine
    }
  }
  expect(x.memFault()).toBe(false);
  // At least some of the random rings were broken and reported, each by one line per reset.
  expect(x.logLines().split("\n").every((l: string) => l === "" || l.startsWith("[net] vm1: "))).toBe(true);
});
