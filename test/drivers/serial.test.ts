// Unit tests of the serial path compiled for Node (test/drivers/serial-entry.ts):
// the bounded byte queue, the 16550 driver's queued transmit (16 bytes per
// THRE with the FIFO on, never a wait), its synchronous panic path, the
// console's whole-message drops and its one-line report, and the COM2
// pump's back-pressure. The UARTs are 16550s emulated here, with the
// behaviour of QEMU's hw/char/serial.c where the datasheet leaves room.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { root } from "../../scripts/lib/emulators.ts";

const LSR_DR = 0x01;
const LSR_OE = 0x02;
const LSR_THRE = 0x20;
const LSR_TEMT = 0x40;
const MCR_RTS = 0x02;
const MCR_LOOP = 0x10;

/** A 16550A as the monitor sees it through inb/outb. */
class Uart16550Model {
  scr = 0;
  lcr = 0;
  mcr = 0x08;
  ier = 0;
  dll = 12;
  dlm = 0;
  fifoOn = false;
  /** false: an 8250/16450, whose IIR never reports FIFOs. */
  hasFifo = true;
  rbr = 0;
  dr = false;
  rxFifo: number[] = [];
  /** Bytes the peer has sent that the UART has not received yet (the chardev's side). */
  line: number[] = [];
  /** Transmit FIFO (one byte without FIFOs). */
  tx: number[] = [];
  /** Bytes that left on the wire. */
  wire: number[] = [];
  /** The transmitter empties its FIFO whenever LSR is read (QEMU: at once); false: stalled. */
  autoDrain = true;
  /** Like real hardware without flow control: bytes arrive whether or not the receiver FIFO has room (lost ones set LSR.OE). */
  lossyRx = false;
  oe = false;
  /** THR writes while the transmitter was full: a byte lost (QEMU drops the oldest). */
  overruns = 0;
  lsrReads = 0;

  in(off: number): number {
    switch (off) {
      case 0:
        if (this.lcr & 0x80) return this.dll;
        return this.readRbr();
      case 1:
        return this.lcr & 0x80 ? this.dlm : this.ier;
      case 2:
        return this.fifoOn ? 0xc1 : 0x01;
      case 3:
        return this.lcr;
      case 4:
        return this.mcr;
      case 5: {
        this.lsrReads++;
        if (this.autoDrain) this.transmit();
        const dr = this.fifoOn ? this.rxFifo.length > 0 : this.dr;
        const oe = this.oe;
        this.oe = false;
        return (dr ? LSR_DR : 0) | (oe ? LSR_OE : 0) | (this.tx.length === 0 ? LSR_THRE | LSR_TEMT : 0);
      }
      case 7:
        return this.scr;
      default:
        return 0;
    }
  }

  out(off: number, v: number): void {
    switch (off) {
      case 0:
        if (this.lcr & 0x80) this.dll = v;
        else {
          const cap = this.fifoOn ? 16 : 1;
          if (this.tx.length >= cap) {
            this.overruns++;
            this.tx.shift();
          }
          this.tx.push(v & 0xff);
        }
        break;
      case 1:
        if (this.lcr & 0x80) this.dlm = v;
        else this.ier = v;
        break;
      case 2: {
        if (!this.hasFifo) break;
        const fe = (v & 1) !== 0;
        // QEMU: a change of FCR bit 0 clears both FIFOs, and a receiver reset clears LSR.DR
        if (fe !== this.fifoOn || v & 2) {
          this.rxFifo = [];
          this.dr = false;
        }
        if (fe !== this.fifoOn || v & 4) this.tx = [];
        this.fifoOn = fe;
        break;
      }
      case 3:
        this.lcr = v;
        break;
      case 4:
        this.mcr = v;
        break;
      case 7:
        this.scr = v;
        break;
    }
  }

  private readRbr(): number {
    let v = 0;
    if (this.fifoOn) v = this.rxFifo.shift() ?? 0;
    else {
      v = this.rbr;
      this.dr = false;
    }
    // QEMU asks the chardev for more input on an RBR read, except in loopback
    if (!(this.mcr & MCR_LOOP)) this.deliver();
    return v;
  }

  /** The chardev side: moves bytes from the line into the receiver while it has room. */
  deliver(): void {
    if (this.lossyRx && this.fifoOn) {
      for (const b of this.line.splice(0)) {
        if (this.rxFifo.length < 16) this.rxFifo.push(b);
        else this.oe = true;
      }
    } else if (this.fifoOn) {
      while (this.line.length > 0 && this.rxFifo.length < 16) this.rxFifo.push(this.line.shift()!);
    } else if (!this.dr && this.line.length > 0) {
      this.rbr = this.line.shift()!;
      this.dr = true;
    }
  }

  transmit(): void {
    this.wire.push(...this.tx);
    this.tx = [];
  }

  wireText(): string {
    return Buffer.from(this.wire).toString("latin1");
  }
}

let com1 = new Uart16550Model();
let com2 = new Uart16550Model();
let pauses = 0;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
let x: any;

function uartAt(port: number): [Uart16550Model | null, number] {
  if (port >= 0x3f8 && port < 0x400) return [com1, port - 0x3f8];
  if (port >= 0x2f8 && port < 0x300) return [com2, port - 0x2f8];
  return [null, 0];
}

/** Every .ts under dir (the entry reaches into src/ through several imports). */
function sources(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) sources(p, out);
    else if (e.name.endsWith(".ts")) out.push(p);
  }
  return out;
}

async function build(): Promise<string> {
  const h = createHash("sha256");
  for (const f of [join(root, "test/drivers/serial-entry.ts"), ...sources(join(root, "src")).sort()]) h.update(readFileSync(f));
  const dir = join(root, "build/test/drivers-unit", h.digest("hex").slice(0, 16));
  const wasm = join(dir, "entry.wasm");
  if (existsSync(wasm)) return wasm;
  mkdirSync(dir, { recursive: true });
  const asc = (await import("assemblyscript/asc")).default;
  let err = "";
  const { error } = await asc.main(["test/drivers/serial-entry.ts", "--target", "node", "--bindings", "raw", "-o", wasm], {
    stderr: { write: (s: string | Uint8Array) => ((err += String(s)), true) } as never,
  });
  if (error) throw new Error(`asc failed: ${error.message}\n${err}`);
  return wasm;
}

/** A fresh instance (fresh globals: com1, com2, console, server) over fresh UART models. */
async function fresh(): Promise<void> {
  com1 = new Uart16550Model();
  com2 = new Uart16550Model();
  pauses = 0;
  const wasm = await build();
  const bindings = await import(wasm.replace(/\.wasm$/, ".js"));
  const hw = {
    inb: (port: number) => {
      const [u, off] = uartAt(port);
      return u ? u.in(off) : 0xff;
    },
    outb: (port: number, v: number) => {
      const [u, off] = uartAt(port);
      if (u) u.out(off, v & 0xff);
    },
    pause: () => {
      pauses++;
    },
  };
  x = await bindings.instantiate(await WebAssembly.compile(readFileSync(wasm)), { hw });
}

beforeAll(async () => {
  await build();
}, 300_000);

describe("ByteQueue", () => {
  beforeEach(fresh);

  it("is a FIFO across the wrap-around, refuses bytes when full and counts them", () => {
    x.qNew(5);
    for (let i = 0; i < 5; i++) expect(x.qPush(i)).toBe(true);
    expect(x.qPush(99)).toBe(false);
    expect(x.qPush(98)).toBe(false);
    expect(x.qDropped()).toBe(2n);
    expect(x.qRoom()).toBe(0);
    expect(x.qPop()).toBe(0);
    expect(x.qPop()).toBe(1);
    expect(x.qPushFrom(10, 4)).toBe(2); // two fit, wrapping; pushFrom takes what fits without counting drops
    expect(x.qDropped()).toBe(2n);
    const got: number[] = [];
    while (x.qLength() > 0) got.push(x.qPop());
    expect(got).toEqual([2, 3, 4, 10, 11]);
    expect(x.qPop()).toBe(-1);
    expect(x.qPeek()).toBe(-1);
  });

  it("pushText is all or nothing and turns \\n into \\r\\n", () => {
    x.qNew(8);
    expect(x.qPushText("ab\ncd")).toBe(true); // 6 bytes
    expect(x.qPushText("xyz")).toBe(false); // 3 > 2 free: nothing queued
    expect(x.qLength()).toBe(6);
    const got: number[] = [];
    while (x.qLength() > 0) got.push(x.qPop());
    expect(Buffer.from(got).toString("latin1")).toBe("ab\r\ncd");
  });
});

describe("16550 driver", () => {
  beforeEach(fresh);

  it("hands at most 16 bytes to the UART per THRE with the FIFO on, and never waits", () => {
    expect(x.uartInit(2)).toBe(true);
    expect(x.uartTxBurst(2)).toBe(16);
    com2.autoDrain = false; // the line is slow: the transmitter empties only when we say so
    expect(x.uartQueue(2, "0123456789".repeat(10))).toBe(true);
    expect(x.uartPoll(2, 512)).toBe(16);
    expect(x.uartPoll(2, 512)).toBe(0); // FIFO full: THRE clear, nothing written
    com2.transmit();
    expect(x.uartPoll(2, 512)).toBe(16);
    com2.transmit();
    expect(x.uartPoll(2, 5)).toBe(5); // the budget bounds it too
    com2.autoDrain = true;
    while (x.uartQueued(2) > 0) x.uartPoll(2, 512);
    com2.transmit();
    expect(com2.wireText()).toBe("0123456789".repeat(10));
    expect(com2.overruns).toBe(0);
    expect(pauses).toBe(0);
  });

  it("a UART without FIFOs (IIR bits 7:6 clear) gets one byte per THRE", () => {
    com2.hasFifo = false;
    expect(x.uartInit(2)).toBe(true);
    expect(x.uartTxBurst(2)).toBe(1);
    com2.autoDrain = false;
    x.uartQueue(2, "abc");
    expect(x.uartPoll(2, 512)).toBe(1);
    expect(x.uartPoll(2, 512)).toBe(0);
    expect(com2.overruns).toBe(0);
  });

  it("init keeps bytes that arrived before it (QEMU clears the receiver when the FIFO is enabled)", () => {
    const req = '{"jsonrpc":"2.0","id":1,"method":"system.info"}\n';
    com2.line = [...Buffer.from(req.repeat(3))];
    com2.deliver(); // the first byte is in RBR before the monitor looks
    expect(x.uartInit(2)).toBe(true);
    const got: number[] = [];
    for (let i = 0; i < 1000 && got.length < req.length * 3; i++) {
      const b = x.uartRead(2);
      if (b >= 0) got.push(b);
      else com2.deliver(); // the emulator's main loop
    }
    expect(Buffer.from(got).toString("latin1")).toBe(req.repeat(3));
    expect(com2.mcr & MCR_LOOP).toBe(0);
    expect(com2.mcr & MCR_RTS).toBe(MCR_RTS);
  });

  it("received bytes lost to a full receiver FIFO (LSR.OE, real hardware without flow control) are counted", () => {
    x.uartInit(2);
    com2.lossyRx = true;
    com2.line = [...Buffer.from("x".repeat(40))];
    com2.deliver(); // 40 bytes arrive at once: 16 fit
    let n = 0;
    while (x.uartRead(2) >= 0) n++;
    expect(n).toBe(16);
    expect(x.uartRxOverruns(2)).toBe(1);
    expect(x.uartRead(2)).toBe(-1);
    expect(x.uartRxOverruns(2)).toBe(1); // OE was cleared by the read of LSR that reported it
  });

  it("the synchronous (panic) path sends what was queued first, then its text; a dead transmitter costs a bounded wait", () => {
    x.uartInit(1);
    com1.autoDrain = false;
    x.uartQueue(1, "queued ");
    x.uartPoll(1, 3);
    com1.autoDrain = true;
    x.uartWriteSync(1, "PANIC\n");
    com1.transmit();
    expect(com1.wireText()).toBe("queued PANIC\r\n");
    expect(x.uartDropped(1)).toBe(0);
    // a transmitter that never empties: each byte gives up after a bounded spin
    com1.autoDrain = false;
    x.uartQueue(1, "lost");
    pauses = 0;
    x.uartWriteSync(1, "ab");
    expect(x.uartDropped(1)).toBeGreaterThan(0);
    expect(pauses).toBeLessThanOrEqual(3 * 100_000);
  });
});

describe("console", () => {
  beforeEach(fresh);

  it("a console nobody drains drops whole messages, counts them, and says so in one line once it can write again", () => {
    x.consoleStart();
    com1.autoDrain = false; // nobody reads COM1
    const line = (i: number) => `[vm] line ${String(i).padStart(4, "0")} ${"x".repeat(80)}\n`;
    for (let i = 0; i < 400; i++) x.consolePrint(line(i));
    expect(pauses).toBe(0);
    const droppedBytes = Number(x.consoleDropped());
    const droppedMsgs = Number(x.consoleDroppedMsgs());
    expect(droppedMsgs).toBeGreaterThan(0);
    expect(droppedBytes).toBe(droppedMsgs * line(0).length);
    // bounded: a stalled UART took only what fits in its FIFO
    expect(com1.tx.length).toBeLessThanOrEqual(16);
    com1.autoDrain = true;
    for (let i = 0; i < 200; i++) x.consoleTurn();
    for (let i = 400; i < 410; i++) x.consolePrint(line(i));
    for (let i = 0; i < 200; i++) x.consoleTurn();
    com1.transmit();
    const lines = com1.wireText().split("\r\n").filter((l) => l.length > 0);
    const notices = lines.filter((l) => l.startsWith("[console]"));
    expect(notices).toEqual([`[console] dropped ${droppedBytes} bytes (${droppedMsgs} messages): the console was not drained`]);
    // every other line is whole, in order, and the notice sits where the gap is
    const nums = lines.map((l) => (l.startsWith("[console]") ? -1 : Number(/^\[vm\] line (\d{4}) x{80}$/.exec(l)![1])));
    const at = nums.indexOf(-1);
    expect(nums.slice(0, at)).toEqual(nums.slice(0, at).map((_, i) => i));
    expect(nums[at + 1]).toBeGreaterThanOrEqual(at + droppedMsgs);
    expect(nums[nums.length - 1]).toBe(409);
    expect(nums.length - 1 + droppedMsgs).toBe(410);
    expect(com1.overruns).toBe(0);
    expect(pauses).toBe(0);
  });
});

describe("COM2 pump (main-loop turn)", () => {
  beforeEach(fresh);

  it("a client that stops reading: the server stops taking requests, output stays bounded, no byte is lost", () => {
    x.uartInit(2);
    x.uartInit(1);
    const N = 600;
    let reqs = "";
    for (let id = 1; id <= N; id++) reqs += JSON.stringify({ jsonrpc: "2.0", id, method: "system.info" }) + "\n";
    com2.line = [...Buffer.from(reqs)];
    com2.autoDrain = false; // the client does not read
    let maxOut = 0;
    for (let t = 0; t < 3000; t++) {
      com2.deliver();
      x.pumpTurn();
      maxOut = Math.max(maxOut, x.serverOutLen());
    }
    const handled = Number(x.serverLines());
    expect(handled).toBeLessThan(N); // it stopped reading
    expect(com2.line.length).toBeGreaterThan(0); // the rest waits at the peer
    expect(Number(x.serverDeferrals())).toBeGreaterThan(0);
    expect(maxOut).toBeLessThan(x.serverOutLimit() + 512); // the limit plus one reply
    expect(com2.mcr & MCR_RTS).toBe(0); // and RTS tells the peer to stop
    expect(pauses).toBe(0);

    // the client reads again: everything arrives, intact and in order, a bounded amount per turn
    com2.autoDrain = true;
    let maxPerTurn = 0;
    for (let t = 0; t < 100_000 && (com2.line.length > 0 || x.serverOutLen() > 0 || x.uartQueued(2) > 0 || com2.tx.length > 0); t++) {
      const before = com2.wire.length;
      com2.deliver();
      x.pumpTurn();
      maxPerTurn = Math.max(maxPerTurn, com2.wire.length - before);
    }
    com2.transmit();
    const replies = com2.wireText().split("\n").filter((l) => l.length > 0);
    expect(replies.length).toBe(N);
    replies.forEach((l, i) => {
      const r = JSON.parse(l);
      expect(r.id).toBe(i + 1);
      expect(r.result.name).toBe("typevisor");
    });
    expect(maxPerTurn).toBeLessThanOrEqual(512 + 16);
    expect(com2.overruns).toBe(0);
    expect(com2.mcr & MCR_RTS).toBe(MCR_RTS);
    expect(pauses).toBe(0);
  });

  it("a request line over 64 KiB is discarded as it arrives, counted, answered with an error; the next one is served", () => {
    x.uartInit(2);
    x.uartInit(1);
    const long = `{"jsonrpc":"2.0","id":1,"method":"system.info","params":{"pad":"${"p".repeat(70_000)}"}}`;
    com2.line = [...Buffer.from(long + "\n" + JSON.stringify({ jsonrpc: "2.0", id: 2, method: "system.info" }) + "\n")];
    for (let t = 0; t < 200_000 && (com2.line.length > 0 || x.serverOutLen() > 0 || x.uartQueued(2) > 0); t++) {
      com2.deliver();
      x.pumpTurn();
    }
    com2.transmit();
    const replies = com2.wireText().split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l));
    expect(replies.length).toBe(2);
    expect(replies[0].error.message).toBe("invalid request: line longer than 65536 bytes");
    expect(replies[1].id).toBe(2);
    expect(x.serverDroppedRequestBytes()).toBe(BigInt(long.length));
  });

  it("console=ttyS1 shares COM2 with management: console lines never land inside a reply line", () => {
    x.uartInit(2);
    expect(x.consoleUse("ttyS1")).toBe(true);
    // 100 audited vm.start calls, then audit.list: replies of ~10 KB that go out in pieces
    const N = 150;
    let reqs = "";
    for (let id = 1; id <= N; id++) {
      const call = id <= 100 ? { method: "vm.start", params: { name: "nope" } } : { method: "audit.list" };
      reqs += JSON.stringify({ jsonrpc: "2.0", id, ...call }) + "\n";
    }
    com2.line = [...Buffer.from(reqs)];
    let printed = 0;
    for (let t = 0; t < 200_000 && (com2.line.length > 0 || x.serverOutLen() > 0 || x.uartQueued(2) > 0 || com2.tx.length > 0); t++) {
      com2.autoDrain = printed >= 3000; // the pump leaves the queue full with part of a reply in it
      com2.deliver();
      x.pumpTurn();
      com2.autoDrain = true;
      // several console lines per turn: each print() also hands bytes to the UART, making room mid-reply
      for (let k = 0; k < 12 && printed < 3000; k++) x.consolePrint(`[vm] console line ${printed++}\n`);
    }
    com2.autoDrain = true;
    for (let t = 0; t < 1000; t++) x.consoleTurn();
    com2.transmit();
    const lines = com2.wireText().split("\n").map((l) => l.replace(/\r$/, "")).filter((l) => l.length > 0);
    const replies = lines.filter((l) => l.startsWith("{"));
    const consoleLines = lines.filter((l) => l.startsWith("["));
    expect(replies.length + consoleLines.length).toBe(lines.length);
    expect(replies.map((l) => JSON.parse(l).id)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    for (const l of consoleLines) expect(l).toMatch(/^\[vm\] console line \d+$|^\[console\] dropped \d+ bytes \(\d+ messages\): the console was not drained$/);
    expect(consoleLines.length).toBeGreaterThan(0);
  });
});

