// Compiles an AssemblyScript program with asc (cached by source contents),
// abort redirected to the program's tvAbort (test/aot/programs/lib/io.ts).
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync } from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import { promisify } from "node:util";
import { root } from "./backend.ts";

const exec = promisify(execFile);

/** Hash of a program and every .ts file in its lib/ folder. */
function sourceKey(file: string, flags: string[]): string {
  const h = createHash("sha256");
  h.update(readFileSync(file));
  const lib = join(dirname(file), "lib");
  if (existsSync(lib)) for (const f of readdirSync(lib).sort()) h.update(f).update(readFileSync(join(lib, f)));
  h.update(flags.join(" "));
  return h.digest("hex").slice(0, 20);
}

/** asc -O3 --runtime incremental; returns the .wasm path. `abortPath` is the
 * path (from the repo root, no extension) of the module holding tvAbort. */
export async function compileAS(file: string, outDir: string, abortPath: string, extra: string[] = []): Promise<string> {
  // Run from the repo root, so asconfig.json applies; it only defines named
  // targets, and without --target none of them is used.
  const flags = ["-O3", "--runtime", "incremental", "--use", `abort=${abortPath}/tvAbort`, ...extra];
  const out = join(outDir, `${basename(file, ".ts")}-${sourceKey(file, flags)}.wasm`);
  if (existsSync(out)) return out;
  mkdirSync(outDir, { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  try {
    await exec("npx", ["asc", relative(root, file), "--outFile", tmp, ...flags], { cwd: root, maxBuffer: 16 << 20 });
  } catch (e: any) {
    throw new Error(`asc failed on ${file}: ${e.stderr ?? e.message}`);
  }
  renameSync(tmp, out);
  return out;
}
