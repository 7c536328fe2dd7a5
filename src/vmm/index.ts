// VMM entry point: picks the VT-x or AMD-V backend once, creates the VMs
// (the `demo` option starts two printing guests and the hostile one), then
// runs the main loop: VM time slices and the management channel on COM2.

import { VirtBackend } from "./vcpu";
import { VmxBackend } from "./vmx/vmx";
import { SvmBackend } from "./svm/svm";
import { Monitor } from "./monitor";
import { VmmBackend, pumpCom2 } from "./mgmt";
import { Vm } from "./vm";
import { cpuidReg, pause, rdtsc } from "./hw";
import { vlog, vwarn } from "./log";
import { bootOptions } from "./multiboot";
import { MgmtServer } from "../mgmt-api/server";
import { SwitchMethods } from "../mgmt-api/switch-methods";
import { Switch } from "../vswitch/index";
import { com2 } from "../drivers/uart";

/** Embedded guests (scripts/build-guests.ts EMBEDDED_GUESTS order). */
export const enum Image {
  Print = 0,
  Real16 = 1,
  Long64 = 2,
  Probe = 3,
  Hostile = 4,
  CpuidLoop = 5,
  Spin = 6,
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

export let monitor: Monitor | null = null;
export let server: MgmtServer | null = null;

function setupVms(m: Monitor): void {
  const bench = bootOptions.value("vmm-bench", "");
  if (bootOptions.has("vmm-bench")) {
    // bench/vmm/run.ts: one CPUID-loop guest; `vmm-bench=min` takes the
    // minimal exit path, for the ratio against the full handler.
    m.minimalCpuid = bench == "min";
    const b = m.create("cpuidloop", Image.CpuidLoop, MIB);
    if (b) m.change(b, 0);
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
    if (p1) m.change(p1, 0);
    if (p2) m.change(p2, 0);
    if (h) m.change(h, 0);
  }
  // start=NAME,NAME...: more VMs started at boot (for runs without COM2).
  const more = bootOptions.value("start", "");
  if (more.length > 0) {
    const names = more.split(",");
    for (let i = 0; i < names.length; i++) {
      const vm = m.find(names[i]);
      if (vm) m.change(vm, 0);
      else vwarn("start=: no VM named " + names[i]);
    }
  }
}

export function vmmStart(): void {
  const backend = chooseBackend();
  if (!backend) {
    vwarn("neither VT-x nor AMD-V: no VMs can run");
    return;
  }
  const why = backend.enable();
  if (why.length > 0) {
    vwarn("cannot enable " + backend.name() + ": " + why);
    return;
  }
  vlog(backend.describe());
  const m = new Monitor(backend);
  monitor = m;
  setupVms(m);

  const s = new MgmtServer();
  s.methods = new SwitchMethods(new Switch(), s.host);
  s.vms = new VmmBackend(m);
  s.host.virt = backend.name();
  server = s;
  if (!com2.present) com2.init(115200);
  vlog("main loop: " + m.vms.length.toString() + " VMs, management on COM2" + (com2.present ? "" : " (absent)"));

  const t0 = rdtsc();
  for (;;) {
    const ran = m.runSlice();
    s.host.nowMs = <i64>((rdtsc() - t0) / 1_000_000); // approximate: TSC at ~1 GHz
    pumpCom2(s);
    if (!ran) pause();
  }
}
