// The VMM side of the management channel: VmBackend for vm.* (src/mgmt-api)
// and the COM2 byte pump that feeds the MgmtServer from the main loop.

import { VmBackend, VmError, VmInfo, VmOp, VmResult } from "../mgmt-api/vm";
import { MgmtServer } from "../mgmt-api/server";
import { com2, COM2_TX_QUEUE } from "../drivers/uart";
import { consolePoll } from "../drivers/console";
import { ExitKind, EXIT_NAMES } from "./vcpu";
import { Monitor } from "./monitor";
import { STATE_NAMES, Vm } from "./vm";
import { ConsoleLog } from "./guest-platform";
import { tscHz } from "../platform/tsc";
import { mulDiv } from "../lib/muldiv";

/** Microseconds for a TSC difference. */
function tscToUs(ticks: u64): u64 {
  return mulDiv(ticks, 1_000_000, tscHz);
}

export class VmmBackend extends VmBackend {
  constructor(public monitor: Monitor) {
    super();
  }

  private info(vm: Vm): VmInfo {
    const i = new VmInfo();
    i.name = vm.name;
    i.state = this.monitor.halted(vm) ? "halted" : STATE_NAMES[vm.state];
    i.reason = vm.reason;
    i.vcpus = 1;
    i.memoryMib = vm.memoryMib();
    for (let k = 0; k < vm.ports.length; k++) i.ports.push(vm.ports[k]);
    i.exitsTotal = vm.exitsTotal;
    i.runUs = <i64>tscToUs(vm.runTsc);
    i.slices = vm.slices;
    for (let k = 0; k < ExitKind.Count; k++) {
      if (vm.exits[k] == 0) continue;
      i.exitNames.push(EXIT_NAMES[k]);
      i.exitCounts.push(vm.exits[k]);
    }
    i.exitNames.push("io_unknown");
    i.exitCounts.push(vm.unknownIo);
    i.exitNames.push("msr_denied");
    i.exitCounts.push(vm.msrDenied);
    return i;
  }

  list(): Array<VmInfo> {
    const vms = this.monitor.vms;
    const names = new Array<string>();
    for (let i = 0; i < vms.length; i++) names.push(vms[i].name);
    names.sort();
    const out = new Array<VmInfo>();
    for (let i = 0; i < names.length; i++) {
      const vm = this.monitor.find(names[i]);
      if (vm) out.push(this.info(vm));
    }
    return out;
  }

  find(name: string): VmInfo | null {
    const vm = this.monitor.find(name);
    return vm ? this.info(vm) : null;
  }

  console(name: string, since: u64, out: Array<string>): i64 {
    const vm = this.monitor.find(name);
    if (!vm) return -1;
    const c = vm.console;
    let first = since + 1;
    if (c.seq >= <u64>ConsoleLog.KEEP && first <= c.seq - <u64>ConsoleLog.KEEP) first = c.seq - <u64>ConsoleLog.KEEP + 1;
    for (let n = first; n <= c.seq; n++) {
      const l = c.get(n);
      if (l !== null) out.push(l);
    }
    return <i64>c.seq;
  }

  consoleWrite(name: string, data: string): VmResult {
    const vm = this.monitor.find(name);
    if (!vm) return VmResult.error(VmError.NotFound, "VM not found: " + name);
    const p = vm.platform;
    if (!p) return VmResult.error(VmError.WrongState, "VM " + name + " has no serial console (a test guest)");
    const bytes = Uint8Array.wrap(String.UTF8.encode(data));
    let n = 0;
    for (let i = 0; i < bytes.length; i++) if (p.dev.uart.inputByte(bytes[i])) n++;
    const r = VmResult.ok();
    r.written = n;
    return r;
  }

  change(name: string, op: VmOp): VmResult {
    const vm = this.monitor.find(name);
    if (!vm) return VmResult.error(VmError.NotFound, "VM not found: " + name);
    const r = this.monitor.change(vm, op);
    if (r == 0) return VmResult.ok();
    if (r == VmError.WrongState) return VmResult.error(VmError.WrongState, "VM " + name + " is " + (this.monitor.halted(vm) ? "halted" : STATE_NAMES[vm.state]));
    return VmResult.error(VmError.NoResources, "out of memory for VM " + name);
  }
}

/** Request bytes taken from COM2 per main-loop turn. */
const RX_BURST: i32 = 256;
/** Bytes handed to the COM2 transmitter per main-loop turn (at 115200 baud it takes ~23 per 2 ms slice). */
const TX_BURST: i32 = 512;
/** Request bytes staged at server.inBuf that the server has not taken yet (back-pressure). */
let rxHeld: i32 = 0;
/** Bytes at the head of server.out already moved into com2.tx. */
let outMoved: i32 = 0;

/**
 * One main-loop turn of serial I/O, bounded and never waiting on a UART:
 * queued console output to COM1, replies to COM2 as its transmitter takes
 * them, and requests from COM2 only while the server accepts them. When
 * replies back up (a client that does not read), the server stops taking
 * requests and RTS is dropped; nothing is lost and the VMs keep running.
 */
export function pumpCom2(server: MgmtServer): void {
  consolePoll();
  if (!com2.present) return;
  const out = server.out;
  const moved0 = outMoved;
  outMoved += com2.tx.pushFrom(out.ptr + <usize>outMoved, out.len - outMoved);
  com2.poll(TX_BURST);
  outMoved += com2.tx.pushFrom(out.ptr + <usize>outMoved, out.len - outMoved);
  // a console sharing COM2 (console=ttyS1) waits until the queued reply line is whole
  if (outMoved > moved0) com2.midLine = load<u8>(out.ptr + <usize>(outMoved - 1)) != 0x0a;
  if (outMoved > 0 && (outMoved == out.len || outMoved >= COM2_TX_QUEUE)) {
    server.consumed(outMoved);
    outMoved = 0;
  }
  const taking = server.accepting();
  com2.setReceiving(taking);
  if (!taking) return;
  const buf = changetype<usize>(server.inBuf);
  let n = rxHeld;
  while (n < RX_BURST) {
    const b = com2.readByte();
    if (b < 0) break;
    store<u8>(buf + <usize>n, <u8>b);
    n++;
  }
  if (n == 0) return;
  const took = server.feedStaged(n, true);
  rxHeld = n - took;
  if (rxHeld > 0) memory.copy(buf, buf + <usize>took, <usize>rxHeld);
}
