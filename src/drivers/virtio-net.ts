// A virtio-net function as a switch uplink (virtio 1.2 5.1): RX buffers kept posted, TX reclaimed, frames batched to and from the switch.

import { BoundedMemory } from "../lib/bounded-memory";
import { hex } from "../lib/fmt";
import { Barrier } from "../virtio/barrier";
import { Chain } from "../virtio/chain";
import { DriverQueue, driverRingBytes } from "../virtio/driver-queue";
import { FAULT_NONE, faultName } from "../virtio/ring";
import { Batch, MAX_BATCH, Switch } from "../vswitch/switch";
import { BUF_DATA } from "../vswitch/pool";
import { DROP_MALFORMED, DROP_NO_BUFFER, RX_BYTES, RX_PACKETS } from "../vswitch/port";
import { Feature, Status, VirtioTransport, driverOk, negotiate } from "./virtio-pci";

/** virtio-net queues (virtio 1.2 5.1.2): receiveq1, transmitq1. */
const RX_QUEUE: u32 = 0;
const TX_QUEUE: u32 = 1;
/** Entries per ring the driver uses; a legacy device with a larger fixed size is refused. */
export const NET_RING_MAX: u32 = 256;
/** One buffer per descriptor head: the net header then a frame (1514 + tags fits). */
const SLOT: u64 = 2048;
/** struct virtio_net_hdr (virtio 1.2 5.1.6): 12 bytes with VERSION_1 (num_buffers always there), 10 on legacy without MRG_RXBUF. */
const HDR_MODERN: u32 = 12;
const HDR_LEGACY: u32 = 10;
/** virtio-net config (5.1.4): mac[6], then status (with NET_STATUS); VIRTIO_NET_S_LINK_UP = 1. */
const CONFIG_STATUS: u32 = 6;
const LINK_UP: u32 = 1;
/** Polls between reads of the link status (a config read is a device register access). */
const LINK_CHECK_EVERY: u32 = 64;
/** Polls to wait after a failed restart before trying again. */
const RESTART_BACKOFF: u32 = 1000;
/** Smallest frame the driver accepts from the device: an Ethernet header. */
const MIN_FRAME: u32 = 14;

export const enum NetState {
  /** Not started, or reset after a fault: link reported down. */
  Down = 0,
  Running = 1,
}

/**
 * One virtio-net function. The DMA window holds, in order: the RX ring, the
 * TX ring, NET_RING_MAX RX buffers and NET_RING_MAX TX buffers, each SLOT
 * bytes; `busBase` is the window's bus (physical) address. Nothing is
 * allocated per frame: frames are copied between these buffers and the
 * switch's pool, so the device never holds a pool buffer and never writes
 * outside the window whatever it does.
 */
export class NetUplink {
  state: NetState = NetState.Down;
  /** What the device's link status says (always up without NET_STATUS); false while Down. */
  linkUp: bool = false;
  mac: u64 = 0;
  hasMac: bool = false;
  features: u64 = 0;
  portId: i32 = -1;
  /** Resets after a fault, and why the last one happened. */
  resets: u32 = 0;
  lastFault: string = "";
  /** Frames the device returned that were shorter than a header or longer than a pool buffer. */
  badFrames: u64 = 0;
  /** Frames taken from the device (RX) and given to it (TX) since boot. */
  rxFrames: u64 = 0;
  txFrames: u64 = 0;
  /** Set by the driver for its owner to print once (the `[net]` line); cleared by the owner. */
  message: string = "";

  rxq: DriverQueue;
  txq: DriverQueue;
  private hdrLen: u32 = HDR_MODERN;
  /** Legacy without ANY_LAYOUT: the header in a descriptor of its own (virtio 0.9.5 2.3.4, 1.2 5.1.6.2). */
  private split: bool = false;
  private rxRing: u64 = 0;
  private txRing: u64 = 0;
  private rxBufs: u64 = 0;
  private txBufs: u64 = 0;
  private rxCount: u32 = 0;
  private txCount: u32 = 0;
  private txFree: StaticArray<u32> = new StaticArray<u32>(NET_RING_MAX);
  private nTxFree: u32 = 0;
  private scratch: Chain = new Chain(2);
  private batch: Batch = new Batch();
  private polls: u32 = 0;
  private backoff: u32 = 0;

  constructor(public name: string, public transport: VirtioTransport, public mem: BoundedMemory, public busBase: u64, barrier: Barrier) {
    this.rxq = new DriverQueue(mem, NET_RING_MAX, barrier);
    this.txq = new DriverQueue(mem, NET_RING_MAX, barrier);
    const ring = driverRingBytes(NET_RING_MAX, 4096);
    const ringRounded = (ring + 4095) & ~(<u64>4095); // legacy rings start on a page
    this.rxRing = 0;
    this.txRing = ringRounded;
    this.rxBufs = 2 * ringRounded;
    this.txBufs = this.rxBufs + <u64>NET_RING_MAX * SLOT;
  }

  /** DMA bytes one function needs (what the window must hold). */
  static windowBytes(): u64 {
    const ring = (driverRingBytes(NET_RING_MAX, 4096) + 4095) & ~(<u64>4095);
    return 2 * ring + 2 * <u64>NET_RING_MAX * SLOT;
  }

  /**
   * Device initialization (virtio 1.2 3.1.1, 5.1.5): reset, negotiate MAC,
   * STATUS and EVENT_IDX (plus VERSION_1 on modern), both queues, every RX
   * buffer posted, DRIVER_OK. False (state Down, `message` says why) when the
   * device refuses any step.
   */
  start(): bool {
    this.state = NetState.Down;
    this.linkUp = false;
    const t = this.transport;
    const acc = negotiate(t, Feature.NET_MAC | Feature.NET_STATUS | Feature.EVENT_IDX);
    if (acc < 0) return this.fail("feature negotiation failed");
    this.features = <u64>acc;
    const modern = (this.features & Feature.VERSION_1) != 0;
    this.hdrLen = modern ? HDR_MODERN : HDR_LEGACY;
    this.split = !modern;
    const eventIdx = (this.features & Feature.EVENT_IDX) != 0;
    if (!this.setupQueue(this.rxq, RX_QUEUE, this.rxRing, eventIdx)) return false;
    if (!this.setupQueue(this.txq, TX_QUEUE, this.txRing, eventIdx)) return false;
    const per: u32 = this.split ? 2 : 1;
    this.rxCount = this.rxq.size / per;
    this.txCount = this.txq.size / per;
    if ((this.features & Feature.NET_MAC) != 0) {
      let m: u64 = 0;
      for (let i: u32 = 0; i < 6; i++) m = (m << 8) | <u64>(t.config8(i) & 0xFF);
      this.mac = m;
      this.hasMac = true;
    }
    // TX headers stay zero (no offloads negotiated: flags 0, gso_type NONE): clear them once
    for (let s: u32 = 0; s < this.txCount; s++) {
      const at = this.txBufs + <u64>s * SLOT;
      this.mem.store64(at, 0);
      this.mem.store32(at + 8, 0);
    }
    this.nTxFree = 0;
    for (let s: u32 = 0; s < this.txCount; s++) unchecked((this.txFree[this.nTxFree++] = this.txCount - 1 - s));
    for (let s: u32 = 0; s < this.rxCount; s++) this.postRx(s);
    this.rxq.disableInterrupts();
    this.txq.disableInterrupts();
    this.rxq.publish();
    driverOk(t);
    if ((t.status() & (Status.NeedsReset | Status.Failed)) != 0) return this.fail("device refused DRIVER_OK (status 0x" + hex(<u64>t.status(), 2) + ")");
    t.notify(RX_QUEUE); // the device may have looked at the RX ring before DRIVER_OK
    this.state = NetState.Running;
    this.readLink();
    return true;
  }

  private setupQueue(q: DriverQueue, index: u32, at: u64, eventIdx: bool): bool {
    const t = this.transport;
    const max = t.queueMax(index);
    if (max == 0) return this.fail("queue " + index.toString() + " missing");
    let size = max;
    if (size > NET_RING_MAX) {
      if (!t.canResizeQueues()) return this.fail("queue " + index.toString() + " size " + max.toString() + " over " + NET_RING_MAX.toString());
      size = NET_RING_MAX;
    }
    const f = q.layout(at, size, t.usedAlign(), this.busBase, eventIdx);
    if (f != FAULT_NONE) return this.fail("queue " + index.toString() + ": " + faultName(f));
    if (!t.setQueue(index, size, q.descBus(), q.availBus(), q.usedBus())) return this.fail("queue " + index.toString() + " refused");
    return true;
  }

  private fail(why: string): bool {
    this.transport.setStatus(Status.Failed);
    this.state = NetState.Down;
    this.linkUp = false;
    this.message = why;
    return false;
  }

  private postRx(slot: u32): void {
    const at = this.rxBufs + <u64>slot * SLOT;
    const c = this.scratch;
    c.clear();
    if (this.split) {
      c.add(at, this.hdrLen, true);
      c.add(at + <u64>this.hdrLen, <u32>SLOT - this.hdrLen, true);
    } else c.add(at, <u32>SLOT, true);
    this.rxq.add(c, slot);
  }

  private readLink(): void {
    if (this.state != NetState.Running) {
      this.linkUp = false;
      return;
    }
    if ((this.features & Feature.NET_STATUS) == 0) this.linkUp = true;
    else this.linkUp = (this.transport.config16(CONFIG_STATUS) & LINK_UP) != 0;
  }

  /** After a failed start at boot: try again every RESTART_BACKOFF polls, as after a fault. */
  retryLater(): void {
    if (this.state != NetState.Running) this.backoff = RESTART_BACKOFF;
  }

  /**
   * Takes the device down after it broke a ring or asked for a reset: one
   * `message` for the owner's `[net]` line, link down, a restart at once and
   * then every RESTART_BACKOFF polls until one works.
   */
  private fault(why: string): void {
    this.resets++;
    this.lastFault = why;
    this.state = NetState.Down;
    this.linkUp = false;
    this.transport.reset();
    if (this.start()) this.message = why + ": device reset, link " + (this.linkUp ? "up" : "down");
    else {
      this.message = why + ": device reset, restart failed (" + this.message + "); link down";
      this.backoff = RESTART_BACKOFF;
    }
  }

  /**
   * Moves up to `budget` frames each way: RX to the switch in batches of
   * MAX_BATCH, then as many frames as there are free TX buffers from the
   * switch to the device. Returns the frames moved. Bounded: at most
   * 2 * budget frames and a few register accesses.
   */
  poll(sw: Switch, now: i64, budget: i32): i32 {
    if (this.state != NetState.Running) {
      if (this.backoff > 0 && --this.backoff == 0) {
        this.transport.reset();
        if (!this.start()) this.backoff = RESTART_BACKOFF;
        else this.message = "device restarted, link " + (this.linkUp ? "up" : "down");
      }
      return 0;
    }
    if (++this.polls >= LINK_CHECK_EVERY) {
      this.polls = 0;
      if ((this.transport.status() & Status.NeedsReset) != 0) {
        this.fault("device needs reset (virtio 1.2 2.1.2)");
        return 0;
      }
      this.readLink();
    }
    const moved = this.receive(sw, now, budget);
    if (this.state != NetState.Running) return moved;
    return moved + this.send(sw, now, budget);
  }

  private receive(sw: Switch, now: i64, budget: i32): i32 {
    const q = this.rxq;
    const b = this.batch;
    b.count = 0;
    let n = 0;
    let reposted = false;
    while (n < budget && q.reap()) {
      const slot = q.token;
      const len = q.len;
      n++;
      if (len < this.hdrLen + MIN_FRAME || len - this.hdrLen > <u32>BUF_DATA) {
        this.badFrames++;
        this.countRxDrop(sw, len, DROP_MALFORMED);
      } else {
        const h = sw.pool.alloc();
        if (h < 0) this.countRxDrop(sw, len - this.hdrLen, DROP_NO_BUFFER);
        else {
          const frameLen = len - this.hdrLen;
          this.mem.readTo(sw.pool.data(h), this.rxBufs + <u64>slot * SLOT + <u64>this.hdrLen, frameLen);
          sw.pool.setLen(h, <i32>frameLen);
          b.push(h);
          if (b.count == MAX_BATCH) sw.rx(this.portId, b, now);
        }
      }
      this.postRx(slot);
      reposted = true;
    }
    if (b.count > 0) sw.rx(this.portId, b, now);
    this.rxFrames += <u64>n;
    if (q.fault != FAULT_NONE) {
      this.fault("RX ring: " + faultName(q.fault));
      return n;
    }
    if (reposted && q.publish()) this.transport.notify(RX_QUEUE);
    return n;
  }

  /** A frame from the device the switch never sees: counted on the port as received and dropped. */
  private countRxDrop(sw: Switch, len: u32, reason: i32): void {
    const p = sw.port(this.portId);
    if (p == null) return;
    unchecked(p.stats[RX_PACKETS]++);
    unchecked((p.stats[RX_BYTES] += <i64>len));
    p.drop(reason);
  }

  private send(sw: Switch, now: i64, budget: i32): i32 {
    const q = this.txq;
    while (q.reap()) {
      // the token is one this driver posted (DriverQueue checks the id against its own records)
      unchecked((this.txFree[this.nTxFree++] = q.token));
    }
    if (q.fault != FAULT_NONE) {
      this.fault("TX ring: " + faultName(q.fault));
      return 0;
    }
    const b = this.batch;
    let sent = 0;
    while (sent < budget && this.nTxFree > 0) {
      let want = <i32>this.nTxFree;
      if (want > budget - sent) want = budget - sent;
      b.count = 0;
      if (want >= MAX_BATCH) sw.tx(this.portId, b, now);
      else {
        while (b.count < want) {
          const h = sw.txPop(this.portId, now);
          if (h < 0) break;
          b.push(h);
        }
      }
      const k = b.count;
      if (k == 0) break;
      for (let i = 0; i < k; i++) {
        const h = unchecked(b.handles[i]);
        const slot = unchecked(this.txFree[--this.nTxFree]);
        const at = this.txBufs + <u64>slot * SLOT;
        const len = <u32>sw.pool.len(h);
        if (len == 0) {
          sw.pool.free(h);
          unchecked((this.txFree[this.nTxFree++] = slot));
          continue;
        }
        this.mem.writeFrom(at + <u64>this.hdrLen, sw.pool.data(h), len);
        sw.pool.free(h);
        const c = this.scratch;
        c.clear();
        if (this.split) {
          c.add(at, this.hdrLen, false);
          c.add(at + <u64>this.hdrLen, len, false);
        } else c.add(at, this.hdrLen + len, false);
        if (q.add(c, slot) < 0) unchecked((this.txFree[this.nTxFree++] = slot)); // only after a fault, seen below
      }
      b.count = 0;
      sent += k;
      if (k < (want < MAX_BATCH ? want : MAX_BATCH)) break; // the switch has no more for this port
    }
    this.txFrames += <u64>sent;
    if (sent > 0 && q.publish()) this.transport.notify(TX_QUEUE);
    return sent;
  }
}
