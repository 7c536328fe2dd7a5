// net.stats and net.stats_reset (src/mgmt-api/net-methods.ts) as docs/PROTOCOL.md states them, over two
// virtio-net devices on one switch driven by the NIC loop (test/devices/virtio-net/entry.ts), each figure
// compared with the device's, the port's or the loop's own counter.
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Exports } from "../virtio/harness";
import { C, F_EVENT_IDX, F_MAC, F_STATUS, F_VERSION_1, GuestNic, MAC_A, MAC_B, RAM, frame, loadNet } from "../devices/virtio-net/guest";

let x: Exports;
const FEATURES = [F_VERSION_1, F_MAC, F_STATUS, F_EVENT_IDX];
const TSC_KHZ = 2_596_131;

beforeAll(async () => {
  x = (await loadNet()).x;
}, 300_000);
beforeEach(() => x.reset(RAM, 1024));

let ids = 0;
/** One request through the server as the monitor wires it; the parsed reply. */
function call(method: string, params?: object): any {
  const req: any = { jsonrpc: "2.0", id: ++ids, method };
  if (params !== undefined) req.params = params;
  const reply = JSON.parse(x.mgmtCall(JSON.stringify(req), BigInt(TSC_KHZ)));
  expect(reply.id).toBe(ids);
  return reply;
}

/** `n` frames a -> b (b has only `rxBuffers` to put them in), kicked and carried by the NIC loop until idle. */
function traffic(n: number, rxBuffers: number): void {
  const a = new GuestNic(x, 0), b = new GuestNic(x, 1);
  a.init(FEATURES);
  b.init(FEATURES);
  b.postRx(0, rxBuffers);
  a.send(Array.from({ length: n }, (_, k) => frame(MAC_B, MAC_A, 60 + k, k)));
  x.kick(0, 1);
  for (let t = 0; t < 20 && x.loopTurn(BigInt(t)) > 0; t++);
}

function nicOf(vm: number, name: string) {
  return {
    port: name,
    rx_packets: Number(x.counter(vm, C.rxPackets)),
    rx_no_buffer: Number(x.counter(vm, C.rxNoBuffer)),
    rx_too_small: Number(x.counter(vm, C.rxTooSmall)),
    tx_packets: Number(x.counter(vm, C.txPackets)),
    tx_malformed: Number(x.counter(vm, C.txMalformed)),
    rx_interrupts: Number(x.counter(vm, C.rxIrq)),
    tx_interrupts: Number(x.counter(vm, C.txIrq)),
    busy_turns: Number(x.busyTurns(vm)),
    faults: Number(x.faultCount(vm)),
  };
}

describe("net.stats", () => {
  it("reports each NIC's device counters and the loop's data path cost", () => {
    traffic(150, 100);
    const r = call("net.stats").result;
    expect(Object.keys(r)).toEqual(["tsc_khz", "nics", "datapath"]);
    expect(r.tsc_khz).toBe(TSC_KHZ);
    expect(r.nics).toEqual([nicOf(0, "a"), nicOf(1, "b")]);
    // the traffic really moved and really ran out of buffers, so the figures above were not all zero
    expect(r.nics[0].tx_packets).toBe(150);
    expect(r.nics[1].rx_packets).toBe(100);
    expect(r.nics[1].busy_turns + r.nics[0].busy_turns).toBeGreaterThan(0);
    const d = r.datapath;
    expect(Object.keys(d)).toEqual(["turns", "frames", "cycles", "idle_turns", "idle_cycles", "cycles_per_frame"]);
    expect(d.frames).toBe(Number(x.dpFrames()));
    expect(d.idle_turns).toBe(Number(x.dpIdleTurns()));
    expect(d.turns).toBeGreaterThan(0);
    expect(d.cycles).toBeGreaterThan(0);
    // the histogram: [low, frames] per non-empty bucket, lowest first, its frames the total
    const lows = d.cycles_per_frame.map((b: number[]) => b[0]);
    expect(lows).toEqual([...lows].sort((p: number, q: number) => p - q));
    expect(new Set(lows).size).toBe(lows.length);
    expect(d.cycles_per_frame.every((b: number[]) => b[1] > 0)).toBe(true);
    expect(d.cycles_per_frame.reduce((s: number, b: number[]) => s + b[1], 0)).toBe(d.frames);
  });

  it("is all zeros on NICs that moved nothing", () => {
    const r = call("net.stats").result;
    expect(r.nics.map((n: any) => n.port)).toEqual(["a", "b"]);
    for (const n of r.nics) for (const [k, v] of Object.entries(n)) if (k !== "port") expect(v, k).toBe(0);
    expect(r.datapath).toEqual({ turns: 0, frames: 0, cycles: 0, idle_turns: 0, idle_cycles: 0, cycles_per_frame: [] });
  });

  it("net.stats_reset clears the data path figures only; the NIC counters keep counting", () => {
    traffic(40, 64);
    const before = call("net.stats").result;
    expect(before.datapath.frames).toBeGreaterThan(0);
    expect(call("net.stats_reset").result).toEqual({});
    const after = call("net.stats").result;
    expect(after.datapath).toEqual({ turns: 0, frames: 0, cycles: 0, idle_turns: 0, idle_cycles: 0, cycles_per_frame: [] });
    expect(after.nics).toEqual(before.nics);
    expect(Number(x.dpFrames())).toBe(0);
  });

  it("refuses params members (-32602 naming the member) and changes nothing; other methods reach the switch", () => {
    traffic(10, 64);
    const frames = Number(x.dpFrames());
    for (const m of ["net.stats", "net.stats_reset"]) {
      const e = call(m, { port: "a" }).error;
      expect(e.code, m).toBe(-32602);
      expect(e.data.field, m).toBe("port");
    }
    expect(Number(x.dpFrames())).toBe(frames);
    expect(call("port.get", { port: "a" }).result.stats.rx_packets).toBe(10); // the switch's set, behind NetMethods
    expect(call("net.nope").error.code).toBe(-32601);
  });
});
