// Flat exports over one simulated guest memory with a device-side and a driver-side queue, for the virtio suites and the fuzzer.

import { LinearMemory } from "../../src/lib/bounded-memory";
import { Barrier, Chain, DeviceQueue, DriverQueue, faultName as fname } from "../../src/virtio/index";

/** Counts the fences the queues ask for. */
class CountingBarrier extends Barrier {
  n: i32 = 0;
  full(): void {
    this.n++;
  }
}
const fences = new CountingBarrier();

let guest = new StaticArray<u8>(0);
let mem = new LinearMemory(changetype<usize>(guest), 0);
let dev = new DeviceQueue(mem, 256);
let drv = new DriverQueue(mem, 256);
let chain = new Chain(64);
let sg = new Chain(64);
const tokens = new StaticArray<u32>(32768);

/** A fresh zeroed guest memory of `bytes`, a device queue taking up to maxSize entries and chains of up to `segs` segments. */
export function reset(bytes: i32, maxSize: u32, segs: i32): void {
  guest = new StaticArray<u8>(bytes);
  mem = new LinearMemory(changetype<usize>(guest), <u64>bytes);
  dev = new DeviceQueue(mem, maxSize, fences);
  drv = new DriverQueue(mem, maxSize, fences);
  chain = new Chain(segs);
  sg = new Chain(segs);
}
export function memBase(): usize { return changetype<usize>(guest); }
export function memFault(): bool { return mem.fault; }
export function faultName(f: i32): string { return fname(f); }
export function fenceCount(): i32 { return fences.n; }

// ---- device side ----
export function devSetup(size: u32, desc: u64, avail: u64, used: u64, eventIdx: bool, indirect: bool): i32 {
  return dev.setup(size, desc, avail, used, eventIdx, indirect);
}
export function devReset(): void { dev.reset(); }
export function devFault(): i32 { return dev.fault; }
export function devPending(): u32 { return dev.pending(); }
export function devPop(): bool { return dev.pop(chain); }
export function devPush(head: u32, len: u32): void { dev.push(head, len); }
export function devPublish(): void { dev.publishUsed(); }
export function devNeedsInterrupt(): bool { return dev.needsInterrupt(); }
export function devEnableNotify(): bool { return dev.enableNotify(); }
export function devDisableNotify(): void { dev.disableNotify(); }
export function devLastAvail(): u32 { return dev.lastAvail; }
export function devSetIndexes(lastAvail: u32, usedIdx: u32): void { dev.setIndexes(lastAvail, usedIdx); }
export function devUsedIdx(): u32 { return dev.usedIdx; }
export function chainHead(): u32 { return chain.head; }
export function chainReadable(): i32 { return chain.readable; }
export function chainWritable(): i32 { return chain.writable; }
export function chainAddr(i: i32): u64 { return chain.addr(i); }
export function chainLen(i: i32): u32 { return chain.len(i); }
export function chainReadBytes(): u64 { return chain.readBytes; }
export function chainWriteBytes(): u64 { return chain.writeBytes; }

// ---- driver side ----
export function drvLayout(base: u64, size: u32, usedAlign: u64, busBase: u64, eventIdx: bool): i32 {
  return drv.layout(base, size, usedAlign, busBase, eventIdx);
}
export function drvDesc(): u64 { return drv.desc; }
export function drvAvail(): u64 { return drv.avail; }
export function drvUsed(): u64 { return drv.used; }
export function drvSegClear(): void { sg.clear(); }
export function drvSeg(addr: u64, len: u32, write: bool): bool { return sg.add(addr, len, write); }
export function drvAdd(token: u32): i32 { return drv.add(sg, token); }
export function drvPublish(): bool { return drv.publish(); }
export function drvReap(): bool { return drv.reap(); }
export function drvId(): u32 { return drv.id; }
export function drvLen(): u32 { return drv.len; }
export function drvToken(): u32 { return drv.token; }
export function drvFault(): i32 { return drv.fault; }
export function drvNumFree(): u32 { return drv.numFree; }
export function drvInFlight(): u32 { return drv.inFlight; }
export function drvUsedPending(): u32 { return drv.usedPending(); }
export function drvDisableInterrupts(): void { drv.disableInterrupts(); }
export function drvEnableInterrupts(): bool { return drv.enableInterrupts(); }
export function drvOutstanding(): i32 { return drv.outstandingTokens(tokens); }
export function drvOutstandingToken(i: i32): u32 { return tokens[i]; }
