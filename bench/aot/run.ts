// AOT benchmark: integer kernels (bench/aot/kernels) compiled by asc, each
// timed in one run under the AOT linux build, wasm2c + gcc -O2 of the same
// .wasm, and V8 (TurboFan). Prints times (median of --runs), ratios to
// wasm2c+gcc, their geometric means, and AOT compile time per KB of wasm.
//
//   npm run bench -- aot [--runs=N] [--scale=F] [--only=kernel]
import { execFile, spawn } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { promisify } from "node:util";
import { compileAS } from "../../test/aot/lib/asc.ts";
import { aotBackend, root, runExe, wasm2cBackend } from "../../test/aot/lib/backend.ts";

const exec = promisify(execFile);
const opt = new Map<string, string>();
for (const a of process.argv.slice(2)) {
  const m = /^--([\w-]+)(?:=(.*))?$/.exec(a);
  if (m) opt.set(m[1], m[2] ?? "true");
}
const runs = Number(opt.get("runs") ?? 3);
const scale = Number(opt.get("scale") ?? 1);
// the yardstick's gcc flags; the default is the "-O2" (baseline x86-64:
// no popcnt/lzcnt/tzcnt, which wasm2c's popcnt/clz/ctz then emulate)
const w2cFlags = opt.get("w2c-flags") ?? "-O2";
const kernelsDir = join(root, "bench/aot/kernels");
const outDir = join(root, "build/bench-aot");

// repetitions giving roughly 0.2-0.5 s under wasm2c + gcc -O2 on the dev machine
const REPS: Record<string, number> = { hash: 2000, checksum: 1500, sort: 250, hashtable: 3400, bits: 4800, switch: 21000 };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const geomean = (xs: number[]) => Math.exp(xs.reduce((s, x) => s + Math.log(x), 0) / xs.length);

async function timeExe(exe: string, reps: number): Promise<{ t: number; out: string; err?: string }> {
  const times: number[] = [];
  let out = "";
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    const r = await runExe(exe, [String(reps)], 120_000);
    const t = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.status !== 0) return { t: NaN, out: "", err: `status ${r.status} ${r.signal ?? ""} ${r.stderr.trim()}` };
    times.push(t);
    out = r.stdout.toString("latin1");
  }
  return { t: median(times), out };
}

async function timeV8(wasm: string, reps: number): Promise<{ t: number; out: string; err?: string }> {
  try {
    const { stdout } = await exec(process.execPath, ["--no-liftoff", join(root, "bench/aot/v8-child.mjs"), wasm, String(reps), String(runs)], {
      timeout: 300_000,
    });
    const r = JSON.parse(stdout);
    return { t: median(r.times), out: r.out };
  } catch (e: any) {
    return { t: NaN, out: "", err: String(e.stderr ?? e.message).trim().split("\n").slice(-1)[0] };
  }
}

const fmt = (t: number) => (Number.isFinite(t) ? `${t.toFixed(3)}s` : "  n/a ");
const fmtR = (r: number) => (Number.isFinite(r) ? `${r.toFixed(2)}x` : " n/a ");

async function main() {
  const kernels = readdirSync(kernelsDir)
    .filter((f) => f.endsWith(".ts"))
    .map((f) => basename(f, ".ts"))
    .filter((k) => !opt.has("only") || opt.get("only") === k)
    .sort();
  const aot = aotBackend();
  const w2c = wasm2cBackend(w2cFlags);
  const aotRatios: number[] = [];
  const overKernel: string[] = [];
  const v8Ratios: number[] = [];
  let aotCompileS = 0;
  let wasmBytes = 0;
  let mismatches = 0;
  // one untimed compile first: loading binaryen.js and JIT warm-up are not per-KB costs
  try {
    const first = await compileAS(join(kernelsDir, `${kernels[0]}.ts`), outDir, "bench/aot/kernels/lib/io");
    const t0 = process.hrtime.bigint();
    await aot.compile(readFileSync(first), first.replace(/\.wasm$/, ".aot"));
    console.log(`first AOT compile (includes loading binaryen.js): ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(0)} ms`);
  } catch {
    // reported per kernel below
  }
  console.log(`runs per measurement: ${runs} (median), scale ${scale}, wasm2c built with gcc ${w2cFlags}`);
  console.log(`${"kernel".padEnd(10)} ${"wasm2c+gcc".padStart(10)} ${"aot".padStart(8)} ${"v8".padStart(8)}   aot/w2c  v8/w2c  checksum`);
  for (const k of kernels) {
    const reps = Math.max(1, Math.round((REPS[k] ?? 1000) * scale));
    const wasmPath = await compileAS(join(kernelsDir, `${k}.ts`), outDir, "bench/aot/kernels/lib/io");
    const wasm = readFileSync(wasmPath);
    const w2cExe = wasmPath.replace(/\.wasm$/, ".w2c");
    const aotExe = wasmPath.replace(/\.wasm$/, ".aot");
    await w2c.compile(wasm, w2cExe);
    let aotErr = "";
    const t0 = process.hrtime.bigint();
    try {
      await aot.compile(wasm, aotExe);
      aotCompileS += Number(process.hrtime.bigint() - t0) / 1e9;
      wasmBytes += statSync(wasmPath).size;
    } catch (e: any) {
      aotErr = `AOT compile failed: ${String(e?.message ?? e).split("\n")[0]}`;
    }
    const c = await timeExe(w2cExe, reps);
    const a = aotErr ? { t: NaN, out: "", err: aotErr } : await timeExe(aotExe, reps);
    const v = await timeV8(wasmPath, reps);
    const ra = a.t / c.t;
    const rv = v.t / c.t;
    const sums = [c, a, v].map((x) => x.out.trim());
    const agree = !a.err && !v.err && !c.err && sums.every((s) => s === sums[0]);
    if (!agree) mismatches++;
    if (Number.isFinite(ra) && agree) aotRatios.push(ra);
    if (Number.isFinite(ra) && agree && Number(ra.toFixed(2)) > 1.1) overKernel.push(`${k} ${fmtR(ra)}`);
    if (Number.isFinite(rv) && sums[2] === sums[0]) v8Ratios.push(rv);
    console.log(
      `${k.padEnd(10)} ${fmt(c.t).padStart(10)} ${fmt(a.t).padStart(8)} ${fmt(v.t).padStart(8)}   ${fmtR(ra).padStart(7)} ${fmtR(rv).padStart(7)}  ${agree ? sums[0] : "MISMATCH " + JSON.stringify(sums)}`,
    );
    for (const x of [c, a, v]) if (x.err) console.log(`           ${x.err}`);
  }
  console.log(`geometric mean aot/wasm2c+gcc: ${aotRatios.length ? fmtR(geomean(aotRatios)) : "n/a"} over ${aotRatios.length} kernels (issue 15 target: <= 1.0x, every kernel <= 1.1x; above 1.1x: ${overKernel.length ? overKernel.join(", ") : "none"})`);
  console.log(`geometric mean v8/wasm2c+gcc:  ${v8Ratios.length ? fmtR(geomean(v8Ratios)) : "n/a"} over ${v8Ratios.length} kernels`);
  if (wasmBytes) console.log(`AOT compile time: ${((aotCompileS * 1000) / (wasmBytes / 1024)).toFixed(1)} ms per KB of wasm (${(aotCompileS * 1000).toFixed(0)} ms for ${(wasmBytes / 1024).toFixed(1)} KB, incl. as+ld)`);
  if (mismatches) {
    console.log(`${mismatches} kernel(s) without three equal checksums`);
    process.exitCode = 1;
  }
}

await main();
