// Copies between a popped chain's segments and monitor memory, through the bounded guest-memory accessor only.

import { BoundedMemory } from "../lib/bounded-memory";
import { Chain } from "./chain";

/**
 * Copies up to `len` bytes of the chain's readable part, starting `skip` bytes into it, to `dst` in
 * monitor memory; returns the bytes copied. Segments were checked inside `mem` when the chain was popped.
 */
export function gather(mem: BoundedMemory, c: Chain, skip: u64, dst: usize, len: u32): u32 {
  let done: u32 = 0;
  for (let i = 0; i < c.readable && done < len; i++) {
    const sl = <u64>c.len(i);
    if (skip >= sl) {
      skip -= sl;
      continue;
    }
    let n = sl - skip;
    if (n > <u64>(len - done)) n = <u64>(len - done);
    mem.readTo(dst + <usize>done, c.addr(i) + skip, <u32>n);
    done += <u32>n;
    skip = 0;
  }
  return done;
}

/** Copies up to `len` bytes from `src` into the chain's writable part, starting `skip` bytes into it; returns the bytes copied. */
export function scatter(mem: BoundedMemory, c: Chain, skip: u64, src: usize, len: u32): u32 {
  let done: u32 = 0;
  const end = c.readable + c.writable;
  for (let i = c.readable; i < end && done < len; i++) {
    const sl = <u64>c.len(i);
    if (skip >= sl) {
      skip -= sl;
      continue;
    }
    let n = sl - skip;
    if (n > <u64>(len - done)) n = <u64>(len - done);
    mem.writeFrom(c.addr(i) + skip, src + <usize>done, <u32>n);
    done += <u32>n;
    skip = 0;
  }
  return done;
}
