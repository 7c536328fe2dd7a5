// The device side of a split virtqueue (virtio 1.2 2.7): pops and validates descriptor chains a driver (a guest) posted, pushes used elements.

import { BoundedMemory } from "../lib/bounded-memory";
import { Barrier, NoBarrier } from "./barrier";
import { Chain } from "./chain";
import {
  DESC_SIZE, DESC_ADDR, DESC_LEN, DESC_FLAGS, DESC_NEXT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE, VIRTQ_DESC_F_INDIRECT,
  AVAIL_FLAGS, AVAIL_IDX, AVAIL_RING, USED_FLAGS, USED_IDX, USED_RING, USED_ELEM_SIZE,
  VIRTQ_AVAIL_F_NO_INTERRUPT, VIRTQ_USED_F_NO_NOTIFY, DESC_ALIGN, AVAIL_ALIGN, USED_ALIGN, MAX_QUEUE_SIZE,
  descTableBytes, availRingBytes, usedRingBytes, isPowerOf2, needEvent,
  FAULT_NONE, FAULT_QUEUE_SIZE, FAULT_RING_OUTSIDE, FAULT_RING_ALIGN, FAULT_AVAIL_IDX,
  FAULT_HEAD_INDEX, FAULT_NEXT_INDEX, FAULT_CHAIN_LOOP, FAULT_CHAIN_TOO_LONG, FAULT_ZERO_LENGTH,
  FAULT_BUFFER_OUTSIDE, FAULT_WRITE_ORDER, FAULT_LENGTH_OVERFLOW, FAULT_INDIRECT_FEATURE, FAULT_INDIRECT_LEN,
  FAULT_INDIRECT_OUTSIDE, FAULT_INDIRECT_NESTED, FAULT_INDIRECT_NEXT,
} from "./ring";

/**
 * One queue of a device model. Everything the guest controls is read once into a local, checked, then
 * used: ring addresses at `setup`, then indexes, descriptors and indirect tables as they are met, so no
 * access goes outside `mem` (its `fault` flag is never set by this code) and no guest value can make a
 * loop run longer than the queue size. The first problem found sets `fault` (FAULT_*); from then on the
 * queue does nothing until `reset` (the device model sets DEVICE_NEEDS_RESET, virtio 1.2 2.1.2).
 */
export class DeviceQueue {
  readonly maxSize: u32;
  mem: BoundedMemory;
  barrier: Barrier;
  size: u32 = 0;
  desc: u64 = 0;
  avail: u64 = 0;
  used: u64 = 0;
  /** VIRTIO_F_EVENT_IDX and VIRTIO_F_INDIRECT_DESC as negotiated. */
  eventIdx: bool = false;
  indirect: bool = false;
  fault: i32 = FAULT_NONE;
  /** The next avail entry to take (free-running, 16-bit). */
  lastAvail: u32 = 0;
  /** The avail idx last read from the ring (validated). */
  availSeen: u32 = 0;
  /** The next used slot (free-running, 16-bit); `publishUsed` makes entries up to it visible. */
  usedIdx: u32 = 0;
  private published: u32 = 0;
  private signalled: u32 = 0;

  constructor(mem: BoundedMemory, maxSize: u32, barrier: Barrier | null = null) {
    this.mem = mem;
    this.maxSize = maxSize < MAX_QUEUE_SIZE ? maxSize : MAX_QUEUE_SIZE;
    this.barrier = barrier != null ? barrier : new NoBarrier();
  }

  /** Back to not set up (device reset, virtio 1.2 2.1.2 / 4.1.4.3.2). */
  reset(): void {
    this.size = 0;
    this.desc = 0;
    this.avail = 0;
    this.used = 0;
    this.eventIdx = false;
    this.indirect = false;
    this.fault = FAULT_NONE;
    this.lastAvail = 0;
    this.availSeen = 0;
    this.usedIdx = 0;
    this.published = 0;
    this.signalled = 0;
  }

  /**
   * Takes the ring the driver set up (queue_enable): size a power of 2 up to the device's maximum, each
   * part aligned (desc 16, avail 2, used 4) and inside memory (virtio 1.2 2.7 "Virtqueue Part Alignment").
   * Returns the fault (also kept in `fault`).
   */
  setup(size: u32, desc: u64, avail: u64, used: u64, eventIdx: bool, indirect: bool): i32 {
    this.reset();
    if (!isPowerOf2(size) || size > this.maxSize) return (this.fault = FAULT_QUEUE_SIZE);
    if ((desc & (DESC_ALIGN - 1)) != 0 || (avail & (AVAIL_ALIGN - 1)) != 0 || (used & (USED_ALIGN - 1)) != 0) {
      return (this.fault = FAULT_RING_ALIGN);
    }
    if (!this.mem.contains(desc, descTableBytes(size)) || !this.mem.contains(avail, availRingBytes(size)) ||
        !this.mem.contains(used, usedRingBytes(size))) {
      return (this.fault = FAULT_RING_OUTSIDE);
    }
    this.size = size;
    this.desc = desc;
    this.avail = avail;
    this.used = used;
    this.eventIdx = eventIdx;
    this.indirect = indirect;
    // The driver may start from a ring it used before (virtio 1.2 2.7.6: idx starts at 0 only after reset).
    return FAULT_NONE;
  }

  /**
   * Resumes a set-up queue at saved indexes (a restored VM; the fuzzer uses it for wrapped 16-bit
   * indexes). The used idx in memory is the caller's to match.
   */
  setIndexes(lastAvail: u32, usedIdx: u32): void {
    if (!this.ready()) return;
    this.lastAvail = lastAvail & 0xffff;
    this.availSeen = this.lastAvail;
    this.usedIdx = usedIdx & 0xffff;
    this.published = this.usedIdx;
    this.signalled = this.usedIdx;
  }

  @inline ready(): bool {
    return this.size != 0 && this.fault == FAULT_NONE;
  }

  /** Available chains not yet popped; 0 and `fault` set when the avail idx is more than the queue size ahead. */
  pending(): u32 {
    if (!this.ready()) return 0;
    const idx = this.mem.load16(this.avail + AVAIL_IDX);
    const ahead = (idx - this.lastAvail) & 0xffff;
    if (ahead > this.size) {
      this.fault = FAULT_AVAIL_IDX;
      return 0;
    }
    this.availSeen = idx;
    return ahead;
  }

  /**
   * Pops the next available chain into `c` (readable segments, then writable). False when none is
   * available or the ring is broken (then `fault` says why; the chain is not consumed).
   */
  pop(c: Chain): bool {
    if (!this.ready()) return false;
    if (this.lastAvail == this.availSeen && this.pending() == 0) return false;
    const head = this.mem.load16(this.avail + AVAIL_RING + 2 * <u64>(this.lastAvail & (this.size - 1)));
    if (head >= this.size) {
      this.fault = FAULT_HEAD_INDEX;
      return false;
    }
    const f = this.walk(c, head);
    if (f != FAULT_NONE) {
      this.fault = f;
      return false;
    }
    this.lastAvail = (this.lastAvail + 1) & 0xffff;
    return true;
  }

  /** Follows a chain from `head` (< size) into c, checking every descriptor (virtio 1.2 2.7.5, 2.7.5.3). */
  private walk(c: Chain, head: u32): i32 {
    c.clear();
    c.head = head;
    let table = this.desc;
    let entries = this.size;
    let i = head;
    // A chain may not be longer than the queue (virtio 1.2 2.7.5.2): more means a loop.
    let budget = this.size;
    let inIndirect = false;
    for (;;) {
      if (budget == 0) return FAULT_CHAIN_LOOP;
      budget--;
      const at = table + <u64>i * DESC_SIZE;
      const addr = this.mem.load64(at + DESC_ADDR);
      const len = this.mem.load32(at + DESC_LEN);
      const flags = this.mem.load16(at + DESC_FLAGS);
      const next = this.mem.load16(at + DESC_NEXT);
      if ((flags & VIRTQ_DESC_F_INDIRECT) != 0) {
        // virtio 1.2 2.7.5.3.1: only with the feature, never nested, never with NEXT; the table holds whole descriptors.
        if (!this.indirect) return FAULT_INDIRECT_FEATURE;
        if (inIndirect) return FAULT_INDIRECT_NESTED;
        if ((flags & VIRTQ_DESC_F_NEXT) != 0) return FAULT_INDIRECT_NEXT;
        if (len == 0 || (len & (DESC_SIZE - 1)) != 0 || len / DESC_SIZE > this.size) return FAULT_INDIRECT_LEN;
        if (!this.mem.contains(addr, len)) return FAULT_INDIRECT_OUTSIDE;
        table = addr;
        entries = len / DESC_SIZE;
        budget = entries;
        i = 0;
        inIndirect = true;
        continue;
      }
      if (len == 0) return FAULT_ZERO_LENGTH;
      if (!this.mem.contains(addr, len)) return FAULT_BUFFER_OUTSIDE;
      const write = (flags & VIRTQ_DESC_F_WRITE) != 0;
      // virtio 1.2 2.7.4.2: device-writable descriptors come after every device-readable one.
      if (!write && c.writable != 0) return FAULT_WRITE_ORDER;
      if (c.count() >= c.capacity) return FAULT_CHAIN_TOO_LONG;
      if ((write ? c.writeBytes : c.readBytes) + len > 0xffffffff) return FAULT_LENGTH_OVERFLOW;
      c.add(addr, len, write);
      if ((flags & VIRTQ_DESC_F_NEXT) == 0) return FAULT_NONE;
      if (next >= entries) return FAULT_NEXT_INDEX;
      i = next;
    }
    return FAULT_NONE; // not reached: the loop returns
  }

  /** Gives back the chain `head` with `len` bytes written into its writable part (visible after `publishUsed`). */
  push(head: u32, len: u32): void {
    if (!this.ready()) return;
    const e = this.used + USED_RING + USED_ELEM_SIZE * <u64>(this.usedIdx & (this.size - 1));
    this.mem.store32(e, head);
    this.mem.store32(e + 4, len);
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
  }

  /** Makes the pushed elements visible: one used idx store per batch (virtio 1.2 2.7.8.2). */
  publishUsed(): void {
    if (!this.ready() || this.published == this.usedIdx) return;
    this.mem.store16(this.used + USED_IDX, this.usedIdx);
    this.published = this.usedIdx;
  }

  /**
   * Whether the driver wants an interrupt for what was published since the last call: with EVENT_IDX when
   * the used idx crossed used_event, else unless VIRTQ_AVAIL_F_NO_INTERRUPT (virtio 1.2 2.7.7).
   */
  needsInterrupt(): bool {
    if (!this.ready()) return false;
    const now = this.published;
    const old = this.signalled;
    if (now == old) return false;
    this.signalled = now;
    this.barrier.full(); // the used idx store before the used_event / flags load
    if (this.eventIdx) return needEvent(this.mem.load16(this.avail + AVAIL_RING + 2 * <u64>this.size), now, old);
    return (this.mem.load16(this.avail + AVAIL_FLAGS) & VIRTQ_AVAIL_F_NO_INTERRUPT) == 0;
  }

  /**
   * Asks the driver not to notify (the device is polling this queue): VIRTQ_USED_F_NO_NOTIFY without
   * EVENT_IDX; with it, avail_event is simply left behind, which the driver reads as "no kick" (2.7.10).
   */
  disableNotify(): void {
    if (!this.ready() || this.eventIdx) return;
    this.mem.store16(this.used + USED_FLAGS, VIRTQ_USED_F_NO_NOTIFY);
  }

  /**
   * Asks for a notification when the driver adds past what was seen (avail_event = last avail idx read,
   * or the flag cleared). Returns true when chains are already pending: keep polling instead of waiting.
   */
  enableNotify(): bool {
    if (!this.ready()) return false;
    if (this.eventIdx) this.mem.store16(this.used + USED_RING + USED_ELEM_SIZE * <u64>this.size, this.availSeen);
    else this.mem.store16(this.used + USED_FLAGS, 0);
    this.barrier.full(); // the store before re-reading avail idx, or a kick could be missed
    return this.pending() != 0;
  }
}

