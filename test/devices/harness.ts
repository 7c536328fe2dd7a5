// Compiles an AssemblyScript test entry (devices, x86 decoder, Linux boot) for Node into build/as-test/<hash>/ and loads it.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Every .ts file the entries may reach: the contract, the devices and the pure vmm parts. */
function sources(entry: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    if (!existsSync(d)) return;
    for (const f of readdirSync(d).sort()) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (f.endsWith(".ts")) out.push(p);
    }
  };
  for (const d of ["src/lib", "src/devices", "src/vmm/x86", "src/vmm/linux"]) walk(join(root, d));
  out.push(entry);
  return out;
}

/** Compiles `entry` (absolute path) once per content hash; safe when several vitest workers race. */
export async function buildEntry(entry: string): Promise<string> {
  const h = createHash("sha256");
  for (const f of sources(entry)) h.update(relative(root, f)).update(readFileSync(f));
  const dir = join(root, "build", "as-test", h.digest("hex").slice(0, 16));
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
      [relative(root, entry), "--target", "node", "--bindings", "esm", "-o", join(tmp, "m.wasm")],
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
