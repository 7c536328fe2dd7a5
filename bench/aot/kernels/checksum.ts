// Checksums: table-driven CRC-32 (IEEE) and the internet checksum (RFC 1071) over 32 KiB.
import { arg, putHex, fillRandom } from "./lib/io";

const N = 32768;
const table = new StaticArray<u32>(256);

function initTable(): void {
  for (let i: u32 = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >> 1) : c >> 1;
    unchecked((table[i] = c));
  }
}

function crc32(p: usize, n: i32): u32 {
  let c: u32 = 0xffffffff;
  for (let i = 0; i < n; i++) c = unchecked(table[(c ^ load<u8>(p + i)) & 0xff]) ^ (c >> 8);
  return ~c;
}

function inetChecksum(p: usize, n: i32): u32 {
  let sum: u64 = 0;
  for (let i = 0; i + 4 <= n; i += 4) sum += <u64>bswap<u32>(load<u32>(p + i));
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return <u32>~sum & 0xffff;
}

export function main(): i32 {
  const reps = arg(0);
  initTable();
  const buf = heap.alloc(N);
  fillRandom(buf, N, 42);
  let acc: u64 = 0;
  for (let r = 0; r < reps; r++) {
    store<u8>(buf + ((r * 7) & (N - 1)), <u8>r);
    acc = acc * 31 + crc32(buf, N);
    acc = acc * 31 + inetChecksum(buf, N);
  }
  putHex(acc);
  return 0;
}
