// The composition root: builds the monitor, the switch and the management
// server, binds them together, and runs the main loop that drives them all.

import { createMonitor, setupVms } from "./vmm/index";
import { Monitor } from "./vmm/monitor";
import { VmmBackend, pumpCom2 } from "./vmm/mgmt";
import { gcCollections, gcSafePoint } from "./vmm/gc";
import { pause, rdtsc } from "./vmm/hw";
import { vlog, vwarn } from "./vmm/log";
import { switchConfigs } from "./vmm/modules";
import { GuestRam } from "./vmm/guest-ram";
import { Level, log, logLevel, print, warn } from "./drivers/console";
import { VirtioLog } from "./virtio/index";
import { DatapathStats, NetPort, NicLoop, Ticks, VirtioNet } from "./devices/virtio-net/index";
import { MgmtServer } from "./mgmt-api/server";
import { NetMethods } from "./mgmt-api/net-methods";
import { SwitchMethods } from "./mgmt-api/switch-methods";
import { KIND_VM, Switch } from "./vswitch/index";
import { com2 } from "./drivers/uart";
import { MachineDevices, bindMachineDevices } from "./drivers/machine";
import { tscHz, tscToMs } from "./platform/tsc";
import { usableMemory } from "./platform/pages";
import { mulDiv } from "./lib/muldiv";

// Module globals are the garbage collector's roots at the safe point (docs/ABI.md "Garbage collection"):
// everything the main loop uses hangs off these.
export let monitor: Monitor | null = null;
export let server: MgmtServer | null = null;
export let vswitch: Switch | null = null;
export let devices: MachineDevices | null = null;
export let nics: NicLoop | null = null;
/** The VM NIC data path's cost (net.stats); filled by NicLoop.turn. */
export const datapath: DatapathStats = new DatapathStats();

/** Builds the system and runs it; returns only when no VM can run at all. */
export function systemStart(): void {
  const m = createMonitor();
  if (!m) return;
  monitor = m;
  setupVms(m);

  const sw = new Switch();
  vswitch = sw;
  const nl = new NicLoop(sw.maxPorts, new Tsc(), datapath, VM_NIC_BATCHES);
  nics = nl;
  bindVmNics(m, sw, nl);
  const s = new MgmtServer();
  s.methods = new NetMethods(new SwitchMethods(sw, s.host), nl, <i64>(tscHz / 1000)); // net.* first, then the switch's
  s.vms = new VmmBackend(m);
  s.host.virt = m.backend.name();
  s.host.memoryMib = <i64>(usableMemory >> 20); // system.info: from the memory map
  server = s;
  // the machine's NICs become ports uplink0.. (GUESTS.md "The machine's NICs"); a virtio-console is a second management channel
  const d = bindMachineDevices(sw);
  applySwitchConfigs(s);
  devices = d;
  if (!com2.present) com2.init(115200);
  vlog("main loop: " + m.vms.length.toString() + " VMs, management on COM2" + (com2.present ? "" : " (absent)") +
    (d.console !== null ? " and virtio-console" : "") + ", " + d.uplinks.length.toString() + " uplinks");
  mainLoop(m, s, sw, d, nl);
}

/** Every Linux VM's NIC becomes a switch port named after the VM, kind vm, with its MAC (GUESTS.md). */
function bindVmNics(m: Monitor, sw: Switch, nl: NicLoop): void {
  for (let i = 0; i < m.vms.length; i++) {
    const vm = m.vms[i];
    const p = vm.platform;
    if (!p || !p.net) continue;
    const id = sw.addPort(vm.name, KIND_VM, <i64>vm.mac);
    if (id < 0) {
      vwarn("VM " + vm.name + ": the switch refused its port");
      continue;
    }
    const net = <VirtioNet>p.net;
    net.log = netFaults;
    const np = new NetPort(net, sw, id);
    p.port = np;
    nl.add(np);
    vm.ports.push(vm.name);
  }
}

/** A broken ring's `[net] VM: QUEUE queue: FAULT; device needs reset` line (src/virtio/README.md), a warning. */
class NetFaultLog extends VirtioLog {
  line(s: string): void {
    if (logLevel() >= Level.Warn) print(s + "\n");
  }
}
const netFaults = new NetFaultLog();

/** Longest switch-config document read from a module. */
const SWITCH_CONFIG_MAX: u64 = 256 << 10;

/**
 * `switch-config` modules (GUESTS.md), once every VM and NIC port exists: each is the `config` of a
 * config.apply, all-or-nothing, audited like a request. An invalid one leaves the switch at its defaults
 * and says which field in one [boot] line.
 */
function applySwitchConfigs(s: MgmtServer): void {
  for (let i = 0; i < switchConfigs.length; i++) {
    const mod = switchConfigs[i];
    const len = mod.end - mod.start;
    if (len > SWITCH_CONFIG_MAX) {
      warn("boot", "switch-config: " + len.toString() + " bytes, more than " + SWITCH_CONFIG_MAX.toString() + ": not applied");
      continue;
    }
    const buf = new StaticArray<u8>(<i32>len);
    new GuestRam(mod.start, len).readTo(changetype<usize>(buf), 0, <u32>len);
    // JSON allows no raw line breaks inside strings, so turning them into spaces keeps the document's meaning
    for (let k = 0; k < buf.length; k++) if (buf[k] == 10 || buf[k] == 13) buf[k] = 32;
    const doc = String.UTF8.decodeUnsafe(changetype<usize>(buf), <usize>len, false);
    const reply = s.callLocal("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"config.apply\",\"params\":{\"config\":" + doc + "}}");
    if (reply.includes("\"error\"")) warn("boot", "switch-config: invalid, the switch keeps its defaults: " + reply.trim());
    else log("boot", "switch-config: applied: " + reply.trim());
  }
}

/** The data path's clock: the TSC. */
class Tsc extends Ticks {
  now(): u64 {
    return rdtsc();
  }
}

/**
 * Batches of 32 frames each way per NIC and turn: bounds the time one guest's traffic takes from the loop.
 * Two batches are 64 frames, an egress queue's depth (src/vswitch/port.ts QUEUE_DEPTH): what one sender
 * puts on a receiver's port in a turn fits until the receiver is serviced later in the same turn.
 */
const VM_NIC_BATCHES: i32 = 2;

/** Nanoseconds for a TSC difference. */
function ticksToNs(ticks: u64): u64 {
  return mulDiv(ticks, 1_000_000_000, tscHz);
}

/**
 * One turn: a VM time slice, then the management channel, then the GC safe
 * point. Each step does a bounded amount of work, so no step can starve the
 * others; when nothing can run the CPU pauses briefly.
 */
function mainLoop(m: Monitor, s: MgmtServer, sw: Switch, d: MachineDevices, nl: NicLoop): void {
  const t0 = rdtsc();
  for (;;) {
    const ran = m.runSlice();
    const ticks = rdtsc() - t0;
    s.host.nowMs = <i64>tscToMs(ticks);
    const nowNs = <i64>ticksToNs(ticks); // the switch's clock is in ns
    d.pollNet(sw, nowNs);
    nl.turn(sw, nowNs);
    pumpCom2(s);
    d.pollConsole(s); // after COM2 has taken its replies: the server's output is empty here
    // The garbage collector's only safe point (vmm/gc.ts): live objects are reachable from the globals above;
    // no managed object is held by a local of this loop alone across it.
    gcSafePoint();
    s.host.collections = gcCollections;
    if (!ran) pause();
  }
}
