// The management server's view of the VMM: the VmBackend interface that the
// VMM implements (issue 6), and the host facts system.info reports.

/** One VM as vm.list and vm.* report it. */
export class VmInfo {
  name: string = "";
  /** "created", "running", "paused" or "stopped" */
  state: string = "created";
  /** Why the monitor stopped the VM ("" when it did not). */
  reason: string = "";
  vcpus: i32 = 1;
  memoryMib: i64 = 0;
  /** Names of the VM's switch ports. */
  ports: Array<string> = new Array<string>();
  exitsTotal: u64 = 0;
  /** Exit counters by name, parallel arrays ("io", "ept_violation", ...). */
  exitNames: Array<string> = new Array<string>();
  exitCounts: Array<u64> = new Array<u64>();
  /** vm.stats: microseconds the VM held the CPU (its slices, exit handling included) since start/reset; -1 when not accounted. */
  runUs: i64 = -1;
  /** vm.stats: time slices it was given since start/reset. */
  slices: u64 = 0;
}

/** Result of a VM state change: 0 or an application error code (1-4) with a message. */
export class VmResult {
  code: i32 = 0;
  message: string = "";
  /** vm.console_write: bytes taken. */
  written: i32 = 0;
  static ok(): VmResult {
    return new VmResult();
  }
  static error(code: i32, message: string): VmResult {
    const r = new VmResult();
    r.code = code;
    r.message = message;
    return r;
  }
}

/** Application error codes of the vm.* methods (PROTOCOL.md "Error codes"). */
export const enum VmError {
  NotFound = 1,
  WrongState = 2,
  Busy = 3,
  NoResources = 4,
}

export const enum VmOp {
  Start = 0,
  Stop = 1,
  Pause = 2,
  Resume = 3,
  Reset = 4,
}

/**
 * What the server needs from the VMM. The server checks names and params;
 * the backend answers for a VM by name. `change` must change nothing when it
 * returns an error: 1 unknown VM, 2 wrong state (e.g. start a running VM),
 * 3 busy, 4 out of resources.
 */
export abstract class VmBackend {
  /** Every VM, sorted by name. */
  abstract list(): Array<VmInfo>;
  /** One VM, or null when there is none of that name. */
  abstract find(name: string): VmInfo | null;
  abstract change(name: string, op: VmOp): VmResult;
  /**
   * vm.console: the kept console lines numbered above `since` into `out`; returns the number of the last
   * line (0: none yet), or -1 for an unknown VM.
   */
  console(name: string, since: u64, out: Array<string>): i64 {
    return -1;
  }
  /** vm.console_write: bytes for the VM's serial console; the count taken, or an error result. */
  consoleWrite(name: string, data: string): VmResult {
    return VmResult.error(VmError.NotFound, "VM not found: " + name);
  }
}

/** Until the VMM exists: no VMs. */
export class NoVms extends VmBackend {
  list(): Array<VmInfo> {
    return new Array<VmInfo>();
  }
  find(name: string): VmInfo | null {
    return null;
  }
  change(name: string, op: VmOp): VmResult {
    return VmResult.error(VmError.NotFound, "VM not found: " + name);
  }
}

/** Facts about the machine for system.info, set by the monitor or the runner. */
export class HostInfo {
  version: string = "0.1.0";
  /** "vmx", "svm" or "none" */
  virt: string = "none";
  cpus: i32 = 1;
  memoryMib: i64 = 0;
  /** Monotonic milliseconds since start; the host advances it. */
  nowMs: i64 = 0;
  /** Garbage collections run (the monitor's gc.ts; 0 where the runtime collects by itself, as in Node). */
  collections: i64 = 0;
}
