// The machine's devices at boot: the PCI table and the virtio functions' negotiation, logged.
// Until the composition root binds NICs to switch ports, the boot option
// `drivers` runs this alone so the transport can be checked in QEMU.

import { log, warn } from "./console";
import { dec, hex } from "../lib/fmt";
import { physPages } from "../platform/pages";
import { PciFunction, describeFunction, enumerate } from "./pci";
import { PortConfigAccess, mechanism1Present } from "./pci-io";
import {
  Feature, RingLayout, Status, VirtioTransport, driverOk, featureNames, negotiate, virtioType,
} from "./virtio-pci";
import { openTransport, transportProblem } from "./virtio-pci-hw";

/** Every function found, kept reachable from a global for the collector (ABI.md "Garbage collection"). */
export let pciFunctions: Array<PciFunction> = new Array<PciFunction>();

/** Enumerates once and logs the table; later calls return the same list. */
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

export function logPciTable(): void {
  for (let i = 0; i < pciFunctions.length; i++) log("pci", describeFunction(pciFunctions[i]));
}

/** MAC from the device config (virtio 1.2 5.1.4), as aa:bb:cc:dd:ee:ff. */
export function macString(t: VirtioTransport): string {
  let s = "";
  for (let i: u32 = 0; i < 6; i++) s += (i > 0 ? ":" : "") + hex(<u64>t.config8(i), 2);
  return s;
}

/** Ring size the driver uses: the device's maximum, at most 256 when the device lets it be smaller. */
export function ringSize(t: VirtioTransport, q: u32): u32 {
  const max = t.queueMax(q);
  if (max == 0) return 0;
  return t.canResizeQueues() && max > 256 ? 256 : max;
}

/** Sets up `count` queues in fresh frames (RingLayout each); "" or what failed. */
function setupQueues(t: VirtioTransport, count: u32): string {
  let sizes = "";
  for (let q: u32 = 0; q < count; q++) {
    const n = ringSize(t, q);
    if (n == 0 || (n & (n - 1)) != 0) return "queue " + q.toString() + " size " + n.toString();
    const l = new RingLayout(n);
    const pa = physPages.allocContiguous((l.bytes + 4095) / 4096, 1, true);
    if (pa == 0) return "no frames for queue " + q.toString();
    if (!t.setQueue(q, n, pa)) return "queue " + q.toString() + " refused";
    sizes += (q > 0 ? "," : "") + n.toString();
  }
  return "queues " + sizes;
}

/** Brings one virtio function to DRIVER_OK with its queues, logging the negotiation (boot option `drivers`). */
function probeVirtio(f: PciFunction, type: u32): void {
  const t = openTransport(f);
  if (t == null) {
    warn("virtio", f.address() + ": " + transportProblem);
    return;
  }
  const net = type == 1;
  const wanted = net ? Feature.NET_MAC | Feature.NET_STATUS | Feature.EVENT_IDX : Feature.CONSOLE_MULTIPORT | Feature.EVENT_IDX;
  const offered = t.deviceFeatures();
  const acc = negotiate(t, wanted);
  if (acc < 0) {
    warn("virtio", f.address() + " " + t.kind() + ": feature negotiation failed (offered 0x" + hex(offered) + ")");
    return;
  }
  const accepted = <u64>acc;
  // virtio-net: rx 0, tx 1 (5.1.2); console with MULTIPORT: port 0 rx/tx, control rx/tx (5.3.2)
  const queues: u32 = net ? 2 : (accepted & Feature.CONSOLE_MULTIPORT) != 0 ? 4 : 2;
  const q = setupQueues(t, queues);
  if (!q.startsWith("queues")) {
    t.setStatus(Status.Failed);
    warn("virtio", f.address() + " " + t.kind() + ": " + q);
    return;
  }
  driverOk(t);
  let extra = "";
  if (net && (accepted & Feature.NET_MAC) != 0) extra += ", mac " + macString(t);
  if (net && (accepted & Feature.NET_STATUS) != 0) extra += ", link " + ((t.config16(6) & 1) != 0 ? "up" : "down");
  if (!net && (accepted & Feature.CONSOLE_MULTIPORT) != 0) extra += ", max ports " + dec(<u64>t.config32(4));
  const st = t.status();
  log("virtio", f.address() + " " + (net ? "net" : "console") + " " + t.kind() + ": features " + featureNames(accepted, net) +
    " (offered 0x" + hex(offered) + "), " + q + extra + ", status 0x" + hex(<u64>st, 2) +
    ((st & Status.NeedsReset) != 0 ? " NEEDS_RESET" : ""));
  f.driver = net ? "virtio-net " + t.kind() : "virtio-console " + t.kind();
}

/** Boot option `drivers`: the PCI table, then every virtio-net and virtio-console function negotiated and brought up. */
export function driversProbe(): void {
  const fns = pciScan();
  for (let i = 0; i < fns.length; i++) {
    const type = virtioType(fns[i]);
    if (type == 1 || type == 3) probeVirtio(fns[i], type);
  }
  logPciTable();
}
