// Builds test/drivers/entry.ts (the drivers' pure parts) for Node once per source hash and instantiates it.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Everything entry.ts can reach: a change in any of these rebuilds. */
function sources(): string[] {
  const dirs = ["src/drivers", "src/lib", "src/virtio", "src/vswitch", "test/drivers"];
  const out: string[] = [];
  for (const d of dirs) {
    const p = join(root, d);
    if (!existsSync(p)) continue;
    for (const f of readdirSync(p).filter((n) => n.endsWith(".ts")).sort()) out.push(join(p, f));
  }
  return out;
}

async function compile(dir: string, wasm: string): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  mkdirSync(tmp, { recursive: true });
  const asc = (await import("assemblyscript/asc")).default;
  let errText = "";
  const { error } = await asc.main(
    ["test/drivers/entry.ts", "--target", "node", "--bindings", "esm", "-o", join(tmp, "drivers.wasm")],
    { stderr: { write: (s: string | Uint8Array) => ((errText += String(s)), true) } as never },
  );
  if (error) throw new Error(`asc failed: ${error.message}\n${errText}`);
  try {
    renameSync(tmp, dir);
  } catch {
    rmSync(tmp, { recursive: true, force: true }); // another worker built it first
  }
  if (!existsSync(wasm)) throw new Error(`asc wrote no ${wasm}`);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function loadDrivers(): Promise<any> {
  const h = createHash("sha256");
  for (const f of sources()) h.update(f).update(readFileSync(f));
  const dir = join(root, "build", "drivers-test", h.digest("hex").slice(0, 16));
  const wasm = join(dir, "drivers.wasm");
  if (!existsSync(wasm)) await compile(dir, wasm);
  return await import(pathToFileURL(join(dir, "drivers.js")).href);
}
