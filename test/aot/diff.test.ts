// Differential tests: AssemblyScript programs (test/aot/programs) compiled by
// asc run under Node (V8) and as AOT linux executables; stdout and exit
// status must be identical.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { compileAS } from "./lib/asc.ts";
import { aotBackend, root, runExe } from "./lib/backend.ts";
import { runInNode } from "./lib/node-run.ts";

const programsDir = join(root, "test/aot/programs");
const outDir = join(root, "build/aot-diff");
const programs = readdirSync(programsDir).filter((f) => f.endsWith(".ts")).sort();
// Argument sets per program (hw.arg); the default is no arguments.
const argSets: Record<string, number[][]> = {
  "divzero.ts": [[], [7]],
  "i64edge.ts": [[], [0, 0]],
};

describe("AOT vs Node on AssemblyScript programs", () => {
  test("there are programs", () => expect(programs.length).toBeGreaterThanOrEqual(5));
  for (const p of programs) {
    for (const args of argSets[p] ?? [[]]) {
      test(`${p}${args.length ? ` ${args.join(" ")}` : ""}`, async () => {
        const wasmPath = await compileAS(join(programsDir, p), outDir, "test/aot/programs/lib/io");
        const wasm = readFileSync(wasmPath);
        const want = await runInNode(wasm, args);
        const exe = wasmPath.replace(/\.wasm$/, ".aot");
        try {
          await aotBackend().compile(wasm, exe);
        } catch (e: any) {
          throw new Error(`AOT compile of ${p} failed: ${e?.message ?? e}`);
        }
        const got = await runExe(exe, args.map(String), 60_000);
        expect(got.timedOut, "timed out").toBe(false);
        expect(got.stdout.toString("latin1")).toBe(want.stdout.toString("latin1"));
        expect({ status: got.status, signal: got.signal }).toEqual({ status: want.status, signal: null });
        if (want.trap) expect(got.stderr).toMatch(/^wasm trap: /);
        expect(want.stdout.length, "program printed nothing").toBeGreaterThan(0);
      });
    }
  }
});
