// The forwarding database: (VLAN, MAC) -> port, per-VLAN independent learning, open addressing, bounded, aging.

import { DEFAULT_AGING_S, DEFAULT_MAX_ENTRIES } from "./config";

export const NS_PER_S: i64 = 1_000_000_000;

/** Key of (vlan, wire-order mac: see loadWireMac): vlan in bits 48..59, never 0 for a valid VLAN (1-4094). */
@inline export function fdbKey(vlan: i32, mac: u64): u64 {
  return (<u64>vlan << 48) | mac;
}

/** Slots for n entries: a power of two, at most half full. */
function slotsFor(n: i32): i32 {
  let s = 16;
  while (s < n * 2) s <<= 1;
  return s;
}

/** Bytes per table slot: key u64 at 0 (0 = empty), last seen i64 (ns) at 8, port i32 at 16, static flag u8 at 20.
 * One slot per entry keeps a lookup's key, aging check and port together (one cache line; two for 2 slots in 8). */
export const SLOT_BYTES: usize = 24;
const SEEN: usize = 8;
const PORT: usize = 16;
const STATIC: usize = 20;

// A slot's fields by its address (Fdb.addr): the hot path computes the address once per lookup.
@inline export function slotKey(a: usize): u64 {
  return load<u64>(a);
}
@inline export function slotPort(a: usize): i32 {
  return load<i32>(a, PORT);
}
@inline export function slotSeen(a: usize): i64 {
  return load<i64>(a, SEEN);
}
@inline export function slotIsStatic(a: usize): bool {
  return load<u8>(a, STATIC) != 0;
}
@inline export function slotTouch(a: usize, now: i64): void {
  store<i64>(a, now, SEEN);
}

export class Fdb {
  /** Owns the slots; `base` is its address (the heap never moves objects). Allocated by setMaxEntries. */
  private table: StaticArray<u8> = new StaticArray<u8>(0);
  private base: usize = 0;
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
  /** Address of a slot (see slotKey, slotPort, ...). */
  @inline addr(slot: i32): usize {
    return this.base + <usize>slot * SLOT_BYTES;
  }
  /** The slot's key (vlan << 48 | mac), 0 when empty. */
  @inline key(slot: i32): u64 {
    return slotKey(this.addr(slot));
  }
  @inline port(slot: i32): i32 {
    return slotPort(this.addr(slot));
  }
  @inline seen(slot: i32): i64 {
    return slotSeen(this.addr(slot));
  }
  @inline isStatic(slot: i32): bool {
    return slotIsStatic(this.addr(slot));
  }
  @inline private fill(slot: i32, key: u64, port: i32, seen: i64, isStatic: bool): void {
    const a = this.addr(slot);
    store<u64>(a, key);
    store<i64>(a, seen, SEEN);
    store<i32>(a, port, PORT);
    store<u8>(a, isStatic ? 1 : 0, STATIC);
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
    // The old table is unreferenced once replaced; the copy loop allocates nothing, so no collection runs while it is read.
    const old = changetype<usize>(this.table);
    const oldSlots = this.mask + 1;
    this.table = new StaticArray<u8>(want * <i32>SLOT_BYTES);
    this.base = changetype<usize>(this.table);
    this.mask = want - 1;
    this.shift = <u64>(64 - ctz(want));
    for (let i = 0; i < oldSlots; i++) {
      const a = old + <usize>i * SLOT_BYTES;
      const k = load<u64>(a);
      if (k == 0) continue;
      let j = this.home(k);
      while (this.key(j) != 0) j = (j + 1) & this.mask;
      memory.copy(this.addr(j), a, SLOT_BYTES);
    }
  }

  @inline isExpired(slot: i32, now: i64): bool {
    const a = this.addr(slot);
    return this.agingNs != 0 && !slotIsStatic(a) && now - slotSeen(a) > this.agingNs;
  }

  /** The slot holding key, or -1. An expired entry met here is removed and reported absent. */
  @inline find(key: u64, now: i64): i32 {
    let i = this.home(key);
    while (true) {
      const k = this.key(i);
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
    while (this.key(i) != 0) i = (i + 1) & this.mask;
    this.fill(i, key, port, now, isStatic);
    this.count++;
    if (!isStatic) unchecked(this.learned[port]++);
    return i;
  }

  /** Moves a dynamic entry to another port (a MAC move). */
  @inline move(slot: i32, port: i32): void {
    unchecked(this.learned[this.port(slot)]--);
    store<i32>(this.addr(slot), port, PORT);
    unchecked(this.learned[port]++);
  }

  /** Turns the entry at slot into a static entry on port (a dynamic one stops counting toward its port). */
  makeStatic(slot: i32, port: i32): void {
    if (!this.isStatic(slot)) unchecked(this.learned[this.port(slot)]--);
    store<i32>(this.addr(slot), port, PORT);
    store<u8>(this.addr(slot), 1, STATIC);
  }

  /** Removes the entry at slot, shifting later entries of its cluster back (no tombstones). */
  removeAt(slot: i32): void {
    if (!this.isStatic(slot)) unchecked(this.learned[this.port(slot)]--);
    this.count--;
    let i = slot;
    let j = slot;
    const m = this.mask;
    while (true) {
      j = (j + 1) & m;
      const k = this.key(j);
      if (k == 0) break;
      const h = this.home(k);
      // Move j into the hole at i when its home is not cyclically within (i, j].
      const inRange = i <= j ? h > i && h <= j : h > i || h <= j;
      if (inRange) continue;
      memory.copy(this.addr(i), this.addr(j), SLOT_BYTES);
      i = j;
    }
    store<u64>(this.addr(i), 0);
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
      const k = this.key(i);
      if (
        k != 0 &&
        (vlan < 0 || <i32>(k >> 48) == vlan) &&
        (port < 0 || this.port(i) == port) &&
        (withStatics || !this.isStatic(i))
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
      if (this.key(i) != 0 && this.isExpired(i, now)) {
        this.removeAt(i);
        removed++;
        continue;
      }
      i++;
    }
    return removed;
  }
}
