// A virtual machine: its RAM (mapped only into its own EPT/NPT), one vCPU,
// lifecycle state, exit counters and its debug-console line.

import { ExitKind, Vcpu, VirtBackend } from "./vcpu";
import { GuestTables } from "./gpt";
import { Reg } from "./regs";
import { allocFrames, allocFrames2m, phys_fill, phys_load64, phys_load8, phys_store64, phys_store8 } from "./hw";
import { guest_copy } from "../hw/intrinsics";
import { PAT_POWER_ON } from "../hw/msr";
import { resetLazyState } from "./lazy-state";
import { GuestRam } from "./guest-ram";
import { ConsoleLog, VmPlatform } from "./guest-platform";

/** Longest debug-port line; longer ones are split. */
const LINE_MAX: i32 = 160;
import { prepareLinux } from "./linux/guest";
import { CpuState } from "./cpu-state";
import { print } from "../drivers/console";

/** A Linux VM's boot material: module frames (reserved at boot, never mapped into any guest) and words. */
export class LinuxImage {
  kernelPa: u64 = 0;
  kernelLen: u64 = 0;
  initrdPa: u64 = 0;
  initrdLen: u64 = 0;
  cmdline: string = "console=ttyS0";
}

const linuxState = new CpuState();

export const enum VmState {
  Created = 0,
  Running = 1,
  Paused = 2,
  Stopped = 3,
}

export const STATE_NAMES: StaticArray<string> = ["created", "running", "paused", "stopped"];

/** Guest convention (README.md): loaded and entered here, real mode, SP below it. */
export const GUEST_LOAD: u64 = 0x1000;
export const GUEST_STACK: u64 = 0x1000;

export class Vm {
  state: VmState = VmState.Created;
  /** Why the monitor stopped it ("" otherwise). */
  reason: string = "";
  /** Executed HLT with nothing to wake it: not scheduled until reset. */
  halted: bool = false;
  ramPa: u64 = 0;
  tables: GuestTables;
  /** Guest-physical [0, ramBytes) as a checked window (device models, loaders, instruction fetch). */
  ram: GuestRam;
  vcpu: Vcpu;
  exits: StaticArray<u64> = new StaticArray<u64>(ExitKind.Count);
  exitsTotal: u64 = 0;
  /** TSC ticks this VM held the CPU (its slices, exit handling included) and the slices it got, since start/reset. */
  runTsc: u64 = 0;
  slices: u64 = 0;
  /** The scheduler's virtual time: TSC ticks of CPU this VM was charged (never reset; Monitor.runSlice). */
  vtime: u64 = 0;
  /** Port accesses nobody handles (read as all ones, writes ignored). */
  unknownIo: u64 = 0;
  /** MSR accesses refused with #GP. */
  msrDenied: u64 = 0;
  /** Guest IA32_PAT as the guest last wrote it (power-on value). */
  pat: u64 = PAT_POWER_ON;
  /** Console lines ("[NAME] line" on COM1, the last ConsoleLog.KEEP for vm.console). */
  console: ConsoleLog;
  /** The debug-port (0xE9) line being assembled: bytes, no allocation per byte. */
  lineBuf: StaticArray<u8> = new StaticArray<u8>(LINE_MAX);
  lineLen: i32 = 0;
  /** Host-physical address handed to the guest in RCX at start (hostile guest's target). */
  peerPa: u64 = 0;
  /** Guest parameter in RBX at start; `paramStep` is added at every reset. */
  param: u64 = 0;
  paramStep: u64 = 0;
  paramMod: u64 = 1;
  /** Image from a multiboot module (`image` < 0): its physical [modPa, modPa + modLen). */
  modPa: u64 = 0;
  modLen: u64 = 0;
  /** A Linux VM: its kernel and initramfs modules, command line and virtual platform (null: a test guest). */
  linux: LinuxImage | null = null;
  platform: VmPlatform | null = null;
  /** RAM still as the allocator zeroed it (no load has happened since): the first load need not zero it again. */
  private ramClean: bool = true;
  /** Its switch ports' names (vm.list `ports`). */
  ports: Array<string> = new Array<string>();
  /** The MAC of the VM's NIC and switch port (GUESTS.md: mac= or 02:74:76 + id). */
  mac: u64 = 0;
  /** Why the last load failed (Linux images), for the log. */
  loadError: string = "";

  constructor(
    public id: i32,
    public name: string,
    /** Embedded guest image (scripts/build-guests.ts EMBEDDED_GUESTS index). */
    public image: i32,
    public ramBytes: u64,
    backend: VirtBackend,
  ) {
    this.console = new ConsoleLog(name, print);
    const large = ramBytes >= 0x200000 && (ramBytes & 0x1fffff) == 0;
    let ram = large ? allocFrames2m(ramBytes >> 12) : allocFrames(ramBytes >> 12);
    if (ram == 0) ram = allocFrames(ramBytes >> 12);
    const tables = new GuestTables(backend.tableFormat());
    // Guest-physical [0, ramBytes) -> its own frames; nothing else is mapped.
    if (ram != 0) tables.map(0, ram, ramBytes);
    this.tables = tables;
    this.vcpu = backend.createVcpu(tables.root, <u32>id + 1);
    this.ramPa = ram;
    this.ram = new GuestRam(ram, ram != 0 ? ramBytes : 0);
  }

  ok(): bool {
    return this.ramPa != 0;
  }

  /** Fresh RAM with the image loaded, vCPU at power-on state, counters zeroed. */
  load(): bool {
    if (!this.ramClean) phys_fill(this.ramPa, 0, this.ramBytes); // a reset starts from zeroed RAM too
    this.ramClean = false;
    this.clearCounters();
    if (this.linux) return this.loadLinux(<LinuxImage>this.linux);
    if (this.image < 0) {
      // a module: checked at creation to fit below ramBytes; copied from the
      // module's reserved frames, which the guest can never reach
      if (this.modLen > this.ramBytes - GUEST_LOAD) return false;
      const dst = this.ramPa + GUEST_LOAD;
      let i: u64 = 0;
      for (; i + 8 <= this.modLen; i += 8) phys_store64(dst + i, phys_load64(this.modPa + i));
      for (; i < this.modLen; i++) phys_store8(dst + i, phys_load8(this.modPa + i));
    } else {
      const n = guest_copy(this.image, this.ramPa + GUEST_LOAD, this.ramBytes - GUEST_LOAD);
      if (n < 0) return false;
    }
    this.vcpu.resetRealMode(GUEST_LOAD, GUEST_STACK);
    resetLazyState(this.vcpu);
    this.vcpu.regs[Reg.Rbx] = this.param;
    this.vcpu.regs[Reg.Rcx] = this.peerPa;
    return true;
  }

  private clearCounters(): void {
    for (let i = 0; i < ExitKind.Count; i++) this.exits[i] = 0;
    this.exitsTotal = 0;
    this.runTsc = 0;
    this.slices = 0;
    this.unknownIo = 0;
    this.msrDenied = 0;
    this.pat = PAT_POWER_ON;
    this.halted = false;
    this.reason = "";
    this.lineLen = 0;
    this.loadError = "";
  }

  /**
   * The Linux 64-bit boot protocol (linux/boot.ts): ACPI tables, kernel, initramfs, zero page, page tables
   * and GDT in guest RAM, then the vCPU at startup_64 with RSI = the zero page. False with loadError set.
   */
  private loadLinux(img: LinuxImage): bool {
    let p = this.platform;
    if (!p) {
      p = new VmPlatform(this.console);
      p.addNic(this.name, this.ram, this.mac);
      this.platform = p;
    } else p.reset();
    const kernel = new GuestRam(img.kernelPa, img.kernelLen);
    const initrd = img.initrdLen > 0 ? new GuestRam(img.initrdPa, img.initrdLen) : null;
    const entry = prepareLinux(kernel, initrd, this.ram, img.cmdline, p.acpiConfig());
    if (!entry.ok()) {
      this.loadError = entry.error;
      return false;
    }
    const st = linuxState.longMode(entry.rip, entry.cr3, entry.gdtBase, entry.gdtLimit, entry.cs, entry.ds);
    st.cr0 = entry.cr0;
    st.cr4 = entry.cr4;
    st.efer = entry.efer;
    st.rsp = entry.rsp;
    st.rflags = entry.rflags;
    this.vcpu.setState(st);
    this.vcpu.clearRegs();
    this.vcpu.regs[Reg.Rsi] = entry.rsi;
    resetLazyState(this.vcpu);
    return true;
  }

  memoryMib(): i64 {
    return <i64>((this.ramBytes + 0xfffff) >> 20);
  }
}
