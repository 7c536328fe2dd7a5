// The COM1 16550A model: Linux's probe sequence, DLAB, FIFO bits in IIR, loopback, interrupts on GSI 4, bounded input and lines; fuzzed.
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { join } from "node:path";
import { Exports, load, rng, root } from "./harness";

let x: Exports;
beforeAll(async () => {
  x = await load(join(root, "test/devices/dev-entry.ts"));
});
beforeEach(() => x.uartNew(16, 20));

const THR = 0, IER = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7;
const r = (o: number): number => x.uartRead(o, 1);
const w = (o: number, v: number): void => x.uartWrite(o, 1, v);
function send(s: string): void {
  for (const c of s) w(THR, c.charCodeAt(0));
}

describe("16550A registers", () => {
  it("passes the checks Linux's 8250 autoconfig makes", () => {
    // Scratch register and IER upper nibble (serial8250 autoconfig).
    w(SCR, 0xa5);
    expect(r(SCR)).toBe(0xa5);
    w(IER, 0xff);
    expect(r(IER)).toBe(0x0f);
    w(IER, 0);
    // Loopback: MCR RTS|OUT2 reads back as CTS|DCD.
    w(MCR, 0x10 | 0x0a);
    expect(r(MSR) & 0xf0).toBe(0x90);
    w(MCR, 0);
    // FIFO enable: IIR bits 7:6 say 16550A.
    w(FCR, 0x01);
    expect(r(IIR) >> 6).toBe(3);
    w(FCR, 0);
    expect(r(IIR) >> 6).toBe(0);
    expect(r(LSR)).toBe(0x60);
  });
  it("swaps in the divisor latch with DLAB", () => {
    w(LCR, 0x83);
    w(THR, 0x01);
    w(IER, 0x00);
    expect([r(0), r(1)]).toEqual([1, 0]);
    w(LCR, 0x03);
    expect(r(LCR)).toBe(0x03);
    expect(x.uartStats()).toBe("0,0,0,0"); // the divisor write transmitted nothing
  });
  it("never reads all ones from any register on reset", () => {
    for (let o = 0; o < 8; o++) expect(r(o)).not.toBe(0xff);
  });
});

describe("output", () => {
  it("collects bytes into lines, drops CR, splits at the bounded length and flushes a partial line", () => {
    send("hello\r\nworld\n");
    send("x".repeat(45));
    send("~ # ");
    expect(x.uartLines()).toBe("hello\nworld\n" + "x".repeat(20) + "\n" + "x".repeat(20));
    x.uartFlush();
    expect(x.uartLines().split("\n").pop()).toBe("xxxxx~ # ");
    x.uartFlush();
    expect(x.uartLineCount()).toBe(5);
  });
  it("loops transmitted bytes back to the receiver in loopback mode", () => {
    w(MCR, 0x10);
    send("ab");
    expect(x.uartLineCount()).toBe(0);
    expect(r(LSR) & 1).toBe(1);
    expect([r(0), r(0)]).toEqual([0x61, 0x62]);
    expect(r(LSR) & 1).toBe(0);
  });
});

describe("input", () => {
  it("queues console input up to its bound and counts drops with an overrun", () => {
    expect(x.uartInput("0123456789abcdefXYZ")).toBe(16);
    expect(x.uartStats()).toBe("0,0,3,16");
    expect(r(LSR) & 0x03).toBe(0x03); // DR and OE
    expect(r(LSR) & 0x02).toBe(0); // OE cleared by the read
    let got = "";
    while (r(LSR) & 1) got += String.fromCharCode(r(0));
    expect(got).toBe("0123456789abcdef");
    expect(r(0)).toBe(0); // empty RBR reads 0, not all ones
  });
  it("FCR bit 1 clears the receive FIFO", () => {
    w(FCR, 1);
    x.uartInput("abc");
    w(FCR, 0x03);
    expect(r(LSR) & 1).toBe(0);
  });
});

describe("interrupts on GSI 4", () => {
  it("raises THRE when enabled, clears it on IIR read or THR write, raises it again after transmit", () => {
    expect(x.uartIrq()).toBe(false);
    w(IER, 0x02);
    expect(x.uartIrq()).toBe(true);
    expect(r(IIR) & 0x0f).toBe(0x02);
    expect(x.uartIrq()).toBe(false);
    expect(r(IIR) & 0x0f).toBe(0x01);
    w(THR, 0x41);
    expect(x.uartIrq()).toBe(true);
    expect(x.uartIrqOtherGsi()).toBe(false);
  });
  it("received data outranks THRE and stays until the data is read", () => {
    w(IER, 0x03);
    x.uartInput("q");
    expect(x.uartIrq()).toBe(true);
    expect(r(IIR) & 0x0f).toBe(0x04);
    expect(r(IIR) & 0x0f).toBe(0x04);
    expect(r(0)).toBe(0x71);
    expect(r(IIR) & 0x0f).toBe(0x02);
    expect(x.uartIrq()).toBe(false);
  });
  it("reports an overrun as a line-status interrupt when enabled", () => {
    w(IER, 0x04);
    x.uartInput("y".repeat(17));
    expect(r(IIR) & 0x0f).toBe(0x06);
    r(LSR);
    expect(r(IIR) & 0x0f).toBe(0x01);
  });
  it("reports modem status changes in loopback when enabled", () => {
    w(IER, 0x08);
    w(MCR, 0x10 | 0x02);
    expect(r(IIR) & 0x0f).toBe(0x00);
    // Entering loopback with only RTS: CTS stays, DSR and DCD drop.
    expect(r(MSR)).toBe(0x10 | 0x0a);
    expect(r(IIR) & 0x0f).toBe(0x01);
    w(MCR, 0x10 | 0x03);
    expect(r(MSR)).toBe(0x30 | 0x02); // DSR came up
    w(MCR, 0x10 | 0x07);
    w(MCR, 0x10 | 0x03);
    expect(r(MSR) & 0x0f).toBe(0x04); // trailing edge of RI
  });
});

describe("fuzz", () => {
  it("random register accesses and input never trap and keep the invariants", () => {
    x.uartNew(64, 80);
    const rnd = rng(1234);
    for (let n = 0; n < 30000; n++) {
      const op = rnd() % 10;
      const off = rnd() % 12;
      const size = [1, 2, 4, 8][rnd() % 4];
      if (op < 5) {
        const v = x.uartRead(off, size);
        expect(v).toBeLessThan(0x100);
        if (off === IER && !(x.uartRead(LCR, 1) & 0x80)) expect(v & 0xf0).toBe(0);
        if (off === LSR) expect(v & 0x60).toBe(0x60);
      } else if (op < 9) x.uartWrite(off, size, rnd());
      else x.uartInput(String.fromCharCode(rnd() & 0x7f, rnd() & 0x7f));
    }
    const [tx, lines, dropped, pending] = x.uartStats().split(",").map(Number);
    expect(pending).toBeLessThanOrEqual(64);
    expect(tx).toBeGreaterThan(0);
    expect(lines + dropped).toBeGreaterThanOrEqual(0);
    for (const l of x.uartLines().split("\n")) expect(l.length).toBeLessThanOrEqual(80);
    expect(x.uartIrqOtherGsi()).toBe(false);
  });
});
