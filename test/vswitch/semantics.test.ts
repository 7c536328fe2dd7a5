// One test (at least) per rule of MGMT-API.md "Switching semantics" and "Details", plus the README's own choices.
import { beforeAll, beforeEach, describe, expect, test } from "vitest";
import { readFileSync } from "node:fs";
import { Sw, loadSw, buildEntry, frame, hex, RX_PACKETS, RX_BYTES, RX_DROPPED, TX_PACKETS, TX_BYTES, TX_DROPPED, DROP_BASE, DROP } from "./harness";

let sw: Sw;
beforeAll(async () => {
  sw = await loadSw();
});
beforeEach(() => sw.reset(4096, 64));

const A = "02:00:00:00:00:0a", B = "02:00:00:00:00:0b", C = "02:00:00:00:00:0c", BC = "ff:ff:ff:ff:ff:ff", MC = "01:00:5e:00:00:01";
const S = 1_000_000_000; // ns per second
const drops = (p: number, why: keyof typeof DROP): number => sw.stat(p, DROP_BASE + DROP[why]);
const tagOf = (f: Uint8Array): { tpid: number; tci: number } | null =>
  (f[12] << 8 | f[13]) === 0x8100 || (f[12] << 8 | f[13]) === 0x88a8 ? { tpid: f[12] << 8 | f[13], tci: f[14] << 8 | f[15] } : null;

function ports(...names: string[]): number[] {
  return names.map((n) => sw.addPort(n));
}

describe("access ports", () => {
  test("untagged and priority-tagged frames join the port VLAN and leave untagged; other VIDs are dropped", () => {
    const [a, b] = ports("a", "b");
    sw.access("a", 10);
    sw.access("b", 10);
    sw.inject(a, frame({ dst: BC, src: A }), 0);
    sw.inject(a, frame({ dst: BC, src: A, tag: { vid: 0, pcp: 5 } }), 0);
    sw.inject(a, frame({ dst: BC, src: A, tag: { vid: 10 } }), 0);
    sw.inject(a, frame({ dst: BC, src: A, tag: { vid: 11 } }), 0);
    const out = sw.drain(b, 0);
    expect(out.length).toBe(2);
    for (const f of out) expect(tagOf(f)).toBeNull();
    expect(out.map((f) => f.length)).toEqual([60, 64]); // PCP 5 leaves first; 64 - 4 bytes of tag
    expect(drops(a, "vlan")).toBe(2);
    expect(sw.stat(a, RX_DROPPED)).toBe(2);
  });
  test("ports of other VLANs receive nothing", () => {
    const [a, b, c] = ports("a", "b", "c");
    sw.access("a", 10);
    sw.access("b", 10);
    sw.access("c", 20);
    sw.inject(a, frame({ dst: BC, src: A }), 0);
    expect(sw.drain(b, 0).length).toBe(1);
    expect(sw.drain(c, 0).length).toBe(0);
  });
});

describe("trunk ports", () => {
  test("allowed must be non-empty; native must be in allowed; VID 4095 cannot be allowed", () => {
    ports("t");
    expect(sw.trunk("t", [], null)).toMatch(/^-32602 vlan.allowed/);
    expect(sw.trunk("t", [10, 10], 20)).toMatch(/^-32602 vlan.native/);
    expect(sw.trunk("t", [4090, 4095], null)).toMatch(/^-32602/);
    expect(sw.trunk("nope", [10, 10], null)).toMatch(/^1 /);
    expect(sw.x.portVlanString("t")).toBe("access 1"); // failed calls changed nothing
  });
  test("VLAN sets are normalised", () => {
    ports("t");
    expect(sw.trunk("t", [20, 20, 10, 10, 11, 12, 100, 199, 150, 200], 11)).toBe("");
    expect(sw.x.portVlanString("t")).toBe("trunk [10-12,20,100-200] native 11");
  });
  test("tagged frames in allowed are accepted, others dropped; untagged join native or are dropped", () => {
    const [t, a, u] = ports("t", "a", "u");
    sw.trunk("t", [10, 20], null);
    sw.access("a", 10);
    sw.trunk("u", [10, 10, 30, 30], 30);
    sw.inject(t, frame({ dst: BC, src: A, tag: { vid: 10 } }), 0);
    sw.inject(t, frame({ dst: BC, src: A, tag: { vid: 30 } }), 0);
    sw.inject(t, frame({ dst: BC, src: A }), 0); // no native: dropped
    sw.inject(t, frame({ dst: BC, src: A, tag: { vid: 0 } }), 0); // priority tag, no native: dropped
    expect(sw.drain(a, 0).length).toBe(1);
    expect(drops(t, "vlan")).toBe(3);
    sw.inject(u, frame({ dst: BC, src: B }), 0); // joins native 30: only t? t does not carry 30
    sw.inject(u, frame({ dst: BC, src: B, tag: { vid: 30 } }), 0); // tagged with the native VID: accepted
    expect(drops(u, "vlan")).toBe(0);
    expect(sw.drain(t, 0).length).toBe(0);
  });
  test("native VLAN leaves untagged unless native_tagged; others leave 802.1Q-tagged keeping PCP and DEI", () => {
    const [a, t1, t2] = ports("a", "t1", "t2");
    sw.access("a", 10);
    sw.trunk("t1", [10, 10, 20, 20], 10);
    sw.trunk("t2", [10, 10], 10, true);
    sw.inject(a, frame({ dst: BC, src: A }), 0);
    expect(tagOf(sw.drain(t1, 0)[0])).toBeNull();
    expect(tagOf(sw.drain(t2, 0)[0])).toEqual({ tpid: 0x8100, tci: 10 });
    sw.inject(t1, frame({ dst: BC, src: B, tag: { vid: 0, pcp: 6, dei: 1 } }), 0); // priority tag joins native 10
    const f = sw.drain(t2, 0)[0];
    expect(tagOf(f)).toEqual({ tpid: 0x8100, tci: (6 << 13) | (1 << 12) | 10 });
    sw.access("a", 20);
    sw.inject(a, frame({ dst: BC, src: C }), 0);
    expect(tagOf(sw.drain(t1, 0)[0])).toEqual({ tpid: 0x8100, tci: 20 });
  });
  test("VID 4095 is dropped", () => {
    const [t] = ports("t");
    sw.trunk("t", [1, 4094], 1);
    sw.inject(t, frame({ dst: BC, src: A, tag: { vid: 4095 } }), 0);
    expect(drops(t, "vlan")).toBe(1);
  });
});

describe("VLAN sets", () => {
  // What VlanSet.addRange/toString must give, id by id.
  function reference(ranges: number[]): string {
    const on = new Set<number>();
    for (let i = 0; i + 1 < ranges.length; i += 2) {
      const [lo, hi] = [ranges[i], ranges[i + 1]];
      if (lo < 1 || hi > 4094 || lo > hi) return "bad";
      for (let v = lo; v <= hi; v++) on.add(v);
    }
    const out: string[] = [];
    for (let v = 1; v <= 4094; v++) {
      if (!on.has(v) || on.has(v - 1)) continue;
      let hi = v;
      while (on.has(hi + 1)) hi++;
      out.push(hi === v ? `${v}` : `${v}-${hi}`);
    }
    return out.join(",");
  }

  test("ranges across word edges, the ends of 1-4094 and refused ranges", () => {
    const cases: number[][] = [
      [], [1, 4094], [1, 1], [4094, 4094], [31, 32], [32, 63], [32, 64], [31, 31, 33, 33], [63, 64, 65, 95, 96, 96],
      [1, 31, 32, 4094], [4064, 4094], [4063, 4063, 4065, 4093], [0, 5], [1, 4095], [5, 4], [10, 20, 4095, 4095],
    ];
    for (const c of cases) expect(sw.x.vlanSetString(c), JSON.stringify(c)).toBe(reference(c));
  });

  test("random range lists give the same sets as the id-by-id reference", () => {
    let seed = 12345;
    const rnd = (n: number): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
    for (let t = 0; t < 300; t++) {
      const c: number[] = [];
      for (let k = rnd(6); k > 0; k--) {
        const lo = 1 + rnd(4094);
        const hi = Math.min(4094, lo + (rnd(4) === 0 ? rnd(300) : rnd(40)));
        c.push(lo, hi);
      }
      expect(sw.x.vlanSetString(c), JSON.stringify(c)).toBe(reference(c));
    }
  });
});

describe("802.1ad", () => {
  test("a port configured for S-tags sends TPID 0x88a8 and accepts it; other ports treat 0x88a8 as an EtherType", () => {
    const [p, q, a] = ports("p", "q", "a");
    sw.trunk("p", [100, 100], null, false, 0x88a8);
    sw.trunk("q", [100, 100], null);
    sw.access("a", 100);
    sw.inject(a, frame({ dst: BC, src: A, len: 80 }), 0);
    expect(tagOf(sw.drain(p, 0)[0])).toEqual({ tpid: 0x88a8, tci: 100 });
    expect(tagOf(sw.drain(q, 0)[0])).toEqual({ tpid: 0x8100, tci: 100 });
    sw.inject(p, frame({ dst: BC, src: B, tag: { tpid: 0x88a8, vid: 100, pcp: 3 } }), 0);
    const f = sw.drain(q, 0)[0];
    expect(tagOf(f)).toEqual({ tpid: 0x8100, tci: (3 << 13) | 100 });
    sw.inject(p, frame({ dst: BC, src: B, tag: { tpid: 0x8100, vid: 100 } }), 0); // 0x8100 recognised everywhere
    expect(sw.drain(a, 0).length).toBe(2);
    sw.inject(q, frame({ dst: BC, src: C, tag: { tpid: 0x88a8, vid: 100 } }), 0); // untagged on q: no native -> dropped
    expect(drops(q, "vlan")).toBe(1);
  });
});

describe("learning and forwarding", () => {
  test("learned unicast goes to one port, moved not copied; unknown unicast floods", () => {
    const [a, b, c] = ports("a", "b", "c");
    sw.inject(b, frame({ dst: BC, src: B }), 0);
    sw.drain(a, 0);
    sw.drain(c, 0);
    const free = sw.x.poolAvailable();
    sw.inject(a, frame({ dst: B, src: A }), 0);
    expect(sw.x.poolAvailable()).toBe(free - 1); // one buffer, moved to b's queue
    expect(sw.drain(c, 0).length).toBe(0);
    expect(sw.drain(b, 0).length).toBe(1);
    sw.inject(a, frame({ dst: C, src: A }), 0); // unknown: flooded to b and c
    expect(sw.drain(b, 0).length + sw.drain(c, 0).length).toBe(2);
  });
  test("learning is per VLAN", () => {
    const [t, a10, a20] = ports("t", "a10", "a20");
    sw.trunk("t", [10, 10, 20, 20], null);
    sw.access("a10", 10);
    sw.access("a20", 20);
    sw.inject(a10, frame({ dst: BC, src: A }), 0); // A learned in 10 on a10
    sw.drain(t, 0);
    sw.inject(t, frame({ dst: A, src: B, tag: { vid: 20 } }), 0); // A unknown in 20: flooded to a20
    expect(sw.drain(a20, 0).length).toBe(1);
    sw.inject(t, frame({ dst: A, src: B, tag: { vid: 10 } }), 0);
    expect(sw.drain(a10, 0).length).toBe(1);
    expect(sw.fdbList()).toEqual(["02:00:00:00:00:0a 10 a10 dynamic 0", "02:00:00:00:00:0b 10 t dynamic 0", "02:00:00:00:00:0b 20 t dynamic 0"]);
  });
  test("broadcast and multicast flood to every member but the ingress port and mirror destinations", () => {
    const [a, b, c, d] = ports("a", "b", "c", "d");
    expect(sw.mirror("m", "b:rx", [], "d")).toBe("");
    for (const dst of [BC, MC]) sw.inject(a, frame({ dst, src: A }), 0);
    expect(sw.drain(a, 0).length).toBe(0);
    expect(sw.drain(b, 0).length).toBe(2);
    expect(sw.drain(c, 0).length).toBe(2);
    expect(sw.drain(d, 0).length).toBe(0);
  });
  test("a unicast to a MAC learned on the ingress port is filtered, not flooded", () => {
    const [a, b] = ports("a", "b");
    sw.inject(a, frame({ dst: BC, src: A }), 0);
    sw.drain(b, 0);
    sw.inject(a, frame({ dst: A, src: C }), 0);
    expect(sw.drain(b, 0).length).toBe(0);
    expect(sw.drain(a, 0).length).toBe(0);
    expect(drops(a, "filtered")).toBe(1);
    expect(sw.stat(a, RX_DROPPED)).toBe(1);
  });
  test("MAC moves follow the last port", () => {
    const [a, b, c] = ports("a", "b", "c");
    sw.inject(a, frame({ dst: BC, src: A }), 0);
    sw.inject(b, frame({ dst: BC, src: A }), 0); // A moved to b
    for (const p of [a, b, c]) sw.drain(p, 0);
    sw.inject(c, frame({ dst: A, src: C }), 0);
    expect(sw.drain(b, 0).length).toBe(1);
    expect(sw.drain(a, 0).length).toBe(0);
  });
  test("entries age out after aging_s (default 300 s), on the caller's clock", () => {
    const [a, b, c] = ports("a", "b", "c");
    sw.inject(b, frame({ dst: BC, src: B }), 0);
    sw.drain(a, 0);
    sw.drain(c, 0);
    sw.inject(a, frame({ dst: B, src: A }), 300 * S);
    expect(sw.drain(c, 0).length).toBe(0); // still known at exactly 300 s
    sw.inject(a, frame({ dst: B, src: A }), 300 * S + 1);
    expect(sw.drain(c, 0).length).toBe(1); // expired: flooded
    expect(sw.x.fdbConfig(0n, -1)).toBe(""); // 0 = never
    sw.inject(b, frame({ dst: BC, src: B }), 400 * S);
    sw.inject(a, frame({ dst: B, src: A }), 100000 * S);
    expect(sw.drain(c, 0).length).toBe(1); // the broadcast only
    expect(sw.x.fdbConfig(5n, -1)).toMatch(/^-32602 aging_s/);
    expect(sw.x.fdbConfig(-1n, 0)).toMatch(/^-32602 max_entries/);
    expect(sw.x.fdbConfig(-1n, 1048577)).toMatch(/^-32602 max_entries/);
  });
  test("age() sweeps expired entries and fdb.list shows age_s", () => {
    const [a] = ports("a", "b");
    sw.x.fdbConfig(10n, -1);
    sw.inject(a, frame({ dst: BC, src: A }), 0);
    expect(sw.fdbList(-1, "", 7 * S)).toEqual(["02:00:00:00:00:0a 1 a dynamic 7"]);
    expect(sw.age(10 * S)).toBe(0);
    expect(sw.age(10 * S + 1)).toBe(1);
    expect(sw.x.fdbCount()).toBe(0);
  });
  test("default capacity 8192; a full table learns nothing new, keeps what it has, floods unknowns", () => {
    const [a, b, c] = ports("a", "b", "c");
    for (let i = 0; i < 9000; i++) sw.inject(a, frame({ dst: BC, src: 0x020000100000 + i }), 0);
    expect(sw.x.fdbCount()).toBe(8192);
    sw.inject(b, frame({ dst: BC, src: B }), 0); // not learned
    for (const p of [a, b, c]) sw.drain(p, 0);
    sw.inject(c, frame({ dst: B, src: 0x020000100000 + 9999 }), 0);
    expect(sw.drain(a, 0).length + sw.drain(b, 0).length).toBe(2); // flooded
    sw.inject(c, frame({ dst: 0x020000100000 + 5, src: C }), 0);
    expect(sw.drain(a, 0).length).toBe(1); // existing entry still forwards
    expect(sw.drain(b, 0).length).toBe(0);
  });
  test("fdb.flush by VLAN and by port; statics stay", () => {
    const [t, a] = ports("t", "a");
    sw.trunk("t", [10, 10, 20, 20], null);
    sw.access("a", 10);
    sw.inject(t, frame({ dst: BC, src: A, tag: { vid: 10 } }), 0);
    sw.inject(t, frame({ dst: BC, src: A, tag: { vid: 20 } }), 0);
    sw.inject(a, frame({ dst: BC, src: B }), 0);
    expect(sw.x.addStatic(C, 10, "a")).toBe("");
    expect(sw.x.fdbFlush(20, "")).toBe(1);
    expect(sw.x.fdbFlush(-1, "a")).toBe(1);
    expect(sw.fdbList()).toEqual(["02:00:00:00:00:0a 10 t dynamic 0", "02:00:00:00:00:0c 10 a static 0"]);
    expect(sw.x.fdbFlush(-1, "")).toBe(1);
    expect(sw.fdbList().length).toBe(1);
  });
  test("static entries forward, never age and are not moved by learning", () => {
    const [a, b, c] = ports("a", "b", "c");
    expect(sw.x.addStatic(C, 1, "c")).toBe("");
    expect(sw.x.addStatic("01:00:5e:00:00:01", 1, "c")).toMatch(/^-32602/);
    expect(sw.x.addStatic(C, 1, "zz")).toMatch(/^1 static\[0\]\.port/);
    sw.inject(b, frame({ dst: BC, src: C }), 0); // C seen on b: the static entry stays on c
    for (const p of [a, b, c]) sw.drain(p, 0);
    sw.inject(a, frame({ dst: C, src: A }), 1000000 * S);
    expect(sw.drain(c, 1000000 * S).length).toBe(1);
    expect(sw.drain(b, 1000000 * S).length).toBe(0);
  });
  test("changing a port's VLAN settings flushes the entries learned on it", () => {
    const [a] = ports("a", "b");
    sw.inject(a, frame({ dst: BC, src: A }), 0);
    expect(sw.x.fdbCount()).toBe(1);
    sw.access("a", 1); // unchanged: nothing flushed
    expect(sw.x.fdbCount()).toBe(1);
    sw.access("a", 2);
    expect(sw.x.fdbCount()).toBe(0);
  });
  test("a VLAN change or an allowed-MAC list flushes every entry learned on the port and no other", () => {
    const [a, b] = ports("a", "b");
    const mac = (port: number, i: number): string => `02:00:00:0${port}:${(i >> 8).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}`;
    for (let i = 0; i < 700; i++) sw.inject(a, frame({ dst: BC, src: mac(1, i) }), 0);
    for (let i = 0; i < 500; i++) sw.inject(b, frame({ dst: BC, src: mac(2, i) }), 0);
    expect(sw.x.fdbCount()).toBe(1200);
    sw.access("a", 2);
    expect(sw.x.fdbCount()).toBe(500);
    expect(sw.fdbList(-1, "a")).toEqual([]);
    sw.security("b", 0, [mac(2, 7), mac(2, 499)]);
    expect(sw.fdbList().map((l) => l.split(" ")[0])).toEqual([mac(2, 7), mac(2, 499)]);
    expect(sw.x.fdbFlush(-1, "b")).toBe(2);
    expect(sw.x.fdbCount()).toBe(0);
  });
});

describe("frames", () => {
  test("shorter than 14, tagged shorter than 18, longer than the MTU: malformed, dropped, counted", () => {
    const [a, b] = ports("a", "b");
    sw.inject(a, new Uint8Array(13), 0);
    sw.inject(a, new Uint8Array(0), 0);
    sw.inject(a, frame({ dst: BC, src: A, tag: { vid: 1 }, len: 17 }), 0);
    sw.inject(a, frame({ dst: BC, src: A, len: 1515 }), 0);
    sw.inject(a, frame({ dst: BC, src: A, tag: { vid: 0 }, len: 1519 }), 0);
    sw.inject(a, frame({ dst: BC, src: A, len: 3000 }), 0);
    expect(drops(a, "malformed")).toBe(6);
    expect(sw.stat(a, RX_PACKETS)).toBe(6);
    expect(sw.stat(a, RX_BYTES)).toBe(13 + 0 + 17 + 1515 + 1519 + 3000);
    sw.inject(a, frame({ dst: BC, src: A, len: 1514 }), 0);
    sw.inject(a, frame({ dst: BC, src: A, tag: { vid: 0 }, len: 1518 }), 0);
    expect(sw.drain(b, 0).map((f) => f.length)).toEqual([1514, 1514]);
    expect(sw.mtu("a", 100)).toBe("");
    sw.inject(a, frame({ dst: BC, src: A, len: 115 }), 0);
    expect(drops(a, "malformed")).toBe(7);
    expect(sw.fdbList().length).toBe(1); // no learning from malformed frames (A learned by the good ones)
  });
  test("short valid frames are forwarded and padded to 60 with zeros; so are frames shortened by tag removal", () => {
    const [t, a] = ports("t", "a");
    sw.trunk("t", [5, 5], null);
    sw.access("a", 5);
    const f = frame({ dst: BC, src: A, tag: { vid: 5 }, len: 18 });
    sw.inject(t, f, 0);
    const o = sw.drain(a, 0)[0];
    expect(o.length).toBe(60);
    expect(hex(o.slice(0, 14))).toBe(hex(Uint8Array.from([...f.slice(0, 12), ...f.slice(16, 18)])));
    expect(o.slice(14).every((x) => x === 0)).toBe(true);
    sw.inject(a, frame({ dst: BC, src: B, len: 20 }), 0);
    const g = sw.drain(t, 0)[0];
    expect(g.length).toBe(60);
    expect(tagOf(g)).toEqual({ tpid: 0x8100, tci: 5 });
  });
  test("payload bytes come through unchanged", () => {
    const [a, b] = ports("a", "b");
    const f = frame({ dst: BC, src: A, len: 1000 });
    sw.inject(a, f, 0);
    expect(hex(sw.drain(b, 0)[0])).toBe(hex(f));
  });
});

describe("mirrors", () => {
  test("one copy per mirror however many selectors match; rx copies as received", () => {
    const [t, a, d] = ports("t", "a", "d");
    sw.trunk("t", [7, 7], null);
    sw.access("a", 7);
    expect(sw.mirror("m", "t:both,a:both", [7, 7], "d")).toBe("");
    const f = frame({ dst: BC, src: A, tag: { vid: 7, pcp: 2 }, len: 70 });
    sw.inject(t, f, 0);
    const copies = sw.drain(d, 0);
    expect(copies.map(hex)).toEqual([hex(f)]);
    expect(Number(sw.x.mirrorPackets("m"))).toBe(1);
    expect(Number(sw.x.mirrorBytes("m"))).toBe(70);
    expect(sw.stat(d, TX_PACKETS)).toBe(1); // mirror copies count as tx
  });
  test("tx copies are the frame as sent out of the first tx-selected port in name order", () => {
    const [a, t, u, d] = ports("a", "u", "t", "d");
    sw.access("a", 7);
    sw.trunk("t", [7, 7], null);
    sw.trunk("u", [7, 7], 7);
    expect(sw.mirror("m", "u:tx,t:tx", [], "d")).toBe("");
    sw.inject(a, frame({ dst: BC, src: A, len: 64 }), 0);
    const c = sw.drain(d, 0);
    expect(c.length).toBe(1);
    expect(tagOf(c[0])).toEqual({ tpid: 0x8100, tci: 7 }); // from "t" (tagged), before "u" (untagged)
  });
  test("several mirrors each send their copy, in name order; a destination receives nothing else and drops what it receives", () => {
    const [a, b, d] = ports("a", "b", "d");
    expect(sw.mirror("z", "a:rx", [], "d")).toBe("");
    expect(sw.mirror("y", "b:tx", [], "d")).toBe("");
    sw.inject(a, frame({ dst: BC, src: A, len: 61 }), 0);
    expect(sw.drain(d, 0).map((f) => f.length)).toEqual([61, 61]);
    sw.inject(d, frame({ dst: BC, src: C }), 0);
    expect(drops(d, "mirror_dst")).toBe(1);
    expect(sw.drain(a, 0).length + sw.drain(b, 0).length).toBe(1); // only a's broadcast went to b
    expect(sw.fdbList().map((l) => l.split(" ")[0])).toEqual([A]);
  });
  test("only accepted frames are mirrored", () => {
    const [a, , d] = ports("a", "b", "d");
    sw.mirror("m", "a:rx", [], "d");
    sw.inject(a, frame({ dst: BC, src: A, tag: { vid: 9 } }), 0);
    expect(sw.drain(d, 0).length).toBe(0);
  });
  test("validation: destination not a source, at least one selector, known ports, at most 16", () => {
    ports("a", "b", "d");
    expect(sw.mirror("m", "", [], "d")).toMatch(/^-32602 src_ports/);
    expect(sw.mirror("m", "zz:rx", [], "d")).toMatch(/^1 src_ports\[0\]\.port/);
    expect(sw.mirror("m", "a:rx", [], "zz")).toMatch(/^1 dst_port/);
    expect(sw.mirror("m", "d:rx", [], "d")).toMatch(/^2 /);
    expect(sw.mirror("m", "a:rx", [], "d")).toBe("");
    expect(sw.mirror("m", "b:rx", [], "d")).toMatch(/^2 name/);
    expect(sw.mirror("n", "d:tx", [], "b")).toMatch(/^2 src_ports\[0\]\.port/);
    expect(sw.mirror("n", "b:rx", [], "a")).toMatch(/^2 dst_port/);
    for (let i = 0; i < 15; i++) expect(sw.mirror(`x${i}`, "", [i + 1, i + 1], "d")).toBe("");
    expect(sw.mirror("x99", "", [100, 100], "d")).toMatch(/^4 /);
    expect(sw.x.removeMirror("x3")).toBe("");
    expect(sw.x.removeMirror("x3")).toMatch(/^1 /);
  });
  test("a port that becomes a destination loses its learned entries", () => {
    const [a] = ports("a", "b", "d");
    sw.inject(a, frame({ dst: BC, src: A }), 0);
    sw.mirror("m", "b:rx", [], "a");
    expect(sw.x.fdbCount()).toBe(0);
  });
});

describe("port security", () => {
  test("max_macs: further new source MACs are dropped; 0 means no limit; lowering evicts nothing", () => {
    const [a, b] = ports("a", "b");
    expect(sw.security("a", 2)).toBe("");
    for (const s of [A, B, C, A]) sw.inject(a, frame({ dst: BC, src: s }), 0);
    expect(drops(a, "security")).toBe(1);
    expect(sw.drain(b, 0).length).toBe(3);
    expect(sw.security("a", 1)).toBe("");
    expect(sw.x.fdbCount()).toBe(2);
    sw.inject(a, frame({ dst: BC, src: "02:00:00:00:00:99" }), 0);
    expect(drops(a, "security")).toBe(2);
    expect(sw.security("a", 0)).toBe("");
    sw.inject(a, frame({ dst: BC, src: "02:00:00:00:00:99" }), 0);
    expect(drops(a, "security")).toBe(2);
    expect(sw.security("a", -1)).toMatch(/^-32602 security.max_macs/);
  });
  test("max_macs counts (MAC, VLAN) entries", () => {
    const [t] = ports("t", "b");
    sw.trunk("t", [1, 2], null);
    sw.security("t", 2);
    sw.inject(t, frame({ dst: BC, src: A, tag: { vid: 1 } }), 0);
    sw.inject(t, frame({ dst: BC, src: A, tag: { vid: 2 } }), 0);
    sw.inject(t, frame({ dst: BC, src: B, tag: { vid: 1 } }), 0);
    expect(drops(t, "security")).toBe(1);
  });
  test("allowed_macs admits only those; changing it flushes learned entries no longer allowed", () => {
    const [a] = ports("a", "b");
    sw.inject(a, frame({ dst: BC, src: A }), 0);
    sw.inject(a, frame({ dst: BC, src: B }), 0);
    expect(sw.security("a", 0, [A])).toBe("");
    expect(sw.fdbList().map((l) => l.split(" ")[0])).toEqual([A]);
    sw.inject(a, frame({ dst: BC, src: B }), 0);
    expect(drops(a, "security")).toBe(1);
    expect(sw.security("a", 0, ["01:00:00:00:00:01"])).toMatch(/^-32602 security.allowed_macs\[0\]/);
  });
});

describe("QoS", () => {
  test("policer: rate_kbps and burst_bytes count whole frames; bucket starts full", () => {
    const [a, b] = ports("a", "b");
    expect(sw.qos("a", { ingress: [8, 1000] })).toBe(""); // 8 kbit/s = 1000 bytes/s
    for (let i = 0; i < 20; i++) sw.inject(a, frame({ dst: BC, src: A, len: 100 }), 0);
    expect(sw.drain(b, 0).length).toBe(10); // the full 1000-byte bucket
    expect(drops(a, "policer")).toBe(10);
    sw.inject(a, frame({ dst: BC, src: A, len: 100 }), 99_000_000); // 99 bytes refilled: not enough
    sw.inject(a, frame({ dst: BC, src: A, len: 100 }), 100_000_000); // 100 bytes
    expect(sw.drain(b, 0).length).toBe(1);
    expect(sw.qos("a", { ingress: [0, 1000] })).toMatch(/^-32602 qos.ingress.rate_kbps/);
    expect(sw.qos("a", { ingress: [8, 0] })).toMatch(/^-32602 qos.ingress.burst_bytes/);
  });
  test("shaper: frames wait in the queues; a full queue drops into tx_dropped", () => {
    const [a, b] = ports("a", "b");
    sw.qos("b", { egress: [8, 200] });
    for (let i = 0; i < 70; i++) sw.inject(a, frame({ dst: BC, src: A, len: 100 }), 0);
    expect(sw.x.queued(b)).toBe(64);
    expect(sw.stat(b, TX_DROPPED)).toBe(6);
    expect(drops(b, "shaper")).toBe(6);
    expect(sw.drain(b, 0).length).toBe(2);
    expect(sw.drain(b, 100 * 1_000_000).length).toBe(1); // 100 ms at 1000 B/s: one frame
    expect(sw.stat(b, TX_BYTES)).toBe(300);
  });
  test("learned unicast (the frame itself queued): short frames padded, a full queue drops into tx_dropped", () => {
    const [a, b] = ports("a", "b");
    sw.inject(b, frame({ dst: BC, src: B, len: 60 }), 0);
    sw.drain(a, 0);
    for (let i = 0; i < 70; i++) sw.inject(a, frame({ dst: B, src: A, len: i == 0 ? 42 : 100 }), 0);
    expect(sw.x.queued(b)).toBe(64);
    expect(sw.stat(b, TX_DROPPED)).toBe(6);
    expect(drops(b, "shaper")).toBe(6);
    const out = sw.drain(b, 0);
    expect(out.length).toBe(64);
    expect(out[0].length).toBe(60); // 42 bytes padded to the 802.3 minimum
    expect(Array.from(out[0].subarray(42))).toEqual(new Array(18).fill(0));
    expect(sw.stat(b, TX_PACKETS)).toBe(64);
    expect(sw.stat(b, TX_BYTES)).toBe(60 + 63 * 100);
    expect(sw.stat(a, RX_PACKETS)).toBe(70);
  });
  test("eight priority queues by PCP, strict priority", () => {
    const [t, b] = ports("t", "b");
    sw.trunk("t", [1, 1], 1);
    for (const pcp of [0, 3, 7, 1, 7, 5]) sw.inject(t, frame({ dst: BC, src: A, tag: { vid: 1, pcp }, len: 64 + pcp }), 0);
    expect(sw.drain(b, 0).map((f) => f.length - 60)).toEqual([7, 7, 5, 3, 1, 0]);
  });
  test("storm control holds broadcast/multicast/unknown-unicast to their pps", () => {
    const [a, b, c] = ports("a", "b", "c");
    expect(sw.qos("a", { b: 10, m: 5, u: 3 })).toBe("");
    sw.inject(c, frame({ dst: BC, src: C }), 0); // C known
    for (let i = 0; i < 20; i++) {
      sw.inject(a, frame({ dst: BC, src: A }), 0);
      sw.inject(a, frame({ dst: MC, src: A }), 0);
      sw.inject(a, frame({ dst: B, src: A }), 0);
      sw.inject(a, frame({ dst: C, src: A }), 0); // known unicast: not limited
    }
    expect(drops(a, "storm")).toBe(10 + 15 + 17);
    expect(sw.drain(c, 0).length).toBe(10 + 5 + 3 + 20);
    sw.inject(a, frame({ dst: BC, src: A }), S / 10); // 0.1 s: one more broadcast
    sw.inject(a, frame({ dst: BC, src: A }), S / 10);
    expect(drops(a, "storm")).toBe(43);
  });
});

describe("ingress order", () => {
  test("a frame dropped at one step uses nothing of the later ones", () => {
    const [a, b] = ports("a", "b");
    sw.qos("a", { ingress: [8, 100], b: 1 });
    sw.inject(a, frame({ dst: BC, src: A, tag: { vid: 9 } }), 0); // VLAN drop: no learning, no tokens
    expect(sw.x.fdbCount()).toBe(0);
    sw.inject(a, frame({ dst: BC, src: A, len: 100 }), 0); // passes storm (1) and policer (100 B)
    sw.inject(a, frame({ dst: BC, src: B, len: 60 }), 0); // storm drop: policer untouched, B not learned
    expect(drops(a, "storm")).toBe(1);
    expect(sw.fdbList().map((l) => l.split(" ")[0])).toEqual([A]);
    sw.qos("a", { ingress: [8, 100] });
    sw.inject(a, frame({ dst: B, src: C, len: 100 }), 0);
    sw.inject(a, frame({ dst: B, src: B, len: 60 }), 0); // policer drop: B not learned
    expect(drops(a, "policer")).toBe(1);
    expect(sw.fdbList().map((l) => l.split(" ")[0])).toEqual([A, C]);
    expect(sw.drain(b, 0).length).toBe(2);
  });
  test("security is checked before storm control and policer", () => {
    const [a] = ports("a", "b");
    sw.security("a", 0, [A]);
    sw.qos("a", { b: 1 });
    sw.inject(a, frame({ dst: BC, src: B }), 0);
    sw.inject(a, frame({ dst: BC, src: A }), 0);
    expect(drops(a, "security")).toBe(1);
    expect(drops(a, "storm")).toBe(0);
  });
});

describe("counters and buffers", () => {
  test("rx counts every frame, tx counts frames sent, stats.reset clears", () => {
    const [a, b] = ports("a", "b");
    sw.inject(a, frame({ dst: BC, src: A, len: 100 }), 0);
    sw.inject(a, frame({ dst: BC, src: A, len: 10 }), 0);
    sw.drain(b, 0);
    expect(sw.stats(a).slice(0, 6)).toEqual([2, 110, 1, 0, 0, 0]);
    expect(sw.stats(b).slice(0, 6)).toEqual([0, 0, 0, 1, 100, 0]);
    expect(sw.x.resetStats("a")).toBe("");
    expect(sw.stats(a).every((x) => x === 0)).toBe(true);
    expect(sw.stat(b, TX_PACKETS)).toBe(1);
    expect(sw.x.resetStats("")).toBe("");
    expect(sw.stat(b, TX_PACKETS)).toBe(0);
    expect(sw.x.resetStats("zz")).toMatch(/^1 /);
  });
  test("out of buffers: dropped and counted, never corrupted; nothing leaks", () => {
    sw.reset(7, 8);
    const [a, b, c] = ports("a", "b", "c");
    for (let i = 0; i < 6; i++) sw.inject(a, frame({ dst: BC, src: A, len: 64 + i }), 0); // two buffers each
    expect(sw.x.poolAvailable()).toBe(0);
    expect(drops(b, "no_buffer")).toBe(1); // 4th frame: no buffer for b's copy
    expect(sw.stat(b, TX_DROPPED)).toBe(1);
    expect(drops(a, "no_buffer")).toBe(2); // 5th, 6th: no buffer to receive into
    expect(sw.stat(a, RX_DROPPED)).toBe(2);
    const got = [...sw.drain(b, 0), ...sw.drain(c, 0)];
    expect(got.length).toBe(7);
    for (const f of got) expect(hex(f)).toBe(hex(frame({ dst: BC, src: A, len: f.length })));
    expect(sw.x.poolAvailable()).toBe(7);
  });
});

describe("batch interface", () => {
  test("a batch of 32 handles in, batches of at most 32 out, every buffer back in the pool", () => {
    const [a, b] = ports("a", "b");
    const f = frame({ dst: BC, src: A, len: 100 });
    new Uint8Array(sw.x.memory.buffer, sw.x.inPtr(), f.length).set(f);
    expect(sw.x.rxBatch(a, 32, 100, 0n)).toBe(true);
    expect(sw.x.rxBatch(a, 33, 100, 0n)).toBe(false); // a batch holds 32
    const first: string = sw.x.txBatch(b, 0n);
    expect(first.split(",")).toEqual(Array.from({ length: 32 }, (_, i) => `100:${i}`));
    const second: string = sw.x.txBatch(b, 0n);
    expect(second.split(",").length).toBe(32);
    expect(sw.x.txBatch(b, 0n)).toBe("");
    expect(sw.stat(b, TX_PACKETS)).toBe(64);
    expect(sw.x.poolAvailable()).toBe(4096);
  });
});

describe("ports and configuration", () => {
  test("names, kinds, duplicates, removal", () => {
    expect(sw.addPort("vm1", 0, "02:00:00:00:00:01")).toBe(0);
    expect(sw.addPort("vm1")).toBe(-1);
    expect(sw.lastError()).toMatch(/^2 name/);
    expect(sw.addPort("bad name")).toBe(-1);
    expect(sw.lastError()).toMatch(/^-32602 name/);
    expect(sw.addPort("x", 9)).toBe(-1);
    expect(sw.addPort("up0", 1)).toBe(1);
    sw.mirror("m", "vm1:rx", [], "up0");
    sw.inject(0, frame({ dst: BC, src: A }), 0);
    expect(sw.x.removePort("up0")).toBe("");
    expect(Number(sw.x.mirrorPackets("m"))).toBe(-1); // its mirror went with it
    expect(sw.x.removePort("vm1")).toBe("");
    expect(sw.x.fdbCount()).toBe(0);
    expect(sw.x.portNames()).toBe("");
    expect(sw.x.poolAvailable()).toBe(4096);
  });
  test("config.apply validates the whole document first, names the bad field, changes nothing on error", () => {
    ports("a", "b", "c", "d");
    const before = sw.x.getConfig();
    expect(sw.x.applyConfig("port a access 20\nport c trunk 10-12 20", false)).toMatch(/^ERR -32602 config.ports\[1\].vlan.native/);
    expect(sw.x.applyConfig("port a access 20\nport zz access 2", false)).toMatch(/^ERR 1 config.ports\[1\].name/);
    expect(sw.x.applyConfig("port a access 20\nmirror m a:rx - a", false)).toMatch(/^ERR 2 config.mirrors\[0\]/);
    expect(sw.x.applyConfig("port a access 20\nfdb 5 100", false)).toMatch(/^ERR -32602 config.fdb.aging_s/);
    expect(sw.x.applyConfig("port a access 20\nstatic 02:00:00:00:00:01 10 nope", false)).toMatch(/^ERR 1 config.fdb.static\[0\].port/);
    expect(sw.x.getConfig()).toBe(before);
  });
  test("config.apply dry run lists the changes and applies nothing; a real apply applies them", () => {
    ports("a", "b", "c", "d");
    sw.access("c", 20);
    const doc = "port c access 21\nport b trunk 10-12,20 11 tagged\nmirror m1 a:both - d\nfdb 600 1000\nstatic 02:00:00:00:00:01 21 c";
    const changes = sw.x.applyConfig(doc, true);
    expect(changes.split("\n")).toEqual([
      "port c: vlan access 20 -> access 21",
      "port b: vlan access 1 -> trunk [10-12,20] native 11 tagged",
      "mirror m1: added src [a:both] vlans [] dst d",
      "fdb: aging_s 300 -> 600",
      "fdb: max_entries 8192 -> 1000",
      "fdb: static 02:00:00:00:00:01 vlan 21 port c added",
    ]);
    expect(sw.x.portVlanString("c")).toBe("access 20");
    expect(sw.x.applyConfig(doc, false)).toBe(changes);
    expect(sw.x.getConfig()).toBe(
      "port a access 1\nport b trunk [10-12,20] native 11 tagged\nport c access 21\nport d access 1\n" +
      "mirror m1 src [a:both] vlans [] dst d\nfdb 600 1000\nstatic 02:00:00:00:00:01 21 c\n");
    expect(sw.x.applyConfig(doc, false)).toBe(""); // nothing left to change
    expect(sw.x.applyConfig("nomirrors", false)).toBe("mirror m1: removed");
  });
});

test("the switch is integer-only: no f32/f64 in the compiled module", async () => {
  const binaryen = (await import("binaryen")).default;
  const m = binaryen.readBinary(readFileSync(await buildEntry()));
  m.setFeatures(binaryen.Features.All);
  const text = m.emitText();
  m.dispose();
  expect(text.split("\n").filter((l) => /\bf(32|64)\b|f(32|64)\./.test(l))).toEqual([]);
});

// Keep imported names used.
void RX_BYTES;

describe("static entries and capacity", () => {
  test("statics count toward max_entries and always fit: learned entries make room", () => {
    const [a] = ports("a", "b");
    for (let i = 0; i < 10; i++) sw.inject(a, frame({ dst: BC, src: 0x020000000100 + i }), 0);
    expect(sw.x.fdbConfig(-1n, 4)).toBe(""); // lowering keeps what is there
    expect(sw.x.fdbCount()).toBe(10);
    expect(sw.x.applyConfig("fdb 300 4\nstatic 02:00:00:00:00:01 1 b\nstatic 02:00:00:00:00:02 1 b", false)).toMatch(/static/);
    expect(sw.fdbList().filter((l) => l.includes("static")).length).toBe(2);
    expect(sw.x.fdbCount()).toBe(4);
    expect(sw.x.applyConfig("fdb 300 1\nstatic 02:00:00:00:00:01 1 b\nstatic 02:00:00:00:00:02 1 b", false)).toMatch(/^ERR 4 config.fdb.static/);
    expect(sw.x.fdbConfig(-1n, 1)).toMatch(/^4 max_entries/);
  });
});
