// A vCPU without hardware: run() plays back a script of exits, and every call the common code makes on the
// vCPU is recorded, so that exits.ts and monitor.ts can be tested in Node (test/vmm/fake/entry.ts).

import { ExitKind, SysMsr, TableFormat, Vcpu, VirtBackend } from "../../../src/vmm/vcpu";
import { CpuState } from "../../../src/vmm/cpu-state";
import { Reg } from "../../../src/vmm/regs";

/** Script entries per vCPU. */
export const SCRIPT_MAX: i32 = 64;

/** Flags of a script entry. */
export const enum StepFlag {
  IoIn = 1,
  IoString = 2,
  Write = 4,
  Fetch = 8,
  /** Leave insnLen 0: the exit did not report the instruction length (AMD-V without NRIPS). */
  NoLength = 16,
}

/** The order in which vCPUs ran (their tags), for the scheduling tests; the run path allocates nothing. */
export const runTrace = new StaticArray<i32>(1024);
export let runTraceLen: i32 = 0;
export function clearRunTrace(): void {
  runTraceLen = 0;
}

export class FakeVcpu extends Vcpu {
  // the script: one exit per entry, played in order; with `loop` it starts again at the end
  kinds: StaticArray<i32> = new StaticArray<i32>(SCRIPT_MAX);
  flags: StaticArray<u32> = new StaticArray<u32>(SCRIPT_MAX);
  /** RAX, RCX, RDX as the guest has them at the exit (CPUID leaf, MSR number and value, XSETBV). */
  rax: StaticArray<u64> = new StaticArray<u64>(SCRIPT_MAX);
  rcx: StaticArray<u64> = new StaticArray<u64>(SCRIPT_MAX);
  rdx: StaticArray<u64> = new StaticArray<u64>(SCRIPT_MAX);
  /** Port (Io), guest-physical address (MemFault) or vector (Exception). */
  arg: StaticArray<u64> = new StaticArray<u64>(SCRIPT_MAX);
  /** Access size (Io) or error code (Exception). */
  arg2: StaticArray<u32> = new StaticArray<u32>(SCRIPT_MAX);
  len: i32 = 0;
  pos: i32 = 0;
  loop: bool = false;

  // what the common code did
  runs: i32 = 0;
  advances: i32 = 0;
  injections: i32 = 0;
  lastVector: i32 = -1;
  lastErrorCode: u32 = 0;
  lastHasError: bool = false;
  reflections: i32 = 0;
  interrupts: i32 = 0;
  lastInterrupt: i32 = -1;
  windowRequested: bool = false;
  setStates: i32 = 0;
  slices: i32 = 0;
  lastBudget: u64 = 0;

  // guest state the fake keeps
  state: CpuState = new CpuState();
  sysMsrs: StaticArray<u64> = new StaticArray<u64>(SysMsr.Count);
  guestEfer: u64 = 0;
  guestCr4: u64 = 0;
  ifFlag: bool = true;

  constructor(public tag: u32) {
    super();
  }

  add(kind: i32, rax: u64, rcx: u64, rdx: u64, arg: u64, arg2: u32, flags: u32): void {
    const i = this.len++;
    this.kinds[i] = kind;
    this.rax[i] = rax;
    this.rcx[i] = rcx;
    this.rdx[i] = rdx;
    this.arg[i] = arg;
    this.arg2[i] = arg2;
    this.flags[i] = flags;
  }

  run(sliceTsc: u64): void {
    if (runTraceLen < runTrace.length) runTrace[runTraceLen++] = <i32>this.tag;
    this.runs++;
    this.lastBudget = sliceTsc;
    const e = this.exit;
    // the backends describe every exit in full; so does the fake
    e.insnLen = 0;
    e.ioPort = 0;
    e.ioSize = 0;
    e.ioIn = false;
    e.ioString = false;
    e.gpa = 0;
    e.write = false;
    e.fetch = false;
    e.vector = 0;
    e.errorCode = 0;
    e.hasError = false;
    e.code = 0;
    if (this.pos >= this.len) {
      if (!this.loop || this.len == 0) {
        e.kind = ExitKind.Preempted; // script played: the slice ends
        return;
      }
      this.pos = 0;
    }
    const i = this.pos++;
    const f = this.flags[i];
    e.kind = <ExitKind>this.kinds[i];
    e.code = <u64>this.kinds[i];
    if ((f & StepFlag.NoLength) == 0) e.insnLen = 2;
    this.regs[Reg.Rax] = this.rax[i];
    this.regs[Reg.Rcx] = this.rcx[i];
    this.regs[Reg.Rdx] = this.rdx[i];
    if (e.kind == ExitKind.Io) {
      e.ioPort = <u32>this.arg[i];
      e.ioSize = this.arg2[i];
      e.ioIn = (f & StepFlag.IoIn) != 0;
      e.ioString = (f & StepFlag.IoString) != 0;
    } else if (e.kind == ExitKind.MemFault) {
      e.gpa = this.arg[i];
      e.write = (f & StepFlag.Write) != 0;
      e.fetch = (f & StepFlag.Fetch) != 0;
    } else if (e.kind == ExitKind.Exception) {
      e.vector = <u32>this.arg[i];
      e.errorCode = this.arg2[i];
      e.hasError = e.vector == 17;
    } else if (e.kind == ExitKind.InvalidState || e.kind == ExitKind.EntryFailed || e.kind == ExitKind.Unhandled) {
      e.detail = "scripted";
    }
  }

  getState(s: CpuState): void {
    copyState(this.state, s);
  }
  setState(s: CpuState): void {
    copyState(s, this.state);
    this.setStates++;
    this.guestEfer = s.efer;
    this.guestCr4 = s.cr4;
  }
  rip(): u64 {
    return this.state.rip;
  }
  advanceRip(): void {
    this.advances++;
    this.state.rip += this.exit.insnLen;
  }
  injectException(vector: u32, errorCode: u32, hasError: bool): void {
    this.injections++;
    this.lastVector = <i32>vector;
    this.lastErrorCode = errorCode;
    this.lastHasError = hasError;
  }
  injectInterrupt(vector: u32): void {
    this.interrupts++;
    this.lastInterrupt = <i32>vector;
  }
  interruptible(): bool {
    return this.ifFlag;
  }
  requestInterruptWindow(on: bool): void {
    this.windowRequested = on;
  }
  reflectException(): void {
    this.reflections++;
  }
  readSysMsr(m: SysMsr): u64 {
    return this.sysMsrs[<i32>m];
  }
  writeSysMsr(m: SysMsr, value: u64): void {
    this.sysMsrs[<i32>m] = value;
  }
  efer(): u64 {
    return this.guestEfer;
  }
  setEfer(value: u64): bool {
    // the backends' rule in short: SCE, LME, NXE (and LMA read-only) only
    if ((value & ~(<u64>0xd01)) != 0) return false;
    this.guestEfer = value;
    return true;
  }
  cr4(): u64 {
    return this.guestCr4;
  }
  protectedMode(): bool {
    return (this.state.cr0 & 1) != 0;
  }
  beginSlice(sliceTsc: u64): void {
    this.slices++;
  }
}

function copyState(from: CpuState, to: CpuState): void {
  for (let i = 0; i < 8; i++) {
    const a = from.segs[i];
    to.segs[i].set(a.sel, a.base, a.limit, a.attr);
  }
  to.gdtBase = from.gdtBase;
  to.gdtLimit = from.gdtLimit;
  to.idtBase = from.idtBase;
  to.idtLimit = from.idtLimit;
  to.cr0 = from.cr0;
  to.cr3 = from.cr3;
  to.cr4 = from.cr4;
  to.efer = from.efer;
  to.rsp = from.rsp;
  to.rip = from.rip;
  to.rflags = from.rflags;
}

/** EPT-like entry bits (SDM 28.3.2): RWX for tables; RWX + memory type WB (6) for leaves; PS for 2 MiB. */
export function eptFormat(large: bool): TableFormat {
  const f = new TableFormat();
  f.tableBits = 7;
  f.leaf4kBits = 7 | (6 << 3);
  f.leaf2mBits = 7 | (6 << 3) | 0x80;
  f.large = large;
  return f;
}

export class FakeBackend extends VirtBackend {
  vcpus: Array<FakeVcpu> = new Array<FakeVcpu>();
  flushes: i32 = 0;
  format: TableFormat;

  constructor(large: bool) {
    super();
    this.format = eptFormat(large);
  }
  name(): string {
    return "fake";
  }
  enable(): string {
    return "";
  }
  createVcpu(rootPa: u64, tag: u32): Vcpu {
    const v = new FakeVcpu(tag);
    this.vcpus.push(v);
    return v;
  }
  tableFormat(): TableFormat {
    return this.format;
  }
  flushGuestTlb(vcpu: Vcpu): void {
    this.flushes++;
  }
  describe(): string {
    return "fake backend";
  }
}
