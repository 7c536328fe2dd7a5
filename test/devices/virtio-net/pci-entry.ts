// Flat exports over one virtio-net function behind the virtio-pci transport on a PCI host, with a recording interrupt sink.

import { LinearMemory } from "../../../src/lib/bounded-memory";
import { InterruptSink } from "../../../src/devices/device";
import { PciHost } from "../../../src/devices/pci/index";
import { VirtioLog } from "../../../src/virtio/index";
import { VirtioNet, VirtioPci, NET_PCI_CLASS } from "../../../src/devices/virtio-net/index";
import { Switch, Batch, KIND_VM } from "../../../src/vswitch/index";

class Sink extends InterruptSink {
  msis: Array<string> = [];
  level: bool = false;
  levelChanges: i32 = 0;
  setLevel(gsi: u32, high: bool): void {
    this.level = high;
    this.levelChanges++;
  }
  msi(address: u64, data: u32): void {
    this.msis.push(address.toString(16) + ":" + data.toString(16));
  }
}
class Lines extends VirtioLog {
  lines: Array<string> = [];
  line(s: string): void {
    this.lines.push(s);
  }
}

let ram = new StaticArray<u8>(0);
let mem = new LinearMemory(0, 0);
let sink = new Sink();
let log = new Lines();
let net = new VirtioNet("vm1", mem, 0);
let fn = new VirtioPci(net, NET_PCI_CLASS, sink, 11);
let host = new PciHost();
let sw = new Switch(64, 4);
let port: i32 = 0;
let peer: i32 = 0;
const batch = new Batch();

export function reset(bytes: i32): void {
  ram = new StaticArray<u8>(bytes);
  mem = new LinearMemory(changetype<usize>(ram), <u64>bytes);
  sink = new Sink();
  log = new Lines();
  net = new VirtioNet("vm1", mem, 0x027476000001);
  net.log = log;
  fn = new VirtioPci(net, NET_PCI_CLASS, sink, 11);
  host = new PciHost();
  host.attach(3, 0, fn);
  sw = new Switch(64, 4);
  port = sw.addPort("vm1", KIND_VM, 0x027476000001);
  peer = sw.addPort("peer", KIND_VM, -1);
}
export function memBase(vm: i32): usize { return changetype<usize>(ram); }
export function memFault(): bool { return mem.fault; }

// Configuration space through the host (dev 3 fn 0) and guest-physical MMIO.
export function cfgRead(off: u32, size: u32): u32 { return host.configRead(3, 0, off, size); }
export function cfgWrite(off: u32, size: u32, v: u32): void { host.configWrite(3, 0, off, size, v); }
export function io(port: u32, size: u32, write: bool, v: u32): i64 {
  return host.io(port, size, write, v) ? <i64>host.value : -1;
}
/** An MMIO access; reads return the value, -1 when no BAR claimed it. */
export function mmioRead(gpa: u64, size: u32): i64 {
  return host.mmio(gpa, size, false, 0) ? <i64>host.value : -1;
}
export function mmioWrite(gpa: u64, size: u32, v: u64): bool { return host.mmio(gpa, size, true, v); }

// The device's side as the main loop drives it.
export function kicked(): u32 { return net.kicked; }
export function status(): u32 { return net.status; }
export function transmit(): i32 {
  const n = net.transmit(sw.pool, batch);
  if (batch.count > 0) sw.rx(port, batch, 0);
  return n;
}
/** A frame of `len` bytes from the peer port to the guest (broadcast). */
export function fromPeer(len: i32): i32 {
  const buf = new StaticArray<u8>(len);
  for (let i = 0; i < 6; i++) buf[i] = 0xff;
  buf[6] = 2;
  buf[12] = 8;
  sw.inject(peer, changetype<usize>(buf), len, 0);
  sw.tx(port, batch, 0);
  return net.receive(sw.pool, batch, sw.port(port));
}
export function peerQueued(): i32 { return sw.queued(peer); }
export function msis(): string { return sink.msis.join(","); }
export function intx(): bool { return sink.level; }
export function logLines(): string { return log.lines.join("\n"); }
