// PciFunction, MSI-X and PciHost: mechanism 1, write masks, BAR sizing and routing, capabilities, MSI-X masking, INTx, fuzzing.
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { join } from "node:path";
import { Exports, load, rng, root } from "./harness";

let x: Exports;
beforeAll(async () => {
  x = await load(join(root, "test/devices/pci-entry.ts"));
});
beforeEach(() => x.reset());

const addr = (dev: number, fn: number, reg: number, bus = 0, en = true): number =>
  ((en ? 0x80000000 : 0) | (bus << 16) | (dev << 11) | (fn << 8) | reg) >>> 0;
/** Reads through ports 0xCF8/0xCFC like a guest. */
function cfg(dev: number, fn: number, reg: number, size = 4): number {
  expect(x.io(0xcf8, 4, true, addr(dev, fn, reg & 0xfc))).toBe(true);
  expect(x.io(0xcfc + (reg & 3), size, false, 0)).toBe(true);
  return Number(x.value());
}
function cfgW(dev: number, fn: number, reg: number, size: number, v: number): void {
  x.io(0xcf8, 4, true, addr(dev, fn, reg & 0xfc));
  x.io(0xcfc + (reg & 3), size, true, v >>> 0);
}
const rd = (gpa: bigint, size: number): bigint | null => (x.mmio(gpa, size, false, 0n) ? BigInt.asUintN(64, x.value()) : null);
const wr = (gpa: bigint, size: number, v: bigint): boolean => x.mmio(gpa, size, true, v);

describe("configuration mechanism 1", () => {
  it("reads IDs, class and subsystem of a present function, all ones for absent ones", () => {
    expect(cfg(3, 0, 0)).toBe(0x10411af4);
    expect(cfg(3, 0, 8)).toBe(0x02000001); // class 02 00 00, revision 1
    expect(cfg(3, 0, 0x2c)).toBe(0x00011af4);
    expect(cfg(3, 1, 0)).toBe(0x12348086);
    expect(cfg(4, 0, 0)).toBe(0xffffffff);
    expect(cfg(3, 2, 0, 2)).toBe(0xffff);
    expect(cfg(3, 0, 0, 4 /* bus 1 below */)).toBe(0x10411af4);
    x.io(0xcf8, 4, true, addr(3, 0, 0, 1));
    x.io(0xcfc, 4, false, 0);
    expect(Number(x.value())).toBe(0xffffffff);
    x.io(0xcf8, 4, true, addr(3, 0, 0, 0, false)); // enable bit clear
    x.io(0xcfc, 2, false, 0);
    expect(Number(x.value())).toBe(0xffff);
  });
  it("reads bytes and words at 0xCFC-0xCFF from the selected dword", () => {
    expect(cfg(3, 0, 1, 1)).toBe(0x1a);
    expect(cfg(3, 0, 2, 2)).toBe(0x1041);
    expect(cfg(3, 0, 3, 1)).toBe(0x10);
    expect(cfg(3, 0, 0xb, 1)).toBe(0x02);
  });
  it("keeps CONFIG_ADDRESS for dword accesses only (Linux's byte probe at 0xCFB)", () => {
    x.io(0xcf8, 4, true, 0x80001803); // bits 1:0 read 0
    x.io(0xcfb, 1, true, 0x01);
    x.io(0xcf8, 4, false, 0);
    expect(Number(x.value())).toBe(0x80001800);
    x.io(0xcf8, 4, true, 0xffffffff);
    x.io(0xcf8, 4, false, 0);
    expect(Number(x.value())).toBe(0x80fffffc);
    x.io(0xcf9, 1, false, 0);
    expect(Number(x.value())).toBe(0);
    expect(x.io(0xcfe, 4, false, 0)).toBe(false); // runs past 0xCFF
    expect(x.io(0xcfc, 3, false, 0)).toBe(false);
  });
  it("sets the multi-function bit of function 0 when another function exists", () => {
    expect((cfg(3, 0, 0xc) >>> 16) & 0xff).toBe(0x80);
    expect(cfg(3, 0, 0xe, 1)).toBe(0x80);
    expect(x.attach(5, 0)).toBe(true);
    expect(cfg(5, 0, 0xe, 1)).toBe(0);
    expect(x.attach(5, 0)).toBe(false);
    expect(x.attach(32, 0)).toBe(false);
    expect(x.attach(5, 8)).toBe(false);
  });
});

describe("header write masks", () => {
  it("command keeps only I/O, memory, bus master, parity, SERR, INTx disable", () => {
    cfgW(3, 0, 4, 2, 0xffff);
    expect(cfg(3, 0, 4, 2)).toBe(0x0547);
    cfgW(3, 0, 4, 2, 0);
    expect(cfg(3, 0, 4, 2)).toBe(0);
  });
  it("status is read-only except write-1-to-clear error bits; IDs and class are read-only", () => {
    const st = cfg(3, 0, 6, 2);
    expect(st & 0x10).toBe(0x10); // capability list
    cfgW(3, 0, 4, 4, 0xffff0000); // writes status with ones: nothing set
    expect(cfg(3, 0, 6, 2)).toBe(st);
    cfgW(3, 0, 0, 4, 0);
    cfgW(3, 0, 8, 4, 0);
    expect(cfg(3, 0, 0)).toBe(0x10411af4);
    expect(cfg(3, 0, 8)).toBe(0x02000001);
  });
  it("interrupt line is scratch, interrupt pin is fixed", () => {
    cfgW(3, 0, 0x3c, 2, 0xffff);
    expect(cfg(3, 0, 0x3c, 2)).toBe(0x01ff);
    expect(cfg(3, 0, 0x30)).toBe(0); // no expansion ROM
  });
});

describe("BAR sizing", () => {
  it("writing all ones reads back the size mask with the type bits", () => {
    const sized = [0, 1, 2, 3, 4, 5].map((i) => {
      cfgW(3, 0, 0x10 + 4 * i, 4, 0xffffffff);
      return cfg(3, 0, 0x10 + 4 * i) >>> 0;
    });
    expect(sized).toEqual([0xfffff000, 0xffffffe1, 0xffffc00c, 0xffffffff, 0, 0]);
  });
  it("keeps programmed addresses aligned to the size", () => {
    cfgW(3, 0, 0x10, 4, 0xfeb01234);
    expect(cfg(3, 0, 0x10) >>> 0).toBe(0xfeb01000);
    cfgW(3, 0, 0x14, 4, 0xc0ff);
    expect(cfg(3, 0, 0x14) >>> 0).toBe(0xc0e1);
  });
});

describe("capability list", () => {
  it("chains a vendor capability and MSI-X from 0x34 with the right fields", () => {
    const caps: number[][] = [];
    let p = cfg(3, 0, 0x34, 1);
    expect(p).toBe(0x40);
    for (let n = 0; p !== 0 && n < 48; n++) {
      caps.push([p, cfg(3, 0, p, 1)]);
      p = cfg(3, 0, p + 1, 1);
    }
    expect(caps).toEqual([[0x40, 9], [0x48, 0x11]]);
    expect(cfg(3, 0, 0x42, 1)).toBe(8);
    expect(cfg(3, 0, 0x4a, 2)).toBe(3); // 4 vectors, disabled
    expect(cfg(3, 0, 0x4c) >>> 0).toBe(0x00000002); // table at 0 in BAR2
    expect(cfg(3, 0, 0x50) >>> 0).toBe(0x00002002); // PBA at 0x2000 in BAR2
  });
  it("applies the write mask set on a capability byte and calls the hook", () => {
    const before = x.hookWrites();
    cfgW(3, 0, 0x40, 4, 0xffffffff);
    cfgW(3, 0, 0x44, 4, 0xffffffff);
    expect(cfg(3, 0, 0x40) >>> 0).toBe(0x11084809);
    expect(cfg(3, 0, 0x44) >>> 0).toBe(0x151413ff);
    expect(x.hookWrites()).toBe(before + 2);
  });
});

describe("BAR routing", () => {
  it("claims a memory BAR only when programmed and memory decoding is on", () => {
    cfgW(3, 0, 0x10, 4, 0xfeb00000);
    expect(rd(0xfeb00010n, 4)).toBe(null);
    cfgW(3, 0, 4, 2, 0x2);
    expect(wr(0xfeb00010n, 4, 0xdeadbeefn)).toBe(true);
    expect(x.devReg(0x10)).toBe(0xef);
    expect(x.devReg(0x13)).toBe(0xde);
    expect(x.devLast()).toBe("0:16:4");
    expect(rd(0xfeb00012n, 2)).toBe(0xdeadn);
    expect(rd(0xfeb00ffcn, 8)).toBe(null); // straddles the end
    expect(rd(0xfeb01000n, 1)).toBe(null);
    expect(rd(0xfeafffffn, 1)).toBe(null);
    expect(x.mmio(0xfeb00000n, 3, false, 0n)).toBe(false);
    cfgW(3, 0, 4, 2, 0x0); // decoding off again
    expect(rd(0xfeb00010n, 4)).toBe(null);
  });
  it("claims I/O BAR ports with I/O decoding on", () => {
    cfgW(3, 0, 0x14, 4, 0xc000);
    expect(x.io(0xc004, 2, true, 0xabcd)).toBe(false);
    cfgW(3, 0, 4, 2, 0x1);
    expect(x.io(0xc004, 2, true, 0xabcd)).toBe(true);
    expect(x.devPort(4)).toBe(0xcd);
    expect(x.io(0xc005, 1, false, 0)).toBe(true);
    expect(Number(x.value())).toBe(0xab);
    expect(x.io(0xc020, 1, false, 0)).toBe(false);
  });
  it("places a 64-bit BAR above 4 GiB", () => {
    cfgW(3, 0, 0x18, 4, 0x00004000);
    cfgW(3, 0, 0x1c, 4, 0x1);
    cfgW(3, 0, 4, 2, 0x2);
    expect(rd(0x100004000n, 4)).toBe(0n); // MSI-X entry 0 address
    expect(rd(0x4000n, 4)).toBe(null);
  });
});

describe("MSI-X", () => {
  const bar2 = 0x100000000n;
  function setup(): void {
    cfgW(3, 0, 0x18, 4, 0);
    cfgW(3, 0, 0x1c, 4, 1);
    cfgW(3, 0, 4, 2, 0x6);
  }
  const entry = (v: number, off: number): bigint => bar2 + BigInt(v * 16 + off);
  function program(v: number, address: bigint, data: number): void {
    wr(entry(v, 0), 8, address);
    wr(entry(v, 8), 4, BigInt(data));
  }
  const enable = (on: boolean, fmask = false): void => cfgW(3, 0, 0x4a, 2, (on ? 0x8000 : 0) | (fmask ? 0x4000 : 0));

  it("entries reset masked; a masked vector pends and goes out on unmask", () => {
    setup();
    expect(rd(entry(1, 12), 4)).toBe(1n);
    program(1, 0xfee00000n, 0x41);
    enable(true);
    expect(x.msixSend(1)).toBe(1); // pending
    expect(x.msiCount()).toBe(0);
    expect(rd(bar2 + 0x2000n, 8)).toBe(2n);
    wr(entry(1, 12), 4, 0n);
    expect(x.msiCount()).toBe(1);
    expect(x.msiAddr(0)).toBe(0xfee00000n);
    expect(x.msiData(0)).toBe(0x41);
    expect(rd(bar2 + 0x2000n, 8)).toBe(0n);
    expect(x.msixSend(1)).toBe(0);
    expect(x.msiCount()).toBe(2);
  });
  it("the function mask holds every vector; clearing it releases the pending ones", () => {
    setup();
    program(0, 0xfee00000n, 0x30);
    program(2, 0xfee00000n, 0x32);
    wr(entry(0, 12), 4, 0n);
    wr(entry(2, 12), 4, 0n);
    enable(true, true);
    expect(x.msixSend(0)).toBe(1);
    expect(x.msixSend(2)).toBe(1);
    expect(x.msiCount()).toBe(0);
    enable(true, false);
    expect(x.msiCount()).toBe(2);
    expect([x.msiData(0), x.msiData(1)]).toEqual([0x30, 0x32]);
  });
  it("sends nothing while disabled or for a vector that does not exist", () => {
    setup();
    program(0, 0xfee00000n, 0x30);
    wr(entry(0, 12), 4, 0n);
    expect(x.msixSend(0)).toBe(2);
    enable(true);
    expect(x.msixSend(4)).toBe(2);
    expect(x.msixSend(0xffffffff)).toBe(2);
    expect(x.msiCount()).toBe(0);
  });
  it("keeps address bits 1:0 zero, reserved vector-control bits zero and the PBA read-only", () => {
    setup();
    wr(entry(3, 0), 8, 0xffffffffffffffffn);
    wr(entry(3, 12), 4, 0xffffffffn);
    expect(rd(entry(3, 0), 8)).toBe(0xfffffffffffffffcn);
    expect(rd(entry(3, 12), 4)).toBe(1n);
    wr(bar2 + 0x2000n, 8, 0xffn);
    expect(rd(bar2 + 0x2000n, 8)).toBe(0n);
  });
});

describe("INTx", () => {
  it("drives its GSI unless disabled in the command register or MSI-X is on", () => {
    x.intx(true);
    expect([x.levelCount(), x.levelGsi(0), x.levelHigh(0)]).toEqual([1, 11, true]);
    expect(cfg(3, 0, 6, 2) & 0x8).toBe(0x8);
    cfgW(3, 0, 4, 2, 0x400);
    expect([x.levelCount(), x.levelHigh(1)]).toEqual([2, false]);
    cfgW(3, 0, 4, 2, 0);
    expect(x.levelHigh(2)).toBe(true);
    cfgW(3, 0, 0x4a, 2, 0x8000);
    expect(x.levelHigh(3)).toBe(false);
    x.intx(false);
    expect(cfg(3, 0, 6, 2) & 0x8).toBe(0);
    expect(x.levelCount()).toBe(4);
  });
});

describe("fuzz", () => {
  it("random configuration, port and MMIO accesses never trap and keep the read-only fields", () => {
    const r = rng(0x5eed);
    const sizes = [1, 2, 4];
    for (let n = 0; n < 20000; n++) {
      const op = r() % 5;
      const v = r();
      if (op === 0) cfgW(3, r() % 2, r() & 0xff, sizes[r() % 3], v);
      else if (op === 1) x.io(0xcf8 + (r() % 8), sizes[r() % 3], (r() & 1) === 1, v);
      else if (op === 2) x.io(r() & 0xffff, sizes[r() % 3], (r() & 1) === 1, v);
      else if (op === 3) {
        const base = [0xfeb00000n, 0x100000000n, BigInt(r() >>> 0)][r() % 3];
        x.mmio(base + BigInt(r() % 0x5000), [1, 2, 4, 8, 3, 16][r() % 6], (r() & 1) === 1, BigInt(v) * 0x100000001n);
      } else x.msixSend(r() % 6);
      if (n % 500 === 0) {
        // Sometimes program BARs to places the MMIO operations hit, and enable decoding.
        cfgW(3, 0, 0x10, 4, 0xfeb00000);
        cfgW(3, 0, 0x18, 4, 0);
        cfgW(3, 0, 0x1c, 4, 1);
        cfgW(3, 0, 4, 2, 0x7);
      }
    }
    expect(cfg(3, 0, 0)).toBe(0x10411af4);
    expect(cfg(3, 0, 8)).toBe(0x02000001);
    expect(cfg(3, 0, 0x34, 1)).toBe(0x40);
    expect(cfg(3, 0, 0x48, 2)).toBe(0x0011);
    expect(cfg(3, 0, 0x4c) >>> 0).toBe(2);
    expect(cfg(3, 0, 4, 2) & ~0x547).toBe(0);
    expect(cfg(3, 0, 0x10) & 0xfff).toBe(0);
    expect(cfg(3, 0, 0x14) & 0x1f).toBe(1);
    expect(cfg(3, 0, 0x18) & 0x3fff).toBe(0xc);
    expect(cfg(3, 0, 0x20)).toBe(0);
    expect(cfg(4, 0, 0)).toBe(0xffffffff);
    expect(x.devAccesses()).toBeGreaterThan(0); // the fuzz did reach the device
  });
});
