// Flat exports over the common VMM code (monitor.ts, exits.ts, vm.ts, gpt.ts) driven by FakeVcpu, for the
// Node tests in test/vmm/*.test.ts. The hardware intrinsics are wasm imports that test/vmm/fake/machine.ts
// provides: physical memory is a JS buffer, CPUID and the TSC are scripted.

import { Monitor } from "../../../src/vmm/monitor";
import { Vm } from "../../../src/vmm/vm";
import { handleExit } from "../../../src/vmm/exits";
import { GuestTables } from "../../../src/vmm/gpt";
import { initLazyState } from "../../../src/vmm/lazy-state";
import { physPages } from "../../../src/platform/pages";
import { VmPlatform } from "../../../src/vmm/guest-platform";
import { clearRunTrace, eptFormat, FakeBackend, FakeVcpu, runTrace, runTraceLen } from "./fake-vcpu";

// one monitor per instance: each test file instantiates the module afresh (fake/machine.ts machine())
const backend = new FakeBackend(false);
const monitor = new Monitor(backend);

/** Frees [start, end) of the fake physical memory for the page allocator (once per instance). */
export function addRam(start: u64, end: u64): void {
  physPages.addFree(start, end);
}

/** CPUID-based setup of the extended-state policy (XSAVE, the guest XCR0 mask), as at boot. */
export function initExtendedState(): void {
  initLazyState();
}

/** Creates a VM; its id, or -1 without memory. */
export function create(name: string, image: i32, ramBytes: u64): i32 {
  const vm = monitor.create(name, image, ramBytes);
  return vm ? vm.id : -1;
}

function vm(id: i32): Vm {
  return monitor.vms[id];
}
function fake(id: i32): FakeVcpu {
  return changetype<FakeVcpu>(monitor.vms[id].vcpu);
}

/** Gives the VM a Linux VM's platform (LAPIC, IOAPIC, ...) without the Linux image: HLT parks it until an interrupt. */
export function attachPlatform(id: i32): void {
  vm(id).platform = new VmPlatform(vm(id).console);
}

/** Monitor.change: 0 or a VmError code. */
export function change(id: i32, op: i32): i32 {
  return monitor.change(vm(id), op);
}
export function state(id: i32): i32 {
  return vm(id).state;
}
export function isHalted(id: i32): bool {
  return monitor.halted(vm(id));
}
export function reason(id: i32): string {
  return vm(id).reason;
}
export function runnable(): bool {
  return monitor.runnable();
}
export function runSlice(): bool {
  return monitor.runSlice();
}
export function flushes(): i32 {
  return backend.flushes;
}

// ---- the script --------------------------------------------------------------------------------------

export function script(id: i32, kind: i32, rax: u64, rcx: u64, rdx: u64, arg: u64, arg2: u32, flags: u32): void {
  fake(id).add(kind, rax, rcx, rdx, arg, arg2, flags);
}
/** Forgets the script; with `loop` the next one repeats forever. */
export function resetScript(id: i32, loop: bool): void {
  const v = fake(id);
  v.len = 0;
  v.pos = 0;
  v.loop = loop;
}
/** One exit: the vCPU runs (the next scripted exit) and exits.ts handles it, as Monitor.runSliceOf does. */
export function step(id: i32): bool {
  const v = vm(id);
  v.vcpu.run(1000);
  return handleExit(v);
}
/** `n` exits through handleExit; how many of them let the vCPU run on. The loop itself allocates nothing. */
export function steps(id: i32, n: i32): i32 {
  const v = vm(id);
  let ok = 0;
  for (let i = 0; i < n; i++) {
    v.vcpu.run(1000);
    if (handleExit(v)) ok++;
  }
  return ok;
}
/** `n` slices of the monitor's scheduler; how many ran a VM. */
export function slices(n: i32): i32 {
  let ran = 0;
  for (let i = 0; i < n; i++) if (monitor.runSlice()) ran++;
  return ran;
}

// ---- what happened -------------------------------------------------------------------------------------

export function reg(id: i32, r: i32): u64 {
  return vm(id).vcpu.regs[r];
}
export function rip(id: i32): u64 {
  return fake(id).state.rip;
}
export function setCr4(id: i32, v: u64): void {
  fake(id).guestCr4 = v;
}
export function setInterruptible(id: i32, on: bool): void {
  fake(id).ifFlag = on;
}
export function sysMsr(id: i32, m: i32): u64 {
  return fake(id).sysMsrs[m];
}
export function efer(id: i32): u64 {
  return fake(id).guestEfer;
}
export function xcr0(id: i32): u64 {
  return vm(id).vcpu.xcr0;
}
export function pat(id: i32): u64 {
  return vm(id).pat;
}
export function exits(id: i32, kind: i32): u64 {
  return vm(id).exits[kind];
}
export function exitsTotal(id: i32): u64 {
  return vm(id).exitsTotal;
}
export function unknownIo(id: i32): u64 {
  return vm(id).unknownIo;
}
export function msrDenied(id: i32): u64 {
  return vm(id).msrDenied;
}
export function consoleLine(id: i32): string {
  const c = vm(id).console;
  return c.seq == 0 ? "" : c.lines[<i32>(c.seq % 1024)];
}
export function ramPa(id: i32): u64 {
  return vm(id).ramPa;
}
export function runs(id: i32): i32 {
  return fake(id).runs;
}
export function advances(id: i32): i32 {
  return fake(id).advances;
}
export function injections(id: i32): i32 {
  return fake(id).injections;
}
export function lastVector(id: i32): i32 {
  return fake(id).lastVector;
}
export function lastErrorCode(id: i32): u32 {
  return fake(id).lastErrorCode;
}
export function lastHasError(id: i32): bool {
  return fake(id).lastHasError;
}
export function lastInterrupt(id: i32): i32 {
  return fake(id).lastInterrupt;
}
export function windowRequested(id: i32): bool {
  return fake(id).windowRequested;
}
export function reflections(id: i32): i32 {
  return fake(id).reflections;
}
export function setStates(id: i32): i32 {
  return fake(id).setStates;
}
export function traceLen(): i32 {
  return runTraceLen;
}
export function trace(i: i32): i32 {
  return runTrace[i];
}
export function clearTrace(): void {
  clearRunTrace();
}

// ---- guest page tables ---------------------------------------------------------------------------------

let tables: GuestTables | null = null;

export function gptNew(large: bool): u64 {
  const t = new GuestTables(eptFormat(large));
  tables = t;
  return t.root;
}
export function gptMap(gpa: u64, hpa: u64, len: u64): bool {
  return (<GuestTables>tables).map(gpa, hpa, len);
}
export function gptTranslate(gpa: u64): u64 {
  return (<GuestTables>tables).translate(gpa);
}
export function gptFrames(): i32 {
  return (<GuestTables>tables).frames;
}

// ---- the heap ------------------------------------------------------------------------------------------

/**
 * The top of the heap. Built with --runtime stub (a bump allocator that never frees, so any allocation moves
 * it for good): allocating one block and freeing it again returns the current top and leaves it there.
 */
export function heapTop(): usize {
  const p = heap.alloc(1);
  heap.free(p);
  return p;
}
