// scripts/build-image.ts: one progress line per step with its time, and an
// unchanged tree (same sources, same options) rebuilds nothing.

import { spawnAsync } from "../mgmt-api/helpers";
import { existsSync, statSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ensureImage } from "../../scripts/lib/image";

const ROOT = join(__dirname, "../..");
const build = (...args: string[]) => spawnAsync(join(ROOT, "node_modules/.bin/tsx"), [join(ROOT, "scripts/build-image.ts"), ...args], { cwd: ROOT, timeoutMs: 600_000 });

describe("npm run build", () => {
  it("prints each step with its time; the same build again does nothing", async () => {
    await ensureImage();
    // a link of the ready monitor object into another ELF: the quick steps, each on its line
    const elf = `build/test/progress-${process.pid}.elf`;
    const args = ["--monitor-obj", "build/monitor.o", "--elf", elf, "--no-iso"];
    const first = await build(...args);
    expect(first.status, first.stderr).toBe(0);
    const lines = first.stdout.trim().split("\n");
    expect(lines.map((l) => l.split(/\s+/)[1])).toEqual(["guest", "as", "link", "done"]);
    for (const l of lines.slice(0, -1)) expect(l).toMatch(/^\[build\] \w+\s+.+ \(\d+\.\d s\)$/);
    expect(lines[2]).toContain(`-> ${elf}`);
    const mtime = statSync(join(ROOT, elf)).mtimeMs;
    const again = await build(...args);
    expect(again.status).toBe(0);
    expect(again.stdout.trim()).toBe(`[build] up to date: nothing changed since the last build of ${elf} (--force builds anyway)`);
    expect(statSync(join(ROOT, elf)).mtimeMs).toBe(mtime);
    // a newer monitor object: built again
    const obj = join(ROOT, "build/monitor.o");
    const st = statSync(obj);
    utimesSync(obj, st.atime, new Date(Date.now()));
    const newer = await build(...args);
    expect(newer.status).toBe(0);
    expect(newer.stdout).toMatch(/^\[build\] link /m);
    // other options: built again
    const third = await build(...args, "--cmdline", "demo");
    expect(third.status).toBe(0);
    expect(third.stdout).toMatch(/^\[build\] link /m);
    // the default image, built by ensureImage above: up to date too
    const def = await build();
    expect(def.status).toBe(0);
    expect(def.stdout).toContain("[build] up to date");
    expect(existsSync(join(ROOT, "build/typevisor.iso"))).toBe(true);
  }, 900_000);
});
