// The device side of the split ring: chains (direct and indirect), every validation fault, used ring, EVENT_IDX and flags.
import { beforeAll, beforeEach, describe, expect, test } from "vitest";
import { Exports, Guest, loadVirtio } from "./harness";

let x: Exports;
let g: Guest;
export const F = {
  NONE: 0, QUEUE_SIZE: 1, RING_OUTSIDE: 2, RING_ALIGN: 3, NOT_READY: 4, AVAIL_IDX: 5, HEAD_INDEX: 6, NEXT_INDEX: 7,
  CHAIN_LOOP: 8, CHAIN_TOO_LONG: 9, ZERO_LENGTH: 10, BUFFER_OUTSIDE: 11, WRITE_ORDER: 12, LENGTH_OVERFLOW: 13,
  INDIRECT_FEATURE: 14, INDIRECT_LEN: 15, INDIRECT_OUTSIDE: 16, INDIRECT_NESTED: 17, INDIRECT_NEXT: 18,
};
const NEXT = 1, WRITE = 2, INDIRECT = 4;
const MEM = 1 << 20;
const SIZE = 16;
const DESC = 0x1000, AVAIL = 0x2000, USED = 0x3000;

beforeAll(async () => {
  x = (await loadVirtio()).x;
  g = new Guest(x);
});
beforeEach(() => {
  x.reset(MEM, 256, 8);
  expect(x.devSetup(SIZE, BigInt(DESC), BigInt(AVAIL), BigInt(USED), false, true)).toBe(F.NONE);
});

/** Chains of up to 64 segments, more than the queue size: loops show as loops. */
function roomy(): void {
  x.reset(MEM, 256, 64);
  expect(x.devSetup(SIZE, BigInt(DESC), BigInt(AVAIL), BigInt(USED), false, true)).toBe(F.NONE);
}

let availIdx = 0;
/** Puts heads in the avail ring and publishes the idx. */
function offer(...heads: number[]): void {
  availIdx = g.u16(AVAIL + 2);
  for (const h of heads) {
    g.u16(AVAIL + 4 + 2 * (availIdx % SIZE), h);
    availIdx = (availIdx + 1) & 0xffff;
  }
  g.u16(AVAIL + 2, availIdx);
}
function popped(): { head: number; segs: [number, number][]; r: number; w: number } {
  expect(x.devPop()).toBe(true);
  const segs: [number, number][] = [];
  const n = x.chainReadable() + x.chainWritable();
  for (let i = 0; i < n; i++) segs.push([Number(x.chainAddr(i)), x.chainLen(i)]);
  return { head: x.chainHead(), segs, r: x.chainReadable(), w: x.chainWritable() };
}
function faultOf(): number {
  expect(x.devPop()).toBe(false);
  expect(x.memFault()).toBe(false); // every access was checked first
  return x.devFault();
}

describe("setup", () => {
  test("sizes, alignment and bounds of the three parts", () => {
    const s = (size: number, d: number | bigint, a: number | bigint, u: number | bigint) =>
      x.devSetup(size, BigInt(d), BigInt(a), BigInt(u), false, false);
    expect(s(0, DESC, AVAIL, USED)).toBe(F.QUEUE_SIZE);
    expect(s(24, DESC, AVAIL, USED)).toBe(F.QUEUE_SIZE);
    expect(s(512, DESC, AVAIL, USED)).toBe(F.QUEUE_SIZE); // above the device's maximum (256)
    expect(s(16, DESC + 8, AVAIL, USED)).toBe(F.RING_ALIGN);
    expect(s(16, DESC, AVAIL + 1, USED)).toBe(F.RING_ALIGN);
    expect(s(16, DESC, AVAIL, USED + 2)).toBe(F.RING_ALIGN);
    expect(s(16, MEM - 128, AVAIL, USED)).toBe(F.RING_OUTSIDE); // 256 bytes of descriptors do not fit
    expect(s(16, DESC, MEM - 36, USED)).toBe(F.RING_OUTSIDE); // 38 bytes with used_event
    expect(s(16, DESC, AVAIL, MEM - 132)).toBe(F.RING_OUTSIDE); // 134 bytes with avail_event
    expect(s(16, DESC, AVAIL, 0xffff_ffff_ffff_fffcn)).toBe(F.RING_OUTSIDE);
    expect(s(16, DESC, MEM - 38, MEM - 136)).toBe(F.NONE); // exactly at the end
    expect(s(1, 0, 0, 0)).toBe(F.NONE); // overlapping parts are the guest's problem, not a safety one
    expect(x.memFault()).toBe(false);
  });
  test("an unset queue pops nothing and writes nothing", () => {
    x.devReset();
    expect(x.devPop()).toBe(false);
    x.devPush(0, 1);
    x.devPublish();
    expect(x.devNeedsInterrupt()).toBe(false);
    expect(g.u16(USED + 2)).toBe(0);
  });
});

describe("chains", () => {
  test("direct chain: readable then writable segments, lengths summed", () => {
    g.desc(DESC, 3, 0x10000, 12, NEXT, 7);
    g.desc(DESC, 7, 0x11000, 1000, NEXT, 1);
    g.desc(DESC, 1, 0x12000, 2048, WRITE, 0);
    offer(3);
    expect(x.devPending()).toBe(1);
    const c = popped();
    expect(c).toEqual({ head: 3, segs: [[0x10000, 12], [0x11000, 1000], [0x12000, 2048]], r: 2, w: 1 });
    expect(Number(x.chainReadBytes())).toBe(1012);
    expect(Number(x.chainWriteBytes())).toBe(2048);
    expect(x.devPop()).toBe(false);
    expect(x.devFault()).toBe(F.NONE);
  });
  test("indirect table: the head descriptor points at it; write flag of the indirect descriptor ignored", () => {
    const T = 0x20000;
    g.desc(T, 0, 0x10000, 12, NEXT, 2);
    g.desc(T, 2, 0x11000, 60, NEXT, 1);
    g.desc(T, 1, 0x12000, 100, WRITE, 0);
    g.desc(DESC, 5, T, 48, INDIRECT | WRITE, 0);
    offer(5);
    expect(popped()).toEqual({ head: 5, segs: [[0x10000, 12], [0x11000, 60], [0x12000, 100]], r: 2, w: 1 });
  });
  test("an indirect descriptor ending a direct chain", () => {
    const T = 0x20000;
    g.desc(T, 0, 0x12000, 100, WRITE, 0);
    g.desc(DESC, 0, 0x10000, 12, NEXT, 1);
    g.desc(DESC, 1, T, 16, INDIRECT, 0);
    offer(0);
    expect(popped()).toEqual({ head: 0, segs: [[0x10000, 12], [0x12000, 100]], r: 1, w: 1 });
  });
  test("a chain as long as the queue is fine; one descriptor more is a loop", () => {
    for (let i = 0; i < SIZE; i++) g.desc(DESC, i, 0x10000 + i, 1, i + 1 < SIZE ? NEXT : 0, i + 1);
    x.reset(MEM, 256, SIZE);
    x.devSetup(SIZE, BigInt(DESC), BigInt(AVAIL), BigInt(USED), false, true);
    for (let i = 0; i < SIZE; i++) g.desc(DESC, i, 0x10000 + i, 1, i + 1 < SIZE ? NEXT : 0, i + 1);
    offer(0);
    expect(popped().segs.length).toBe(SIZE);
    g.desc(DESC, SIZE - 1, 0x10000, 1, NEXT, 0); // back to the start
    offer(0);
    expect(faultOf()).toBe(F.CHAIN_LOOP);
  });
  test("wrapped 16-bit indexes: avail idx and used idx cross 65535", async () => {
    // Both sides start at 0 after a reset, so walk 65,540 chains through a ring of 16.
    g.desc(DESC, 0, 0x10000, 64, WRITE, 0);
    for (let n = 0; n < 65540; n++) {
      if (n % 10000 === 9999) await new Promise((r) => setImmediate(r)); // let vitest's worker answer its RPC
      offer(0);
      const c = popped();
      expect(c.head).toBe(0);
      x.devPush(0, 64);
      x.devPublish();
    }
    expect(g.u16(USED + 2)).toBe(65540 & 0xffff);
    expect(x.devLastAvail()).toBe(65540 & 0xffff);
    expect(x.devFault()).toBe(F.NONE);
  }, 60_000);
});

describe("every broken ring is a fault, never an access outside memory", () => {
  const cases: [string, () => void, number][] = [
    ["avail idx more than the queue size ahead", () => g.u16(AVAIL + 2, SIZE + 1), F.AVAIL_IDX],
    ["avail idx behind (wrapped backwards)", () => g.u16(AVAIL + 2, 0xffff), F.AVAIL_IDX],
    ["head index out of range", () => offer(SIZE), F.HEAD_INDEX],
    ["next index out of range", () => { g.desc(DESC, 0, 0x10000, 8, NEXT, SIZE); offer(0); }, F.NEXT_INDEX],
    ["self loop", () => { roomy(); g.desc(DESC, 2, 0x10000, 8, NEXT, 2); offer(2); }, F.CHAIN_LOOP],
    ["two-descriptor loop", () => { roomy(); g.desc(DESC, 0, 0x10000, 8, NEXT, 1); g.desc(DESC, 1, 0x10000, 8, NEXT, 0); offer(0); }, F.CHAIN_LOOP],
    ["a loop meets the segment limit first when the chain holds fewer segments than the queue", () => {
      g.desc(DESC, 2, 0x10000, 8, NEXT, 2); offer(2);
    }, F.CHAIN_TOO_LONG],
    ["a loop of writable descriptors back to a readable head", () => {
      roomy(); g.desc(DESC, 0, 0x10000, 8, NEXT, 1); g.desc(DESC, 1, 0x10000, 8, NEXT | WRITE, 0); offer(0);
    }, F.WRITE_ORDER],
    ["more segments than the device takes (8)", () => {
      for (let i = 0; i < 9; i++) g.desc(DESC, i, 0x10000, 8, i < 8 ? NEXT : 0, i + 1);
      offer(0);
    }, F.CHAIN_TOO_LONG],
    ["zero-length buffer", () => { g.desc(DESC, 0, 0x10000, 0, 0, 0); offer(0); }, F.ZERO_LENGTH],
    ["buffer past the end", () => { g.desc(DESC, 0, MEM - 10, 11, 0, 0); offer(0); }, F.BUFFER_OUTSIDE],
    ["buffer address wrapping 2^64", () => { g.desc(DESC, 0, 0xffff_ffff_ffff_fff0n, 0x20, 0, 0); offer(0); }, F.BUFFER_OUTSIDE],
    ["huge length", () => { g.desc(DESC, 0, 0x10000, 0xffffffff, WRITE, 0); offer(0); }, F.BUFFER_OUTSIDE],
    ["readable after writable", () => { g.desc(DESC, 0, 0x10000, 8, NEXT | WRITE, 1); g.desc(DESC, 1, 0x10000, 8, 0, 0); offer(0); }, F.WRITE_ORDER],
    ["indirect table length not a multiple of 16", () => { g.desc(DESC, 0, 0x20000, 24, INDIRECT, 0); offer(0); }, F.INDIRECT_LEN],
    ["indirect table of zero length", () => { g.desc(DESC, 0, 0x20000, 0, INDIRECT, 0); offer(0); }, F.INDIRECT_LEN],
    ["indirect table longer than the queue", () => { g.desc(DESC, 0, 0x20000, 16 * (SIZE + 1), INDIRECT, 0); offer(0); }, F.INDIRECT_LEN],
    ["indirect table outside memory", () => { g.desc(DESC, 0, MEM - 16, 32, INDIRECT, 0); offer(0); }, F.INDIRECT_OUTSIDE],
    ["nested indirect", () => { g.desc(0x20000, 0, 0x30000, 16, INDIRECT, 0); g.desc(DESC, 0, 0x20000, 16, INDIRECT, 0); offer(0); }, F.INDIRECT_NESTED],
    ["indirect with NEXT", () => { g.desc(DESC, 0, 0x20000, 16, INDIRECT | NEXT, 1); offer(0); }, F.INDIRECT_NEXT],
    ["loop inside an indirect table", () => {
      g.desc(0x20000, 0, 0x10000, 8, NEXT, 1);
      g.desc(0x20000, 1, 0x10000, 8, NEXT, 0);
      g.desc(DESC, 0, 0x20000, 32, INDIRECT, 0);
      offer(0);
    }, F.CHAIN_LOOP],
    ["next beyond the indirect table", () => { g.desc(0x20000, 0, 0x10000, 8, NEXT, 1); g.desc(DESC, 0, 0x20000, 16, INDIRECT, 0); offer(0); }, F.NEXT_INDEX],
    ["buffer in an indirect table outside memory", () => { g.desc(0x20000, 0, MEM, 1, 0, 0); g.desc(DESC, 0, 0x20000, 16, INDIRECT, 0); offer(0); }, F.BUFFER_OUTSIDE],
  ];
  for (const [name, setup, fault] of cases) {
    test(name, () => {
      setup();
      expect(faultOf()).toBe(fault);
      // The queue stays broken: nothing more is popped or written.
      x.devPush(0, 1);
      x.devPublish();
      expect(g.u16(USED + 2)).toBe(0);
      expect(x.devPop()).toBe(false);
    });
  }
  test("indirect descriptors without the feature", () => {
    x.devSetup(SIZE, BigInt(DESC), BigInt(AVAIL), BigInt(USED), false, false);
    g.desc(DESC, 0, 0x20000, 16, INDIRECT, 0);
    offer(0);
    expect(faultOf()).toBe(F.INDIRECT_FEATURE);
  });
  test("lengths adding up past 4 GiB", () => {
    // 64 segments of the whole 64 MiB guest (overlapping buffers are allowed): 2^32 bytes in all.
    x.reset(64 << 20, 256, 64);
    expect(x.devSetup(64, BigInt(DESC), BigInt(AVAIL), BigInt(USED), false, false)).toBe(F.NONE);
    for (let i = 0; i < 64; i++) g.desc(DESC, i, 0, 64 << 20, WRITE | (i < 63 ? NEXT : 0), i + 1);
    g.u16(AVAIL + 4, 0);
    g.u16(AVAIL + 2, 1);
    expect(faultOf()).toBe(F.LENGTH_OVERFLOW);
    // One segment fewer is a valid chain of 4 GiB - 64 MiB.
    x.devSetup(64, BigInt(DESC), BigInt(AVAIL), BigInt(USED), false, false);
    g.desc(DESC, 62, 0, 64 << 20, WRITE, 0);
    expect(x.devPop()).toBe(true);
    expect(Number(x.chainWriteBytes())).toBe(2 ** 32 - 2 ** 26);
    x.reset(MEM, 256, 8);
  });
});

describe("used ring and interrupts", () => {
  test("pushes are batched: one used idx store per publish", () => {
    g.desc(DESC, 0, 0x10000, 64, WRITE, 0);
    g.desc(DESC, 1, 0x11000, 64, WRITE, 0);
    offer(0, 1);
    popped();
    popped();
    x.devPush(1, 10);
    x.devPush(0, 20);
    expect(g.u16(USED + 2)).toBe(0);
    x.devPublish();
    expect(g.u16(USED + 2)).toBe(2);
    expect([g.u32(USED + 4), g.u32(USED + 8), g.u32(USED + 12), g.u32(USED + 16)]).toEqual([1, 10, 0, 20]);
  });
  test("without EVENT_IDX: an interrupt per batch unless VIRTQ_AVAIL_F_NO_INTERRUPT", () => {
    g.desc(DESC, 0, 0x10000, 64, WRITE, 0);
    offer(0, 0, 0);
    popped(); x.devPush(0, 1); x.devPublish();
    expect(x.devNeedsInterrupt()).toBe(true);
    expect(x.devNeedsInterrupt()).toBe(false); // nothing new
    g.u16(AVAIL, 1);
    popped(); x.devPush(0, 1); x.devPublish();
    expect(x.devNeedsInterrupt()).toBe(false);
    g.u16(AVAIL, 0);
    popped(); x.devPush(0, 1); x.devPublish();
    expect(x.devNeedsInterrupt()).toBe(true);
  });
  test("with EVENT_IDX: an interrupt only when the used idx crosses used_event", () => {
    x.devSetup(SIZE, BigInt(DESC), BigInt(AVAIL), BigInt(USED), true, false);
    g.desc(DESC, 0, 0x10000, 64, WRITE, 0);
    const usedEvent = AVAIL + 4 + 2 * SIZE;
    g.u16(usedEvent, 2); // interrupt when entry 2 is used
    offer(0, 0, 0, 0, 0, 0);
    const one = () => { popped(); x.devPush(0, 1); x.devPublish(); return x.devNeedsInterrupt(); };
    expect(one()).toBe(false); // used 0..1
    expect(one()).toBe(false); // 1..2
    expect(one()).toBe(true); // 2..3 uses entry 2
    expect(one()).toBe(false); // used_event behind now
    // A batch of two that jumps over used_event still interrupts once.
    g.u16(usedEvent, 4);
    popped(); x.devPush(0, 1); popped(); x.devPush(0, 1);
    x.devPublish();
    expect(x.devNeedsInterrupt()).toBe(true);
  });
  test("kick suppression: USED_F_NO_NOTIFY without EVENT_IDX, avail_event with it; enable reports pending work", () => {
    x.devDisableNotify();
    expect(g.u16(USED)).toBe(1);
    expect(x.devEnableNotify()).toBe(false);
    expect(g.u16(USED)).toBe(0);
    x.devSetup(SIZE, BigInt(DESC), BigInt(AVAIL), BigInt(USED), true, false);
    g.desc(DESC, 0, 0x10000, 64, WRITE, 0);
    offer(0, 0);
    x.devDisableNotify();
    expect(g.u16(USED)).toBe(0); // no flag with EVENT_IDX
    popped();
    expect(x.devEnableNotify()).toBe(true); // one still pending
    expect(g.u16(USED + 4 + 8 * SIZE)).toBe(2); // avail_event = the avail idx seen
    popped();
    expect(x.devEnableNotify()).toBe(false);
  });
});
