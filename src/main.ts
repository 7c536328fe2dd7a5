// Typevisor's monitor entry: boot/ calls main() after wasm_init (docs/ABI.md).
// Boot log in stages: [boot] memory and options, [cpu] the processor,
// [virt] what VT-x or AMD-V offers; then "[boot] ready" and the VMM.
import { boot_info, debug_exit, phys_load64, stack_overflow, ud2 } from "./hw/intrinsics";
import { BootInfo, DIRECT_MAP, EXIT_SUCCESS, KERNEL_PHYS } from "./hw/layout";
import { com1 } from "./drivers/uart";
import { consoleDrain, consoleInit, consoleSelect, log, print, setLogLevel, warn, Level } from "./drivers/console";
import { dec, hex, size } from "./lib/fmt";
import { MbModule, MemRegion, MemType, parseMultiboot, parseOptions, setBootModules, setBootOptions, BootOptions } from "./platform/multiboot";
import { physPages, setUsableMemory } from "./platform/pages";
import { cpuFeatures, cpuSummary, detectCpu, virtSummary, Virt } from "./platform/cpu";
import { systemStart } from "./system";
import { calibrateTsc, tscHz, tscSource } from "./platform/tsc";

import { setPanicSelfTest } from "./hw/panic";
export { panic_exception, panic_trap } from "./hw/panic";
// the abort handler named by asc --use abort=src/hw/abort/tvAbort
export { tvAbort } from "./hw/abort";

export const VERSION = "0.1.0";

export function main(): void {
  com1.init(115200);
  // HW: boot_info only reads boot/'s tv_boot_info slots
  const magic = <u32>boot_info(BootInfo.Magic);
  const mb = parseMultiboot(magic, <u64>boot_info(BootInfo.InfoPa));
  const opts = parseOptions(mb.cmdline);
  setBootOptions(opts);
  setLogLevel(opts.loglevel);
  if (!consoleSelect(opts.console)) warn("boot", "unknown console=" + opts.console + ": using ttyS0");
  consoleInit();

  print("\nTypevisor " + VERSION + " - a hypervisor in AssemblyScript (multiboot " + dec(<u64>mb.version) +
    (mb.loader.length > 0 ? ", " + mb.loader : "") + ")\n");
  log("boot", "command line: \"" + mb.cmdline + "\"");
  if (opts.unknown.length > 0) log("boot", "options passed on: " + opts.unknown.join(" "), Level.Debug);

  bootMemory(mb.regions, mb.modules);
  setBootModules(mb.modules);

  const cpu = detectCpu();
  log("cpu", cpuSummary(cpu));
  log("cpu", cpuFeatures(cpu));
  log("virt", virtSummary(cpu));
  calibrateTsc();
  log("cpu", "TSC " + dec(tscHz / 1000) + " kHz (" + tscSource + ")");
  if (cpu.virt == Virt.None || !cpu.virtUsable) warn("virt", cpu.virtProblem + ": guests cannot run");

  if (opts.panicTest.length > 0) panicTest(opts.panicTest);

  log("boot", "ready");
  if (opts.shutdown) shutdown("shutdown requested on the command line");
  systemStart();
  shutdown("no virtual machines to run");
}

/** Largest module accepted (boot/mbinfo.S MODULE_MAX keeps the heap above modules up to this size). */
const MODULE_MAX: u64 = 256 << 20;

function overlaps(s1: u64, e1: u64, s2: u64, e2: u64): bool {
  return s1 < e2 && s2 < e1;
}

/** Checks each module's memory and takes it out of the page allocator; sets
 * `refused` (with the reason logged) for an empty, too big or overlapping one. */
function bootModules(mods: Array<MbModule>, kStart: u64, kEnd: u64, heapPa: u64, heapEnd: u64, dmSize: u64): void {
  for (let i = 0; i < mods.length; i++) {
    const m = mods[i];
    let why = "";
    if (m.end <= m.start) why = "empty";
    else if (m.end - m.start > MODULE_MAX) why = "too big (" + size(m.end - m.start) + ", limit " + size(MODULE_MAX) + ")";
    else if (m.start < 0x100000) why = "overlaps the first MiB";
    else if (m.end > dmSize) why = "beyond the direct map";
    else if (overlaps(m.start, m.end, kStart, kEnd)) why = "overlaps the kernel image";
    else if (overlaps(m.start, m.end, heapPa, heapEnd)) why = "overlaps the monitor heap";
    else {
      for (let j = 0; j < i; j++) {
        const o = mods[j];
        if (o.refused.length == 0 && overlaps(m.start, m.end, o.start, o.end)) why = "overlaps module " + dec(<u64>j);
      }
    }
    const desc = "module " + dec(<u64>i) + ": 0x" + hex(m.start) + "-0x" + hex(m.end) + " \"" + m.text + "\"";
    if (why.length > 0) {
      m.refused = why;
      warn("boot", desc + " refused: " + why);
      continue;
    }
    physPages.reserve(m.start, m.end);
    log("boot", desc + " (" + dec(m.end - m.start) + " bytes), reserved");
  }
  // boot/mbinfo.S keeps 32 multiboot 1 entries: the others are named, not silently lost
  const given = <u64>boot_info(BootInfo.ModsGiven);
  if (given > <u64>mods.length) {
    const which = given - 1 == <u64>mods.length ? "module " + dec(given - 1) : "modules " + dec(<u64>mods.length) + "-" + dec(given - 1);
    warn("boot", which + " refused: at most " + dec(<u64>mods.length) + " modules");
  }
}

function bootMemory(regions: Array<MemRegion>, mods: Array<MbModule>): void {
  // HW: boot_info only reads boot/'s tv_boot_info slots
  const kStart = <u64>boot_info(BootInfo.KernelStart);
  const kEnd = <u64>boot_info(BootInfo.KernelEnd);
  const heapPa = <u64>boot_info(BootInfo.HeapPa);
  const heapSize = <u64>boot_info(BootInfo.HeapSize);
  const dmSize = <u64>boot_info(BootInfo.DirectMapSize);
  let usable: u64 = 0;
  for (let i = 0; i < regions.length; i++) {
    const r = regions[i];
    log("boot", "  e820 " + hex(r.base, 12) + "-" + hex(r.end, 12) + " type " + dec(r.type), Level.Debug);
    if (r.type != MemType.Available) continue;
    usable += r.length;
    // the direct map covers what the allocator may hand out
    const end = r.end < dmSize ? r.end : dmSize;
    if (end > r.base) physPages.addFree(r.base, end);
  }
  physPages.reserve(0, 0x100000); // real-mode area, BIOS data
  physPages.reserve(kStart, kEnd);
  physPages.reserve(heapPa, heapPa + heapSize);
  bootModules(mods, kStart, kEnd, heapPa, heapPa + heapSize, dmSize);
  setUsableMemory(usable);
  log("boot", "memory: " + size(usable) + " usable in " + dec(<u64>regions.length) + " map entries, RAM top 0x" +
    hex(<u64>boot_info(BootInfo.RamTop)) + ", direct map " + size(dmSize) + " at 0x" + hex(DIRECT_MAP));
  log("boot", "memory: kernel 0x" + hex(kStart) + "-0x" + hex(kEnd) + " (" + size(kEnd - kStart) + "), monitor heap " +
    size(heapSize) + " at 0x" + hex(heapPa) + " (" + dec(<u64>boot_info(BootInfo.MemoryPages)) + " of " +
    dec(<u64>boot_info(BootInfo.MemoryMaxPages)) + " wasm pages in use)");
  log("boot", "memory: " + dec(physPages.freePages) + " free pages (" + size(physPages.freePages * 4096) + ") for guests");
  if (kStart != KERNEL_PHYS) warn("boot", "kernel not at its link address");
}

/** Faults on purpose so the tests can check the panic output (panic-test=
 * trap | pf | oob | ud | stack | guard | nested | abort). Recursive so the optimizer cannot
 * inline it away: the backtrace shows several frames. */
function panicDeep(kind: string, depth: i32): i32 {
  if (depth > 0) return panicDeep(kind, depth - 1) + 1;
  if (kind == "pf") {
    // a CPU #PF: physical address far beyond the direct map
    // HW: a read of an address no RAM or device backs, on purpose: it cannot change anything
    return <i32>phys_load64(<i64>0x7F_0000_0000);
  }
  if (kind == "oob") {
    // linear memory out of bounds: #PF in the guard -> wasm trap 5
    return load<i32>(<usize>0xFFFF_FFF0);
  }
  if (kind == "ud") {
    ud2(); // HW: raises #UD on purpose; nothing is written
    return 0;
  }
  if (kind == "stack") return recurseForever(1);
  if (kind == "guard") stack_overflow(); // HW: touches only the main stack and its guard page, on purpose
  if (kind == "abort") assert(depth < 0, "panic-test=abort"); // AssemblyScript abort -> tvAbort -> trap
  if (kind == "nested") {
    // the panic path itself faults: boot/'s assembly fallback must report it
    setPanicSelfTest(true);
    unreachable();
  }
  unreachable();
  return 0;
}

/** Unbounded recursion: the AOT prologue's stack check (tv_stack_limit) raises trap 8. */
function recurseForever(n: i32): i32 {
  return n == 0 ? 0 : recurseForever(n + 1) + 1;
}

function panicTest(kind: string): void {
  log("boot", "panic-test=" + kind + ": faulting on purpose");
  panicDeep(kind, 2);
  log("boot", "panic-test: the fault did not happen");
}

function shutdown(reason: string): void {
  log("boot", reason + ": shutting down");
  consoleDrain();
  com1.drain();
  // HW: isa-debug-exit / Bochs shutdown port; a no-op on real hardware, which then halts
  debug_exit(EXIT_SUCCESS);
}
