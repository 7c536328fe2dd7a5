// `npm run bench [-- AREA...] [OPTIONS]`: runs every bench/<area>/run.ts (or the
// ones named) one after another, so their figures are measured on a quiet
// machine and each prints its own figures and ratios. Options are those of the
// areas, checked here (an unknown one is exit 2, nothing runs) and handed to
// each area that takes them, in the form that area reads.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, intParser, runProgram, setupProgram, usageIn } from "../src/mgmt-api/host/cli.ts";
import { EXIT } from "../src/mgmt-api/host/exit-codes.ts";

const here = dirname(fileURLToPath(import.meta.url));
const AREAS = readdirSync(here, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(here, d.name, "run.ts")))
  .map((d) => d.name)
  .sort();

/** option -> the areas that read it and how: "=" for --name=value, " " for --name value, "flag" */
const AREA_OPTIONS: Record<string, Record<string, "=" | " " | "flag" | "bare">> = {
  runs: { aot: "=", boot: " " },
  scale: { aot: "=" },
  only: { aot: "=" },
  w2cFlags: { aot: "=" },
  seconds: { vmm: "=", net: "=" },
  qemu: { vmm: "flag" },
  bochs: { vmm: "flag" },
  quick: { vswitch: "flag" },
  aot: { vswitch: "flag" },
  requests: { mgmt: "bare" },
  baselineElf: { linux: "=" },
};
const FLAG_NAMES: Record<string, string> = { baselineElf: "baseline-elf", w2cFlags: "w2c-flags", qemu: "no-qemu", bochs: "no-bochs", aot: "no-aot" };

const program = setupProgram(new Command("bench"), { out: (s) => console.log(s), err: (s) => console.error(s) })
  .description(`Runs the benchmarks of the areas named (default: all of ${AREAS.join(", ")}).`)
  .argument("[AREA...]", `one or more of: ${AREAS.join(", ")}`)
  .option("--runs <N>", "repetitions (aot, boot)", intParser("--runs", 1, 1000))
  .option("--scale <F>", "work scale factor (aot)")
  .option("--only <KERNEL>", "one kernel only (aot)")
  .option("--w2c-flags <FLAGS>", "gcc flags of the wasm2c yardstick (aot)")
  .option("--seconds <S>", "seconds per run (vmm), count window (net)", intParser("--seconds", 1, 3600))
  .option("--no-qemu", "skip the QEMU runs (vmm)")
  .option("--no-bochs", "skip the Bochs runs (vmm)")
  .option("--quick", "fewer frames (vswitch)")
  .option("--no-aot", "skip the AOT-compiled runs (vswitch)")
  .option("--requests <N>", "requests per kind (mgmt)", intParser("--requests", 1, 10_000_000))
  .option("--baseline-elf <PATH>", "also time this Typevisor image in the same run (linux)")
  .action((wanted: string[], opts: Record<string, unknown>, cmd: Command) => {
    for (const w of wanted) if (!AREAS.includes(w)) throw usageIn(cmd, `unknown area "${w}": the areas are ${AREAS.join(", ")}`);
    const areas = wanted.length ? AREAS.filter((a) => wanted.includes(a)) : AREAS;
    const given = Object.keys(opts).filter((k) => cmd.getOptionValueSource(k) === "cli");
    for (const k of given) {
      const takers = Object.keys(AREA_OPTIONS[k] ?? {});
      if (!takers.some((a) => areas.includes(a))) throw usageIn(cmd, `--${FLAG_NAMES[k] ?? k} is for ${takers.join(", ")}, which is not being run`);
    }
    let status: number = EXIT.OK;
    for (const area of areas) {
      const args: string[] = [];
      for (const k of given) {
        const form = AREA_OPTIONS[k]?.[area];
        const name = FLAG_NAMES[k] ?? k;
        if (form === "=") args.push(`--${name}=${opts[k]}`);
        else if (form === " ") args.push(`--${name}`, String(opts[k]));
        else if (form === "flag") args.push(`--${name}`);
        else if (form === "bare") args.push(String(opts[k]));
      }
      console.log(`\n=== bench/${area} ===`);
      const r = spawnSync("npx", ["tsx", join(here, area, "run.ts"), ...args], { stdio: "inherit" });
      if (r.status !== 0) status = EXIT.FAILED;
    }
    process.exitCode = status;
  });

runProgram(program, process.argv.slice(2), { out: (s) => console.log(s), err: (s) => console.error(s) }).then((code) => {
  if (code !== EXIT.OK) process.exitCode = code;
});
