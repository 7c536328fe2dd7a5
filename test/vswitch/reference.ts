// A small, deliberately plain reference switch in TypeScript: the semantics of MGMT-API.md and src/vswitch/README.md,
// written for clarity (Maps, arrays, BigInt), to be compared frame for frame with the AssemblyScript switch.

export interface Rate { rateKbps: number; burstBytes: number }
export interface RefPortConfig {
  mode: "access" | "trunk";
  vlan: number; // access
  allowed: Set<number>; // trunk
  native: number | null;
  nativeTagged: boolean;
  tpid: number; // 0x8100 or 0x88a8
  ingress: Rate | null;
  egress: Rate | null;
  storm: { b: number; m: number; u: number }; // pps, 0 = off
  maxMacs: number;
  allowedMacs: number[];
  mtu: number;
}

export function defaultPortConfig(): RefPortConfig {
  return { mode: "access", vlan: 1, allowed: new Set(), native: null, nativeTagged: false, tpid: 0x8100, ingress: null, egress: null,
    storm: { b: 0, m: 0, u: 0 }, maxMacs: 0, allowedMacs: [], mtu: 1500 };
}

const SCALE = 1_000_000_000n;

/** Token bucket: `rate` units/s, `cap` units, kept as units x 1e9; starts full; the first use only starts the clock. */
export class Bucket {
  rate: bigint; cap: bigint; tokens: bigint; last = 0n; started = false;
  constructor(rate: number, cap: number) {
    this.rate = BigInt(rate);
    this.cap = BigInt(cap) * SCALE;
    this.tokens = this.cap;
  }
  take(now: bigint, units: number): boolean {
    if (!this.started) {
      this.started = true;
      this.last = now;
    } else if (now > this.last) {
      const elapsed = now - this.last;
      this.last = now;
      if (elapsed > (this.cap - this.tokens) / this.rate) this.tokens = this.cap;
      else this.tokens += elapsed * this.rate;
    }
    const c = BigInt(units) * SCALE;
    if (this.tokens < c) return false;
    this.tokens -= c;
    return true;
  }
}

export const STATS = ["rx_packets", "rx_bytes", "rx_dropped", "tx_packets", "tx_bytes", "tx_dropped",
  "drop_vlan", "drop_policer", "drop_shaper", "drop_security", "drop_storm", "drop_no_buffer", "drop_malformed", "drop_mirror_dst", "drop_filtered"] as const;
type Stat = (typeof STATS)[number];

class RefPort {
  cfg: RefPortConfig = defaultPortConfig();
  stats = new Map<Stat, number>(STATS.map((s) => [s, 0]));
  queues: Uint8Array[][] = [[], [], [], [], [], [], [], []];
  ingress: Bucket | null = null;
  egress: Bucket | null = null;
  stormB: Bucket | null = null;
  stormM: Bucket | null = null;
  stormU: Bucket | null = null;
  learned = 0;
  constructor(readonly id: number, readonly name: string) {}
  add(s: Stat, n = 1): void {
    this.stats.set(s, this.stats.get(s)! + n);
  }
  member(v: number): boolean {
    return this.cfg.mode === "access" ? v === this.cfg.vlan : this.cfg.allowed.has(v);
  }
  leavesTagged(v: number): boolean {
    return this.cfg.mode === "trunk" && !(v === this.cfg.native && !this.cfg.nativeTagged);
  }
}

export interface RefMirror { name: string; src: { port: string; dir: "rx" | "tx" | "both" }[]; vlans: Set<number>; dst: string; packets: number; bytes: number }

interface Entry { port: number; seen: bigint; isStatic: boolean }

const BCAST = 0xffffffffffff;
const isGroup = (m: number): boolean => Math.floor(m / 2 ** 40) % 2 === 1;
const readMac = (f: Uint8Array, o: number): number => f.slice(o, o + 6).reduce((a, b) => a * 256 + b, 0);
const QUEUE_DEPTH = 64;

function pad(f: Uint8Array): Uint8Array {
  if (f.length >= 60) return f;
  const o = new Uint8Array(60);
  o.set(f);
  return o;
}

export class RefSwitch {
  ports = new Map<number, RefPort>(); // by id
  mirrors: RefMirror[] = [];
  fdb = new Map<string, Entry>(); // key "vlan/mac"
  maxEntries = 8192;
  agingNs = 300n * SCALE;

  addPort(id: number, name: string): void {
    this.ports.set(id, new RefPort(id, name));
  }
  /** Detaches a port: its queued frames and FDB entries (static too) go; mirrors sending to it go; it leaves mirror sources. */
  removePort(id: number): void {
    const name = this.ports.get(id)!.name;
    for (const [k, e] of [...this.fdb]) if (e.port === id) this.remove(k);
    this.mirrors = this.mirrors.filter((m) => m.dst !== name);
    for (const m of this.mirrors) m.src = m.src.filter((s) => s.port !== name);
    this.ports.delete(id);
  }
  private byName(): RefPort[] {
    return [...this.ports.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
  private portByName(n: string): RefPort | undefined {
    return [...this.ports.values()].find((p) => p.name === n);
  }
  isMirrorDst(p: RefPort): boolean {
    return this.mirrors.some((m) => m.dst === p.name);
  }

  /** Replaces a port's settings; VLAN changes flush its learned entries, allowed-MAC changes those no longer allowed; QoS changes restart its buckets. */
  configure(id: number, cfg: RefPortConfig): void {
    const p = this.ports.get(id)!;
    const old = p.cfg;
    const vlanChanged = old.mode !== cfg.mode || old.vlan !== cfg.vlan || old.native !== cfg.native || old.nativeTagged !== cfg.nativeTagged ||
      old.tpid !== cfg.tpid || [...old.allowed].sort().join() !== [...cfg.allowed].sort().join();
    const qosChanged = JSON.stringify([old.ingress, old.egress, old.storm]) !== JSON.stringify([cfg.ingress, cfg.egress, cfg.storm]);
    p.cfg = cfg;
    if (qosChanged || !p.ingress && !p.egress && !p.stormB && !p.stormM && !p.stormU) {
      p.ingress = cfg.ingress ? new Bucket(cfg.ingress.rateKbps * 125, cfg.ingress.burstBytes) : null;
      p.egress = cfg.egress ? new Bucket(cfg.egress.rateKbps * 125, cfg.egress.burstBytes) : null;
      p.stormB = cfg.storm.b ? new Bucket(cfg.storm.b, cfg.storm.b) : null;
      p.stormM = cfg.storm.m ? new Bucket(cfg.storm.m, cfg.storm.m) : null;
      p.stormU = cfg.storm.u ? new Bucket(cfg.storm.u, cfg.storm.u) : null;
    }
    if (vlanChanged) this.flush(-1, id);
    // MGMT-API.md: changing allowed_macs flushes the port's learned entries that are no longer allowed.
    if (old.allowedMacs.join() !== cfg.allowedMacs.join() && cfg.allowedMacs.length > 0)
      for (const [k, e] of [...this.fdb])
        if (!e.isStatic && e.port === id && !cfg.allowedMacs.includes(Number(k.split("/")[1]))) this.remove(k);
  }

  /** Mirrors are given whole; a port that becomes a destination loses its learned entries. */
  setMirrors(ms: Omit<RefMirror, "packets" | "bytes">[]): void {
    const before = new Set(this.mirrors.map((m) => m.dst));
    this.mirrors = ms.map((m) => ({ ...m, packets: 0, bytes: 0 })).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const m of this.mirrors) if (!before.has(m.dst)) this.flush(-1, this.portByName(m.dst)!.id);
  }

  // ---- FDB ----
  private key(vlan: number, m: number): string {
    return `${vlan}/${m}`;
  }
  private remove(k: string): void {
    const e = this.fdb.get(k)!;
    if (!e.isStatic) this.ports.get(e.port)!.learned--;
    this.fdb.delete(k);
  }
  private expired(e: Entry, now: bigint): boolean {
    return this.agingNs !== 0n && !e.isStatic && now - e.seen > this.agingNs;
  }
  /** A lookup; an expired entry it meets is removed. */
  find(vlan: number, m: number, now: bigint): Entry | undefined {
    const k = this.key(vlan, m);
    const e = this.fdb.get(k);
    if (e && this.expired(e, now)) {
      this.remove(k);
      return undefined;
    }
    return e;
  }
  setFdb(agingS: number, maxEntries: number): void {
    this.agingNs = BigInt(agingS) * SCALE;
    this.maxEntries = maxEntries;
  }
  addStatic(m: number, vlan: number, port: number): void {
    this.fdb.set(this.key(vlan, m), { port, seen: 0n, isStatic: true });
  }
  flush(vlan: number, port: number): number {
    let n = 0;
    for (const [k, e] of [...this.fdb]) {
      if (e.isStatic) continue;
      if (vlan >= 0 && !k.startsWith(`${vlan}/`)) continue;
      if (port >= 0 && e.port !== port) continue;
      this.remove(k);
      n++;
    }
    return n;
  }
  age(now: bigint): number {
    let n = 0;
    for (const [k, e] of [...this.fdb]) if (this.expired(e, now)) (this.remove(k), n++);
    return n;
  }

  // ---- frames ----
  private enqueue(q: RefPort, f: Uint8Array, pcp: number): boolean {
    if (q.queues[pcp].length >= QUEUE_DEPTH) {
      q.add("tx_dropped");
      q.add("drop_shaper");
      return false;
    }
    q.queues[pcp].push(f);
    return true;
  }

  receive(id: number, f: Uint8Array, now: bigint): void {
    const p = this.ports.get(id)!;
    const c = p.cfg;
    p.add("rx_packets");
    p.add("rx_bytes", f.length);
    const drop = (why: Stat): void => {
      p.add("rx_dropped");
      p.add(why);
    };
    // 1. malformed
    if (f.length < 14) return drop("drop_malformed");
    const et = (f[12] << 8) | f[13];
    const tagged = et === 0x8100 || (et === 0x88a8 && c.tpid === 0x88a8);
    if (tagged && (f.length < 18 || f.length > c.mtu + 18)) return drop("drop_malformed");
    if (!tagged && f.length > c.mtu + 14) return drop("drop_malformed");
    const tci = tagged ? (f[14] << 8) | f[15] : 0;
    const vid = tci & 0xfff;
    // 2. VLAN filter
    let vlan: number;
    if (tagged && vid !== 0) {
      if (vid === 4095 || c.mode === "access" || !c.allowed.has(vid)) return drop("drop_vlan");
      vlan = vid;
    } else {
      const v = c.mode === "access" ? c.vlan : c.native;
      if (v === null) return drop("drop_vlan");
      vlan = v;
    }
    // 3. mirror destination
    if (this.isMirrorDst(p)) return drop("drop_mirror_dst");
    const dst = readMac(f, 0);
    const src = readMac(f, 6);
    // 4. port security
    if (c.allowedMacs.length > 0 && !c.allowedMacs.includes(src)) return drop("drop_security");
    if (c.maxMacs > 0 && !isGroup(src)) {
      const e = this.find(vlan, src, now);
      const wouldLearnHere = !e || (!e.isStatic && e.port !== p.id);
      if (wouldLearnHere && p.learned >= c.maxMacs) return drop("drop_security");
    }
    // 5. storm control
    if (p.stormB || p.stormM || p.stormU) {
      let b: Bucket | null = null;
      if (dst === BCAST) b = p.stormB;
      else if (isGroup(dst)) b = p.stormM;
      else if (p.stormU && !this.find(vlan, dst, now)) b = p.stormU;
      if (b && !b.take(now, 1)) return drop("drop_storm");
    }
    // 6. policer
    if (p.ingress && !p.ingress.take(now, f.length)) return drop("drop_policer");
    // 7. learning
    if (!isGroup(src)) {
      const e = this.find(vlan, src, now);
      if (e) {
        if (!e.isStatic) {
          if (e.port !== p.id) {
            this.ports.get(e.port)!.learned--;
            p.learned++;
            e.port = p.id;
          }
          e.seen = now;
        }
      } else if (this.fdb.size < this.maxEntries) {
        this.fdb.set(this.key(vlan, src), { port: p.id, seen: now, isStatic: false });
        p.learned++;
      }
    }
    // 8. forwarding
    let out: RefPort[] = [];
    const flood = (): RefPort[] => this.byName().filter((q) => q.id !== p.id && !this.isMirrorDst(q) && q.member(vlan));
    if (!isGroup(dst)) {
      const e = this.find(vlan, dst, now);
      if (e) {
        const q = this.ports.get(e.port);
        if (!q || q.id === p.id || this.isMirrorDst(q) || !q.member(vlan)) drop("drop_filtered");
        else out = [q];
      } else out = flood();
    } else out = flood();
    const payload = f.slice(tagged ? 16 : 12);
    const pcp = tci >> 13;
    const sent = new Map<string, Uint8Array>();
    for (const q of out) {
      let o: Uint8Array;
      if (q.leavesTagged(vlan)) {
        const t = (tci & 0xf000) | vlan; // PCP and DEI kept
        o = new Uint8Array([...f.slice(0, 12), q.cfg.tpid >> 8, q.cfg.tpid & 0xff, t >> 8, t & 0xff, ...payload]);
      } else o = new Uint8Array([...f.slice(0, 12), ...payload]);
      o = pad(o);
      if (this.enqueue(q, o, pcp)) sent.set(q.name, o);
    }
    // mirrors, in name order
    for (const m of this.mirrors) {
      const rxHit = m.vlans.has(vlan) || m.src.some((s) => s.port === p.name && s.dir !== "tx");
      let copy: Uint8Array | undefined;
      if (rxHit) copy = pad(f.slice());
      else {
        const txPort = out.find((q) => sent.has(q.name) && m.src.some((s) => s.port === q.name && s.dir !== "rx"));
        if (txPort) copy = sent.get(txPort.name)!.slice();
      }
      if (!copy) continue;
      const d = this.portByName(m.dst)!;
      if (this.enqueue(d, copy, pcp)) {
        m.packets++;
        m.bytes += copy.length;
      }
    }
  }

  /** The next frame out of a port: highest PCP queue first; a shaper may hold it back. */
  pop(id: number, now: bigint): Uint8Array | null {
    const p = this.ports.get(id)!;
    for (let pr = 7; pr >= 0; pr--) {
      const q = p.queues[pr];
      if (q.length === 0) continue;
      if (p.egress && !p.egress.take(now, q[0].length)) return null;
      const f = q.shift()!;
      p.add("tx_packets");
      p.add("tx_bytes", f.length);
      return f;
    }
    return null;
  }

  /** fdb.list as "mac vlan port static|dynamic" (ages left out), sorted by VLAN then MAC, expired entries not shown. */
  list(now: bigint): string[] {
    const rows: [number, number, string][] = [];
    for (const [k, e] of this.fdb) {
      if (this.expired(e, now)) continue;
      const [v, m] = k.split("/").map(Number);
      const mac = m.toString(16).padStart(12, "0").replace(/(..)(?!$)/g, "$1:");
      rows.push([v, m, `${mac} ${v} ${this.ports.get(e.port)!.name} ${e.isStatic ? "static" : "dynamic"}`]);
    }
    return rows.sort((a, b) => a[0] - b[0] || a[1] - b[1]).map((r) => r[2]);
  }

  stats(id: number): number[] {
    const p = this.ports.get(id)!;
    return STATS.map((s) => p.stats.get(s)!);
  }
}
