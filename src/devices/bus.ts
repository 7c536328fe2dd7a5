// The VM's port-I/O and MMIO buses: sorted region tables that route an exit's access to the device that registered the range.

import { BusDevice } from "./device";

/**
 * Regions [base, base + size) kept sorted by base, never overlapping, so a
 * lookup is a binary search. Filled when the VM is built; an access is
 * claimed only when it lies entirely inside one region, and the device sees
 * the offset from that region's base.
 */
export class Bus {
  private bases: u64[] = [];
  private ends: u64[] = []; // exclusive; base + size never wraps
  private devices: BusDevice[] = [];
  /** The result of the last claimed read. */
  value: u64 = 0;
  /** Accesses no region claimed. */
  unclaimed: u64 = 0;

  constructor(readonly limit: u64) {}

  /** Adds [base, base+size) for `dev`; false when empty, past the bus's limit or overlapping a region already there. */
  register(base: u64, size: u64, dev: BusDevice): bool {
    if (size == 0 || base >= this.limit || size > this.limit - base) return false;
    const end = base + size;
    const i = this.firstEndAbove(base);
    // Regions are disjoint and sorted: only region i can overlap [base, end).
    if (i < this.bases.length && unchecked(this.bases[i]) < end) return false;
    this.bases.push(0);
    this.ends.push(0);
    this.devices.push(dev);
    for (let j = this.bases.length - 1; j > i; j--) {
      unchecked((this.bases[j] = this.bases[j - 1]));
      unchecked((this.ends[j] = this.ends[j - 1]));
      unchecked((this.devices[j] = this.devices[j - 1]));
    }
    unchecked((this.bases[i] = base));
    unchecked((this.ends[i] = end));
    unchecked((this.devices[i] = dev));
    return true;
  }

  count(): i32 {
    return this.bases.length;
  }

  /** The device whose region holds all of [addr, addr+size), or null. */
  find(addr: u64, size: u32): BusDevice | null {
    const i = this.index(addr, size);
    return i < 0 ? null : unchecked(this.devices[i]);
  }

  /** A read: true when claimed, with the result in `value`. */
  read(addr: u64, size: u32): bool {
    const i = this.index(addr, size);
    if (i < 0) {
      this.unclaimed++;
      return false;
    }
    this.value = unchecked(this.devices[i]).read(addr - unchecked(this.bases[i]), size);
    return true;
  }

  /** A write: true when claimed. */
  write(addr: u64, size: u32, value: u64): bool {
    const i = this.index(addr, size);
    if (i < 0) {
      this.unclaimed++;
      return false;
    }
    unchecked(this.devices[i]).write(addr - unchecked(this.bases[i]), size, value);
    return true;
  }

  private index(addr: u64, size: u32): i32 {
    if (size == 0) return -1;
    const i = this.firstEndAbove(addr);
    if (i >= this.bases.length) return -1;
    const base = unchecked(this.bases[i]);
    const end = unchecked(this.ends[i]);
    if (addr < base || <u64>size > end - addr) return -1;
    return i;
  }

  /** The first region whose end lies above `addr` (binary search). */
  private firstEndAbove(addr: u64): i32 {
    let lo = 0;
    let hi = this.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (unchecked(this.ends[mid]) <= addr) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** Port I/O: 64 Ki ports. */
export class PortBus extends Bus {
  constructor() {
    super(0x10000);
  }
}

/** Guest-physical MMIO outside RAM: the 52-bit physical address space (SDM vol 3 4.1.4 MAXPHYADDR limit). */
export class MmioBus extends Bus {
  constructor() {
    super(<u64>1 << 52);
  }
}
