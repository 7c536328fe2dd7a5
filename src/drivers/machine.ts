// The machine's own devices bound to the system: every virtio-net function an uplink port, the first virtio-console a management channel.

import { Level, log, warn } from "./console";
import { rdtsc } from "../hw/intrinsics";
import { dec, hex } from "../lib/fmt";
import { KIND_UPLINK, Switch } from "../vswitch/index";
import { formatMac } from "../vswitch/mac";
import { MgmtServer } from "../mgmt-api/server";
import { DmaWindow, FenceBarrier } from "./dma";
import { PciFunction, describeFunction, enumerate } from "./pci";
import { PortConfigAccess, mechanism1Present } from "./pci-io";
import { featureNames, virtioType } from "./virtio-pci";
import { openTransport, transportProblem } from "./virtio-pci-hw";
import { NetState, NetUplink } from "./virtio-net";
import { VirtioConsole } from "./virtio-console";

/** Frames each way per uplink per main-loop turn. */
const NET_BUDGET: i32 = 64;
/** Bytes moved per turn between the console and the management server. */
const CONSOLE_BURST: i32 = 4096;
/** Frames received between two `[net] driver path` lines (loglevel=debug; bench/uplink reads them). */
const REPORT_EVERY: u64 = 10_000;

export class MachineDevices {
  uplinks: Array<NetUplink> = new Array<NetUplink>();
  console: VirtioConsole | null = null;
  /** The management session the console feeds (MgmtServer.openSession), -1 until bound. */
  session: i32 = -1;

  /** TSC cycles spent in turns that moved frames, and the frames received in them (driver + switch path). */
  busyCycles: u64 = 0;
  rxFrames: u64 = 0;
  busyTurns: u64 = 0;
  private reported: u64 = 0;

  /** Moves frames of every uplink (bounded) and reports state changes with one `[net]` line each. */
  pollNet(sw: Switch, now: i64): void {
    for (let i = 0; i < this.uplinks.length; i++) {
      const n = unchecked(this.uplinks[i]);
      const t0 = <u64>rdtsc(); // HW: reads the TSC, no side effect
      const rx0 = n.rxFrames;
      if (n.poll(sw, now, NET_BUDGET) > 0) {
        this.busyCycles += <u64>rdtsc() - t0; // HW: reads the TSC
        this.busyTurns++;
        this.rxFrames += n.rxFrames - rx0;
      }
      if (n.message.length > 0) {
        log("net", n.name + ": " + n.message);
        n.message = "";
      }
      const p = sw.port(n.portId);
      const up = n.state == NetState.Running && n.linkUp;
      if (p != null && p.linkUp != up) {
        p.linkUp = up;
        log("net", n.name + ": link " + (up ? "up" : "down"));
      }
    }
    if (this.rxFrames - this.reported >= REPORT_EVERY) {
      this.reported = this.rxFrames;
      log("net", "driver path: " + dec(this.rxFrames) + " frames received, " + dec(this.busyCycles / this.rxFrames) +
        " TSC cycles per frame (RX, switch, TX), " +
        dec(this.busyTurns) + " polls moved frames", Level.Debug);
    }
  }

  /**
   * The console as a second management channel: its bytes go to its own
   * session of the server (own line framing), the replies produced while
   * they are fed go back to it. Called when the server's output is empty
   * (after the COM2 pump), so what appears in `out` is this session's.
   */
  pollConsole(s: MgmtServer): void {
    const c = this.console;
    if (c == null) return;
    c.poll();
    if (c.message.length > 0) {
      log("virtio", c.name + ": " + c.message);
      c.message = "";
    }
    if (this.session < 0) this.session = s.openSession();
    if (this.session < 0) return;
    const out = s.out;
    const before = out.len;
    const n = c.read(changetype<usize>(s.inBuf), CONSOLE_BURST < s.inBuf.length ? CONSOLE_BURST : s.inBuf.length);
    if (n > 0) s.feedSession(this.session, n);
    if (out.len > before) {
      c.write(out.ptr + <usize>before, out.len - before);
      out.len = before;
    }
    c.poll();
  }
}

export let machine: MachineDevices = new MachineDevices();
/** Every PCI function found, reachable from a global for the collector (ABI.md "Garbage collection"). */
export let pciFunctions: Array<PciFunction> = new Array<PciFunction>();

/** Enumerates once (mechanism 1); later calls return the same list. */
export function pciScan(): Array<PciFunction> {
  if (pciFunctions.length > 0) return pciFunctions;
  if (!mechanism1Present()) {
    warn("pci", "no configuration mechanism 1 at 0xCF8: no PCI devices");
    return pciFunctions;
  }
  pciFunctions = enumerate(new PortConfigAccess());
  log("pci", dec(<u64>pciFunctions.length) + " functions");
  return pciFunctions;
}

/**
 * Scans PCI (the `[pci]` table), brings up every virtio-net function as
 * port uplinkN in PCI order and the first virtio-console function, logging
 * each negotiation. A device that fails is logged and skipped.
 */
export function bindMachineDevices(sw: Switch): MachineDevices {
  const fns = pciScan();
  for (let i = 0; i < fns.length; i++) {
    const f = fns[i];
    const type = virtioType(f);
    if (type == 1) bindNet(f, sw);
    else if (type == 3 && machine.console == null) bindConsole(f);
  }
  for (let i = 0; i < fns.length; i++) log("pci", describeFunction(fns[i]));
  return machine;
}

function bindNet(f: PciFunction, sw: Switch): void {
  const name = "uplink" + machine.uplinks.length.toString();
  const t = openTransport(f);
  if (t == null) {
    warn("net", f.address() + ": " + transportProblem);
    return;
  }
  const w = DmaWindow.alloc(NetUplink.windowBytes());
  if (w == null) {
    warn("net", f.address() + ": no RAM for DMA buffers");
    return;
  }
  const n = new NetUplink(name, t, w, w.pa, new FenceBarrier());
  const ok = n.start();
  const id = sw.addPort(name, KIND_UPLINK, n.hasMac ? <i64>n.mac : -1);
  if (id < 0) {
    warn("net", f.address() + ": switch refused port " + name);
    return;
  }
  n.portId = id;
  machine.uplinks.push(n);
  f.driver = name;
  const p = sw.port(id);
  if (p != null) p.linkUp = ok && n.linkUp;
  if (!ok) {
    warn("net", name + " (" + f.address() + " " + t.kind() + "): " + n.message + "; link down, retried every 1000 polls");
    n.message = "";
    n.retryLater();
    return;
  }
  log("net", name + ": " + f.address() + " virtio-net " + t.kind() + ", mac " + (n.hasMac ? formatMac(n.mac) : "none") +
    ", link " + (n.linkUp ? "up" : "down") + ", features " + featureNames(n.features, true) + ", rings " +
    dec(<u64>n.rxq.size) + "/" + dec(<u64>n.txq.size) + ", DMA 0x" + hex(w.pa) + "+0x" + hex(w.bytes));
}

function bindConsole(f: PciFunction): void {
  const t = openTransport(f);
  if (t == null) {
    warn("virtio", f.address() + ": " + transportProblem);
    return;
  }
  const w = DmaWindow.alloc(VirtioConsole.windowBytes());
  if (w == null) {
    warn("virtio", f.address() + ": no RAM for DMA buffers");
    return;
  }
  const c = new VirtioConsole("console0", t, w, w.pa, new FenceBarrier());
  if (!c.start()) {
    warn("virtio", f.address() + " virtio-console " + t.kind() + ": " + c.message);
    c.message = "";
    return;
  }
  machine.console = c;
  f.driver = "management channel";
  log("virtio", f.address() + " virtio-console " + t.kind() + ": features " + featureNames(c.features, false) +
    ", port 0 is a management channel");
}
