// Emulator launch helpers shared by `npm run qemu`, `npm run bochs`, the
// integration tests and the benchmarks: start QEMU or Bochs on the image,
// collect the COM1 output until a regex or a timeout, report how it ended.
// Every emulator runs under coreutils `timeout`, so none outlives its budget.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Value the monitor writes to isa-debug-exit (boot/layout.inc). QEMU exits with (v << 1) | 1. */
export const DEBUG_EXIT_SUCCESS = 0x10;
export const DEBUG_EXIT_FAILURE = 0x11;
export const QEMU_STATUS_SUCCESS = (DEBUG_EXIT_SUCCESS << 1) | 1; // 33
export const QEMU_STATUS_FAILURE = (DEBUG_EXIT_FAILURE << 1) | 1; // 35

/** The line the monitor prints when boot is complete. */
export const READY_RE = /^\[boot\] ready\b/m;

export const QEMU_BIN = "qemu-system-x86_64";
export const BOCHS_BIN = "bochs";

/** Path of a tool on PATH, or an Error that says how to get it (never a silent skip). */
export function requireTool(name: string, pkg = name): string {
  const r = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" });
  const p = r.stdout.trim();
  if (r.status !== 0 || !p) throw new Error(`${name} is not installed: apt-get install ${pkg}`);
  return p;
}

export function hasKvm(): boolean {
  try {
    return existsSync("/dev/kvm") && spawnSync("sh", ["-c", "test -r /dev/kvm -a -w /dev/kvm"]).status === 0;
  } catch {
    return false;
  }
}

export interface RunResult {
  /** Everything COM1 printed (\r removed). */
  serial: string;
  /** Process exit status (null if killed by a signal). */
  status: number | null;
  /** The signal that ended the process, or null. */
  signal: NodeJS.Signals | null;
  /** The isa-debug-exit value decoded from QEMU's status, or null. */
  debugExit: number | null;
  /** True when `until` matched before the end. */
  matched: boolean;
  /** True when the time budget ran out. */
  timedOut: boolean;
  /** Milliseconds from launch to the end / to the first `until` match. */
  elapsedMs: number;
  matchMs: number | null;
  /** Milliseconds from launch to the first READY_RE line, if seen. */
  readyMs: number | null;
  /** Emulator's own stderr / log (for diagnostics). */
  log: string;
}

export interface QemuOptions {
  /** ELF for -kernel (default build/typevisor.elf) or an ISO when iso is set. */
  kernel?: string;
  iso?: string;
  cmdline?: string;
  accel?: "tcg" | "kvm";
  /** CPU model; default qemu64 with SVM + NPT under TCG (EMULATORS.md), host under KVM. */
  cpu?: string;
  memoryMiB?: number;
  smp?: number;
  /** COM2 (the management channel) as a unix socket server at this path. */
  com2Socket?: string;
  extraArgs?: string[];
  timeoutMs?: number;
  /** Stop the emulator when the serial output matches this. */
  until?: RegExp;
  /** Copy serial output to this stream as it arrives. */
  echo?: NodeJS.WritableStream;
}

/**
 * CPU models tried for `-accel kvm`, in order: the host CPU, then the host CPU without
 * IA32_ARCH_CAPABILITIES (MSR 0x10a). QEMU writes that MSR for a host CPU model, and some hosts'
 * KVM refuses it ("failed to set MSR 0x10a", seen on AMD EPYC hosts): QEMU then aborts before the
 * guest runs. The monitor does not read the MSR, so the second model boots it the same way.
 */
export const KVM_CPU_MODELS = ["host", "host,-arch-capabilities"];
let kvmCpuFound: { cpu: string | null; why: string[] } | undefined;

/**
 * The first of KVM_CPU_MODELS with which QEMU can create its vCPU here (a paused machine, quit
 * from the monitor at once: about 60 ms; a refused MSR aborts it in the same time), with the
 * reasons the others failed; cpu null when none works (or QEMU or /dev/kvm is missing).
 */
export function kvmCpuModel(): { cpu: string | null; why: string[] } {
  if (kvmCpuFound) return kvmCpuFound;
  const why: string[] = [];
  for (const cpu of KVM_CPU_MODELS) {
    const r = spawnSync("timeout", ["-k", "2", "20", QEMU_BIN, "-accel", "kvm", "-cpu", cpu, "-S", "-m", "16", "-display", "none",
      "-nodefaults", "-serial", "none", "-monitor", "stdio"], { input: "quit\n", encoding: "utf8" });
    if (r.status === 0) return (kvmCpuFound = { cpu, why });
    const err = (r.stderr || r.error?.message || "").split("\n").find((l) => l.trim()) ?? "";
    why.push(`-cpu ${cpu}: ${r.signal ? `killed by ${r.signal}` : `exit status ${r.status}`}${err ? `: ${err.trim()}` : ""}`);
  }
  return (kvmCpuFound = { cpu: null, why });
}

export function qemuArgs(o: QemuOptions): string[] {
  const accel = o.accel ?? "tcg";
  const cpu = o.cpu ?? (accel === "kvm" ? kvmCpuModel().cpu ?? "host" : "qemu64,+svm,+npt");
  const a = [
    "-accel", accel, "-cpu", cpu, "-m", String(o.memoryMiB ?? 256), "-smp", String(o.smp ?? 1),
    "-display", "none", "-monitor", "none", "-no-reboot", "-nodefaults",
    "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
    "-serial", "stdio",
  ];
  if (o.com2Socket) {
    a.push("-chardev", `socket,id=com2,path=${o.com2Socket},server=on,wait=off`, "-serial", "chardev:com2");
  }
  if (o.iso) a.push("-cdrom", o.iso, "-boot", "d");
  else {
    a.push("-kernel", o.kernel ?? join(root, "build/typevisor.elf"));
    if (o.cmdline) a.push("-append", o.cmdline);
  }
  return a.concat(o.extraArgs ?? []);
}

/** A NIC of the emulated machine on a UDP socket pair (EMULATORS.md "Network test ports"): QEMU listens on
 * 127.0.0.1:local and sends to 127.0.0.1:remote. `mode` "modern" sets disable-legacy=on, "legacy" disable-modern=on. */
export interface DgramNic {
  local: number;
  remote: number;
  mode?: "modern" | "legacy" | "transitional";
  mac?: string;
}

/** QEMU arguments for virtio-net-pci NICs in order (the monitor names them uplink0, uplink1, ... in PCI order). */
export function nicArgs(nics: DgramNic[]): string[] {
  const a: string[] = [];
  nics.forEach((n, i) => {
    a.push("-netdev", `dgram,id=tvnic${i},local.type=inet,local.host=127.0.0.1,local.port=${n.local},` +
      `remote.type=inet,remote.host=127.0.0.1,remote.port=${n.remote}`);
    const mode = n.mode === "modern" ? ",disable-legacy=on" : n.mode === "legacy" ? ",disable-modern=on" : "";
    a.push("-device", `virtio-net-pci,netdev=tvnic${i}${mode}${n.mac ? `,mac=${n.mac}` : ""}`);
  });
  return a;
}

/** QEMU arguments for a virtio-serial-pci with one virtconsole on a unix socket server (the monitor's second management channel). */
export function virtioConsoleArgs(socketPath: string): string[] {
  return ["-device", "virtio-serial-pci", "-chardev", `socket,id=tvvcon,path=${socketPath},server=on,wait=off`,
    "-device", "virtconsole,chardev=tvvcon"];
}

/** When to stop an emulator: a regex over COM1's output, or a predicate over it (called as output arrives). */
export type Until = RegExp | ((serial: string) => boolean);

interface Watch {
  cmd: string;
  args: string[];
  timeoutMs: number;
  until?: Until;
  echo?: NodeJS.WritableStream;
  /** serial from stdout (QEMU) or from a file that the emulator appends to (Bochs) */
  serialFile?: string;
  /** signal `timeout` sends when the budget runs out */
  signal?: string;
}

function watch(w: Watch): Promise<Omit<RunResult, "debugExit">> {
  return new Promise((resolvePromise, reject) => {
    const started = Date.now();
    const secs = Math.max(1, Math.ceil(w.timeoutMs / 1000));
    const child = spawn("timeout", ["-k", "3", "-s", w.signal ?? "TERM", String(secs), w.cmd, ...w.args], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let serial = "";
    let log = "";
    let matchMs: number | null = null;
    let readyMs: number | null = null;
    let echoed = 0;
    const check = () => {
      const now = Date.now() - started;
      if (readyMs === null && READY_RE.test(serial)) readyMs = now;
      if (w.echo && serial.length > echoed) {
        w.echo.write(serial.slice(echoed));
        echoed = serial.length;
      }
      if (matchMs === null && w.until && (typeof w.until === "function" ? w.until(serial) : w.until.test(serial))) {
        matchMs = now;
        // let the last bytes of the line arrive, then stop it
        setTimeout(() => child.kill("SIGTERM"), 200);
      }
    };
    child.stdout.on("data", (d: Buffer) => {
      if (w.serialFile) log += d.toString("latin1");
      else {
        serial += d.toString("latin1").replace(/\r/g, "");
        check();
      }
    });
    child.stderr.on("data", (d: Buffer) => (log += d.toString("latin1")));
    let poll: NodeJS.Timeout | undefined;
    const readFile = () => {
      if (w.serialFile && existsSync(w.serialFile)) {
        serial = readFileSync(w.serialFile, "latin1").replace(/\r/g, "");
        check();
      }
    };
    if (w.serialFile) poll = setInterval(readFile, 50);
    child.on("error", (e) => {
      if (poll) clearInterval(poll);
      reject(new Error(`cannot start ${w.cmd}: ${e.message}`));
    });
    child.on("close", (status, signal) => {
      if (poll) clearInterval(poll);
      readFile();
      const elapsedMs = Date.now() - started;
      resolvePromise({
        serial, status, signal, matched: matchMs !== null, timedOut: matchMs === null && status === 124,
        elapsedMs, matchMs, readyMs, log,
      });
    });
  });
}

/** Boot in QEMU; resolves when QEMU exits, `until` matches, or the budget runs out. */
export async function runQemu(o: QemuOptions = {}): Promise<RunResult> {
  requireTool(QEMU_BIN, "qemu-system-x86");
  if (o.accel === "kvm" && !hasKvm()) throw new Error("/dev/kvm is not available: cannot boot with KVM");
  const image = o.iso ?? o.kernel ?? join(root, "build/typevisor.elf");
  if (!existsSync(image)) throw new Error(`${image} does not exist: run npm run build`);
  const r = await watch({ cmd: QEMU_BIN, args: qemuArgs(o), timeoutMs: o.timeoutMs ?? 60_000, until: o.until, echo: o.echo });
  const debugExit = r.status !== null && r.status % 2 === 1 && r.status > 1 && !r.matched ? (r.status - 1) >> 1 : null;
  return { ...r, debugExit };
}

export interface BochsOptions {
  iso?: string;
  /** Bochs CPU model: corei7_skylake_x (VMX+EPT) by default; ryzen / trinity_apu for SVM. */
  cpu?: string;
  memoryMiB?: number;
  timeoutMs?: number;
  until?: Until;
  echo?: NodeJS.WritableStream;
  /** Directory for bochsrc, log and serial file (default build/bochs/<pid>-<n>). */
  workDir?: string;
  /** COM2 (management channel), Bochs syntax after "enabled=1, ", e.g.
   * "mode=socket-server, dev=127.0.0.1:5900" or "mode=file, dev=PATH". Absent: no COM2. */
  com2?: string;
  /** More bochsrc lines. */
  extraConfig?: string[];
  /** Debugger commands run when Bochs is stopped by the budget's SIGINT (after `c`), e.g. ["r", "sreg", "quit"]. */
  onStop?: string[];
}

let bochsRuns = 0;

export function bochsConfig(o: BochsOptions & { iso: string; serialFile: string; logFile: string }): string {
  return [
    `megs: ${o.memoryMiB ?? 256}`,
    `cpu: model=${o.cpu ?? "corei7_skylake_x"}, count=1, ips=10000000, reset_on_triple_fault=0`,
    "clock: sync=none, time0=local",
    "romimage: file=/usr/share/bochs/BIOS-bochs-latest",
    "vgaromimage: file=/usr/share/bochs/VGABIOS-lgpl-latest",
    `ata0-master: type=cdrom, path=${o.iso}, status=inserted`,
    "boot: cdrom",
    `com1: enabled=1, mode=file, dev=${o.serialFile}`,
    ...(o.com2 ? [`com2: enabled=1, ${o.com2}`] : []),
    'display_library: rfb, options="timeout=0"',
    `log: ${o.logFile}`,
    // Debian's Bochs 2.7 aborts ("buffer overflow detected") in its sound
    // mixer thread when there is no sound card: keep sound out of it.
    "sound: driver=dummy",
    "speaker: enabled=0",
    "panic: action=fatal",
    "error: action=report",
    "info: action=report",
    "debug: action=ignore",
    ...(o.extraConfig ?? []),
    "",
  ].join("\n");
}

/** Boot the ISO in Bochs. Its exit status is no verdict (EMULATORS.md): judge by `serial`. */
export async function runBochs(o: BochsOptions = {}): Promise<RunResult> {
  requireTool(BOCHS_BIN, "bochs bochsbios vgabios");
  const iso = o.iso ?? join(root, "build/typevisor.iso");
  if (!existsSync(iso)) throw new Error(`${iso} does not exist: run npm run build`);
  const dir = o.workDir ?? join(root, "build/bochs", `${process.pid}-${bochsRuns++}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const serialFile = join(dir, "com1.txt");
  const logFile = join(dir, "bochs.log");
  const rc = join(dir, "bochsrc");
  writeFileSync(rc, bochsConfig({ ...o, iso, serialFile, logFile }));
  writeFileSync(join(dir, "cmds"), ["c", ...(o.onStop ?? []), ""].join("\n"));
  const r = await watch({
    cmd: BOCHS_BIN, args: ["-q", "-f", rc, "-rc", join(dir, "cmds")],
    timeoutMs: o.timeoutMs ?? 120_000, until: o.until, echo: o.echo, serialFile, signal: "INT",
  });
  // Bochs's log file, then what it wrote to stdout/stderr (the debugger's answers to `onStop`)
  const log = (existsSync(logFile) ? readFileSync(logFile, "latin1") : "") + r.log;
  return { ...r, log, debugExit: null };
}

/** Lines of the boot log that start with a stage tag such as "[cpu]". */
export function stageLines(serial: string, tag: string): string[] {
  return serial.split("\n").filter((l) => l.startsWith(`[${tag}]`));
}
