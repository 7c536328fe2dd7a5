// Builds an AssemblyScript entry for Node (build/<name>/<hash of sources>/) and loads it: the virtio and virtio-net suites share it.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const f of readdirSync(dir).sort()) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (f.endsWith(".ts")) out.push(p);
  }
  return out;
}

/** Compiles `entry` (repo-relative) when it or the sources under `dirs` changed; returns the wasm path. Safe when workers race. */
export async function buildEntry(name: string, entry: string, dirs: string[], ascArgs: string[] = []): Promise<string> {
  const h = createHash("sha256");
  h.update(ascArgs.join(" "));
  for (const f of [...dirs.flatMap((d) => tsFiles(join(root, d))), join(root, entry)]) h.update(relative(root, f)).update(readFileSync(f));
  const dir = join(root, "build", name, h.digest("hex").slice(0, 16));
  const wasm = join(dir, "m.wasm");
  if (existsSync(wasm)) return wasm;
  const lock = `${dir}.lock`;
  mkdirSync(dirname(lock), { recursive: true });
  const deadline = Date.now() + 300_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (existsSync(wasm)) return wasm;
      if (Date.now() > deadline) break; // a stale lock: compile anyway
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    if (existsSync(wasm)) return wasm;
    const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
    mkdirSync(tmp, { recursive: true });
    const asc = (await import("assemblyscript/asc")).default;
    let errText = "";
    const { error } = await asc.main(
      [entry, "--target", "node", "--bindings", "esm", ...ascArgs, "-o", join(tmp, "m.wasm")],
      { stderr: { write: (s: string | Uint8Array) => ((errText += String(s)), true) } as never },
    );
    if (error) throw new Error(`asc failed: ${error.message}\n${errText}`);
    try {
      renameSync(tmp, dir);
    } catch {
      rmSync(tmp, { recursive: true, force: true }); // another worker won the race
    }
    return wasm;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Exports = any;

export async function load(name: string, entry: string, dirs: string[], ascArgs: string[] = []): Promise<{ x: Exports; wasm: string }> {
  const wasm = await buildEntry(name, entry, dirs, ascArgs);
  return { x: await import(pathToFileURL(join(dirname(wasm), "m.js")).href), wasm };
}

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
