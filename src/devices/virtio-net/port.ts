// A virtio-net device bound to its switch port: one bounded turn of the data path, as the main loop runs it.

import { Batch, Switch, MAX_BATCH } from "../../vswitch/index";
import { VirtioNet } from "./net";

/**
 * The main loop keeps a NIC in its ready set while `service` returns true, and adds it again on a kick
 * (`net.kicked`) or when the switch queues frames for its port. Work per turn is bounded by `maxBatches`
 * batches of 32 frames in each direction, so one busy guest cannot hold the loop.
 */
export class NetPort {
  private batch: Batch = new Batch();
  /** Turns that ended with work left (the bound was hit, or chains arrived while finishing). */
  busyTurns: u64 = 0;
  /** Calls of `service`. */
  turns: u64 = 0;
  /** Frames that crossed the NIC in the last `service` (guest TX taken, frames handed to guest RX). */
  moved: u64 = 0;

  constructor(readonly net: VirtioNet, readonly sw: Switch, readonly portId: i32) {}

  /** Guest TX -> switch, then switch -> guest RX. True when work remains: call again next turn. */
  service(now: i64, maxBatches: i32): bool {
    const net = this.net;
    const sw = this.sw;
    const b = this.batch;
    this.turns++;
    net.kicked = 0;
    net.pollTx(); // no kicks while the monitor is polling this queue (EVENT_IDX: avail_event left behind)
    let more = false;
    let moved: u64 = 0;
    let i = 0;
    for (; i < maxBatches; i++) {
      const n = net.transmit(sw.pool, b);
      moved += <u64>n;
      if (b.count > 0) sw.rx(this.portId, b, now);
      if (n < MAX_BATCH) break;
    }
    // Bound hit: kicks stay suppressed and the NIC stays ready. Otherwise ask for kicks again and re-check.
    if (i == maxBatches || net.idleTx()) more = true;
    for (let j = 0; j < maxBatches; j++) {
      const n = sw.tx(this.portId, b, now);
      if (n == 0) break;
      moved += <u64>n; // delivered or dropped for want of a buffer: the copy or the drop was work
      net.receive(sw.pool, b, sw.port(this.portId));
    }
    this.moved = moved;
    if (sw.queued(this.portId) > 0) more = true;
    if (more) this.busyTurns++;
    return more;
  }
}
