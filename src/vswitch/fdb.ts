// The forwarding database: (VLAN, MAC) -> port, per-VLAN independent learning, open addressing, bounded, aging.

import { DEFAULT_AGING_S, DEFAULT_MAX_ENTRIES } from "./config";

export const NS_PER_S: i64 = 1_000_000_000;

/** Key of (vlan, mac): vlan in bits 48..59, never 0 for a valid VLAN (1-4094). */
@inline export function fdbKey(vlan: i32, mac: u64): u64 {
  return (<u64>vlan << 48) | mac;
}

/** Slots for n entries: a power of two, at most half full. */
function slotsFor(n: i32): i32 {
  let s = 16;
  while (s < n * 2) s <<= 1;
  return s;
}

export class Fdb {
  // Allocated by setMaxEntries (from the constructor too).
  keys: StaticArray<u64> = new StaticArray<u64>(0);
  ports: StaticArray<i32> = new StaticArray<i32>(0);
  seen: StaticArray<i64> = new StaticArray<i64>(0);
  statics: StaticArray<u8> = new StaticArray<u8>(0);
  mask: i32 = -1;
  shift: u64 = 0;
  count: i32 = 0;
  maxEntries: i32 = DEFAULT_MAX_ENTRIES;
  agingS: i64 = DEFAULT_AGING_S;
  agingNs: i64 = DEFAULT_AGING_S * NS_PER_S;
  /** Dynamic entries per port id. */
  learned: StaticArray<i32>;

  constructor(maxPorts: i32) {
    this.learned = new StaticArray<i32>(maxPorts);
    this.setMaxEntries(DEFAULT_MAX_ENTRIES);
  }

  @inline home(key: u64): i32 {
    return <i32>((key * 0x9e3779b97f4a7c15) >> this.shift);
  }

  setAging(s: i64): void {
    this.agingS = s;
    this.agingNs = s * NS_PER_S;
  }

  /** Changes the capacity; the table is rebuilt, every entry kept (a lower limit only stops new learning). The constructor allocates the table here. */
  setMaxEntries(max: i32): void {
    this.maxEntries = max;
    const want = slotsFor(max > this.count ? max : this.count);
    if (want == this.mask + 1) return;
    const ok = this.keys;
    const op = this.ports;
    const os = this.seen;
    const ost = this.statics;
    this.keys = new StaticArray<u64>(want);
    this.ports = new StaticArray<i32>(want);
    this.seen = new StaticArray<i64>(want);
    this.statics = new StaticArray<u8>(want);
    this.mask = want - 1;
    this.shift = <u64>(64 - ctz(want));
    for (let i = 0; i < ok.length; i++) {
      const k = unchecked(ok[i]);
      if (k == 0) continue;
      let j = this.home(k);
      while (unchecked(this.keys[j]) != 0) j = (j + 1) & this.mask;
      unchecked((this.keys[j] = k));
      unchecked((this.ports[j] = op[i]));
      unchecked((this.seen[j] = os[i]));
      unchecked((this.statics[j] = ost[i]));
    }
  }

  @inline isExpired(slot: i32, now: i64): bool {
    return this.agingNs != 0 && unchecked(this.statics[slot]) == 0 && now - unchecked(this.seen[slot]) > this.agingNs;
  }

  /** The slot holding key, or -1. An expired entry met here is removed and reported absent. */
  @inline find(key: u64, now: i64): i32 {
    let i = this.home(key);
    while (true) {
      const k = unchecked(this.keys[i]);
      if (k == key) {
        if (this.isExpired(i, now)) {
          this.removeAt(i);
          return -1;
        }
        return i;
      }
      if (k == 0) return -1;
      i = (i + 1) & this.mask;
    }
    return -1;
  }

  /** Adds a new key (the caller checked it is absent). -1 when the table is full. */
  insert(key: u64, port: i32, now: i64, isStatic: bool): i32 {
    if (this.count >= this.maxEntries) return -1;
    let i = this.home(key);
    while (unchecked(this.keys[i]) != 0) i = (i + 1) & this.mask;
    unchecked((this.keys[i] = key));
    unchecked((this.ports[i] = port));
    unchecked((this.seen[i] = now));
    unchecked((this.statics[i] = isStatic ? 1 : 0));
    this.count++;
    if (!isStatic) unchecked(this.learned[port]++);
    return i;
  }

  /** Moves a dynamic entry to another port (a MAC move). */
  @inline move(slot: i32, port: i32): void {
    unchecked(this.learned[this.ports[slot]]--);
    unchecked((this.ports[slot] = port));
    unchecked(this.learned[port]++);
  }

  /** Removes the entry at slot, shifting later entries of its cluster back (no tombstones). */
  removeAt(slot: i32): void {
    if (unchecked(this.statics[slot]) == 0) unchecked(this.learned[this.ports[slot]]--);
    this.count--;
    let i = slot;
    let j = slot;
    const m = this.mask;
    while (true) {
      j = (j + 1) & m;
      const k = unchecked(this.keys[j]);
      if (k == 0) break;
      const h = this.home(k);
      // Move j into the hole at i when its home is not cyclically within (i, j].
      const inRange = i <= j ? h > i && h <= j : h > i || h <= j;
      if (inRange) continue;
      unchecked((this.keys[i] = k));
      unchecked((this.ports[i] = this.ports[j]));
      unchecked((this.seen[i] = this.seen[j]));
      unchecked((this.statics[i] = this.statics[j]));
      i = j;
    }
    unchecked((this.keys[i] = 0));
  }

  /** Removes entries matching vlan (-1 any), port (-1 any); statics too when withStatics. Returns the count removed. */
  flush(vlan: i32, port: i32, withStatics: bool): i32 {
    // Learned entries of one port are counted (learned[]): the scan ends when the last is gone, at once when there are none.
    const counted = port >= 0 && !withStatics;
    let removed = 0;
    let i = 0;
    const n = this.mask + 1;
    while (i < n) {
      if (counted && unchecked(this.learned[port]) == 0) break;
      const k = unchecked(this.keys[i]);
      if (
        k != 0 &&
        (vlan < 0 || <i32>(k >> 48) == vlan) &&
        (port < 0 || unchecked(this.ports[i]) == port) &&
        (withStatics || unchecked(this.statics[i]) == 0)
      ) {
        this.removeAt(i);
        removed++;
        continue; // a later entry may have moved into slot i
      }
      i++;
    }
    return removed;
  }

  /** Removes every expired dynamic entry; returns how many. */
  sweep(now: i64): i32 {
    if (this.agingNs == 0) return 0;
    let removed = 0;
    let i = 0;
    const n = this.mask + 1;
    while (i < n) {
      if (unchecked(this.keys[i]) != 0 && this.isExpired(i, now)) {
        this.removeAt(i);
        removed++;
        continue;
      }
      i++;
    }
    return removed;
  }
}
