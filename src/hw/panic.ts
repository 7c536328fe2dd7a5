// The panic path: every CPU exception and wasm trap in the monitor ends here
// (boot/cpu.S and tv_trap call the exports panic_exception / panic_trap with
// the frame of src/hw/frame.ts). Prints the registers, the faulting address,
// the vector or trap, and a backtrace in AssemblyScript function names from
// the rbp chain and tv_symtab; then signals failure through isa-debug-exit.
import { boot_info, debug_exit, phys_load8, phys_load64, symtab, symtab_count } from "./intrinsics";
import { BootInfo, EXIT_FAILURE, WASM_BASE } from "./layout";
import { Frame, TRAP_VECTOR, frameField } from "./frame";
import { com1 } from "../drivers/uart";
import { dec, hex } from "../lib/fmt";

const EXCEPTION_NAMES: string[] = [
  "#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow", "#BR bound range",
  "#UD invalid opcode", "#NM device not available", "#DF double fault", "coprocessor segment overrun",
  "#TS invalid TSS", "#NP segment not present", "#SS stack fault", "#GP general protection",
  "#PF page fault", "reserved (15)", "#MF x87 error", "#AC alignment check", "#MC machine check",
  "#XM SIMD exception", "#VE virtualization exception", "#CP control protection",
];

const TRAP_NAMES: string[] = [
  "", "unreachable", "integer divide by zero", "integer overflow", "invalid conversion to integer",
  "out of bounds memory access", "undefined element", "indirect call type mismatch",
  "call stack exhausted", "out of bounds table access",
];

let selfTest = false;

/** panic-test=nested: make the panic path fault, to exercise boot/'s assembly fallback. */
export function setPanicSelfTest(on: bool): void {
  selfTest = on;
}

/** Deepest backtrace printed. */
const MAX_FRAMES = 32;

function out(s: string): void {
  com1.write(s);
}

function h16(v: u64): string {
  return hex(v, 16);
}

export function exceptionName(vector: u64): string {
  return vector < <u64>EXCEPTION_NAMES.length ? EXCEPTION_NAMES[<i32>vector] : "interrupt " + hex(vector);
}

export function trapName(code: u64): string {
  return code > 0 && code < <u64>TRAP_NAMES.length ? TRAP_NAMES[<i32>code] : "unknown trap";
}

/** "name+0xoff" for a code address, from tv_symtab ({u64 start, u64 end, u64 name} sorted by start). */
export function symbolize(addr: u64): string {
  const table = <u64>symtab();
  const count = <u64>symtab_count();
  if (table == 0 || count == 0) return outsideMonitor(addr);
  let lo: u64 = 0;
  let hi: u64 = count;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const e = table + mid * 24;
    const start = <u64>phys_load64(<i64>e);
    const end = <u64>phys_load64(<i64>e + 8);
    if (addr < start) hi = mid;
    else if (addr >= end) lo = mid + 1;
    else {
      const namePa = <u64>phys_load64(<i64>e + 16);
      let name = "";
      for (let i = 0; i < 200; i++) {
        const c = phys_load8(<i64>(namePa + <u64>i)) & 0xFF;
        if (c == 0) break;
        name += String.fromCharCode(c);
      }
      return name + "+0x" + hex(addr - start);
    }
  }
  return outsideMonitor(addr);
}

function outsideMonitor(addr: u64): string {
  const lo = <u64>boot_info(BootInfo.KernelStart);
  const hi = <u64>boot_info(BootInfo.KernelEnd);
  // boot/ assembly, export wrappers, the AOT's trap stubs
  return addr >= lo && addr < hi ? "(outside the monitor's functions)" : "?";
}

function printRegisters(f: i64): void {
  out("registers:\n");
  out("  rax " + h16(frameField(f, Frame.Rax)) + "  rbx " + h16(frameField(f, Frame.Rbx)) + "  rcx " + h16(frameField(f, Frame.Rcx)) + "\n");
  out("  rdx " + h16(frameField(f, Frame.Rdx)) + "  rsi " + h16(frameField(f, Frame.Rsi)) + "  rdi " + h16(frameField(f, Frame.Rdi)) + "\n");
  out("  rbp " + h16(frameField(f, Frame.Rbp)) + "  rsp " + h16(frameField(f, Frame.Rsp)) + "  r8  " + h16(frameField(f, Frame.R8)) + "\n");
  out("  r9  " + h16(frameField(f, Frame.R9)) + "  r10 " + h16(frameField(f, Frame.R10)) + "  r11 " + h16(frameField(f, Frame.R11)) + "\n");
  out("  r12 " + h16(frameField(f, Frame.R12)) + "  r13 " + h16(frameField(f, Frame.R13)) + "  r14 " + h16(frameField(f, Frame.R14)) + "\n");
  out("  r15 " + h16(frameField(f, Frame.R15)) + "  rip " + h16(frameField(f, Frame.Rip)) + "  rflags " + h16(frameField(f, Frame.Rflags)) + "\n");
  out("  cs " + hex(frameField(f, Frame.Cs), 4) + "  ss " + hex(frameField(f, Frame.Ss), 4) +
    "  cr0 " + h16(frameField(f, Frame.Cr0)) + "  cr3 " + h16(frameField(f, Frame.Cr3)) + "  cr4 " + h16(frameField(f, Frame.Cr4)) + "\n");
}

/** The address to symbolize for the frame's rip: tv_trap gets the return
 * address of the AOT's `call tv_trapstub_N`, which may be one past the
 * trapping function's last byte, so look up the byte before it. */
function ripForLookup(f: i64): u64 {
  const rip = frameField(f, Frame.Rip);
  return frameField(f, Frame.Vector) == TRAP_VECTOR ? rip - 1 : rip;
}

/** Walks the rbp chain (AOT frames: [rbp] = caller's rbp, [rbp+8] = return address). */
function printBacktrace(f: i64): void {
  out("backtrace:\n");
  const rip = frameField(f, Frame.Rip);
  out("  #0  " + h16(rip) + "  " + symbolize(ripForLookup(f)) + "\n");
  // Frames live on boot/'s stacks inside the identity-mapped kernel image:
  // only follow rbp while it stays there, so a corrupt chain cannot fault.
  const lo = <u64>boot_info(BootInfo.KernelStart);
  const hi = <u64>boot_info(BootInfo.KernelEnd);
  let rbp = frameField(f, Frame.Rbp);
  for (let n = 1; n < MAX_FRAMES; n++) {
    if (rbp < lo || rbp + 16 > hi || (rbp & 7) != 0) break;
    const ret = <u64>phys_load64(<i64>rbp + 8);
    const next = <u64>phys_load64(<i64>rbp);
    if (ret == 0) break;
    // a return address points after the call: look up ret - 1
    out("  #" + (n < 10 ? dec(<u64>n) + " " : dec(<u64>n)) + " " + h16(ret) + "  " + symbolize(ret - 1) + "\n");
    if (next <= rbp) break;
    rbp = next;
  }
}

function finish(): void {
  out("[panic] system halted (isa-debug-exit 0x" + hex(<u64>EXIT_FAILURE) + ")\n");
  com1.drain();
  debug_exit(EXIT_FAILURE);
}

/** boot/cpu.S: a CPU exception in the monitor. */
export function panic_exception(framePa: i64): void {
  const vector = frameField(framePa, Frame.Vector);
  const error = frameField(framePa, Frame.Error);
  const rip = frameField(framePa, Frame.Rip);
  out("\n\nPANIC: CPU exception " + exceptionName(vector) + " (vector " + hex(vector) + "), error code 0x" + hex(error) + "\n");
  out("  at " + h16(rip) + "  " + symbolize(rip) + "\n");
  if (vector == 14) {
    const cr2 = frameField(framePa, Frame.Cr2);
    // error code bits: P, W/R, U/S, RSVD, I/D (SDM vol 3 4.7)
    out("  faulting address (cr2) " + h16(cr2) + ": " + ((error & 1) != 0 ? "protection violation" : "page not present") +
      ((error & 2) != 0 ? " on write" : (error & 16) != 0 ? " on instruction fetch" : " on read") + "\n");
  } else out("  cr2 " + h16(frameField(framePa, Frame.Cr2)) + "\n");
  printRegisters(framePa);
  if (selfTest) phys_load64(0x7F_0000_0000); // beyond the direct map: a #PF inside the panic path
  printBacktrace(framePa);
  finish();
}

/** boot/: a wasm trap in the monitor (tv_trap), or a #PF in the linear-memory guard (code 5). */
export function panic_trap(code: i32, framePa: i64): void {
  const rip = frameField(framePa, Frame.Rip);
  out("\n\nPANIC: wasm trap " + hex(<u64>code) + ": " + trapName(<u64>code) + "\n");
  out("  at " + h16(rip) + "  " + symbolize(ripForLookup(framePa)) + "\n");
  if (code == 5 && frameField(framePa, Frame.Vector) == 14) {
    const cr2 = frameField(framePa, Frame.Cr2);
    out("  faulting address (cr2) " + h16(cr2) + " = linear memory + 0x" + hex(cr2 - WASM_BASE) + "\n");
  }
  printRegisters(framePa);
  if (selfTest) phys_load64(0x7F_0000_0000); // beyond the direct map: a #PF inside the panic path
  printBacktrace(framePa);
  finish();
}
