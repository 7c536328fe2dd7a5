// Flat exports over one Switch for the vitest suites and the differential test (compiled with esm bindings).

import {
  Switch, Batch, PortConfig, PortVlan, VlanSet, Rate, MirrorConfig, MirrorSource, SwitchConfig, FdbConfig, StaticEntry,
  ConfigError, parseMac, formatMac, TPID_8021AD, VLAN_TRUNK,
} from "../../src/vswitch/index";

let sw = new Switch();
const inBuf = new StaticArray<u8>(4096);
const outBuf = new StaticArray<u8>(4096);

function err(e: ConfigError | null): string {
  return e == null ? "" : e.code.toString() + " " + e.field + " " + e.reason;
}

/** Starts over with a new switch. */
export function reset(poolBuffers: i32, maxPorts: i32): void {
  sw = new Switch(poolBuffers, maxPorts);
}
export function inPtr(): usize {
  return changetype<usize>(inBuf);
}
export function outPtr(): usize {
  return changetype<usize>(outBuf);
}
export function addPort(name: string, kind: i32, mac: string): i32 {
  return sw.addPort(name, kind, mac == "" ? -1 : <i64>parseMac(mac));
}
export function lastError(): string {
  return err(sw.lastError);
}
export function removePort(name: string): string {
  return err(sw.removePort(name));
}
export function portId(name: string): i32 {
  return sw.portId(name);
}
export function portNames(): string {
  return sw.portNames().join(",");
}

/** ranges: [lo, hi, lo, hi...]; returns "" or an error. */
function vlanSet(ranges: Array<i32>): VlanSet | null {
  const s = new VlanSet();
  for (let i = 0; i + 1 < ranges.length; i += 2) if (!s.addRange(ranges[i], ranges[i + 1])) return null;
  return s;
}

function current(name: string): PortConfig | null {
  return sw.getPortConfig(name);
}

export function setAccess(name: string, vlan: i32, tpid: i32): string {
  const c = current(name);
  if (c == null) return "1 port no such port";
  c.vlan = PortVlan.access(vlan);
  if (tpid != 0) c.vlan.tpid = tpid;
  return err(sw.setPort(c));
}
export function setTrunk(name: string, allowed: Array<i32>, native: i32, nativeTagged: bool, tpid: i32): string {
  const c = current(name);
  if (c == null) return "1 port no such port";
  const s = vlanSet(allowed);
  if (s == null) return "-32602 vlan.allowed bad range";
  c.vlan = PortVlan.trunk(s, native, nativeTagged);
  if (tpid != 0) c.vlan.tpid = tpid;
  return err(sw.setPort(c));
}
/** rates: -1 = none. */
export function setQos(name: string, inKbps: i64, inBurst: i64, outKbps: i64, outBurst: i64, bPps: i64, mPps: i64, uPps: i64): string {
  const c = current(name);
  if (c == null) return "1 port no such port";
  c.qos.ingress = inKbps < 0 ? null : new Rate(inKbps, inBurst);
  c.qos.egress = outKbps < 0 ? null : new Rate(outKbps, outBurst);
  c.qos.stormBroadcastPps = bPps;
  c.qos.stormMulticastPps = mPps;
  c.qos.stormUnknownUnicastPps = uPps;
  return err(sw.setPort(c));
}
/** macs: comma-separated. */
export function setSecurity(name: string, maxMacs: i32, macs: string): string {
  const c = current(name);
  if (c == null) return "1 port no such port";
  c.security.maxMacs = maxMacs;
  c.security.allowedMacs = new Array<u64>();
  if (macs.length > 0) {
    const parts = macs.split(",");
    for (let i = 0; i < parts.length; i++) c.security.allowedMacs.push(parseMac(parts[i]));
  }
  return err(sw.setPort(c));
}
export function setMtu(name: string, mtu: i32): string {
  return err(sw.setMtu(sw.portId(name), mtu));
}
export function portVlanString(name: string): string {
  const c = current(name);
  return c == null ? "" : c.vlan.toString();
}

/** A VlanSet built by addRange over [lo, hi, ...] ("bad" when a range is refused), as its toString. */
export function vlanSetString(ranges: Array<i32>): string {
  const s = vlanSet(ranges);
  return s == null ? "bad" : s.toString();
}

/** srcs: "a:rx,b:both"; vlans as ranges. */
function mirrorCfg(name: string, srcs: string, vlans: Array<i32>, dst: string): MirrorConfig {
  const m = new MirrorConfig(name);
  if (srcs.length > 0) {
    const parts = srcs.split(",");
    for (let i = 0; i < parts.length; i++) {
      const kv = parts[i].split(":");
      m.srcPorts.push(new MirrorSource(kv[0], kv[1] == "rx" ? 1 : kv[1] == "tx" ? 2 : kv[1] == "both" ? 3 : 0));
    }
  }
  const s = vlanSet(vlans);
  if (s != null) m.srcVlans = s;
  m.dstPort = dst;
  return m;
}
export function addMirror(name: string, srcs: string, vlans: Array<i32>, dst: string): string {
  return err(sw.addMirror(mirrorCfg(name, srcs, vlans, dst)));
}
export function removeMirror(name: string): string {
  return err(sw.removeMirror(name));
}
export function mirrorPackets(name: string): i64 {
  return sw.mirrorPackets(name);
}
export function mirrorBytes(name: string): i64 {
  return sw.mirrorBytes(name);
}

export function fdbConfig(agingS: i64, maxEntries: i32): string {
  return err(sw.fdbConfig(agingS, maxEntries));
}
export function addStatic(mac: string, vlan: i32, port: string): string {
  return err(sw.addStatic(parseMac(mac), vlan, port));
}
export function fdbCount(): i32 {
  return sw.fdbCount();
}
/** "mac vlan port static age;..." */
export function fdbList(vlan: i32, port: string, now: i64): string {
  const l = sw.fdbList(vlan, port == "" ? -1 : sw.portId(port), now);
  let s = "";
  for (let i = 0; i < l.length; i++) {
    const e = l[i];
    if (i > 0) s += ";";
    s += formatMac(e.mac) + " " + e.vlan.toString() + " " + e.port + " " + (e.isStatic ? "static" : "dynamic") + " " + e.ageS.toString();
  }
  return s;
}
export function fdbFlush(vlan: i32, port: string): i32 {
  return sw.fdbFlush(vlan, port == "" ? -1 : sw.portId(port));
}
export function age(now: i64): i32 {
  return sw.age(now);
}

export function inject(port: i32, len: i32, now: i64): void {
  sw.inject(port, changetype<usize>(inBuf), len, now);
}
const batch = new Batch();
/** Receives n copies of the frame at inPtr() (len bytes) as one batch through the handle API; false if a batch refused a handle. */
export function rxBatch(port: i32, n: i32, len: i32, now: i64): bool {
  batch.count = 0;
  let ok = true;
  for (let i = 0; i < n; i++) {
    const h = sw.pool.alloc();
    if (h < 0) break;
    memory.copy(sw.pool.data(h), changetype<usize>(inBuf), len);
    store<u8>(sw.pool.data(h) + len - 1, <u8>i); // frames tell apart
    sw.pool.setLen(h, len);
    if (!batch.push(h)) {
      sw.pool.free(h);
      ok = false;
    }
  }
  sw.rx(port, batch, now);
  return ok;
}
/** Takes one batch from port with tx(); returns "len:lastbyte,..." and frees the frames. */
export function txBatch(port: i32, now: i64): string {
  const n = sw.tx(port, batch, now);
  let s = "";
  for (let i = 0; i < n; i++) {
    const h = batch.handles[i];
    if (i > 0) s += ",";
    s += sw.pool.len(h).toString() + ":" + load<u8>(sw.pool.data(h) + sw.pool.len(h) - 1).toString();
    sw.pool.free(h);
  }
  return s;
}
export function popFrame(port: i32, now: i64): i32 {
  return sw.popFrame(port, changetype<usize>(outBuf), now);
}
export function queued(port: i32): i32 {
  return sw.queued(port);
}
export function stat(port: i32, idx: i32): i64 {
  return sw.stat(port, idx);
}
export function resetStats(name: string): string {
  return err(sw.resetStats(name == "" ? null : name));
}
export function poolAvailable(): i32 {
  return sw.pool.available();
}

// ---- whole-config operations, driven by a tiny line format for tests ----
// "port NAME access V" | "port NAME trunk lo-hi,.. NATIVE [tagged]" | "mirror NAME SRC(a:rx,..|-) VLANS(lo-hi|-) DST" | "fdb AGING MAX" | "static MAC VLAN PORT"

function parseRanges(s: string): VlanSet {
  const v = new VlanSet();
  if (s == "-") return v;
  const parts = s.split(",");
  for (let i = 0; i < parts.length; i++) {
    const r = parts[i].split("-");
    const lo = I32.parseInt(r[0]);
    const hi = r.length > 1 ? I32.parseInt(r[1]) : lo;
    if (!v.addRange(lo, hi)) v.bits[127] |= 0x80000000; // marks 4095: makes validation fail loudly
  }
  return v;
}

function buildConfig(text: string): SwitchConfig {
  const c = new SwitchConfig();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const w = lines[i].split(" ");
    if (w[0] == "port") {
      const pc = sw.getPortConfig(w[1]);
      const p = pc == null ? new PortConfig(w[1]) : pc;
      if (w[2] == "access") p.vlan = PortVlan.access(I32.parseInt(w[3]));
      else {
        p.vlan = PortVlan.trunk(parseRanges(w[3]), I32.parseInt(w[4]), w.length > 5 && w[5] == "tagged");
      }
      c.ports.push(p);
    } else if (w[0] == "mirror") {
      if (c.mirrors == null) c.mirrors = new Array<MirrorConfig>();
      const m = mirrorCfg(w[1], w[2] == "-" ? "" : w[2], new Array<i32>(), w[4]);
      m.srcVlans = parseRanges(w[3]);
      c.mirrors!.push(m);
    } else if (w[0] == "fdb") {
      const f = new FdbConfig();
      f.agingS = I64.parseInt(w[1]);
      f.maxEntries = I32.parseInt(w[2]);
      c.fdb = f;
    } else if (w[0] == "static") {
      if (c.fdb == null) c.fdb = new FdbConfig();
      c.fdb!.statics.push(new StaticEntry(parseMac(w[1]), I32.parseInt(w[2]), w[3]));
    } else if (w[0] == "nomirrors") {
      c.mirrors = new Array<MirrorConfig>();
    }
  }
  return c;
}

/** Returns "ERR code field reason" or the change list joined by "\n". */
export function applyConfig(text: string, dryRun: bool): string {
  const r = sw.applyConfig(buildConfig(text), dryRun);
  if (r.error != null) return "ERR " + err(r.error);
  return r.changes.join("\n");
}
/** A one-line-per-item dump of config.get. */
export function getConfig(): string {
  const c = sw.getConfig();
  let s = "";
  for (let i = 0; i < c.ports.length; i++) s += "port " + c.ports[i].name + " " + c.ports[i].vlan.toString() + "\n";
  const ms = c.mirrors!;
  for (let i = 0; i < ms.length; i++) s += "mirror " + ms[i].name + " " + ms[i].toString() + "\n";
  const f = c.fdb!;
  s += "fdb " + f.agingS.toString() + " " + f.maxEntries.toString() + "\n";
  for (let i = 0; i < f.statics.length; i++) s += "static " + formatMac(f.statics[i].mac) + " " + f.statics[i].vlan.toString() + " " + f.statics[i].port + "\n";
  return s;
}

// Keep otherwise-unused imports referenced.
export const TPID_AD: i32 = TPID_8021AD;
export const MODE_TRUNK: i32 = VLAN_TRUNK;

// ---- the ready set (ready.ts) ----
const readyOut = new StaticArray<i32>(256);
/** Takes up to max marked port ids; returns them comma-separated in marking order. */
export function readyTake(max: i32): string {
  const out = max >= 256 ? readyOut : new StaticArray<i32>(max);
  const n = sw.ready.take(out);
  let s = "";
  for (let i = 0; i < n; i++) s += (i > 0 ? "," : "") + out[i].toString();
  return s;
}
export function readyCount(): i32 {
  return sw.ready.count;
}
