// bench/vmm: VM exits per second for a guest CPUID loop (boot/guests/cpuidloop.S,
// one "." line per 16384 CPUIDs), in QEMU TCG (AMD-V) and Bochs (VT-x), with
// the monitor's full exit path (`vmm-bench`) beside its minimal CPUID path
// (`vmm-bench=min`: advance RIP and re-enter, no filtering or counters).
// The ratio full/min is the monitor's own handling overhead.
// Usage: npx tsx bench/vmm/run.ts [--seconds=N] [--no-bochs] [--no-qemu]
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bochsConfig, qemuArgs, requireTool, root, QEMU_BIN, BOCHS_BIN } from "../../scripts/lib/emulators";
import { makeIso } from "../../scripts/build-image";
import { buildVmmImage, VMM_ELF } from "../../test/vmm/helpers";

const CPUIDS_PER_LINE = 16384;
const arg = (n: string) => process.argv.find((a) => a.startsWith(`--${n}=`))?.split("=")[1];
const seconds = Number(arg("seconds") ?? 20);

/** Runs `cmd` for `seconds`, sampling the serial text (stdout, or a file) for "[cpuidloop] ." lines. */
function measure(cmd: string, args: string[], serialFile?: string): Promise<{ rate: number; lines: number }> {
  return new Promise((resolve) => {
    const child = spawn("timeout", ["-k", "3", "-s", serialFile ? "INT" : "TERM", String(seconds + 30), cmd, ...args], {
      cwd: root, stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString("latin1")));
    child.stderr.on("data", () => {});
    const samples: { t: number; n: number }[] = [];
    const count = () => {
      const text = serialFile ? (existsSync(serialFile) ? readFileSync(serialFile, "latin1") : "") : out;
      return (text.match(/\[cpuidloop\] \./g) ?? []).length;
    };
    const poll = setInterval(() => {
      const n = count();
      const t = Date.now();
      if (samples.length === 0 || n !== samples[samples.length - 1].n) samples.push({ t, n });
      const first = samples.find((s) => s.n >= 1);
      if (first && t - first.t > seconds * 1000) child.kill("SIGINT");
    }, 50);
    child.on("close", () => {
      clearInterval(poll);
      const first = samples.find((s) => s.n >= 1);
      const last = samples[samples.length - 1];
      if (!first || !last || last.n <= first.n) return resolve({ rate: 0, lines: last?.n ?? 0 });
      // each line is CPUIDS_PER_LINE CPUID exits plus 2 port exits
      const exits = (last.n - first.n) * (CPUIDS_PER_LINE + 2);
      resolve({ rate: exits / ((last.t - first.t) / 1000), lines: last.n });
    });
  });
}

async function qemu(cmdline: string) {
  requireTool(QEMU_BIN, "qemu-system-x86");
  return measure(QEMU_BIN, qemuArgs({ kernel: VMM_ELF, cmdline, cpu: "qemu64,+svm,+npt" }));
}

async function bochs(cmdline: string) {
  requireTool(BOCHS_BIN, "bochs bochsbios vgabios");
  const dir = join(root, "build/vmm/bench-bochs");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const iso = join(dir, "bench.iso");
  makeIso(VMM_ELF, iso, cmdline, true);
  const serialFile = join(dir, "com1.txt");
  const rc = join(dir, "bochsrc");
  writeFileSync(rc, bochsConfig({ iso, serialFile, logFile: join(dir, "bochs.log"), cpu: "corei7_skylake_x" }));
  writeFileSync(join(dir, "cmds"), "c\n");
  return measure(BOCHS_BIN, ["-q", "-f", rc, "-rc", join(dir, "cmds")], serialFile);
}

const fmt = (r: { rate: number; lines: number }) => `${Math.round(r.rate).toString().padStart(8)} exits/s (${r.lines} lines)`;

async function main() {
  await buildVmmImage();
  let failed = false;
  const runs: [string, (c: string) => Promise<{ rate: number; lines: number }>][] = [];
  if (!process.argv.includes("--no-qemu")) runs.push(["QEMU TCG, AMD-V", qemu]);
  if (!process.argv.includes("--no-bochs")) runs.push(["Bochs, VT-x", bochs]);
  for (const [name, fn] of runs) {
    const full = await fn("vmm-bench");
    const min = await fn("vmm-bench=min");
    const ratio = min.rate > 0 ? full.rate / min.rate : 0;
    console.log(`${name.padEnd(16)} full handler ${fmt(full)} | minimal handler ${fmt(min)} | full/min ${ratio.toFixed(3)}`);
    if (full.rate === 0 || min.rate === 0) failed = true;
  }
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.error(`bench/vmm failed: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
});
