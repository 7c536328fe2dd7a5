// The README's commands are real: every `npm run X` names a script of
// package.json, every launcher command line it shows parses (checked with
// --dry-run: what would be booted, nothing booted), every tvctl command in it
// names a real command.

import { spawnAsync } from "../mgmt-api/helpers";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { main as tvctl } from "../../src/mgmt-api/host/tvctl";

const ROOT = join(__dirname, "../..");
const README = readFileSync(join(ROOT, "README.md"), "utf8");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
const TSX = join(ROOT, "node_modules/.bin/tsx");

/** Command lines in the README: inline `...` spans and indented code lines starting with the command. */
function commands(prefix: RegExp): string[] {
  const found = new Set<string>();
  for (const m of README.matchAll(/`([^`\n]+)`/g)) if (prefix.test(m[1])) found.add(m[1].trim());
  for (const l of README.split("\n")) if (/^    /.test(l) && prefix.test(l.trim())) found.add(l.trim().replace(/\s+#.*$/, ""));
  return [...found];
}

/** A line with placeholders ([...], A|B, ...) is a pattern, not a command. */
const concrete = (c: string) => !/[[\]|]|\.\.\./.test(c);

describe("README commands", () => {
  it("every npm run names a package.json script", () => {
    const runs = commands(/^npm run /);
    expect(runs.length).toBeGreaterThan(8);
    for (const c of runs) expect(Object.keys(pkg.scripts), c).toContain(c.split(/\s+/)[2]);
  });

  it("every launcher command line parses (--dry-run: nothing booted)", async () => {
    const lines = [...commands(/^npm (start|run (qemu|bochs))\b/)].filter(concrete);
    expect(lines.length).toBeGreaterThanOrEqual(6);
    for (const c of lines) {
      const words = c.split(/\s+/);
      const script = words[1] === "start" || words[2] === "qemu" ? "scripts/run-qemu.ts" : "scripts/run-bochs.ts";
      // npm passes what follows its own "--"
      const i = words.indexOf("--");
      const args = i >= 0 ? words.slice(i + 1) : [];
      // --dry-run before a kernel-options "--", so it stays a launcher option
      const j = args.indexOf("--");
      const withDry = j >= 0 ? [...args.slice(0, j), "--dry-run", ...args.slice(j)] : [...args, "--dry-run"];
      const r = await spawnAsync(TSX, [join(ROOT, script), ...withDry], { cwd: ROOT });
      expect(r.status, `${c}: ${r.stderr}`).toBe(0);
      if (!args.includes("--help")) expect(r.stdout, c).toMatch(/qemu-system-x86_64 |^bochs cpu /);
      if (c.includes("-- shutdown")) expect(r.stdout).toContain("-append shutdown");
      if (/bochs|--iso/.test(c) && !args.includes("--help")) expect(r.stdout).toMatch(/command line: demo/);
    }
  });

  it("every tvctl command in it names a real command", async () => {
    const lines = [...commands(/^(bin\/)?tvctl /)].filter(concrete);
    expect(lines.length).toBeGreaterThanOrEqual(4);
    for (const c of lines) {
      const out: string[] = [];
      const err: string[] = [];
      const code = await tvctl([...c.split(/\s+/).slice(1), "--help"], (s) => out.push(s), (s) => err.push(s));
      expect(code, `${c}: ${err.join("\n")}`).toBe(0);
      expect(out.join("\n")).toMatch(/^Usage: tvctl /);
    }
  });
});
