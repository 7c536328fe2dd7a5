// Physical page allocator: 4 KiB pages of RAM, fed by the multiboot memory
// map minus what boot/ already uses (low 1 MiB, kernel image, monitor heap).
// Free memory is a sorted list of ranges plus a stack of freed single pages.
import { phys_fill } from "../hw/intrinsics";

export const PAGE_SIZE: u64 = 4096;

class Range {
  constructor(public start: u64, public end: u64) {}
}

export class PageAllocator {
  ranges: Array<Range> = new Array<Range>();
  freed: Array<u64> = new Array<u64>();
  totalPages: u64 = 0;
  freePages: u64 = 0;

  /** Adds [start, end) (rounded inwards to pages) as free RAM. */
  addFree(start: u64, end: u64): void {
    const s = (start + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    const e = end & ~(PAGE_SIZE - 1);
    if (e <= s) return;
    // keep sorted (insertion), then merge neighbours
    this.ranges.push(new Range(s, e));
    let i = this.ranges.length - 1;
    while (i > 0 && this.ranges[i - 1].start > s) {
      this.ranges[i] = this.ranges[i - 1];
      i--;
    }
    this.ranges[i] = new Range(s, e);
    this.totalPages += (e - s) / PAGE_SIZE;
    this.freePages += (e - s) / PAGE_SIZE;
    this.normalize();
  }

  /** Removes [start, end) from the free ranges (pages partly covered are removed). */
  reserve(start: u64, end: u64): void {
    const s = start & ~(PAGE_SIZE - 1);
    const e = (end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    if (e <= s) return;
    const out = new Array<Range>();
    for (let i = 0; i < this.ranges.length; i++) {
      const r = this.ranges[i];
      if (r.end <= s || r.start >= e) {
        out.push(r);
        continue;
      }
      const cutStart = r.start > s ? r.start : s;
      const cutEnd = r.end < e ? r.end : e;
      const removed = (cutEnd - cutStart) / PAGE_SIZE;
      this.totalPages -= removed;
      this.freePages -= removed;
      if (r.start < s) out.push(new Range(r.start, s));
      if (r.end > e) out.push(new Range(e, r.end));
    }
    this.ranges = out;
  }

  private normalize(): void {
    const out = new Array<Range>();
    for (let i = 0; i < this.ranges.length; i++) {
      const r = this.ranges[i];
      if (out.length > 0 && out[out.length - 1].end >= r.start) {
        const last = out[out.length - 1];
        if (r.end > last.end) {
          // overlapping input: count the overlap once
          const overlap = (last.end - r.start) / PAGE_SIZE;
          this.totalPages -= overlap;
          this.freePages -= overlap;
          last.end = r.end;
        } else {
          const dup = (r.end - r.start) / PAGE_SIZE;
          this.totalPages -= dup;
          this.freePages -= dup;
        }
      } else out.push(r);
    }
    this.ranges = out;
  }

  /** One page (zeroed unless `zero` is false), or 0 when memory is exhausted. */
  allocPage(zero: bool = true): u64 {
    let pa: u64 = 0;
    if (this.freed.length > 0) pa = this.freed.pop();
    else {
      for (let i = 0; i < this.ranges.length; i++) {
        const r = this.ranges[i];
        if (r.end > r.start) {
          pa = r.start;
          r.start += PAGE_SIZE;
          break;
        }
      }
      if (pa == 0) return 0;
    }
    this.freePages--;
    if (zero) phys_fill(<i64>pa, 0, <i64>PAGE_SIZE);
    return pa;
  }

  /** `count` contiguous pages aligned to `alignPages` pages (zeroed), or 0. */
  allocContiguous(count: u64, alignPages: u64 = 1, zero: bool = true): u64 {
    if (count == 0) return 0;
    const align = (alignPages == 0 ? 1 : alignPages) * PAGE_SIZE;
    const bytes = count * PAGE_SIZE;
    for (let i = 0; i < this.ranges.length; i++) {
      const r = this.ranges[i];
      const s = (r.start + align - 1) & ~(align - 1);
      if (s + bytes > r.end || s < r.start) continue;
      // split off what precedes the aligned start
      // what precedes the aligned start stays free, at the end of the list
      if (s > r.start) this.ranges.push(new Range(r.start, s));
      r.start = s + bytes;
      this.freePages -= count;
      if (zero) phys_fill(<i64>s, 0, <i64>bytes);
      return s;
    }
    return 0;
  }

  /** Returns one page to the allocator. */
  freePage(pa: u64): void {
    this.freed.push(pa & ~(PAGE_SIZE - 1));
    this.freePages++;
  }
}

/** The machine's physical pages (src/main.ts fills it at boot). */
export const physPages = new PageAllocator();

/** Bytes of usable RAM in the firmware's memory map (system.info memory_mib), set once at boot. */
export let usableMemory: u64 = 0;
export function setUsableMemory(bytes: u64): void {
  usableMemory = bytes;
}
