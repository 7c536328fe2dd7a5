// Benchmark scenarios for the switch: 64-byte frames in batches of 32 through one configured Switch.
// Shared by the V8 build (node-entry.ts) and the AOT linux build (aot-entry.ts).

import { Switch, Batch, PortVlan, VlanSet, Rate, MirrorConfig, MirrorSource, DIR_RX, PortConfig } from "../../src/vswitch/index";

export const LEARNED_UNICAST: i32 = 0;
export const TRUNK_TO_ACCESS: i32 = 1;
export const WITH_MIRROR: i32 = 2;
export const WITH_POLICER: i32 = 3;

let sw: Switch = new Switch(256, 8);
let inPort: i32 = 0;
let outPort: i32 = 1;
let mirPort: i32 = -1;
const tmpl = new StaticArray<u8>(64);
const batch = new Batch();
const out = new Batch();
let now: i64 = 1;

function cfgOf(name: string): PortConfig {
  return sw.getPortConfig(name)!;
}

function frameTemplate(tagged: bool): void {
  const p = changetype<usize>(tmpl);
  // dst 02:00:00:00:00:0b, src 02:00:00:00:00:0a
  store<u8>(p, 2); store<u8>(p + 5, 0x0b);
  store<u8>(p + 6, 2); store<u8>(p + 11, 0x0a);
  let o: usize = 12;
  if (tagged) {
    store<u16>(p + 12, bswap<u16>(0x8100));
    store<u16>(p + 14, bswap<u16>(<u16>((3 << 13) | 10)));
    o = 16;
  }
  store<u16>(p + o, bswap<u16>(0x0800));
  for (let i = o + 2; i < 64; i++) store<u8>(p + i, <u8>i);
}

/** Builds the scenario's switch and teaches it where 02:..:0b lives. */
export function setup(scenario: i32): void {
  sw = new Switch(1024, 8);
  inPort = sw.addPort("a", 0);
  outPort = sw.addPort("b", 0);
  mirPort = -1;
  const b = cfgOf("b");
  b.vlan = PortVlan.access(10);
  sw.setPort(b);
  const a = cfgOf("a");
  if (scenario == TRUNK_TO_ACCESS) {
    const s = new VlanSet();
    s.add(10);
    a.vlan = PortVlan.trunk(s, 0, false);
  } else a.vlan = PortVlan.access(10);
  if (scenario == WITH_POLICER) a.qos.ingress = new Rate(100_000_000, 1 << 30); // never drops at these rates
  sw.setPort(a);
  if (scenario == WITH_MIRROR) {
    mirPort = sw.addPort("d", 0);
    const m = new MirrorConfig("m");
    m.srcPorts.push(new MirrorSource("a", DIR_RX));
    m.dstPort = "d";
    sw.addMirror(m);
  }
  // Learn 02:..:0b on b.
  const h = sw.pool.alloc();
  const p = sw.pool.data(h);
  memory.fill(p, 0xff, 6);
  store<u8>(p + 6, 2); store<u8>(p + 7, 0); store<u32>(p + 8, 0); store<u8>(p + 11, 0x0b);
  store<u16>(p + 12, bswap<u16>(0x0800));
  sw.pool.setLen(h, 60);
  batch.count = 0;
  batch.push(h);
  sw.rx(outPort, batch, now);
  drain(inPort);
  if (mirPort >= 0) drain(mirPort);
  frameTemplate(scenario == TRUNK_TO_ACCESS);
}

function drain(port: i32): i32 {
  let n = 0;
  while (true) {
    const k = sw.tx(port, out, now);
    for (let i = 0; i < k; i++) sw.pool.free(unchecked(out.handles[i]));
    n += k;
    if (k < 32) break;
  }
  return n;
}

/** Fills a batch of 32 from the template, as a NIC or virtqueue would. */
@inline function fill(): void {
  const pool = sw.pool;
  const src = changetype<usize>(tmpl);
  batch.count = 0;
  for (let k = 0; k < 32; k++) {
    const h = pool.alloc();
    memory.copy(pool.data(h), src, 64);
    pool.setLen(h, 64);
    unchecked((batch.handles[k] = h));
  }
  batch.count = 32;
}

/** Runs `batches` batches of 32 through the switch and drains the egress; returns frames delivered to b. */
export function run(batches: i32): i32 {
  let delivered = 0;
  for (let i = 0; i < batches; i++) {
    fill();
    sw.rx(inPort, batch, now);
    delivered += drain(outPort);
    if (mirPort >= 0) drain(mirPort);
    now += 1000;
  }
  return delivered;
}

/** The same buffer work without the switch (alloc, fill, free): the harness cost to subtract. */
export function runBaseline(batches: i32): i32 {
  let n = 0;
  for (let i = 0; i < batches; i++) {
    fill();
    for (let k = 0; k < 32; k++) sw.pool.free(unchecked(batch.handles[k]));
    n += 32;
  }
  return n;
}
