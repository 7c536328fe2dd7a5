// A switch's hot loop: parse the Ethernet header, learn the source MAC, look
// up the destination MAC in a hashed forwarding table, copy the frame to the
// output port's ring (memory.copy) or flood it.
import { arg, putHex, fillRandom } from "./lib/io";

const FRAMES = 256;
const FRAME_MAX = 1536;
const TABLE = 4096; // entries of 16 bytes: mac (8), port (4), age (4)
const PORTS = 8;
const RING: u32 = 65536;

function macHash(mac: u64): u32 {
  const h = (mac * 0x9e3779b97f4a7c15) >> 52;
  return <u32>h & (TABLE - 1);
}

function loadMac(p: usize): u64 {
  return <u64>load<u32>(p) | (<u64>load<u16>(p, 4) << 32);
}

export function main(): i32 {
  const reps = arg(0);
  const frames = heap.alloc(FRAMES * FRAME_MAX);
  const lens = heap.alloc(FRAMES * 4);
  const table = heap.alloc(TABLE * 16);
  const rings = heap.alloc(PORTS * RING);
  const heads = heap.alloc(PORTS * 4);
  memory.fill(table, 0, TABLE * 16);
  memory.fill(heads, 0, PORTS * 4);
  fillRandom(frames, FRAMES * FRAME_MAX, 99);
  let x: u32 = 5;
  for (let i = 0; i < FRAMES; i++) {
    x = x * 1103515245 + 12345;
    const f = frames + <usize>i * FRAME_MAX;
    // 64 hosts; host h has MAC 02:00:00:00:00:h and sits on port h % PORTS
    store<u32>(f, 0x00000002);
    store<u16>(f, <u16>((x >> 8) & 63) << 8, 4);
    store<u32>(f + 6, 0x00000002);
    store<u16>(f + 6, <u16>((x >> 16) & 63) << 8, 4);
    store<u32>(lens + (<usize>i << 2), 64 + ((x >> 4) % (FRAME_MAX - 64)));
  }
  let acc: u64 = 0;
  let flooded: u32 = 0;
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < FRAMES; i++) {
      const f = frames + <usize>i * FRAME_MAX;
      const len = load<u32>(lens + (<usize>i << 2));
      const dst = loadMac(f);
      const src = loadMac(f + 6);
      const inPort = <u32>(src >> 40) % PORTS;
      // learn
      let s = macHash(src);
      for (;;) {
        const e = table + (<usize>s << 4);
        const m = load<u64>(e);
        if (m == src || m == 0) {
          store<u64>(e, src);
          store<u32>(e, inPort, 8);
          store<u32>(e, <u32>r, 12);
          break;
        }
        s = (s + 1) & (TABLE - 1);
      }
      // forward
      let out: i32 = -1;
      let d = macHash(dst);
      for (;;) {
        const e = table + (<usize>d << 4);
        const m = load<u64>(e);
        if (m == dst) {
          out = load<i32>(e, 8);
          break;
        }
        if (m == 0) break;
        d = (d + 1) & (TABLE - 1);
      }
      if (out < 0) {
        flooded++;
        out = <i32>((inPort + 1) % PORTS);
      }
      if (<u32>out == inPort) continue;
      const hp = heads + (<usize>out << 2);
      let head = load<u32>(hp);
      if (head + len > RING) head = 0;
      const dstp = rings + <usize>out * RING + head;
      memory.copy(dstp, f, len);
      store<u8>(dstp, <u8>out); // rewrite a header byte
      store<u32>(hp, (head + len + 63) & ~63);
      acc += <u64>load<u8>(dstp + (len >> 1)) + len;
    }
  }
  acc = acc * 31 + flooded;
  for (let p = 0; p < PORTS; p++) acc = acc * 31 + load<u32>(heads + (<usize>p << 2));
  putHex(acc);
  return 0;
}
