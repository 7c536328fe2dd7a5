// Compiles .wasm/.wat files with a backend and runs them (for bug repros):
//   npx tsx test/aot/lib/run-wasm.ts [--backend=aot|wasm2c] FILE... [-- ARGS]
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { getBackend, root, runExe } from "./backend.ts";

const argv = process.argv.slice(2);
const dash = argv.indexOf("--");
const files = (dash < 0 ? argv : argv.slice(0, dash)).filter((a) => !a.startsWith("--"));
const args = dash < 0 ? [] : argv.slice(dash + 1);
const backend = getBackend(argv.find((a) => a.startsWith("--backend="))?.slice(10) ?? "aot");
for (const f of files) {
  const wasm = f.endsWith(".wat") ? execFileSync("wat2wasm", [f, "--output=-"]) : readFileSync(f);
  const exe = join(root, "build/spec/repro-exe", `${backend.name}-${f.replace(/[^\w.-]/g, "_")}`);
  try {
    await backend.compile(wasm, exe);
  } catch (e: any) {
    console.log(`${f}: compile error: ${String(e?.message ?? e).split("\n")[0]}`);
    continue;
  }
  const r = await runExe(exe, args, 20_000);
  console.log(`${f}: status ${r.status}${r.signal ? ` signal ${r.signal}` : ""} stdout ${JSON.stringify(r.stdout.toString("latin1").slice(0, 200))} stderr ${JSON.stringify(r.stderr.trim())}`);
}
