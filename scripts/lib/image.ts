// Builds the image once for everyone who needs it (tests, benchmarks, other
// areas' integration tests): scripts/build-image.ts serializes concurrent builds
// with its own lock (build/.image.lock, the only one), and a stamp
// of the sources' sizes and mtimes skips the build when nothing changed.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { createHash } from "node:crypto";
import { root } from "./emulators.ts";

/** The build lock of scripts/build-image.ts (kept equal to its BUILD_LOCK). */
const BUILD_LOCK = join(root, "build/.image.lock");

export const ELF = join(root, "build/typevisor.elf");
export const ISO = join(root, "build/typevisor.iso");

function walk(dir: string, out: string[]): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else out.push(p);
  }
}

/** Hash of every input of the image (names, sizes, mtimes). */
export function sourceStamp(extra = ""): string {
  const files: string[] = [];
  for (const d of ["src", "boot", "scripts/aot"]) walk(join(root, d), files);
  for (const f of ["scripts/build-image.ts", "scripts/build-guests.ts", "asconfig.json", "package-lock.json"]) files.push(join(root, f));
  const h = createHash("sha256");
  h.update(extra);
  for (const f of files.sort()) {
    if (!existsSync(f)) continue;
    const s = statSync(f);
    h.update(`${relative(root, f)} ${s.size} ${s.mtimeMs}\n`);
  }
  return h.digest("hex");
}

// Asynchronous on purpose: a build takes minutes on a loaded machine, and a
// blocked event loop makes vitest's worker RPC time out.
// build-image.ts takes BUILD_LOCK itself; an ISO-only script (which reads the
// ELF a build may be writing) is run under the same lock file.
function locked(script: string[], what: string): Promise<void> {
  mkdirSync(join(root, "build"), { recursive: true });
  return new Promise((resolve, reject) => {
    const argv = script[0] === "scripts/build-image.ts" ? ["npx", "tsx", ...script] : ["flock", BUILD_LOCK, "npx", "tsx", ...script];
    const child = spawn(argv[0], argv.slice(1), { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", (e) => reject(new Error(`${what}: ${e.message}`)));
    child.on("close", (status) => {
      if (status === 0) resolve();
      else reject(new Error(`${what} failed (status ${status}):\n${out.slice(-6000)}`));
    });
  });
}

/** build/typevisor.elf and build/typevisor.iso, rebuilt only when a source changed. */
export async function ensureImage(): Promise<{ elf: string; iso: string }> {
  const stampFile = join(root, "build/.image.stamp");
  const want = sourceStamp();
  const have = existsSync(stampFile) ? readFileSync(stampFile, "utf8") : "";
  if (have !== want || !existsSync(ELF) || !existsSync(ISO)) {
    await locked(["scripts/build-image.ts"], "npm run build");
    writeFileSync(stampFile, want);
  }
  return { elf: ELF, iso: ISO };
}

/** An extra GRUB ISO of the current ELF whose default command line is `cmdline`
 * (menu timeout 0; menu entry 0 = multiboot 2, 1 = multiboot 1). */
export async function ensureIso(name: string, cmdline: string, menuEntry = 0): Promise<string> {
  await ensureImage();
  const iso = join(root, "build/test", `${name}.iso`);
  const stampFile = iso + ".stamp";
  const want = sourceStamp(cmdline + "#" + menuEntry) + statSync(ELF).mtimeMs;
  const have = existsSync(stampFile) ? readFileSync(stampFile, "utf8") : "";
  if (have !== want || !existsSync(iso)) {
    mkdirSync(join(root, "build/test"), { recursive: true });
    const code = `import { makeIso } from ${JSON.stringify(join(root, "scripts/build-image.ts"))};` +
      `makeIso(${JSON.stringify(ELF)}, ${JSON.stringify(iso)}, ${JSON.stringify(cmdline)}, true, 0, ${menuEntry});`;
    const script = join(root, "build/test", `${name}.mts`);
    writeFileSync(script, code);
    await locked([script], `ISO ${name}`);
    writeFileSync(stampFile, want);
  }
  return iso;
}

/**
 * A GRUB ISO of the ELF `elf` whose menu boots with `cmdline` at once (menu
 * timeout 0): how `npm run qemu -- --iso` and `npm run bochs` pass the same
 * kernel command line as `-kernel`. Rebuilt only when the ELF or the command
 * line changed (build/run/, one ISO per command line).
 */
export async function isoForCmdline(elf: string, cmdline: string, menuEntry = 0): Promise<string> {
  if (!existsSync(elf)) throw new Error(`${elf} is missing: run npm run build`);
  const slug = createHash("sha256").update(cmdline + "#" + menuEntry).digest("hex").slice(0, 12);
  const iso = join(root, "build/run", `typevisor-${slug}.iso`);
  const stampFile = iso + ".stamp";
  const want = `${statSync(elf).mtimeMs} ${statSync(elf).size} ${menuEntry} ${cmdline}`;
  const have = existsSync(stampFile) ? readFileSync(stampFile, "utf8") : "";
  if (have !== want || !existsSync(iso)) {
    mkdirSync(join(root, "build/run"), { recursive: true });
    const { makeIso } = await import("../build-image.ts");
    makeIso(elf, iso, cmdline, true, 0, menuEntry);
    writeFileSync(stampFile, want);
  }
  return iso;
}
