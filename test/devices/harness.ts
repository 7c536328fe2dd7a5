// Compiles an AssemblyScript test entry (devices, x86 decoder, Linux boot) for Node into build/as-test/<hash>/ and loads it.
import { dirname, join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { buildEntry as buildShared, root } from "../lib/as-build";
export { root };

/** The sources the entries may reach: the contract, the devices and the pure vmm parts. */
const SOURCES = ["src/lib", "src/devices", "src/virtio", "src/vswitch", "src/vmm/x86", "src/vmm/linux"];

/** Compiles `entry` (absolute path) once per content hash into build/as-test/. */
export async function buildEntry(entry: string): Promise<string> {
  return buildShared("as-test", relative(root, entry), SOURCES);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Exports = any;

/** Builds and imports the entry; returns its exports. */
export async function load(entry: string): Promise<Exports> {
  const wasm = await buildEntry(entry);
  return await import(pathToFileURL(join(dirname(wasm), "m.js")).href);
}

/** A small deterministic PRNG (xorshift32) so fuzz failures reproduce from the seed. */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}
