// Compiles an AssemblyScript test entry for Node into build/<name>/<hash of its sources>/m.wasm, once per
// content and safely when vitest workers race (one compiles, the others wait for its result).
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

export function tsFiles(dir: string): string[] {
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
