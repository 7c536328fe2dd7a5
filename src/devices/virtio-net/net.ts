// The virtio-net device model (virtio 1.2 5.1), transport-independent: one RX and one TX queue between a guest and a switch port.

import { BoundedMemory } from "../../lib/bounded-memory";
import {
  Barrier, Chain, VirtioDevice, gather, scatter, featureBit,
  VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, FAULT_NONE, STATUS_DRIVER_OK,
} from "../../virtio/index";
import { Batch, PacketPool, Port, BUF_DATA, MAX_BATCH, TX_PACKETS, TX_BYTES, DROP_NO_BUFFER } from "../../vswitch/index";

/** virtio 1.2 5.1.1: the network card's device ID. */
export const VIRTIO_ID_NET: u32 = 1;
/** PCI class of a virtio-net function: network controller, Ethernet (PCI code and ID assignment 1.x, class 02h). */
export const NET_PCI_CLASS: u32 = 0x020000;
// virtio 1.2 5.1.3 feature bits.
export const VIRTIO_NET_F_MTU: u32 = 3;
export const VIRTIO_NET_F_MAC: u32 = 5;
export const VIRTIO_NET_F_MRG_RXBUF: u32 = 15;
export const VIRTIO_NET_F_STATUS: u32 = 16;
/** virtio 1.2 5.1.4: status bit in the configuration space. */
export const VIRTIO_NET_S_LINK_UP: u32 = 1;
/** virtio 1.2 5.1.2: queue 0 receiveq1, queue 1 transmitq1. */
export const RXQ: u32 = 0;
export const TXQ: u32 = 1;
/** struct virtio_net_hdr with VIRTIO_F_VERSION_1 (num_buffers always present): 12 bytes (virtio 1.2 5.1.6). */
export const NET_HDR_LEN: u32 = 12;
const NUM_BUFFERS_OFF: i32 = 10;
/** Smallest frame taken from a guest: an Ethernet header. */
const MIN_FRAME: u32 = 14;
/** Segments per chain: Linux's TX chains are at most MAX_SKB_FRAGS + 2 (19) long; RX chains 1-2. */
export const NET_MAX_SEGS: i32 = 64;
/** Entries per queue the device offers (queue_size maximum). */
export const NET_QUEUE_MAX: u32 = 256;

/** What the device offers: VERSION_1 (added by VirtioDevice), MAC, STATUS, EVENT_IDX, INDIRECT_DESC. */
export const NET_FEATURES: u64 = featureBit(VIRTIO_NET_F_MAC) | featureBit(VIRTIO_NET_F_STATUS) |
  featureBit(VIRTIO_F_EVENT_IDX) | featureBit(VIRTIO_F_INDIRECT_DESC);

/**
 * Counters are named from the guest's side, as its eth0 shows them: rx = frames the device put in the
 * guest's RX buffers, tx = frames it took from the guest's TX queue.
 */
export class NetCounters {
  rxPackets: u64 = 0;
  rxBytes: u64 = 0;
  /** Frames for the guest dropped because its RX ring had no buffer (the port's tx_dropped, reason no_buffer). */
  rxNoBuffer: u64 = 0;
  /** Frames for the guest dropped because its RX buffer was smaller than header + frame. */
  rxTooSmall: u64 = 0;
  txPackets: u64 = 0;
  txBytes: u64 = 0;
  /** TX chains completed without a frame: shorter than header + 14 bytes or longer than a pool buffer. */
  txMalformed: u64 = 0;
  /** Interrupts sent per queue (after coalescing and suppression). */
  rxInterrupts: u64 = 0;
  txInterrupts: u64 = 0;
}

export class VirtioNet extends VirtioDevice {
  mac: u64;
  linkUp: bool = true;
  readonly counters: NetCounters = new NetCounters();
  private chain: Chain = new Chain(NET_MAX_SEGS);
  /** The 12-byte header written before every received frame: no offloads, num_buffers 1. */
  private rxHdr: StaticArray<u8> = new StaticArray<u8>(NET_HDR_LEN);

  constructor(vmName: string, mem: BoundedMemory, mac: u64, barrier: Barrier | null = null) {
    super(VIRTIO_ID_NET, "net", vmName, mem, 2, NET_QUEUE_MAX, NET_FEATURES, barrier);
    this.mac = mac;
    store<u16>(changetype<usize>(this.rxHdr) + NUM_BUFFERS_OFF, 1);
  }

  queueName(q: u32): string {
    return q == RXQ ? "rx" : q == TXQ ? "tx" : "q" + q.toString();
  }

  /** mac, status, max_virtqueue_pairs, mtu (reads 0: VIRTIO_NET_F_MTU not offered). */
  configSize(): u32 {
    return 12;
  }

  /** virtio 1.2 5.1.4: mac[6], status le16, max_virtqueue_pairs le16 (1; read only with MQ, harmless otherwise). */
  readConfig(offset: u32, size: u32): u32 {
    let v: u32 = 0;
    for (let i: u32 = 0; i < size && i < 4; i++) v |= this.configByte(offset + i) << (8 * i);
    return v;
  }
  private configByte(o: u32): u32 {
    if (o < 6) return <u32>((this.mac >> (8 * (5 - <u64>o))) & 0xff);
    if (o == 6) return this.linkUp ? VIRTIO_NET_S_LINK_UP : 0;
    if (o == 8) return 1;
    return 0;
  }
  /** The configuration space is read-only for a modern driver without VIRTIO_NET_F_CTRL_MAC_ADDR (virtio 1.2 5.1.4.2). */
  writeConfig(offset: u32, size: u32, v: u32): void {}

  /**
   * RX kicks are never needed: a frame that finds no guest buffer is dropped, not held, so the device
   * does not wait for refills. Without EVENT_IDX the flag says so for good (virtio 1.2 2.7.10); with it
   * avail_event stays 0, which a driver crosses once per 65,536 buffers.
   */
  onQueueEnabled(q: u32): void {
    if (q == RXQ) unchecked(this.queues[RXQ]).disableNotify();
  }

  /** Link state (VIRTIO_NET_F_STATUS): a configuration change the driver is told about (virtio 1.2 5.1.4.2). */
  setLink(up: bool): void {
    if (this.linkUp == up) return;
    this.linkUp = up;
    this.configGeneration = (this.configGeneration + 1) & 0xff;
    const n = this.notify;
    if (n != null && (this.status & STATUS_DRIVER_OK) != 0) n.config();
  }

  /**
   * Takes up to a batch of frames from the guest's TX queue into pool buffers (`batch`, emptied first),
   * completes their chains with one used idx store, and sends at most one TX interrupt. Stops early when
   * the pool is empty: the chains stay in the guest's ring until the next call. Returns the frames taken.
   */
  transmit(pool: PacketPool, batch: Batch): i32 {
    batch.count = 0;
    if (!this.live()) return 0;
    const q = unchecked(this.queues[TXQ]);
    const c = this.chain;
    let bytes: u64 = 0;
    let completed = 0;
    while (batch.count < MAX_BATCH && pool.available() > 0) {
      if (!q.pop(c)) {
        this.checkQueue(TXQ);
        break;
      }
      completed++;
      const total = c.readBytes;
      if (total < <u64>(NET_HDR_LEN + MIN_FRAME) || total - NET_HDR_LEN > <u64>BUF_DATA) {
        this.counters.txMalformed++;
        q.push(c.head, 0);
        continue;
      }
      const len = <u32>(total - NET_HDR_LEN);
      const h = pool.alloc();
      // The header carries no request we honour (no offloads offered): skipped.
      gather(this.mem, c, NET_HDR_LEN, pool.data(h), len);
      pool.setLen(h, <i32>len);
      batch.push(h);
      bytes += len;
      q.push(c.head, 0); // virtio 1.2 2.7.8: len is what the device wrote; TX buffers are read-only
    }
    if (completed == 0) return 0;
    this.counters.txPackets += <u64>batch.count;
    this.counters.txBytes += bytes;
    q.publishUsed();
    if (q.fault == FAULT_NONE && q.needsInterrupt()) {
      this.counters.txInterrupts++;
      this.interruptQueue(TXQ);
    }
    return batch.count;
  }

  /**
   * Copies every frame of `batch` (pool handles leaving the switch port) into the guest's RX buffers and
   * frees the handles; one used idx store and at most one RX interrupt for the batch. A frame with no
   * guest buffer is dropped and counted (rxNoBuffer, and `port`'s tx_dropped with reason no_buffer:
   * the switch had counted it sent). Never waits. Returns the frames delivered.
   */
  receive(pool: PacketPool, batch: Batch, port: Port | null): i32 {
    const n = batch.count;
    batch.count = 0;
    const q = unchecked(this.queues[RXQ]);
    const c = this.chain;
    const live = this.live();
    let delivered = 0;
    let bytes: u64 = 0;
    let dropped = 0;
    let droppedBytes: i64 = 0;
    for (let i = 0; i < n; i++) {
      const h = unchecked(batch.handles[i]);
      const len = <u32>pool.len(h);
      if (!live || !q.pop(c)) {
        if (live) this.checkQueue(RXQ);
        this.counters.rxNoBuffer++;
        dropped++;
        droppedBytes += len;
        pool.free(h);
        continue;
      }
      const need = <u64>(NET_HDR_LEN + len);
      if (c.writeBytes < need) {
        this.counters.rxTooSmall++;
        dropped++;
        droppedBytes += len;
        q.push(c.head, 0);
        pool.free(h);
        continue;
      }
      scatter(this.mem, c, 0, changetype<usize>(this.rxHdr), NET_HDR_LEN);
      scatter(this.mem, c, NET_HDR_LEN, pool.data(h), len);
      q.push(c.head, <u32>need);
      pool.free(h);
      delivered++;
      bytes += len;
    }
    if (port != null && dropped > 0) {
      for (let i = 0; i < dropped; i++) port.txDrop(DROP_NO_BUFFER);
      unchecked((port.stats[TX_PACKETS] -= dropped));
      unchecked((port.stats[TX_BYTES] -= droppedBytes));
    }
    this.counters.rxPackets += <u64>delivered;
    this.counters.rxBytes += bytes;
    if (live && q.fault == FAULT_NONE) {
      q.publishUsed();
      if (q.needsInterrupt()) {
        this.counters.rxInterrupts++;
        this.interruptQueue(RXQ);
      }
    }
    return delivered;
  }

  /** TX chains waiting (the port has work even without a kick); 0 when not live or broken. */
  txPending(): u32 {
    if (!this.live()) return 0;
    const p = unchecked(this.queues[TXQ]).pending();
    this.checkQueue(TXQ);
    return p;
  }

  /** While the monitor polls: ask the guest not to kick (EVENT_IDX: avail_event left behind; else the flag). */
  pollTx(): void {
    if (this.live()) unchecked(this.queues[TXQ]).disableNotify();
  }
  /** Done polling: ask for kicks again; true when chains arrived meanwhile (poll once more). */
  idleTx(): bool {
    if (!this.live()) return false;
    const more = unchecked(this.queues[TXQ]).enableNotify();
    this.checkQueue(TXQ);
    return more;
  }
}
