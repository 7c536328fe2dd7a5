// Fetches Debian's stock cloud kernel and busybox-static into build/linux/ and builds the test initramfs (a newc cpio written here).
//
//   npx tsx scripts/guest-linux.ts [--force]
//
// Outputs: build/linux/bzImage, build/linux/initramfs.cpio.gz, build/linux/manifest.json.
// The kernel is the package `linux-image-cloud-amd64` depends on today (resolved with
// apt-cache), fetched with `apt-get download` and unpacked with `dpkg-deb -x` under
// build/linux/ (never installed, never into /boot). A second run with the same
// inputs does nothing. Nothing here is committed. TV_LINUX_DIR and TV_APT_OPTIONS
// exist for the tests.
//
// The initramfs /init: mounts proc, sys and dev; loads the virtio, virtio-net and
// 802.1Q modules; brings eth0 up if present; prints TYPEVISOR-INIT-OK; runs the
// commands given on the kernel command line as `tv.run=...` parameters (in order;
// write a command with spaces as `tv.run="uname -r"` or with %20 for each space,
// %XX decodes any byte), each framed by `TV-RUN: <cmd>` and `TV-RUN-EXIT: <status>`;
// powers off when `tv.poweroff` is given, else starts a shell on the console.
//
// /bin/tvnet is the project's own guest tool (scripts/guest-tools/tvnet.c: a UDP flood, a UDP counter, a
// virtio driver that breaks its TX ring), compiled here with `gcc -static -O2`; its binary is never committed.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** TV_LINUX_DIR moves the output (the tests use it to exercise failures without touching the cache). */
export const LINUX_DIR = process.env.TV_LINUX_DIR ? resolve(process.env.TV_LINUX_DIR) : join(root, "build/linux");
export const BZIMAGE = join(LINUX_DIR, "bzImage");
export const INITRAMFS = join(LINUX_DIR, "initramfs.cpio.gz");
export const MANIFEST = join(LINUX_DIR, "manifest.json");
export const INIT_MARKER = "TYPEVISOR-INIT-OK";

/** Modules the initramfs loads, dependencies first (EMULATORS.md, Guests: the cloud kernel's modinfo). */
export const MODULES = ["virtio", "virtio_ring", "virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio_pci", "failover", "net_failover", "virtio_net", "8021q"];

export const INIT_SCRIPT = `#!/bin/sh
# Typevisor test initramfs (scripts/guest-linux.ts)
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
for m in $(cat /etc/modules); do
  insmod /lib/modules/$m.ko || echo "init: insmod $m failed"
done
if [ -e /sys/class/net/eth0 ]; then ip link set eth0 up; fi
ip link set lo up 2>/dev/null
echo ${INIT_MARKER}
# tv.run=... parameters from /proc/cmdline, quotes honoured, %XX decoded, one per line.
awk '
function hex(c) { return index("0123456789abcdef", tolower(c)) - 1 }
function decode(s,   out, i, c) {
  out = ""
  for (i = 1; i <= length(s); i++) {
    c = substr(s, i, 1)
    if (c == "%" && i + 2 <= length(s) && hex(substr(s, i + 1, 1)) >= 0 && hex(substr(s, i + 2, 1)) >= 0) {
      out = out sprintf("%c", hex(substr(s, i + 1, 1)) * 16 + hex(substr(s, i + 2, 1))); i += 2
    } else out = out c
  }
  return out
}
{
  line = $0; tok = ""; q = 0
  for (i = 1; i <= length(line) + 1; i++) {
    c = (i <= length(line)) ? substr(line, i, 1) : " "
    if (c == "\\"") { q = !q; continue }
    if ((c == " " || c == "\\t") && !q) {
      if (substr(tok, 1, 7) == "tv.run=") print decode(substr(tok, 8))
      tok = ""
    } else tok = tok c
  }
}' /proc/cmdline > /tmp/tv-run
while IFS= read -r cmd; do
  echo "TV-RUN: $cmd"
  sh -c "$cmd"
  echo "TV-RUN-EXIT: $?"
done < /tmp/tv-run
if grep -qw tv.poweroff /proc/cmdline; then poweroff -f; fi
exec setsid cttyhack sh -l
`;

function sh(cmd: string, args: string[], cwd?: string): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")} failed: ${(err.stderr ?? "").trim() || err.message}`);
  }
}

/** The versioned kernel package `linux-image-cloud-amd64` depends on (e.g. linux-image-6.1.0-57-cloud-amd64). */
export function resolveKernelPackage(): string {
  let out = "";
  try {
    out = sh("apt-cache", ["depends", "linux-image-cloud-amd64"]);
  } catch {
    out = "";
  }
  let m = /Depends:\s*(linux-image-[0-9][^\s]*-cloud-amd64)/.exec(out);
  if (!m) {
    // The package lists may be missing on a fresh machine.
    sh("apt-get", ["update"]);
    out = sh("apt-cache", ["depends", "linux-image-cloud-amd64"]);
    m = /Depends:\s*(linux-image-[0-9][^\s]*-cloud-amd64)/.exec(out);
  }
  if (!m) throw new Error(`cannot resolve the kernel package from 'apt-cache depends linux-image-cloud-amd64':\n${out}`);
  return m[1];
}

/** `apt-get download` into dir (cached by package name); returns the .deb path. */
function download(pkg: string, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const have = readdirSync(dir).find((f) => f.startsWith(`${pkg}_`) && f.endsWith(".deb"));
  if (have) return join(dir, have);
  // TV_APT_OPTIONS: extra apt-get options, e.g. "-o Acquire::http::Proxy=..." (the tests make the archive unreachable with it).
  const extra = (process.env.TV_APT_OPTIONS ?? "").split(/\s+/).filter(Boolean);
  try {
    sh("apt-get", [...extra, "download", pkg], dir);
  } catch (e) {
    throw new Error(`cannot download ${pkg} from the Debian archive (is it reachable?): ${(e as Error).message}`);
  }
  const got = readdirSync(dir).find((f) => f.startsWith(`${pkg}_`) && f.endsWith(".deb"));
  if (!got) throw new Error(`apt-get download ${pkg} produced no .deb in ${dir}`);
  return join(dir, got);
}

function unpack(deb: string, into: string): void {
  rmSync(into, { recursive: true, force: true });
  mkdirSync(into, { recursive: true });
  sh("dpkg-deb", ["-x", deb, into]);
}

// ---- newc cpio (the initramfs format, Documentation/driver-api/early-userspace/buffer-format.rst) ----

export interface CpioEntry {
  name: string; // without a leading slash
  mode: number; // including the file type bits
  data?: Uint8Array;
  rdevMajor?: number;
  rdevMinor?: number;
}

export const S_IFDIR = 0o040000, S_IFREG = 0o100000, S_IFLNK = 0o120000, S_IFCHR = 0o020000;

/** Writes entries as a newc archive with the TRAILER!!! record; every header and body 4-byte aligned. */
export function cpioNewc(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let off = 0;
  const push = (b: Buffer): void => {
    parts.push(b);
    off += b.length;
  };
  const pad = (): void => {
    const n = (4 - (off % 4)) % 4;
    if (n) push(Buffer.alloc(n));
  };
  const hex = (v: number): string => (v >>> 0).toString(16).padStart(8, "0");
  const all = [...entries, { name: "TRAILER!!!", mode: 0 }];
  all.forEach((e, i) => {
    const data = e.data ?? new Uint8Array(0);
    const name = Buffer.from(`${e.name}\0`);
    const fields = [i + 1, e.mode, 0, 0, e.mode & S_IFDIR ? 2 : 1, 0, data.length, 0, 0, e.rdevMajor ?? 0, e.rdevMinor ?? 0, name.length, 0];
    push(Buffer.from(`070701${fields.map(hex).join("")}`, "ascii"));
    push(name);
    pad();
    push(Buffer.from(data));
    pad();
  });
  return Buffer.concat(parts);
}

/** Reads a newc archive back (for the tests). */
export function readCpio(buf: Uint8Array): CpioEntry[] {
  const b = Buffer.from(buf);
  const out: CpioEntry[] = [];
  let o = 0;
  const field = (i: number): number => parseInt(b.toString("ascii", o + 6 + 8 * i, o + 14 + 8 * i), 16);
  for (;;) {
    if (b.toString("ascii", o, o + 6) !== "070701") throw new Error(`bad cpio magic at ${o}`);
    const mode = field(1), size = field(6), rmaj = field(9), rmin = field(10), nsize = field(11);
    const name = b.toString("utf8", o + 110, o + 110 + nsize - 1);
    o = (o + 110 + nsize + 3) & ~3;
    if (name === "TRAILER!!!") return out;
    out.push({ name, mode, data: b.subarray(o, o + size), rdevMajor: rmaj, rdevMinor: rmin });
    o = (o + size + 3) & ~3;
  }
}

/**
 * Every module under lib/modules/VERSION/kernel: name -> its path and the
 * names in its `depends=` modinfo string. The package carries no
 * modules.dep (depmod runs at install), so the .modinfo strings are read.
 */
function moduleDeps(modDir: string): Map<string, { path: string; deps: string[] }> {
  const map = new Map<string, { path: string; deps: string[] }>();
  const walk = (rel: string): void => {
    for (const e of readdirSync(join(modDir, rel), { withFileTypes: true })) {
      const r = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(r);
      else if (/\.ko(\.[a-z]+)?$/.test(e.name)) {
        const name = e.name.replace(/\.ko(\.[a-z]+)?$/, "").replace(/-/g, "_");
        map.set(name, { path: r, deps: [] });
      }
    }
  };
  walk("kernel");
  for (const [, m] of map) {
    if (!m.path.endsWith(".ko")) continue;
    const b = readFileSync(join(modDir, m.path));
    const at = b.indexOf("\0depends=");
    if (at < 0) continue;
    const end = b.indexOf(0, at + 1);
    const v = b.toString("ascii", at + 9, end);
    m.deps = v ? v.split(",").map((d) => d.replace(/-/g, "_")) : [];
  }
  return map;
}

export interface Manifest {
  kernelPackage: string;
  kernelVersion: string;
  busybox: string;
  modules: string[];
  builtin: string[];
  initHash: string;
}

/** The guest tools' C sources (scripts/guest-tools/NAME.c -> /bin/NAME). */
export const GUEST_TOOLS = ["tvnet"];
const toolSource = (name: string): string => join(root, "scripts", "guest-tools", `${name}.c`);

/** Compiles a guest tool statically (the guests have no libc of their own); gcc missing is an error naming the package. */
function compileTool(name: string): Buffer {
  const out = join(LINUX_DIR, `${name}.tmp-${process.pid}`);
  try {
    execFileSync("gcc", ["-static", "-O2", "-o", out, toolSource(name)], { stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const err = e as { code?: string; stderr?: Buffer; message: string };
    if (err.code === "ENOENT") throw new Error(`gcc is needed to build the guest tool ${name} (apt-get install gcc libc6-dev)`);
    throw new Error(`gcc -static -O2 ${toolSource(name)} failed: ${(err.stderr ?? "").toString().trim() || err.message}`);
  }
  const b = readFileSync(out);
  rmSync(out, { force: true });
  return b;
}

/** Fetches and builds everything unless it is there already; returns the manifest. */
export function guestLinux(force = false): Manifest {
  const hash = createHash("sha256").update(INIT_SCRIPT).update(MODULES.join(",")).update(cpioNewc.toString());
  for (const t of GUEST_TOOLS) hash.update(t).update(readFileSync(toolSource(t)));
  const initHash = hash.digest("hex").slice(0, 16);
  if (!force && existsSync(BZIMAGE) && existsSync(INITRAMFS) && existsSync(MANIFEST)) {
    const m = JSON.parse(readFileSync(MANIFEST, "utf8")) as Manifest;
    if (m.initHash === initHash) return m;
  }
  const debs = join(LINUX_DIR, "debs");
  const kernelPackage = resolveKernelPackage();
  const kdeb = download(kernelPackage, debs);
  const bdeb = download("busybox-static", debs);
  const kroot = join(LINUX_DIR, "kernel-root");
  const broot = join(LINUX_DIR, "busybox-root");
  unpack(kdeb, kroot);
  unpack(bdeb, broot);

  const vmlinuz = readdirSync(join(kroot, "boot")).find((f) => f.startsWith("vmlinuz-"));
  if (!vmlinuz) throw new Error(`${kernelPackage} has no boot/vmlinuz-*`);
  const kernelVersion = vmlinuz.slice("vmlinuz-".length);
  const modDir = join(kroot, "lib/modules", kernelVersion);
  const deps = moduleDeps(modDir);
  const builtinFile = join(modDir, "modules.builtin");
  const builtinNames = existsSync(builtinFile)
    ? new Set(readFileSync(builtinFile, "utf8").split("\n").filter(Boolean).map((p) => p.split("/").pop()!.replace(/\.ko$/, "").replace(/-/g, "_")))
    : new Set<string>();

  // Each wanted module with its dependencies first, once.
  const order: string[] = [];
  const builtin: string[] = [];
  const visit = (name: string): void => {
    if (order.includes(name) || builtin.includes(name)) return;
    const d = deps.get(name);
    if (!d) {
      if (builtinNames.has(name)) {
        builtin.push(name);
        return;
      }
      throw new Error(`module ${name} is neither in modules.dep nor built into ${kernelVersion}`);
    }
    for (const dep of d.deps) visit(dep);
    if (!d.path.endsWith(".ko")) throw new Error(`module ${name} is compressed (${d.path}); busybox insmod needs plain .ko`);
    order.push(name);
  };
  for (const m of MODULES) visit(m);

  const busybox = join(broot, "bin/busybox");
  if (!existsSync(busybox)) throw new Error("busybox-static has no bin/busybox");
  const entries: CpioEntry[] = [];
  for (const d of ["bin", "dev", "etc", "lib", "lib/modules", "proc", "root", "sys", "tmp"]) entries.push({ name: d, mode: S_IFDIR | 0o755 });
  entries.push({ name: "dev/console", mode: S_IFCHR | 0o600, rdevMajor: 5, rdevMinor: 1 });
  entries.push({ name: "dev/ttyS0", mode: S_IFCHR | 0o600, rdevMajor: 4, rdevMinor: 64 });
  entries.push({ name: "bin/busybox", mode: S_IFREG | 0o755, data: readFileSync(busybox) });
  entries.push({ name: "bin/sh", mode: S_IFLNK | 0o777, data: Buffer.from("busybox") });
  entries.push({ name: "init", mode: S_IFREG | 0o755, data: Buffer.from(INIT_SCRIPT) });
  for (const t of GUEST_TOOLS) entries.push({ name: `bin/${t}`, mode: S_IFREG | 0o755, data: compileTool(t) });
  entries.push({ name: "etc/modules", mode: S_IFREG | 0o644, data: Buffer.from(order.join("\n") + "\n") });
  for (const m of order) {
    entries.push({ name: `lib/modules/${m}.ko`, mode: S_IFREG | 0o644, data: readFileSync(join(modDir, deps.get(m)!.path)) });
  }
  const tmp = `${INITRAMFS}.tmp-${process.pid}`;
  writeFileSync(tmp, gzipSync(cpioNewc(entries), { level: 9 }));
  renameSync(tmp, INITRAMFS);
  copyFileSync(join(kroot, "boot", vmlinuz), BZIMAGE);
  const manifest: Manifest = { kernelPackage, kernelVersion, busybox: bdeb.split("/").pop()!, modules: order, builtin, initHash };
  writeFileSync(MANIFEST, JSON.stringify(manifest, null, 2) + "\n");
  return manifest;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const before = existsSync(MANIFEST) ? readFileSync(MANIFEST, "utf8") : "";
    const m = guestLinux(process.argv.includes("--force"));
    const cached = before !== "" && before === readFileSync(MANIFEST, "utf8");
    console.log(`[guest-linux] ${cached ? "cached" : "built"}: ${m.kernelVersion} (${m.kernelPackage}), modules ${m.modules.join(" ")}${m.builtin.length ? `, built in: ${m.builtin.join(" ")}` : ""}`);
    console.log(`[guest-linux] ${BZIMAGE}\n[guest-linux] ${INITRAMFS}`);
  } catch (e) {
    console.error(`[guest-linux] ${(e as Error).message}`);
    process.exit(1);
  }
}
