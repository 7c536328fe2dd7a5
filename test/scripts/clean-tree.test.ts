// Clean trees: a fresh clone's first `npm start` leaves `git status` clean, and
// every tool the scripts run comes from a declared dependency.

import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = join(__dirname, "../..");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
const declared = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {})]);

/** command name -> the package in node_modules whose "bin" provides it */
function binOwners(): Map<string, string> {
  const owners = new Map<string, string>();
  const visit = (dir: string, name: string) => {
    const pj = join(dir, "package.json");
    if (!existsSync(pj)) return;
    const p = JSON.parse(readFileSync(pj, "utf8"));
    if (typeof p.bin === "string") owners.set(p.name.split("/").pop(), name);
    else for (const b of Object.keys(p.bin ?? {})) owners.set(b, name);
  };
  const nm = join(ROOT, "node_modules");
  for (const e of readdirSync(nm)) {
    if (e.startsWith(".")) continue;
    if (e.startsWith("@")) for (const s of readdirSync(join(nm, e))) visit(join(nm, e, s), `${e}/${s}`);
    else visit(join(nm, e), e);
  }
  return owners;
}

/** A child process to its end, asynchronously: a long spawnSync starves vitest's worker RPC. */
function runAsync(cmd: string, args: string[], cwd: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { cwd });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    p.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

function files(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) files(p, out);
    else if (/\.(ts|mjs|js)$|^tvctl$/.test(e.name)) out.push(p);
  }
  return out;
}

describe("declared tools", () => {
  it("every npx TOOL and node_modules/.bin/TOOL in scripts, bin and package.json comes from a declared package", () => {
    const owners = binOwners();
    const used = new Map<string, string>();
    const texts: Array<[string, string]> = [["package.json", JSON.stringify(pkg.scripts)]];
    for (const f of [...files(join(ROOT, "scripts")), ...files(join(ROOT, "bin")), ...files(join(ROOT, "bench"))]) {
      texts.push([f.slice(ROOT.length + 1), readFileSync(f, "utf8")]);
    }
    for (const [where, t] of texts) {
      for (const m of t.matchAll(/(?:\bnpx"?,?\s*\[?\s*"?|node_modules\/\.bin\/)([a-z][\w-]*)/g)) used.set(m[1], where);
      // package.json scripts run their first word from node_modules/.bin
      if (where === "package.json") for (const s of Object.values(pkg.scripts) as string[]) used.set(s.split(" ")[0], where);
    }
    expect(used.size).toBeGreaterThan(3);
    const undeclared: string[] = [];
    for (const [tool, where] of used) {
      if (tool === "node") continue;
      const owner = owners.get(tool);
      if (!owner || !declared.has(owner)) undeclared.push(`${tool} (${where}, package ${owner ?? "none"})`);
    }
    expect(undeclared).toEqual([]);
    expect(used.has("esbuild")).toBe(true); // bin/tvctl's bundler is among them
  });
});

describe("fresh clone", () => {
  const dir = mkdtempSync(join(tmpdir(), "tv-clone-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("the first npm start (install, build, boot) leaves git status clean; npm install then rewrites nothing", async () => {
    execFileSync("git", ["clone", "-q", "--no-hardlinks", ROOT, dir]);
    const lockBefore = readFileSync(join(dir, "package-lock.json"), "utf8");
    const r = await runAsync("npm", ["start", "--", "--timeout", "10"], dir);
    expect(r.status, r.stdout.slice(-3000) + r.stderr.slice(-3000)).toBe(0);
    expect(r.stdout).toContain("[deps] installing npm packages (npm ci)");
    expect(r.stdout).toMatch(/^\[build\] asc /m);
    expect(r.stderr).toContain("[qemu] stopped after 10 s (--timeout)");
    expect(statSync(join(dir, "node_modules/.package-lock.json")).isFile()).toBe(true);
    expect(execFileSync("git", ["status", "--porcelain"], { cwd: dir, encoding: "utf8" })).toBe("");
    // and a plain `npm install` on this platform does not rewrite the lock either
    const i = await runAsync("npm", ["install", "--no-audit", "--no-fund"], dir);
    expect(i.status, i.stderr).toBe(0);
    expect(readFileSync(join(dir, "package-lock.json"), "utf8")).toBe(lockBefore);
    expect(execFileSync("git", ["status", "--porcelain"], { cwd: dir, encoding: "utf8" })).toBe("");
  }, 900_000);
});
