// Host capability probes for tests that need KVM or Bochs: a trivial run
// (a 64 KiB firmware image that only signals "done") tells a host that cannot
// provide the capability from a monitor that fails, so the test is skipped
// with the reason instead of failing, and counted as skipped by scripts/test.mjs.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TestContext } from "vitest";
import { BOCHS_BIN, DEBUG_EXIT_SUCCESS, QEMU_BIN, QEMU_STATUS_SUCCESS, hasKvm, kvmCpuModel, root } from "../../scripts/lib/emulators";

const ROM_SIZE = 0x10000;
/** Offset of the reset vector in a 64 KiB BIOS image: the CPU starts at F000:FFF0 (SDM vol. 3 9.1.4). */
const RESET = 0xfff0;

/** QEMU firmware: `mov al, 0x10; out 0xf4, al; hlt; jmp $-3` at the reset vector (isa-debug-exit -> status 33). */
export function qemuProbeRom(): Buffer {
  const rom = Buffer.alloc(ROM_SIZE, 0xf4);
  Buffer.from([0xb0, DEBUG_EXIT_SUCCESS, 0xe6, 0xf4, 0xf4, 0xeb, 0xfd]).copy(rom, RESET);
  return rom;
}

/**
 * Bochs firmware: writes "Shutdown" to port 0x8900, which Bochs' unmapped-port
 * device answers with "Shutdown port: shutdown requested" and quits
 * (Bochs iodev/unmapped.cc). The reset vector jumps far to F000:0000.
 */
export function bochsProbeRom(): Buffer {
  const rom = Buffer.alloc(ROM_SIZE, 0xf4);
  Buffer.from([
    0x8c, 0xc8, // mov ax, cs
    0x8e, 0xd8, // mov ds, ax
    0xba, 0x00, 0x89, // mov dx, 0x8900
    0xbe, 0x20, 0x00, // mov si, msg
    0xac, // .next: lodsb
    0x84, 0xc0, // test al, al
    0x74, 0x03, // jz .done
    0xee, // out dx, al
    0xeb, 0xf8, // jmp .next
    0xf4, // .done: hlt
    0xeb, 0xfd, // jmp .done
  ]).copy(rom, 0);
  rom.write("Shutdown\0", 0x20, "latin1");
  Buffer.from([0xea, 0x00, 0x00, 0x00, 0xf0]).copy(rom, RESET); // jmp far F000:0000
  return rom;
}

function probeDir(): string {
  const d = join(root, "build/host-probe", String(process.pid));
  mkdirSync(d, { recursive: true });
  return d;
}

interface Ran {
  status: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  error?: string;
}

function run(cmd: string, args: string[], timeoutS: number): Promise<Ran> {
  return new Promise((res) => {
    let output = "";
    const c = spawn("timeout", ["-k", "2", String(timeoutS), cmd, ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    c.stdout.on("data", (d: Buffer) => (output += d.toString("latin1")));
    c.stderr.on("data", (d: Buffer) => (output += d.toString("latin1")));
    c.on("error", (e) => res({ status: null, signal: null, output, error: e.message }));
    c.on("close", (status, signal) => res({ status, signal, output }));
  });
}

function onPath(name: string): Promise<boolean> {
  return run("sh", ["-c", `command -v ${name}`], 5).then((r) => r.status === 0);
}

/** The first meaningful line of an emulator's complaint, for the skip reason. */
function firstLine(s: string): string {
  const l = s.split("\n").map((x) => x.trim()).find((x) => x.length > 0 && !/^=+$/.test(x));
  return l ? l.slice(0, 200) : "(no output)";
}

/** Null when QEMU runs the no-op firmware to its isa-debug-exit with this accelerator and CPU model, else why not. */
export async function probeQemu(accel: "tcg" | "kvm", cpu: string): Promise<string | null> {
  if (!(await onPath(QEMU_BIN))) return `${QEMU_BIN} is not installed`;
  const rom = join(probeDir(), `qemu-probe-${accel}.rom`);
  writeFileSync(rom, qemuProbeRom());
  const r = await run(QEMU_BIN, [
    "-accel", accel, "-cpu", cpu, "-m", "16", "-display", "none", "-monitor", "none", "-nodefaults", "-no-reboot",
    "-serial", "none", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-bios", rom,
  ], 20);
  rmSync(rom, { force: true });
  if (r.status === QEMU_STATUS_SUCCESS) return null;
  return `QEMU -accel ${accel} -cpu ${cpu} cannot run a no-op guest here (${r.signal ? `killed by ${r.signal}` : `exit status ${r.status}`}): ${firstLine(r.error ?? r.output)}`;
}

let kvmProbe: Promise<string | null> | undefined;

/**
 * Null when QEMU can run a guest with -accel kvm and the host CPU here (the model qemuArgs picks:
 * -cpu host, or without IA32_ARCH_CAPABILITIES where KVM refuses that MSR, KVM_CPU_MODELS),
 * else why not (no /dev/kvm, or every model refused, with each reason).
 */
export function probeKvm(): Promise<string | null> {
  kvmProbe ??= (async () => {
    if (!hasKvm()) return "/dev/kvm is missing or not readable and writable";
    const m = kvmCpuModel();
    if (!m.cpu) return `QEMU -accel kvm cannot create a vCPU with any host CPU model here (${m.why.join("; ")})`;
    return probeQemu("kvm", m.cpu);
  })();
  return kvmProbe;
}

const bochsProbes = new Map<string, Promise<string | null>>();

/** Null when Bochs can run a no-op firmware with this CPU model and has the BIOS images the tests boot, else why not. */
export function probeBochs(cpu: string): Promise<string | null> {
  let p = bochsProbes.get(cpu);
  if (!p) {
    p = (async () => {
      if (!(await onPath(BOCHS_BIN))) return `${BOCHS_BIN} is not installed (apt-get install bochs bochsbios vgabios)`;
      for (const f of ["/usr/share/bochs/BIOS-bochs-latest", "/usr/share/bochs/VGABIOS-lgpl-latest"]) {
        if (!existsSync(f)) return `${f} is missing (apt-get install bochsbios vgabios)`;
      }
      const dir = join(probeDir(), `bochs-${cpu}`);
      mkdirSync(dir, { recursive: true });
      const log = join(dir, "bochs.log");
      writeFileSync(join(dir, "probe.rom"), bochsProbeRom());
      writeFileSync(join(dir, "cmds"), "c\n");
      writeFileSync(join(dir, "bochsrc"), [
        "megs: 16",
        `cpu: model=${cpu}, count=1, ips=10000000`,
        `romimage: file=${join(dir, "probe.rom")}`,
        'display_library: rfb, options="timeout=0"',
        `log: ${log}`,
        "sound: driver=dummy",
        "speaker: enabled=0",
        "panic: action=fatal",
        "",
      ].join("\n"));
      const r = await run(BOCHS_BIN, ["-q", "-f", join(dir, "bochsrc"), "-rc", join(dir, "cmds")], 30);
      const all = r.output + (existsSync(log) ? readFileSync(log, "latin1") : "");
      rmSync(dir, { recursive: true, force: true });
      if (/Shutdown port: shutdown requested/.test(all)) return null;
      const why = all.match(/>>PANIC<< (.*)/);
      return `Bochs cannot run a no-op firmware with cpu model ${cpu} here: ${why ? why[1].trim() : firstLine(r.error ?? r.output)}`;
    })();
    bochsProbes.set(cpu, p);
  }
  return p;
}

declare module "vitest" {
  interface TaskMeta {
    /** Why a host probe skipped this test (scripts/test.mjs prints it). */
    skipReason?: string;
  }
}

/**
 * Skips the running test when `probe` names a reason: the reason goes into
 * vitest's skip note, the task's meta (scripts/test.mjs prints it) and one console line.
 */
export async function needHost(ctx: TestContext, probe: Promise<string | null>): Promise<void> {
  const reason = await probe;
  if (reason === null) return;
  ctx.task.meta.skipReason = reason;
  console.log(`SKIPPED "${ctx.task.name}": ${reason}`);
  ctx.skip(reason);
}
