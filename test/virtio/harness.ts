// Builds an AssemblyScript entry for Node (build/<name>/<hash of sources>/) and loads it: the virtio and virtio-net suites share it.
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { buildEntry, root } from "../lib/as-build";
export { buildEntry, root };


// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Exports = any;

export async function load(name: string, entry: string, dirs: string[], ascArgs: string[] = []): Promise<{ x: Exports; wasm: string }> {
  const wasm = await buildEntry(name, entry, dirs, ascArgs);
  return { x: await import(pathToFileURL(join(dirname(wasm), "m.js")).href), wasm };
}

/**
 * What the virtio-net entry (test/devices/virtio-net/entry.ts) reaches, for its build's cache key: the device,
 * the switch, and the management methods it answers net.* with. One list, so no loader keeps a stale build.
 */
export const NET_SOURCES = ["src/virtio", "src/lib", "src/devices/virtio-net", "src/vswitch", "src/mgmt-api"];

/** The virtqueue entry (test/virtio/entry.ts). */
export function loadVirtio(): Promise<{ x: Exports; wasm: string }> {
  return load("virtio", "test/virtio/entry.ts", ["src/virtio", "src/lib"]);
}

/** Little-endian views of the simulated guest memory (re-made per call: memory may grow). */
export class Guest {
  constructor(readonly x: Exports) {}
  private dv(): DataView {
    return new DataView(this.x.memory.buffer, this.x.memBase());
  }
  u8(a: number, v?: number): number {
    if (v !== undefined) this.dv().setUint8(a, v);
    return this.dv().getUint8(a);
  }
  u16(a: number, v?: number): number {
    if (v !== undefined) this.dv().setUint16(a, v, true);
    return this.dv().getUint16(a, true);
  }
  u32(a: number, v?: number): number {
    if (v !== undefined) this.dv().setUint32(a, v >>> 0, true);
    return this.dv().getUint32(a, true);
  }
  u64(a: number, v?: bigint | number): bigint {
    if (v !== undefined) this.dv().setBigUint64(a, BigInt(v), true);
    return this.dv().getBigUint64(a, true);
  }
  bytes(a: number, n: number): Uint8Array {
    return new Uint8Array(this.x.memory.buffer, this.x.memBase() + a, n).slice();
  }
  write(a: number, b: Uint8Array): void {
    new Uint8Array(this.x.memory.buffer, this.x.memBase() + a, b.length).set(b);
  }
  /** Descriptor i of the table at `table`. */
  desc(table: number, i: number, addr: number | bigint, len: number, flags: number, next: number): void {
    const at = table + 16 * i;
    this.u64(at, addr);
    this.u32(at + 8, len);
    this.u16(at + 12, flags);
    this.u16(at + 14, next);
  }
}
