// The driver side of the split ring: layout, posting, publishing with EVENT_IDX, reaping, and a misbehaving device.
import { beforeAll, beforeEach, describe, expect, test } from "vitest";
import { Exports, Guest, loadVirtio } from "./harness";

let x: Exports;
let g: Guest;
const F = { NONE: 0, QUEUE_SIZE: 1, RING_OUTSIDE: 2, RING_ALIGN: 3, USED_IDX: 19, USED_ID: 20, USED_LEN: 21 };

beforeAll(async () => {
  x = (await loadVirtio()).x;
  g = new Guest(x);
});
beforeEach(() => x.reset(1 << 20, 256, 16));

function post(segs: [number, number, boolean][], token: number): number {
  x.drvSegClear();
  for (const [a, l, w] of segs) expect(x.drvSeg(BigInt(a), l, w)).toBe(true);
  return x.drvAdd(token);
}

/** Plays the device: writes used element `slot` and the used idx. */
function devUse(slot: number, id: number, len: number, idx: number): void {
  const used = Number(x.drvUsed());
  const size = (Number(x.drvAvail()) - Number(x.drvDesc())) / 16;
  g.u32(used + 4 + 8 * (slot % size), id);
  g.u32(used + 8 + 8 * (slot % size), len);
  g.u16(used + 2, idx);
}

describe("layout", () => {
  test("modern layout: desc, avail right after, used 4-aligned; legacy: used on 4096", () => {
    expect(x.drvLayout(0x1000n, 256, 4n, 0n, false)).toBe(F.NONE);
    expect(Number(x.drvDesc())).toBe(0x1000);
    expect(Number(x.drvAvail())).toBe(0x1000 + 4096);
    expect(Number(x.drvUsed())).toBe(0x1000 + 4096 + 6 + 512 + 2); // 4-aligned
    expect(x.drvLayout(0x10000n, 256, 4096n, 0n, false)).toBe(F.NONE);
    expect(Number(x.drvUsed())).toBe(0x10000 + 0x2000);
    expect(x.drvNumFree()).toBe(256);
  });
  test("bad sizes, alignment and windows are faults", () => {
    expect(x.drvLayout(0x1000n, 100, 4n, 0n, false)).toBe(F.QUEUE_SIZE);
    expect(x.drvLayout(0x1000n, 512, 4n, 0n, false)).toBe(F.QUEUE_SIZE); // above this queue's maximum
    expect(x.drvLayout(0x1008n, 64, 4n, 0n, false)).toBe(F.RING_ALIGN);
    expect(x.drvLayout(BigInt((1 << 20) - 4096), 256, 4n, 0n, false)).toBe(F.RING_OUTSIDE);
    expect(x.drvLayout(0xffff_ffff_ffff_f000n, 16, 4n, 0n, false)).toBe(F.RING_OUTSIDE); // no wrap-around
  });
});

describe("posting and reaping", () => {
  test("a chain's descriptors carry bus addresses, NEXT and WRITE; avail idx moves only on publish", () => {
    x.drvLayout(0x1000n, 16, 4n, 0x4000_0000n, false);
    const head = post([[0x8000, 12, false], [0x9000, 100, false], [0xa000, 1500, true]], 77);
    expect(head).toBe(0);
    const d = Number(x.drvDesc());
    expect(g.u64(d)).toBe(0x4000_8000n);
    expect(g.u16(d + 12)).toBe(1); // NEXT
    expect(g.u16(d + 14)).toBe(1);
    expect(g.u16(d + 16 + 12)).toBe(1);
    expect(g.u16(d + 32 + 12)).toBe(2); // WRITE, end
    expect(g.u32(d + 32 + 8)).toBe(1500);
    const av = Number(x.drvAvail());
    expect(g.u16(av + 4)).toBe(0);
    expect(g.u16(av + 2)).toBe(0);
    expect(x.drvPublish()).toBe(true); // no NO_NOTIFY: kick
    expect(g.u16(av + 2)).toBe(1);
    expect(x.drvNumFree()).toBe(13);
    devUse(0, 0, 1500, 1);
    expect(x.drvReap()).toBe(true);
    expect([x.drvId(), x.drvLen(), x.drvToken()]).toEqual([0, 1500, 77]);
    expect(x.drvNumFree()).toBe(16);
    expect(x.drvReap()).toBe(false);
  });
  test("full ring: -1 until reaped; the free list is reused across 70,000 chains (16-bit indexes wrap)", () => {
    x.drvLayout(0x1000n, 8, 4n, 0n, false);
    let used = 0;
    for (let round = 0; round < 70000; round++) {
      const h = post([[0x8000, 64, false], [0x9000, 64, true]], round);
      if (h === -1) {
        // Complete the oldest outstanding chain.
        const av = Number(x.drvAvail());
        const head = g.u16(av + 4 + 2 * (used % 8));
        devUse(used, head, 64, (used + 1) & 0xffff);
        used++;
        expect(x.drvReap()).toBe(true);
        expect(x.drvLen()).toBe(64);
        expect(x.drvFault()).toBe(0);
        expect(post([[0x8000, 64, false], [0x9000, 64, true]], round)).toBeGreaterThanOrEqual(0);
      }
      x.drvPublish();
    }
    expect(used).toBeGreaterThan(60000);
    expect(x.drvFault()).toBe(0);
  });
  test("buffers outside the window and empty chains are refused without a fault", () => {
    x.drvLayout(0x1000n, 8, 4n, 0n, false);
    expect(post([[(1 << 20) - 10, 64, false]], 1)).toBe(-2);
    x.drvSegClear();
    expect(x.drvAdd(1)).toBe(-2);
    expect(x.drvFault()).toBe(0);
  });
  test("outstanding tokens are listed for recovery", () => {
    x.drvLayout(0x1000n, 8, 4n, 0n, false);
    post([[0x8000, 64, true]], 5);
    post([[0x9000, 64, true]], 6);
    x.drvPublish();
    expect(x.drvOutstanding()).toBe(2);
    expect([x.drvOutstandingToken(0), x.drvOutstandingToken(1)].sort()).toEqual([5, 6]);
  });
});

describe("notification suppression", () => {
  test("without EVENT_IDX: kick unless the device set VIRTQ_USED_F_NO_NOTIFY; interrupts flag in avail", () => {
    x.drvLayout(0x1000n, 8, 4n, 0n, false);
    g.u16(Number(x.drvUsed()), 1);
    post([[0x8000, 64, true]], 1);
    expect(x.drvPublish()).toBe(false);
    g.u16(Number(x.drvUsed()), 0);
    post([[0x8000, 64, true]], 2);
    expect(x.drvPublish()).toBe(true);
    expect(x.drvPublish()).toBe(false); // nothing new
    x.drvDisableInterrupts();
    expect(g.u16(Number(x.drvAvail()))).toBe(1);
    expect(x.drvEnableInterrupts()).toBe(false);
    expect(g.u16(Number(x.drvAvail()))).toBe(0);
  });
  test("with EVENT_IDX: kick only when avail_event is crossed; used_event set on enable", () => {
    x.drvLayout(0x1000n, 8, 4n, 0n, true);
    const availEvent = Number(x.drvUsed()) + 4 + 8 * 8;
    g.u16(availEvent, 2); // kick me when entry 2 is posted
    post([[0x8000, 64, true]], 1);
    expect(x.drvPublish()).toBe(false); // 0 -> 1
    post([[0x8000, 64, true]], 2);
    expect(x.drvPublish()).toBe(false); // 1 -> 2
    post([[0x8000, 64, true]], 3);
    post([[0x8000, 64, true]], 4);
    expect(x.drvPublish()).toBe(true); // 2 -> 4 crosses 2
    devUse(0, 0, 10, 1);
    expect(x.drvReap()).toBe(true);
    expect(x.drvEnableInterrupts()).toBe(false);
    expect(g.u16(Number(x.drvAvail()) + 4 + 2 * 8)).toBe(1); // used_event = used entries seen
    devUse(1, 1, 10, 2);
    expect(x.drvEnableInterrupts()).toBe(true); // one is pending already
  });
});

describe("a misbehaving device", () => {
  test("used idx beyond what was posted", () => {
    x.drvLayout(0x1000n, 8, 4n, 0n, false);
    post([[0x8000, 64, true]], 1);
    x.drvPublish();
    post([[0x9000, 64, true]], 2); // added, not published
    post([[0xa000, 64, true]], 3);
    devUse(0, 0, 1, 2);
    expect(x.drvReap()).toBe(false);
    expect(x.drvFault()).toBe(F.USED_IDX);
    expect(x.drvReap()).toBe(false); // stays broken
  });
  test("an id never posted, one already reaped, one out of range, one added but unpublished", () => {
    for (const [id, prep] of [[5, 0], [0, 1], [9999, 0], [2, 2]] as [number, number][]) {
      x.drvLayout(0x1000n, 8, 4n, 0n, false);
      post([[0x8000, 64, true]], 1);
      post([[0x8000, 64, true]], 2);
      x.drvPublish();
      let slot = 0;
      if (prep === 1) {
        devUse(0, 0, 1, 1);
        expect(x.drvReap()).toBe(true);
        slot = 1;
      }
      if (prep === 2) post([[0x8000, 64, true]], 3);
      devUse(slot, id, 1, slot + 1);
      expect(x.drvReap()).toBe(false);
      expect(x.drvFault()).toBe(F.USED_ID);
    }
  });
  test("a used length larger than the writable bytes posted; equal is fine", () => {
    x.drvLayout(0x1000n, 8, 4n, 0n, false);
    post([[0x8000, 100, false], [0x9000, 64, true], [0xa000, 36, true]], 1);
    post([[0x8000, 100, false], [0x9000, 64, true]], 2);
    x.drvPublish();
    devUse(0, 0, 100, 1);
    expect(x.drvReap()).toBe(true);
    devUse(1, 3, 65, 2);
    expect(x.drvReap()).toBe(false);
    expect(x.drvFault()).toBe(F.USED_LEN);
    expect(x.memFault()).toBe(false);
  });
});

describe("both sides together", () => {
  test("the driver side posts, the device side pops and completes, 70,000 chains across the 16-bit wrap, EVENT_IDX on both", async () => {
    const size = 64;
    expect(x.drvLayout(0x1000n, size, 4n, 0n, true)).toBe(F.NONE);
    expect(x.devSetup(size, x.drvDesc(), x.drvAvail(), x.drvUsed(), true, false)).toBe(F.NONE);
    let s = 7;
    const rnd = (n: number) => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 8) % n;
    const posted = new Map<number, { read: number; write: number; segs: [number, number, boolean][] }>();
    let token = 0, completed = 0, kicks = 0, irqs = 0, popped = 0;
    x.devEnableNotify();
    x.drvEnableInterrupts();
    for (let turn = 1; completed < 70_000; turn++) {
      if (turn % 2000 === 0) await new Promise((r) => setImmediate(r)); // let vitest's worker answer its RPC
      // Post a few chains.
      for (let k = rnd(4); k > 0; k--) {
        const n = 1 + rnd(3), nr = rnd(n + 1);
        const segs: [number, number, boolean][] = [];
        x.drvSegClear();
        for (let i = 0; i < n; i++) {
          const seg: [number, number, boolean] = [0x40000 + rnd(0x10000), 1 + rnd(1500), i >= nr];
          segs.push(seg);
          x.drvSeg(BigInt(seg[0]), seg[1], seg[2]);
        }
        const h = x.drvAdd(token);
        if (h === -1) break;
        expect(h).toBeGreaterThanOrEqual(0);
        posted.set(token++, { read: nr, write: n - nr, segs });
      }
      if (x.drvPublish()) kicks++;
      // The device takes some and completes them.
      for (let k = rnd(6); k > 0; k--) {
        if (!x.devPop()) break;
        popped++;
        const head = x.chainHead();
        const wb = Number(x.chainWriteBytes());
        x.devPush(head, rnd(wb + 1));
      }
      x.devPublish();
      if (x.devNeedsInterrupt()) irqs++;
      x.devEnableNotify();
      // The driver reaps and checks each chain came back as posted.
      while (x.drvReap()) {
        const p = posted.get(x.drvToken())!;
        expect(p).toBeDefined();
        expect(x.drvLen()).toBeLessThanOrEqual(p.segs.filter((z) => z[2]).reduce((a, z) => a + z[1], 0));
        posted.delete(x.drvToken());
        completed++;
      }
      x.drvEnableInterrupts();
      expect(x.drvFault()).toBe(0);
      expect(x.devFault()).toBe(0);
    }
    expect(popped).toBeGreaterThan(65536); // both sides' indexes wrapped
    expect(x.devLastAvail()).toBe(popped & 0xffff);
    expect(x.drvInFlight()).toBe(posted.size); // every chain posted and not reaped is still in flight
    expect(kicks).toBeGreaterThan(0);
    expect(irqs).toBeGreaterThan(0);
    expect(x.memFault()).toBe(false);
  }, 120_000);
});

test("a full fence between publishing an index and reading the other side's event index or flags, on both sides", () => {
  expect(x.drvLayout(0x1000n, 8, 4n, 0n, true)).toBe(F.NONE);
  expect(x.devSetup(8, x.drvDesc(), x.drvAvail(), x.drvUsed(), true, false)).toBe(F.NONE);
  const f0 = x.fenceCount();
  post([[0x8000, 64, true]], 1);
  x.drvPublish(); // avail idx store, fence, avail_event load
  expect(x.fenceCount() - f0).toBe(1);
  expect(x.drvPublish()).toBe(false); // nothing new: no store, no fence
  expect(x.fenceCount() - f0).toBe(1);
  expect(x.devPop()).toBe(true);
  x.devPush(x.chainHead(), 10);
  x.devPublish();
  x.devNeedsInterrupt(); // used idx store, fence, used_event load
  expect(x.fenceCount() - f0).toBe(2);
  x.devEnableNotify(); // avail_event store, fence, avail idx load
  x.drvEnableInterrupts(); // used_event store, fence, used idx load
  expect(x.fenceCount() - f0).toBe(4);
});
