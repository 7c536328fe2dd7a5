// In-process tests of server details the socket tests cannot reach cheaply:
// the audit byte budget, the session limit, session independence.

import { describe, expect, it } from "vitest";
import { loadHosted } from "../../src/mgmt-api/host/wasm";

const line = (o: unknown) => Buffer.from(JSON.stringify(o) + "\n");
const parse = (b: Uint8Array) =>
  Buffer.from(b)
    .toString()
    .split("\n")
    .filter((l) => l)
    .map((l) => JSON.parse(l));

describe("audit ring bounds", () => {
  it("drops the oldest records to stay within the byte budget, counting them, seq gapless", async () => {
    const h = await loadHosted({ auditRecords: 1024, auditBytes: 4000 });
    h.addTestPort("p");
    // each record keeps ~1 KiB of params: four fit in 4000 bytes
    const pad = "x".repeat(1000);
    for (let i = 0; i < 10; i++) h.feed(line({ jsonrpc: "2.0", id: i, method: "port.set", params: { port: "p", [pad]: 1 } }));
    const [list] = parse(h.feed(line({ jsonrpc: "2.0", id: "l", method: "audit.list" })));
    expect(list.result.map((r: any) => r.seq)).toEqual([8, 9, 10]);
    expect(list.result.every((r: any) => r.ok === false && r.error.code === -32602)).toBe(true);
    const [info] = parse(h.feed(line({ jsonrpc: "2.0", id: "i", method: "audit.info" })));
    expect(info.result).toMatchObject({ first_seq: 8, last_seq: 10, records: 3, dropped: 7 });
  });

  it("a record larger than the budget still goes in alone", async () => {
    const h = await loadHosted({ auditRecords: 1024, auditBytes: 100 });
    h.addTestPort("p");
    h.feed(line({ jsonrpc: "2.0", id: 1, method: "stats.reset" }));
    h.feed(line({ jsonrpc: "2.0", id: 2, method: "port.set", params: { port: "p", note: "y".repeat(500) } }));
    const [list] = parse(h.feed(line({ jsonrpc: "2.0", id: 3, method: "audit.list" })));
    expect(list.result.map((r: any) => r.seq)).toEqual([2]);
  });
});

describe("sessions", () => {
  it("each session frames its own stream; at most 16 are open", async () => {
    const h = await loadHosted();
    const a = h.x.open_session();
    const b = h.x.open_session();
    expect(a).toBeGreaterThan(0);
    expect(b).not.toBe(a);
    expect(h.feedSession(a, Buffer.from('{"jsonrpc":"2.0","id":"a",'))).toHaveLength(0);
    expect(parse(h.feedSession(b, Buffer.from('{"jsonrpc":"2.0","id":"b","method":"vm.list"}\n')))[0].id).toBe("b");
    expect(parse(h.feedSession(a, Buffer.from('"method":"vm.list"}\n')))[0].id).toBe("a");
    const more: number[] = [];
    for (let i = 0; i < 20; i++) more.push(h.x.open_session());
    expect(more.filter((s) => s > 0).length).toBe(14);
    expect(more.at(-1)).toBe(-1);
    h.x.close_session(a);
    expect(h.x.open_session()).toBe(a); // reused
  });
});
