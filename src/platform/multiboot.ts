// Multiboot 1 and 2 information (boot/ copies it into the kernel image and
// hands over its address): command line, boot loader name, memory map,
// modules (boot/mbinfo.S keeps their entries and strings; the modules stay
// where the loader put them and boot/paging.S keeps the heap above them).
import { phys_load8, phys_load32, phys_load64 } from "../hw/intrinsics";
import { MB1_MAGIC, MB2_MAGIC } from "../hw/layout";

/** Memory-map entry types (multiboot spec 3.3; multiboot2 3.6.8). */
export const enum MemType {
  Available = 1,
  Reserved = 2,
  AcpiReclaimable = 3,
  Nvs = 4,
  Bad = 5,
}

export class MemRegion {
  constructor(public base: u64, public length: u64, public type: u32) {}
  get end(): u64 {
    return this.base + this.length;
  }
}

/** A boot module (multiboot 3.3 mods_*, multiboot2 3.6.6 tag type 3):
 * physical [start, end) and its string (QEMU puts the file's path first;
 * GRUB only the arguments after it). `refused` is set by the boot code when the module cannot be used. */
export class MbModule {
  refused: string = "";
  constructor(public start: u64, public end: u64, public text: string) {}
}

export class MultibootInfo {
  /** 1 or 2; 0 when the magic was not recognised */
  version: i32 = 0;
  cmdline: string = "";
  loader: string = "";
  regions: Array<MemRegion> = new Array<MemRegion>();
  modules: Array<MbModule> = new Array<MbModule>();
}

/** The modules the loader gave (set by main before the VMM starts). */
export let bootModules: Array<MbModule> = new Array<MbModule>();

export function setBootModules(m: Array<MbModule>): void {
  bootModules = m;
}

/** Reads a NUL-terminated ASCII string at physical `pa` (at most `max` bytes). */
export function readCString(pa: u64, max: i32 = 4096): string {
  let s = "";
  for (let i = 0; i < max; i++) {
    const c = phys_load8(<i64>(pa + <u64>i)) & 0xFF;
    if (c == 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

export function parseMultiboot(magic: u32, infoPa: u64): MultibootInfo {
  const mb = new MultibootInfo();
  if (infoPa == 0) return mb;
  if (magic == MB1_MAGIC) parseMb1(mb, infoPa);
  else if (magic == MB2_MAGIC) parseMb2(mb, infoPa);
  return mb;
}

// Multiboot 1 information structure (spec 3.3)
function parseMb1(mb: MultibootInfo, info: u64): void {
  mb.version = 1;
  const flags = <u32>phys_load32(<i64>info);
  if (flags & (1 << 2)) mb.cmdline = readCString(<u64>(<u32>phys_load32(<i64>info + 16)));
  if (flags & (1 << 9)) mb.loader = readCString(<u64>(<u32>phys_load32(<i64>info + 64)));
  // mods_count (+20), mods_addr (+24): 16-byte entries {start, end, string, 0} (spec 3.3)
  if (flags & (1 << 3)) {
    const count = <u32>phys_load32(<i64>info + 20);
    const addr = <u64>(<u32>phys_load32(<i64>info + 24));
    for (let i: u32 = 0; i < count && i < MB1_MODS_MAX; i++) {
      const e = addr + <u64>i * 16;
      const str = <u64>(<u32>phys_load32(<i64>e + 8));
      mb.modules.push(new MbModule(<u64>(<u32>phys_load32(<i64>e)), <u64>(<u32>phys_load32(<i64>e + 4)),
        str == 0 ? "" : readCString(str, MODULE_STRING_MAX)));
    }
  }
  if (flags & (1 << 6)) {
    const len = <u64>(<u32>phys_load32(<i64>info + 44));
    let p = <u64>(<u32>phys_load32(<i64>info + 48));
    const end = p + len;
    while (p + 24 <= end) {
      const size = <u64>(<u32>phys_load32(<i64>p));
      const base = <u64>phys_load64(<i64>p + 4);
      const length = <u64>phys_load64(<i64>p + 12);
      const type = <u32>phys_load32(<i64>p + 20);
      mb.regions.push(new MemRegion(base, length, type));
      p += size + 4;
    }
  } else if (flags & 1) {
    const lower = <u64>(<u32>phys_load32(<i64>info + 4)) << 10;
    const upper = <u64>(<u32>phys_load32(<i64>info + 8)) << 10;
    mb.regions.push(new MemRegion(0, lower, MemType.Available));
    mb.regions.push(new MemRegion(0x100000, upper, MemType.Available));
  }
}

/** boot/mbinfo.S keeps 32 multiboot 1 modules and 2048 bytes of each string (GUESTS.md). */
const MB1_MODS_MAX: u32 = 32;
export const MODULE_STRING_MAX: i32 = 2048;

// Multiboot 2 information: a list of 8-byte aligned tags (spec 3.6)
function parseMb2(mb: MultibootInfo, info: u64): void {
  mb.version = 2;
  const total = <u64>(<u32>phys_load32(<i64>info));
  const end = info + total;
  let tag = info + 8;
  while (tag + 8 <= end) {
    const type = <u32>phys_load32(<i64>tag);
    const size = <u64>(<u32>phys_load32(<i64>tag + 4));
    if (type == 0 || size < 8) break;
    if (tag + size > end) break;
    if (type == 1) mb.cmdline = readCString(tag + 8, <i32>(size - 8));
    else if (type == 2) mb.loader = readCString(tag + 8, <i32>(size - 8));
    else if (type == 3 && size >= 16) {
      // module tag (spec 3.6.6): mod_start, mod_end, NUL-terminated string
      mb.modules.push(new MbModule(<u64>(<u32>phys_load32(<i64>tag + 8)), <u64>(<u32>phys_load32(<i64>tag + 12)),
        readCString(tag + 16, <i32>(size - 16))));
    }
    else if (type == 6) {
      const entrySize = <u64>(<u32>phys_load32(<i64>tag + 8));
      if (entrySize >= 24) {
        for (let e = tag + 16; e + 24 <= tag + size; e += entrySize) {
          mb.regions.push(new MemRegion(<u64>phys_load64(<i64>e), <u64>phys_load64(<i64>e + 8), <u32>phys_load32(<i64>e + 16)));
        }
      }
    }
    tag += (size + 7) & ~(<u64>7);
  }
}

/** Kernel command-line options: `console=`, `loglevel=`, `panic-test[=kind]`,
 * `shutdown`; everything else is kept for later consumers (e.g. `demo`). */
export class BootOptions {
  console: string = "ttyS0";
  loglevel: i32 = 2;
  /** "" none; "trap" (wasm unreachable), "pf" (CPU page fault), "oob" (linear memory out of bounds), "ud" (invalid opcode) */
  panicTest: string = "";
  shutdown: bool = false;
  names: Array<string> = new Array<string>();
  values: Array<string> = new Array<string>();
  /** options nobody above consumed, in order, as written */
  unknown: Array<string> = new Array<string>();

  /** True when the option `name` (with or without a value) was given. */
  has(name: string): bool {
    return this.names.indexOf(name) >= 0;
  }

  /** Value of `name=value`, or `fallback`. */
  value(name: string, fallback: string = ""): string {
    const i = this.names.lastIndexOf(name);
    return i >= 0 ? this.values[i] : fallback;
  }
}

const LEVELS = ["error", "warn", "info", "debug"];

export function parseOptions(cmdline: string): BootOptions {
  const o = new BootOptions();
  const words = cmdline.split(" ");
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (w.length == 0) continue;
    // QEMU -kernel and some loaders put the kernel's path first
    if (i == 0 && w.indexOf("=") < 0 && (w.indexOf("/") >= 0 || w.endsWith(".elf"))) continue;
    const eq = w.indexOf("=");
    const name = eq < 0 ? w : w.substring(0, eq);
    const value = eq < 0 ? "" : w.substring(eq + 1);
    o.names.push(name);
    o.values.push(value);
    if (name == "console") {
      const comma = value.indexOf(",");
      o.console = comma < 0 ? value : value.substring(0, comma);
    } else if (name == "loglevel") {
      const l = LEVELS.indexOf(value);
      if (l >= 0) o.loglevel = l;
      else if (value.length == 1 && value.charCodeAt(0) >= 48 && value.charCodeAt(0) <= 57) o.loglevel = value.charCodeAt(0) - 48;
    } else if (name == "panic-test") {
      o.panicTest = value.length == 0 ? "trap" : value;
    } else if (name == "shutdown") {
      o.shutdown = true;
    } else {
      o.unknown.push(w);
    }
  }
  return o;
}

/** The parsed command line, for every module of the monitor. */
export let bootOptions: BootOptions = new BootOptions();

export function setBootOptions(o: BootOptions): void {
  bootOptions = o;
}
