// The VM NICs' share of the main loop: a bounded turn for each NIC with work, and none for the others.

import { Switch } from "../../vswitch/index";
import { NetPort } from "./port";
import { DatapathStats } from "./datapath";

/** A tick counter for the data-path cost (the monitor passes the TSC; tests pass their own). */
export abstract class Ticks {
  abstract now(): u64;
}

/**
 * Only NICs with work are serviced: those whose last turn ended with work left (`NetPort.service` returned
 * true), those whose TX queue was kicked since (`net.kicked`), and those whose switch port the switch marked
 * ready (a frame queued on an empty egress queue, src/vswitch/ready.ts). A NIC whose turn ends idle has asked
 * for kicks again and has nothing queued, so new work brings it back by a kick or by a ready mark.
 * Nothing is allocated per turn.
 */
export class NicLoop {
  /** By switch port id: the VM NIC bound to it, or null. */
  readonly byPort: StaticArray<NetPort | null>;
  readonly all: Array<NetPort> = new Array<NetPort>();
  /** Port ids to service, and whether each is listed. */
  private active: StaticArray<i32>;
  private listed: StaticArray<u8>;
  private nActive: i32 = 0;
  private taken: StaticArray<i32>;
  /** The turn each port id was last serviced in: a NIC is serviced at most once per turn. */
  private stamp: StaticArray<u32>;
  private turnNo: u32 = 0;

  constructor(maxPorts: i32, readonly ticks: Ticks, readonly stats: DatapathStats, readonly batches: i32 = 2) {
    this.byPort = new StaticArray<NetPort | null>(maxPorts);
    this.active = new StaticArray<i32>(maxPorts);
    this.listed = new StaticArray<u8>(maxPorts);
    this.taken = new StaticArray<i32>(maxPorts);
    this.stamp = new StaticArray<u32>(maxPorts);
  }

  /** Binds a NIC (at setup). */
  add(np: NetPort): void {
    this.byPort[np.portId] = np;
    this.all.push(np);
  }

  private list(id: i32): void {
    if (id < 0 || id >= this.listed.length || unchecked(this.byPort[id]) == null || unchecked(this.listed[id]) != 0) return;
    unchecked((this.listed[id] = 1));
    unchecked((this.active[this.nActive++] = id));
  }

  /**
   * One turn: collect kicks and the switch's ready ports, then service each listed NIC once. Ports that a
   * NIC's frames make ready are listed at once and serviced later in the same turn, so a receiver drains its
   * egress queue (64 frames per priority) before the sender's next batches arrive. Returns the NICs serviced.
   */
  turn(sw: Switch, now: i64): i32 {
    const turnNo = ++this.turnNo;
    for (let i = 0, n = this.all.length; i < n; i++) {
      const np = unchecked(this.all[i]);
      if (np.net.kicked != 0) this.list(np.portId);
    }
    this.takeReady(sw);
    // In listed order (the list grows while it is walked); NICs with work left stay, compacted in place
    // (keep <= i < nActive), the others leave the list.
    let keep = 0;
    let serviced = 0;
    for (let i = 0; i < this.nActive; i++) {
      const id = unchecked(this.active[i]);
      if (unchecked(this.stamp[id]) == turnNo) {
        unchecked((this.active[keep++] = id)); // made ready again after its turn: next turn
        continue;
      }
      unchecked((this.stamp[id] = turnNo));
      const np = unchecked(this.byPort[id])!;
      const t = this.ticks.now();
      const more = np.service(now, this.batches);
      this.stats.record(this.ticks.now() - t, np.moved);
      serviced++;
      if (more) unchecked((this.active[keep++] = id));
      else unchecked((this.listed[id] = 0));
      this.takeReady(sw);
    }
    this.nActive = keep;
    return serviced;
  }

  private takeReady(sw: Switch): void {
    const k = sw.ready.take(this.taken);
    for (let i = 0; i < k; i++) this.list(unchecked(this.taken[i]));
  }
}
