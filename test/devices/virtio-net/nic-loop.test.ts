// The main loop's NIC turn (src/devices/virtio-net/nic-loop.ts): only NICs with work are serviced (kicked,
// made ready by the switch, or with work left), the receiver is serviced in the sender's turn, a flooding
// sender is polled without kicks (EVENT_IDX) until its ring drains, and nothing is lost when a NIC leaves.
import { beforeAll, beforeEach, describe, expect, test } from "vitest";
import { Exports } from "../../virtio/harness";
import { F_EVENT_IDX, F_MAC, F_STATUS, F_VERSION_1, GuestNic, MAC_A, MAC_B, RAM, frame, loadNet } from "./guest";

let x: Exports;
const FEATURES = [F_VERSION_1, F_MAC, F_STATUS, F_EVENT_IDX];
const TX_DROPPED = 5;

beforeAll(async () => {
  x = (await loadNet()).x;
});
beforeEach(() => x.reset(RAM, 1024));

function frames(n: number, len = 60): Uint8Array[] {
  return Array.from({ length: n }, (_, k) => frame(MAC_B, MAC_A, len, k));
}
const turns = (vm: number) => Number(x.serviceTurns(vm));

describe("NIC loop", () => {
  test("idle NICs are not serviced; a kick services the sender, and the receiver in the same turn", () => {
    const a = new GuestNic(x, 0), b = new GuestNic(x, 1);
    a.init(FEATURES);
    b.init(FEATURES);
    b.postRx(0, 64);
    for (let i = 0; i < 3; i++) expect(x.loopTurn(0n)).toBe(0);
    a.send(frames(4));
    x.kick(0, 1);
    expect(x.loopTurn(0n)).toBe(2); // a (kicked), then b (its port made ready by a's frames)
    expect(turns(0)).toBe(1);
    expect(turns(1)).toBe(1);
    expect(b.received().length).toBe(4);
    expect(x.loopTurn(0n)).toBe(0); // both ended idle
    // a frame queued without a kick is not looked at: the guest must kick (and with EVENT_IDX it will)
    a.send(frames(1));
    expect(x.loopTurn(0n)).toBe(0);
    expect(a.tx.availEvent()).toBe(4); // avail_event = the last avail idx the device read: idx 5 crosses it, so the guest kicks
    x.kick(0, 1);
    expect(x.loopTurn(0n)).toBe(2);
    expect(b.received().length).toBe(1);
  });

  test("a flood: the sender stays listed and is polled without kicks; the receiver's queue never overflows", () => {
    const a = new GuestNic(x, 0), b = new GuestNic(x, 1);
    a.init(FEATURES);
    b.init(FEATURES);
    b.postRx(0, 256);
    a.send(frames(200));
    x.kick(0, 1);
    let got = 0;
    let n = 0;
    for (; n < 10 && got < 200; n++) {
      x.loopTurn(BigInt(n));
      got += b.received().length;
      if (n === 0) expect(a.tx.availEvent()).toBe(0); // while polling, avail_event stays behind: no kicks asked for
    }
    expect(got).toBe(200);
    expect(n).toBe(4); // 64 frames per turn (2 batches): 64, 64, 64, 8
    expect(turns(0)).toBe(4); // kicked once, then kept listed by work left
    expect(Number(x.portStat(1, TX_DROPPED))).toBe(0); // 64 frames a turn fit b's egress queue until b's turn
    expect(x.loopTurn(9n)).toBe(0);
    expect(Number(x.dpFrames())).toBe(400); // each frame crossed two NICs
  });

  test("frames for a receiver without RX buffers are its tx_dropped and do not hold up the sender", () => {
    const a = new GuestNic(x, 0), b = new GuestNic(x, 1);
    a.init(FEATURES);
    b.init(FEATURES);
    b.postRx(0, 10);
    a.send(frames(50));
    x.kick(0, 1);
    for (let i = 0; i < 4; i++) x.loopTurn(BigInt(i));
    expect(b.received().length).toBe(10);
    expect(Number(x.portStat(1, TX_DROPPED))).toBe(40);
    expect(a.tx.reap().length).toBe(50); // every TX chain completed
    expect(x.loopTurn(5n)).toBe(0);
  });
});
