// `npm run build`: the bootable image.
//   src/main.ts --asc (target baremetal)--> build/typevisor.wasm
//   --scripts/aot compile()--> build/monitor.o
//   boot/*.S (and boot/guests via scripts/build-guests.ts) --gcc -c--> build/boot/*.o
//   --ld -T boot/linker.ld--> build/typevisor.elf --grub-mkrescue--> build/typevisor.iso
// Options: --cmdline "..." (default GRUB command line), --iso PATH, --elf PATH,
// --no-iso, --monitor-obj PATH (link a ready object instead of asc + AOT),
// --src DIR (AssemblyScript sources other than src/, e.g. a test tree),
// --force (build even when nothing changed).
// Each step prints one line with its time ([build] asc ... 12.3 s); a build
// whose inputs (sources, options) are unchanged since the last one does
// nothing (a stamp in the intermediate directory).
// Concurrency: every build takes one lock, build/.image.lock (the command line
// re-runs itself under flock(1); buildImageLocked() does the same for library
// callers), and the temporaries belong to one output image: the default ELF
// uses build/{typevisor.wasm,monitor.o,boot,guests}, any other --elf uses
// build/obj/<elf path>/ (intermediateDir), so two images never share them.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const ELF = join(root, "build/typevisor.elf");
export const ISO = join(root, "build/typevisor.iso");
export const WASM = join(root, "build/typevisor.wasm");
export const MONITOR_OBJ = join(root, "build/monitor.o");
/** The one build lock (flock), for every caller of this script. */
export const BUILD_LOCK = join(root, "build/.image.lock");
/** Set in the environment while BUILD_LOCK is held by this process tree. */
const LOCK_ENV = "TV_IMAGE_LOCK_HELD";

/** Where the temporaries of the image `elf` go (wasm, monitor.o, boot/*.o, guests). */
export function intermediateDir(elf: string = ELF): string {
  const abs = resolve(elf);
  if (abs === ELF) return join(root, "build");
  const rel = relative(join(root, "build"), abs);
  const slug = (rel.startsWith("..") ? abs : rel).replace(/[^A-Za-z0-9._-]+/g, "_");
  return join(root, "build/obj", slug);
}

export interface BuildOptions {
  monitorObj?: string; // skip asc + AOT
  srcDir?: string; // AssemblyScript sources (default src)
  cmdline?: string; // the ISO's default kernel command line
  elf?: string;
  iso?: string | false;
  quiet?: boolean;
}

function run(cmd: string, args: string[], quiet = false): void {
  const r = spawnSync(cmd, args, { cwd: root, stdio: ["ignore", quiet ? "pipe" : "inherit", "pipe"], encoding: "utf8" });
  if (r.error) throw new Error(`${cmd}: ${r.error.message} (is it installed?)`);
  if (r.status !== 0) throw new Error(`${cmd} failed (status ${r.status}):\n${r.stderr}`);
  if (r.stderr && !quiet) process.stderr.write(r.stderr);
}

/**
 * Runs one build step and prints "[build] NAME WHAT (N.N s)": on a terminal
 * the line appears when the step starts and gets its time at the end; in a
 * log, whole once the step is done.
 */
async function step<T>(quiet: boolean, name: string, what: string, f: () => T | Promise<T>): Promise<T> {
  const t0 = performance.now();
  const head = `[build] ${name.padEnd(5)} ${what}`;
  const tty = !quiet && process.stdout.isTTY;
  if (tty) process.stdout.write(head + " ...");
  const v = await f();
  const secs = `(${((performance.now() - t0) / 1000).toFixed(1)} s)`;
  if (tty) process.stdout.write(` ${secs}\n`);
  else if (!quiet) console.log(`${head} ${secs}`);
  return v;
}

const rel = (p: string) => relative(root, p) || p;

/** asc flags for the baremetal monitor whose sources are under `srcDir` (relative to the root). */
export function ascFlags(srcDir = "src"): string[] {
  // abort is redirected so the module imports nothing from "env" (trace and
  // seed are never referenced: they would bring f64 in)
  return ["--target", "baremetal", "--use", `abort=${srcDir}/hw/abort/tvAbort`, "--noExportMemory"];
}

export function compileWasm(out = WASM, quiet = false, srcDir = "src"): void {
  mkdirSync(dirname(out), { recursive: true });
  run("npx", ["asc", `${srcDir}/main.ts`, ...ascFlags(srcDir), "--outFile", out, "--textFile", out.replace(/\.wasm$/, ".wat")], quiet);
}

export async function aotCompile(wasm = WASM, out = MONITOR_OBJ): Promise<void> {
  // TV_AOT_DIR: another copy of the compiler (e.g. a git snapshot while scripts/aot is being edited)
  const aotIndex = join(process.env.TV_AOT_DIR ? resolve(process.env.TV_AOT_DIR) : join(root, "scripts/aot"), "index.ts");
  if (!existsSync(aotIndex)) throw new Error("scripts/aot/index.ts does not exist yet: the AOT compiler is needed for the monitor object");
  const { compile } = await import(pathToFileURL(aotIndex).href);
  await compile(readFileSync(wasm), { target: "baremetal", out });
  if (!existsSync(out)) throw new Error(`AOT compile() wrote no ${out}`);
}

export async function buildGuestsIfAny(quiet = false, outDir = join(root, "build/guests")): Promise<string | undefined> {
  const script = join(root, "scripts/build-guests.ts");
  if (!existsSync(script)) return undefined;
  const mod = await import(pathToFileURL(script).href);
  if (typeof mod.buildGuests === "function") {
    const built = mod.buildGuests(outDir);
    if (!quiet) console.log(`[build] guests: ${built.length} built in ${relative(root, outDir)}`);
  } else {
    run("npx", ["tsx", script], quiet);
  }
  return outDir;
}

export function assembleBoot(quiet = false, objDir = join(root, "build")): string[] {
  const outDir = join(objDir, "boot");
  mkdirSync(outDir, { recursive: true });
  const guests = join(objDir, "guests");
  const objs: string[] = [];
  for (const f of readdirSync(join(root, "boot")).filter((n) => n.endsWith(".S")).sort()) {
    const obj = join(outDir, basename(f, ".S") + ".o");
    run("gcc", ["-c", "-I", "boot", "-I", guests, `-Wa,-I,${guests}`, "-o", obj, join("boot", f)], quiet);
    objs.push(obj);
  }
  return objs;
}

export function link(objs: string[], monitorObj: string, elf = ELF, quiet = false): void {
  run("ld", ["-n", "-T", "boot/linker.ld", "--no-warn-rwx-segments", "-z", "noexecstack", "-z", "max-page-size=0x1000",
    "-Map", elf.replace(/\.elf$/, ".map"), "-o", elf, ...objs, monitorObj], quiet);
}

/**
 * One word of a GRUB command, quoted when GRUB's shell-like parser would change it ($ expansion, ( ) ; | & < >,
 * quotes, backslashes): inside single quotes every character is literal; a ' itself ends the quote, is escaped
 * and the quote opens again. GRUB joins a module's words with single spaces into its string.
 */
export function grubWord(w: string): string {
  return /^[A-Za-z0-9_.,:=+\/%@-]+$/.test(w) ? w : `'${w.replace(/'/g, "'\\''")}'`;
}

/** A boot module on the ISO: the file to copy and its string (for a Linux VM: `name=... mem=... -- CMDLINE`). */
export interface IsoModule {
  file: string;
  args: string;
}

/**
 * GRUB menu: entry 0 loads the image with multiboot2, entry 1 with multiboot (1). Modules follow as
 * `module2` / `module` lines with their strings (GRUB 2.06 passes only the words after the file name).
 */
export function grubConfig(cmdline: string, timeoutSecs = 1, defaultEntry = 0, modules: IsoModule[] = []): string {
  const mod = (kw: string) =>
    modules.map((m, i) => `  ${kw} /boot/mod${i}-${basename(m.file)} ${m.args.split(/\s+/).filter((w) => w).map(grubWord).join(" ")}`);
  // GRUB talks on COM1 as well as the screen, so a server's serial console
  // shows the menu; timeout 1 s leaves time to edit the command line.
  return [
    "serial --unit=0 --speed=115200 --word=8 --parity=no --stop=1",
    "terminal_input serial console",
    "terminal_output serial console",
    `set timeout=${timeoutSecs}`,
    `set default=${defaultEntry}`,
    'menuentry "Typevisor" {',
    `  multiboot2 /boot/typevisor.elf ${cmdline}`,
    ...mod("module2"),
    "  boot",
    "}",
    'menuentry "Typevisor (multiboot 1)" {',
    `  multiboot /boot/typevisor.elf ${cmdline}`,
    ...mod("module"),
    "  boot",
    "}",
    "",
  ].join("\n");
}

export function makeIso(elf: string, iso: string, cmdline = "", quiet = false, grubTimeout = 1, defaultEntry = 0, modules: IsoModule[] = []): void {
  const tree = join(root, "build/iso-tree", basename(iso, ".iso"));
  rmSync(tree, { recursive: true, force: true });
  mkdirSync(join(tree, "boot/grub"), { recursive: true });
  writeFileSync(join(tree, "boot/typevisor.elf"), readFileSync(elf));
  modules.forEach((m, i) => writeFileSync(join(tree, `boot/mod${i}-${basename(m.file)}`), readFileSync(m.file)));
  writeFileSync(join(tree, "boot/grub/grub.cfg"), grubConfig(cmdline, grubTimeout, defaultEntry, modules));
  mkdirSync(dirname(iso), { recursive: true });
  const args = ["-o", iso, tree];
  if (existsSync("/usr/lib/grub/i386-pc")) args.unshift("-d", "/usr/lib/grub/i386-pc"); // BIOS boot only: smaller, faster
  run("grub-mkrescue", args, true);
  if (!existsSync(iso)) throw new Error(`grub-mkrescue produced no ${iso}`);
  if (!quiet) console.log(`[build] ${iso}`);
}

export async function buildImage(opts: BuildOptions = {}): Promise<{ elf: string; iso?: string }> {
  const quiet = opts.quiet ?? false;
  const elf = resolve(opts.elf ?? ELF);
  const objDir = intermediateDir(elf);
  mkdirSync(dirname(elf), { recursive: true });
  const started = performance.now();
  let monitorObj = opts.monitorObj;
  if (!monitorObj) {
    const wasm = join(objDir, "typevisor.wasm");
    const srcDir = opts.srcDir ?? "src";
    await step(quiet, "asc", `${srcDir}/main.ts -> ${rel(wasm)}`, () => compileWasm(wasm, quiet, srcDir));
    monitorObj = join(objDir, "monitor.o");
    const obj = monitorObj;
    await step(quiet, "aot", `${rel(wasm)} -> ${rel(obj)}`, () => aotCompile(wasm, obj));
  }
  await step(quiet, "guest", `boot/guests -> ${rel(join(objDir, "guests"))}`, () => buildGuestsIfAny(true, join(objDir, "guests")));
  const objs = await step(quiet, "as", `boot/*.S -> ${rel(join(objDir, "boot"))}/`, () => assembleBoot(quiet, objDir));
  const mobj = monitorObj;
  await step(quiet, "link", `-> ${rel(elf)}`, () => link(objs, mobj, elf, quiet));
  let iso: string | undefined;
  if (opts.iso !== false) {
    const isoPath = opts.iso ?? ISO;
    iso = isoPath;
    await step(quiet, "iso", `grub-mkrescue -> ${rel(isoPath)}`, () => makeIso(elf, isoPath, opts.cmdline ?? "", true));
  }
  if (!quiet) console.log(`[build] done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return { elf, iso };
}

/** Names, sizes and mtimes of the files under `p` (a file or a directory). */
function treeStamp(p: string): string {
  if (!existsSync(p)) return `${p} missing\n`;
  const st = statSync(p);
  if (!st.isDirectory()) return `${p} ${st.size} ${st.mtimeMs}\n`;
  return readdirSync(p).sort().map((n) => treeStamp(join(p, n))).join("");
}

/**
 * The stamp of a build: every input (the sources' names, sizes and mtimes,
 * a --src tree and a --monitor-obj file included) and the options.
 */
async function buildStamp(args: string[]): Promise<string> {
  const { sourceStamp } = await import("./lib/image.ts");
  let extra = JSON.stringify(args.filter((a) => a !== "--force"));
  for (const opt of ["--src", "--monitor-obj"]) {
    const v = argValue(args, opt);
    if (v) extra += treeStamp(resolve(root, v));
  }
  return sourceStamp(extra);
}

function argValue(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i >= 0) return args[i + 1];
  const p = args.find((a) => a.startsWith(name + "="));
  return p ? p.slice(name.length + 1) : undefined;
}

/**
 * Runs this script as a child under the build lock (asynchronously: a long
 * spawnSync starves vitest's worker RPC). `args` are its command-line options.
 */
export function buildImageLocked(args: string[]): Promise<void> {
  return new Promise((res, rej) => {
    const child = spawn("npx", ["tsx", fileURLToPath(import.meta.url), ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", (e) => rej(new Error(`image build: ${e.message}`)));
    child.on("close", (status) => {
      if (status === 0) res();
      else rej(new Error(`image build failed (status ${status}):\n${out.slice(-6000)}`));
    });
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  if (!process.env[LOCK_ENV]) {
    // take the lock and run again inside it, whoever started us
    mkdirSync(dirname(BUILD_LOCK), { recursive: true });
    const r = spawnSync("flock", [BUILD_LOCK, process.execPath, ...process.execArgv, process.argv[1], ...args], {
      cwd: root, stdio: "inherit", env: { ...process.env, [LOCK_ENV]: "1" },
    });
    if (r.error) console.error(`[build] FAILED: flock: ${r.error.message}`);
    process.exit(r.status ?? 1);
  }
  const opts: BuildOptions = {
    monitorObj: argValue(args, "--monitor-obj"),
    srcDir: argValue(args, "--src"),
    cmdline: argValue(args, "--cmdline"),
    elf: argValue(args, "--elf"),
    iso: args.includes("--no-iso") ? false : argValue(args, "--iso"),
  };
  const elf = resolve(opts.elf ?? ELF);
  const stampFile = join(intermediateDir(elf), ".build.stamp");
  const outputs = [elf, ...(opts.iso === false ? [] : [resolve(opts.iso ?? ISO)])];
  (async () => {
    const want = await buildStamp(args);
    if (!args.includes("--force") && outputs.every((f) => existsSync(f)) && existsSync(stampFile) && readFileSync(stampFile, "utf8") === want) {
      console.log(`[build] up to date: nothing changed since the last build of ${rel(elf)} (--force builds anyway)`);
      return;
    }
    rmSync(stampFile, { force: true });
    await buildImage(opts);
    mkdirSync(dirname(stampFile), { recursive: true });
    writeFileSync(stampFile, want);
  })().then(
    () => process.exit(0),
    (e) => {
      console.error(`[build] FAILED: ${e instanceof Error ? e.message : e}`);
      process.exit(1);
    },
  );
}
