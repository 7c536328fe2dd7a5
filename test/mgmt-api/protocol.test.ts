// Protocol tests over a real TCP socket against the hosted runner: every
// method, every error code, the framing rules, config.apply atomicity and
// audit continuity (docs/PROTOCOL.md).

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { frame, LineConn, Runner, startRunner } from "./helpers";

let r: Runner;
let c: LineConn;

beforeAll(async () => {
  r = await startRunner(["a", "b", "c", "d"]);
  c = await LineConn.open(r.mgmtPort);
});

afterAll(async () => {
  c?.close();
  const code = await r?.stop();
  expect(code).toBe(0);
});

function expectError(resp: any, code: number, field?: string) {
  expect(resp.jsonrpc).toBe("2.0");
  expect(resp.result).toBeUndefined();
  expect(resp.error.code).toBe(code);
  expect(typeof resp.error.message).toBe("string");
  if (field !== undefined) expect(resp.error.data?.field).toBe(field);
}

describe("methods", () => {
  it("system.info", async () => {
    const s = await c.req("system.info");
    expect(s.id).toBe(1);
    expect(s.result).toMatchObject({ name: "typevisor", api: 1, virt: "none" });
    expect(s.result.cpus).toBeGreaterThan(0);
    expect(s.result.memory_mib).toBeGreaterThan(0);
    expect(Object.keys(s.result)).toEqual(["name", "version", "api", "virt", "cpus", "memory_mib", "uptime_ms"]);
    expectError(await c.req("system.info", { x: 1 }), -32602, "x");
  });

  it("system.memory (an addition): heap size in whole wasm pages; the Node runtime collects by itself", async () => {
    const m = await c.req("system.memory");
    expect(Object.keys(m.result)).toEqual(["heap_bytes", "collections"]);
    expect(m.result.heap_bytes).toBeGreaterThan(0);
    expect(m.result.heap_bytes % 65536).toBe(0);
    expect(m.result.collections).toBe(0);
    expectError(await c.req("system.memory", { x: 1 }), -32602, "x");
  });

  it("port.list and port.get show new ports with defaults", async () => {
    const l = await c.req("port.list");
    expect(l.result.map((p: any) => p.name)).toEqual(["a", "b", "c", "d"]);
    const p = (await c.req("port.get", { port: "d" })).result;
    expect(p).toEqual({
      name: "d",
      kind: "test",
      mac: null,
      vlan: { mode: "access", vlan: 1 },
      qos: { ingress: null, egress: null },
      security: { max_macs: 0, allowed_macs: [] },
      mirror_dst: false,
      mtu: 1500,
      stats: {
        rx_packets: 0, rx_bytes: 0, rx_dropped: 0, tx_packets: 0, tx_bytes: 0, tx_dropped: 0,
        drops: { vlan: 0, policer: 0, shaper: 0, security: 0, storm: 0, no_buffer: 0, malformed: 0, mirror_dst: 0, filtered: 0 },
      },
    });
    expectError(await c.req("port.get", { port: "nope" }), 1, "port");
    expectError(await c.req("port.get", {}), -32602, "port");
    expectError(await c.req("port.get", { port: "bad name!" }), -32602, "port");
    expectError(await c.req("port.get", { port: 7 }), -32602, "port");
    expectError(await c.req("port.get", { port: "d", extra: true }), -32602, "extra");
  });

  it("port.set: vlan normalised, qos partial, security whole, all or nothing", async () => {
    let p = (await c.req("port.set", { port: "d", vlan: { mode: "trunk", allowed: [12, 10, 11, [100, 199], 200] } })).result;
    expect(p.vlan).toEqual({ mode: "trunk", allowed: [[10, 12], [100, 200]], native: null, native_tagged: false });
    p = (await c.req("port.set", { port: "d", qos: { ingress: { rate_kbps: 1000, burst_bytes: 1500 }, egress: { rate_kbps: 2000, burst_bytes: 3000 } } })).result;
    expect(p.qos).toEqual({ ingress: { rate_kbps: 1000, burst_bytes: 1500 }, egress: { rate_kbps: 2000, burst_bytes: 3000 } });
    // absent egress keeps, null turns off
    p = (await c.req("port.set", { port: "d", qos: { ingress: null } })).result;
    expect(p.qos).toEqual({ ingress: null, egress: { rate_kbps: 2000, burst_bytes: 3000 } });
    p = (await c.req("port.set", { port: "d", security: { max_macs: 4, allowed_macs: ["02:AA:00:00:00:01"] } })).result;
    expect(p.security).toEqual({ max_macs: 4, allowed_macs: ["02:aa:00:00:00:01"] });
    // a bad part makes the whole call fail and change nothing
    const before = (await c.req("port.get", { port: "d" })).result;
    expectError(await c.req("port.set", { port: "d", vlan: { mode: "access", vlan: 5 }, qos: { egress: { rate_kbps: 0, burst_bytes: 1 } } }), -32602, "qos.egress.rate_kbps");
    expectError(await c.req("port.set", { port: "d", vlan: { mode: "trunk", allowed: [10], native: 11 } }), -32602, "vlan.native");
    expectError(await c.req("port.set", { port: "d", vlan: { mode: "trunk", allowed: [] } }), -32602, "vlan.allowed");
    expectError(await c.req("port.set", { port: "d", vlan: { mode: "trunk" } }), -32602, "vlan.allowed");
    expectError(await c.req("port.set", { port: "d", vlan: { mode: "access", vlan: 4095 } }), -32602, "vlan.vlan");
    expectError(await c.req("port.set", { port: "d", vlan: { mode: "access", vlan: 10, allowed: [1] } }), -32602, "vlan.allowed");
    expectError(await c.req("port.set", { port: "d", vlan: { mode: "hybrid" } }), -32602, "vlan.mode");
    expectError(await c.req("port.set", { port: "d", vlan: { mode: "trunk", allowed: [[5, 3]] } }), -32602, "vlan.allowed[0]");
    expectError(await c.req("port.set", { port: "d", vlan: { mode: "trunk", allowed: new Array(4095).fill(7) } }), -32602, "vlan.allowed");
    expectError(await c.req("port.set", { port: "d", vlan: { mode: "access", vlan: 1.5 } }), -32602, "vlan.vlan");
    for (const num of ["1e3", "10.0", "-0.5", "99999999999999999999", "1E+2"]) {
      c.write(`{"jsonrpc":"2.0","id":1,"method":"port.set","params":{"port":"d","vlan":{"mode":"access","vlan":${num}}}}\n`);
      expectError(await c.json(), -32602, "vlan.vlan");
    }
    expectError(await c.req("port.set", { port: "d", vlan: { mode: "access", vlan: "10" } }), -32602, "vlan.vlan");
    expectError(await c.req("port.set", { port: "d", security: { max_macs: 1, allowed_macs: ["01:00:5e:00:00:01"] } }), -32602, "security.allowed_macs[0]");
    expectError(await c.req("port.set", { port: "d", security: { max_macs: 1, allowed_macs: ["zz"] } }), -32602, "security.allowed_macs[0]");
    expectError(await c.req("port.set", { port: "d", qos: { ingress: { rate_kbps: 1 } } }), -32602, "qos.ingress.burst_bytes");
    expectError(await c.req("port.set", { port: "d", qos: { ingress: { rate_kbps: 1, burst_bytes: 1, x: 0 } } }), -32602, "qos.ingress.x");
    expectError(await c.req("port.set", { port: "zz", vlan: { mode: "access", vlan: 2 } }), 1, "port");
    expect((await c.req("port.get", { port: "d" })).result).toEqual(before);
    // wide ranges are set a word at a time (a hostile list of them stays cheap) and normalise
    p = (await c.req("port.set", { port: "d", vlan: { mode: "trunk", allowed: [...new Array(3000).fill([1, 4094]), [30, 70], 4094] } })).result;
    expect(p.vlan.allowed).toEqual([[1, 4094]]);
    p = (await c.req("port.set", { port: "d", vlan: { mode: "trunk", allowed: [[31, 65], [2, 3], 100, [97, 99], 4093] } })).result;
    expect(p.vlan.allowed).toEqual([[2, 3], [31, 65], [97, 100], 4093]);
    p = (await c.req("port.set", { port: "d", vlan: { mode: "access", vlan: 1 }, qos: { ingress: null, egress: null }, security: { max_macs: 0, allowed_macs: [] } })).result;
    expect(p.vlan).toEqual({ mode: "access", vlan: 1 });
  });

  it("fdb.list, fdb.flush, fdb.config", async () => {
    // learn two MACs on a and b (VLAN 1)
    await r.inject("a", frame({ dst: "ff:ff:ff:ff:ff:ff", src: "02:00:00:00:0a:01" }));
    await r.inject("b", frame({ dst: "ff:ff:ff:ff:ff:ff", src: "02:00:00:00:0b:01" }));
    let list: any[] = [];
    for (let i = 0; i < 100 && list.length < 2; i++) {
      list = (await c.req("fdb.list")).result;
      if (list.length < 2) await new Promise((res) => setTimeout(res, 20));
    }
    expect(list).toEqual([
      { mac: "02:00:00:00:0a:01", vlan: 1, port: "a", static: false, age_s: expect.any(Number) },
      { mac: "02:00:00:00:0b:01", vlan: 1, port: "b", static: false, age_s: expect.any(Number) },
    ]);
    expect((await c.req("fdb.list", { port: "b" })).result.map((e: any) => e.mac)).toEqual(["02:00:00:00:0b:01"]);
    expect((await c.req("fdb.list", { vlan: 2 })).result).toEqual([]);
    expectError(await c.req("fdb.list", { port: "zz" }), 1, "port");
    expectError(await c.req("fdb.list", { vlan: 0 }), -32602, "vlan");
    expect((await c.req("fdb.flush", { port: "a" })).result).toEqual({ removed: 1 });
    expect((await c.req("fdb.flush", {})).result).toEqual({ removed: 1 });
    expect((await c.req("fdb.list")).result).toEqual([]);
    expectError(await c.req("fdb.flush", { vlan: 5000 }), -32602, "vlan");
    expect((await c.req("fdb.config")).result).toEqual({ aging_s: 300, max_entries: 8192 });
    expect((await c.req("fdb.config", { aging_s: 0 })).result).toEqual({ aging_s: 0, max_entries: 8192 });
    expect((await c.req("fdb.config", { aging_s: 60, max_entries: 100 })).result).toEqual({ aging_s: 60, max_entries: 100 });
    expectError(await c.req("fdb.config", { aging_s: 5 }), -32602, "aging_s");
    expectError(await c.req("fdb.config", { max_entries: 0 }), -32602, "max_entries");
    expectError(await c.req("fdb.config", { max_entries: 100, aging: 1 }), -32602, "aging");
    expect((await c.req("fdb.config", { aging_s: 300, max_entries: 8192 })).result).toEqual({ aging_s: 300, max_entries: 8192 });
  });

  it("stats.drops counts by reason (an addition): a frame on a VLAN the port does not carry is a vlan drop", async () => {
    expect((await c.req("stats.reset")).result).toEqual({});
    // b is access VLAN 1: a tagged frame is not allowed there
    await r.inject("b", frame({ dst: "ff:ff:ff:ff:ff:ff", src: "02:00:00:00:0b:07", vid: 42 }));
    let st: any;
    for (let i = 0; i < 100; i++) {
      st = (await c.req("port.get", { port: "b" })).result.stats;
      if (st.rx_dropped > 0) break;
      await new Promise((res) => setTimeout(res, 20));
    }
    expect(st.rx_dropped).toBe(1);
    expect(st.drops.vlan).toBe(1);
    expect(Object.entries(st.drops).filter(([k]) => k !== "vlan").every(([, v]) => v === 0)).toBe(true);
    expect((await c.req("stats.reset")).result).toEqual({});
  });

  it("port.set mtu (an addition): 46-1990, checked with the rest of the call", async () => {
    expect((await c.req("port.set", { port: "d", mtu: 9000 / 5 })).result.mtu).toBe(1800);
    expectError(await c.req("port.set", { port: "d", mtu: 45 }), -32602, "mtu");
    expectError(await c.req("port.set", { port: "d", mtu: 1991 }), -32602, "mtu");
    // a bad vlan in the same call: the mtu is not set either
    expectError(await c.req("port.set", { port: "d", mtu: 1000, vlan: { mode: "access", vlan: 0 } }), -32602, "vlan.vlan");
    expect((await c.req("port.get", { port: "d" })).result.mtu).toBe(1800);
    expect((await c.req("port.set", { port: "d", mtu: 1500 })).result.mtu).toBe(1500);
  });

  it("fdb.add and fdb.del (additions): one static entry at a time, audited", async () => {
    const last = (await c.req("audit.info")).result.last_seq;
    expect((await c.req("fdb.add", { mac: "02:00:00:00:0F:01", vlan: 1, port: "c" })).result).toEqual({ mac: "02:00:00:00:0f:01", vlan: 1, port: "c", static: true });
    // again with another port re-points it
    expect((await c.req("fdb.add", { mac: "02:00:00:00:0f:01", vlan: 1, port: "d" })).result.port).toBe("d");
    const l = (await c.req("fdb.list", { port: "d" })).result;
    expect(l).toEqual([{ mac: "02:00:00:00:0f:01", vlan: 1, port: "d", static: true, age_s: 0 }]);
    expectError(await c.req("fdb.add", { mac: "02:00:00:00:0f:01", vlan: 1, port: "zz" }), 1, "port");
    expectError(await c.req("fdb.add", { mac: "01:00:5e:00:00:01", vlan: 1, port: "c" }), -32602, "mac");
    expectError(await c.req("fdb.add", { mac: "02:00:00:00:0f:02", vlan: 4095, port: "c" }), -32602, "vlan");
    expectError(await c.req("fdb.add", { mac: "02:00:00:00:0f:02", port: "c" }), -32602, "vlan");
    expectError(await c.req("fdb.del", { mac: "02:00:00:00:0f:01", vlan: 2 }), 1, "mac");
    expect((await c.req("fdb.del", { mac: "02:00:00:00:0f:01", vlan: 1 })).result).toEqual({});
    expect((await c.req("fdb.list")).result).toEqual([]);
    const recs = (await c.req("audit.list", { since: last })).result;
    expect(recs.map((x: any) => [x.method, x.ok])).toEqual([
      ["fdb.add", true], ["fdb.add", true], ["fdb.add", false], ["fdb.add", false], ["fdb.add", false], ["fdb.add", false],
      ["fdb.del", false], ["fdb.del", true],
    ]);
  });

  it("mirror.add, mirror.list, mirror.remove", async () => {
    const m = (await c.req("mirror.add", { name: "m1", src_ports: [{ port: "a", dir: "rx" }], src_vlans: [7, 8], dst_port: "c" })).result;
    expect(m).toEqual({ name: "m1", src_ports: [{ port: "a", dir: "rx" }], src_vlans: [[7, 8]], dst_port: "c", stats: { packets: 0, bytes: 0 } });
    expect((await c.req("port.get", { port: "c" })).result.mirror_dst).toBe(true);
    expectError(await c.req("mirror.add", { name: "m1", src_ports: [{ port: "b", dir: "rx" }], dst_port: "c" }), 2);
    expectError(await c.req("mirror.add", { name: "m2", src_ports: [{ port: "c", dir: "rx" }], dst_port: "d" }), 2, "src_ports[0].port");
    expectError(await c.req("mirror.add", { name: "m2", src_ports: [{ port: "zz", dir: "rx" }], dst_port: "d" }), 1, "src_ports[0].port");
    expectError(await c.req("mirror.add", { name: "m2", src_ports: [{ port: "b", dir: "up" }], dst_port: "d" }), -32602, "src_ports[0].dir");
    expectError(await c.req("mirror.add", { name: "m2", dst_port: "d" }), -32602, "src_ports");
    expectError(await c.req("mirror.add", { name: "m2", src_vlans: [1] }), -32602, "dst_port");
    expectError(await c.req("mirror.add", { name: "m2", src_vlans: [1], dst_port: "nope" }), 1, "dst_port");
    // at most 16 mirrors: error 4
    for (let i = 2; i <= 16; i++) expect((await c.req("mirror.add", { name: `m${i}`, src_vlans: [i], dst_port: "c" })).error).toBeUndefined();
    expectError(await c.req("mirror.add", { name: "m17", src_vlans: [17], dst_port: "c" }), 4);
    const l = (await c.req("mirror.list")).result;
    expect(l.length).toBe(16);
    expect(l.map((x: any) => x.name)).toEqual([...l.map((x: any) => x.name)].sort());
    for (let i = 2; i <= 16; i++) expect((await c.req("mirror.remove", { name: `m${i}` })).result).toEqual({});
    expectError(await c.req("mirror.remove", { name: "m2" }), 1, "name");
    expect((await c.req("mirror.remove", { name: "m1" })).result).toEqual({});
    expect((await c.req("mirror.list")).result).toEqual([]);
    expect((await c.req("port.get", { port: "c" })).result.mirror_dst).toBe(false);
  });

  it("stats.reset", async () => {
    // Start from zero: the fdb test already sent a frame into a, so "rx > 0"
    // alone would be true before this test's own frame is counted (the frame
    // then lands between the reads below: rx 1, then 2).
    expect((await c.req("stats.reset")).result).toEqual({});
    await r.inject("a", frame({ dst: "ff:ff:ff:ff:ff:ff", src: "02:00:00:00:0a:02" }));
    let rx = 0;
    for (let i = 0; i < 100 && rx === 0; i++) {
      rx = (await c.req("port.get", { port: "a" })).result.stats.rx_packets;
      if (rx === 0) await new Promise((res) => setTimeout(res, 20));
    }
    // one frame in, counted once
    expect(rx).toBe(1);
    expect((await c.req("stats.reset", { port: "b" })).result).toEqual({});
    expect((await c.req("port.get", { port: "a" })).result.stats.rx_packets).toBe(rx);
    expectError(await c.req("stats.reset", { port: "zz" }), 1, "port");
    expect((await c.req("stats.reset")).result).toEqual({});
    const all = (await c.req("port.list")).result;
    for (const p of all) {
      const { drops, ...counters } = p.stats;
      expect(Object.values(counters).every((v) => v === 0)).toBe(true);
      expect(Object.values(drops).every((v) => v === 0)).toBe(true);
    }
  });

  it("vm.list is empty; vm.* answer not found", async () => {
    expect((await c.req("vm.list")).result).toEqual([]);
    for (const op of ["start", "stop", "pause", "resume", "reset"]) {
      expectError(await c.req(`vm.${op}`, { name: "guest1" }), 1, "name");
      expectError(await c.req(`vm.${op}`, {}), -32602, "name");
    }
  });
});

describe("config.get / config.apply", () => {
  it("config.get has the documented shape and key order", async () => {
    const g = (await c.req("config.get")).result;
    expect(Object.keys(g)).toEqual(["ports", "mirrors", "fdb"]);
    expect(g.ports.map((p: any) => p.name)).toEqual(["a", "b", "c", "d"]);
    expect(Object.keys(g.ports[0])).toEqual(["name", "vlan", "qos", "security"]);
    expect(Object.keys(g.fdb)).toEqual(["aging_s", "max_entries", "static"]);
  });

  it("dry run lists changes and changes nothing; apply changes all at once", async () => {
    const before = (await c.req("config.get")).result;
    const doc = {
      ports: [
        { name: "a", vlan: { mode: "access", vlan: 20 } },
        { name: "b", vlan: { mode: "trunk", allowed: [20, 30], native: 30 } },
      ],
      mirrors: [{ name: "mx", src_ports: [{ port: "a", dir: "both" }], src_vlans: [], dst_port: "d" }],
      fdb: { aging_s: 100, max_entries: 1000, static: [{ mac: "02:00:00:00:00:99", vlan: 20, port: "a" }] },
    };
    const dry = (await c.req("config.apply", { config: doc, dry_run: true })).result;
    expect(dry.changes.length).toBeGreaterThanOrEqual(5);
    expect(dry.changes.some((s: string) => s.startsWith("port a: vlan access 1 -> access 20"))).toBe(true);
    expect((await c.req("config.get")).result).toEqual(before);
    const real = (await c.req("config.apply", { config: doc })).result;
    expect(real.changes).toEqual(dry.changes);
    const after = (await c.req("config.get")).result;
    expect(after.ports[0].vlan).toEqual({ mode: "access", vlan: 20 });
    expect(after.ports[1].vlan).toEqual({ mode: "trunk", allowed: [20, 30], native: 30, native_tagged: false });
    expect(after.mirrors).toEqual([{ name: "mx", src_ports: [{ port: "a", dir: "both" }], src_vlans: [], dst_port: "d" }]);
    expect(after.fdb).toEqual({ aging_s: 100, max_entries: 1000, static: [{ mac: "02:00:00:00:00:99", vlan: 20, port: "a" }] });
    expect((await c.req("fdb.list", { vlan: 20 })).result).toEqual([{ mac: "02:00:00:00:00:99", vlan: 20, port: "a", static: true, age_s: 0 }]);
    // applying config.get's output changes nothing
    expect((await c.req("config.apply", { config: after, dry_run: true })).result.changes).toEqual([]);
  });

  it("an fdb section keeps the settings it does not list (a clarification: absent aging_s, max_entries, static keep)", async () => {
    const before = (await c.req("config.get")).result.fdb;
    expect(before.aging_s).toBe(100); // from the test above: not the default
    expect((await c.req("config.apply", { config: { fdb: { max_entries: 2000 } }, dry_run: true })).result.changes).toEqual(["fdb: max_entries 1000 -> 2000"]);
    expect((await c.req("config.apply", { config: { fdb: {} } })).result.changes).toEqual([]);
    expect((await c.req("config.get")).result.fdb).toEqual(before);
    // an empty static list is listed, so it clears them
    expect((await c.req("config.apply", { config: { fdb: { static: [] } }, dry_run: true })).result.changes.length).toBe(1);
  });

  it("one bad field anywhere changes nothing (atomicity)", async () => {
    const before = (await c.req("config.get")).result;
    const auditBefore = (await c.req("audit.list")).result;
    const good = { name: "a", vlan: { mode: "access", vlan: 33 } };
    const cases: Array<[unknown, number, string]> = [
      [{ ports: [good, { name: "b", vlan: { mode: "access", vlan: 4095 } }] }, -32602, "config.ports[1].vlan.vlan"],
      [{ ports: [good, { name: "nope", vlan: { mode: "access", vlan: 3 } }] }, 1, "config.ports[1].name"],
      [{ ports: [good], mirrors: [{ name: "m", src_ports: [{ port: "b", dir: "rx" }], dst_port: "b" }] }, 2, "config.mirrors[0].src_ports[0].port"],
      [{ ports: [good], fdb: { aging_s: 1 } }, -32602, "config.fdb.aging_s"],
      [{ ports: [good], fdb: { static: [{ mac: "ff:ff:ff:ff:ff:ff", vlan: 1, port: "a" }] } }, -32602, "config.fdb.static[0].mac"],
      [{ ports: [good, good] }, 2, "config.ports[1].name"],
      [{ ports: [good], colour: "red" }, -32602, "config.colour"],
      [{ ports: [{ ...good, qos: { ingress: { rate_kbps: 1, burst_bytes: 2e9 } } }] }, -32602, "config.ports[0].qos.ingress.burst_bytes"],
    ];
    for (const [cfg, code, field] of cases) {
      expectError(await c.req("config.apply", { config: cfg }), code, field);
      expectError(await c.req("config.apply", { config: cfg, dry_run: true }), code, field);
    }
    expectError(await c.req("config.apply", {}), -32602, "config");
    expectError(await c.req("config.apply", { config: [] }), -32602, "config");
    expectError(await c.req("config.apply", { config: {}, dry_run: "yes" }), -32602, "dry_run");
    expect((await c.req("config.get")).result).toEqual(before);
    // failures without dry_run were audited, dry runs not
    const recs = (await c.req("audit.list", { since: auditBefore.at(-1)?.seq ?? 0 })).result;
    expect(recs.length).toBe(cases.length + 3);
    expect(recs.every((x: any) => x.method === "config.apply" && x.ok === false && typeof x.error.code === "number")).toBe(true);
  });
});

describe("audit", () => {
  it("records exactly the state-changing calls, with gapless seq", async () => {
    const last = ((await c.req("audit.list")).result as any[]).at(-1)?.seq ?? 0;
    await c.req("port.list");
    await c.req("config.get");
    await c.req("fdb.config");
    await c.req("fdb.config", {});
    await c.req("config.apply", { config: {}, dry_run: true });
    await c.req("stats.reset");
    await c.req("fdb.config", { aging_s: 300 });
    await c.req("port.set", { port: "zz" });
    await c.req("vm.start", { name: "x" });
    await c.req("mirror.remove", { name: "none" });
    await c.req("fdb.flush");
    const recs = (await c.req("audit.list", { since: last })).result;
    expect(recs.map((x: any) => [x.method, x.ok])).toEqual([
      ["stats.reset", true],
      ["fdb.config", true],
      ["port.set", false],
      ["vm.start", false],
      ["mirror.remove", false],
      ["fdb.flush", true],
    ]);
    recs.forEach((x: any, i: number) => expect(x.seq).toBe(last + 1 + i));
    expect(recs[2].error.code).toBe(1);
    expect(recs[1].params).toEqual({ aging_s: 300 });
    expect(Object.keys(recs[0])).toEqual(["seq", "ts_ms", "method", "params", "ok"]);
    expect((await c.req("audit.list", { since: last + 5 })).result.map((x: any) => x.seq)).toEqual([last + 6]);
    expectError(await c.req("audit.list", { since: -1 }), -32602, "since");
    expectError(await c.req("audit.list", { since: "1" }), -32602, "since");
  });

  it("a full ring drops the oldest and counts them", async () => {
    const r2 = await startRunner(["p"], ["--audit-records", "8"]);
    const c2 = await LineConn.open(r2.mgmtPort);
    try {
      for (let i = 0; i < 20; i++) await c2.req("stats.reset", undefined, i);
      const recs = (await c2.req("audit.list")).result;
      expect(recs.map((x: any) => x.seq)).toEqual([13, 14, 15, 16, 17, 18, 19, 20]);
      const info = (await c2.req("audit.info")).result;
      expect(info).toMatchObject({ first_seq: 13, last_seq: 20, records: 8, dropped: 12 });
    } finally {
      c2.close();
      expect(await r2.stop()).toBe(0);
    }
  });
});

describe("framing and JSON-RPC errors", () => {
  it("garbage, non-objects, batches and bad requests", async () => {
    c.write("garbage\n");
    expect(await c.json()).toEqual({ jsonrpc: "2.0", id: null, error: { code: -32700, message: expect.any(String) } });
    c.write("42\n");
    expectError(await c.json(), -32700);
    c.write('"str"\n');
    expectError(await c.json(), -32700);
    c.write('[{"jsonrpc":"2.0","id":1,"method":"system.info"}]\n');
    const b = await c.json();
    expectError(b, -32600);
    expect(b.id).toBeNull();
    c.write("[]\n");
    expectError(await c.json(), -32600);
    c.write('{"jsonrpc":"1.0","id":5,"method":"system.info"}\n');
    let e = await c.json();
    expectError(e, -32600);
    expect(e.id).toBe(5);
    c.write('{"id":6,"method":"system.info"}\n');
    expectError(await c.json(), -32600);
    c.write('{"jsonrpc":"2.0","id":7,"method":5}\n');
    expectError(await c.json(), -32600);
    c.write('{"jsonrpc":"2.0","id":8,"method":"system.info","extra":1}\n');
    expectError(await c.json(), -32600);
    c.write('{"jsonrpc":"2.0","id":{"a":1},"method":"system.info"}\n');
    e = await c.json();
    expectError(e, -32600);
    expect(e.id).toBeNull();
    c.write('{"jsonrpc":"2.0","id":1.5,"method":"system.info"}\n');
    expectError(await c.json(), -32600);
    c.write('{"jsonrpc":"2.0","id":9,"method":"system.info","params":3}\n');
    expectError(await c.json(), -32600);
    c.write('{"jsonrpc":"2.0","id":10,"method":"port.get","params":["a"]}\n');
    expectError(await c.json(), -32602, "params");
    c.write('{"jsonrpc":"2.0","id":11,"method":"no.such"}\n');
    e = await c.json();
    expectError(e, -32601);
    expect(e.id).toBe(11);
    c.write('{"jsonrpc":"2.0","id":12,"id":13,"method":"system.info"}\n');
    expectError(await c.json(), -32700); // duplicate member names
    c.sock.write(Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":"'), Buffer.from([0xff]), Buffer.from('","method":"system.info"}\n')]));
    expectError(await c.json(), -32700); // not UTF-8
    c.sock.write(Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":"'), Buffer.from([0xc0, 0x80]), Buffer.from('","method":"system.info"}\n')]));
    expectError(await c.json(), -32700); // overlong UTF-8
    c.write(`${"[".repeat(40)}${"]".repeat(40)}\n`);
    expectError(await c.json(), -32600); // nesting beyond the reader's bound
    expect(c.pendingLines()).toBe(0);
    expect((await c.req("system.info")).result.name).toBe("typevisor");
  });

  it("id null is a request; an absent id is a notification", async () => {
    c.write('{"jsonrpc":"2.0","id":null,"method":"system.info"}\n');
    const n = await c.json();
    expect(n.id).toBeNull();
    expect(n.result.name).toBe("typevisor");
    c.write('{"jsonrpc":"2.0","id":"s-1","method":"system.info"}\n');
    expect((await c.json()).id).toBe("s-1");
    // notifications: executed (and audited), never answered, even on error
    const last = ((await c.req("audit.list")).result as any[]).at(-1)?.seq ?? 0;
    c.write('{"jsonrpc":"2.0","method":"port.set","params":{"port":"b","vlan":{"mode":"access","vlan":77}}}\n');
    c.write('{"jsonrpc":"2.0","method":"no.such"}\n');
    c.write('{"jsonrpc":"2.0","method":"port.set","params":{"port":"zz"}}\n');
    const r1 = await c.req("port.get", { port: "b" }, 99);
    expect(r1.id).toBe(99);
    expect(r1.result.vlan).toEqual({ mode: "access", vlan: 77 });
    const recs = (await c.req("audit.list", { since: last })).result;
    expect(recs.map((x: any) => [x.method, x.ok])).toEqual([
      ["port.set", true],
      ["port.set", false],
    ]);
  });

  it("blank lines are ignored, \\r\\n accepted, lines may arrive in pieces", async () => {
    c.write("\n\r\n   \n\t\r\n");
    c.write('{"jsonrpc":"2.0","id":21,"method":"system.info"}\r\n');
    expect((await c.json()).id).toBe(21);
    const req = Buffer.from('{"jsonrpc":"2.0","id":22,"method":"system.info"}\n{"jsonrpc":"2.0","id":23,"method":"vm.list"}\n');
    for (let i = 0; i < req.length; i += 7) c.sock.write(req.subarray(i, i + 7));
    expect((await c.json()).id).toBe(22);
    expect((await c.json()).id).toBe(23);
    expect(c.pendingLines()).toBe(0);
  });

  it("the 65536-byte limit counts every byte before \\n, \\r included", async () => {
    const body = (id: number, total: number) => {
      const head = `{"jsonrpc":"2.0","id":${id},"method":"system.info"`;
      return head + " ".repeat(total - head.length - 1) + "}";
    };
    // exactly 65536 bytes: accepted
    c.write(body(31, 65536) + "\n");
    expect((await c.json()).id).toBe(31);
    // 65535 + \r = 65536: accepted
    c.write(body(32, 65535) + "\r\n");
    expect((await c.json()).id).toBe(32);
    // 65536 + \r = 65537: rejected when the line ends
    c.write(body(33, 65536) + "\r\n");
    let e = await c.json();
    expectError(e, -32600);
    expect(e.id).toBeNull();
    // far over the limit, in pieces: one error, then the stream goes on
    const big = "x".repeat(200_000);
    c.write(big.slice(0, 70_000));
    c.write(big.slice(70_000) + "\n");
    e = await c.json();
    expectError(e, -32600);
    c.write('{"jsonrpc":"2.0","id":34,"method":"system.info"}\n');
    expect((await c.json()).id).toBe(34);
    expect(c.pendingLines()).toBe(0);
  });

  it("responses come in request order, one per request", async () => {
    let s = "";
    for (let i = 0; i < 200; i++) s += JSON.stringify({ jsonrpc: "2.0", id: i, method: i % 2 ? "port.list" : "system.info" }) + "\n";
    c.write(s);
    for (let i = 0; i < 200; i++) expect((await c.json()).id).toBe(i);
  });

  it("each connection has its own framing", async () => {
    const c2 = await LineConn.open(r.mgmtPort);
    try {
      c2.write('{"jsonrpc":"2.0","id":1,');
      c.write('{"jsonrpc":"2.0","id":2,"method":"system.info"}\n');
      expect((await c.json()).id).toBe(2);
      c2.write('"method":"system.info"}\n');
      expect((await c2.json()).id).toBe(1);
    } finally {
      c2.close();
    }
  });
});
