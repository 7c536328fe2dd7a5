// Backends that turn a .wasm into a linux executable with the ABI.md contract:
// "aot" (scripts/aot, the project's compiler) and "wasm2c" (wasm2c + gcc with
// the stand-in runtime wasm2c-main.c), the reference for tests and benchmarks.
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, statSync, readdirSync, writeFileSync, copyFileSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const exec = promisify(execFile);
export const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const libDir = join(root, "test/aot/lib");

export type BackendName = "aot" | "wasm2c";

export interface Backend {
  name: BackendName;
  /** Compile wasm bytes to a linux executable at `out`; throws on invalid or unsupported modules. */
  compile(wasm: Uint8Array, out: string): Promise<void>;
  /** Whether trap exit statuses follow ABI.md exactly (wasm2c merges some traps). */
  strictTraps: boolean;
  /** Text that changes whenever the backend's output may change (for caches). */
  version(): string;
}

/** Largest mtime over a directory's files, as a cache key component. */
function treeStamp(dir: string): string {
  let max = 0;
  let n = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        n++;
        max = Math.max(max, statSync(p).mtimeMs);
      }
    }
  };
  if (existsSync(dir)) walk(dir);
  return `${n}:${max}`;
}

let aotCompile: ((wasm: Uint8Array, opts: { target: "linux"; out: string }) => Promise<unknown>) | undefined;

async function loadAot() {
  if (aotCompile) return aotCompile;
  const index = join(root, "scripts/aot/index.ts");
  if (!existsSync(index)) throw new Error("AOT compiler not available: scripts/aot/index.ts does not exist");
  const mod = await import(index);
  if (typeof mod.compile !== "function") throw new Error("AOT compiler not available: scripts/aot/index.ts exports no compile()");
  aotCompile = mod.compile;
  return aotCompile!;
}

export function aotBackend(): Backend {
  return {
    name: "aot",
    strictTraps: true,
    version: () => "aot:" + treeStamp(join(root, "scripts/aot")),
    async compile(wasm, out) {
      const c = await loadAot();
      mkdirSync(dirname(out), { recursive: true });
      await c(wasm, { target: "linux", out });
    },
  };
}

/** wasm2c + gcc. optLevel "-O0" keeps spec runs fast and keeps gcc from turning
 * endless recursion into loops (assert_exhaustion); benchmarks use "-O2". */
export function wasm2cBackend(optLevel = "-O0"): Backend {
  const rtDir = join(root, "build/wasm2c-rt");
  const flags = optLevel.split(/\s+/).filter(Boolean);
  const rtObj = join(rtDir, `wasm-rt-impl${flags.join("").replace(/[^\w-]/g, "_")}.o`);
  return {
    name: "wasm2c",
    strictTraps: false,
    version: () => `wasm2c${optLevel}:${statSync(join(libDir, "wasm2c-main.c")).mtimeMs}`,
    async compile(wasm, out) {
      mkdirSync(rtDir, { recursive: true });
      if (!existsSync(rtObj)) {
        const tmpObj = `${rtObj}.${process.pid}.tmp`;
        await exec("gcc", [...flags, "-c", "-I/usr/src/wasm2c", "/usr/src/wasm2c/wasm-rt-impl.c", "-o", tmpObj]);
        if (!existsSync(rtObj)) copyFileSync(tmpObj, rtObj);
        rmSync(tmpObj, { force: true });
      }
      const work = `${out}.w2c`;
      mkdirSync(work, { recursive: true });
      try {
        const wasmPath = join(work, "module.wasm");
        writeFileSync(wasmPath, wasm);
        try {
          await exec("wasm2c", [wasmPath, "-o", join(work, "module.c"), "--module-name=m"], { maxBuffer: 64 << 20 });
        } catch (e: any) {
          throw new Error(`wasm2c rejected the module: ${String(e.stderr ?? e.message).trim().split("\n")[0]}`);
        }
        await exec(
          "gcc",
          [...flags, "-w", "-I/usr/src/wasm2c", `-I${work}`, join(work, "module.c"), join(libDir, "wasm2c-main.c"), rtObj, "-o", out, "-lm"],
          { maxBuffer: 64 << 20 },
        );
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    },
  };
}

export function getBackend(name: string, optLevel?: string): Backend {
  if (name === "aot") return aotBackend();
  if (name === "wasm2c") return wasm2cBackend(optLevel);
  throw new Error(`unknown backend ${name} (aot|wasm2c)`);
}

export interface RunResult {
  status: number | null;
  signal: string | null;
  stdout: Buffer;
  stderr: string;
  timedOut: boolean;
}

/** Run an executable with a timeout, capturing stdout (bytes) and stderr. */
export function runExe(exe: string, args: string[], timeoutMs = 20000): Promise<RunResult> {
  return new Promise((res) => {
    const child = spawn(exe, args, { stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.stdout.on("data", (d) => out.push(d));
    child.stderr.on("data", (d) => err.push(d));
    child.on("error", (e) => {
      clearTimeout(timer);
      res({ status: null, signal: null, stdout: Buffer.alloc(0), stderr: String(e), timedOut });
    });
    child.on("close", (status, signal) => {
      clearTimeout(timer);
      res({ status, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString(), timedOut });
    });
  });
}
