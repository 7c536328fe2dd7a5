// Flat exports over two virtio-net devices (VMs "a" and "b", each with its own simulated RAM) on two ports of one switch.

import { LinearMemory } from "../../../src/lib/bounded-memory";
import { VirtioNotify, VirtioLog } from "../../../src/virtio/index";
import { VirtioNet, NetPort, NicLoop, Ticks, DatapathStats } from "../../../src/devices/virtio-net/index";
import { Switch, Batch, KIND_VM } from "../../../src/vswitch/index";
import { MgmtServer } from "../../../src/mgmt-api/server";
import { SwitchMethods } from "../../../src/mgmt-api/switch-methods";
import { NetMethods } from "../../../src/mgmt-api/net-methods";

class Irqs extends VirtioNotify {
  q: StaticArray<i32> = new StaticArray<i32>(2);
  cfg: i32 = 0;
  queue(q: u32): void {
    this.q[q]++;
  }
  config(): void {
    this.cfg++;
  }
}
class Lines extends VirtioLog {
  lines: Array<string> = [];
  line(s: string): void {
    this.lines.push(s);
  }
}

let rams: StaticArray<StaticArray<u8>> = [new StaticArray<u8>(0), new StaticArray<u8>(0)];
let mems: StaticArray<LinearMemory> = [new LinearMemory(0, 0), new LinearMemory(0, 0)];
let nets: StaticArray<VirtioNet> = [new VirtioNet("a", mems[0], 0), new VirtioNet("b", mems[1], 0)];
let irqs: StaticArray<Irqs> = [new Irqs(), new Irqs()];
let log = new Lines();
let sw = new Switch(64, 8);
let ports: StaticArray<i32> = [0, 1];
let netPorts: StaticArray<NetPort> = [new NetPort(nets[0], sw, 0), new NetPort(nets[1], sw, 1)];
/** A clock that advances 100 ticks per reading (the loop's cost figures need one). */
class StepTicks extends Ticks {
  t: u64 = 0;
  now(): u64 {
    this.t += 100;
    return this.t;
  }
}
let dstats = new DatapathStats();
let loop = new NicLoop(8, new StepTicks(), dstats);
const batch = new Batch();
const frameBuf = new StaticArray<u8>(4096);
const capBuf = new StaticArray<u8>(32 * 2048);
const capLens = new StaticArray<i32>(32);

/** Two VMs with `bytes` of RAM each, a switch with `poolBuffers` buffers. */
export function reset(bytes: i32, poolBuffers: i32): void {
  sw = new Switch(poolBuffers, 8);
  log = new Lines();
  for (let i = 0; i < 2; i++) {
    const name = i == 0 ? "a" : "b";
    rams[i] = new StaticArray<u8>(bytes);
    mems[i] = new LinearMemory(changetype<usize>(rams[i]), <u64>bytes);
    const mac: u64 = 0x027476000001 + <u64>i;
    nets[i] = new VirtioNet(name, mems[i], mac);
    irqs[i] = new Irqs();
    nets[i].notify = irqs[i];
    nets[i].log = log;
    ports[i] = sw.addPort(name, KIND_VM, <i64>mac);
  }
  for (let i = 0; i < 2; i++) netPorts[i] = new NetPort(nets[i], sw, ports[i]);
  dstats = new DatapathStats();
  loop = new NicLoop(8, new StepTicks(), dstats);
  for (let i = 0; i < 2; i++) loop.add(netPorts[i]);
}
export function memBase(vm: i32): usize { return changetype<usize>(rams[vm]); }
export function memFault(vm: i32): bool { return mems[vm].fault; }
export function framePtr(): usize { return changetype<usize>(frameBuf); }

// ---- transport-level operations a driver performs ----
export function deviceFeatures(vm: i32, word: u32): u32 { return <u32>(nets[vm].deviceFeatures >> (32 * word)); }
export function writeDriverFeatures(vm: i32, word: u32, v: u32): void { nets[vm].writeDriverFeatures(word, v); }
export function writeStatus(vm: i32, v: u32): void { nets[vm].writeStatus(v); }
export function status(vm: i32): u32 { return nets[vm].status; }
export function readConfig(vm: i32, off: u32, size: u32): u32 { return nets[vm].readConfig(off, size); }
export function configGeneration(vm: i32): u32 { return nets[vm].configGeneration; }
export function enableQueue(vm: i32, q: u32, size: u32, desc: u64, avail: u64, used: u64): i32 {
  return nets[vm].enableQueue(q, size, desc, avail, used);
}
export function kick(vm: i32, q: u32): void { nets[vm].kick(q); }
export function kicked(vm: i32): u32 { return nets[vm].kicked; }
export function setLink(vm: i32, up: bool): void { nets[vm].setLink(up); }
export function fault(vm: i32): i32 { return nets[vm].fault; }
export function faultCount(vm: i32): u64 { return nets[vm].faultCount; }
/** The fuzzer checks the line of every fault: it keeps each device under the log limit. */
export function clearFaultCount(vm: i32): void { nets[vm].faultCount = 0; }

// ---- the data path, as the main loop drives it ----
/** Guest vm's TX queue -> switch (one batch); frames taken. */
export function pumpTx(vm: i32, now: i64): i32 {
  const n = nets[vm].transmit(sw.pool, batch);
  if (batch.count > 0) sw.rx(ports[vm], batch, now);
  return n;
}
/** Guest vm's TX queue -> frames copied out for the test (capPtr, capLen), pool buffers freed; frames taken. */
export function transmitCapture(vm: i32): i32 {
  const n = nets[vm].transmit(sw.pool, batch);
  for (let i = 0; i < batch.count; i++) {
    const h = batch.handles[i];
    const l = sw.pool.len(h);
    memory.copy(changetype<usize>(capBuf) + <usize>i * 2048, sw.pool.data(h), l);
    capLens[i] = l;
    sw.pool.free(h);
  }
  batch.count = 0;
  return n;
}
export function capPtr(): usize { return changetype<usize>(capBuf); }
export function capLen(i: i32): i32 { return capLens[i]; }
/** One main-loop turn for vm's NIC (NetPort.service); true when work remains. */
export function service(vm: i32, now: i64, maxBatches: i32): bool { return netPorts[vm].service(now, maxBatches); }
/** Switch -> guest vm's RX buffers (one batch); frames delivered. */
export function pumpRx(vm: i32, now: i64): i32 {
  sw.tx(ports[vm], batch, now);
  return nets[vm].receive(sw.pool, batch, sw.port(ports[vm]));
}
/** `count` copies of the frame at framePtr() straight to the device's receive (a batch, as from the switch). */
export function deliver(vm: i32, count: i32, len: i32): i32 {
  batch.count = 0;
  for (let i = 0; i < count; i++) {
    const h = sw.pool.alloc();
    if (h < 0) break;
    memory.copy(sw.pool.data(h), changetype<usize>(frameBuf), len);
    sw.pool.setLen(h, len);
    batch.push(h);
  }
  return nets[vm].receive(sw.pool, batch, sw.port(ports[vm]));
}
export function poolAvailable(): i32 { return sw.pool.available(); }
/** The allocator's current top when built with `--runtime stub` (a bump allocator that never frees): a fresh empty buffer's address. */
export function heapTop(): usize { return changetype<usize>(new ArrayBuffer(0)); }
export function pollTx(vm: i32): void { nets[vm].pollTx(); }
export function idleTx(vm: i32): bool { return nets[vm].idleTx(); }
export function txPending(vm: i32): u32 { return nets[vm].txPending(); }
export function queued(vm: i32): i32 { return sw.queued(ports[vm]); }
export function portStat(vm: i32, idx: i32): i64 { return sw.stat(ports[vm], idx); }

// ---- observations ----
export function counter(vm: i32, which: i32): u64 {
  const c = nets[vm].counters;
  switch (which) {
    case 0: return c.rxPackets;
    case 1: return c.rxBytes;
    case 2: return c.rxNoBuffer;
    case 3: return c.rxTooSmall;
    case 4: return c.txPackets;
    case 5: return c.txBytes;
    case 6: return c.txMalformed;
    case 7: return c.rxInterrupts;
    default: return c.txInterrupts;
  }
}
export function queueIrqs(vm: i32, q: i32): i32 { return irqs[vm].q[q]; }
export function configIrqs(vm: i32): i32 { return irqs[vm].cfg; }
export function logLines(): string { return log.lines.join("\n"); }
export function logCount(): i32 { return log.lines.length; }
export function logLine(i: i32): string { return log.lines[i]; }

// ---- the main loop's NIC turn (nic-loop.ts) ----
/** One NicLoop turn; returns the NICs serviced. */
export function loopTurn(now: i64): i32 { return loop.turn(sw, now); }
/** NetPort.service calls so far for vm. */
export function serviceTurns(vm: i32): u64 { return netPorts[vm].turns; }
export function dpFrames(): u64 { return dstats.frames; }
export function dpIdleTurns(): u64 { return dstats.idleTurns; }
/** NetPort turns of vm's NIC that ended with work left. */
export function busyTurns(vm: i32): u64 { return netPorts[vm].busyTurns; }

// ---- net.* (src/mgmt-api/net-methods.ts) over these NICs, wired as src/system.ts wires the monitor's ----
/** The reply line to one request line, from a server whose methods are NetMethods before the switch's. */
export function mgmtCall(line: string, tscKhz: i64): string {
  const s = new MgmtServer();
  s.methods = new NetMethods(new SwitchMethods(sw, s.host), loop, tscKhz);
  return s.callLocal(line);
}

