// The switch's hot path as a differential program: a seeded stream of frames
// (learned and unknown unicast, broadcast, tagged and priority-tagged,
// malformed, over a trunk, a mirror and a policer) through src/vswitch. Every
// frame leaving every port is hashed in order, then the counters are printed;
// Node and the AOT build must print the same.
import { putln, puts, putHex, putDec, arg } from "./lib/io";
import { Switch, PortVlan, VlanSet, Rate, MirrorConfig, MirrorSource, DIR_RX, DIR_TX, STAT_COUNT } from "../../../src/vswitch/index";

let seed: u64 = 0x9e3779b97f4a7c15;
function rnd(n: u32): u32 {
  seed ^= seed << 13;
  seed ^= seed >> 7;
  seed ^= seed << 17;
  return <u32>(seed % n);
}

let digest: u64 = 0xcbf29ce484222325;
function mix(p: usize, len: i32): void {
  for (let i = 0; i < len; i++) digest = (digest ^ load<u8>(p + i)) * 0x100000001b3;
  digest = (digest ^ <u64>len) * 0x100000001b3;
}

export function main(): i32 {
  const frames = arg(0) > 0 ? arg(0) : 20000;
  const sw = new Switch(512, 8);
  const names = ["a", "b", "c", "d"];
  for (let i = 0; i < names.length; i++) sw.addPort(names[i], 0);
  const b = sw.getPortConfig("b")!;
  b.qos.ingress = new Rate(300, 1500); // 300 kbit/s, 1500-byte burst: drops some
  sw.setPort(b);
  const c = sw.getPortConfig("c")!;
  const allowed = new VlanSet();
  allowed.add(1);
  allowed.add(20);
  c.vlan = PortVlan.trunk(allowed, 1, false);
  sw.setPort(c);
  const m = new MirrorConfig("m");
  m.srcPorts.push(new MirrorSource("a", DIR_RX));
  m.srcPorts.push(new MirrorSource("c", DIR_TX));
  m.dstPort = "d";
  const err = sw.addMirror(m);
  if (err != null) {
    putln("mirror refused");
    return 1;
  }

  const buf = memory.data(2048);
  const outBuf = memory.data(2048);
  let now: i64 = 1_000_000;
  for (let f = 0; f < frames; f++) {
    now += <i64>rnd(200_000); // up to 0.2 ms between frames
    const port = <i32>rnd(3); // a, b or c; d is the mirror destination
    const vids: i32[] = [-1, 0, 1, 20, 30, 4095];
    const vid = vids[rnd(6)];
    let len = 14 + <i32>rnd(120);
    if (rnd(50) == 0) len = <i32>rnd(20); // malformed or truncated
    memory.fill(buf, 0, 2048);
    const dst = rnd(10);
    if (dst == 9) memory.fill(buf, 0xff, 6);
    else {
      store<u8>(buf, 2);
      store<u8>(buf + 5, <u8>dst);
    }
    store<u8>(buf + 6, 2);
    store<u8>(buf + 11, <u8>rnd(8));
    let o: usize = 12;
    if (vid >= 0) {
      store<u16>(buf + 12, bswap<u16>(0x8100));
      store<u16>(buf + 14, bswap<u16>(<u16>((rnd(8) << 13) | <u32>vid)));
      o = 16;
    }
    store<u16>(buf + o, bswap<u16>(0x0800));
    for (let i = <i32>o + 2; i < len; i++) store<u8>(buf + i, <u8>(f + i));
    sw.inject(port, buf, len, now);
    for (let q = 0; q < names.length; q++) {
      let n = sw.popFrame(q, outBuf, now);
      while (n >= 0) {
        digest = (digest ^ <u64>q) * 0x100000001b3;
        mix(outBuf, n);
        n = sw.popFrame(q, outBuf, now);
      }
    }
  }
  puts("digest ");
  putHex(digest);
  putln("");
  for (let q = 0; q < names.length; q++) {
    puts(names[q]);
    for (let s = 0; s < STAT_COUNT; s++) {
      puts(" ");
      putDec(sw.stat(q, s));
    }
    putln("");
  }
  return <i32>(digest & 0x7f);
}
