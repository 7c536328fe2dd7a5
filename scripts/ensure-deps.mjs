// Installs what the README's commands need on a fresh machine: npm packages,
// and the Debian tools (as root) when they are missing. Fails with a clear
// message instead of letting a test pass without its emulator.
import { execSync, spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** command -> Debian package that provides it */
export const DEBIAN_TOOLS = {
  "qemu-system-x86_64": "qemu-system-x86",
  bochs: "bochs",
  wast2json: "wabt",
  wasm2c: "wabt",
  as: "binutils",
  ld: "binutils",
  gcc: "gcc",
  "grub-mkrescue": "grub-common",
  xorriso: "xorriso",
  mformat: "mtools",
};
/** packages needed that provide no command of their own */
const EXTRA_PACKAGES = ["bochsbios", "vgabios", "grub-pc-bin"];
const EXTRA_FILES = { "/usr/share/bochs/BIOS-bochs-latest": "bochsbios", "/usr/lib/grub/i386-pc/moddep.lst": "grub-pc-bin", "/usr/share/vgabios/vgabios.bin": "vgabios" };

function have(cmd) {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

export function ensureNpm() {
  const lock = join(root, "package-lock.json");
  const marker = join(root, "node_modules", ".package-lock.json");
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  // `npm ci`: installs exactly the lock and never writes it, so a fresh
  // clone stays clean. The lock lists every platform's optional packages
  // (rollup's, esbuild's), which is what `npm install` itself writes here.
  console.log("[deps] installing npm packages (npm ci)");
  execSync("npm ci --no-audit --no-fund", { cwd: root, stdio: "inherit" });
}

export function ensureDebian() {
  const missing = new Set();
  for (const [cmd, pkg] of Object.entries(DEBIAN_TOOLS)) if (!have(cmd)) missing.add(pkg);
  for (const [file, pkg] of Object.entries(EXTRA_FILES)) if (!existsSync(file)) missing.add(pkg);
  if (missing.size === 0) return;
  for (const p of EXTRA_PACKAGES) missing.add(p);
  const list = [...missing].join(" ");
  if (process.getuid && process.getuid() !== 0) {
    throw new Error(`missing Debian packages: ${list}. Install them: sudo apt-get install -y ${list}`);
  }
  console.log(`[deps] installing Debian packages: ${list}`);
  execSync("apt-get update -qq", { stdio: "inherit" });
  execSync(`DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${list}`, { stdio: "inherit" });
}

export function ensureAll() {
  ensureNpm();
  ensureDebian();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) ensureAll();
