// Text-format test modules for the AOT unit tests: written under build/aot/test and assembled by wabt's wat2wasm.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Where the tests write their modules and executables. */
export const dir = join(process.cwd(), "build/aot/test");
mkdirSync(dir, { recursive: true });

/** `wat` assembled to a module, with names kept (the tests find functions by them). */
export function wat2wasm(name: string, wat: string): Uint8Array {
  const src = join(dir, name + ".wat"), out = join(dir, name + ".wasm");
  writeFileSync(src, wat);
  execFileSync("wat2wasm", ["--debug-names", src, "-o", out]);
  return new Uint8Array(readFileSync(out));
}
