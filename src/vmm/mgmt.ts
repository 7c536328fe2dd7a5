// The VMM side of the management channel: VmBackend for vm.* (src/mgmt-api)
// and the COM2 byte pump that feeds the MgmtServer from the main loop.

import { VmBackend, VmInfo, VmOp, VmResult } from "../mgmt-api/vm";
import { MgmtServer } from "../mgmt-api/server";
import { com2 } from "../drivers/uart";
import { ExitKind, EXIT_NAMES } from "./vcpu";
import { Monitor, OpResult } from "./monitor";
import { STATE_NAMES, Vm } from "./vm";

export class VmmBackend extends VmBackend {
  constructor(public monitor: Monitor) {
    super();
  }

  private info(vm: Vm): VmInfo {
    const i = new VmInfo();
    i.name = vm.name;
    i.state = STATE_NAMES[vm.state];
    i.reason = vm.reason;
    i.vcpus = 1;
    i.memoryMib = vm.memoryMib();
    i.exitsTotal = vm.exitsTotal;
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

  change(name: string, op: VmOp): VmResult {
    const vm = this.monitor.find(name);
    if (!vm) return VmResult.error(1, "VM not found: " + name);
    const r = this.monitor.change(vm, <i32>op);
    if (r == OpResult.Ok) return VmResult.ok();
    if (r == OpResult.WrongState) return VmResult.error(2, "VM " + name + " is " + STATE_NAMES[vm.state]);
    return VmResult.error(4, "out of memory for VM " + name);
  }
}

const RX_BURST: i32 = 256;

/** Moves bytes COM2 -> server and responses server -> COM2; bounded work per call. */
export function pumpCom2(server: MgmtServer): void {
  if (!com2.present) return;
  let n = 0;
  const buf = changetype<usize>(server.inBuf);
  while (n < RX_BURST) {
    const b = com2.readByte();
    if (b < 0) break;
    store<u8>(buf + <usize>n, <u8>b);
    n++;
  }
  if (n > 0) server.feedStaged(n);
  const out = server.out;
  if (out.len > 0) {
    for (let i = 0; i < out.len; i++) com2.writeByte(load<u8>(out.ptr + <usize>i));
    out.len = 0;
  }
}
