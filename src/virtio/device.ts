// The transport-independent half of a virtio device model: status, feature negotiation, queues, and what a broken ring does (virtio 1.2 2.1-2.4, 3.1).

import { BoundedMemory } from "../lib/bounded-memory";
import { Barrier } from "./barrier";
import { DeviceQueue } from "./device-queue";
import {
  FAULT_NONE, faultName, featureBit, VIRTIO_F_VERSION_1, VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC,
  STATUS_DRIVER_OK, STATUS_FEATURES_OK, STATUS_DEVICE_NEEDS_RESET, STATUS_FAILED,
} from "./ring";

/** Lines logged per device: a guest resetting and breaking its ring in a loop cannot flood the console. */
export const LOG_LIMIT: u64 = 16;

/** What a transport does for the device: raise a queue's interrupt or a configuration-change interrupt. */
export abstract class VirtioNotify {
  abstract queue(q: u32): void;
  abstract config(): void;
}

/** Where the device's one line per broken ring goes (the monitor's console). */
export abstract class VirtioLog {
  abstract line(s: string): void;
}

/**
 * A device model's common state. The transport (virtio-pci) maps its registers onto these calls; the
 * device type (virtio-net) adds its configuration space and what a kick does.
 */
export abstract class VirtioDevice {
  readonly deviceId: u32;
  readonly queues: StaticArray<DeviceQueue>;
  mem: BoundedMemory;
  /** Offered features; the driver's accepted subset; device_status. */
  deviceFeatures: u64;
  driverFeatures: u64 = 0;
  status: u32 = 0;
  /** Bumped whenever the configuration space changes (virtio 1.2 2.5.1 / 4.1.4.3 config_generation). */
  configGeneration: u32 = 0;
  /** Bit q: queue q was notified (kicked) since the owner last cleared it: the main loop's ready set. */
  kicked: u32 = 0;
  /** The first ring fault since reset (FAULT_*), and on which queue. */
  fault: i32 = FAULT_NONE;
  faultQueue: u32 = 0;
  /** Faults since the device was made (resets do not clear it): a guest breaking its ring in a loop is logged LOG_LIMIT times. */
  faultCount: u64 = 0;
  notify: VirtioNotify | null = null;
  log: VirtioLog | null = null;
  /** The VM's name and the device's tag for the log line (`[net] NAME: ...`). */
  vmName: string;
  tag: string;

  constructor(deviceId: u32, tag: string, vmName: string, mem: BoundedMemory, numQueues: i32, queueMax: u32, features: u64, barrier: Barrier | null) {
    this.deviceId = deviceId;
    this.tag = tag;
    this.vmName = vmName;
    this.mem = mem;
    this.deviceFeatures = features | featureBit(VIRTIO_F_VERSION_1);
    const qs = new StaticArray<DeviceQueue>(numQueues);
    for (let i = 0; i < numQueues; i++) qs[i] = new DeviceQueue(mem, queueMax, barrier);
    this.queues = qs;
  }

  @inline numQueues(): u32 {
    return <u32>this.queues.length;
  }

  /** Device reset (status 0 written, virtio 1.2 2.4): queues, features, status and fault forgotten. */
  reset(): void {
    for (let i = 0; i < this.queues.length; i++) unchecked(this.queues[i]).reset();
    this.driverFeatures = 0;
    this.status = 0;
    this.kicked = 0;
    this.fault = FAULT_NONE;
    this.faultQueue = 0;
    this.onReset();
  }

  /**
   * A device_status write (virtio 1.2 2.1, 3.1.1): 0 resets; FEATURES_OK stays set only when the driver
   * accepted a subset of what was offered, VERSION_1 included (virtio 1.2 6.1: a modern transport takes no
   * legacy driver). DEVICE_NEEDS_RESET is the device's: a driver write neither sets nor clears it.
   */
  writeStatus(v: u32): void {
    if ((v & 0xff) == 0) {
      this.reset();
      return;
    }
    let s = (v & 0xff & ~STATUS_DEVICE_NEEDS_RESET) | (this.status & STATUS_DEVICE_NEEDS_RESET);
    if ((s & STATUS_FEATURES_OK) != 0 && (this.status & STATUS_FEATURES_OK) == 0 && !this.featuresAcceptable()) {
      s &= ~STATUS_FEATURES_OK;
    }
    this.status = s;
  }

  featuresAcceptable(): bool {
    const f = this.driverFeatures;
    return (f & ~this.deviceFeatures) == 0 && (f & featureBit(VIRTIO_F_VERSION_1)) != 0;
  }

  /** Driver features may be written only before FEATURES_OK (virtio 1.2 3.1.1 step 5). */
  writeDriverFeatures(word: u32, v: u32): void {
    if ((this.status & STATUS_FEATURES_OK) != 0 || word > 1) return;
    const shift = word * 32;
    this.driverFeatures = (this.driverFeatures & ~((<u64>0xffffffff) << shift)) | ((<u64>v) << shift);
  }

  @inline negotiated(bit: u32): bool {
    return (this.driverFeatures & featureBit(bit)) != 0;
  }

  /** FEATURES_OK and DRIVER_OK set, no fault, not FAILED: buffers may be used and interrupts sent (virtio 1.2 3.1.1). */
  @inline live(): bool {
    const mask = STATUS_FEATURES_OK | STATUS_DRIVER_OK | STATUS_DEVICE_NEEDS_RESET | STATUS_FAILED;
    return (this.status & mask) == (STATUS_FEATURES_OK | STATUS_DRIVER_OK);
  }

  /** queue_enable: checks the ring the driver described; a bad one puts the device in NEEDS_RESET. */
  enableQueue(q: u32, size: u32, desc: u64, avail: u64, used: u64): i32 {
    if (q >= this.numQueues()) return FAULT_NONE;
    const dq = unchecked(this.queues[q]);
    const f = dq.setup(size, desc, avail, used, this.negotiated(VIRTIO_F_EVENT_IDX), this.negotiated(VIRTIO_F_INDIRECT_DESC));
    if (f != FAULT_NONE) this.failQueue(q, f);
    else this.onQueueEnabled(q);
    return f;
  }

  /** A queue notification from the driver. */
  kick(q: u32): void {
    if (q < this.numQueues()) this.kicked |= (<u32>1) << q;
  }

  /**
   * A queue found a broken ring: DEVICE_NEEDS_RESET, one log line, a configuration-change interrupt
   * (virtio 1.2 2.1.2). Later faults before a reset add nothing.
   */
  failQueue(q: u32, f: i32): void {
    if ((this.status & STATUS_DEVICE_NEEDS_RESET) != 0) return;
    this.fault = f;
    this.faultQueue = q;
    this.status |= STATUS_DEVICE_NEEDS_RESET;
    this.faultCount++;
    const log = this.log;
    if (log != null && this.faultCount <= LOG_LIMIT) {
      log.line("[" + this.tag + "] " + this.vmName + ": " + this.queueName(q) + " queue: " + faultName(f) + "; device needs reset" +
        (this.faultCount == LOG_LIMIT ? " (further faults counted, not logged)" : ""));
    }
    const n = this.notify;
    if (n != null && (this.status & STATUS_DRIVER_OK) != 0) n.config();
  }

  /** Checks a queue after it reported nothing to do: a fault there fails the device. True when it faulted. */
  checkQueue(q: u32): bool {
    const f = unchecked(this.queues[q]).fault;
    if (f == FAULT_NONE) return false;
    this.failQueue(q, f);
    return true;
  }

  /** Sends a queue interrupt when the device is live. */
  @inline interruptQueue(q: u32): void {
    const n = this.notify;
    if (n != null && this.live()) n.queue(q);
  }

  /** Device-type configuration space (virtio 1.2 4.1.4.6): `size` bytes at `offset`. */
  abstract readConfig(offset: u32, size: u32): u32;
  abstract writeConfig(offset: u32, size: u32, v: u32): void;
  /** Bytes of the configuration space. */
  abstract configSize(): u32;
  /** For the log line. */
  abstract queueName(q: u32): string;
  /** Device-type state to drop on reset. */
  onReset(): void {}
  /** A queue was set up (its ring checked). */
  onQueueEnabled(q: u32): void {}
}
