// The driver side of a split virtqueue (virtio 1.2 2.7): lays out a ring in a DMA window, posts chains, reaps and checks used entries.

import { BoundedMemory } from "../lib/bounded-memory";
import { Barrier, NoBarrier } from "./barrier";
import { Chain } from "./chain";
import {
  DESC_SIZE, DESC_ADDR, DESC_LEN, DESC_FLAGS, DESC_NEXT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE,
  AVAIL_FLAGS, AVAIL_IDX, AVAIL_RING, USED_FLAGS, USED_IDX, USED_RING, USED_ELEM_SIZE,
  VIRTQ_AVAIL_F_NO_INTERRUPT, VIRTQ_USED_F_NO_NOTIFY, DESC_ALIGN, USED_ALIGN, MAX_QUEUE_SIZE,
  descTableBytes, availRingBytes, usedRingBytes, isPowerOf2, needEvent,
  FAULT_NONE, FAULT_QUEUE_SIZE, FAULT_RING_OUTSIDE, FAULT_RING_ALIGN,
  FAULT_USED_IDX, FAULT_USED_ID, FAULT_USED_LEN,
} from "./ring";

const NONE: u32 = 0xffff;
// Per-head state: free, added (in the avail ring but idx not yet published), published (the device may use it).
const HEAD_FREE: u8 = 0;
const HEAD_ADDED: u8 = 1;
const HEAD_PUBLISHED: u8 = 2;

/** Bytes of a ring laid out by `DriverQueue.layout` (descriptors, avail, used at `usedAlign`). */
export function driverRingBytes(size: u32, usedAlign: u64): u64 {
  return alignUp(descTableBytes(size) + availRingBytes(size), usedAlign) + usedRingBytes(size);
}

@inline function alignUp(v: u64, a: u64): u64 {
  return (v + a - 1) & ~(a - 1);
}

/**
 * The monitor's side of a queue to a real device. Addresses given to it are offsets in the window `mem`;
 * the device sees them plus `busBase` (the window's physical address). Everything the device reads back
 * from it (descriptor links, lengths, ids) is kept in shadow arrays here, so a device that scribbles on
 * the ring can make `reap` report a fault but never corrupt this side's bookkeeping. No allocation after
 * the constructor.
 */
export class DriverQueue {
  readonly maxSize: u32;
  mem: BoundedMemory;
  barrier: Barrier;
  busBase: u64 = 0;
  size: u32 = 0;
  desc: u64 = 0;
  avail: u64 = 0;
  used: u64 = 0;
  eventIdx: bool = false;
  /** FAULT_* of the first problem seen; once set, add/publish/reap do nothing until `layout` again. */
  fault: i32 = FAULT_NONE;

  // Shadow state (indexes are descriptor numbers).
  private nextOf: StaticArray<u16>; // link of our own chains and of the free list
  private chainLen: StaticArray<u16>; // descriptors in the chain headed here
  private writeLen: StaticArray<u32>; // writable bytes posted (u32 max when larger)
  private tokens: StaticArray<u32>;
  private state: StaticArray<u8>;
  private added: StaticArray<u16>; // heads added since the last publish, in order
  private nAdded: u32 = 0;
  private freeHead: u32 = NONE;
  /** Free descriptors. */
  numFree: u32 = 0;
  private availIdx: u32 = 0; // next avail slot (free-running, 16-bit)
  private published: u32 = 0; // avail idx last written to the ring
  private usedSeen: u32 = 0; // used entries consumed
  /** Chains published and not yet reaped. */
  inFlight: u32 = 0;

  /** What the last successful `reap` returned. */
  id: u32 = 0;
  len: u32 = 0;
  token: u32 = 0;

  constructor(mem: BoundedMemory, maxSize: u32, barrier: Barrier | null = null) {
    this.mem = mem;
    this.maxSize = maxSize;
    this.barrier = barrier != null ? barrier : new NoBarrier();
    this.nextOf = new StaticArray<u16>(maxSize);
    this.chainLen = new StaticArray<u16>(maxSize);
    this.writeLen = new StaticArray<u32>(maxSize);
    this.tokens = new StaticArray<u32>(maxSize);
    this.state = new StaticArray<u8>(maxSize);
    this.added = new StaticArray<u16>(maxSize);
  }

  /**
   * Lays out a zeroed ring of `size` entries at `base` in the window: descriptors, avail ring, then the
   * used ring at `usedAlign` (4 for modern devices, 4096 for legacy ones, virtio 1.2 2.7.2). Returns a fault
   * code (size not a power of 2 up to maxSize, ring outside the window, base not 16-aligned).
   */
  layout(base: u64, size: u32, usedAlign: u64, busBase: u64, eventIdx: bool): i32 {
    this.fault = FAULT_NONE;
    if (!isPowerOf2(size) || size > MAX_QUEUE_SIZE || size > this.maxSize) return (this.fault = FAULT_QUEUE_SIZE);
    if ((base & (DESC_ALIGN - 1)) != 0 || usedAlign < USED_ALIGN || !isPowerOf2(<u32>usedAlign)) return (this.fault = FAULT_RING_ALIGN);
    const bytes = driverRingBytes(size, usedAlign);
    if (!this.mem.contains(base, bytes)) return (this.fault = FAULT_RING_OUTSIDE);
    for (let a: u64 = 0; a + 8 <= bytes; a += 8) this.mem.store64(base + a, 0);
    for (let a: u64 = bytes & ~7; a < bytes; a++) this.mem.store8(base + a, 0);
    this.size = size;
    this.desc = base;
    this.avail = base + descTableBytes(size);
    this.used = base + alignUp(descTableBytes(size) + availRingBytes(size), usedAlign);
    this.busBase = busBase;
    this.eventIdx = eventIdx;
    for (let i: u32 = 0; i < size; i++) {
      unchecked((this.nextOf[i] = <u16>(i + 1 < size ? i + 1 : NONE)));
      unchecked((this.state[i] = HEAD_FREE));
      unchecked((this.chainLen[i] = 0));
    }
    this.freeHead = 0;
    this.numFree = size;
    this.availIdx = 0;
    this.published = 0;
    this.usedSeen = 0;
    this.inFlight = 0;
    this.nAdded = 0;
    return FAULT_NONE;
  }

  /** Bus addresses to program into the device (queue_desc, queue_driver, queue_device). */
  @inline descBus(): u64 { return this.busBase + this.desc; }
  @inline availBus(): u64 { return this.busBase + this.avail; }
  @inline usedBus(): u64 { return this.busBase + this.used; }

  /**
   * Posts a chain (segments are window offsets, readable first) with a token returned by `reap`.
   * Returns the head, -1 when there are not enough free descriptors (try again after reaping), -2 when
   * the chain is empty or a segment lies outside the window (a bug in the caller), -3 after a fault.
   */
  add(sg: Chain, token: u32): i32 {
    if (this.fault != FAULT_NONE || this.size == 0) return -3;
    const n = <u32>sg.count();
    if (n == 0) return -2;
    for (let i = 0; i < <i32>n; i++) if (sg.len(i) == 0 || !this.mem.contains(sg.addr(i), sg.len(i))) return -2;
    if (n > this.numFree) return -1;
    const head = this.freeHead;
    let d = head;
    let last = head;
    for (let i = 0; i < <i32>n; i++) {
      const at = this.desc + <u64>d * DESC_SIZE;
      const more = <u32>i + 1 < n;
      const next = <u32>unchecked(this.nextOf[d]);
      let flags: u32 = more ? VIRTQ_DESC_F_NEXT : 0;
      if (i >= sg.readable) flags |= VIRTQ_DESC_F_WRITE;
      this.mem.store64(at + DESC_ADDR, this.busBase + sg.addr(i));
      this.mem.store32(at + DESC_LEN, sg.len(i));
      this.mem.store16(at + DESC_FLAGS, flags);
      this.mem.store16(at + DESC_NEXT, more ? next : 0);
      last = d;
      d = next;
    }
    this.freeHead = d;
    this.numFree -= n;
    unchecked((this.nextOf[last] = <u16>NONE)); // our chain ends here; the free list went on at d
    unchecked((this.chainLen[head] = <u16>n));
    unchecked((this.writeLen[head] = sg.writeBytes > 0xffffffff ? 0xffffffff : <u32>sg.writeBytes));
    unchecked((this.tokens[head] = token));
    unchecked((this.state[head] = HEAD_ADDED));
    unchecked((this.added[this.nAdded++] = <u16>head));
    this.mem.store16(this.avail + AVAIL_RING + 2 * <u64>(this.availIdx & (this.size - 1)), head);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    return <i32>head;
  }

  /** A chain of one buffer. */
  addOne(addr: u64, len: u32, write: bool, token: u32, scratch: Chain): i32 {
    scratch.clear();
    scratch.add(addr, len, write);
    return this.add(scratch, token);
  }

  /**
   * Makes every added chain visible (one avail idx store for the batch) and says whether the device
   * wants a notification: with EVENT_IDX when avail_event was crossed (virtio 1.2 2.7.10), else unless
   * the device set VIRTQ_USED_F_NO_NOTIFY.
   */
  publish(): bool {
    if (this.fault != FAULT_NONE || this.size == 0) return false;
    const old = this.published;
    const now = this.availIdx;
    if (old == now) return false;
    for (let i: u32 = 0; i < this.nAdded; i++) unchecked((this.state[this.added[i]] = HEAD_PUBLISHED));
    this.inFlight += this.nAdded;
    this.nAdded = 0;
    this.mem.store16(this.avail + AVAIL_IDX, now);
    this.published = now;
    this.barrier.full(); // the idx store before the event/flags load (virtio 1.2 2.7.13.4.1)
    if (this.eventIdx) return needEvent(this.mem.load16(this.used + USED_RING + USED_ELEM_SIZE * <u64>this.size), now, old);
    return (this.mem.load16(this.used + USED_FLAGS) & VIRTQ_USED_F_NO_NOTIFY) == 0;
  }

  /**
   * Takes the next used entry into id/len/token and frees its descriptors. False when there is none or
   * the device broke the ring (`fault`: FAULT_USED_IDX, FAULT_USED_ID, FAULT_USED_LEN).
   */
  reap(): bool {
    if (this.fault != FAULT_NONE || this.size == 0) return false;
    const usedIdx = this.mem.load16(this.used + USED_IDX);
    const ahead = (usedIdx - this.usedSeen) & 0xffff;
    if (ahead == 0) return false;
    if (ahead > this.inFlight) {
      this.fault = FAULT_USED_IDX;
      return false;
    }
    const e = this.used + USED_RING + USED_ELEM_SIZE * <u64>(this.usedSeen & (this.size - 1));
    const id = this.mem.load32(e);
    const len = this.mem.load32(e + 4);
    if (id >= this.size || unchecked(this.state[id]) != HEAD_PUBLISHED) {
      this.fault = FAULT_USED_ID;
      return false;
    }
    if (len > unchecked(this.writeLen[id])) {
      this.fault = FAULT_USED_LEN;
      return false;
    }
    this.id = id;
    this.len = len;
    this.token = unchecked(this.tokens[id]);
    // Give the chain back: it is linked in nextOf and ends with NONE.
    let last = id;
    const n = <u32>unchecked(this.chainLen[id]);
    for (let i: u32 = 1; i < n; i++) last = <u32>unchecked(this.nextOf[last]);
    unchecked((this.nextOf[last] = <u16>this.freeHead));
    this.freeHead = id;
    this.numFree += n;
    unchecked((this.state[id] = HEAD_FREE));
    unchecked((this.chainLen[id] = 0));
    this.usedSeen = (this.usedSeen + 1) & 0xffff;
    this.inFlight--;
    return true;
  }

  /** Entries the device has used and `reap` has not taken (0 when the used idx is bad: reap reports it). */
  usedPending(): u32 {
    if (this.fault != FAULT_NONE || this.size == 0) return 0;
    const ahead = (this.mem.load16(this.used + USED_IDX) - this.usedSeen) & 0xffff;
    return ahead <= this.inFlight ? ahead : 0;
  }

  /** Asks the device for no interrupts (the monitor polls): the flag without EVENT_IDX; with it, used_event is left behind. */
  disableInterrupts(): void {
    if (this.size == 0) return;
    this.mem.store16(this.avail + AVAIL_FLAGS, VIRTQ_AVAIL_F_NO_INTERRUPT);
  }

  /** Asks for an interrupt at the next used entry; true when entries are already pending (reap them instead of waiting). */
  enableInterrupts(): bool {
    if (this.size == 0) return false;
    this.mem.store16(this.avail + AVAIL_FLAGS, 0);
    if (this.eventIdx) this.mem.store16(this.avail + AVAIL_RING + 2 * <u64>this.size, this.usedSeen);
    this.barrier.full();
    return this.usedPending() != 0;
  }

  /** Laid out and not faulted. */
  ready(): bool {
    return this.size != 0 && this.fault == FAULT_NONE;
  }

  /**
   * The tokens of every chain posted and not reaped, into `out` (room for maxSize); their count. After a
   * fault or a device reset the caller takes its buffers back with these, then lays the ring out again.
   */
  outstandingTokens(out: StaticArray<u32>): i32 {
    let n = 0;
    for (let i: u32 = 0; i < this.size; i++) {
      if (unchecked(this.state[i]) != HEAD_FREE && n < out.length) unchecked((out[n++] = this.tokens[i]));
    }
    return n;
  }
}
