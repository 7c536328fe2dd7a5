// virtio-net device model: negotiation, configuration space, the data path through the switch, batching, drops, broken rings.
import { beforeAll, beforeEach, describe, expect, test } from "vitest";
import { Exports } from "../../virtio/harness";
import { C, F_EVENT_IDX, F_INDIRECT, F_MAC, F_STATUS, F_VERSION_1, GuestNic, HDR, MAC_A, MAC_B, RAM, S, frame, loadNet } from "./guest";

let x: Exports;
const ALL = [F_VERSION_1, F_MAC, F_STATUS, F_EVENT_IDX, F_INDIRECT];
const TX_DROPPED = 5, TX_PACKETS = 3, DROP_NO_BUFFER = 6 + 5;

beforeAll(async () => {
  x = (await loadNet()).x;
});
beforeEach(() => x.reset(RAM, 512));

const counter = (vm: number, c: number) => Number(x.counter(vm, c));

describe("negotiation and configuration", () => {
  test("offers VERSION_1, MAC, STATUS, EVENT_IDX, INDIRECT_DESC and nothing else", () => {
    const lo = x.deviceFeatures(0, 0), hi = x.deviceFeatures(0, 1);
    expect(lo >>> 0).toBe(((1 << F_MAC) | (1 << F_STATUS) | (1 << F_EVENT_IDX) | (1 << F_INDIRECT)) >>> 0);
    expect(hi).toBe(1); // VERSION_1 = bit 32
  });
  test("FEATURES_OK does not stick without VERSION_1 or with a feature not offered", () => {
    for (const [lo, hi] of [[1 << F_MAC, 0], [1 << 15 /* MRG_RXBUF */, 1], [0, 3 /* + ACCESS_PLATFORM */]]) {
      x.writeStatus(0, 0);
      x.writeStatus(0, S.ACK | S.DRIVER);
      x.writeDriverFeatures(0, 0, lo);
      x.writeDriverFeatures(0, 1, hi);
      x.writeStatus(0, S.ACK | S.DRIVER | S.FEATURES_OK);
      expect(x.status(0) & S.FEATURES_OK).toBe(0);
    }
    x.writeDriverFeatures(0, 0, 1 << F_MAC);
    x.writeDriverFeatures(0, 1, 1);
    x.writeStatus(0, S.ACK | S.DRIVER | S.FEATURES_OK);
    expect(x.status(0)).toBe(S.ACK | S.DRIVER | S.FEATURES_OK);
    x.writeDriverFeatures(0, 0, 0); // too late: ignored
    x.writeStatus(0, 0);
    expect(x.status(0)).toBe(0);
  });
  test("MAC and link status in the configuration space; a link change bumps the generation and interrupts", () => {
    const mac = [0, 1, 2, 3, 4, 5].map((o) => x.readConfig(1, o, 1));
    expect(mac).toEqual(MAC_B);
    expect(x.readConfig(1, 0, 4) >>> 0).toBe(0x00767402);
    expect(x.readConfig(1, 6, 2)).toBe(1); // VIRTIO_NET_S_LINK_UP
    new GuestNic(x, 1).init(ALL);
    const gen = x.configGeneration(1);
    x.setLink(1, false);
    expect(x.readConfig(1, 6, 2)).toBe(0);
    expect(x.configGeneration(1)).not.toBe(gen);
    expect(x.configIrqs(1)).toBe(1);
  });
});

describe("the data path", () => {
  test("guest a -> switch -> guest b: header, bytes, used lengths and counters", () => {
    const a = new GuestNic(x, 0), b = new GuestNic(x, 1);
    a.init(ALL);
    b.init(ALL);
    b.postRx(0, 64);
    const frames = [60, 64, 1514, 100].map((n, i) => frame(MAC_B, MAC_A, n, i));
    a.send(frames);
    x.kick(0, 1);
    expect(x.kicked(0)).toBe(2);
    expect(x.pumpTx(0, 0n)).toBe(4);
    expect(a.tx.reap()).toEqual([[0, 0], [1, 0], [2, 0], [3, 0]]); // TX completions write nothing
    expect(x.pumpRx(1, 0n)).toBe(4);
    const got = b.received();
    expect(got.map((r) => Buffer.from(r.frame).toString("hex"))).toEqual(frames.map((f) => Buffer.from(f).toString("hex")));
    for (const r of got) expect([...r.hdr]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]); // num_buffers 1
    expect(counter(0, C.txPackets)).toBe(4);
    expect(counter(0, C.txBytes)).toBe(60 + 64 + 1514 + 100);
    expect(counter(1, C.rxPackets)).toBe(4);
    expect(counter(1, C.rxBytes)).toBe(60 + 64 + 1514 + 100);
    expect(x.memFault(0) || x.memFault(1)).toBe(false);
  });
  test("split and indirect TX chains are gathered; multi-segment RX chains are scattered", () => {
    const a = new GuestNic(x, 0), b = new GuestNic(x, 1);
    a.init(ALL);
    b.init(ALL);
    // RX chain of three writable segments: 5 bytes (inside the header), 100, 1500.
    b.ram.desc(b.rx.desc, 0, 0x10000, 5, 3, 1);
    b.ram.desc(b.rx.desc, 1, 0x20000, 100, 3, 2);
    b.ram.desc(b.rx.desc, 2, 0x30000, 1500, 2, 0);
    b.rx.offer(0);
    b.rx.publish();
    const f = frame(MAC_B, MAC_A, 300, 9);
    a.send([f], 5); // header split inside
    expect(x.pumpTx(0, 0n)).toBe(1);
    expect(x.pumpRx(1, 0n)).toBe(1);
    expect(b.rx.reap()).toEqual([[0, HDR + 300]]);
    const all = new Uint8Array([...b.ram.read(0x10000, 5), ...b.ram.read(0x20000, 100), ...b.ram.read(0x30000, 1500)]);
    expect(Buffer.from(all.slice(HDR, HDR + 300)).equals(Buffer.from(f))).toBe(true);
    expect(all[10]).toBe(1);
  });
  test("batches of 32 and one interrupt per batch (without EVENT_IDX)", () => {
    const a = new GuestNic(x, 0), b = new GuestNic(x, 1);
    const noEventIdx = ALL.filter((f) => f !== F_EVENT_IDX);
    a.init(noEventIdx);
    b.init(noEventIdx);
    b.postRx(0, 200);
    a.send(Array.from({ length: 100 }, (_, i) => frame(MAC_B, MAC_A, 64, i)));
    // The main loop: a batch in from a's TX, then out to b's RX (the switch queues 64 frames per port).
    const taken: number[] = [];
    let delivered = 0;
    for (let n = x.pumpTx(0, 0n); n > 0; n = x.pumpTx(0, 0n)) {
      taken.push(n);
      delivered += x.pumpRx(1, 0n);
    }
    expect(taken).toEqual([32, 32, 32, 4]);
    expect(delivered).toBe(100);
    expect(x.queueIrqs(0, 1)).toBe(4); // one per batch
    expect(x.queueIrqs(1, 0)).toBe(4);
    expect(b.received().length).toBe(100);
  });
  test("a full guest RX ring drops into the port's tx_dropped (no_buffer), never blocks", () => {
    const a = new GuestNic(x, 0), b = new GuestNic(x, 1);
    a.init(ALL);
    b.init(ALL);
    b.postRx(0, 3);
    a.send(Array.from({ length: 10 }, (_, i) => frame(MAC_B, MAC_A, 64, i)));
    expect(x.pumpTx(0, 0n)).toBe(10);
    expect(x.pumpRx(1, 0n)).toBe(3);
    expect(counter(1, C.rxNoBuffer)).toBe(7);
    expect(Number(x.portStat(1, TX_DROPPED))).toBe(7);
    expect(Number(x.portStat(1, DROP_NO_BUFFER))).toBe(7);
    expect(Number(x.portStat(1, TX_PACKETS))).toBe(3); // only what the guest got
    expect(x.queued(1)).toBe(0);
    expect(x.poolAvailable()).toBe(512); // every buffer back in the pool
  });
  test("an RX buffer too small for header + frame completes empty and counts", () => {
    const b = new GuestNic(x, 1);
    b.init(ALL);
    b.postRx(0, 2, 100);
    const f = frame(MAC_B, MAC_A, 89, 1);
    new Uint8Array(x.memory.buffer, x.framePtr(), f.length).set(f);
    expect(x.deliver(1, 1, 89)).toBe(0); // 101 > 100
    expect(x.deliver(1, 1, 88)).toBe(1); // exactly fits
    expect(b.rx.reap()).toEqual([[0, 0], [1, 100]]);
    expect(counter(1, C.rxTooSmall)).toBe(1);
  });
  test("TX frames shorter than an Ethernet header or longer than a pool buffer complete without a frame", () => {
    const a = new GuestNic(x, 0);
    a.init(ALL);
    a.send([new Uint8Array(13), frame(MAC_B, MAC_A, 14), new Uint8Array(2017)]);
    expect(x.pumpTx(0, 0n)).toBe(1);
    expect(counter(0, C.txMalformed)).toBe(2);
    expect(a.tx.reap().length).toBe(3);
  });
  test("an empty pool stops TX: chains stay in the guest's ring until buffers return", () => {
    x.reset(RAM, 8);
    const a = new GuestNic(x, 0);
    a.init(ALL);
    a.send(Array.from({ length: 12 }, (_, i) => frame(MAC_B, MAC_A, 64, i)));
    expect(x.pumpTx(0, 0n)).toBe(8); // the switch queues them for b (nobody drains)
    expect(x.pumpTx(0, 0n)).toBe(0);
    expect(a.tx.reap().length).toBe(8);
    expect(x.txPending(0)).toBe(4);
    expect(x.pumpRx(1, 0n)).toBe(0); // b not set up: dropped, buffers return
    expect(x.pumpTx(0, 0n)).toBe(4);
  });
  test("nothing is used before DRIVER_OK (virtio 1.2 3.1.1)", () => {
    const a = new GuestNic(x, 0), b = new GuestNic(x, 1);
    a.init(ALL, 256, false);
    b.init(ALL, 256, false);
    b.postRx(0, 4);
    a.send([frame(MAC_B, MAC_A, 64)]);
    expect(x.pumpTx(0, 0n)).toBe(0);
    const f = frame(MAC_B, MAC_A, 64);
    new Uint8Array(x.memory.buffer, x.framePtr(), f.length).set(f);
    expect(x.deliver(1, 1, 64)).toBe(0);
    expect(b.rx.reap()).toEqual([]);
    expect(x.queueIrqs(1, 0) + x.queueIrqs(0, 1)).toBe(0);
  });
});

test("DRIVER_OK without FEATURES_OK (refused features) uses nothing either", () => {
  const a = new GuestNic(x, 0);
  a.init([F_MAC], 256, false); // no VERSION_1: FEATURES_OK does not stick
  expect(x.status(0) & S.FEATURES_OK).toBe(0);
  x.writeStatus(0, S.ACK | S.DRIVER | S.DRIVER_OK);
  a.send([frame(MAC_B, MAC_A, 64)]);
  expect(x.pumpTx(0, 0n)).toBe(0);
  expect(a.tx.reap()).toEqual([]);
});

describe("NetPort: a bounded main-loop turn", () => {
  test("100 frames a -> b with at most 2 batches per turn: turns until idle, kicks suppressed while busy", () => {
    const a = new GuestNic(x, 0), b = new GuestNic(x, 1);
    a.init(ALL);
    b.init(ALL);
    b.postRx(0, 200);
    a.send(Array.from({ length: 100 }, (_, i) => frame(MAC_B, MAC_A, 64, i)));
    x.kick(0, 1);
    const turns: boolean[] = [];
    for (let t = 0; t < 10; t++) {
      turns.push(x.service(0, 0n, 2));
      turns.push(x.service(1, 0n, 2));
    }
    expect(x.kicked(0)).toBe(0);
    expect(counter(0, C.txPackets)).toBe(100);
    expect(counter(1, C.rxPackets)).toBe(100);
    expect(b.received().length).toBe(100);
    // a: 64 frames (bound hit: true), b: those 64 (queue drained: false), a: the last 36, b: those 36.
    expect(turns.slice(0, 4)).toEqual([true, false, false, false]);
    expect(turns.slice(4).every((t) => !t)).toBe(true);
    expect(a.tx.availEvent()).toBe(100); // kicks asked for again once idle
  });
  test("frames left in the switch for a guest keep its NIC ready", () => {
    const a = new GuestNic(x, 0), b = new GuestNic(x, 1);
    a.init(ALL);
    b.init(ALL);
    b.postRx(0, 200);
    a.send(Array.from({ length: 64 }, (_, i) => frame(MAC_B, MAC_A, 64, i)));
    expect(x.service(0, 0n, 2)).toBe(true); // 64 frames: bound of 2 batches hit
    expect(x.service(0, 0n, 2)).toBe(false);
    expect(x.service(1, 0n, 1)).toBe(true); // one batch out of 64 queued: 32 left in the switch
    expect(x.service(1, 0n, 1)).toBe(false);
    expect(b.received().length).toBe(64);
  });
});

test("RX refills need no kick: VIRTQ_USED_F_NO_NOTIFY on the RX ring without EVENT_IDX, avail_event left at 0 with it", () => {
  const a = new GuestNic(x, 0), b = new GuestNic(x, 1);
  a.init(ALL.filter((f) => f !== F_EVENT_IDX));
  b.init(ALL);
  expect(a.ram.u16(a.rx.used)).toBe(1);
  expect(a.ram.u16(a.tx.used)).toBe(0); // TX kicks are wanted
  expect(b.ram.u16(b.rx.used)).toBe(0);
  expect(b.rx.availEvent()).toBe(0);
});

describe("EVENT_IDX", () => {
  test("interrupts only when used_event is crossed; kicks suppressed while polling", () => {
    const a = new GuestNic(x, 0), b = new GuestNic(x, 1);
    a.init(ALL);
    b.init(ALL);
    b.postRx(0, 100);
    b.rx.usedEvent(40); // interrupt me at the 41st frame
    a.send(Array.from({ length: 64 }, (_, i) => frame(MAC_B, MAC_A, 64, i)));
    x.pollTx(0);
    while (x.pumpTx(0, 0n) > 0);
    expect(x.idleTx(0)).toBe(false);
    expect(a.tx.availEvent()).toBe(64); // kick me when you post past 64
    while (x.pumpRx(1, 0n) > 0);
    expect(x.queueIrqs(1, 0)).toBe(1); // 2 batches of 32, one crosses 40
    a.send([frame(MAC_B, MAC_A, 64)]);
    expect(x.idleTx(0)).toBe(true); // arrived while idle: poll again
  });
});

describe("a broken ring", () => {
  test("NEEDS_RESET, one [net] line naming the VM and fault, a config interrupt; the other VM goes on; reset recovers", () => {
    const a = new GuestNic(x, 0), b = new GuestNic(x, 1);
    a.init(ALL);
    b.init(ALL);
    b.postRx(0, 64);
    a.ram.desc(a.tx.desc, 0, RAM - 8, 64, 0, 0); // past the end of a's RAM
    a.tx.offer(0);
    a.tx.publish();
    expect(x.pumpTx(0, 0n)).toBe(0);
    expect(x.status(0) & S.NEEDS_RESET).toBe(S.NEEDS_RESET);
    expect(x.logLines()).toBe("[net] a: tx queue: buffer outside memory; device needs reset");
    expect(x.configIrqs(0)).toBe(1);
    expect(x.pumpTx(0, 0n)).toBe(0);
    expect(x.logLines().split("\n").length).toBe(1); // once
    // The other VM is unaffected.
    const f = frame(MAC_B, MAC_A, 64);
    new Uint8Array(x.memory.buffer, x.framePtr(), f.length).set(f);
    expect(x.deliver(1, 1, 64)).toBe(1);
    // The driver resets and starts over.
    a.init(ALL);
    expect(x.status(0) & S.NEEDS_RESET).toBe(0);
    a.send([frame(MAC_B, MAC_A, 64)]);
    expect(x.pumpTx(0, 0n)).toBe(1);
    expect(x.memFault(0)).toBe(false);
  });
  test("a guest breaking its ring in a loop: 16 lines, the last saying so, then only counted", () => {
    const a = new GuestNic(x, 0);
    for (let i = 0; i < 40; i++) {
      a.init(ALL);
      a.tx.offer(300); // head index out of range
      a.tx.publish();
      expect(x.pumpTx(0, 0n)).toBe(0);
      expect(x.status(0) & S.NEEDS_RESET).toBe(S.NEEDS_RESET);
    }
    const lines = x.logLines().split("\n");
    expect(lines.length).toBe(16);
    expect(lines[0]).toBe("[net] a: tx queue: head index out of range; device needs reset");
    expect(lines[15]).toBe("[net] a: tx queue: head index out of range; device needs reset (further faults counted, not logged)");
    expect(Number(x.faultCount(0))).toBe(40);
  });
  test("a bad ring at queue_enable is a fault too", () => {
    const a = new GuestNic(x, 0);
    a.init(ALL, 256, false);
    expect(x.enableQueue(0, 0, 256, BigInt(RAM - 16), 0n, 0n)).toBe(2);
    expect(x.status(0) & S.NEEDS_RESET).toBe(S.NEEDS_RESET);
    expect(x.logLines()).toContain("[net] a: rx queue: ring outside memory");
  });
  test("a broken RX ring drops the batch, counted", () => {
    const b = new GuestNic(x, 1);
    b.init(ALL);
    b.rx.offer(999);
    b.rx.publish();
    const f = frame(MAC_B, MAC_A, 64);
    new Uint8Array(x.memory.buffer, x.framePtr(), f.length).set(f);
    expect(x.deliver(1, 3, 64)).toBe(0);
    expect(x.fault(1)).toBe(6); // FAULT_HEAD_INDEX
    expect(counter(1, C.rxNoBuffer)).toBe(3);
    expect(x.poolAvailable()).toBe(512);
  });
});
