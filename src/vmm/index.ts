// Backend choice and VM creation: picks the VT-x or AMD-V backend once and
// creates the VMs of this boot (the `demo` option starts two printing guests
// and the hostile one). The main loop lives in src/system.ts.

import { VirtBackend } from "./vcpu";
import { VmxBackend } from "./vmx/vmx";
import { SvmBackend } from "./svm/svm";
import { Monitor } from "./monitor";
import { Vm } from "./vm";
import { cpuidReg } from "./hw";
import { vlog, vwarn } from "./log";
import { VmOp } from "../mgmt-api/vm";
import { initLazyState } from "./lazy-state";
import { setupModuleVms } from "./modules";
import { bootModules, bootOptions } from "../platform/multiboot";
import { GUEST_LOAD } from "./vm";
import { parseNumber } from "../lib/parse";

/** Embedded guests (scripts/build-guests.ts EMBEDDED_GUESTS order). */
export const enum Image {
  Print = 0,
  Real16 = 1,
  Long64 = 2,
  Probe = 3,
  Hostile = 4,
  CpuidLoop = 5,
  Spin = 6,
  Isolate = 7,
  Prefixes = 8,
  Storm = 9,
  Attack = 10,
}

const MIB: u64 = 1 << 20;

/** The one place that looks at the vendor: VMX if present, else SVM. */
function chooseBackend(): VirtBackend | null {
  if ((cpuidReg(1, 0, 2) & (1 << 5)) != 0) return new VmxBackend();
  if ((cpuidReg(0x80000001, 0, 2) & (1 << 2)) != 0) return new SvmBackend();
  return null;
}

/** The first character of `s` as a decimal digit (0 when not a digit): no floats here. */
function digit(s: string): u64 {
  if (s.length == 0) return 0;
  const c = s.charCodeAt(0);
  return c >= 48 && c <= 57 ? <u64>(c - 48) : 0;
}

/** The VMs of this boot: the embedded test guests (created), `demo` and `start=` ones started, one per module. */
export function setupVms(m: Monitor): void {
  const bench = bootOptions.value("vmm-bench", "");
  if (bootOptions.has("vmm-bench")) {
    // bench/vmm/run.ts: one CPUID-loop guest; `vmm-bench=min` takes the
    // minimal exit path, for the ratio against the full handler.
    m.minimalCpuid = bench == "min";
    const b = m.create("cpuidloop", Image.CpuidLoop, MIB);
    if (b) m.change(b, VmOp.Start);
    return;
  }
  const p1 = m.create("print-1", Image.Print, MIB);
  const p2 = m.create("print-2", Image.Print, MIB);
  const h = m.create("hostile", Image.Hostile, MIB);
  m.create("real16", Image.Real16, MIB);
  m.create("long64", Image.Long64, 2 * MIB); // 2 MiB: one large EPT/NPT page
  m.create("probe", Image.Probe, MIB);
  m.create("counter", Image.CpuidLoop, MIB); // endless CPUID loop: pause/resume tests
  m.create("spin", Image.Spin, MIB); // never exits, IF=0: only the slice timer preempts it
  const spinSti = m.create("spin-sti", Image.Spin, MIB); // the same with IF=1
  if (spinSti) spinSti.param = 1;
  // two guests that each load their own x87/SSE/debug/KERNEL_GS_BASE values and check them forever
  const iso1 = m.create("isolate-1", Image.Isolate, 2 * MIB);
  const iso2 = m.create("isolate-2", Image.Isolate, 2 * MIB);
  if (iso1) iso1.param = 1;
  if (iso2) iso2.param = 2;
  m.create("prefixes", Image.Prefixes, MIB); // prefixed exiting instructions: exact next RIP
  m.create("storm", Image.Storm, MIB); // #DB storm, RDPMC, reserved CR4 bit: intercepted, reflected, #GP
  // the hostile suite's guest (boot/guests/attack.S): `attack=N` picks its attack, 0 (default) runs every
  // attack a VM survives in turn
  // (a second one, `attack-2`, takes `attack2=N`, default 8: the task switch)
  const atk = m.create("attack", Image.Attack, MIB);
  const atk2 = m.create("attack-2", Image.Attack, MIB);
  const n1 = parseNumber(bootOptions.value("attack", "0"));
  const n2 = parseNumber(bootOptions.value("attack2", "8"));
  if (atk) atk.param = n1 >= 0 && n1 <= 11 ? <u64>n1 : 0;
  if (atk2) atk2.param = n2 >= 0 && n2 <= 11 ? <u64>n2 : 8;
  if (atk && p1) atk.peerPa = (<Vm>p1).ramPa;
  if (atk2 && p1) atk2.peerPa = (<Vm>p1).ramPa;
  if (p1) p1.param = 1;
  if (p2) p2.param = 2;
  if (h) {
    // The hostile guest is shown print-1's host-physical RAM address, and
    // each vm.reset moves it to its next attack (0 read monitor memory,
    // 1 write another VM's memory, 2 triple fault).
    h.peerPa = p1 ? (<Vm>p1).ramPa : 0x200000;
    h.paramStep = 1;
    h.paramMod = 3;
    h.param = digit(bootOptions.value("hostile", "0")) % 3;
  }
  if (bootOptions.has("demo")) {
    if (p1) m.change(p1, VmOp.Start);
    if (p2) m.change(p2, VmOp.Start);
    if (h) m.change(h, VmOp.Start);
  }
  setupModuleVms(m, bootModules);
  // start=NAME,NAME...: more VMs started at boot (for runs without COM2).
  const more = bootOptions.value("start", "");
  if (more.length > 0) {
    const names = more.split(",");
    for (let i = 0; i < names.length; i++) {
      const vm = m.find(names[i]);
      if (vm) m.change(vm, VmOp.Start);
      else vwarn("start=: no VM named " + names[i]);
    }
  }
}

/**
 * Picks the backend (VT-x if present, else AMD-V), enables it and returns the
 * monitor, or null (with the reason logged) when no VM can run.
 */
export function createMonitor(): Monitor | null {
  const backend = chooseBackend();
  if (!backend) {
    vwarn("neither VT-x nor AMD-V: no VMs can run");
    return null;
  }
  initLazyState();
  const why = backend.enable();
  if (why.length > 0) {
    vwarn("cannot enable " + backend.name() + ": " + why);
    return null;
  }
  vlog(backend.describe());
  return new Monitor(backend);
}
