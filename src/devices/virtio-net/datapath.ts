// The monitor's cost of the VM NIC data path: TSC cycles per NIC turn, as a distribution per frame moved.

/** Log-linear buckets: 4 per power of two (bucket b covers [lowOf(b), lowOf(b + 1))), values up to 2^64. */
export const DP_BUCKETS: i32 = 256;

/** The bucket of v: exact below 8, then the power of two and its top two bits below the leading one. */
export function dpBucket(v: u64): i32 {
  if (v < 8) return <i32>v;
  const msb = 63 - <i32>clz(v);
  return (msb << 2) + <i32>((v >> <u64>(msb - 2)) & 3);
}

/** The lowest value of bucket b (the inverse of dpBucket). */
export function dpLow(b: i32): u64 {
  if (b < 8) return <u64>b;
  const msb = b >> 2;
  return ((<u64>4 | <u64>(b & 3)) << <u64>(msb - 2));
}

/**
 * Filled by the main loop around each NIC's service turn (rdtsc before and after). `frames` are the
 * frames that crossed that NIC (guest TX taken plus guest RX delivered or dropped), so a frame forwarded
 * from one VM to another is counted twice, once at each NIC. The histogram holds cycles per frame of each
 * turn, weighted by its frames; turns that moved nothing add to `idleTurns` and `idleCycles` only.
 */
export class DatapathStats {
  turns: u64 = 0;
  frames: u64 = 0;
  cycles: u64 = 0;
  idleTurns: u64 = 0;
  idleCycles: u64 = 0;
  readonly hist: StaticArray<u64> = new StaticArray<u64>(DP_BUCKETS);

  record(cycles: u64, frames: u64): void {
    if (frames == 0) {
      this.idleTurns++;
      this.idleCycles += cycles;
      return;
    }
    this.turns++;
    this.frames += frames;
    this.cycles += cycles;
    const b = dpBucket(cycles / frames);
    unchecked((this.hist[b] += frames));
  }

  reset(): void {
    this.turns = 0;
    this.frames = 0;
    this.cycles = 0;
    this.idleTurns = 0;
    this.idleCycles = 0;
    for (let i = 0; i < DP_BUCKETS; i++) unchecked((this.hist[i] = 0));
  }
}
