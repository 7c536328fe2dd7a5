// The VM NICs' methods of docs/PROTOCOL.md (net.stats, net.stats_reset): the virtio-net devices' counters and the data path's cost.

import { DP_BUCKETS, NicLoop, dpLow } from "../devices/virtio-net/index";
import { Call } from "./call";
import { MethodSet } from "./server";

/**
 * net.stats (an addition to protocol version 1): each VM NIC's device counters and the data path's cost
 * (the NIC loop's DatapathStats: cycles are TSC ticks, `tsc_khz` converts them). net.stats_reset clears the
 * cost figures. Every other method goes to `inner` (the switch's set), so the monitor chains the two; the
 * hosted runner has no NICs and no NetMethods, where net.stats is -32601.
 */
export class NetMethods extends MethodSet {
  constructor(readonly inner: MethodSet, readonly nl: NicLoop, readonly tscKhz: i64) {
    super();
  }

  handle(call: Call): bool {
    if (call.method == "net.stats") {
      this.stats(call);
      return true;
    }
    if (call.method == "net.stats_reset") {
      const p = call.paramsObj();
      if (p === null || !call.onlyMembers(p, [], "")) return true;
      this.nl.stats.reset();
      call.w.beginObj();
      call.w.endObj();
      return true;
    }
    return this.inner.handle(call);
  }

  private stats(call: Call): void {
    const p = call.paramsObj();
    if (p === null || !call.onlyMembers(p, [], "")) return;
    const w = call.w;
    w.beginObj();
    w.key("tsc_khz").int(this.tscKhz);
    w.key("nics").beginArr();
    const all = this.nl.all;
    for (let i = 0; i < all.length; i++) {
      const np = all[i];
      const c = np.net.counters;
      w.beginObj();
      w.key("port").str(np.sw.port(np.portId) != null ? np.sw.port(np.portId)!.name : "");
      w.key("rx_packets").int(<i64>c.rxPackets);
      w.key("rx_no_buffer").int(<i64>c.rxNoBuffer);
      w.key("rx_too_small").int(<i64>c.rxTooSmall);
      w.key("tx_packets").int(<i64>c.txPackets);
      w.key("tx_malformed").int(<i64>c.txMalformed);
      w.key("rx_interrupts").int(<i64>c.rxInterrupts);
      w.key("tx_interrupts").int(<i64>c.txInterrupts);
      w.key("busy_turns").int(<i64>np.busyTurns);
      w.key("faults").int(<i64>np.net.faultCount);
      w.endObj();
    }
    w.endArr();
    const d = this.nl.stats;
    w.key("datapath").beginObj();
    w.key("turns").int(<i64>d.turns);
    w.key("frames").int(<i64>d.frames);
    w.key("cycles").int(<i64>d.cycles);
    w.key("idle_turns").int(<i64>d.idleTurns);
    w.key("idle_cycles").int(<i64>d.idleCycles);
    // [low, frames] for each non-empty bucket of cycles per frame, lowest first
    w.key("cycles_per_frame").beginArr();
    for (let b = 0; b < DP_BUCKETS; b++) {
      const n = unchecked(d.hist[b]);
      if (n == 0) continue;
      w.beginArr();
      w.int(<i64>dpLow(b));
      w.int(<i64>n);
      w.endArr();
    }
    w.endArr();
    w.endObj();
    w.endObj();
  }
}
