// Integer time arithmetic for device timers: a * b / c without overflowing 64 bits (the monitor has no floats).

/** floor(a * b / c) for any u64 a, b and c > 0; saturates at u64 max when the quotient does not fit. */
export function mulDiv(a: u64, b: u64, c: u64): u64 {
  if (c == 0) return u64.MAX_VALUE;
  // Fast path: a*b fits in 64 bits.
  if (a == 0 || b <= u64.MAX_VALUE / a) return (a * b) / c;
  // 128-bit product from 32-bit limbs, then restoring long division by c.
  const aLo = a & 0xffffffff, aHi = a >> 32, bLo = b & 0xffffffff, bHi = b >> 32;
  const ll = aLo * bLo;
  const lh = aLo * bHi;
  const hl = aHi * bLo;
  const hh = aHi * bHi;
  const mid = (ll >> 32) + (lh & 0xffffffff) + (hl & 0xffffffff);
  const lo = (ll & 0xffffffff) | (mid << 32);
  const hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
  if (hi >= c) return u64.MAX_VALUE; // the quotient needs more than 64 bits
  let rem = hi;
  let q: u64 = 0;
  for (let i = 63; i >= 0; i--) {
    const top = rem >> 63; // rem would overflow on the shift: then it certainly exceeds c
    rem = (rem << 1) | ((lo >> <u64>i) & 1);
    q <<= 1;
    if (top != 0 || rem >= c) {
      rem -= c;
      q |= 1;
    }
  }
  return q;
}
