// The local APIC: x2APIC MSR rules (#GP), APIC base transitions, xAPIC page, priority/IRR/ISR/EOI, timers (one-shot, periodic, TSC-deadline), IPIs, MSI; fuzzed.
import { beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { Exports, load, rng, root } from "./harness";

let x: Exports;
beforeAll(async () => {
  x = await load(join(root, "test/devices/dev-entry.ts"));
});

const MAX = 0xffffffffffffffffn;
const rd = (msr: number): bigint | null => (x.rdmsr(msr) ? BigInt.asUintN(64, x.msrValue()) : null);
const wr = (msr: number, v: bigint | number): boolean => x.wrmsr(msr, BigInt(v));

describe("APIC base and modes", () => {
  it("starts in xAPIC mode at 0xFEE00000 as BSP; x2APIC MSRs fault until x2APIC is enabled", () => {
    x.apicNew(0, 100_000_000n, false);
    expect(rd(0x1b)).toBe(0xfee00900n);
    expect(rd(0x802)).toBe(null);
    expect(wr(0x808, 0)).toBe(false);
    expect(wr(0x1b, 0xfee00d00n)).toBe(true);
    expect(rd(0x1b)).toBe(0xfee00d00n);
    expect(rd(0x802)).toBe(0n);
    expect(rd(0x803)).toBe(0x50014n);
    expect(x.apicRead(0x20n, 4)).toBe(0n); // the xAPIC page is gone in x2APIC mode
  });
  it("refuses the illegal transitions and reserved bits; disabling resets the APIC", () => {
    x.apicNew(0, 100_000_000n, true);
    expect(wr(0x1b, 0xfee00800n)).toBe(false); // x2APIC -> xAPIC
    expect(wr(0x1b, 0xfee00400n)).toBe(false); // EXTD without EN
    expect(wr(0x1b, 0xfee00c01n)).toBe(false); // reserved bit 0
    expect(wr(0x1b, 0xfee00e00n)).toBe(false); // reserved bit 9
    expect(wr(0x808, 0x20)).toBe(true);
    expect(wr(0x1b, 0xfee00000n)).toBe(true); // disabled
    expect(rd(0x1b)).toBe(0xfee00100n); // BSP stays
    expect(wr(0x1b, 0xfee00800n)).toBe(true); // disabled -> xAPIC
    expect(x.apicRead(0x80n, 4)).toBe(0n); // TPR reset
  });
});

describe("x2APIC MSR access rules", () => {
  it("faults on read-only writes, write-only reads, reserved bits and absent registers", () => {
    x.apicNew(3, 100_000_000n, true);
    expect(rd(0x802)).toBe(3n);
    expect(rd(0x80d)).toBe(0x8n); // cluster 0, bit 3 (SDM 10.12.10.2)
    const faults: [string, boolean][] = [
      ["write ID", wr(0x802, 0)], ["write version", wr(0x803, 0)], ["write PPR", wr(0x80a, 0)], ["write LDR", wr(0x80d, 0)],
      ["write ISR", wr(0x810, 0)], ["write IRR", wr(0x827, 0)], ["write current", wr(0x839, 0)],
      ["read EOI", x.rdmsr(0x80b)], ["read SELF_IPI", x.rdmsr(0x83f)], ["EOI non-zero", wr(0x80b, 1)],
      ["ESR non-zero", wr(0x828, 1)], ["SELF_IPI reserved", wr(0x83f, 0x100)], ["TPR high bits", wr(0x808, 1n << 32n)],
      ["CMCI", wr(0x82f, 0)], ["read CMCI", x.rdmsr(0x82f)], ["read APR", x.rdmsr(0x809)], ["read DFR", x.rdmsr(0x80e)],
      ["read 0x831", x.rdmsr(0x831)], ["read 0x8ff", x.rdmsr(0x8ff)], ["write 0x840", wr(0x840, 0)],
    ];
    expect(faults.filter(([, ok]) => ok).map(([n]) => n)).toEqual([]);
    expect(wr(0x80b, 0)).toBe(true);
    expect(wr(0x828, 0)).toBe(true);
    expect(x.apicStats().split(",")[2]).toBe(String(faults.length));
  });
});

describe("priority, IRR, ISR and EOI", () => {
  it("delivers the highest IRR vector above PPR; ack moves it to ISR; EOI retires the highest ISR", () => {
    x.apicNew(0, 100_000_000n, true);
    wr(0x80f, 0x1ff);
    x.accept(0x30, false);
    x.accept(0x35, false);
    expect(x.pending()).toBe(0x35);
    wr(0x808, 0x40);
    expect(x.pending()).toBe(-1);
    expect(rd(0x80a)).toBe(0x40n);
    wr(0x808, 0);
    expect(x.inject()).toBe(0x35);
    expect(rd(0x810 + 1)).toBe(1n << 21n); // ISR bit 0x35
    expect(rd(0x80a)).toBe(0x30n); // PPR = ISRV class
    expect(x.pending()).toBe(-1); // 0x30 is in the same class
    x.accept(0x61, false);
    expect(x.inject()).toBe(0x61);
    wr(0x80b, 0);
    expect(rd(0x810 + 3)).toBe(0n); // 0x61 retired first
    wr(0x80b, 0);
    expect(x.inject()).toBe(0x30);
    wr(0x80b, 0);
    expect(x.pending()).toBe(-1);
    expect(rd(0x80a)).toBe(0n);
  });
  it("rejects vectors below 16 with an ESR bit and raises the error LVT", () => {
    x.apicNew(0, 100_000_000n, true);
    wr(0x80f, 0x1ff);
    wr(0x837, 0xfe);
    x.accept(5, false);
    expect(rd(0x828)).toBe(0x40n);
    expect(x.inject()).toBe(0xfe);
    wr(0x828, 0);
    expect(rd(0x828)).toBe(0n);
  });
});

describe("timer", () => {
  // TSC 1 GHz, bus 100 MHz: with divide-by-1, one count is 10 TSC ticks.
  function setup(lvt: number, divide = 0xb): void {
    x.apicNew(0, 100_000_000n, true);
    wr(0x80f, 0x1ff);
    wr(0x83e, divide);
    wr(0x832, lvt);
  }
  it("one-shot: counts down, fires once at the deadline", () => {
    setup(0x20);
    wr(0x838, 1000);
    expect(x.nextDeadline()).toBe(10000n);
    x.clockSet(5000n);
    expect(rd(0x839)).toBe(500n);
    expect(x.pending()).toBe(-1);
    x.clockSet(10000n);
    expect(x.inject()).toBe(0x20);
    expect(rd(0x839)).toBe(0n);
    expect(x.nextDeadline()).toBe(MAX);
    expect(rd(0x838)).toBe(1000n);
  });
  it("divide configuration scales the period (000b = 2, 110b = 128)", () => {
    setup(0x20, 0x0);
    wr(0x838, 1000);
    expect(x.nextDeadline()).toBe(20000n);
    setup(0x20, 0xa);
    wr(0x838, 1000);
    expect(x.nextDeadline()).toBe(1280000n);
  });
  it("periodic: re-arms; missed periods fold into one interrupt", () => {
    setup(0x20 | (1 << 17));
    wr(0x838, 1000);
    x.clockSet(10000n);
    expect(x.inject()).toBe(0x20);
    wr(0x80b, 0);
    expect(x.nextDeadline()).toBe(20000n);
    x.clockSet(35000n);
    expect(x.inject()).toBe(0x20);
    wr(0x80b, 0);
    expect(x.pending()).toBe(-1);
    expect(x.nextDeadline()).toBe(40000n);
    expect(rd(0x839)).toBe(500n);
    expect(x.apicStats().split(",")[0]).toBe("2");
  });
  it("masked: counts but never interrupts; initial count 0 stops it", () => {
    setup(0x20 | (1 << 16));
    wr(0x838, 100);
    x.clockSet(2000n);
    expect(x.pending()).toBe(-1);
    setup(0x20);
    wr(0x838, 100);
    wr(0x838, 0);
    x.clockSet(2000n);
    expect(x.pending()).toBe(-1);
    expect(x.nextDeadline()).toBe(MAX);
  });
  it("TSC-deadline: IA32_TSC_DEADLINE arms, fires at the TSC value and reads 0 after; ignored in other modes", () => {
    setup(0x20);
    expect(wr(0x6e0, 5000)).toBe(true);
    expect(rd(0x6e0)).toBe(0n);
    expect(x.nextDeadline()).toBe(MAX);
    wr(0x832, 0x21 | (2 << 17));
    wr(0x838, 1000); // ignored in this mode
    expect(x.nextDeadline()).toBe(MAX);
    wr(0x6e0, 123456);
    expect(rd(0x6e0)).toBe(123456n);
    expect(x.nextDeadline()).toBe(123456n);
    x.clockSet(123455n);
    expect(x.pending()).toBe(-1);
    x.clockSet(123456n);
    expect(x.inject()).toBe(0x21);
    expect(rd(0x6e0)).toBe(0n);
    wr(0x6e0, 100); // in the past: fires at once
    expect(x.pending()).toBe(-1); // in service, same vector
    wr(0x80b, 0);
    expect(x.inject()).toBe(0x21);
    wr(0x6e0, 200000);
    wr(0x6e0, 0); // disarm
    expect(x.nextDeadline()).toBe(MAX);
    wr(0x6e0, 300000);
    wr(0x832, 0x21); // back to one-shot disarms
    expect(x.nextDeadline()).toBe(MAX);
  });
  it("a clock that reports 0 Hz or a TSC near its end saturates instead of firing at once", () => {
    setup(0x20);
    x.clockHz(0n);
    wr(0x838, 100);
    x.clockSet(1_000_000n);
    expect(x.pending()).toBe(-1);
    x.clockHz(1_000_000_000n);
    setup(0x20 | (1 << 17));
    x.clockSet(MAX - 500n);
    wr(0x838, 100); // period 1000 ticks: the deadline would wrap
    expect(x.nextDeadline()).toBe(MAX);
    expect(x.pending()).toBe(-1);
  });
  it("software-disabled APIC forces every LVT masked", () => {
    x.apicNew(0, 100_000_000n, true);
    wr(0x832, 0x20);
    expect(rd(0x832)).toBe(0x10020n);
    wr(0x80f, 0x1ff);
    wr(0x832, 0x20);
    expect(rd(0x832)).toBe(0x20n);
    wr(0x80f, 0xff);
    expect(rd(0x832)).toBe(0x10020n);
    expect(rd(0x835)).toBe(0x10000n);
  });
});

describe("IPIs and MSI", () => {
  it("self IPI through SELF_IPI and ICR shorthands; other destinations are dropped", () => {
    x.apicNew(0, 100_000_000n, true);
    wr(0x80f, 0x1ff);
    wr(0x83f, 0x50);
    expect(x.inject()).toBe(0x50);
    wr(0x80b, 0);
    wr(0x830, (1 << 18) | 0x51);
    expect(x.inject()).toBe(0x51);
    wr(0x80b, 0);
    wr(0x830, (5n << 32n) | 0x52n);
    wr(0x830, (0n << 32n) | 0x500n); // INIT
    expect(x.pending()).toBe(-1);
    expect(x.apicStats().split(",")[1]).toBe("2");
    wr(0x830, 0x53n);
    expect(x.inject()).toBe(0x53);
    wr(0x83f, 3);
    expect(rd(0x828)).toBe(0x20n); // send illegal vector
  });
  it("accepts MSIs addressed to its ID with fixed or lowest-priority delivery", () => {
    x.apicNew(0, 100_000_000n, false);
    x.apicWrite(0xf0n, 4, 0x1ffn);
    x.msi(0xfee00000n, 0x41);
    x.msi(0xfee01000n, 0x42); // APIC ID 1
    x.msi(0xfee00000n, 0x443); // NMI delivery mode
    x.msi(0xfed00000n, 0x44); // not an MSI address
    expect(x.inject()).toBe(0x41);
    expect(x.pending()).toBe(-1);
    expect(x.ioStats().split(",")[3]).toBe("3");
  });
});

describe("xAPIC page", () => {
  it("exposes the same registers at offset << 4, 32-bit aligned only", () => {
    x.apicNew(0, 100_000_000n, false);
    expect(x.apicRead(0x30n, 4)).toBe(0x50014n);
    expect(x.apicRead(0xe0n, 4)).toBe(0xffffffffn); // DFR flat model at reset
    x.apicWrite(0xf0n, 4, 0x1ffn);
    x.apicWrite(0x80n, 4, 0x20n);
    expect(x.apicRead(0xa0n, 4)).toBe(0x20n);
    x.apicWrite(0xd0n, 4, 0x01000000n);
    expect(x.apicRead(0xd0n, 4)).toBe(0x01000000n);
    x.apicWrite(0x310n, 4, 0x00000000n);
    x.apicWrite(0x300n, 4, 0x4061n); // fixed, physical, dest 0
    x.apicWrite(0x80n, 4, 0n);
    expect(x.inject()).toBe(0x61);
    x.apicWrite(0xb0n, 4, 0n);
    expect(x.apicRead(0x100n + 0x30n, 4)).toBe(0n);
    const bad = Number(x.apicStats().split(",")[2]);
    expect(x.apicRead(0x84n, 4)).toBe(0n);
    expect(x.apicRead(0x3f0n, 4)).toBe(0n); // SELF_IPI is x2APIC only
    x.apicWrite(0x20n, 2, 0xffffn);
    expect(Number(x.apicStats().split(",")[2])).toBe(bad + 3);
  });
});

describe("fuzz", () => {
  it("random MSR and MMIO accesses, interrupts and time never trap and keep the invariants", () => {
    const r = rng(42);
    for (const x2 of [true, false]) {
      x.apicNew(0, 25_000_000n, x2);
      let t = 0n;
      for (let n = 0; n < 20000; n++) {
        const op = r() % 8;
        const v = (BigInt(r()) << 32n) | BigInt(r());
        if (op === 0) wr(0x800 + (r() % 0x100), r() % 4 === 0 ? v : v & 0xffn);
        else if (op === 1) x.rdmsr(0x800 + (r() % 0x100));
        else if (op === 2) x.apicWrite(BigInt(r() % 0x1010), [1, 2, 4, 8][r() % 4], v);
        else if (op === 3) x.apicRead(BigInt(r() % 0x1010), [1, 2, 4, 8][r() % 4]);
        else if (op === 4) x.accept(r() & 0xff, (r() & 1) === 1);
        else if (op === 5) {
          t += BigInt(r() % 100000);
          x.clockSet(t);
        } else if (op === 6) x.inject();
        else wr(0x6e0, t + BigInt(r() % 50000));
        const p = x.pending();
        expect(p === -1 || (p >= 16 && p <= 255)).toBe(true);
        const d = BigInt.asUintN(64, x.nextDeadline());
        expect(d === MAX || d > t).toBe(true);
      }
      expect(rd(0x1b)! & 0xc00n).toBe(x2 ? 0xc00n : 0x800n); // the fuzz never touched IA32_APIC_BASE
      if (x2) expect(rd(0x803)).toBe(0x50014n);
      else expect(x.apicRead(0x30n, 4)).toBe(0x50014n);
    }
  });
});
