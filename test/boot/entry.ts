// Node build of the boot-time logic (page allocator, multiboot parsing,
// command-line options) for test/boot/unit.test.ts. The test supplies the
// `hw` imports, with physical memory emulated by a JavaScript buffer.
import { PageAllocator } from "../../src/platform/pages";
import { parseMultiboot, parseOptions } from "../../src/platform/multiboot";

let pages = new PageAllocator();

export function pagesReset(): void {
  pages = new PageAllocator();
}
export function pagesAddFree(start: u64, end: u64): void {
  pages.addFree(start, end);
}
export function pagesReserve(start: u64, end: u64): void {
  pages.reserve(start, end);
}
export function pagesAlloc(): u64 {
  return pages.allocPage(false);
}
export function pagesAllocContiguous(count: u64, alignPages: u64): u64 {
  return pages.allocContiguous(count, alignPages, false);
}
export function pagesFree(pa: u64): void {
  pages.freePage(pa);
}
export function pagesFreeCount(): u64 {
  return pages.freePages;
}
export function pagesTotal(): u64 {
  return pages.totalPages;
}

/** "console|loglevel|panicTest|shutdown|unknown,...|has(demo)|value(start)" */
export function optionsProbe(cmdline: string): string {
  const o = parseOptions(cmdline);
  return o.console + "|" + o.loglevel.toString() + "|" + o.panicTest + "|" + (o.shutdown ? "1" : "0") + "|" +
    o.unknown.join(",") + "|" + (o.has("demo") ? "1" : "0") + "|" + o.value("start", "-");
}

/** "version|cmdline|loader|base:length:type;..." (hex) */
export function multibootProbe(magic: u32, infoPa: u64): string {
  const mb = parseMultiboot(magic, infoPa);
  let s = mb.version.toString() + "|" + mb.cmdline + "|" + mb.loader + "|";
  for (let i = 0; i < mb.regions.length; i++) {
    const r = mb.regions[i];
    s += r.base.toString(16) + ":" + r.length.toString(16) + ":" + r.type.toString() + ";";
  }
  return s;
}
