// Token buckets in integer math: tokens are kept in units x 1e9 so a rate per second refills per nanosecond.

export const SCALE: i64 = 1_000_000_000;

/** A bucket of `cap` units refilled at `rate` units per second on the caller's clock (ns). Starts full. */
export class TokenBucket {
  rate: i64;
  cap: i64; // scaled
  tokens: i64; // scaled
  last: i64 = 0;
  started: bool = false;

  /** Nanoseconds after which an empty bucket is full again (more than cap / rate): refill needs no division. */
  fullAfter: i64;

  constructor(ratePerSecond: i64, capUnits: i64) {
    this.rate = ratePerSecond;
    this.cap = capUnits * SCALE;
    this.tokens = this.cap;
    this.fullAfter = this.cap / ratePerSecond + 1;
  }

  /** Refills up to `now` (ns). A clock going backwards adds nothing. */
  @inline refill(now: i64): void {
    if (!this.started) {
      this.started = true;
      this.last = now;
      return;
    }
    if (now <= this.last) return;
    const elapsed = now - this.last;
    this.last = now;
    // elapsed < fullAfter keeps elapsed * rate below cap + rate: no overflow for the rates and bursts config allows.
    if (elapsed >= this.fullAfter) this.tokens = this.cap;
    else {
      const t = this.tokens + elapsed * this.rate;
      this.tokens = t > this.cap ? this.cap : t;
    }
  }

  /** Takes `units` if the bucket holds them; false (nothing taken) otherwise. */
  @inline take(now: i64, units: i64): bool {
    this.refill(now);
    const c = units * SCALE;
    if (this.tokens < c) return false;
    this.tokens -= c;
    return true;
  }

  /** Would `units` fit now (after refilling)? */
  @inline fits(now: i64, units: i64): bool {
    this.refill(now);
    return this.tokens >= units * SCALE;
  }
}

/** Bytes per second for a rate in kbit/s (1000 bit/s). */
@inline export function kbpsToBytesPerSecond(kbps: i64): i64 {
  return kbps * 125;
}
