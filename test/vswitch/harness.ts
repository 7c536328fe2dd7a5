// Builds the AssemblyScript switch for Node (build/vswitch/<hash>/) and wraps test/vswitch/entry.ts for the suites.
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { buildEntry as buildShared, root } from "../lib/as-build";
export { root };

/** Compiles entry.ts (if it or the switch's sources changed) and returns the wasm path (test/lib/as-build.ts). */
export function buildEntry(): Promise<string> {
  return buildShared("vswitch", "test/vswitch/entry.ts", ["src/vswitch", "src/lib"]);
}

export const RX_PACKETS = 0, RX_BYTES = 1, RX_DROPPED = 2, TX_PACKETS = 3, TX_BYTES = 4, TX_DROPPED = 5, DROP_BASE = 6;
export const DROP = { vlan: 0, policer: 1, shaper: 2, security: 3, storm: 4, no_buffer: 5, malformed: 6, mirror_dst: 7, filtered: 8 } as const;
export const STAT_NAMES = ["rx_packets", "rx_bytes", "rx_dropped", "tx_packets", "tx_bytes", "tx_dropped",
  ...Object.keys(DROP).map((k) => `drop_${k}`)];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Exports = any;

/** A typed face over the compiled entry. Times are in nanoseconds (number). */
export class Sw {
  constructor(readonly x: Exports) {}
  reset(pool = 4096, maxPorts = 64): void {
    this.x.reset(pool, maxPorts);
  }
  addPort(name: string, kind = 3, mac = ""): number {
    return this.x.addPort(name, kind, mac);
  }
  lastError(): string {
    return this.x.lastError();
  }
  id(name: string): number {
    return this.x.portId(name);
  }
  access(name: string, vlan: number, tpid = 0): string {
    return this.x.setAccess(name, vlan, tpid);
  }
  trunk(name: string, allowed: number[], native: number | null, nativeTagged = false, tpid = 0): string {
    return this.x.setTrunk(name, allowed, native ?? 0, nativeTagged, tpid);
  }
  qos(name: string, o: { ingress?: [number, number]; egress?: [number, number]; b?: number; m?: number; u?: number }): string {
    const i = o.ingress ?? [-1, 0];
    const e = o.egress ?? [-1, 0];
    return this.x.setQos(name, BigInt(i[0]), BigInt(i[1]), BigInt(e[0]), BigInt(e[1]), BigInt(o.b ?? 0), BigInt(o.m ?? 0), BigInt(o.u ?? 0));
  }
  security(name: string, maxMacs: number, macs: string[] = []): string {
    return this.x.setSecurity(name, maxMacs, macs.join(","));
  }
  mtu(name: string, mtu: number): string {
    return this.x.setMtu(name, mtu);
  }
  mirror(name: string, srcs: string, vlans: number[], dst: string): string {
    return this.x.addMirror(name, srcs, vlans, dst);
  }
  inject(port: number, frame: Uint8Array, now: number): void {
    const mem = new Uint8Array(this.x.memory.buffer, this.x.inPtr(), frame.length);
    mem.set(frame);
    this.x.inject(port, frame.length, BigInt(now));
  }
  pop(port: number, now: number): Uint8Array | null {
    const n = this.x.popFrame(port, BigInt(now));
    if (n < 0) return null;
    return new Uint8Array(this.x.memory.buffer, this.x.outPtr(), n).slice();
  }
  drain(port: number, now: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let f = this.pop(port, now); f; f = this.pop(port, now)) out.push(f);
    return out;
  }
  stat(port: number, idx: number): number {
    return Number(this.x.stat(port, idx));
  }
  stats(port: number): number[] {
    return STAT_NAMES.map((_, i) => this.stat(port, i));
  }
  fdbList(vlan = -1, port = "", now = 0): string[] {
    const s: string = this.x.fdbList(vlan, port, BigInt(now));
    return s === "" ? [] : s.split(";");
  }
  age(now: number): number {
    return this.x.age(BigInt(now));
  }
}

export async function loadSw(): Promise<Sw> {
  const wasm = await buildEntry();
  const mod = await import(pathToFileURL(join(dirname(wasm), "m.js")).href);
  return new Sw(mod);
}

// ---- frames ----

export function mac(s: string): number {
  return parseInt(s.replace(/:/g, ""), 16);
}
export function macBytes(m: number): number[] {
  const out: number[] = [];
  for (let i = 5; i >= 0; i--) out.push(Math.floor(m / 2 ** (8 * i)) & 0xff);
  return out;
}

export interface FrameSpec {
  dst: string | number;
  src: string | number;
  tag?: { tpid?: number; vid: number; pcp?: number; dei?: number } | null;
  etype?: number;
  len?: number; // total length
}

/** Ethernet frame: dst, src, optional tag, ethertype 0x0800 (or etype), payload of a counting pattern to `len` bytes. */
export function frame(s: FrameSpec): Uint8Array {
  const b: number[] = [...macBytes(typeof s.dst === "string" ? mac(s.dst) : s.dst), ...macBytes(typeof s.src === "string" ? mac(s.src) : s.src)];
  if (s.tag) {
    const tpid = s.tag.tpid ?? 0x8100;
    const tci = ((s.tag.pcp ?? 0) << 13) | ((s.tag.dei ?? 0) << 12) | s.tag.vid;
    b.push(tpid >> 8, tpid & 0xff, tci >> 8, tci & 0xff);
  }
  const et = s.etype ?? 0x0800;
  b.push(et >> 8, et & 0xff);
  const len = s.len ?? 64;
  for (let i = 0; b.length < len; i++) b.push((i * 7 + 1) & 0xff);
  return Uint8Array.from(b.slice(0, Math.max(len, 0)));
}

export const hex = (u: Uint8Array): string => Buffer.from(u).toString("hex");
