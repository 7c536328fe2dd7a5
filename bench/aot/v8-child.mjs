// Times a kernel under V8 in its own process (started with --no-liftoff so
// TurboFan compiles everything): warm-up calls, then `runs` timed calls of
// main with hw.arg(0) = reps. Prints JSON {times: [s...], out}.
import { readFileSync } from "node:fs";

const [wasmPath, repsText, runsText] = process.argv.slice(2);
const reps = Number(repsText);
const runs = Number(runsText);
let argv0 = 0;
let out = [];
const imports = {
  hw: {
    outb: (port, v) => {
      if (port === 0xe9) out.push(v & 0xff);
    },
    arg: (i) => (i === 0 ? argv0 : 0),
  },
};
const bytes = readFileSync(wasmPath);
const module = new WebAssembly.Module(bytes);
const fresh = () => new WebAssembly.Instance(module, imports).exports.main;
// warm-up: the same code paths at a tenth of the work
for (let i = 0; i < 2; i++) {
  argv0 = Math.max(1, Math.floor(reps / 10));
  fresh()();
}
const times = [];
let text = "";
for (let i = 0; i < runs; i++) {
  const main = fresh(); // each run starts from a fresh instance, like a process
  out = [];
  argv0 = reps;
  const t0 = process.hrtime.bigint();
  main();
  times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  text = Buffer.from(out).toString("latin1");
}
process.stdout.write(JSON.stringify({ times, out: text }));
