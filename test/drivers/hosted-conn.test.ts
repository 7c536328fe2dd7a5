// Back-pressure on the hosted runner's management connections
// (src/mgmt-api/host/conn.ts): with a fake socket, reading stops exactly
// while write() refuses more and resumes on 'drain'; over real TCP, a client
// that stops reading gets every reply intact and in order afterwards, the
// runner stopped serving it meanwhile, and another client was served throughout.
import { EventEmitter } from "node:events";
import net from "node:net";
import { describe, expect, it } from "vitest";
import { FEED_PIECE, serveConnection } from "../../src/mgmt-api/host/conn";
import { LineConn, startRunner } from "../mgmt-api/helpers";

/** A socket whose output holds `limit` bytes until the test drains it. */
class FakeConn extends EventEmitter {
  buffered = 0;
  sent: Buffer[] = [];
  paused = false;
  writableNeedDrain = false;
  constructor(private limit: number) {
    super();
  }
  write(b: Uint8Array): boolean {
    this.sent.push(Buffer.from(b));
    this.buffered += b.length;
    if (this.buffered >= this.limit) this.writableNeedDrain = true;
    return !this.writableNeedDrain;
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  /** The peer took everything. */
  drain(): void {
    this.buffered = 0;
    if (this.writableNeedDrain) {
      this.writableNeedDrain = false;
      this.emit("drain");
    }
  }
}

describe("hosted runner connection back-pressure", () => {
  it("feeds a piece at a time, pauses reading while the socket refuses output, resumes on drain, loses nothing", () => {
    const conn = new FakeConn(10_000);
    let fed = 0;
    // every request byte produces 10 reply bytes, numbered so order is checkable
    const feed = (piece: Uint8Array) => {
      const out = Buffer.alloc(piece.length * 10);
      for (let i = 0; i < piece.length; i++) out.writeUInt32LE(fed + i, i * 10);
      fed += piece.length;
      return out;
    };
    const stats = serveConnection(conn, feed);
    conn.emit("data", Buffer.alloc(50_000));
    // stopped after the first piece whose replies filled the socket
    expect(fed).toBe(FEED_PIECE);
    expect(conn.paused).toBe(true);
    expect(stats.held).toBe(50_000 - FEED_PIECE);
    expect(stats.pauses).toBe(1);
    let rounds = 0;
    while (conn.paused && rounds++ < 100) conn.drain();
    expect(fed).toBe(50_000);
    expect(conn.paused).toBe(false);
    expect(stats.held).toBe(0);
    const all = Buffer.concat(conn.sent);
    expect(all.length).toBe(500_000);
    for (let i = 0; i < 50_000; i += 997) expect(all.readUInt32LE(i * 10)).toBe(i);
    // a socket that takes everything never pauses
    const open = new FakeConn(Infinity);
    const s2 = serveConnection(open, feed);
    open.emit("data", Buffer.alloc(20_000));
    expect(open.paused).toBe(false);
    expect(s2.pauses).toBe(0);
  });

  it("over TCP: a client that stops reading for 5 s loses nothing, is not served meanwhile, and does not hold up another client", async () => {
    const r = await startRunner([], ["--audit-records", "1024"]);
    try {
      const fill = await LineConn.open(r.mgmtPort);
      // 1,024 audit records make each audit.list reply ~100 KB
      let setup = "";
      for (let i = 0; i < 1024; i++) setup += JSON.stringify({ jsonrpc: "2.0", id: i, method: "stats.reset" }) + "\n";
      fill.write(setup);
      let last = { id: -1 };
      for (let i = 0; i < 1024; i++) last = await fill.json(60_000);
      expect(last.id).toBe(1023);
      fill.close();

      const sock = net.connect(r.mgmtPort, "127.0.0.1");
      await new Promise<void>((res, rej) => {
        sock.once("connect", () => res());
        sock.once("error", rej);
      });
      let buf = "";
      const lines: string[] = [];
      sock.on("data", (d: Buffer) => {
        buf += d.toString("utf8");
        let i;
        while ((i = buf.indexOf("\n")) >= 0) {
          lines.push(buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
      });
      sock.pause();
      // 300 pairs: a ~100 KB reply, then system.info with the runner's uptime
      const PAIRS = 300;
      let reqs = "";
      for (let i = 0; i < PAIRS; i++) {
        reqs += JSON.stringify({ jsonrpc: "2.0", id: 2 * i, method: "audit.list" }) + "\n";
        reqs += JSON.stringify({ jsonrpc: "2.0", id: 2 * i + 1, method: "system.info" }) + "\n";
      }
      sock.write(reqs);
      const t0 = Date.now();
      // meanwhile another client is served promptly
      const other = await LineConn.open(r.mgmtPort);
      const slowest: number[] = [];
      while (Date.now() - t0 < 5000) {
        const t = Date.now();
        other.write(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "system.info" }) + "\n");
        expect((await other.json(5000)).result.name).toBe("typevisor");
        slowest.push(Date.now() - t);
        await new Promise((res) => setTimeout(res, 250));
      }
      other.close();
      sock.resume();
      const end = Date.now() + 120_000;
      while (lines.length < 2 * PAIRS && Date.now() < end) await new Promise((res) => setTimeout(res, 50));
      sock.destroy();
      expect(lines.length).toBe(2 * PAIRS);
      const uptimes: number[] = [];
      let replyBytes = 0;
      lines.forEach((l, i) => {
        replyBytes += l.length + 1;
        const m = JSON.parse(l);
        expect(m.id).toBe(i);
        if (i % 2 === 0) expect(m.result.length).toBe(1024);
        else uptimes.push(m.result.uptime_ms);
      });
      let gap = 0;
      for (let i = 1; i < uptimes.length; i++) gap = Math.max(gap, uptimes[i] - uptimes[i - 1]);
      console.log(
        `hosted TCP back-pressure: ${lines.length} replies (${replyBytes} bytes) intact and in order; ` +
          `largest uptime gap between consecutive replies ${gap} ms; other client's slowest answer ${Math.max(...slowest)} ms`,
      );
      // the runner stopped taking this client's requests while it did not read
      // (most of the 5 s: filling the socket buffers first takes a moment on a loaded machine;
      // without back-pressure the gap is 0 ms)
      expect(gap).toBeGreaterThanOrEqual(2500);
      expect(Math.max(...slowest)).toBeLessThan(3000);
    } finally {
      expect(await r.stop()).toBe(0);
    }
  });
});
