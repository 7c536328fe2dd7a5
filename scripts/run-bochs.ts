// `npm run bochs [-- OPTIONS]`: boots build/typevisor.iso in Bochs, COM1
// streamed to this terminal.
//   default       corei7_skylake_x: VT-x with EPT, unrestricted guest, VPID, preemption timer
//   --svm         ryzen: AMD-V with NPT
//   --cpu MODEL   any Bochs CPU model;  --iso PATH  another ISO
//   --timeout S   stop after S seconds (default 600)
// The kernel command line is the ISO's (npm run build -- --cmdline "...").
// Bochs' exit status says nothing (EMULATORS.md); this script exits 0 when
// the log shows a clean shutdown, 1 after a panic or a timeout.
import { join } from "node:path";
import { runBochs, root } from "./lib/emulators.ts";

const args = process.argv.slice(2);
let cpu = "corei7_skylake_x";
let iso = join(root, "build/typevisor.iso");
let timeoutSecs = 600;
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--svm") cpu = "ryzen";
  else if (args[i] === "--cpu") cpu = args[++i];
  else if (args[i] === "--iso") iso = args[++i];
  else if (args[i] === "--timeout") timeoutSecs = Number(args[++i]);
}
console.error(`[bochs] ${iso} on ${cpu} (serial log and bochsrc under build/bochs/)`);
runBochs({ iso, cpu, timeoutMs: timeoutSecs * 1000, echo: process.stdout }).then(
  (r) => {
    process.stdout.write("\n");
    if (/PANIC/.test(r.serial)) process.exit(1);
    if (/shutting down/.test(r.serial)) process.exit(0);
    console.error(r.timedOut ? "[bochs] timed out" : `[bochs] stopped without a clean shutdown (status ${r.status})`);
    process.exit(1);
  },
  (e) => {
    console.error(`[bochs] ${e instanceof Error ? e.message : e}`);
    process.exit(2);
  },
);
