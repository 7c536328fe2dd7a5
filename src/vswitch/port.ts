// A switch port at run time: its settings, counters, egress priority queues and token buckets.

import { PortConfig, VLAN_TRUNK, TPID_8021AD } from "./config";
import { TokenBucket, kbpsToBytesPerSecond } from "./bucket";
import { ReadySet } from "./ready";

// Counter indexes (Port.stats, Switch.stat).
export const RX_PACKETS: i32 = 0;
export const RX_BYTES: i32 = 1;
export const RX_DROPPED: i32 = 2;
export const TX_PACKETS: i32 = 3;
export const TX_BYTES: i32 = 4;
export const TX_DROPPED: i32 = 5;
/** Drops by reason: DROP_BASE + DROP_*. rx reasons add to rx_dropped, tx reasons (shaper, no buffer on egress) to tx_dropped. */
export const DROP_BASE: i32 = 6;
export const DROP_VLAN: i32 = 0;
export const DROP_POLICER: i32 = 1;
export const DROP_SHAPER: i32 = 2;
export const DROP_SECURITY: i32 = 3;
export const DROP_STORM: i32 = 4;
export const DROP_NO_BUFFER: i32 = 5;
export const DROP_MALFORMED: i32 = 6;
export const DROP_MIRROR_DST: i32 = 7;
export const DROP_FILTERED: i32 = 8;
export const DROP_REASONS: i32 = 9;
export const STAT_COUNT: i32 = DROP_BASE + DROP_REASONS;

export function dropReasonName(r: i32): string {
  switch (r) {
    case DROP_VLAN: return "vlan";
    case DROP_POLICER: return "policer";
    case DROP_SHAPER: return "shaper";
    case DROP_SECURITY: return "security";
    case DROP_STORM: return "storm";
    case DROP_NO_BUFFER: return "no_buffer";
    case DROP_MALFORMED: return "malformed";
    case DROP_MIRROR_DST: return "mirror_dst";
    default: return "filtered";
  }
}

/** Egress queue depth per priority (a power of two). */
export const QUEUE_DEPTH: i32 = 64;
export const PRIORITIES: i32 = 8;

export const DEFAULT_MTU: i32 = 1500;
export const MAX_MTU: i32 = 1990;

export class Port {
  cfg: PortConfig;
  /** Counters, indexed by RX_PACKETS.. and DROP_BASE + reason. */
  stats: StaticArray<i64> = new StaticArray<i64>(STAT_COUNT);
  mtu: i32 = DEFAULT_MTU;
  mirrorDst: bool = false;
  /** Link state its driver reports (an uplink NIC's STATUS, a VM NIC); shown by port.get for vm and uplink ports only. */
  linkUp: bool = true;
  /** Bit i: mirror i (in name order) selects this port's rx / tx. */
  mirrorRx: u32 = 0;
  mirrorTx: u32 = 0;
  // Fast-path copies of the settings.
  trunk: bool = false;
  accessVlan: i32 = 1;
  ad: bool = false;
  tpid: i32 = 0x8100;
  ingress: TokenBucket | null = null;
  egress: TokenBucket | null = null;
  stormB: TokenBucket | null = null;
  stormM: TokenBucket | null = null;
  stormU: TokenBucket | null = null;
  stormOn: bool = false;
  maxMacs: i32 = 0;
  allowList: bool = false;
  /** Any of security, storm control, policer configured: the ingress fast path skips them all when false. */
  checks: bool = false;
  // Egress queues: ring per priority of pool handles.
  q: StaticArray<i32> = new StaticArray<i32>(PRIORITIES * QUEUE_DEPTH);
  qHead: StaticArray<i32> = new StaticArray<i32>(PRIORITIES);
  qLen: StaticArray<i32> = new StaticArray<i32>(PRIORITIES);
  /** Bit p set while queue p is non-empty. */
  nonEmpty: u32 = 0;
  /** Marked when a frame is queued while every queue was empty (the switch's ready set; null: nobody listens). */
  ready: ReadySet | null = null;

  constructor(public id: i32, public name: string, public kind: i32, public mac: i64) {
    this.cfg = new PortConfig(name);
    this.derive(true);
  }

  /** Recomputes the fast-path fields from cfg; buckets restart full when their settings changed (or `fresh`). */
  derive(freshQos: bool): void {
    const v = this.cfg.vlan;
    this.trunk = v.mode == VLAN_TRUNK;
    this.accessVlan = v.vlan;
    this.ad = v.tpid == TPID_8021AD;
    this.tpid = v.tpid;
    if (freshQos) {
      const q = this.cfg.qos;
      const i = q.ingress;
      const e = q.egress;
      this.ingress = i == null ? null : new TokenBucket(kbpsToBytesPerSecond(i.rateKbps), i.burstBytes);
      this.egress = e == null ? null : new TokenBucket(kbpsToBytesPerSecond(e.rateKbps), e.burstBytes);
      // Storm control: a one-second burst of the packet rate.
      this.stormB = q.stormBroadcastPps == 0 ? null : new TokenBucket(q.stormBroadcastPps, q.stormBroadcastPps);
      this.stormM = q.stormMulticastPps == 0 ? null : new TokenBucket(q.stormMulticastPps, q.stormMulticastPps);
      this.stormU = q.stormUnknownUnicastPps == 0 ? null : new TokenBucket(q.stormUnknownUnicastPps, q.stormUnknownUnicastPps);
      this.stormOn = this.stormB != null || this.stormM != null || this.stormU != null;
    }
    this.maxMacs = this.cfg.security.maxMacs;
    this.allowList = this.cfg.security.allowedMacs.length > 0;
    this.checks = this.allowList || this.maxMacs > 0 || this.stormOn || this.ingress != null;
  }

  @inline member(v: i32): bool {
    return this.trunk ? this.cfg.vlan.allowed.has(v) : v == this.accessVlan;
  }
  @inline taggedOut(v: i32): bool {
    return this.trunk && !(v == this.cfg.vlan.native && !this.cfg.vlan.nativeTagged);
  }

  /** Queues handle h at priority pcp; false when that queue is full. */
  @inline enqueue(h: i32, pcp: i32): bool {
    const n = unchecked(this.qLen[pcp]);
    if (n >= QUEUE_DEPTH) return false;
    unchecked((this.q[pcp * QUEUE_DEPTH + ((this.qHead[pcp] + n) & (QUEUE_DEPTH - 1))] = h));
    unchecked((this.qLen[pcp] = n + 1));
    this.nonEmpty |= (<u32>1) << pcp;
    // This queue was empty: tell the ready set (it lists a port once until taken). Testing the queue's own
    // length, already loaded, keeps the per-frame cost to a compare; the mark runs once per batch or less.
    if (n == 0) {
      const r = this.ready;
      if (r != null) r.mark(this.id);
    }
    return true;
  }
  /** Frames waiting in all priority queues (summed: the per-frame path keeps no total). */
  get queued(): i32 {
    let n = 0;
    for (let p = 0; p < PRIORITIES; p++) n += unchecked(this.qLen[p]);
    return n;
  }
  /** Highest non-empty priority, or -1. */
  @inline topPriority(): i32 {
    return 31 - <i32>clz(this.nonEmpty); // -1 when empty
  }
  @inline head(pcp: i32): i32 {
    return unchecked(this.q[pcp * QUEUE_DEPTH + this.qHead[pcp]]);
  }
  @inline dequeue(pcp: i32): i32 {
    const h = unchecked(this.q[pcp * QUEUE_DEPTH + this.qHead[pcp]]);
    unchecked((this.qHead[pcp] = (this.qHead[pcp] + 1) & (QUEUE_DEPTH - 1)));
    const n = unchecked(this.qLen[pcp]) - 1;
    unchecked((this.qLen[pcp] = n));
    if (n == 0) this.nonEmpty &= ~((<u32>1) << pcp);
    return h;
  }
  /** Moves up to max handles of queue pcp, oldest first, to out[at..]; returns how many. */
  @inline popRun(pcp: i32, max: i32, out: StaticArray<i32>, at: i32): i32 {
    const len = unchecked(this.qLen[pcp]);
    const n = len < max ? len : max;
    const ring = pcp * QUEUE_DEPTH;
    let head = unchecked(this.qHead[pcp]);
    for (let k = 0; k < n; k++) {
      unchecked((out[at + k] = this.q[ring + head]));
      head = (head + 1) & (QUEUE_DEPTH - 1);
    }
    unchecked((this.qHead[pcp] = head));
    unchecked((this.qLen[pcp] = len - n));
    if (len == n) this.nonEmpty &= ~((<u32>1) << pcp);
    return n;
  }
  drop(reason: i32): void {
    unchecked(this.stats[RX_DROPPED]++);
    unchecked(this.stats[DROP_BASE + reason]++);
  }
  txDrop(reason: i32): void {
    unchecked(this.stats[TX_DROPPED]++);
    unchecked(this.stats[DROP_BASE + reason]++);
  }
}
