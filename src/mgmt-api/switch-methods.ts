// The switch's methods of docs/PROTOCOL.md (port.*, fdb.*, mirror.*, stats.reset,
// config.*): JSON params to the switch's config model and back.
// Every method parses and validates everything before it changes anything.

import {
  Batch,
  ConfigError,
  DIR_BOTH,
  FdbConfig,
  KIND_INTERNAL,
  MirrorConfig,
  MirrorSource,
  PortConfig,
  PortQos,
  PortSecurity,
  PortVlan,
  Rate,
  StaticEntry,
  Switch,
  SwitchConfig,
  VlanSet,
  dirName,
  parseDir,
  portKindName,
  KIND_UPLINK,
  KIND_VM,
  TPID_8021AD,
  TPID_8021Q,
  VLAN_ACCESS,
  RX_PACKETS,
  RX_BYTES,
  RX_DROPPED,
  TX_PACKETS,
  TX_BYTES,
  TX_DROPPED,
  DROP_BASE,
  DROP_REASONS,
  MAX_MTU,
  dropReasonName,
} from "../vswitch/index";
import { Call } from "./call";
import { formatMac } from "../vswitch/mac";
import { JsonWriter, JValue } from "./json";
import { MethodSet } from "./server";
import { HostInfo } from "./vm";

const NS_PER_MS: i64 = 1_000_000;
/** The internal port (and mirror) a capture uses. */
export const CAPTURE_PORT = "capture0";

export class SwitchMethods extends MethodSet {
  sw: Switch;
  host: HostInfo;
  private captureBatch: Batch = new Batch();

  constructor(sw: Switch, host: HostInfo) {
    super();
    this.sw = sw;
    this.host = host;
  }

  private now(): i64 {
    return this.host.nowMs * NS_PER_MS;
  }

  handle(call: Call): bool {
    const m = call.method;
    if (m == "port.list") this.portList(call);
    else if (m == "port.get") this.portGet(call);
    else if (m == "port.set") this.portSet(call);
    else if (m == "fdb.list") this.fdbList(call);
    else if (m == "fdb.flush") this.fdbFlush(call);
    else if (m == "fdb.config") this.fdbConfig(call);
    else if (m == "fdb.add") this.fdbAdd(call);
    else if (m == "fdb.del") this.fdbDel(call);
    else if (m == "mirror.list") this.mirrorList(call);
    else if (m == "mirror.add") this.mirrorAdd(call);
    else if (m == "mirror.remove") this.mirrorRemove(call);
    else if (m == "stats.reset") this.statsReset(call);
    else if (m == "config.get") this.configGet(call);
    else if (m == "config.apply") this.configApply(call);
    else if (m == "capture.start") this.captureStart(call);
    else if (m == "capture.read") this.captureRead(call);
    else if (m == "capture.stop") this.captureStop(call);
    else return false;
    return true;
  }

  /** Reports a switch ConfigError with the code, field and reason it names. */
  private switchError(call: Call, e: ConfigError): void {
    let what = "invalid params";
    if (e.code == 1) what = "not found";
    else if (e.code == 2) what = "conflict";
    else if (e.code == 3) what = "busy";
    else if (e.code == 4) what = "resource limit";
    call.fail(e.code, what + ": " + e.field + ": " + e.reason, e.field, e.reason);
  }

  /** The port of name member `key`, checked to exist; its id or -1. */
  private portArg(call: Call, p: JValue, key: string, prefix: string): i32 {
    const v = p.get(key);
    if (v === null) return -1;
    const name = call.name(v, prefix + key);
    if (name === null) return -1;
    const id = this.sw.portId(name);
    if (id < 0) call.notFound("port", name, prefix + key);
    return id;
  }

  // ---------------------------------------------------------- ports

  private portList(call: Call): void {
    const p = call.paramsObj();
    if (p === null || !call.onlyMembers(p, [], "")) return;
    const names = this.sw.portNames();
    call.w.beginArr();
    for (let i = 0; i < names.length; i++) this.writePort(call.w, this.sw.portId(names[i]));
    call.w.endArr();
  }

  private portGet(call: Call): void {
    const p = call.paramsObj();
    if (p === null || !call.onlyMembers(p, ["port"], "")) return;
    if (call.need(p, "port", "") === null) return;
    const id = this.portArg(call, p, "port", "");
    if (id < 0) return;
    this.writePort(call.w, id);
  }

  private portSet(call: Call): void {
    const p = call.paramsObj();
    if (p === null || !call.onlyMembers(p, ["port", "vlan", "qos", "security", "mtu"], "")) return;
    if (call.need(p, "port", "") === null) return;
    const id = this.portArg(call, p, "port", "");
    if (id < 0) return;
    const name = (p.get("port") as JValue).str;
    // mtu (an addition): checked here with the rest, set only once the whole call is valid
    let mtu: i32 = -1;
    const mv = p.get("mtu");
    if (mv !== null) {
      mtu = <i32>call.int(mv, "mtu", 46, MAX_MTU);
      if (call.failed) return;
    }
    const cfg = this.sw.getPortConfig(name) as PortConfig;
    if (!readPortSettings(call, p, cfg, "")) return;
    const e = this.sw.setPort(cfg);
    if (e !== null) return this.switchError(call, e);
    if (mtu >= 0) this.sw.setMtu(id, mtu);
    this.writePort(call.w, id);
  }

  private writePort(w: JsonWriter, id: i32): void {
    const port = this.sw.port(id);
    if (port === null) {
      w.nul();
      return;
    }
    w.beginObj();
    w.key("name").str(port.name);
    w.key("kind").str(portKindName(port.kind));
    w.key("mac");
    if (port.mac < 0) w.nul();
    else w.str(formatMac(port.mac));
    // GUESTS.md "The machine's NICs": ports of kinds vm and uplink carry their link state
    if (port.kind == KIND_VM || port.kind == KIND_UPLINK) w.key("link").str(port.linkUp ? "up" : "down");
    w.key("vlan");
    writeVlan(w, port.cfg.vlan);
    w.key("qos");
    writeQos(w, port.cfg.qos);
    w.key("security");
    writeSecurity(w, port.cfg.security);
    w.key("mirror_dst").bool(port.mirrorDst);
    w.key("mtu").int(port.mtu);
    const s = port.stats;
    w.key("stats").beginObj();
    w.key("rx_packets").int(s[RX_PACKETS]);
    w.key("rx_bytes").int(s[RX_BYTES]);
    w.key("rx_dropped").int(s[RX_DROPPED]);
    w.key("tx_packets").int(s[TX_PACKETS]);
    w.key("tx_bytes").int(s[TX_BYTES]);
    w.key("tx_dropped").int(s[TX_DROPPED]);
    // drops by reason (an addition): rx reasons add up to rx_dropped, shaper
    // and no_buffer on egress to tx_dropped
    w.key("drops").beginObj();
    for (let r = 0; r < DROP_REASONS; r++) w.key(dropReasonName(r)).int(s[DROP_BASE + r]);
    w.endObj();
    w.endObj();
    w.endObj();
  }

  // ---------------------------------------------------------- fdb

  /** Reads the {vlan?, port?} filter; returns false on error. Sets out[0] vlan, out[1] port id (-1 = any). */
  private fdbFilter(call: Call, p: JValue, out: StaticArray<i32>): bool {
    out[0] = -1;
    out[1] = -1;
    const v = p.get("vlan");
    if (v !== null) {
      out[0] = <i32>call.int(v, "vlan", 1, 4094);
      if (call.failed) return false;
    }
    if (p.get("port") !== null) {
      out[1] = this.portArg(call, p, "port", "");
      if (call.failed) return false;
    }
    return true;
  }

  private fdbList(call: Call): void {
    const p = call.paramsObj();
    if (p === null || !call.onlyMembers(p, ["vlan", "port"], "")) return;
    const f = new StaticArray<i32>(2);
    if (!this.fdbFilter(call, p, f)) return;
    const es = this.sw.fdbList(f[0], f[1], this.now());
    const w = call.w;
    w.beginArr();
    for (let i = 0; i < es.length; i++) {
      const e = es[i];
      w.beginObj();
      w.key("mac").str(formatMac(e.mac));
      w.key("vlan").int(e.vlan);
      w.key("port").str(e.port);
      w.key("static").bool(e.isStatic);
      w.key("age_s").int(e.ageS);
      w.endObj();
    }
    w.endArr();
  }

  private fdbFlush(call: Call): void {
    const p = call.paramsObj();
    if (p === null || !call.onlyMembers(p, ["vlan", "port"], "")) return;
    const f = new StaticArray<i32>(2);
    if (!this.fdbFilter(call, p, f)) return;
    const n = this.sw.fdbFlush(f[0], f[1]);
    call.w.beginObj().key("removed").int(n).endObj();
  }

  private fdbConfig(call: Call): void {
    const p = call.paramsObj();
    if (p === null || !call.onlyMembers(p, ["aging_s", "max_entries"], "")) return;
    let aging: i64 = -1;
    let max: i32 = -1;
    const a = p.get("aging_s");
    if (a !== null) {
      aging = call.int(a, "aging_s", 0, 1000000);
      if (call.failed) return;
      if (aging != 0 && aging < 10) return call.bad("aging_s", "must be 10-1000000 or 0");
    }
    const m = p.get("max_entries");
    if (m !== null) {
      max = <i32>call.int(m, "max_entries", 1, 1048576);
      if (call.failed) return;
    }
    if (aging != -1 || max != -1) {
      const e = this.sw.fdbConfig(aging, max);
      if (e !== null) return this.switchError(call, e);
    }
    call.w.beginObj();
    call.w.key("aging_s").int(this.sw.fdbAgingS());
    call.w.key("max_entries").int(this.sw.fdbMaxEntries());
    call.w.endObj();
  }

  /** fdb.add {mac, vlan, port} (an addition): adds or re-points one static entry. */
  private fdbAdd(call: Call): void {
    const p = call.paramsObj();
    if (p === null || !call.onlyMembers(p, ["mac", "vlan", "port"], "")) return;
    const mv = call.need(p, "mac", "");
    if (mv === null) return;
    const mac = call.mac(mv, "mac");
    if (mac < 0) return;
    const vv = call.need(p, "vlan", "");
    if (vv === null) return;
    const vlan = <i32>call.int(vv, "vlan", 1, 4094);
    if (call.failed) return;
    if (call.need(p, "port", "") === null) return;
    if (this.portArg(call, p, "port", "") < 0) return;
    const e = this.sw.addStatic(<u64>mac, vlan, (p.get("port") as JValue).str);
    // the switch checks the whole static list and names "static[i].mac": name this call's member
    if (e !== null) return this.switchError(call, new ConfigError(e.code, e.field.slice(e.field.lastIndexOf(".") + 1), e.reason));
    this.writeStatic(call.w, <u64>mac, vlan);
  }

  /** fdb.del {mac, vlan} (an addition): removes one static entry; error 1 when there is none. */
  private fdbDel(call: Call): void {
    const p = call.paramsObj();
    if (p === null || !call.onlyMembers(p, ["mac", "vlan"], "")) return;
    const mv = call.need(p, "mac", "");
    if (mv === null) return;
    const mac = call.mac(mv, "mac");
    if (mac < 0) return;
    const vv = call.need(p, "vlan", "");
    if (vv === null) return;
    const vlan = <i32>call.int(vv, "vlan", 1, 4094);
    if (call.failed) return;
    const e = this.sw.removeStatic(<u64>mac, vlan);
    if (e !== null) return this.switchError(call, e);
    call.w.beginObj().endObj();
  }

  private writeStatic(w: JsonWriter, mac: u64, vlan: i32): void {
    const es = this.sw.staticEntries();
    for (let i = 0; i < es.length; i++) {
      if (es[i].mac != mac || es[i].vlan != vlan) continue;
      w.beginObj();
      w.key("mac").str(formatMac(<i64>mac));
      w.key("vlan").int(vlan);
      w.key("port").str(es[i].port);
      w.key("static").bool(true);
      w.endObj();
      return;
    }
    w.nul();
  }

  // ---------------------------------------------------------- mirrors

  private mirrorList(call: Call): void {
    const p = call.paramsObj();
    if (p === null || !call.onlyMembers(p, [], "")) return;
    const names = this.sw.mirrorNames();
    call.w.beginArr();
    for (let i = 0; i < names.length; i++) this.writeMirror(call.w, names[i], true);
    call.w.endArr();
  }

  private writeMirror(w: JsonWriter, name: string, stats: bool): void {
    const m = this.sw.getMirror(name);
    if (m === null) {
      w.nul();
      return;
    }
    w.beginObj();
    writeMirrorMembers(w, m);
    if (stats) {
      w.key("stats").beginObj();
      w.key("packets").int(this.sw.mirrorPackets(name));
      w.key("bytes").int(this.sw.mirrorBytes(name));
      w.endObj();
    }
    w.endObj();
  }

  private mirrorAdd(call: Call): void {
    const p = call.paramsObj();
    if (p === null) return;
    const m = readMirror(call, p, "");
    if (m === null) return;
    const e = this.sw.addMirror(m);
    if (e !== null) return this.switchError(call, e);
    this.writeMirror(call.w, m.name, true);
  }

  // ---------------------------------------------------------- capture (an addition to protocol version 1)

  /**
   * capture.start {port, vlan?}: a temporary mirror of everything `port` receives and sends (one VLAN's
   * frames with `vlan`) to the internal port CAPTURE_PORT, whose queue capture.read drains. One capture at a
   * time; error 2 while one runs. Frames the queue cannot hold are counted as that port's tx_dropped.
   */
  private captureStart(call: Call): void {
    const p = call.paramsObj();
    if (p === null || !call.onlyMembers(p, ["port", "vlan"], "")) return;
    const pv = call.need(p, "port", "");
    if (pv === null) return;
    const port = call.name(pv, "port");
    if (port === null) return;
    let vlan: i64 = 0;
    const vv = p.get("vlan");
    if (vv !== null) {
      vlan = call.int(vv, "vlan", 1, 4094);
      if (call.failed) return;
    }
    if (this.sw.portId(port) < 0) return call.notFound("port", port, "port");
    if (this.sw.portId(CAPTURE_PORT) >= 0) return call.fail(2, "a capture is running (capture.stop ends it)", "port", "a capture is running");
    if (this.sw.addPort(CAPTURE_PORT, KIND_INTERNAL) < 0) return this.switchError(call, <ConfigError>this.sw.lastError);
    const m = new MirrorConfig(CAPTURE_PORT);
    m.srcPorts.push(new MirrorSource(port, DIR_BOTH));
    if (vlan > 0) m.srcVlans.add(<i32>vlan);
    m.dstPort = CAPTURE_PORT;
    const e = this.sw.addMirror(m);
    if (e !== null) {
      this.sw.removePort(CAPTURE_PORT);
      return this.switchError(call, e);
    }
    const w = call.w;
    w.beginObj();
    w.key("port").str(port);
    w.key("capture_port").str(CAPTURE_PORT);
    w.endObj();
  }

  /** capture.read {max?}: up to `max` (default 32, at most 64) captured frames, oldest first, as hex. */
  private captureRead(call: Call): void {
    const p = call.paramsObj();
    if (p === null || !call.onlyMembers(p, ["max"], "")) return;
    let max: i64 = 32;
    const mv = p.get("max");
    if (mv !== null) {
      max = call.int(mv, "max", 1, 64);
      if (call.failed) return;
    }
    const id = this.sw.portId(CAPTURE_PORT);
    if (id < 0) return call.fail(2, "no capture is running (capture.start begins one)", "", "no capture");
    const w = call.w;
    w.beginObj();
    w.key("uptime_ms").int(this.host.nowMs);
    w.key("frames").beginArr();
    const b = this.captureBatch;
    let left = <i32>max;
    while (left > 0) {
      // at most `left` frames: the others stay queued for the next read (taking a whole batch lost the
      // frames beyond `max` without counting them)
      const n = this.sw.tx(id, b, this.now(), left);
      if (n == 0) break;
      const pool = this.sw.pool;
      for (let i = 0; i < b.count; i++) {
        const h = b.handles[i];
        w.strHex(pool.data(h), pool.len(h));
        left--;
        pool.free(h);
      }
      b.count = 0;
    }
    w.endArr();
    const port = this.sw.port(id);
    w.key("dropped").int(port !== null ? port.stats[TX_DROPPED] : 0);
    w.endObj();
  }

  /** capture.stop: removes the mirror and the capture port (frames still queued are discarded). */
  private captureStop(call: Call): void {
    const p = call.paramsObj();
    if (p === null || !call.onlyMembers(p, [], "")) return;
    if (this.sw.portId(CAPTURE_PORT) < 0) return call.fail(2, "no capture is running", "", "no capture");
    this.sw.removeMirror(CAPTURE_PORT);
    this.sw.removePort(CAPTURE_PORT);
    call.w.beginObj().endObj();
  }

  private mirrorRemove(call: Call): void {
    const name = call.nameParam();
    if (name === null) return;
    if (this.sw.getMirror(name) === null) return call.notFound("mirror", name, "name");
    const e = this.sw.removeMirror(name);
    if (e !== null) return this.switchError(call, e);
    call.w.beginObj().endObj();
  }

  // ---------------------------------------------------------- stats

  private statsReset(call: Call): void {
    const p = call.paramsObj();
    if (p === null || !call.onlyMembers(p, ["port"], "")) return;
    let name: string | null = null;
    if (p.get("port") !== null) {
      const id = this.portArg(call, p, "port", "");
      if (id < 0) return;
      name = (p.get("port") as JValue).str;
    }
    const e = this.sw.resetStats(name);
    if (e !== null) return this.switchError(call, e);
    call.w.beginObj().endObj();
  }

  // ---------------------------------------------------------- config

  private configGet(call: Call): void {
    const p = call.paramsObj();
    if (p === null || !call.onlyMembers(p, [], "")) return;
    const c = this.sw.getConfig();
    const w = call.w;
    w.beginObj();
    w.key("ports").beginArr();
    for (let i = 0; i < c.ports.length; i++) {
      const pc = c.ports[i];
      w.beginObj();
      w.key("name").str(pc.name);
      w.key("vlan");
      writeVlan(w, pc.vlan);
      w.key("qos");
      writeQos(w, pc.qos);
      w.key("security");
      writeSecurity(w, pc.security);
      w.endObj();
    }
    w.endArr();
    w.key("mirrors").beginArr();
    const ms = c.mirrors as Array<MirrorConfig>;
    for (let i = 0; i < ms.length; i++) writeMirrorConfig(w, ms[i]);
    w.endArr();
    const f = c.fdb as FdbConfig;
    w.key("fdb").beginObj();
    w.key("aging_s").int(f.agingS);
    w.key("max_entries").int(f.maxEntries);
    w.key("static").beginArr();
    for (let i = 0; i < f.statics.length; i++) {
      const s = f.statics[i];
      w.beginObj();
      w.key("mac").str(formatMac(s.mac));
      w.key("vlan").int(s.vlan);
      w.key("port").str(s.port);
      w.endObj();
    }
    w.endArr();
    w.endObj();
    w.endObj();
  }

  private configApply(call: Call): void {
    const p = call.paramsObj();
    if (p === null || !call.onlyMembers(p, ["config", "dry_run"], "")) return;
    let dry = false;
    const d = p.get("dry_run");
    if (d !== null) {
      dry = call.bool(d, "dry_run");
      if (call.failed) return;
    }
    const cv = call.need(p, "config", "");
    if (cv === null) return;
    if (!cv.isObj()) return call.bad("config", "must be an object");
    if (!call.onlyMembers(cv, ["ports", "mirrors", "fdb"], "config.")) return;
    const cfg = new SwitchConfig();
    const ports = cv.get("ports");
    if (ports !== null) {
      if (!ports.isArr()) return call.bad("config.ports", "must be an array");
      if (ports.length() > this.sw.maxPorts) return call.fail(4, "resource limit: config.ports: more entries than ports", "config.ports", "too many entries");
      for (let i = 0; i < ports.length(); i++) {
        const pre = "config.ports[" + i.toString() + "].";
        const pe = ports.at(i);
        if (!pe.isObj()) return call.bad(pre.slice(0, pre.length - 1), "must be an object");
        if (!call.onlyMembers(pe, ["name", "vlan", "qos", "security"], pre)) return;
        const nv = call.need(pe, "name", pre);
        if (nv === null) return;
        const name = call.name(nv, pre + "name");
        if (name === null) return;
        const cur = this.sw.getPortConfig(name);
        if (cur === null) return call.notFound("port", name, pre + "name");
        if (!readPortSettings(call, pe, cur, pre)) return;
        cfg.ports.push(cur);
      }
    }
    const mirrors = cv.get("mirrors");
    if (mirrors !== null) {
      if (!mirrors.isArr()) return call.bad("config.mirrors", "must be an array");
      if (mirrors.length() > 16) return call.fail(4, "resource limit: config.mirrors: at most 16 mirrors", "config.mirrors", "at most 16 mirrors");
      const ms = new Array<MirrorConfig>();
      for (let i = 0; i < mirrors.length(); i++) {
        const pre = "config.mirrors[" + i.toString() + "].";
        const me = mirrors.at(i);
        if (!me.isObj()) return call.bad(pre.slice(0, pre.length - 1), "must be an object");
        const m = readMirror(call, me, pre);
        if (m === null) return;
        ms.push(m);
      }
      cfg.mirrors = ms;
    }
    const fdb = cv.get("fdb");
    if (fdb !== null) {
      const f = readFdb(call, fdb, "config.fdb.", this.sw);
      if (f === null) return;
      cfg.fdb = f;
    }
    const r = this.sw.applyConfig(cfg, dry);
    const e = r.error;
    if (e !== null) return this.switchError(call, e);
    const w = call.w;
    w.beginObj();
    w.key("changes").beginArr();
    for (let i = 0; i < r.changes.length; i++) w.str(r.changes[i]);
    w.endArr();
    w.endObj();
  }
}

// ------------------------------------------------------------ JSON -> model

/** Applies the vlan/qos/security members of obj to cfg (port.set rules). */
function readPortSettings(call: Call, obj: JValue, cfg: PortConfig, pre: string): bool {
  const v = obj.get("vlan");
  if (v !== null) {
    const pv = readVlan(call, v, pre + "vlan");
    if (pv === null) return false;
    cfg.vlan = pv;
  }
  const q = obj.get("qos");
  if (q !== null && !readQos(call, q, cfg.qos, pre + "qos")) return false;
  const s = obj.get("security");
  if (s !== null) {
    const ps = readSecurity(call, s, pre + "security");
    if (ps === null) return false;
    cfg.security = ps;
  }
  return true;
}

/** A VLAN set [id | [lo, hi], ...] into set; false on error. */
function readVlanSet(call: Call, v: JValue, field: string, set: VlanSet): bool {
  if (!v.isArr()) {
    call.bad(field, "must be an array of VLAN ids and [lo, hi] ranges");
    return false;
  }
  if (v.length() > 4094) {
    call.bad(field, "at most 4094 elements");
    return false;
  }
  for (let i = 0; i < v.length(); i++) {
    const f = field + "[" + i.toString() + "]";
    const e = v.at(i);
    if (e.isArr()) {
      if (e.length() != 2) {
        call.bad(f, "a range must be [lo, hi]");
        return false;
      }
      const lo = <i32>call.int(e.at(0), f + "[0]", 1, 4094);
      if (call.failed) return false;
      const hi = <i32>call.int(e.at(1), f + "[1]", 1, 4094);
      if (call.failed) return false;
      if (lo > hi) {
        call.bad(f, "range must have lo <= hi");
        return false;
      }
      set.addRange(lo, hi);
    } else {
      const id = <i32>call.int(e, f, 1, 4094);
      if (call.failed) return false;
      set.add(id);
    }
  }
  return true;
}

function readVlan(call: Call, v: JValue, field: string): PortVlan | null {
  if (!v.isObj()) {
    call.bad(field, "must be an object");
    return null;
  }
  const pre = field + ".";
  const mv = call.need(v, "mode", pre);
  if (mv === null) return null;
  const mode = call.str(mv, pre + "mode");
  if (mode === null) return null;
  let pv: PortVlan;
  if (mode == "access") {
    if (!call.onlyMembers(v, ["mode", "vlan", "tpid"], pre)) return null;
    const idv = call.need(v, "vlan", pre);
    if (idv === null) return null;
    const id = <i32>call.int(idv, pre + "vlan", 1, 4094);
    if (call.failed) return null;
    pv = PortVlan.access(id);
  } else if (mode == "trunk") {
    if (!call.onlyMembers(v, ["mode", "allowed", "native", "native_tagged", "tpid"], pre)) return null;
    const av = call.need(v, "allowed", pre);
    if (av === null) return null;
    const set = new VlanSet();
    if (!readVlanSet(call, av, pre + "allowed", set)) return null;
    if (set.isEmpty()) {
      call.bad(pre + "allowed", "must be a non-empty VLAN set");
      return null;
    }
    let native = 0;
    const nv = v.get("native");
    if (nv !== null && !nv.isNull()) {
      native = <i32>call.int(nv, pre + "native", 1, 4094);
      if (call.failed) return null;
      if (!set.has(native)) {
        call.bad(pre + "native", "must be in allowed");
        return null;
      }
    }
    let tagged = false;
    const tv = v.get("native_tagged");
    if (tv !== null) {
      tagged = call.bool(tv, pre + "native_tagged");
      if (call.failed) return null;
    }
    pv = PortVlan.trunk(set, native, tagged);
  } else {
    call.bad(pre + "mode", 'must be "access" or "trunk"');
    return null;
  }
  const tp = v.get("tpid");
  if (tp !== null) {
    const t = <i32>call.int(tp, pre + "tpid", 0, 0xffff);
    if (call.failed) return null;
    if (t != TPID_8021Q && t != TPID_8021AD) {
      call.bad(pre + "tpid", "must be 33024 (0x8100) or 34984 (0x88a8)");
      return null;
    }
    pv.tpid = t;
  }
  return pv;
}

/** null = turn off; returns false on error. */
function readRate(call: Call, v: JValue, field: string, out: Array<Rate | null>): bool {
  if (v.isNull()) {
    out.push(null);
    return true;
  }
  if (!v.isObj()) {
    call.bad(field, "must be {rate_kbps, burst_bytes} or null");
    return false;
  }
  const pre = field + ".";
  if (!call.onlyMembers(v, ["rate_kbps", "burst_bytes"], pre)) return false;
  const r = call.need(v, "rate_kbps", pre);
  if (r === null) return false;
  const rate = call.int(r, pre + "rate_kbps", 1, 100000000);
  if (call.failed) return false;
  const b = call.need(v, "burst_bytes", pre);
  if (b === null) return false;
  const burst = call.int(b, pre + "burst_bytes", 1, 1073741824);
  if (call.failed) return false;
  out.push(new Rate(rate, burst));
  return true;
}

/** Updates q: absent ingress/egress keep their value, null turns them off. */
function readQos(call: Call, v: JValue, q: PortQos, field: string): bool {
  if (!v.isObj()) {
    call.bad(field, "must be an object");
    return false;
  }
  const pre = field + ".";
  if (!call.onlyMembers(v, ["ingress", "egress", "storm"], pre)) return false;
  const tmp = new Array<Rate | null>();
  const i = v.get("ingress");
  if (i !== null) {
    if (!readRate(call, i, pre + "ingress", tmp)) return false;
    q.ingress = tmp[0];
  }
  const e = v.get("egress");
  if (e !== null) {
    if (!readRate(call, e, pre + "egress", tmp)) return false;
    q.egress = tmp[tmp.length - 1];
  }
  const s = v.get("storm");
  if (s !== null) {
    // storm control (an extension): packets per second, 0 = off; replaced whole
    if (!s.isObj()) {
      call.bad(pre + "storm", "must be an object");
      return false;
    }
    const sp = pre + "storm.";
    if (!call.onlyMembers(s, ["broadcast_pps", "multicast_pps", "unknown_unicast_pps"], sp)) return false;
    let b: i64 = 0;
    let m: i64 = 0;
    let u: i64 = 0;
    const bv = s.get("broadcast_pps");
    if (bv !== null) b = call.int(bv, sp + "broadcast_pps", 0, 100000000);
    const mv = s.get("multicast_pps");
    if (mv !== null && !call.failed) m = call.int(mv, sp + "multicast_pps", 0, 100000000);
    const uv = s.get("unknown_unicast_pps");
    if (uv !== null && !call.failed) u = call.int(uv, sp + "unknown_unicast_pps", 0, 100000000);
    if (call.failed) return false;
    q.stormBroadcastPps = b;
    q.stormMulticastPps = m;
    q.stormUnknownUnicastPps = u;
  }
  return true;
}

function readSecurity(call: Call, v: JValue, field: string): PortSecurity | null {
  if (!v.isObj()) {
    call.bad(field, "must be an object");
    return null;
  }
  const pre = field + ".";
  if (!call.onlyMembers(v, ["max_macs", "allowed_macs"], pre)) return null;
  const s = new PortSecurity();
  const m = v.get("max_macs");
  if (m !== null) {
    s.maxMacs = <i32>call.int(m, pre + "max_macs", 0, 1048576);
    if (call.failed) return null;
  }
  const a = v.get("allowed_macs");
  if (a !== null) {
    if (!a.isArr()) {
      call.bad(pre + "allowed_macs", "must be an array of MAC addresses");
      return null;
    }
    if (a.length() > 1024) {
      call.bad(pre + "allowed_macs", "at most 1024 entries");
      return null;
    }
    for (let i = 0; i < a.length(); i++) {
      const f = pre + "allowed_macs[" + i.toString() + "]";
      const mac = call.mac(a.at(i), f);
      if (mac < 0) return null;
      if (((mac >> 40) & 1) != 0) {
        call.bad(f, "must be a unicast MAC");
        return null;
      }
      let dup = false;
      for (let j = 0; j < s.allowedMacs.length; j++) if (s.allowedMacs[j] == <u64>mac) dup = true;
      if (!dup) s.allowedMacs.push(<u64>mac);
    }
  }
  return s;
}

function readMirror(call: Call, v: JValue, pre: string): MirrorConfig | null {
  if (!call.onlyMembers(v, ["name", "src_ports", "src_vlans", "dst_port"], pre)) return null;
  const nv = call.need(v, "name", pre);
  if (nv === null) return null;
  const name = call.name(nv, pre + "name");
  if (name === null) return null;
  const m = new MirrorConfig(name);
  const sp = v.get("src_ports");
  if (sp !== null) {
    if (!sp.isArr()) {
      call.bad(pre + "src_ports", "must be an array of {port, dir}");
      return null;
    }
    if (sp.length() > 256) {
      call.bad(pre + "src_ports", "too many entries");
      return null;
    }
    for (let i = 0; i < sp.length(); i++) {
      const f = pre + "src_ports[" + i.toString() + "]";
      const e = sp.at(i);
      if (!e.isObj()) {
        call.bad(f, "must be {port, dir}");
        return null;
      }
      if (!call.onlyMembers(e, ["port", "dir"], f + ".")) return null;
      const pv = call.need(e, "port", f + ".");
      if (pv === null) return null;
      const port = call.name(pv, f + ".port");
      if (port === null) return null;
      let dir = parseDir("both");
      const dv = e.get("dir");
      if (dv !== null) {
        const ds = call.str(dv, f + ".dir");
        if (ds === null) return null;
        dir = parseDir(ds);
        if (dir < 0) {
          call.bad(f + ".dir", 'must be "rx", "tx" or "both"');
          return null;
        }
      }
      m.srcPorts.push(new MirrorSource(port, dir));
    }
  }
  const sv = v.get("src_vlans");
  if (sv !== null && !readVlanSet(call, sv, pre + "src_vlans", m.srcVlans)) return null;
  const dv = call.need(v, "dst_port", pre);
  if (dv === null) return null;
  const dst = call.name(dv, pre + "dst_port");
  if (dst === null) return null;
  m.dstPort = dst;
  const e = m.validate(pre);
  if (e !== null) {
    call.fail(e.code, "invalid params: " + e.field + ": " + e.reason, e.field, e.reason);
    return null;
  }
  return m;
}

/** The fdb section of config.apply: members present replace, absent ones keep the switch's current settings. */
function readFdb(call: Call, v: JValue, pre: string, sw: Switch): FdbConfig | null {
  const field = pre.slice(0, pre.length - 1);
  if (!v.isObj()) {
    call.bad(field, "must be an object");
    return null;
  }
  if (!call.onlyMembers(v, ["aging_s", "max_entries", "static"], pre)) return null;
  const f = new FdbConfig();
  f.agingS = sw.fdbAgingS();
  f.maxEntries = sw.fdbMaxEntries();
  const a = v.get("aging_s");
  if (a !== null) {
    f.agingS = call.int(a, pre + "aging_s", 0, 1000000);
    if (call.failed) return null;
    if (f.agingS != 0 && f.agingS < 10) {
      call.bad(pre + "aging_s", "must be 10-1000000 or 0");
      return null;
    }
  }
  const m = v.get("max_entries");
  if (m !== null) {
    f.maxEntries = <i32>call.int(m, pre + "max_entries", 1, 1048576);
    if (call.failed) return null;
  }
  const s = v.get("static");
  if (s === null) f.statics = sw.staticEntries();
  else {
    if (!s.isArr()) {
      call.bad(pre + "static", "must be an array of {mac, vlan, port}");
      return null;
    }
    for (let i = 0; i < s.length(); i++) {
      const fp = pre + "static[" + i.toString() + "]";
      const e = s.at(i);
      if (!e.isObj()) {
        call.bad(fp, "must be {mac, vlan, port}");
        return null;
      }
      if (!call.onlyMembers(e, ["mac", "vlan", "port"], fp + ".")) return null;
      const mv = call.need(e, "mac", fp + ".");
      if (mv === null) return null;
      const mac = call.mac(mv, fp + ".mac");
      if (mac < 0) return null;
      const vv = call.need(e, "vlan", fp + ".");
      if (vv === null) return null;
      const vlan = <i32>call.int(vv, fp + ".vlan", 1, 4094);
      if (call.failed) return null;
      const pv = call.need(e, "port", fp + ".");
      if (pv === null) return null;
      const port = call.name(pv, fp + ".port");
      if (port === null) return null;
      f.statics.push(new StaticEntry(<u64>mac, vlan, port));
    }
  }
  return f;
}

// ------------------------------------------------------------ model -> JSON

/** Writes a VLAN set normalised: sorted ids, adjacent ids merged into [lo, hi]. */
function writeVlanSet(w: JsonWriter, s: VlanSet): void {
  const r = s.toRanges();
  w.beginArr();
  for (let i = 0; i < r.length; i += 2) writeRun(w, r[i], r[i + 1]);
  w.endArr();
}

function writeRun(w: JsonWriter, lo: i32, hi: i32): void {
  if (lo == hi) w.int(lo);
  else w.beginArr().int(lo).int(hi).endArr();
}

function writeVlan(w: JsonWriter, v: PortVlan): void {
  w.beginObj();
  if (v.mode == VLAN_ACCESS) {
    w.key("mode").str("access");
    w.key("vlan").int(v.vlan);
  } else {
    w.key("mode").str("trunk");
    w.key("allowed");
    writeVlanSet(w, v.allowed);
    w.key("native");
    if (v.native == 0) w.nul();
    else w.int(v.native);
    w.key("native_tagged").bool(v.nativeTagged);
  }
  if (v.tpid != TPID_8021Q) w.key("tpid").int(v.tpid);
  w.endObj();
}

function writeRate(w: JsonWriter, r: Rate | null): void {
  if (r === null) {
    w.nul();
    return;
  }
  w.beginObj();
  w.key("rate_kbps").int(r.rateKbps);
  w.key("burst_bytes").int(r.burstBytes);
  w.endObj();
}

function writeQos(w: JsonWriter, q: PortQos): void {
  w.beginObj();
  w.key("ingress");
  writeRate(w, q.ingress);
  w.key("egress");
  writeRate(w, q.egress);
  if (q.stormBroadcastPps != 0 || q.stormMulticastPps != 0 || q.stormUnknownUnicastPps != 0) {
    w.key("storm").beginObj();
    w.key("broadcast_pps").int(q.stormBroadcastPps);
    w.key("multicast_pps").int(q.stormMulticastPps);
    w.key("unknown_unicast_pps").int(q.stormUnknownUnicastPps);
    w.endObj();
  }
  w.endObj();
}

function writeSecurity(w: JsonWriter, s: PortSecurity): void {
  w.beginObj();
  w.key("max_macs").int(s.maxMacs);
  w.key("allowed_macs").beginArr();
  for (let i = 0; i < s.allowedMacs.length; i++) w.str(formatMac(s.allowedMacs[i]));
  w.endArr();
  w.endObj();
}

function writeMirrorConfig(w: JsonWriter, m: MirrorConfig): void {
  w.beginObj();
  writeMirrorMembers(w, m);
  w.endObj();
}

function writeMirrorMembers(w: JsonWriter, m: MirrorConfig): void {
  w.key("name").str(m.name);
  w.key("src_ports").beginArr();
  for (let i = 0; i < m.srcPorts.length; i++) {
    w.beginObj();
    w.key("port").str(m.srcPorts[i].port);
    w.key("dir").str(dirName(m.srcPorts[i].dir));
    w.endObj();
  }
  w.endArr();
  w.key("src_vlans");
  writeVlanSet(w, m.srcVlans);
  w.key("dst_port").str(m.dstPort);
}
