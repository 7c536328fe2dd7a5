// Compiles an AssemblyScript test entry (devices, x86 decoder, Linux boot) for Node into build/as-test/<hash>/ and loads it.
import { dirname, join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { buildEntry as buildShared, root } from "../lib/as-build";
import { rng } from "../lib/rng";
export { rng, root };

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
