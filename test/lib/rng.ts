// A small deterministic PRNG (xorshift32, Marsaglia 2003) for the randomized tests: a failure reproduces from its seed.

/** The generator for `seed` (0 is taken as 1): each call returns the next u32. */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}
