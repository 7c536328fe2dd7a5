// `npm run bench -- boot` (or `npx tsx bench/boot/run.ts [--runs N]`):
// image size (bytes, per section) and boot time from emulator launch to the
// "[boot] ready" line in QEMU TCG, QEMU KVM and Bochs; median of several runs.
import { spawnSync } from "node:child_process";
import { statSync } from "node:fs";
import { READY_RE, hasKvm, runBochs, runQemu, type RunResult } from "../../scripts/lib/emulators.ts";
import { ensureImage, ensureIso } from "../../scripts/lib/image.ts";

const runsArg = process.argv.indexOf("--runs");
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 5;
const BOCHS_RUNS = Math.max(1, Math.min(RUNS, 3));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function measure(label: string, runs: number, once: () => Promise<RunResult>): Promise<void> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await once();
    if (r.readyMs === null) {
      console.log(`${label.padEnd(34)} FAILED: no ready line (status ${r.status}, timed out ${r.timedOut})`);
      console.log(r.serial.slice(-800));
      process.exitCode = 1;
      return;
    }
    times.push(r.readyMs);
  }
  console.log(`${label.padEnd(34)} median ${String(Math.round(median(times))).padStart(6)} ms  (runs: ${times.map((t) => Math.round(t)).join(", ")})`);
}

const { elf, iso } = await ensureImage();
const bochsIso = await ensureIso("shutdown", "shutdown");

console.log(`image: ${elf} ${statSync(elf).size} bytes; ${iso} ${statSync(iso).size} bytes`);
const size = spawnSync("size", ["-A", elf], { encoding: "utf8" });
for (const line of size.stdout.split("\n")) {
  const m = /^(\.\S+)\s+(\d+)\s+(\d+)/.exec(line);
  if (m) console.log(`  ${m[1].padEnd(10)} ${m[2].padStart(9)} bytes at 0x${Number(m[3]).toString(16)}${m[1] === ".bss" ? " (not in the file: page tables, stacks, boot-info copy)" : ""}`);
}

console.log(`boot time, launch -> "[boot] ready" (median of ${RUNS}; Bochs ${BOCHS_RUNS}):`);
await measure("QEMU TCG -kernel (qemu64,+svm,+npt)", RUNS, () => runQemu({ kernel: elf, cmdline: "shutdown", until: READY_RE, timeoutMs: 60_000 }));
await measure("QEMU TCG GRUB ISO", RUNS, () => runQemu({ iso: bochsIso, until: READY_RE, timeoutMs: 60_000 }));
if (hasKvm()) {
  await measure("QEMU KVM -kernel (host CPU)", RUNS, () => runQemu({ kernel: elf, accel: "kvm", cmdline: "shutdown", until: READY_RE, timeoutMs: 60_000 }));
} else console.log(`${"QEMU KVM".padEnd(34)} not measured: /dev/kvm is absent`);
await measure("Bochs GRUB ISO (corei7_skylake_x)", BOCHS_RUNS, () => runBochs({ iso: bochsIso, cpu: "corei7_skylake_x", until: READY_RE, timeoutMs: 120_000 }));
