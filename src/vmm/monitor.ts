// The VM table, lifecycle operations (start/stop/pause/resume/reset) and the
// scheduler that shares this CPU among the VMs in time slices, by charged CPU time.

import { ExitKind, EXIT_NAMES, VirtBackend } from "./vcpu";
import { Vm, VmState } from "./vm";
import { flushConsole, handleExit, stopVm } from "./exits";
import { rdtsc } from "./hw";
import { VmError, VmOp } from "../mgmt-api/vm";
import { switchLazyState } from "./lazy-state";
import { vlog, vwarn } from "./log";

/** Slice length in TSC ticks: ~2 ms in QEMU TCG (host-rate TSC), ~0.5 s of guest time in Bochs (ips=10M). */
export const SLICE_TSC: u64 = 5_000_000;

export class Monitor {
  vms: Array<Vm> = new Array<Vm>();
  next: i32 = 0;
  /** The vtime of the last VM chosen (monotonic): the floor for VMs that become runnable (runSlice). */
  vnow: u64 = 0;
  /** Benchmark mode: CPUID exits take the shortest path (no filtering, no counters). */
  minimalCpuid: bool = false;

  constructor(public backend: VirtBackend) {}

  /** Creates a VM in state "created"; null when out of memory. */
  create(name: string, image: i32, ramBytes: u64): Vm | null {
    const vm = new Vm(this.vms.length, name, image, ramBytes, this.backend);
    if (!vm.ok()) {
      vwarn("no memory for VM " + name);
      return null;
    }
    this.vms.push(vm);
    vlog("VM " + name + ": " + vm.memoryMib().toString() + " MiB RAM at host " + "0x" + vm.ramPa.toString(16) +
      ", " + vm.tables.frames.toString() + " table frames");
    return vm;
  }

  find(name: string): Vm | null {
    for (let i = 0; i < this.vms.length; i++) if (this.vms[i].name == name) return this.vms[i];
    return null;
  }

  /** vm.start / stop / pause / resume / reset (MGMT-API.md); changes nothing on error. */
  /** 0, or the vm.* error code (VmError) the management protocol reports. */
  change(vm: Vm, op: VmOp): i32 {
    const s = vm.state;
    if (op == VmOp.Start) {
      if (s != VmState.Created && s != VmState.Stopped) return VmError.WrongState;
      if (!vm.load()) return VmError.NoResources;
      vm.state = VmState.Running;
      vlog("VM " + vm.name + " started");
    } else if (op == VmOp.Stop) {
      if (s != VmState.Running && s != VmState.Paused) return VmError.WrongState;
      flushConsole(vm);
      vm.state = VmState.Stopped;
      vlog("VM " + vm.name + " stopped by request");
    } else if (op == VmOp.Pause) {
      if (s != VmState.Running || this.halted(vm)) return VmError.WrongState;
      vm.state = VmState.Paused;
      vlog("VM " + vm.name + " paused");
    } else if (op == VmOp.Resume) {
      if (s != VmState.Paused) return VmError.WrongState;
      vm.state = VmState.Running;
      vlog("VM " + vm.name + " resumed");
    } else if (op == VmOp.Reset) {
      if (s == VmState.Created) return VmError.WrongState;
      // PROTOCOL.md: a reset keeps the start parameter; only the hostile test guest steps to its next attack
      if (vm.paramStep != 0 && vm.paramMod != 0) vm.param = (vm.param + vm.paramStep) % vm.paramMod;
      if (!vm.load()) return VmError.NoResources;
      this.backend.flushGuestTlb(vm.vcpu);
      vm.state = VmState.Running;
      vlog("VM " + vm.name + " reset");
    } else {
      return VmError.WrongState;
    }
    return 0;
  }

  /** PROTOCOL.md `halted`: a test guest that executed HLT (it has no interrupt source to wake it). */
  halted(vm: Vm): bool {
    return vm.state == VmState.Running && vm.halted && vm.platform == null;
  }

  /** True when some VM can run now. */
  runnable(): bool {
    for (let i = 0; i < this.vms.length; i++) {
      const vm = this.vms[i];
      if (vm.state == VmState.Running && this.awake(vm)) return true;
    }
    return false;
  }

  /**
   * Not halted, or halted with something to wake it: an interrupt (or expired timer) its platform would
   * deliver now. A halted VM costs no time slices (HLT parks it; a test guest has no wake-up source).
   */
  awake(vm: Vm): bool {
    if (!vm.halted) return true;
    const p = vm.platform;
    if (!p) return false;
    // pendingVector() fires expired timers; HLT with IF = 0 wakes only for NMI/INIT, which are not modelled.
    if (p.pendingVector() < 0 || !vm.vcpu.interruptible()) return false;
    vm.halted = false;
    return true;
  }

  /**
   * Before an entry: the platform's highest pending interrupt is injected when the guest can take it
   * (IF set, no shadow, nothing else queued), else an interrupt window is requested (SDM 25.2, APM 15.21.4).
   */
  private deliver(vm: Vm): void {
    const p = vm.platform;
    if (!p) return;
    const v = vm.vcpu;
    const vector = p.pendingVector();
    if (vector < 0) {
      v.requestInterruptWindow(false);
      return;
    }
    if (v.interruptible()) {
      v.injectInterrupt(<u32>vector);
      p.lapic.ack(<u32>vector);
      v.requestInterruptWindow(false);
    } else {
      v.requestInterruptWindow(true);
    }
  }

  /**
   * Runs one VM for one slice: of the runnable VMs, the one charged the least CPU time so far (its `vtime`,
   * measured in TSC ticks around each slice, exit handling included), ties in round-robin order. A slice ends on
   * the preemption timer (VT-x), the LAPIC slice timer (AMD-V), or at the first exit after the slice's TSC
   * budget is spent; these overshoot differently (a timer interrupt arrives late, an exit-bound guest stops
   * within one exit), so counting slices would not be fair, charging their real length is. A VM that was
   * halted, paused or not started has its vtime raised to one slice below the last VM chosen, so it runs
   * soon but cannot claim the time it did not use. Returns false when nothing could run.
   */
  runSlice(): bool {
    const n = this.vms.length;
    const floor = this.vnow > SLICE_TSC ? this.vnow - SLICE_TSC : 0;
    let best: Vm | null = null;
    let bestAt = 0;
    for (let k = 0; k < n; k++) {
      const i = (this.next + k) % n;
      const vm = this.vms[i];
      if (vm.state != VmState.Running || !this.awake(vm)) continue;
      if (vm.vtime < floor) vm.vtime = floor;
      if (best === null || vm.vtime < best.vtime) {
        best = vm;
        bestAt = i;
      }
    }
    if (best === null) return false;
    const vm = <Vm>best;
    this.next = (bestAt + 1) % n;
    if (vm.vtime > this.vnow) this.vnow = vm.vtime;
    this.runVm(vm);
    return true;
  }

  private runVm(vm: Vm): void {
    const v = vm.vcpu;
    const t0 = rdtsc();
    switchLazyState(v); // x87/SSE/AVX, DRs, unswitched MSRs: never another VM's
    v.beginSlice(SLICE_TSC);
    this.runSliceOf(vm);
    v.endSlice();
    const used = rdtsc() - t0; // what the VM cost, its exits' handling included
    vm.runTsc += used; // vm.stats run_us
    vm.vtime += used; // the scheduler's charge
    vm.slices++;
  }

  private runSliceOf(vm: Vm): void {
    const start = rdtsc();
    const v = vm.vcpu;
    for (;;) {
      const used = rdtsc() - start;
      if (used >= SLICE_TSC) return;
      this.deliver(vm);
      v.run(SLICE_TSC - used);
      if (this.minimalCpuid && v.exit.kind == ExitKind.Cpuid) {
        // the bench's shortest path: without NRIPS insnLen is 0 here, so the same CPUID runs again (the
        // cpuidloop guest only counts exits, so the rate is the same)
        v.advanceRip();
        continue;
      }
      if (!handleExit(vm)) return;
      if (v.exit.kind == ExitKind.Preempted) return;
    }
  }

  exitName(k: i32): string {
    return EXIT_NAMES[k];
  }
}
