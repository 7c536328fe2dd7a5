// A virtio-console (virtio 1.2 5.3) port as a byte channel: the first console port of a virtio-serial device, multiport protocol included.

import { BoundedMemory } from "../lib/bounded-memory";
import { Barrier } from "../virtio/barrier";
import { Chain } from "../virtio/chain";
import { DriverQueue, driverRingBytes } from "../virtio/driver-queue";
import { FAULT_NONE, faultName } from "../virtio/ring";
import { Feature, Status, VirtioTransport, driverOk, negotiate } from "./virtio-pci";

/** Queues (virtio 1.2 5.3.2): port 0 receiveq/transmitq, then the control queues with MULTIPORT. */
const Q_RX: u32 = 0;
const Q_TX: u32 = 1;
const Q_CTRL_RX: u32 = 2;
const Q_CTRL_TX: u32 = 3;
/** Control events (virtio 1.2 5.3.6.2). */
const DEVICE_READY: u32 = 0;
const DEVICE_ADD: u32 = 1;
const DEVICE_REMOVE: u32 = 2;
const PORT_READY: u32 = 3;
const CONSOLE_PORT: u32 = 4;
const PORT_OPEN: u32 = 6;
/** struct virtio_console_control: le32 id, le16 event, le16 value. */
const CTRL_SIZE: u32 = 8;

/** Entries per ring (QEMU's legacy virtio-serial fixes 128 for data, 32 for control). */
export const CONSOLE_RING_MAX: u32 = 128;
const DATA_BUFS: u32 = 16;
const DATA_BUF: u32 = 1024;
const CTRL_BUFS: u32 = 8;
/** Control messages from the device may carry a port name after the 8 bytes (PORT_NAME). */
const CTRL_BUF: u32 = 128;
/** Software rings between the device buffers and the reader/writer: a stalled peer fills only these.
 * The output ring holds several of the largest replies (config.get of a full switch is tens of KiB). */
const SOFT: u32 = 65536;
const SOFT_OUT: u32 = 262144;
const RESTART_BACKOFF: u32 = 1000;

/**
 * The console port the monitor serves (port 0, the one `virtconsole`
 * becomes). Bytes in: device RX buffers -> `inRing` -> `read`. Bytes out:
 * `write` -> `outRing` -> TX buffers. Without MULTIPORT port 0 is simply
 * open; with it the driver says DEVICE_READY, PORT_READY and PORT_OPEN as
 * the device announces the port (5.3.6.2), and `hostOpen` follows the host
 * side's PORT_OPEN.
 */
export class VirtioConsole {
  running: bool = false;
  multiport: bool = false;
  /** The host side of port 0 is connected (always true without MULTIPORT). */
  hostOpen: bool = false;
  features: u64 = 0;
  resets: u32 = 0;
  message: string = "";
  /** Bytes `write` could not take (the reader stalled and the ring was full). */
  outDropped: u64 = 0;

  private rxq: DriverQueue;
  private txq: DriverQueue;
  private crxq: DriverQueue;
  private ctxq: DriverQueue;
  private rings: StaticArray<u64> = new StaticArray<u64>(4);
  private rxBufs: u64 = 0;
  private txBufs: u64 = 0;
  private crxBufs: u64 = 0;
  private ctxBufs: u64 = 0;
  private txFree: StaticArray<u32> = new StaticArray<u32>(DATA_BUFS);
  private nTxFree: u32 = 0;
  private ctxFree: StaticArray<u32> = new StaticArray<u32>(CTRL_BUFS);
  private nCtxFree: u32 = 0;
  private inRing: StaticArray<u8> = new StaticArray<u8>(SOFT);
  private inHead: u32 = 0;
  private inTail: u32 = 0;
  private outRing: StaticArray<u8> = new StaticArray<u8>(SOFT_OUT);
  private outHead: u32 = 0;
  private outTail: u32 = 0;
  private chain: Chain = new Chain(1);
  private backoff: u32 = 0;

  constructor(public name: string, public transport: VirtioTransport, public mem: BoundedMemory, public busBase: u64, barrier: Barrier) {
    this.rxq = new DriverQueue(mem, CONSOLE_RING_MAX, barrier);
    this.txq = new DriverQueue(mem, CONSOLE_RING_MAX, barrier);
    this.crxq = new DriverQueue(mem, CONSOLE_RING_MAX, barrier);
    this.ctxq = new DriverQueue(mem, CONSOLE_RING_MAX, barrier);
    const ring = VirtioConsole.ringBytes();
    for (let i = 0; i < 4; i++) this.rings[i] = <u64>i * ring;
    this.rxBufs = 4 * ring;
    this.txBufs = this.rxBufs + <u64>(DATA_BUFS * DATA_BUF);
    this.crxBufs = this.txBufs + <u64>(DATA_BUFS * DATA_BUF);
    this.ctxBufs = this.crxBufs + <u64>(CTRL_BUFS * CTRL_BUF);
  }

  private static ringBytes(): u64 {
    return (driverRingBytes(CONSOLE_RING_MAX, 4096) + 4095) & ~(<u64>4095);
  }
  static windowBytes(): u64 {
    return 4 * VirtioConsole.ringBytes() + <u64>(2 * DATA_BUFS * DATA_BUF + CTRL_BUFS * CTRL_BUF + CTRL_BUFS * CTRL_SIZE);
  }

  /** Device initialization (virtio 1.2 3.1.1) with MULTIPORT when offered; false with `message` when refused. */
  start(): bool {
    this.running = false;
    this.hostOpen = false;
    const t = this.transport;
    const acc = negotiate(t, Feature.CONSOLE_MULTIPORT | Feature.EVENT_IDX);
    if (acc < 0) return this.fail("feature negotiation failed");
    this.features = <u64>acc;
    this.multiport = (this.features & Feature.CONSOLE_MULTIPORT) != 0;
    const ev = (this.features & Feature.EVENT_IDX) != 0;
    if (!this.setupQueue(this.rxq, Q_RX, ev) || !this.setupQueue(this.txq, Q_TX, ev)) return false;
    if (this.multiport && (!this.setupQueue(this.crxq, Q_CTRL_RX, ev) || !this.setupQueue(this.ctxq, Q_CTRL_TX, ev))) return false;
    const rxN = this.rxq.size < DATA_BUFS ? this.rxq.size : DATA_BUFS;
    for (let i: u32 = 0; i < rxN; i++) this.post(this.rxq, this.rxBufs + <u64>(i * DATA_BUF), DATA_BUF, true, i);
    this.nTxFree = 0;
    const txN = this.txq.size < DATA_BUFS ? this.txq.size : DATA_BUFS;
    for (let i: u32 = 0; i < txN; i++) unchecked((this.txFree[this.nTxFree++] = i));
    this.nCtxFree = 0;
    if (this.multiport) {
      const n = this.crxq.size < CTRL_BUFS ? this.crxq.size : CTRL_BUFS;
      for (let i: u32 = 0; i < n; i++) this.post(this.crxq, this.crxBufs + <u64>(i * CTRL_BUF), CTRL_BUF, true, i);
      const m = this.ctxq.size < CTRL_BUFS ? this.ctxq.size : CTRL_BUFS;
      for (let i: u32 = 0; i < m; i++) unchecked((this.ctxFree[this.nCtxFree++] = i));
    }
    this.rxq.disableInterrupts();
    this.txq.disableInterrupts();
    this.rxq.publish();
    if (this.multiport) {
      this.crxq.disableInterrupts();
      this.ctxq.disableInterrupts();
      this.crxq.publish();
    }
    driverOk(t);
    if ((t.status() & (Status.NeedsReset | Status.Failed)) != 0) return this.fail("device refused DRIVER_OK");
    t.notify(Q_RX);
    this.running = true;
    if (this.multiport) {
      t.notify(Q_CTRL_RX);
      this.control(0, DEVICE_READY, 1); // then the device announces its ports (DEVICE_ADD)
    } else this.hostOpen = true;
    return true;
  }

  private setupQueue(q: DriverQueue, index: u32, ev: bool): bool {
    const t = this.transport;
    const max = t.queueMax(index);
    if (max == 0) return this.fail("queue " + index.toString() + " missing");
    let size = max;
    if (size > CONSOLE_RING_MAX) {
      if (!t.canResizeQueues()) return this.fail("queue " + index.toString() + " size " + max.toString() + " over " + CONSOLE_RING_MAX.toString());
      size = CONSOLE_RING_MAX;
    }
    const f = q.layout(this.rings[index], size, t.usedAlign(), this.busBase, ev);
    if (f != FAULT_NONE) return this.fail("queue " + index.toString() + ": " + faultName(f));
    if (!t.setQueue(index, size, q.descBus(), q.availBus(), q.usedBus())) return this.fail("queue " + index.toString() + " refused");
    return true;
  }

  private fail(why: string): bool {
    this.transport.setStatus(Status.Failed);
    this.running = false;
    this.hostOpen = false;
    this.message = why;
    return false;
  }

  private post(q: DriverQueue, at: u64, len: u32, write: bool, token: u32): void {
    const c = this.chain;
    c.clear();
    c.add(at, len, write);
    q.add(c, token);
  }

  /** Sends one control message (virtio 1.2 5.3.6.2); dropped when every control buffer is in flight. */
  private control(id: u32, event: u32, value: u32): void {
    if (this.nCtxFree == 0) return;
    const slot = unchecked(this.ctxFree[--this.nCtxFree]);
    const at = this.ctxBufs + <u64>(slot * CTRL_SIZE);
    this.mem.store32(at, id);
    this.mem.store16(at + 4, event);
    this.mem.store16(at + 6, value);
    this.post(this.ctxq, at, CTRL_SIZE, false, slot);
    if (this.ctxq.publish()) this.transport.notify(Q_CTRL_TX);
  }

  private fault(why: string): void {
    this.resets++;
    this.transport.reset();
    this.inHead = this.inTail = 0;
    if (this.start()) this.message = why + ": device reset";
    else {
      this.message = why + ": device reset, restart failed (" + this.message + ")";
      this.backoff = RESTART_BACKOFF;
    }
  }

  /** Bytes waiting for `read`. */
  available(): u32 {
    return this.inTail - this.inHead;
  }

  /** Copies up to `max` received bytes to dst; how many. */
  read(dst: usize, max: i32): i32 {
    let n = 0;
    while (n < max && this.inHead != this.inTail) {
      store<u8>(dst + <usize>n, unchecked(this.inRing[this.inHead & (SOFT - 1)]));
      this.inHead++;
      n++;
    }
    return n;
  }

  /** Queues `len` bytes for the host; what does not fit (a stalled reader) is dropped and counted. */
  write(src: usize, len: i32): i32 {
    let n = 0;
    while (n < len && this.outTail - this.outHead < SOFT_OUT) {
      unchecked((this.outRing[this.outTail & (SOFT_OUT - 1)] = load<u8>(src + <usize>n)));
      this.outTail++;
      n++;
    }
    if (n < len) this.outDropped += <u64>(len - n);
    return n;
  }

  /** Moves bytes between the rings and the device; bounded by the buffer counts. */
  poll(): void {
    if (!this.running) {
      if (this.backoff > 0 && --this.backoff == 0) {
        this.transport.reset();
        if (!this.start()) this.backoff = RESTART_BACKOFF;
        else this.message = "restarted after a fault";
      }
      return;
    }
    if (this.multiport) this.pollControl();
    if (!this.running) return;
    // in: used RX buffers into inRing, while there is room for a whole buffer (else the device waits)
    let reposted = false;
    while (SOFT - (this.inTail - this.inHead) >= DATA_BUF && this.rxq.reap()) {
      const slot = this.rxq.token;
      const at = this.rxBufs + <u64>(slot * DATA_BUF);
      const len = this.rxq.len; // <= DATA_BUF: DriverQueue checks it against the posted length
      for (let i: u32 = 0; i < len; i++) {
        unchecked((this.inRing[this.inTail & (SOFT - 1)] = <u8>this.mem.load8(at + <u64>i)));
        this.inTail++;
      }
      this.post(this.rxq, at, DATA_BUF, true, slot);
      reposted = true;
    }
    if (this.rxq.fault != FAULT_NONE) return this.fault("RX ring: " + faultName(this.rxq.fault));
    if (reposted && this.rxq.publish()) this.transport.notify(Q_RX);
    // out: reclaim, then outRing into free TX buffers
    while (this.txq.reap()) unchecked((this.txFree[this.nTxFree++] = this.txq.token));
    if (this.txq.fault != FAULT_NONE) return this.fault("TX ring: " + faultName(this.txq.fault));
    let sent = false;
    // sent whether or not the host side is open: QEMU drops what no client reads, and a late PORT_OPEN cannot stall replies
    while (this.nTxFree > 0 && this.outHead != this.outTail) {
      const slot = unchecked(this.txFree[--this.nTxFree]);
      const at = this.txBufs + <u64>(slot * DATA_BUF);
      let n: u32 = 0;
      while (n < DATA_BUF && this.outHead != this.outTail) {
        this.mem.store8(at + <u64>n, unchecked(this.outRing[this.outHead & (SOFT_OUT - 1)]));
        this.outHead++;
        n++;
      }
      this.post(this.txq, at, n, false, slot);
      sent = true;
    }
    if (sent && this.txq.publish()) this.transport.notify(Q_TX);
  }

  /** The device's control messages: answer DEVICE_ADD for port 0, open it when it is a console, follow PORT_OPEN. */
  private pollControl(): void {
    let reposted = false;
    while (this.crxq.reap()) {
      const slot = this.crxq.token;
      const at = this.crxBufs + <u64>(slot * CTRL_BUF);
      if (this.crxq.len >= CTRL_SIZE) {
        const id = this.mem.load32(at);
        const event = this.mem.load16(at + 4);
        const value = this.mem.load16(at + 6);
        if (event == DEVICE_ADD) this.control(id, PORT_READY, id == 0 ? 1 : 0); // only port 0 is driven
        else if (event == CONSOLE_PORT && id == 0) this.control(0, PORT_OPEN, 1);
        else if (event == PORT_OPEN && id == 0) this.hostOpen = value != 0;
        else if (event == DEVICE_REMOVE && id == 0) this.hostOpen = false;
      }
      this.post(this.crxq, at, CTRL_BUF, true, slot);
      reposted = true;
    }
    if (this.crxq.fault != FAULT_NONE) return this.fault("control RX ring: " + faultName(this.crxq.fault));
    if (reposted && this.crxq.publish()) this.transport.notify(Q_CTRL_RX);
    while (this.ctxq.reap()) unchecked((this.ctxFree[this.nCtxFree++] = this.ctxq.token));
    if (this.ctxq.fault != FAULT_NONE) return this.fault("control TX ring: " + faultName(this.ctxq.fault));
  }
}
