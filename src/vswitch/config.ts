// The switch configuration model: port VLAN/QoS/security settings, mirrors, FDB settings, with validation.

import { formatMac, isGroupMac } from "./mac";
// Names of ports and mirrors follow the MGMT-API name rule.
import { isValidName } from "../lib/parse";
export { isValidName };

/** Error codes, as MGMT-API.md. */
export const ERR_INVALID_PARAMS: i32 = -32602;
export const ERR_NOT_FOUND: i32 = 1;
export const ERR_CONFLICT: i32 = 2;
export const ERR_BUSY: i32 = 3;
export const ERR_RESOURCE_LIMIT: i32 = 4;

/** A failed validation or operation: the code, the offending field and why. Nothing was changed. */
export class ConfigError {
  constructor(public code: i32, public field: string, public reason: string) {}
  toString(): string {
    return this.code.toString() + " " + this.field + ": " + this.reason;
  }
}

export function invalid(field: string, reason: string): ConfigError {
  return new ConfigError(ERR_INVALID_PARAMS, field, reason);
}

export const KIND_VM: i32 = 0;
export const KIND_UPLINK: i32 = 1;
export const KIND_INTERNAL: i32 = 2;
export const KIND_TEST: i32 = 3;

export function portKindName(kind: i32): string {
  if (kind == KIND_VM) return "vm";
  if (kind == KIND_UPLINK) return "uplink";
  if (kind == KIND_INTERNAL) return "internal";
  return "test";
}

/** -1 when `s` is not a port kind. */
export function parsePortKind(s: string): i32 {
  if (s == "vm") return KIND_VM;
  if (s == "uplink") return KIND_UPLINK;
  if (s == "internal") return KIND_INTERNAL;
  if (s == "test") return KIND_TEST;
  return -1;
}


/** A set of VLAN ids 1-4094, as a 4096-bit map. */
export class VlanSet {
  bits: StaticArray<u32> = new StaticArray<u32>(128);

  /** Adds lo..hi a word at a time (a hostile list of wide ranges stays cheap); false (and nothing added) when the range is not within 1-4094 or lo > hi. */
  addRange(lo: i32, hi: i32): bool {
    if (lo < 1 || hi > 4094 || lo > hi) return false;
    const first = lo >> 5;
    const last = hi >> 5;
    for (let w = first; w <= last; w++) {
      let m: u32 = 0xffffffff;
      if (w == first) m &= m << (lo & 31);
      if (w == last) m &= (<u32>0xffffffff) >>> (31 - (hi & 31));
      unchecked((this.bits[w] |= m));
    }
    return true;
  }
  add(v: i32): bool {
    return this.addRange(v, v);
  }
  @inline has(v: i32): bool {
    return (unchecked(this.bits[(v >> 5) & 127]) & ((<u32>1) << (v & 31))) != 0;
  }
  isEmpty(): bool {
    for (let i = 0; i < 128; i++) if (unchecked(this.bits[i]) != 0) return false;
    return true;
  }
  clear(): void {
    for (let i = 0; i < 128; i++) unchecked((this.bits[i] = 0));
  }
  equals(o: VlanSet): bool {
    for (let i = 0; i < 128; i++) if (unchecked(this.bits[i]) != unchecked(o.bits[i])) return false;
    return true;
  }
  clone(): VlanSet {
    const c = new VlanSet();
    for (let i = 0; i < 128; i++) unchecked((c.bits[i] = this.bits[i]));
    return c;
  }
  /** Normalised ranges, sorted and merged: [lo0, hi0, lo1, hi1, ...]; lo == hi for a single id. Ids 0 and 4095 are never members. Word-wise: empty and full words cost one step each. */
  toRanges(): Array<i32> {
    const out = new Array<i32>();
    let open = false; // a run started in an earlier bit and has not ended yet
    for (let w = 0; w < 128; w++) {
      let b = unchecked(this.bits[w]);
      if (w == 0) b &= ~(<u32>1);
      if (w == 127) b &= 0x7fffffff; // so every run ends by 4094
      let j = 0;
      while (j < 32) {
        // the next bit at or above j that ends the open run (a zero) or starts a new one (a one)
        const rest = (open ? ~b : b) & ((<u32>0xffffffff) << j);
        if (rest == 0) break;
        j = <i32>ctz(rest);
        const v = (w << 5) | j;
        out.push(open ? v - 1 : v);
        open = !open;
      }
    }
    return out;
  }
  /** "10,20-29" ("" when empty). */
  toString(): string {
    const r = this.toRanges();
    let s = "";
    for (let i = 0; i < r.length; i += 2) {
      if (i > 0) s += ",";
      s += r[i].toString();
      if (r[i + 1] != r[i]) s += "-" + r[i + 1].toString();
    }
    return s;
  }
}

export const VLAN_ACCESS: i32 = 0;
export const VLAN_TRUNK: i32 = 1;
export const TPID_8021Q: i32 = 0x8100;
export const TPID_8021AD: i32 = 0x88a8;

/** A port's VLAN settings. New ports: access, VLAN 1. */
export class PortVlan {
  mode: i32 = VLAN_ACCESS;
  /** access: the port's VLAN. */
  vlan: i32 = 1;
  /** trunk: accepted VIDs (must be non-empty). */
  allowed: VlanSet = new VlanSet();
  /** trunk: VLAN for untagged/priority-tagged frames; 0 = none (null). */
  native: i32 = 0;
  nativeTagged: bool = false;
  /** Tag TPID this port sends; 0x88a8 (802.1ad S-tag) also makes it recognise 0x88a8 on receive. 0x8100 is always recognised. */
  tpid: i32 = TPID_8021Q;

  static access(vlan: i32): PortVlan {
    const v = new PortVlan();
    v.vlan = vlan;
    return v;
  }
  static trunk(allowed: VlanSet, native: i32, nativeTagged: bool): PortVlan {
    const v = new PortVlan();
    v.mode = VLAN_TRUNK;
    v.vlan = 0;
    v.allowed = allowed;
    v.native = native;
    v.nativeTagged = nativeTagged;
    return v;
  }

  validate(prefix: string): ConfigError | null {
    if (this.mode == VLAN_ACCESS) {
      if (this.vlan < 1 || this.vlan > 4094) return invalid(prefix + "vlan", "must be 1-4094");
    } else if (this.mode == VLAN_TRUNK) {
      if (this.allowed.isEmpty()) return invalid(prefix + "allowed", "must be a non-empty VLAN set");
      if (this.native != 0) {
        if (this.native < 1 || this.native > 4094) return invalid(prefix + "native", "must be 1-4094 or null");
        if (!this.allowed.has(this.native)) return invalid(prefix + "native", "must be in allowed");
      }
    } else return invalid(prefix + "mode", "must be access or trunk");
    if (this.tpid != TPID_8021Q && this.tpid != TPID_8021AD) return invalid(prefix + "tpid", "must be 0x8100 or 0x88a8");
    return null;
  }
  /** Is VLAN v a member of this port? */
  @inline member(v: i32): bool {
    return this.mode == VLAN_ACCESS ? v == this.vlan : this.allowed.has(v);
  }
  /** Do frames of VLAN v leave this port tagged? */
  @inline tagged(v: i32): bool {
    return this.mode == VLAN_TRUNK && !(v == this.native && !this.nativeTagged);
  }
  equals(o: PortVlan): bool {
    if (this.mode != o.mode || this.tpid != o.tpid) return false;
    if (this.mode == VLAN_ACCESS) return this.vlan == o.vlan;
    return this.allowed.equals(o.allowed) && this.native == o.native && this.nativeTagged == o.nativeTagged;
  }
  clone(): PortVlan {
    const v = new PortVlan();
    v.mode = this.mode;
    v.vlan = this.vlan;
    v.allowed = this.allowed.clone();
    v.native = this.native;
    v.nativeTagged = this.nativeTagged;
    v.tpid = this.tpid;
    return v;
  }
  toString(): string {
    let s: string;
    if (this.mode == VLAN_ACCESS) s = "access " + this.vlan.toString();
    else {
      s = "trunk [" + this.allowed.toString() + "] native " + (this.native == 0 ? "null" : this.native.toString());
      if (this.nativeTagged) s += " tagged";
    }
    if (this.tpid == TPID_8021AD) s += " tpid 0x88a8";
    return s;
  }
}

export const MAX_RATE_KBPS: i64 = 100_000_000; // 100 Gbit/s
export const MAX_BURST_BYTES: i64 = 1 << 30;

/** A token bucket setting: rate_kbps (1000 bit/s) and burst_bytes. */
export class Rate {
  constructor(public rateKbps: i64, public burstBytes: i64) {}
  validate(prefix: string): ConfigError | null {
    if (this.rateKbps < 1 || this.rateKbps > MAX_RATE_KBPS) return invalid(prefix + "rate_kbps", "must be 1-100000000");
    if (this.burstBytes < 1 || this.burstBytes > MAX_BURST_BYTES) return invalid(prefix + "burst_bytes", "must be 1-1073741824");
    return null;
  }
  equals(o: Rate | null): bool {
    return o != null && o.rateKbps == this.rateKbps && o.burstBytes == this.burstBytes;
  }
  clone(): Rate {
    return new Rate(this.rateKbps, this.burstBytes);
  }
  toString(): string {
    return this.rateKbps.toString() + "kbps/" + this.burstBytes.toString() + "B";
  }
}

export const MAX_STORM_PPS: i64 = 100_000_000;

/** QoS: ingress policer, egress shaper (null = off), storm control limits in packets/s (0 = off). */
export class PortQos {
  ingress: Rate | null = null;
  egress: Rate | null = null;
  stormBroadcastPps: i64 = 0;
  stormMulticastPps: i64 = 0;
  stormUnknownUnicastPps: i64 = 0;

  validate(prefix: string): ConfigError | null {
    const i = this.ingress;
    if (i != null) {
      const e = i.validate(prefix + "ingress.");
      if (e != null) return e;
    }
    const o = this.egress;
    if (o != null) {
      const e = o.validate(prefix + "egress.");
      if (e != null) return e;
    }
    if (this.stormBroadcastPps < 0 || this.stormBroadcastPps > MAX_STORM_PPS) return invalid(prefix + "storm.broadcast_pps", "must be 0-100000000");
    if (this.stormMulticastPps < 0 || this.stormMulticastPps > MAX_STORM_PPS) return invalid(prefix + "storm.multicast_pps", "must be 0-100000000");
    if (this.stormUnknownUnicastPps < 0 || this.stormUnknownUnicastPps > MAX_STORM_PPS) return invalid(prefix + "storm.unknown_unicast_pps", "must be 0-100000000");
    return null;
  }
  clone(): PortQos {
    const q = new PortQos();
    const i = this.ingress;
    const o = this.egress;
    q.ingress = i == null ? null : i.clone();
    q.egress = o == null ? null : o.clone();
    q.stormBroadcastPps = this.stormBroadcastPps;
    q.stormMulticastPps = this.stormMulticastPps;
    q.stormUnknownUnicastPps = this.stormUnknownUnicastPps;
    return q;
  }
}

function rateString(r: Rate | null): string {
  return r == null ? "none" : r.toString();
}

export const MAX_MACS_LIMIT: i32 = 1048576;

/** Port security: max learned (MAC, VLAN) entries (0 = no limit) and an allowed source MAC list (empty = any). */
export class PortSecurity {
  maxMacs: i32 = 0;
  allowedMacs: Array<u64> = new Array<u64>();

  validate(prefix: string): ConfigError | null {
    if (this.maxMacs < 0 || this.maxMacs > MAX_MACS_LIMIT) return invalid(prefix + "max_macs", "must be 0-1048576");
    if (this.allowedMacs.length > 1024) return invalid(prefix + "allowed_macs", "at most 1024 entries");
    for (let i = 0; i < this.allowedMacs.length; i++) {
      const m = this.allowedMacs[i];
      if (m > 0xffffffffffff || isGroupMac(m)) return invalid(prefix + "allowed_macs[" + i.toString() + "]", "must be a unicast MAC");
    }
    return null;
  }
  allows(mac: u64): bool {
    const a = this.allowedMacs;
    if (a.length == 0) return true;
    for (let i = 0; i < a.length; i++) if (unchecked(a[i]) == mac) return true;
    return false;
  }
  clone(): PortSecurity {
    const s = new PortSecurity();
    s.maxMacs = this.maxMacs;
    s.allowedMacs = this.allowedMacs.slice(0);
    return s;
  }
  macsString(): string {
    let s = "[";
    for (let i = 0; i < this.allowedMacs.length; i++) {
      if (i > 0) s += ",";
      s += formatMac(this.allowedMacs[i]);
    }
    return s + "]";
  }
  equals(o: PortSecurity): bool {
    if (this.maxMacs != o.maxMacs || this.allowedMacs.length != o.allowedMacs.length) return false;
    for (let i = 0; i < this.allowedMacs.length; i++) if (this.allowedMacs[i] != o.allowedMacs[i]) return false;
    return true;
  }
}

/** The settings of one port that the management API sets (port.set, config.apply). */
export class PortConfig {
  vlan: PortVlan = new PortVlan();
  qos: PortQos = new PortQos();
  security: PortSecurity = new PortSecurity();
  constructor(public name: string) {}

  validate(prefix: string): ConfigError | null {
    let e = this.vlan.validate(prefix + "vlan.");
    if (e != null) return e;
    e = this.qos.validate(prefix + "qos.");
    if (e != null) return e;
    return this.security.validate(prefix + "security.");
  }
  clone(): PortConfig {
    const c = new PortConfig(this.name);
    c.vlan = this.vlan.clone();
    c.qos = this.qos.clone();
    c.security = this.security.clone();
    return c;
  }
  /** Appends "port NAME: ..." lines for every setting that differs from `old`. */
  describeChanges(old: PortConfig, out: Array<string>): void {
    const p = "port " + this.name + ": ";
    if (!this.vlan.equals(old.vlan)) out.push(p + "vlan " + old.vlan.toString() + " -> " + this.vlan.toString());
    const oi = old.qos.ingress;
    const ni = this.qos.ingress;
    if (!(oi == null ? ni == null : oi.equals(ni))) out.push(p + "qos ingress " + rateString(oi) + " -> " + rateString(ni));
    const oe = old.qos.egress;
    const ne = this.qos.egress;
    if (!(oe == null ? ne == null : oe.equals(ne))) out.push(p + "qos egress " + rateString(oe) + " -> " + rateString(ne));
    if (old.qos.stormBroadcastPps != this.qos.stormBroadcastPps)
      out.push(p + "storm broadcast_pps " + old.qos.stormBroadcastPps.toString() + " -> " + this.qos.stormBroadcastPps.toString());
    if (old.qos.stormMulticastPps != this.qos.stormMulticastPps)
      out.push(p + "storm multicast_pps " + old.qos.stormMulticastPps.toString() + " -> " + this.qos.stormMulticastPps.toString());
    if (old.qos.stormUnknownUnicastPps != this.qos.stormUnknownUnicastPps)
      out.push(p + "storm unknown_unicast_pps " + old.qos.stormUnknownUnicastPps.toString() + " -> " + this.qos.stormUnknownUnicastPps.toString());
    if (old.security.maxMacs != this.security.maxMacs)
      out.push(p + "security max_macs " + old.security.maxMacs.toString() + " -> " + this.security.maxMacs.toString());
    if (old.security.macsString() != this.security.macsString())
      out.push(p + "security allowed_macs " + old.security.macsString() + " -> " + this.security.macsString());
  }
}

export const DIR_RX: i32 = 1;
export const DIR_TX: i32 = 2;
export const DIR_BOTH: i32 = 3;

export function dirName(d: i32): string {
  return d == DIR_RX ? "rx" : d == DIR_TX ? "tx" : "both";
}
/** -1 when not rx/tx/both. */
export function parseDir(s: string): i32 {
  if (s == "rx") return DIR_RX;
  if (s == "tx") return DIR_TX;
  if (s == "both") return DIR_BOTH;
  return -1;
}

export class MirrorSource {
  constructor(public port: string, public dir: i32) {}
}

export const MAX_MIRRORS: i32 = 16;

/** A mirror: source selectors by port (rx/tx/both) and by VLAN, copies sent to dst_port. */
export class MirrorConfig {
  srcPorts: Array<MirrorSource> = new Array<MirrorSource>();
  srcVlans: VlanSet = new VlanSet();
  dstPort: string = "";
  constructor(public name: string) {}

  /** Checks what can be checked without the switch (names, dirs, at least one selector). */
  validate(prefix: string): ConfigError | null {
    if (!isValidName(this.name)) return invalid(prefix + "name", "must be 1-32 chars of [A-Za-z0-9._-]");
    for (let i = 0; i < this.srcPorts.length; i++) {
      const s = this.srcPorts[i];
      const f = prefix + "src_ports[" + i.toString() + "]";
      if (!isValidName(s.port)) return invalid(f + ".port", "not a port name");
      if (s.dir != DIR_RX && s.dir != DIR_TX && s.dir != DIR_BOTH) return invalid(f + ".dir", "must be rx, tx or both");
      for (let j = 0; j < i; j++) if (this.srcPorts[j].port == s.port) return invalid(f + ".port", "listed twice");
    }
    if (this.srcPorts.length == 0 && this.srcVlans.isEmpty()) return invalid(prefix + "src_ports", "a mirror needs at least one selector");
    if (!isValidName(this.dstPort)) return invalid(prefix + "dst_port", "not a port name");
    return null;
  }
  clone(): MirrorConfig {
    const m = new MirrorConfig(this.name);
    for (let i = 0; i < this.srcPorts.length; i++) m.srcPorts.push(new MirrorSource(this.srcPorts[i].port, this.srcPorts[i].dir));
    m.srcVlans = this.srcVlans.clone();
    m.dstPort = this.dstPort;
    return m;
  }
  toString(): string {
    let s = "src [";
    for (let i = 0; i < this.srcPorts.length; i++) {
      if (i > 0) s += ",";
      s += this.srcPorts[i].port + ":" + dirName(this.srcPorts[i].dir);
    }
    return s + "] vlans [" + this.srcVlans.toString() + "] dst " + this.dstPort;
  }
}

export class StaticEntry {
  constructor(public mac: u64, public vlan: i32, public port: string) {}
}

export const DEFAULT_AGING_S: i64 = 300;
export const DEFAULT_MAX_ENTRIES: i32 = 8192;
export const MAX_FDB_ENTRIES: i32 = 1048576;

export class FdbConfig {
  agingS: i64 = DEFAULT_AGING_S;
  maxEntries: i32 = DEFAULT_MAX_ENTRIES;
  statics: Array<StaticEntry> = new Array<StaticEntry>();

  validate(prefix: string): ConfigError | null {
    if (this.agingS != 0 && (this.agingS < 10 || this.agingS > 1000000)) return invalid(prefix + "aging_s", "must be 10-1000000 or 0");
    if (this.maxEntries < 1 || this.maxEntries > MAX_FDB_ENTRIES) return invalid(prefix + "max_entries", "must be 1-1048576");
    for (let i = 0; i < this.statics.length; i++) {
      const s = this.statics[i];
      const f = prefix + "static[" + i.toString() + "]";
      if (s.mac > 0xffffffffffff || isGroupMac(s.mac)) return invalid(f + ".mac", "must be a unicast MAC");
      if (s.vlan < 1 || s.vlan > 4094) return invalid(f + ".vlan", "must be 1-4094");
      if (!isValidName(s.port)) return invalid(f + ".port", "not a port name");
      for (let j = 0; j < i; j++)
        if (this.statics[j].mac == s.mac && this.statics[j].vlan == s.vlan) return new ConfigError(ERR_CONFLICT, f, "duplicate (mac, vlan)");
    }
    if (this.statics.length > this.maxEntries) return new ConfigError(ERR_RESOURCE_LIMIT, prefix + "static", "more entries than max_entries");
    return null;
  }
}

/** A whole configuration document (config.get / config.apply). mirrors/fdb null = keep the current ones. */
export class SwitchConfig {
  ports: Array<PortConfig> = new Array<PortConfig>();
  mirrors: Array<MirrorConfig> | null = null;
  fdb: FdbConfig | null = null;
}

/** Result of Switch.applyConfig: error (nothing changed) or the list of changes made (or that would be, for a dry run). */
export class ApplyResult {
  error: ConfigError | null = null;
  changes: Array<string> = new Array<string>();
}
