// The README's test command: installs what is missing, runs every vitest
// suite (unit, differential, integration) and the WebAssembly spec suite,
// then prints one closing line `N passed, N failed, N skipped` over both.
// A test skipped because its host lacks a capability (KVM, Bochs: see
// test/vmm/host-caps.ts) is listed with its reason and counted as skipped,
// never as passed.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureAll } from "./ensure-deps.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
process.chdir(root);
ensureAll();
mkdirSync("build", { recursive: true });

let passed = 0;
let failed = 0;
let skipped = 0;

const vitestJson = "build/vitest-results.json";
const v = spawnSync(
  "npx",
  ["vitest", "run", "--reporter=default", "--reporter=json", `--outputFile.json=${vitestJson}`, ...process.argv.slice(2)],
  { stdio: "inherit" },
);
if (existsSync(vitestJson)) {
  const r = JSON.parse(readFileSync(vitestJson, "utf8"));
  passed += r.numPassedTests;
  failed += r.numFailedTests + (r.numRuntimeErrorTestSuites ?? 0);
  const vSkipped = r.numPendingTests + (r.numTodoTests ?? 0);
  skipped += vSkipped;
  console.log(`vitest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${vSkipped} skipped`);
  for (const file of r.testResults ?? []) {
    for (const t of file.assertionResults ?? []) {
      if (t.status === "skipped" || t.status === "pending" || t.status === "todo") {
        console.log(`  skipped: ${t.fullName}${t.meta?.skipReason ? `: ${t.meta.skipReason}` : ""}`);
      }
    }
  }
} else {
  console.log(`vitest produced no results (exit status ${v.status})`);
  failed += 1;
}
if (v.status !== 0 && failed === 0) failed += 1; // a crash outside any test still fails the run

const specJson = "build/spec-summary.json";
const s = spawnSync("npx", ["tsx", "test/spec/run-spec.ts", `--summary=${specJson}`], { stdio: "inherit" });
if (existsSync(specJson) && s.status !== null) {
  const r = JSON.parse(readFileSync(specJson, "utf8"));
  passed += r.passed;
  failed += r.failed;
  skipped += r.skipped ?? 0;
  console.log(`spec: ${r.passed} passed, ${r.failed} failed, ${r.skipped ?? 0} skipped`);
} else {
  console.log(`spec suite produced no summary (exit status ${s.status})`);
  failed += 1;
}

console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed === 0 ? 0 : 1);
