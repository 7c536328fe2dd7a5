// Integer scaling between clocks, a * b / c in u64 with a 128-bit product (the monitor has no floats).

/**
 * floor(a * b / c) for any u64 a, b and c > 0; saturates at u64 max when the quotient does not fit (and for
 * c == 0). The scalings between clocks (TSC to ns, us and host APIC-timer ticks; the device timers) share it
 * rather than each splitting a / c and a % c with its own bound on when the product overflows.
 */
export function mulDiv(a: u64, b: u64, c: u64): u64 {
  if (c == 0) return u64.MAX_VALUE;
  if (fits(a, b)) return (a * b) / c;
  // a = q*c + r, so floor(a*b/c) = q*b + floor(r*b/c) exactly. With r < c this fits long after a*b does not
  // when b is below c, as in TSC ticks to ns over a long uptime: two divisions instead of the long one.
  const aq = a / c, ar = a % c;
  if (fits(aq, b) && fits(ar, b)) {
    const whole = aq * b, part = (ar * b) / c;
    return whole <= u64.MAX_VALUE - part ? whole + part : u64.MAX_VALUE;
  }
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

/** Whether x*y fits in 64 bits, known without a division: x*y < 2^(128 - clz(x) - clz(y)). */
@inline function fits(x: u64, y: u64): bool {
  return clz<u64>(x) + clz<u64>(y) >= 64;
}
