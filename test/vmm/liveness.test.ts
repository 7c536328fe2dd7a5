// Liveness of the serial channels in QEMU TCG (AMD-V): management answers
// from the first byte, a client that stops reading loses nothing and stalls
// no VM (back-pressure), and a console nobody drains drops whole lines,
// says so in one line, and stalls nothing either. The figures they print
// are the ones docs/MEASURED.md records.
import { writeFileSync } from "node:fs";
import type { Socket } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { root } from "../../scripts/lib/emulators";
import { buildVmmImage, connectRetry, QemuSession, Rpc } from "./helpers";

const CPU = "qemu64,+svm,+npt";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Collects the lines a socket receives, in order. */
class Lines {
  lines: string[] = [];
  private buf = "";
  constructor(readonly sock: Socket) {
    sock.on("data", (d: Buffer) => {
      this.buf += d.toString("latin1");
      let i;
      while ((i = this.buf.indexOf("\n")) >= 0) {
        this.lines.push(this.buf.slice(0, i).replace(/\r$/, ""));
        this.buf = this.buf.slice(i + 1);
      }
    });
  }

  async waitCount(n: number, ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (this.lines.length < n) {
      if (Date.now() > end) throw new Error(`${this.lines.length} of ${n} lines within ${ms} ms`);
      await sleep(50);
    }
  }
}

function request(id: number, method: string): string {
  return JSON.stringify({ jsonrpc: "2.0", id, method }) + "\n";
}

/** Exit total of VM `name` in a vm.list reply line, or -1. */
function exitsOf(line: string, name: string): number {
  const vm = (JSON.parse(line).result as { name: string; exits: { total: number } }[]).find((v) => v.name === name);
  return vm ? vm.exits.total : -1;
}

describe("serial liveness (QEMU TCG, AMD-V)", () => {
  const sessions: QemuSession[] = [];
  beforeAll(async () => {
    await buildVmmImage();
  });
  afterAll(() => {
    for (const q of sessions) q.stop();
  });

  it("answers requests written to COM2 before the CPU starts, from the first byte", async () => {
    const q = new QemuSession("demo", { cpu: CPU, paused: true });
    sessions.push(q);
    const c = new Lines(await connectRetry(q.socketPath));
    // 40 requests (1,800 bytes), written while the CPU is stopped: the first
    // byte sits in the UART when the monitor initialises it
    let all = "";
    for (let id = 1; id <= 40; id++) all += request(id, id % 2 ? "system.info" : "vm.list");
    c.sock.write(all);
    await sleep(300);
    expect(q.serial).toBe(""); // nothing ran yet
    await q.cont();
    await c.waitCount(40, 120_000);
    for (let i = 0; i < 40; i++) {
      const r = JSON.parse(c.lines[i]);
      expect(r.error).toBeUndefined();
      expect(r.id).toBe(i + 1);
      if (i % 2 === 0) expect(r.result.name).toBe("typevisor");
      else expect(Array.isArray(r.result)).toBe(true);
    }
    expect(q.serial).toMatch(/\[boot\] ready/);
  });

  it("a client that queues 600 vm.list and stops reading for 10 s: every reply intact and in order, VMs ran meanwhile", async () => {
    const q = new QemuSession("demo start=counter", { cpu: CPU });
    sessions.push(q);
    const sock = await connectRetry(q.socketPath);
    const c = new Lines(sock);
    sock.write(request(0, "vm.list"));
    await c.waitCount(1, 120_000);
    const exits0 = exitsOf(c.lines[0], "counter");
    expect(exits0).toBeGreaterThanOrEqual(0);

    const N = 600;
    sock.pause();
    let all = "";
    for (let id = 1; id <= N; id++) all += request(id, "vm.list");
    sock.write(all);
    await sleep(1000); // the monitor fills the socket and backs up
    const com1Start = q.serial.length;
    await sleep(10_000);
    const during = q.serial.slice(com1Start);
    sock.resume();
    await c.waitCount(N + 1, 180_000);

    let corrupt = 0;
    let outOfOrder = 0;
    const exits: number[] = [];
    for (let i = 1; i <= N; i++) {
      try {
        const r = JSON.parse(c.lines[i]);
        if (r.id !== i) outOfOrder++;
        exits.push(exitsOf(c.lines[i], "counter"));
      } catch {
        corrupt++;
      }
    }
    let maxGap = 0;
    for (let i = 1; i < exits.length; i++) maxGap = Math.max(maxGap, exits[i] - exits[i - 1]);
    const dots = during.split("\n").filter((l) => l === "[counter] .").length;
    const replyBytes = c.lines.slice(1).reduce((s, l) => s + l.length + 1, 0);
    console.log(
      `back-pressure: ${c.lines.length - 1} replies (${replyBytes} bytes), ${corrupt} corrupt, ${outOfOrder} out of order; ` +
        `during the 10 s stall COM1 grew ${during.length} bytes (${dots} counter lines); ` +
        `counter exits ${exits0} -> ${exits[exits.length - 1]}, largest gap between consecutive replies ${maxGap}`,
    );
    expect(c.lines.length).toBe(N + 1);
    expect(corrupt).toBe(0);
    expect(outOfOrder).toBe(0);
    // the VMs ran during the stall: the counter printed and exited
    expect(dots).toBeGreaterThanOrEqual(2);
    // the server stopped taking requests during the stall (it was not just
    // that the socket buffered every reply): two consecutive replies are
    // about the whole stall apart in the counter's exits (16,384 CPUID exits per line)
    expect(maxGap).toBeGreaterThanOrEqual((dots - 1) * 16384);
    for (let i = 1; i < exits.length; i++) expect(exits[i]).toBeGreaterThanOrEqual(exits[i - 1]);
    // and it still answers
    sock.write(request(N + 1, "system.info"));
    await c.waitCount(N + 2, 30_000);
    expect(JSON.parse(c.lines[N + 1]).id).toBe(N + 1);
  });

  it("a COM1 reader that stalls for 10 s: whole lines dropped, one line says so, the VMs and management keep going", async () => {
    // a guest that floods its debug console: out 0xE9 in a loop, one exit per byte
    // (mov al, 'x'; 1: out 0xe9, al; jmp 1b)
    const flood = join(root, "build/vmm/flood.bin");
    writeFileSync(flood, Buffer.from([0xb0, 0x78, 0xe6, 0xe9, 0xeb, 0xfc]));
    const q = new QemuSession("loglevel=info", { cpu: CPU, initrd: `${flood} name=flood` });
    sessions.push(q);
    const rpc = await Rpc.open(q.socketPath, 120_000);
    const floodExits = async () => {
      const t = Date.now();
      const vms = (await rpc.call("vm.list", undefined, 10_000)) as { name: string; exits: { total: number } }[];
      return { exits: vms.find((v) => v.name === "flood")!.exits.total, ms: Date.now() - t };
    };
    await q.waitFor(/^\[flood\] x{160}$/m, 120_000);
    const a = await floodExits();
    await sleep(2000);
    const b = await floodExits();
    const rateBefore = (b.exits - a.exits) / 2;

    q.pauseConsole();
    const start = await floodExits();
    const samples: { exits: number; ms: number }[] = [];
    for (let i = 0; i < 10; i++) {
      await sleep(1000);
      samples.push(await floodExits());
    }
    const rateDuring = (samples[samples.length - 1].exits - start.exits) / 10;
    q.resumeConsole();
    const m = await q.waitFor(/^\[console\] dropped (\d+) bytes \((\d+) messages\): the console was not drained$/m, 60_000);
    await sleep(1000);
    const notices = q.serial.split("\n").filter((l) => l.startsWith("[console] dropped"));
    const slowest = Math.max(...samples.map((s) => s.ms));
    console.log(
      `COM1 stall: ${notices.length} drop line(s), first "${m[0]}"; flood exits/s before ${rateBefore.toFixed(0)}, ` +
        `during the stall ${rateDuring.toFixed(0)}; slowest vm.list during the stall ${slowest} ms`,
    );
    expect(Number(m[1])).toBeGreaterThan(0);
    expect(Number(m[2])).toBeGreaterThan(0);
    expect(notices.length).toBe(1);
    // every flood line that was printed is whole: messages are dropped whole
    const floodLines = q.serial.split("\n").slice(0, -1).filter((l) => l.startsWith("[flood]"));
    expect(floodLines.length).toBeGreaterThan(10);
    for (const l of floodLines) expect(l).toBe(`[flood] ${"x".repeat(160)}`);
    // no stall: management answered and the guest kept exiting at a comparable rate
    expect(slowest).toBeLessThan(5000);
    for (let i = 1; i < samples.length; i++) expect(samples[i].exits).toBeGreaterThan(samples[i - 1].exits);
    expect(rateDuring).toBeGreaterThan(rateBefore / 10);
  });
});
