// Two AOT compilers side by side on the bench kernels, against wasm2c + gcc -O2, in one run:
// user CPU time of each run (getrusage through python3), median of --runs, --scale x the
// repetitions of run.ts. Load hits all three alike; user time is less load-sensitive than wall time.
//
//   git archive <commit> scripts/aot | tar -x -C build/aot-old
//   npx tsx bench/aot/before-after.ts --old=build/aot-old/scripts/aot [--runs=5] [--scale=2]
import { readFileSync, readdirSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { basename, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { compileAS } from "../../test/aot/lib/asc.ts";
import { root, wasm2cBackend } from "../../test/aot/lib/backend.ts";

const opt = new Map<string, string>();
for (const a of process.argv.slice(2)) { const m = /^--([\w-]+)(?:=(.*))?$/.exec(a); if (m) opt.set(m[1], m[2] ?? "true"); }
if (!opt.has("old")) throw new Error("--old=DIR (a copy of scripts/aot) is required");
const runs = Number(opt.get("runs") ?? 5), scale = Number(opt.get("scale") ?? 2);
// as in run.ts
const REPS: Record<string, number> = { hash: 2000, checksum: 1500, sort: 250, hashtable: 3400, bits: 4800, switch: 21000 };
const kdir = join(root, "bench/aot/kernels"), out = join(root, "build/bench-aot-ba");
const oldC = (await import(pathToFileURL(join(resolve(opt.get("old")!), "index.ts")).href)).compile;
const newC = (await import(pathToFileURL(join(root, "scripts/aot/index.ts")).href)).compile;
const w2c = wasm2cBackend("-O2");
const PY = "import subprocess,resource,sys; subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,check=True); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime)";
const userTime = (exe: string, reps: number) => Number(spawnSync("python3", ["-c", PY, exe, String(reps)], { encoding: "utf8" }).stdout.trim());
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const gm = (xs: number[]) => Math.exp(xs.reduce((s, x) => s + Math.log(x), 0) / xs.length);
const rOld: number[] = [], rNew: number[] = [];
for (const k of readdirSync(kdir).filter((f) => f.endsWith(".ts")).map((f) => basename(f, ".ts")).sort()) {
  const bytes = readFileSync(await compileAS(join(kdir, `${k}.ts`), out, "bench/aot/kernels/lib/io"));
  const exe = { old: join(out, k + ".old"), now: join(out, k + ".new"), w2c: join(out, k + ".w2c") };
  await oldC(bytes, { target: "linux", out: exe.old });
  await newC(bytes, { target: "linux", out: exe.now });
  await w2c.compile(bytes, exe.w2c);
  const outs = Object.values(exe).map((e) => spawnSync(e, [String(REPS[k])], { encoding: "latin1" }).stdout);
  if (new Set(outs).size !== 1) throw new Error(`${k}: outputs differ ${JSON.stringify(outs)}`);
  const t = { old: [] as number[], now: [] as number[], w2c: [] as number[] };
  for (let i = 0; i < runs; i++) for (const b of ["w2c", "old", "now"] as const) t[b].push(userTime(exe[b], REPS[k] * scale));
  const [o, n, c] = [med(t.old), med(t.now), med(t.w2c)];
  rOld.push(o / c); rNew.push(n / c);
  console.log(`${k.padEnd(10)} wasm2c ${c.toFixed(2)}s  old ${o.toFixed(2)}s (${(o / c).toFixed(2)}x)  new ${n.toFixed(2)}s (${(n / c).toFixed(2)}x)`);
}
console.log(`geometric mean vs wasm2c+gcc -O2: old ${gm(rOld).toFixed(2)}x, new ${gm(rNew).toFixed(2)}x (user CPU time, median of ${runs}, repetitions x${scale})`);
