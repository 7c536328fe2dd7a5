// No allocation on the per-frame path: the device and the switch run 2,048 frames on a bump allocator that never frees, and its top does not move.
import { beforeAll, expect, test } from "vitest";
import { Exports, NET_SOURCES, load } from "../../virtio/harness";
import { F_EVENT_IDX, F_INDIRECT, F_MAC, F_STATUS, F_VERSION_1, GuestNic, RAM } from "./guest";

let x: Exports;
beforeAll(async () => {
  x = (await load("virtio-net-stub", "test/devices/virtio-net/entry.ts", NET_SOURCES,
    ["--runtime", "stub"])).x;
});

test("transmit, the switch and receive allocate nothing per frame", () => {
  x.reset(RAM, 512);
  const a = new GuestNic(x, 0), b = new GuestNic(x, 1);
  const all = [F_VERSION_1, F_MAC, F_STATUS, F_EVENT_IDX, F_INDIRECT];
  a.init(all);
  b.init(all);
  const frame = (i: number) => {
    const f = new Uint8Array(64 + (i % 1400));
    f.set([0x02, 0x74, 0x76, 0, 0, 2, 0x02, 0x74, 0x76, 0, 0, 1, 8, 0], 0);
    return f;
  };
  const round = (r: number) => {
    b.postRx(r * 32, 32);
    a.send(Array.from({ length: 32 }, (_, i) => frame(r * 32 + i)), r % 2 ? 20 : 0);
    expect(x.pumpTx(0, 0n)).toBe(32);
    expect(x.pumpRx(1, 0n)).toBe(32);
    expect(b.received().length).toBe(32);
    a.tx.reap();
  };
  round(0); // the first frames teach the switch's FDB (its table is preallocated, but warm up anyway)
  const before = x.heapTop();
  for (let r = 1; r <= 64; r++) round(r);
  const after = x.heapTop();
  // One probe buffer (a header, aligned) lies between the two tops; any per-frame allocation would add 2,048 more.
  expect(after - before).toBeGreaterThan(0);
  expect(after - before).toBeLessThanOrEqual(32);
  expect(x.memFault(0) || x.memFault(1)).toBe(false);
});

test("the main loop's NIC turn (ready set, kicks, both NICs) allocates nothing per turn or frame", () => {
  x.reset(RAM, 512);
  const a = new GuestNic(x, 0), b = new GuestNic(x, 1);
  const all = [F_VERSION_1, F_MAC, F_STATUS, F_EVENT_IDX];
  a.init(all);
  b.init(all);
  const frame = new Uint8Array(100);
  frame.set([0x02, 0x74, 0x76, 0, 0, 2, 0x02, 0x74, 0x76, 0, 0, 1, 8, 0], 0);
  const round = (r: number) => {
    b.postRx(r * 32, 32);
    a.send(Array.from({ length: 32 }, () => frame));
    x.kick(0, 1);
    expect(x.loopTurn(BigInt(r))).toBe(2);
    expect(b.received().length).toBe(32);
    a.tx.reap();
    expect(x.loopTurn(BigInt(r))).toBe(0);
  };
  round(0);
  const before = x.heapTop();
  for (let r = 1; r <= 64; r++) round(r);
  const after = x.heapTop();
  expect(after - before).toBeGreaterThan(0);
  expect(after - before).toBeLessThanOrEqual(32);
});
