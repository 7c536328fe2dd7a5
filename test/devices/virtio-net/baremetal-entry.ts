// Uses both virtqueue sides, the virtio-net device, its PCI transport and the switch, so the baremetal build (asc --target baremetal, then the AOT) sees all their code.

import { InterruptSink } from "../../../src/devices/device";
import { PciHost } from "../../../src/devices/pci/index";
import { LinearMemory } from "../../../src/lib/bounded-memory";
import { Chain, DriverQueue, VirtioLog } from "../../../src/virtio/index";
import { VirtioNet, VirtioPci, NetPort, NET_PCI_CLASS } from "../../../src/devices/virtio-net/index";
import { Switch, Batch, KIND_VM } from "../../../src/vswitch/index";

class Sink extends InterruptSink {
  n: u32 = 0;
  setLevel(gsi: u32, high: bool): void {
    this.n++;
  }
  msi(address: u64, data: u32): void {
    this.n += data;
  }
}
class Lines extends VirtioLog {
  n: i32 = 0;
  line(s: string): void {
    this.n += s.length;
  }
}

const ram = new StaticArray<u8>(1 << 20);
const mem = new LinearMemory(changetype<usize>(ram), 1 << 20);
const sink = new Sink();
const net = new VirtioNet("vm1", mem, 0x027476000001);
const fn = new VirtioPci(net, NET_PCI_CLASS, sink, 16);
const host = new PciHost();
const sw = new Switch(64, 4);
const port = sw.addPort("vm1", KIND_VM, 0x027476000001);
const batch = new Batch();
const np = new NetPort(net, sw, port);
const drv = new DriverQueue(mem, 256);
const sg = new Chain(4);
net.log = new Lines();
host.attach(3, 0, fn);

export function mmio(gpa: u64, size: u32, write: bool, v: u64): u64 {
  return host.mmio(gpa, size, write, v) ? host.value : 0;
}
export function config(offset: u32, size: u32, write: bool, v: u32): u32 {
  if (write) host.configWrite(3, 0, offset, size, v);
  return host.configRead(3, 0, offset, size);
}
export function pump(now: i64): i32 {
  const n = net.transmit(sw.pool, batch);
  if (batch.count > 0) sw.rx(port, batch, now);
  sw.tx(port, batch, now);
  return n + net.receive(sw.pool, batch, sw.port(port)) + (net.idleTx() ? 1 : 0) + (np.service(now, 4) ? 1 : 0);
}
export function driver(base: u64, size: u32): i32 {
  if (drv.layout(base, size, 4, 0x100000, true) != 0) return -1;
  sg.clear();
  sg.add(0x80000, 1514, true);
  drv.add(sg, 1);
  drv.publish();
  return drv.reap() ? <i32>drv.len : drv.fault;
}
