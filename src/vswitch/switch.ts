// The L2 switch: ports, the ingress pipeline, forwarding, mirroring, egress queues, and the management operations.

import {
  ApplyResult, ConfigError, ERR_CONFLICT, ERR_NOT_FOUND, ERR_RESOURCE_LIMIT, FdbConfig, MAX_MIRRORS,
  MirrorConfig, MirrorSource, PortConfig, StaticEntry, SwitchConfig, invalid, isValidName, DIR_RX, DIR_TX, KIND_TEST,
} from "./config";
import { BROADCAST_MAC, formatMac, isGroupWire, loadWireMac, swapMac } from "./mac";
import { BUF_DATA, PacketPool } from "./pool";
import { Fdb, fdbKey, NS_PER_S, slotIsStatic, slotPort, slotTouch } from "./fdb";
import {
  Port, RX_BYTES, RX_PACKETS, TX_BYTES, TX_PACKETS, STAT_COUNT, DROP_FILTERED, DROP_MALFORMED, DROP_MIRROR_DST,
  DROP_NO_BUFFER, DROP_POLICER, DROP_SECURITY, DROP_SHAPER, DROP_STORM, DROP_VLAN, MAX_MTU,
} from "./port";
import { TokenBucket } from "./bucket";
import { ReadySet } from "./ready";

export const MAX_BATCH: i32 = 32;
export const DEFAULT_POOL_BUFFERS: i32 = 4096;
export const DEFAULT_MAX_PORTS: i32 = 256;
const MIN_FRAME: i32 = 60;
/** TPIDs 0x8100 and 0x88a8 as load<u16> reads them from a frame (bytes 81 00 / 88 a8). */
const WIRE_8100: i32 = 0x0081;
const WIRE_88A8: i32 = 0xa888;

/** Up to 32 pool handles moving in or out of a port together. */
export class Batch {
  handles: StaticArray<i32> = new StaticArray<i32>(MAX_BATCH);
  count: i32 = 0;
  @inline push(h: i32): bool {
    if (this.count >= MAX_BATCH) return false;
    unchecked((this.handles[this.count++] = h));
    return true;
  }
}

/** A mirror at run time. */
export class Mirror {
  dst: i32 = -1;
  packets: i64 = 0;
  bytes: i64 = 0;
  constructor(public cfg: MirrorConfig) {}
}

/** One FDB entry as fdb.list shows it. */
export class FdbEntryInfo {
  constructor(public mac: u64, public vlan: i32, public portId: i32, public port: string, public isStatic: bool, public ageS: i64) {}
}

/** Moves the 12 address bytes of a frame by a tag's length (the ranges overlap): all loads come before the stores. */
@inline function moveAddresses(dst: usize, src: usize): void {
  const lo = load<u64>(src);
  const hi = load<u32>(src, 8);
  store<u64>(dst, lo);
  store<u32>(dst, hi, 8);
}

export class Switch {
  readonly pool: PacketPool;
  readonly fdb: Fdb;
  readonly maxPorts: i32;
  /** Ports that got frames to send while they had none queued: the main loop services these (ready.ts). */
  readonly ready: ReadySet;
  private ports: StaticArray<Port | null>;
  /** Port ids sorted by name. */
  private byName: Array<i32> = new Array<i32>();
  /** Mirrors sorted by name; bit i of the masks is mirrors[i]. */
  private mirrors: Array<Mirror> = new Array<Mirror>();
  private vlanMirror: StaticArray<u32> = new StaticArray<u32>(4096);
  private statics: Array<StaticEntry> = new Array<StaticEntry>();
  /** The most recent clock value seen (ns). */
  now: i64 = 0;
  /** Set by calls that return -1 or null instead of an error. */
  lastError: ConfigError | null = null;
  // Scratch for one frame.
  private outPorts: StaticArray<i32>;
  private outSent: StaticArray<i32>;
  private stash: StaticArray<i32> = new StaticArray<i32>(MAX_MIRRORS);

  constructor(poolBuffers: i32 = DEFAULT_POOL_BUFFERS, maxPorts: i32 = DEFAULT_MAX_PORTS) {
    this.pool = new PacketPool(poolBuffers);
    this.maxPorts = maxPorts;
    this.fdb = new Fdb(maxPorts);
    this.ports = new StaticArray<Port | null>(maxPorts);
    this.outPorts = new StaticArray<i32>(maxPorts);
    this.outSent = new StaticArray<i32>(maxPorts);
    this.ready = new ReadySet(maxPorts);
  }

  // ---- ports ----

  /** Adds a port; returns its id, or -1 with lastError (invalid name/kind, name taken, no free slot). mac -1 = none. */
  addPort(name: string, kind: i32, mac: i64 = -1): i32 {
    if (!isValidName(name)) return this.fail(invalid("name", "must be 1-32 chars of [A-Za-z0-9._-]"));
    if (kind < 0 || kind > KIND_TEST) return this.fail(invalid("kind", "must be vm, uplink, internal or test"));
    if (mac < -1 || mac > 0xffffffffffff) return this.fail(invalid("mac", "not a MAC"));
    if (this.portId(name) >= 0) return this.fail(new ConfigError(ERR_CONFLICT, "name", "port exists"));
    let id = -1;
    for (let i = 0; i < this.maxPorts; i++)
      if (unchecked(this.ports[i]) == null) {
        id = i;
        break;
      }
    if (id < 0) return this.fail(new ConfigError(ERR_RESOURCE_LIMIT, "name", "too many ports"));
    const np = new Port(id, name, kind, mac);
    np.ready = this.ready;
    this.ports[id] = np;
    let at = 0;
    while (at < this.byName.length && this.ports[this.byName[at]]!.name < name) at++;
    this.byName.splice(at, 0);
    this.byName.push(0);
    for (let i = this.byName.length - 1; i > at; i--) this.byName[i] = this.byName[i - 1];
    this.byName[at] = id;
    this.lastError = null;
    return id;
  }

  /** Removes a port: frees its queued frames, its FDB entries (static too), drops it from mirror sources and removes mirrors that sent to it. */
  removePort(name: string): ConfigError | null {
    const id = this.portId(name);
    if (id < 0) return new ConfigError(ERR_NOT_FOUND, "port", "no such port");
    const p = this.ports[id]!;
    while (p.topPriority() >= 0) this.pool.free(p.dequeue(p.topPriority()));
    this.fdb.flush(-1, id, true);
    const keep = new Array<StaticEntry>();
    for (let i = 0; i < this.statics.length; i++) if (this.statics[i].port != name) keep.push(this.statics[i]);
    this.statics = keep;
    const ms = new Array<Mirror>();
    for (let i = 0; i < this.mirrors.length; i++) {
      const m = this.mirrors[i];
      if (m.cfg.dstPort == name) continue;
      const src = new Array<MirrorSource>();
      for (let j = 0; j < m.cfg.srcPorts.length; j++) if (m.cfg.srcPorts[j].port != name) src.push(m.cfg.srcPorts[j]);
      m.cfg.srcPorts = src;
      ms.push(m);
    }
    this.mirrors = ms;
    this.ports[id] = null;
    const bn = new Array<i32>();
    for (let i = 0; i < this.byName.length; i++) if (this.byName[i] != id) bn.push(this.byName[i]);
    this.byName = bn;
    this.rebuildMirrors();
    return null;
  }

  /** Port id by name, -1 if none. */
  portId(name: string): i32 {
    for (let i = 0; i < this.byName.length; i++) {
      const id = unchecked(this.byName[i]);
      if (this.ports[id]!.name == name) return id;
    }
    return -1;
  }
  port(id: i32): Port | null {
    return id >= 0 && id < this.maxPorts ? this.ports[id] : null;
  }
  /** Port names sorted. */
  portNames(): Array<string> {
    const out = new Array<string>();
    for (let i = 0; i < this.byName.length; i++) out.push(this.ports[this.byName[i]]!.name);
    return out;
  }
  /** A copy of the port's settings, or null. */
  getPortConfig(name: string): PortConfig | null {
    const id = this.portId(name);
    return id < 0 ? null : this.ports[id]!.cfg.clone();
  }
  isMirrorDst(name: string): bool {
    const id = this.portId(name);
    return id >= 0 && this.ports[id]!.mirrorDst;
  }

  /** Checks a port's whole new settings; fields are prefixed with `prefix` ("" for port.set). */
  validatePort(cfg: PortConfig, prefix: string): ConfigError | null {
    if (this.portId(cfg.name) < 0) return new ConfigError(ERR_NOT_FOUND, prefix == "" ? "port" : prefix + "name", "no such port");
    return cfg.validate(prefix);
  }

  /** Replaces a port's settings (port.set after merging the partial update): all or nothing. */
  setPort(cfg: PortConfig): ConfigError | null {
    const e = this.validatePort(cfg, "");
    if (e != null) return e;
    this.installPortConfig(this.ports[this.portId(cfg.name)]!, cfg.clone());
    return null;
  }

  /** Sets the largest payload (frame minus header and one tag) the port accepts. */
  setMtu(id: i32, mtu: i32): ConfigError | null {
    const p = this.port(id);
    if (p == null) return new ConfigError(ERR_NOT_FOUND, "port", "no such port");
    if (mtu < 46 || mtu > MAX_MTU) return invalid("mtu", "must be 46-1990");
    p.mtu = mtu;
    return null;
  }

  private installPortConfig(p: Port, cfg: PortConfig): void {
    const old = p.cfg;
    const vlanChanged = !old.vlan.equals(cfg.vlan);
    const oi = old.qos.ingress;
    const oe = old.qos.egress;
    const qosChanged =
      !(oi == null ? cfg.qos.ingress == null : oi.equals(cfg.qos.ingress)) ||
      !(oe == null ? cfg.qos.egress == null : oe.equals(cfg.qos.egress)) ||
      old.qos.stormBroadcastPps != cfg.qos.stormBroadcastPps ||
      old.qos.stormMulticastPps != cfg.qos.stormMulticastPps ||
      old.qos.stormUnknownUnicastPps != cfg.qos.stormUnknownUnicastPps;
    const macsChanged = old.security.macsString() != cfg.security.macsString();
    p.cfg = cfg;
    p.derive(qosChanged);
    if (vlanChanged) this.fdb.flush(-1, p.id, false);
    if (macsChanged && cfg.security.allowedMacs.length > 0) this.flushDisallowed(p);
  }

  private flushDisallowed(p: Port): void {
    const f = this.fdb;
    let i = 0;
    const n = f.mask + 1;
    while (i < n && unchecked(f.learned[p.id]) != 0) {
      const k = f.key(i);
      if (k != 0 && !f.isStatic(i) && f.port(i) == p.id && !p.cfg.security.allows(swapMac(k & 0xffffffffffff))) {
        f.removeAt(i);
        continue;
      }
      i++;
    }
  }

  // ---- mirrors ----

  mirrorNames(): Array<string> {
    const out = new Array<string>();
    for (let i = 0; i < this.mirrors.length; i++) out.push(this.mirrors[i].cfg.name);
    return out;
  }
  private mirrorIndex(name: string): i32 {
    for (let i = 0; i < this.mirrors.length; i++) if (this.mirrors[i].cfg.name == name) return i;
    return -1;
  }
  /** A copy of the mirror's settings, or null. */
  getMirror(name: string): MirrorConfig | null {
    const i = this.mirrorIndex(name);
    return i < 0 ? null : this.mirrors[i].cfg.clone();
  }
  /** Copies sent by the mirror; -1 if none such. */
  mirrorPackets(name: string): i64 {
    const i = this.mirrorIndex(name);
    return i < 0 ? -1 : this.mirrors[i].packets;
  }
  mirrorBytes(name: string): i64 {
    const i = this.mirrorIndex(name);
    return i < 0 ? -1 : this.mirrors[i].bytes;
  }

  /** Checks mirror m (fields under prefix) against the ports and the whole mirror set `all` (which contains m). */
  private checkMirror(m: MirrorConfig, all: Array<MirrorConfig>, prefix: string): ConfigError | null {
    const e = m.validate(prefix);
    if (e != null) return e;
    for (let i = 0; i < m.srcPorts.length; i++) {
      const f = prefix + "src_ports[" + i.toString() + "].port";
      const s = m.srcPorts[i].port;
      if (this.portId(s) < 0) return new ConfigError(ERR_NOT_FOUND, f, "no such port");
      for (let j = 0; j < all.length; j++) if (all[j].dstPort == s) return new ConfigError(ERR_CONFLICT, f, "is a mirror destination");
    }
    if (this.portId(m.dstPort) < 0) return new ConfigError(ERR_NOT_FOUND, prefix + "dst_port", "no such port");
    for (let j = 0; j < all.length; j++) {
      const o = all[j];
      for (let k = 0; k < o.srcPorts.length; k++)
        if (o.srcPorts[k].port == m.dstPort) return new ConfigError(ERR_CONFLICT, prefix + "dst_port", "is a source of mirror " + o.name);
    }
    return null;
  }

  /** mirror.add: all or nothing. */
  addMirror(cfg: MirrorConfig): ConfigError | null {
    if (this.mirrorIndex(cfg.name) >= 0) return new ConfigError(ERR_CONFLICT, "name", "mirror exists");
    if (this.mirrors.length >= MAX_MIRRORS) return new ConfigError(ERR_RESOURCE_LIMIT, "name", "at most 16 mirrors");
    const all = new Array<MirrorConfig>();
    for (let i = 0; i < this.mirrors.length; i++) all.push(this.mirrors[i].cfg);
    all.push(cfg);
    const e = this.checkMirror(cfg, all, "");
    if (e != null) return e;
    this.mirrors.push(new Mirror(cfg.clone()));
    this.sortMirrors();
    this.rebuildMirrors();
    return null;
  }

  removeMirror(name: string): ConfigError | null {
    const i = this.mirrorIndex(name);
    if (i < 0) return new ConfigError(ERR_NOT_FOUND, "name", "no such mirror");
    this.mirrors.splice(i, 1);
    this.rebuildMirrors();
    return null;
  }

  private sortMirrors(): void {
    this.mirrors.sort((a: Mirror, b: Mirror): i32 => (a.cfg.name < b.cfg.name ? -1 : a.cfg.name > b.cfg.name ? 1 : 0));
  }

  /** Recomputes mirror bits on ports and VLANs; a port that becomes a destination loses its learned entries. */
  private rebuildMirrors(): void {
    for (let i = 0; i < this.maxPorts; i++) {
      const p = this.ports[i];
      if (p == null) continue;
      p.mirrorRx = 0;
      p.mirrorTx = 0;
    }
    const wasDst = new StaticArray<bool>(this.maxPorts);
    for (let i = 0; i < this.maxPorts; i++) {
      const p = this.ports[i];
      if (p != null) {
        wasDst[i] = p.mirrorDst;
        p.mirrorDst = false;
      }
    }
    for (let v = 0; v < 4096; v++) unchecked((this.vlanMirror[v] = 0));
    for (let i = 0; i < this.mirrors.length; i++) {
      const m = this.mirrors[i];
      const bit = (<u32>1) << i;
      m.dst = this.portId(m.cfg.dstPort);
      if (m.dst >= 0) this.ports[m.dst]!.mirrorDst = true;
      for (let j = 0; j < m.cfg.srcPorts.length; j++) {
        const s = m.cfg.srcPorts[j];
        const id = this.portId(s.port);
        if (id < 0) continue;
        if (s.dir & DIR_RX) this.ports[id]!.mirrorRx |= bit;
        if (s.dir & DIR_TX) this.ports[id]!.mirrorTx |= bit;
      }
      for (let v = 1; v <= 4094; v++) if (m.cfg.srcVlans.has(v)) unchecked((this.vlanMirror[v] |= bit));
    }
    for (let i = 0; i < this.maxPorts; i++) {
      const p = this.ports[i];
      if (p != null && p.mirrorDst && !wasDst[i]) this.fdb.flush(-1, i, false);
    }
  }

  // ---- forwarding database ----

  /** fdb.list: entries (not expired) for vlan (-1 any) and port id (-1 any), sorted by VLAN then MAC. */
  fdbList(vlan: i32, portId: i32, now: i64): Array<FdbEntryInfo> {
    const f = this.fdb;
    const out = new Array<FdbEntryInfo>();
    for (let i = 0; i <= f.mask; i++) {
      const k = f.key(i);
      if (k == 0 || f.isExpired(i, now)) continue;
      const v = <i32>(k >> 48);
      const pid = f.port(i);
      if ((vlan >= 0 && v != vlan) || (portId >= 0 && pid != portId)) continue;
      const st = f.isStatic(i);
      const seen = f.seen(i);
      const age = st || now < seen ? 0 : (now - seen) / NS_PER_S;
      out.push(new FdbEntryInfo(swapMac(k & 0xffffffffffff), v, pid, this.ports[pid]!.name, st, age));
    }
    out.sort((a: FdbEntryInfo, b: FdbEntryInfo): i32 => {
      const ka = fdbKey(a.vlan, a.mac);
      const kb = fdbKey(b.vlan, b.mac);
      return ka < kb ? -1 : ka > kb ? 1 : 0;
    });
    return out;
  }

  /** fdb.flush: removes learned (not static) entries of vlan (-1 any) on port id (-1 any). */
  fdbFlush(vlan: i32, portId: i32): i32 {
    return this.fdb.flush(vlan, portId, false);
  }

  /** Removes expired entries (call now and then; lookups also ignore expired entries). */
  age(now: i64): i32 {
    if (now > this.now) this.now = now;
    return this.fdb.sweep(now);
  }

  fdbAgingS(): i64 {
    return this.fdb.agingS;
  }
  fdbMaxEntries(): i32 {
    return this.fdb.maxEntries;
  }
  fdbCount(): i32 {
    return this.fdb.count;
  }

  /** fdb.config: agingS -1 / maxEntries -1 keep the current value. */
  fdbConfig(agingS: i64, maxEntries: i32): ConfigError | null {
    if (agingS != -1 && agingS != 0 && (agingS < 10 || agingS > 1000000)) return invalid("aging_s", "must be 10-1000000 or 0");
    if (maxEntries != -1 && (maxEntries < 1 || maxEntries > 1048576)) return invalid("max_entries", "must be 1-1048576");
    if (maxEntries != -1 && maxEntries < this.statics.length)
      return new ConfigError(ERR_RESOURCE_LIMIT, "max_entries", "fewer than the static entries");
    if (agingS != -1) this.fdb.setAging(agingS);
    if (maxEntries != -1) this.fdb.setMaxEntries(maxEntries);
    return null;
  }

  /** The static entries, as configured. */
  staticEntries(): Array<StaticEntry> {
    const out = new Array<StaticEntry>();
    for (let i = 0; i < this.statics.length; i++) out.push(new StaticEntry(this.statics[i].mac, this.statics[i].vlan, this.statics[i].port));
    return out;
  }

  /** Adds (or re-points) a static entry. */
  addStatic(mac: u64, vlan: i32, port: string): ConfigError | null {
    const fc = new FdbConfig();
    fc.agingS = this.fdb.agingS;
    fc.maxEntries = this.fdb.maxEntries;
    fc.statics = this.staticEntries();
    let found = -1;
    for (let i = 0; i < fc.statics.length; i++) if (fc.statics[i].mac == mac && fc.statics[i].vlan == vlan) found = i;
    if (found >= 0) fc.statics[found].port = port;
    else fc.statics.push(new StaticEntry(mac, vlan, port));
    const e = this.checkFdb(fc, "");
    if (e != null) return e;
    this.installFdb(fc);
    return null;
  }

  removeStatic(mac: u64, vlan: i32): ConfigError | null {
    const fc = new FdbConfig();
    fc.agingS = this.fdb.agingS;
    fc.maxEntries = this.fdb.maxEntries;
    let found = false;
    for (let i = 0; i < this.statics.length; i++) {
      const s = this.statics[i];
      if (s.mac == mac && s.vlan == vlan) found = true;
      else fc.statics.push(new StaticEntry(s.mac, s.vlan, s.port));
    }
    if (!found) return new ConfigError(ERR_NOT_FOUND, "mac", "no such static entry");
    this.installFdb(fc);
    return null;
  }

  private checkFdb(fc: FdbConfig, prefix: string): ConfigError | null {
    const e = fc.validate(prefix);
    if (e != null) return e;
    for (let i = 0; i < fc.statics.length; i++)
      if (this.portId(fc.statics[i].port) < 0)
        return new ConfigError(ERR_NOT_FOUND, prefix + "static[" + i.toString() + "].port", "no such port");
    return null;
  }

  private installFdb(fc: FdbConfig): void {
    const f = this.fdb;
    f.setAging(fc.agingS);
    // Old statics go; a static that is also in the new set is re-added below.
    for (let i = 0; i < this.statics.length; i++) {
      const s = f.find(fdbKey(this.statics[i].vlan, swapMac(this.statics[i].mac)), this.now);
      if (s >= 0 && f.isStatic(s)) f.removeAt(s);
    }
    f.setMaxEntries(fc.maxEntries);
    this.statics = new Array<StaticEntry>();
    for (let i = 0; i < fc.statics.length; i++) {
      const st = fc.statics[i];
      this.statics.push(new StaticEntry(st.mac, st.vlan, st.port));
      const key = fdbKey(st.vlan, swapMac(st.mac));
      const pid = this.portId(st.port);
      const s = f.find(key, this.now);
      if (s >= 0) {
        // A learned entry for the same (MAC, VLAN) becomes the static one.
        f.makeStatic(s, pid);
        continue;
      }
      // Statics always fit (validated: no more than max_entries): learned entries make room.
      while (f.count >= f.maxEntries && this.evictOneDynamic()) {}
      f.insert(key, pid, this.now, true);
    }
  }

  private evictOneDynamic(): bool {
    const f = this.fdb;
    for (let i = 0; i <= f.mask; i++)
      if (f.key(i) != 0 && !f.isStatic(i)) {
        f.removeAt(i);
        return true;
      }
    return false;
  }

  // ---- whole configuration ----

  /** config.get: every port (by name), the mirrors (by name), the FDB settings. */
  getConfig(): SwitchConfig {
    const c = new SwitchConfig();
    for (let i = 0; i < this.byName.length; i++) c.ports.push(this.ports[this.byName[i]]!.cfg.clone());
    const ms = new Array<MirrorConfig>();
    for (let i = 0; i < this.mirrors.length; i++) ms.push(this.mirrors[i].cfg.clone());
    c.mirrors = ms;
    const f = new FdbConfig();
    f.agingS = this.fdb.agingS;
    f.maxEntries = this.fdb.maxEntries;
    f.statics = this.staticEntries();
    c.fdb = f;
    return c;
  }

  /** config.apply: validates the whole document, then (unless dryRun) applies all of it; on error nothing changes. */
  applyConfig(cfg: SwitchConfig, dryRun: bool): ApplyResult {
    const r = new ApplyResult();
    const e = this.validateConfig(cfg);
    if (e != null) {
      r.error = e;
      return r;
    }
    const ch = r.changes;
    for (let i = 0; i < cfg.ports.length; i++) {
      const pc = cfg.ports[i];
      pc.describeChanges(this.ports[this.portId(pc.name)]!.cfg, ch);
    }
    const nm = cfg.mirrors;
    if (nm != null) {
      for (let i = 0; i < this.mirrors.length; i++) {
        const o = this.mirrors[i].cfg;
        let found = false;
        for (let j = 0; j < nm.length; j++)
          if (nm[j].name == o.name) {
            found = true;
            if (nm[j].toString() != o.toString()) ch.push("mirror " + o.name + ": " + o.toString() + " -> " + nm[j].toString());
          }
        if (!found) ch.push("mirror " + o.name + ": removed");
      }
      for (let j = 0; j < nm.length; j++) if (this.mirrorIndex(nm[j].name) < 0) ch.push("mirror " + nm[j].name + ": added " + nm[j].toString());
    }
    const nf = cfg.fdb;
    if (nf != null) {
      if (nf.agingS != this.fdb.agingS) ch.push("fdb: aging_s " + this.fdb.agingS.toString() + " -> " + nf.agingS.toString());
      if (nf.maxEntries != this.fdb.maxEntries) ch.push("fdb: max_entries " + this.fdb.maxEntries.toString() + " -> " + nf.maxEntries.toString());
      for (let i = 0; i < this.statics.length; i++) {
        const o = this.statics[i];
        let same = false;
        for (let j = 0; j < nf.statics.length; j++) if (nf.statics[j].mac == o.mac && nf.statics[j].vlan == o.vlan && nf.statics[j].port == o.port) same = true;
        if (!same) ch.push("fdb: static " + formatMac(o.mac) + " vlan " + o.vlan.toString() + " port " + o.port + " removed");
      }
      for (let j = 0; j < nf.statics.length; j++) {
        const n = nf.statics[j];
        let same = false;
        for (let i = 0; i < this.statics.length; i++) if (this.statics[i].mac == n.mac && this.statics[i].vlan == n.vlan && this.statics[i].port == n.port) same = true;
        if (!same) ch.push("fdb: static " + formatMac(n.mac) + " vlan " + n.vlan.toString() + " port " + n.port + " added");
      }
    }
    if (dryRun) return r;
    for (let i = 0; i < cfg.ports.length; i++) {
      const pc = cfg.ports[i];
      this.installPortConfig(this.ports[this.portId(pc.name)]!, pc.clone());
    }
    if (nm != null) {
      const ms = new Array<Mirror>();
      for (let j = 0; j < nm.length; j++) {
        const m = new Mirror(nm[j].clone());
        const oi = this.mirrorIndex(nm[j].name);
        if (oi >= 0) {
          m.packets = this.mirrors[oi].packets;
          m.bytes = this.mirrors[oi].bytes;
        }
        ms.push(m);
      }
      this.mirrors = ms;
      this.sortMirrors();
      this.rebuildMirrors();
    }
    if (nf != null) this.installFdb(nf);
    return r;
  }

  /** Validates a whole configuration document; fields are named from "config.". */
  validateConfig(cfg: SwitchConfig): ConfigError | null {
    for (let i = 0; i < cfg.ports.length; i++) {
      const pre = "config.ports[" + i.toString() + "].";
      const pc = cfg.ports[i];
      if (this.portId(pc.name) < 0) return new ConfigError(ERR_NOT_FOUND, pre + "name", "no such port");
      for (let j = 0; j < i; j++) if (cfg.ports[j].name == pc.name) return new ConfigError(ERR_CONFLICT, pre + "name", "port listed twice");
      const e = pc.validate(pre);
      if (e != null) return e;
    }
    const nm = cfg.mirrors;
    if (nm != null) {
      if (nm.length > MAX_MIRRORS) return new ConfigError(ERR_RESOURCE_LIMIT, "config.mirrors", "at most 16 mirrors");
      for (let i = 0; i < nm.length; i++) {
        const pre = "config.mirrors[" + i.toString() + "].";
        for (let j = 0; j < i; j++) if (nm[j].name == nm[i].name) return new ConfigError(ERR_CONFLICT, pre + "name", "mirror listed twice");
        const e = this.checkMirror(nm[i], nm, pre);
        if (e != null) return e;
      }
    }
    const nf = cfg.fdb;
    if (nf != null) {
      const e = this.checkFdb(nf, "config.fdb.");
      if (e != null) return e;
    }
    return null;
  }

  // ---- counters ----

  /** Counter idx (RX_PACKETS.., DROP_BASE + reason) of port id; 0 for no such port. */
  @inline stat(id: i32, idx: i32): i64 {
    const p = this.port(id);
    return p == null || idx < 0 || idx >= STAT_COUNT ? 0 : p.stats[idx];
  }

  /** stats.reset: one port (by name), or every port and mirror when name is null. */
  resetStats(name: string | null): ConfigError | null {
    if (name != null) {
      const id = this.portId(name);
      if (id < 0) return new ConfigError(ERR_NOT_FOUND, "port", "no such port");
      const p = this.ports[id]!;
      for (let i = 0; i < STAT_COUNT; i++) p.stats[i] = 0;
      return null;
    }
    for (let id = 0; id < this.maxPorts; id++) {
      const p = this.ports[id];
      if (p != null) for (let i = 0; i < STAT_COUNT; i++) p.stats[i] = 0;
    }
    for (let i = 0; i < this.mirrors.length; i++) {
      this.mirrors[i].packets = 0;
      this.mirrors[i].bytes = 0;
    }
    return null;
  }

  // ---- frame I/O ----

  /** Receives a batch from port id: the switch takes every handle (forwards or frees it). */
  rx(id: i32, batch: Batch, now: i64): void {
    if (now > this.now) this.now = now;
    const p = this.port(id);
    const n = batch.count;
    batch.count = 0;
    if (p == null) {
      for (let i = 0; i < n; i++) this.pool.free(unchecked(batch.handles[i]));
      return;
    }
    // rx_packets/rx_bytes are added once per batch (nothing reads them while the batch is processed).
    let bytes: i64 = 0;
    for (let i = 0; i < n; i++) {
      const h = unchecked(batch.handles[i]);
      bytes += this.pool.len(h);
      this.process(p, h, now);
    }
    unchecked((p.stats[RX_PACKETS] += n));
    unchecked((p.stats[RX_BYTES] += bytes));
  }

  /** Receives one frame copied from linear memory [ptr, ptr+len). */
  inject(id: i32, ptr: usize, len: i32, now: i64): void {
    if (now > this.now) this.now = now;
    const p = this.port(id);
    if (p == null) return;
    if (len < 0) len = 0;
    if (len > BUF_DATA) {
      // Too long for any port's MTU: counted without being copied.
      unchecked(p.stats[RX_PACKETS]++);
      unchecked((p.stats[RX_BYTES] += len));
      p.drop(DROP_MALFORMED);
      return;
    }
    const h = this.pool.alloc();
    if (h < 0) {
      unchecked(p.stats[RX_PACKETS]++);
      unchecked((p.stats[RX_BYTES] += len));
      p.drop(DROP_NO_BUFFER);
      return;
    }
    memory.copy(this.pool.data(h), ptr, len);
    this.pool.setLen(h, len);
    unchecked(p.stats[RX_PACKETS]++);
    unchecked((p.stats[RX_BYTES] += len));
    this.process(p, h, now);
  }

  /** The next frame ready to leave port id (strict priority, shaper permitting), or -1. The caller owns it: pool.free it. */
  txPop(id: i32, now: i64): i32 {
    if (now > this.now) this.now = now;
    const p = this.port(id);
    if (p == null) return -1;
    const h = this.dequeueFrom(p, now);
    if (h >= 0) {
      unchecked(p.stats[TX_PACKETS]++);
      unchecked((p.stats[TX_BYTES] += this.pool.len(h)));
    }
    return h;
  }

  /** Takes the next frame off p's queues (shaper permitting), or -1; the caller counts it. */
  @inline private dequeueFrom(p: Port, now: i64): i32 {
    const pr = p.topPriority();
    if (pr < 0) return -1;
    const h = p.head(pr);
    const len = this.pool.len(h);
    const sh = p.egress;
    if (sh != null && !sh.take(now, len)) return -1;
    p.dequeue(pr);
    return h;
  }

  /** Fills batch with up to 32 frames (at most `limit`) leaving port id; returns how many. The rest stay queued. */
  tx(id: i32, batch: Batch, now: i64, limit: i32 = MAX_BATCH): i32 {
    if (now > this.now) this.now = now;
    batch.count = 0;
    const p = this.port(id);
    if (p == null) return 0;
    const most = limit < MAX_BATCH ? limit : MAX_BATCH;
    let n = 0;
    let bytes: i64 = 0;
    if (p.egress == null) {
      // No shaper: whole runs of a queue at once, highest priority first.
      while (n < most && p.nonEmpty != 0) n += p.popRun(p.topPriority(), most - n, batch.handles, n);
      for (let i = 0; i < n; i++) bytes += this.pool.len(unchecked(batch.handles[i]));
    } else {
      while (n < most) {
        const h = this.dequeueFrom(p, now);
        if (h < 0) break;
        bytes += this.pool.len(h);
        unchecked((batch.handles[n++] = h));
      }
    }
    batch.count = n;
    unchecked((p.stats[TX_PACKETS] += n));
    unchecked((p.stats[TX_BYTES] += bytes));
    return n;
  }

  /** Copies the next frame leaving port id to dst (room for 2048 bytes) and frees it; its length, or -1. */
  popFrame(id: i32, dst: usize, now: i64): i32 {
    const h = this.txPop(id, now);
    if (h < 0) return -1;
    const n = this.pool.len(h);
    memory.copy(dst, this.pool.data(h), n);
    this.pool.free(h);
    return n;
  }

  /** Frames waiting in port id's egress queues. */
  queued(id: i32): i32 {
    const p = this.port(id);
    return p == null ? 0 : p.queued;
  }

  // ---- the pipeline ----

  private dropRx(p: Port, h: i32, reason: i32): void {
    p.drop(reason);
    this.pool.free(h);
  }

  /** Ingress order (MGMT-API.md): malformed, VLAN filter, mirror destination, security, storm, policer, learning, forwarding. The caller has counted rx_packets/rx_bytes. */
  private process(p: Port, h: i32, now: i64): void {
    const pool = this.pool;
    const f = this.fdb;
    const base = pool.data(h);
    const len = pool.len(h);
    if (len < 14) return this.dropRx(p, h, DROP_MALFORMED);
    // The EtherType as it lies in memory (network order read little-endian): no byte swap on the hot path.
    const et = <i32>load<u16>(base, 12);
    // 802.1Q 9.5: TPID 0x8100 (C-tag) everywhere; 0x88a8 (S-tag, 802.1ad) on ports configured for it.
    const tagged = et == WIRE_8100 || (et == WIRE_88A8 && p.ad);
    let tci: i32 = 0;
    if (tagged) {
      if (len < 18 || len > p.mtu + 18) return this.dropRx(p, h, DROP_MALFORMED);
      tci = <i32>bswap<u16>(load<u16>(base, 14));
    } else if (len > p.mtu + 14) return this.dropRx(p, h, DROP_MALFORMED);
    const vid = tci & 0xfff;
    let vlan: i32;
    if (tagged && vid != 0) {
      // 802.1Q 9.6: VID 4095 is reserved; VID 0 is a priority tag (handled as untagged).
      if (vid == 4095 || !(p.trunk ? p.cfg.vlan.allowed.has(vid) : false)) return this.dropRx(p, h, DROP_VLAN);
      vlan = vid;
    } else {
      vlan = p.trunk ? p.cfg.vlan.native : p.accessVlan;
      if (vlan == 0) return this.dropRx(p, h, DROP_VLAN);
    }
    if (p.mirrorDst) return this.dropRx(p, h, DROP_MIRROR_DST);
    const dst = loadWireMac(base);
    const src = loadWireMac(base + 6);
    const learnable = !isGroupWire(src);
    if (p.checks && !this.ingressChecks(p, h, vlan, src, dst, learnable, len, now)) return;
    if (learnable) {
      const key = fdbKey(vlan, src);
      const s = f.find(key, now);
      if (s >= 0) {
        const a = f.addr(s);
        if (!slotIsStatic(a)) {
          if (slotPort(a) != p.id) f.move(s, p.id);
          slotTouch(a, now);
        }
      } else f.insert(key, p.id, now, false);
    }

    // Mirror copies as received are taken before the frame is changed for egress.
    const rxMask = p.mirrorRx | unchecked(this.vlanMirror[vlan]);
    if (rxMask != 0) this.stashRxCopies(h, rxMask);

    // Forwarding decision: the egress ports, in name order.
    let nOut = 0;
    const out = this.outPorts;
    let filtered = false;
    if (!isGroupWire(dst)) {
      const s = f.find(fdbKey(vlan, dst), now);
      if (s >= 0) {
        const q = slotPort(f.addr(s));
        const qp = unchecked(this.ports[q]);
        if (q == p.id || qp == null || qp.mirrorDst || !qp.member(vlan)) filtered = true;
        else if ((rxMask | qp.mirrorTx) == 0) {
          // The common case, as the general egress below would do it for a single port with no mirror:
          // the frame itself is padded or retagged in place, and queued.
          if (!tagged && !qp.taggedOut(vlan)) {
            if (len < MIN_FRAME) this.pad(h);
            this.queueOrDrop(qp, h, 0); // untagged: priority 0
          } else {
            this.retagInPlace(h, tagged, qp.taggedOut(vlan), qp.tpid, (tci & 0xf000) | vlan);
            this.queueOrDrop(qp, h, tci >> 13);
          }
          return;
        } else unchecked((out[nOut++] = q));
      } else nOut = this.floodSet(p, vlan);
    } else nOut = this.floodSet(p, vlan);
    if (filtered) p.drop(DROP_FILTERED);

    // Egress: copies for all but the last port, the original (changed in place) for the last.
    const sent = this.outSent;
    const pcp = tci >> 13;
    let txMask: u32 = 0;
    for (let k = 0; k < nOut; k++) {
      const qp = unchecked(this.ports[unchecked(out[k])])!;
      const outTagged = qp.taggedOut(vlan);
      const outTci = (tci & 0xf000) | vlan; // 802.1Q 6.9: PCP and DEI carried over
      let hh: i32;
      if (k == nOut - 1) {
        if (tagged || outTagged) this.retagInPlace(h, tagged, outTagged, qp.tpid, outTci);
        else if (pool.len(h) < MIN_FRAME) this.pad(h);
        hh = h;
      } else {
        hh = this.copyRetagged(h, tagged, outTagged, qp.tpid, outTci);
        if (hh < 0) {
          qp.txDrop(DROP_NO_BUFFER);
          unchecked((sent[k] = -1));
          continue;
        }
      }
      if (!this.queueOrDrop(qp, hh, pcp)) {
        unchecked((sent[k] = -1));
        continue;
      }
      unchecked((sent[k] = hh));
      txMask |= qp.mirrorTx;
    }
    if (nOut == 0) pool.free(h);

    const mask = rxMask | txMask;
    if (mask != 0) this.sendMirrorCopies(mask, rxMask, nOut, pcp);
  }

  /** Queues h on qp at priority pcp; a full queue frees it and counts a shaper drop (false). */
  @inline private queueOrDrop(qp: Port, h: i32, pcp: i32): bool {
    if (qp.enqueue(h, pcp)) return true;
    this.pool.free(h);
    qp.txDrop(DROP_SHAPER);
    return false;
  }

  /** Port security, storm control, policer (in that order); false when the frame was dropped (and freed). src and dst are wire-order MACs. */
  private ingressChecks(p: Port, h: i32, vlan: i32, src: u64, dst: u64, learnable: bool, len: i32, now: i64): bool {
    const f = this.fdb;
    if (p.allowList && !p.cfg.security.allows(swapMac(src))) {
      this.dropRx(p, h, DROP_SECURITY);
      return false;
    }
    if (p.maxMacs > 0 && learnable) {
      const s = f.find(fdbKey(vlan, src), now);
      if ((s < 0 || (!f.isStatic(s) && f.port(s) != p.id)) && unchecked(f.learned[p.id]) >= p.maxMacs) {
        this.dropRx(p, h, DROP_SECURITY);
        return false;
      }
    }
    if (p.stormOn) {
      let b: TokenBucket | null = null;
      if (dst == BROADCAST_MAC) b = p.stormB;
      else if (isGroupWire(dst)) b = p.stormM;
      else if (p.stormU != null && f.find(fdbKey(vlan, dst), now) < 0) b = p.stormU;
      if (b != null && !b.take(now, 1)) {
        this.dropRx(p, h, DROP_STORM);
        return false;
      }
    }
    const ing = p.ingress;
    if (ing != null && !ing.take(now, len)) {
      this.dropRx(p, h, DROP_POLICER);
      return false;
    }
    return true;
  }

  /** Ports of the VLAN other than the ingress port and mirror destinations (802.1Q 8.8: flood to the member set). */
  private floodSet(p: Port, vlan: i32): i32 {
    let n = 0;
    const bn = this.byName;
    const out = this.outPorts;
    for (let i = 0, c = bn.length; i < c; i++) {
      const id = unchecked(bn[i]);
      const qp = unchecked(this.ports[id])!;
      if (id != p.id && !qp.mirrorDst && qp.member(vlan)) unchecked((out[n++] = id));
    }
    return n;
  }

  private stashRxCopies(h: i32, rxMask: u32): void {
    const len = this.pool.len(h);
    for (let i = 0; i < this.mirrors.length; i++) {
      if ((rxMask & ((<u32>1) << i)) == 0) continue;
      const c = this.pool.alloc();
      unchecked((this.stash[i] = c));
      if (c < 0) {
        this.ports[this.mirrors[i].dst]!.txDrop(DROP_NO_BUFFER);
        continue;
      }
      memory.copy(this.pool.data(c), this.pool.data(h), len);
      this.pool.setLen(c, len);
      this.pad(c);
    }
  }

  /** One copy per mirror, mirrors in name order: as received if an rx selector matched, else as sent out of the first tx-selected port. */
  private sendMirrorCopies(mask: u32, rxMask: u32, nOut: i32, pcp: i32): void {
    const pool = this.pool;
    for (let i = 0; i < this.mirrors.length; i++) {
      const bit = (<u32>1) << i;
      if ((mask & bit) == 0) continue;
      const m = unchecked(this.mirrors[i]);
      const dp = this.ports[m.dst]!;
      let c: i32;
      if (rxMask & bit) {
        c = unchecked(this.stash[i]);
        if (c < 0) continue;
      } else {
        let srcH = -1;
        for (let k = 0; k < nOut; k++) {
          const hh = unchecked(this.outSent[k]);
          if (hh >= 0 && (this.ports[unchecked(this.outPorts[k])]!.mirrorTx & bit) != 0) {
            srcH = hh;
            break;
          }
        }
        c = pool.alloc();
        if (c < 0) {
          dp.txDrop(DROP_NO_BUFFER);
          continue;
        }
        const n = pool.len(srcH);
        memory.copy(pool.data(c), pool.data(srcH), n);
        pool.setLen(c, n);
      }
      const n = pool.len(c);
      if (!this.queueOrDrop(dp, c, pcp)) continue;
      m.packets++;
      m.bytes += n;
    }
  }

  /** Pads a frame shorter than 60 bytes with zeros (802.3 minimum frame without FCS). */
  private pad(h: i32): void {
    const n = this.pool.len(h);
    if (n < MIN_FRAME) {
      memory.fill(this.pool.data(h) + n, 0, MIN_FRAME - n);
      this.pool.setLen(h, MIN_FRAME);
    }
  }

  /** Makes the frame leave tagged (tpid, tci) or untagged, moving only the 12 address bytes. */
  private retagInPlace(h: i32, tagged: bool, outTagged: bool, tpid: i32, tci: i32): void {
    const pool = this.pool;
    if (outTagged) {
      if (!tagged) {
        pool.adjust(h, -4);
        const b = pool.data(h);
        moveAddresses(b, b + 4);
      }
      const b = pool.data(h);
      store<u16>(b, bswap<u16>(<u16>tpid), 12);
      store<u16>(b, bswap<u16>(<u16>tci), 14);
    } else if (tagged) {
      const b = pool.data(h);
      moveAddresses(b + 4, b);
      pool.adjust(h, 4);
    }
    if (pool.len(h) < MIN_FRAME) this.pad(h);
  }

  /** A new buffer holding the frame as it leaves a port with the given tagging; -1 when the pool is empty. */
  private copyRetagged(h: i32, tagged: bool, outTagged: bool, tpid: i32, tci: i32): i32 {
    const pool = this.pool;
    const c = pool.alloc();
    if (c < 0) return -1;
    const s = pool.data(h);
    const d = pool.data(c);
    const len = pool.len(h);
    const hin = tagged ? 16 : 12;
    memory.copy(d, s, 12);
    let o = 12;
    if (outTagged) {
      store<u16>(d, bswap<u16>(<u16>tpid), 12);
      store<u16>(d, bswap<u16>(<u16>tci), 14);
      o = 16;
    }
    memory.copy(d + o, s + hin, len - hin);
    pool.setLen(c, o + len - hin);
    this.pad(c);
    return c;
  }

  private fail(e: ConfigError): i32 {
    this.lastError = e;
    return -1;
  }
}

