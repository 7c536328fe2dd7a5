// virtio-net uplink driver against a device played in Node: negotiation, frames both ways, and a misbehaving device reset and recovered.
import { beforeAll, describe, expect, it } from "vitest";
import { loadDrivers } from "./harness.ts";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
let d: any;
beforeAll(async () => {
  d = await loadDrivers();
});

const RX_PACKETS = 0, RX_DROPPED = 2, TX_PACKETS = 3, TX_DROPPED = 5, DROP_NO_BUFFER = 6 + 5, DROP_MALFORMED = 6 + 6;
const VERSION_1 = 1n << 32n, EVENT_IDX = 1n << 29n, MAC = 1n << 5n, STATUS = 1n << 16n;

function frame(dst: number[], src: number[], seq: number, len = 64): Uint8Array {
  const f = new Uint8Array(len);
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = 0x08;
  f[13] = 0x00;
  for (let i = 14; i < len; i++) f[i] = (seq * 7 + i) & 0xff;
  f[14] = seq & 0xff;
  f[15] = (seq >> 8) & 0xff;
  return f;
}
const BCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
const WIRE_HOST = [0x02, 0, 0, 0, 0, 0x10];
const VM_MAC = [0x02, 0, 0, 0, 0, 0x20];

function put(f: Uint8Array): void {
  new Uint8Array(d.memory.buffer, d.frameAddr(), f.length).set(f);
}
function got(n: number): Uint8Array {
  return new Uint8Array(d.memory.buffer, d.frameAddr(), n).slice();
}
/** The device receives f from the wire; false when no RX buffer was posted. */
function wireIn(f: Uint8Array): boolean {
  put(f);
  return d.devReceive(f.length);
}
function vmOut(now = 1n): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let n = d.vmReceive(now); n >= 0; n = d.vmReceive(now)) out.push(got(n));
  return out;
}
function wireOut(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let n = d.devTransmit(); n >= 0; n = d.devTransmit()) out.push(got(n));
  return out;
}
function start(modern: boolean, pool = 512): void {
  d.netReset(modern, 256, modern, pool);
  expect(d.netStart()).toBe(true);
}

describe.each([["modern", true], ["legacy", false]] as const)("%s device", (_name, modern) => {
  it("negotiates, reads the MAC and link, posts every RX buffer", () => {
    start(modern);
    expect(d.netRunning()).toBe(true);
    expect(d.netLink()).toBe(true);
    expect(d.netMac()).toBe(0x525400123456n);
    const f = d.netFeatures();
    expect(f & (MAC | STATUS | EVENT_IDX)).toBe(MAC | STATUS | EVENT_IDX);
    expect(f & VERSION_1).toBe(modern ? VERSION_1 : 0n);
    expect(f & 1n).toBe(0n); // offered but not wanted (CSUM)
    expect(d.devStatus()).toBe(modern ? 0x0f : 0x07);
    // legacy puts the header in its own descriptor: 128 two-descriptor chains in a 256 ring
    expect(d.devRxPending()).toBe(modern ? 256 : 128);
  });

  it("moves frames both ways through the switch, bytes intact, counters right", () => {
    start(modern);
    const sent: Uint8Array[] = [];
    for (let i = 0; i < 100; i++) {
      const f = frame(BCAST, WIRE_HOST, i, 60 + i * 13);
      sent.push(f);
      expect(wireIn(f)).toBe(true);
    }
    expect(d.netPoll(1n, 64)).toBe(64); // bounded work per call
    const atVm = vmOut(); // vm1's egress queue holds 64: drain it between polls
    expect(d.netPoll(1n, 64)).toBe(36);
    atVm.push(...vmOut());
    expect(atVm.length).toBe(100);
    for (let i = 0; i < 100; i++) expect(Buffer.from(atVm[i]).equals(Buffer.from(sent[i]))).toBe(true);
    expect(d.portStat("uplink0", RX_PACKETS)).toBe(100n);
    // the switch learned WIRE_HOST on uplink0: unicast from vm1 goes out there only
    const back: Uint8Array[] = [];
    for (let i = 0; i < 50; i++) {
      const f = frame(WIRE_HOST, VM_MAC, i, 1514);
      back.push(f);
      put(f);
      d.vmSend(f.length, 2n);
    }
    d.netPoll(2n, 64);
    const onWire = wireOut();
    expect(onWire.length).toBe(50);
    for (let i = 0; i < 50; i++) expect(Buffer.from(onWire[i]).equals(Buffer.from(back[i]))).toBe(true);
    expect(d.portStat("uplink0", TX_PACKETS)).toBe(50n);
  });

  it("keeps RX buffers posted and reclaims TX over many rounds", () => {
    start(modern);
    let inCount = 0, outCount = 0;
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < 60; i++) expect(wireIn(frame(BCAST, WIRE_HOST, round * 60 + i))).toBe(true);
      for (let i = 0; i < 60; i++) {
        put(frame(WIRE_HOST, VM_MAC, i));
        d.vmSend(64, 3n);
      }
      d.netPoll(3n, 256);
      inCount += vmOut(3n).length;
      outCount += wireOut().length;
    }
    expect(inCount).toBe(2400);
    expect(outCount).toBe(2400);
    expect(d.netResets()).toBe(0);
    expect(d.poolAvailable()).toBe(512); // no buffer leaked
  });
});

describe("misbehaving device", () => {
  function recovers(): void {
    expect(d.netRunning()).toBe(true);
    expect(d.netLink()).toBe(true);
    expect(wireIn(frame(BCAST, WIRE_HOST, 7))).toBe(true);
    d.netPoll(9n, 64);
    expect(vmOut(9n).length).toBe(1);
  }

  it("used idx beyond what was posted: one message, device reset, link back", () => {
    start(true);
    const before = d.devResets();
    d.devBadUsedIdx(0, 300);
    d.netPoll(5n, 64);
    expect(d.netResets()).toBe(1);
    expect(d.devResets()).toBeGreaterThan(before);
    expect(d.netMessage()).toBe("RX ring: used idx beyond what was posted: device reset, link up");
    expect(d.netMessage()).toBe(""); // said once
    recovers();
  });

  it("length larger than the buffer", () => {
    start(false);
    d.devBadUsed(0, 0xffffffff, 5000);
    d.netPoll(5n, 64);
    expect(d.netResets()).toBe(1);
    expect(d.netMessage()).toMatch(/^RX ring: used len larger than the buffer: device reset/);
    expect(d.portStat("uplink0", RX_PACKETS)).toBe(0n); // nothing of it reached the switch
    recovers();
  });

  it("id never posted (TX)", () => {
    start(true);
    put(frame(WIRE_HOST, VM_MAC, 1));
    d.vmSend(64, 4n);
    d.netPoll(4n, 64); // one TX chain in flight
    d.devBadUsed(1, 77, 0);
    d.netPoll(5n, 64);
    expect(d.netResets()).toBe(1);
    expect(d.netMessage()).toMatch(/^TX ring: used id not outstanding: device reset, link up$/);
    recovers();
    expect(d.poolAvailable()).toBe(512);
  });

  it("DEVICE_NEEDS_RESET is noticed within 64 polls", () => {
    start(true);
    d.devSetStatusBits(64);
    for (let i = 0; i < 64; i++) d.netPoll(6n, 8);
    expect(d.netResets()).toBe(1);
    expect(d.netMessage()).toMatch(/^device needs reset/);
    recovers();
  });

  it("a device that refuses to come back stays down, link down, and is retried after a backoff", () => {
    start(true);
    const offered = d.devOffered();
    d.devOffer(offered & ~VERSION_1); // a modern device must offer VERSION_1: negotiation fails
    d.devBadUsedIdx(0, 300);
    d.netPoll(5n, 64);
    expect(d.netResets()).toBe(1);
    expect(d.netMessage()).toMatch(/^RX ring: used idx beyond what was posted: device reset, restart failed \(feature negotiation failed\); link down$/);
    expect(d.netRunning()).toBe(false);
    expect(d.netLink()).toBe(false);
    for (let i = 0; i < 999; i++) expect(d.netPoll(6n, 64)).toBe(0);
    expect(d.netRunning()).toBe(false);
    d.devOffer(offered);
    d.netPoll(7n, 64); // the 1000th poll retries
    expect(d.netMessage()).toBe("device restarted, link up");
    recovers();
  });

  it("runts are dropped and counted as malformed, not a reset", () => {
    start(true);
    put(new Uint8Array(8));
    expect(d.devReceive(8)).toBe(true);
    d.netPoll(5n, 64);
    expect(d.netResets()).toBe(0);
    expect(d.netBadFrames()).toBe(1n);
    expect(d.portStat("uplink0", RX_DROPPED)).toBe(1n);
    expect(d.portStat("uplink0", DROP_MALFORMED)).toBe(1n);
  });
});

describe("link state and a full pool", () => {
  it("follows the device's link status", () => {
    start(true);
    d.devSetLink(0);
    for (let i = 0; i < 64; i++) d.netPoll(1n, 8);
    expect(d.netLink()).toBe(false);
    d.devSetLink(1);
    for (let i = 0; i < 64; i++) d.netPoll(1n, 8);
    expect(d.netLink()).toBe(true);
  });

  it("frames the pool cannot take are counted as no_buffer drops", () => {
    start(true, 40);
    for (let i = 0; i < 200; i++) expect(wireIn(frame(BCAST, WIRE_HOST, i))).toBe(true);
    d.netPoll(1n, 256);
    const delivered = vmOut(1n).length;
    const rx = d.portStat("uplink0", RX_PACKETS);
    const noBuf = d.portStat("uplink0", DROP_NO_BUFFER);
    const vmDrop = d.portStat("vm1", TX_DROPPED);
    expect(rx).toBe(200n);
    expect(noBuf).toBeGreaterThan(0n);
    expect(BigInt(delivered) + noBuf + vmDrop).toBe(200n);
  });
});

describe("a device that fails at start", () => {
  it("is retried after the backoff when asked to (boot path)", () => {
    d.netReset(true, 256, true, 512);
    const offered = d.devOffered();
    d.devOffer(offered & ~VERSION_1);
    expect(d.netStart()).toBe(false);
    expect(d.netMessage()).toBe("feature negotiation failed");
    d.netRetryLater();
    d.devOffer(offered);
    for (let i = 0; i < 999; i++) d.netPoll(1n, 64);
    expect(d.netRunning()).toBe(false);
    d.netPoll(1n, 64);
    expect(d.netRunning()).toBe(true);
    expect(d.netMessage()).toBe("device restarted, link up");
  });
});
