// Flat exports over the drivers' pure parts for the vitest suites: PCI enumeration over a fake config space.

import { Cfg, PciConfigAccess, PciFunction, describeFunction, enumerate } from "../../src/drivers/pci";

/** One fake function: 256 bytes of config space, BARs that answer a sizing probe like hardware. */
class FakeFn {
  regs: StaticArray<u32> = new StaticArray<u32>(64);
  /** writable address bits of each BAR dword (0: not a BAR) */
  barMask: StaticArray<u32> = new StaticArray<u32>(6);
  barFlags: StaticArray<u32> = new StaticArray<u32>(6);
}

class FakeConfig extends PciConfigAccess {
  fns: Map<u32, FakeFn> = new Map<u32, FakeFn>();
  /** BAR probes (all-ones writes) made while the function decoded that BAR's space */
  decodingProbes: i32 = 0;
  reads: i32 = 0;

  read32(bdf: u32, off: u32): u32 {
    this.reads++;
    if (!this.fns.has(bdf)) return 0xFFFFFFFF; // master abort
    return this.fns.get(bdf).regs[(off & 0xFC) >> 2];
  }
  write32(bdf: u32, off: u32, v: u32): void {
    if (!this.fns.has(bdf)) return;
    const f = this.fns.get(bdf);
    const i = (off & 0xFC) >> 2;
    if (off >= 0x10 && off < 0x28) {
      const b = (off - 0x10) >> 2;
      if (f.barMask[b] == 0) return; // unimplemented BAR: reads 0
      const io = (f.barFlags[b] & 1) != 0;
      const decode = f.regs[1] & (io ? 1 : 2);
      if (v == 0xFFFFFFFF && decode != 0) this.decodingProbes++;
      f.regs[i] = (v & f.barMask[b]) | f.barFlags[b];
      return;
    }
    if (i == 1) {
      f.regs[1] = (f.regs[1] & 0xFFFF0000) | (v & 0xFFFF); // status is RW1C: not modelled
      return;
    }
    f.regs[i] = v;
  }
}

let cfg = new FakeConfig();
let found: Array<PciFunction> = new Array<PciFunction>();

export function fakeReset(): void {
  cfg = new FakeConfig();
  found = new Array<PciFunction>();
}
/** A function with vendor:device, class code << 8 | revision, header type, command. */
export function fakeAdd(bdf: u32, vendor: u32, device: u32, classRev: u32, headerType: u32, command: u32): void {
  const f = new FakeFn();
  f.regs[0] = (device << 16) | vendor;
  f.regs[1] = command;
  f.regs[2] = classRev;
  f.regs[3] = headerType << 16;
  cfg.fns.set(bdf, f);
}
/** BAR dword i: writable mask, fixed flag bits, current value (as firmware left it). */
export function fakeBar(bdf: u32, i: u32, mask: u32, flags: u32, value: u32): void {
  const f = cfg.fns.get(bdf);
  f.barMask[i] = mask;
  f.barFlags[i] = flags;
  f.regs[4 + i] = (value & mask) | flags;
}
/** Raw dword (capabilities, status). */
export function fakeSet(bdf: u32, off: u32, v: u32): void {
  cfg.fns.get(bdf).regs[off >> 2] = v;
}
export function fakeGet(bdf: u32, off: u32): u32 {
  return cfg.fns.get(bdf).regs[off >> 2];
}
export function decodingProbes(): i32 {
  return cfg.decodingProbes;
}
export function configReads(): i32 {
  return cfg.reads;
}

export function scan(maxBus: u32): i32 {
  found = enumerate(cfg, maxBus);
  return found.length;
}
export function fnBdf(i: i32): u32 { return found[i].bdf; }
export function fnLine(i: i32): string { return describeFunction(found[i]); }
export function barKind(i: i32, b: i32): i32 { return <i32>found[i].bars[b].kind; }
export function barBase(i: i32, b: i32): u64 { return found[i].bars[b].base; }
export function barSize(i: i32, b: i32): u64 { return found[i].bars[b].size; }
export function capCount(i: i32): i32 { return found[i].caps.length; }
export function capProblem(i: i32): string { return found[i].capProblem; }
export function commandOf(bdf: u32): u32 { return cfg.fns.get(bdf).regs[1] & 0xFFFF; }
export const CFG_STATUS = <u32>Cfg.Status;

// ---- virtio-net over a fake device: the test plays the device side of both rings.

import { LinearMemory } from "../../src/lib/bounded-memory";
import { NoBarrier } from "../../src/virtio/barrier";
import { Chain } from "../../src/virtio/chain";
import { DeviceQueue } from "../../src/virtio/device-queue";
import { Switch, KIND_UPLINK, KIND_VM } from "../../src/vswitch/index";
import { Feature, Status, VirtioTransport } from "../../src/drivers/virtio-pci";
import { NetState, NetUplink } from "../../src/drivers/virtio-net";

/** The registers of a virtio-net function, modern or legacy, with device-side queues over the shared window. */
class FakeNetDevice extends VirtioTransport {
  st: u32 = 0;
  offered: u64 = 0;
  driverFeatures: u64 = 0;
  queueSize: u32 = 256;
  resizable: bool = true;
  modern: bool = true;
  linkStatus: u32 = 1;
  mac: StaticArray<u8> = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
  rx: DeviceQueue;
  tx: DeviceQueue;
  notifies: StaticArray<i32> = new StaticArray<i32>(2);
  resets: i32 = 0;
  qDesc: StaticArray<u64> = new StaticArray<u64>(2);
  qUsed: StaticArray<u64> = new StaticArray<u64>(2);
  qSize: StaticArray<u32> = new StaticArray<u32>(2);

  constructor(public mem: LinearMemory) {
    super();
    this.rx = new DeviceQueue(mem, 256);
    this.tx = new DeviceQueue(mem, 256);
  }
  kind(): string { return this.modern ? "modern" : "legacy"; }
  status(): u32 { return this.st; }
  setStatus(s: u32): void {
    if (s == 0) {
      this.resets++;
      this.rx.reset();
      this.tx.reset();
    }
    // a device refuses FEATURES_OK for features it did not offer (virtio 1.2 3.1.1 step 6)
    if ((s & Status.FeaturesOk) != 0 && (this.driverFeatures & ~this.offered) != 0) s &= ~(<u32>Status.FeaturesOk);
    this.st = s;
  }
  deviceFeatures(): u64 { return this.modern ? this.offered : this.offered & 0xFFFFFFFF; }
  setDriverFeatures(f: u64): void { this.driverFeatures = f; }
  queueMax(q: u32): u32 { return q < 2 ? this.queueSize : 0; }
  setQueue(q: u32, size: u32, desc: u64, avail: u64, used: u64): bool {
    if (q > 1 || (!this.resizable && size != this.queueSize)) return false;
    const ev = (this.driverFeatures & Feature.EVENT_IDX) != 0;
    const f = (q == 0 ? this.rx : this.tx).setup(size, desc, avail, used, ev, false);
    this.qDesc[q] = desc;
    this.qUsed[q] = used;
    this.qSize[q] = size;
    return f == 0;
  }
  usedAlign(): u64 { return this.modern ? 4 : 4096; }
  disableQueue(q: u32): void {}
  notify(q: u32): void { if (q < 2) this.notifies[q]++; }
  isr(): u32 { return 0; }
  config8(off: u32): u32 { return off < 6 ? <u32>this.mac[off] : off == 6 ? this.linkStatus & 0xFF : 0; }
  config16(off: u32): u32 { return off == 6 ? this.linkStatus : 0; }
  config32(off: u32): u32 { return 0; }
  configWrite16(off: u32, v: u32): void {}
  configGeneration(): u32 { return 0; }
  canResizeQueues(): bool { return this.resizable; }
}

const WINDOW = <i32>NetUplink.windowBytes();
let dmaBuf = new StaticArray<u8>(WINDOW);
let dma = new LinearMemory(changetype<usize>(dmaBuf), <u64>WINDOW);
let dev = new FakeNetDevice(dma);
let net = new NetUplink("uplink0", dev, dma, 0, new NoBarrier());
let nsw = new Switch(512, 8);
let vmPort: i32 = -1;
const devChain = new Chain(4);
const frameBuf = new StaticArray<u8>(4096);

/** A fresh switch (uplink0 trunk-less access port, vm1 access port) and a fresh device; `modern` picks the interface. */
export function netReset(modern: bool, queueSize: u32, resizable: bool, poolBuffers: i32): void {
  dmaBuf = new StaticArray<u8>(WINDOW);
  dma = new LinearMemory(changetype<usize>(dmaBuf), <u64>WINDOW);
  dev = new FakeNetDevice(dma);
  dev.modern = modern;
  dev.queueSize = queueSize;
  dev.resizable = resizable;
  dev.offered = Feature.NET_MAC | Feature.NET_STATUS | Feature.EVENT_IDX | (<u64>1 << 0) | (modern ? Feature.VERSION_1 : 0);
  net = new NetUplink("uplink0", dev, dma, 0, new NoBarrier());
  nsw = new Switch(poolBuffers, 8);
  net.portId = nsw.addPort("uplink0", KIND_UPLINK, -1);
  vmPort = nsw.addPort("vm1", KIND_VM, -1);
}
export function netStart(): bool { return net.start(); }
export function netPoll(now: i64, budget: i32): i32 { return net.poll(nsw, now, budget); }
export function netRunning(): bool { return net.state == NetState.Running; }
export function netLink(): bool { return net.linkUp; }
export function netMac(): u64 { return net.mac; }
export function netFeatures(): u64 { return net.features; }
export function netResets(): u32 { return net.resets; }
export function netMessage(): string { const m = net.message; net.message = ""; return m; }
export function netBadFrames(): u64 { return net.badFrames; }
export function devResets(): i32 { return dev.resets; }
export function devStatus(): u32 { return dev.st; }
export function devSetLink(v: u32): void { dev.linkStatus = v; }
export function devSetStatusBits(bits: u32): void { dev.st |= bits; }
export function devNotifies(q: i32): i32 { return dev.notifies[q]; }
export function devRxPending(): u32 { return dev.rx.pending(); }
export function devFault(q: i32): i32 { return q == 0 ? dev.rx.fault : dev.tx.fault; }
export function frameAddr(): usize { return changetype<usize>(frameBuf); }
export function portStat(name: string, idx: i32): i64 {
  const id = nsw.portId(name);
  const p = nsw.port(id);
  return p == null ? -1 : p.stats[idx];
}
export function poolAvailable(): i32 { return nsw.pool.available(); }

/** The device receives a frame from the wire (frameBuf[0, len)): into the next posted RX chain. False when none is posted. */
export function devReceive(len: u32): bool {
  if (!dev.rx.pop(devChain)) return false;
  const hdr: u32 = dev.modern ? 12 : 10;
  // header of zeros, then the frame, across the writable segments in order
  let written: u32 = 0;
  const total = hdr + len;
  for (let i = devChain.readable; i < devChain.count(); i++) {
    const segLen = devChain.len(i);
    let k: u32 = 0;
    while (k < segLen && written < total) {
      dma.store8(devChain.addr(i) + <u64>k, written < hdr ? 0 : <u32>frameBuf[written - hdr]);
      k++;
      written++;
    }
  }
  dev.rx.push(devChain.head, written);
  dev.rx.publishUsed();
  return true;
}

/** The device sends the next TX frame to the wire: copied to frameBuf, its length without the header; -1 when none. */
export function devTransmit(): i32 {
  if (!dev.tx.pop(devChain)) return -1;
  const hdr: u32 = dev.modern ? 12 : 10;
  let n: u32 = 0;
  let pos: u32 = 0;
  for (let i = 0; i < devChain.readable; i++) {
    for (let k: u32 = 0; k < devChain.len(i); k++) {
      const b = dma.load8(devChain.addr(i) + <u64>k);
      if (pos >= hdr) frameBuf[n++] = <u8>b;
      pos++;
    }
  }
  dev.tx.push(devChain.head, 0);
  dev.tx.publishUsed();
  return <i32>n;
}

/** Misbehaviour 1: the used idx of queue q moves `ahead` entries past what the device has used. */
export function devBadUsedIdx(q: i32, ahead: u32): void {
  const used = dev.qUsed[q];
  dma.store16(used + 2, (dma.load16(used + 2) + ahead) & 0xFFFF);
}
/** Misbehaviour 2 and 3: one used entry with this id and length (the next RX chain is popped first so it is a real use). */
export function devBadUsed(q: i32, id: u32, len: u32): void {
  const dq = q == 0 ? dev.rx : dev.tx;
  dq.pop(devChain);
  dq.push(id == 0xFFFFFFFF ? devChain.head : id, len);
  dq.publishUsed();
}
/** The vm1 side: a frame into the switch from frameBuf, or the next one out of vm1 into frameBuf (-1 none). */
export function vmSend(len: i32, now: i64): void { nsw.inject(vmPort, frameAddr(), len, now); }
export function vmReceive(now: i64): i32 { return nsw.popFrame(vmPort, frameAddr(), now); }
/** Changes what the device offers (a modern device without VERSION_1 makes negotiation fail). */
export function devOffer(f: u64): void { dev.offered = f; }
export function devOffered(): u64 { return dev.offered; }

// ---- virtio-console over a fake virtio-serial device: data queues of port 0 and the control queues.

import { VirtioConsole } from "../../src/drivers/virtio-console";

class FakeSerialDevice extends VirtioTransport {
  st: u32 = 0;
  offered: u64 = Feature.CONSOLE_MULTIPORT | Feature.EVENT_IDX | Feature.VERSION_1;
  driverFeatures: u64 = 0;
  queues: Array<DeviceQueue> = new Array<DeviceQueue>();
  qUsed: StaticArray<u64> = new StaticArray<u64>(4);
  resets: i32 = 0;
  constructor(public mem: LinearMemory) {
    super();
    for (let i = 0; i < 4; i++) this.queues.push(new DeviceQueue(mem, 128));
  }
  kind(): string { return "modern"; }
  status(): u32 { return this.st; }
  setStatus(s: u32): void {
    if (s == 0) {
      this.resets++;
      for (let i = 0; i < 4; i++) this.queues[i].reset();
    }
    this.st = s;
  }
  deviceFeatures(): u64 { return this.offered; }
  setDriverFeatures(f: u64): void { this.driverFeatures = f; }
  queueMax(q: u32): u32 {
    const mp = (this.offered & Feature.CONSOLE_MULTIPORT) != 0;
    return q < 2 ? 128 : q < 4 && mp ? 32 : 0;
  }
  setQueue(q: u32, size: u32, desc: u64, avail: u64, used: u64): bool {
    this.qUsed[q] = used;
    return this.queues[q].setup(size, desc, avail, used, (this.driverFeatures & Feature.EVENT_IDX) != 0, false) == 0;
  }
  usedAlign(): u64 { return 4; }
  disableQueue(q: u32): void {}
  notify(q: u32): void {}
  isr(): u32 { return 0; }
  config8(off: u32): u32 { return 0; }
  config16(off: u32): u32 { return 0; }
  config32(off: u32): u32 { return off == 4 ? 31 : 0; }
  configWrite16(off: u32, v: u32): void {}
  configGeneration(): u32 { return 0; }
  canResizeQueues(): bool { return true; }
}

const CON_WINDOW = <i32>VirtioConsole.windowBytes();
let conBuf = new StaticArray<u8>(CON_WINDOW);
let conMem = new LinearMemory(changetype<usize>(conBuf), <u64>CON_WINDOW);
let ser = new FakeSerialDevice(conMem);
let con = new VirtioConsole("console0", ser, conMem, 0, new NoBarrier());
const conChain = new Chain(4);
const ioBuf = new StaticArray<u8>(32768); // more than the 16 TX buffers of 1 KiB one poll can fill

export function conReset(multiport: bool): void {
  conBuf = new StaticArray<u8>(CON_WINDOW);
  conMem = new LinearMemory(changetype<usize>(conBuf), <u64>CON_WINDOW);
  ser = new FakeSerialDevice(conMem);
  if (!multiport) ser.offered &= ~Feature.CONSOLE_MULTIPORT;
  con = new VirtioConsole("console0", ser, conMem, 0, new NoBarrier());
}
export function conStart(): bool { return con.start(); }
export function conPoll(): void { con.poll(); }
export function conMultiport(): bool { return con.multiport; }
export function conHostOpen(): bool { return con.hostOpen; }
export function conResets(): u32 { return con.resets; }
export function conMessage(): string { const m = con.message; con.message = ""; return m; }
export function conDeviceResets(): i32 { return ser.resets; }
export function ioAddr(): usize { return changetype<usize>(ioBuf); }
/** Driver side: read up to max bytes into ioBuf / write len bytes from ioBuf. */
export function conRead(max: i32): i32 { return con.read(ioAddr(), max); }
export function conWrite(len: i32): i32 { return con.write(ioAddr(), len); }

/** Device side: the next control message the driver sent, as id << 32 | event << 16 | value; -1 when none. */
export function devCtrlTake(): i64 {
  const q = ser.queues[3];
  if (!q.pop(conChain)) return -1;
  const a = conChain.addr(0);
  const v = (<i64>conMem.load32(a) << 32) | (<i64>conMem.load16(a + 4) << 16) | <i64>conMem.load16(a + 6);
  q.push(conChain.head, 0);
  q.publishUsed();
  return v;
}
/** Device side: sends a control message to the driver; false when it has no control buffer posted. */
export function devCtrlSend(id: u32, event: u32, value: u32): bool {
  const q = ser.queues[2];
  if (!q.pop(conChain)) return false;
  const a = conChain.addr(conChain.readable);
  conMem.store32(a, id);
  conMem.store16(a + 4, event);
  conMem.store16(a + 6, value);
  q.push(conChain.head, 8);
  q.publishUsed();
  return true;
}
/** Device side: the host sends ioBuf[0, len) (one RX buffer); false when none is posted or it does not fit. */
export function devHostSend(len: u32): bool {
  const q = ser.queues[0];
  if (!q.pop(conChain)) return false;
  const a = conChain.addr(conChain.readable);
  if (conChain.len(conChain.readable) < len) return false;
  for (let i: u32 = 0; i < len; i++) conMem.store8(a + <u64>i, ioBuf[i]);
  q.push(conChain.head, len);
  q.publishUsed();
  return true;
}
/** Device side: what the driver sent to the host, into ioBuf; byte count (0 when nothing). */
export function devHostTake(): i32 {
  const q = ser.queues[1];
  let n = 0;
  while (q.pop(conChain)) {
    for (let s = 0; s < conChain.readable; s++) {
      for (let k: u32 = 0; k < conChain.len(s); k++) ioBuf[n++] = <u8>conMem.load8(conChain.addr(s) + <u64>k);
    }
    q.push(conChain.head, 0);
  }
  q.publishUsed();
  return n;
}
/** Misbehaviour: a used entry on the RX queue with a length over the buffer posted. */
export function devConBadLen(): void {
  const q = ser.queues[0];
  q.pop(conChain);
  q.push(conChain.head, 100000);
  q.publishUsed();
}
export function netRetryLater(): void { net.retryLater(); }
export function conOutDropped(): u64 { return con.outDropped; }
/** Queues `len` bytes of 'z' for the host without polling (a reader that does not read). */
export function conWriteMany(len: i32): i32 {
  let total = 0;
  for (let left = len; left > 0; left -= 4096) {
    const n = left < 4096 ? left : 4096;
    for (let i = 0; i < n; i++) ioBuf[i] = 0x7a;
    total += con.write(ioAddr(), n);
  }
  return total;
}
