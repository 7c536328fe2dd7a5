// Runs the pinned WebAssembly spec suite (../shared/wasm-testsuite, or the directory
// in env TV_SPEC_TESTSUITE) against a
// linux backend (the AOT compiler by default). Each module instance gets a
// driver `main` appended (through wasm2wat/wat2wasm) that runs its assertions
// with constant arguments, compares results bit-exactly and reports one
// token per assertion over hw.outb(0xE9). A trap ends the process, so
// hw.arg(0) selects the first assertion to check; earlier actions and
// assert_returns are replayed silently to rebuild the state.
// The harness is the linker (link-check.ts): every import is matched against the
// registered export (assert_unlinkable checked for real), and modules whose imports
// resolve to another instance form a group that runs in one process (runGroup, the
// compiler's compileGroup), instantiated in script order by a driver member.
//
//   npx tsx test/spec/run-spec.ts [--file=NAME] [--backend=aot|wasm2c] [--jobs=N] [--summary=PATH] [--verbose]
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { promisify } from "node:util";
import { getBackend, root, runExe, type Backend } from "../aot/lib/backend.ts";
import { renameExports } from "./wasm-imports.ts";
import { parseWat, type ParsedWat } from "./wat-module.ts";
import { Linker, moduleTypes, type ModuleTypes, type Resolved } from "./link-check.ts";

const exec = promisify(execFile);

const args = new Map<string, string>();
for (const a of process.argv.slice(2)) {
  const m = /^--([\w-]+)(?:=(.*))?$/.exec(a);
  if (!m) throw new Error(`bad argument ${a}`);
  args.set(m[1], m[2] ?? "true");
}
const suiteDir = findSuite();
const buildDir = join(root, "build/spec");
const backend: Backend = getBackend(args.get("backend") ?? "aot");
const jobs = Math.max(1, Number(args.get("jobs") ?? 2));
const verbose = args.has("verbose");
const onlyFile = args.get("file")?.replace(/\.wast$/, "");
const backendVersion = backend.version();

/** The testsuite directory, or exit with one line naming where it looked (no stack trace). */
function findSuite(): string {
  const env = process.env.TV_SPEC_TESTSUITE;
  const dir = env ? resolve(env) : join(root, "../shared/wasm-testsuite");
  let wast = 0;
  try {
    wast = readdirSync(dir).filter((f) => f.endsWith(".wast")).length;
  } catch {
    wast = -1;
  }
  if (wast <= 0) {
    const where = env ? `${dir} (from TV_SPEC_TESTSUITE)` : `${dir} (set TV_SPEC_TESTSUITE to use another directory)`;
    console.error(`spec: the pinned WebAssembly testsuite is missing: ${wast < 0 ? "no directory" : "no .wast files"} at ${where}`);
    process.exit(1);
  }
  return dir;
}

// ---------------------------------------------------------------- utilities

const sha = (b: Uint8Array | string) => createHash("sha256").update(b).digest("hex").slice(0, 24);

/** Run async jobs with at most `n` in flight. */
function limiter(n: number) {
  let active = 0;
  const queue: (() => void)[] = [];
  return async function <T>(fn: () => Promise<T>): Promise<T> {
    if (active >= n) await new Promise<void>((r) => queue.push(r));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      queue.shift()?.();
    }
  };
}
const limit = limiter(jobs);

interface Value {
  type: string;
  value?: string | string[];
  lane_type?: string;
}
interface Action {
  type: "invoke" | "get";
  module?: string;
  field: string;
  args?: Value[];
}
interface Command {
  type: string;
  line: number;
  filename?: string;
  name?: string;
  as?: string;
  action?: Action;
  expected?: Value[];
  text?: string;
  module_type?: string;
}

// spec trap message -> ABI.md code
const trapCodes: [string, number][] = [
  ["unreachable", 1],
  ["integer divide by zero", 2],
  ["integer overflow", 3],
  ["invalid conversion to integer", 4],
  ["out of bounds memory access", 5],
  ["undefined element", 6],
  ["uninitialized element", 6],
  ["indirect call type mismatch", 7],
  ["call stack exhausted", 8],
  ["out of bounds table access", 9],
];
const codeOf = (msg: string) => trapCodes.find(([m]) => msg.startsWith(m))?.[1];

/** Does a process result show the trap the spec expects? Returns an error or "". */
function checkTrap(expected: string, status: number | null, stderr: string, signal: string | null): string {
  const m = /wasm trap: ([^\n]*)/.exec(stderr);
  if (!m) return `expected trap "${expected}", got status ${status}${signal ? ` signal ${signal}` : ""} stderr ${JSON.stringify(stderr.slice(0, 200))}`;
  const alternatives = m[1].split("|");
  const want = codeOf(expected);
  const match = alternatives.find((a) => {
    if (expected.startsWith(a) || a.startsWith(expected)) return true;
    // ABI.md code 6 covers both spec spellings of a bad table entry
    return want === 6 && codeOf(a) === 6;
  });
  if (!match) return `expected trap "${expected}", got "${m[1]}"`;
  if (backend.strictTraps) {
    if (want === undefined) return `unknown expected trap message "${expected}"`;
    if (status !== 100 + want) return `trap "${expected}": exit status ${status}, expected ${100 + want}`;
  } else if (status === null || status < 101 || status > 109) return `trap "${expected}": exit status ${status}`;
  return "";
}

// ---------------------------------------------------------------- results

interface FileResult {
  file: string;
  passed: number;
  failed: number;
  skipped: number;
  notApplicable: number;
  modules: number;
  failures: string[];
  skipReasons: Map<string, number>;
  passedByKind: Map<string, number>;
}

function pass(r: FileResult, kind: string) {
  r.passed++;
  r.passedByKind.set(kind, (r.passedByKind.get(kind) ?? 0) + 1);
}

function fail(r: FileResult, line: number, msg: string, n = 1) {
  r.failed += n;
  r.failures.push(`line ${line}: ${msg}${n > 1 ? ` (${n} assertions)` : ""}`);
}
function skip(r: FileResult, reason: string, n = 1) {
  if (n <= 0) return;
  r.skipped += n;
  r.skipReasons.set(reason, (r.skipReasons.get(reason) ?? 0) + n);
}

// ---------------------------------------------------------------- conversion and caches

async function convert(wastPath: string): Promise<{ dir: string; json: string }> {
  const name = basename(wastPath, ".wast");
  const dir = join(buildDir, "json", `${name}-${sha(readFileSync(wastPath))}`);
  const json = join(dir, `${name}.json`);
  if (!existsSync(json)) {
    const tmp = `${dir}.tmp${process.pid}`;
    mkdirSync(tmp, { recursive: true });
    try {
      await exec("wast2json", [wastPath, "-o", join(tmp, `${name}.json`)], { maxBuffer: 64 << 20 });
    } catch (e: any) {
      // wast2json 1.0.32 requires the table index that reference-types text may omit
      // (`table.get (local.get $i)`, `table.size`): give it the default table 0 and retry
      if (!/expected a numeric index or a name/.test(String(e.stderr))) throw e;
      const fixed = join(tmp, `${name}.wast`);
      writeFileSync(fixed, readFileSync(wastPath, "utf8").replace(/\b(table\.(?:get|set|size|grow|fill))\b(?!\s+(?:\$|\d))/g, "$1 0"));
      await exec("wast2json", [fixed, "-o", join(tmp, `${name}.json`)], { maxBuffer: 64 << 20 });
    }
    mkdirSync(join(buildDir, "json"), { recursive: true });
    if (!existsSync(json)) renameSync(tmp, dir);
  }
  return { dir, json };
}

async function supported(wasmPath: string): Promise<string> {
  try {
    await exec("wasm-validate", ["--disable-simd", wasmPath]);
    return "";
  } catch (e: any) {
    return String(e.stderr ?? e.message).trim().split("\n")[0];
  }
}

let tmpSeq = 0;

const inFlight = new Map<string, Promise<{ exe?: string; error?: string }>>();

/** Compile through the backend, caching the executable (or the error) by content. */
function compileCached(wasm: Uint8Array): Promise<{ exe?: string; error?: string }> {
  const key = sha(Buffer.concat([Buffer.from(wasm), Buffer.from(backendVersion)]));
  return cachedBuild(key, "", (tmp) => backend.compile(wasm, tmp));
}

/**
 * One build per key, shared by concurrent callers and kept on disk: `<key><kind>.exe`, or
 * `<key><kind>.err` holding the first lines of the error. `build` writes the executable to the
 * temporary path it is given (renamed into place only when complete).
 */
function cachedBuild(key: string, kind: string, build: (tmp: string) => Promise<unknown>): Promise<{ exe?: string; error?: string }> {
  let p = inFlight.get(key + kind);
  if (!p) {
    p = (async () => {
      const dir = join(buildDir, "exe", backend.name);
      const exe = join(dir, `${key}${kind}.exe`);
      const errFile = join(dir, `${key}${kind}.err`);
      if (existsSync(exe)) return { exe };
      if (existsSync(errFile)) return { error: readFileSync(errFile, "utf8") };
      mkdirSync(dir, { recursive: true });
      const tmp = `${exe}.${process.pid}.${++tmpSeq}.tmp`;
      try {
        await build(tmp);
        renameSync(tmp, exe);
        return { exe };
      } catch (e: any) {
        const msg = String(e?.message ?? e).split("\n").slice(0, 3).join(" / ") || "error";
        writeFileSync(errFile, msg);
        return { error: msg };
      }
    })();
    inFlight.set(key + kind, p);
  }
  return p;
}

// ---------------------------------------------------------------- driver generation

const SPECTEST_GLOBALS: Record<string, [string, string]> = {
  global_i32: ["i32", "(i32.const 666)"],
  global_i64: ["i64", "(i64.const 666)"],
  global_f32: ["f32", "(f32.const 666.6)"],
  global_f64: ["f64", "(f64.const 666.6)"],
};
const SPECTEST_FUNCS = new Set(["print", "print_i32", "print_i64", "print_f32", "print_f64", "print_i32_f32", "print_f64_f64"]);

/** Definitions replacing spectest imports, or a reason why the module cannot be linked here. */
function linkImports(w: ParsedWat, linked: Map<number, string>): { defs: string[]; drop: Set<number>; consts: Map<string, string> } | string {
  const defs: string[] = [];
  const consts = new Map<string, string>();
  const drop = new Set<number>();
  for (const imp of w.imports) {
    const mod = imp.module.toString();
    const field = imp.field.toString();
    const def = linked.get(imp.line);
    if (def) {
      drop.add(imp.line);
      defs.push(def);
      continue;
    }
    if (mod !== "spectest") return `imports from registered module "${mod}"`;
    drop.add(imp.line);
    if (imp.kind === "func" && SPECTEST_FUNCS.has(field)) {
      const t = w.types.get(w.funcTypes.get(imp.name) ?? "");
      if (t && t.results.length) return `spectest.${field} imported with results`;
      defs.push(`(func ${imp.name}${imp.rest})`);
    } else if (imp.kind === "global" && field in SPECTEST_GLOBALS) {
      const [ty, init] = SPECTEST_GLOBALS[field];
      if (imp.rest.trim() !== ty) return `spectest.${field} imported as ${imp.rest.trim()}`;
      defs.push(`(global ${imp.name} ${ty} ${init})`);
      // MVP constant expressions may only read imported globals: use the value itself
      consts.set(imp.name, init.slice(1, -1));
    } else if (imp.kind === "table" && field === "table") {
      if (!/funcref/.test(imp.rest)) return "spectest.table of wrong type";
      defs.push(`(table ${imp.name} 10 20 funcref)`);
    } else if (imp.kind === "memory" && field === "memory") {
      defs.push(`(memory ${imp.name} 1 2)`);
    } else return `unknown import spectest.${field}`;
  }
  return { defs, drop, consts };
}

const hex32 = (v: bigint) => `0x${(v & 0xffffffffn).toString(16)}`;
const hex64 = (v: bigint) => `0x${(v & 0xffffffffffffffffn).toString(16)}`;

/** A wat expression for an argument constant, or null when unsupported. */
function constExpr(v: Value): string | null {
  if (typeof v.value !== "string") return null;
  // host references: the driver's hw.ref_extern hook makes extern N (module.ts, linux stubs)
  if (v.type === "externref") return v.value === "null" ? "(ref.null extern)" : `(call $__ref_extern (i32.const ${Number(v.value)}))`;
  if (v.type === "funcref") return v.value === "null" ? "(ref.null func)" : null;
  const bits = BigInt(v.value);
  switch (v.type) {
    case "i32":
      return `(i32.const ${hex32(bits)})`;
    case "i64":
      return `(i64.const ${hex64(bits)})`;
    case "f32":
      return `(f32.reinterpret_i32 (i32.const ${hex32(bits)}))`;
    case "f64":
      return `(f64.reinterpret_i64 (i64.const ${hex64(bits)}))`;
  }
  return null;
}

/** Result bits of type `t` (on the stack) widened to i64. */
function toBits(t: string, e: string): string | null {
  switch (t) {
    case "i32":
      return `(i64.extend_i32_u ${e})`;
    case "i64":
      return e;
    case "f32":
      return `(i64.extend_i32_u (i32.reinterpret_f32 ${e}))`;
    case "f64":
      return `(i64.reinterpret_f64 ${e})`;
    case "externref":
      return `(call $__ref_bits ${e})`;
    case "funcref":
      return `(call $__ref_bits_func ${e})`;
  }
  return null;
}

/** Condition over local $r (the result bits) for an expected value. */
function compareExpr(v: Value): string | null {
  if (typeof v.value !== "string") return null;
  const is32 = v.type === "f32";
  if (v.value === "nan:canonical" || v.value === "nan:arithmetic") {
    if (v.type !== "f32" && v.type !== "f64") return null;
    const quiet = is32 ? 0x7fc00000n : 0x7ff8000000000000n;
    const mask = v.value === "nan:canonical" ? (is32 ? 0x7fffffffn : 0x7fffffffffffffffn) : quiet;
    return `(i64.eq (i64.and (local.get $r) (i64.const ${hex64(mask)})) (i64.const ${hex64(quiet)}))`;
  }
  // extern N is N+1 (0 is null); a non-null funcref is any non-zero descriptor address
  if (v.type === "externref") return `(i64.eq (local.get $r) (i64.const ${v.value === "null" ? 0 : Number(v.value) + 1}))`;
  if (v.type === "funcref") return v.value === "null" ? "(i64.eqz (local.get $r))" : "(i64.ne (local.get $r) (i64.const 0))";
  if (!["i32", "i64", "f32", "f64"].includes(v.type)) return null;
  return `(i64.eq (local.get $r) (i64.const ${hex64(BigInt(v.value))}))`;
}

interface Assertion {
  cmd: Command;
  kind: "return" | "trap" | "exhaustion" | "action";
  /** order of the command in the script (groups interleave their members' commands) */
  seq?: number;
  /** instantiation of a group member: its init function and what a replay calls */
  init?: { fn: string; replay: string };
}

interface Instance {
  cmd: Command; // the module command
  wasmPath: string;
  uninstantiable?: string; // expected start/instantiation trap message
  assertions: Assertion[];
  skipReason?: string;
  /** order of the module command in the script */
  seq: number;
  /** its imports as the linker resolved them */
  imports?: Resolved<Instance>[];
  /** the linker's error: the module does not link although the script expects it to */
  linkError?: string;
}

/** Build the driver wat for one instance: null + reason when it cannot be driven. */
function buildDriver(
  assertions: Assertion[],
  w: ParsedWat,
  r: FileResult,
  linked: Map<number, string>,
  lookupFor?: (a: Assertion) => { kind: string; name: string } | undefined,
  linkedImports = false,
): { wat: string; checked: Assertion[] } | string {
  // a group's driver imports only what compileGroup binds: nothing to replace
  const link = linkedImports ? { defs: [], drop: new Set<number>(), consts: new Map<string, string>() } : linkImports(w, linked);
  if (typeof link === "string") return link;
  const exportsByName = new Map<string, { kind: string; name: string }>();
  for (const e of w.exports) exportsByName.set(e.field.toString("latin1"), e);
  const lookup = (a: Assertion) => (lookupFor ? lookupFor(a) : exportsByName.get(Buffer.from(a.cmd.action!.field, "utf8").toString("latin1")));

  const checked: Assertion[] = [];
  const pieces: string[] = [];
  const mvLocals = new Set<string>();
  for (const a of assertions) {
    const act = a.cmd.action!;
    if (a.init) {
      // a group's module instantiation (runGroup): its init function, checked or replayed
      const i = checked.length;
      checked.push(a);
      const call = `(call ${a.init.fn})`;
      const check = a.kind === "trap" ? `(call $__out (i32.const 84)) ${call} (call $__out (i32.const 78))` : `${call} (call $__out (i32.const 46))`;
      pieces.push(`    (if (i32.le_u (local.get $k) (i32.const ${i})) (then ${check}) (else (call ${a.init.replay})))`);
      continue;
    }
    const ex = lookup(a);
    let call: string | null = null;
    let resultTypes: string[] = [];
    if (act.type === "invoke" && ex?.kind === "func") {
      const t = w.types.get(w.funcTypes.get(ex.name) ?? "");
      const argExprs = (act.args ?? []).map(constExpr);
      if (t && !argExprs.includes(null)) {
        call = `(call ${ex.name} ${argExprs.join(" ")})`;
        resultTypes = t.results;
      }
    } else if (act.type === "get" && ex?.kind === "global") {
      const g = w.lines.find((l) => l.startsWith(`  (global ${ex.name} `) || l.startsWith(`  (import `) && l.includes(`(global ${ex.name} `));
      const ty = g && /\(global \S+ (?:\(mut )?(\w+)/.exec(g)?.[1];
      if (ty) {
        call = `(global.get ${ex.name})`;
        resultTypes = [ty];
      }
    }
    if (!call) {
      skip(r, `action on unsupported export "${act.field}"`);
      continue;
    }
    if (resultTypes.some((t) => !["i32", "i64", "f32", "f64", "externref", "funcref"].includes(t))) {
      skip(r, `result of type ${resultTypes.join(" ")}`);
      continue;
    }
    // several results: unfolded drops pop them all
    const drop = resultTypes.length === 0 ? call : resultTypes.length === 1 ? `(drop ${call})` : `${call} ${"(drop) ".repeat(resultTypes.length).trim()}`;
    const i = checked.length;
    let check: string;
    let replay = "";
    if (a.kind === "trap" || a.kind === "exhaustion") {
      check = `(call $__out (i32.const 84)) ${drop} (call $__out (i32.const 78))`;
    } else if (a.kind === "action") {
      check = `${drop} (call $__out (i32.const 46))`;
      replay = drop;
    } else {
      const exp = a.cmd.expected ?? [];
      replay = drop;
      if (exp.length !== resultTypes.length) {
        skip(r, "expected result count differs from signature");
        continue;
      }
      if (exp.length === 0) check = `${call} (call $__out (i32.const 46))`;
      else if (exp.length > 1) {
        // multi-value: results into locals $mv<i> (last first), each compared; the first
        // mismatching value is reported
        const parts: string[] = [call];
        for (let i = exp.length - 1; i >= 0; i--) parts.push(`(local.set $mv${i}_${resultTypes[i]})`);
        parts.push("(local.set $ok (i32.const 1))");
        let ok = true;
        exp.forEach((v, i) => {
          const cmp = compareExpr(v);
          const bits = toBits(resultTypes[i], `(local.get $mv${i}_${resultTypes[i]})`);
          if (!cmp || !bits || v.type !== resultTypes[i]) ok = false;
          mvLocals.add(`$mv${i}_${resultTypes[i]} ${resultTypes[i]}`);
          parts.push(`(local.set $r ${bits}) (if (i32.eqz ${cmp}) (then (if (local.get $ok) (then (local.set $bad (local.get $r)))) (local.set $ok (i32.const 0))))`);
        });
        if (!ok) {
          skip(r, `unsupported expected value type ${exp.map((v) => v.type).join(" ")}`);
          continue;
        }
        parts.push("(if (local.get $ok) (then (call $__out (i32.const 46))) (else (call $__out (i32.const 70)) (call $__hex (local.get $bad)) (call $__out (i32.const 59))))");
        check = parts.join(" ");
      } else {
        const cmp = compareExpr(exp[0]);
        const bits = toBits(resultTypes[0], call);
        if (!cmp || !bits || exp[0].type !== resultTypes[0]) {
          skip(r, `unsupported expected value type ${exp[0].type}`);
          continue;
        }
        check =
          `(local.set $r ${bits}) (if ${cmp} (then (call $__out (i32.const 46))) ` +
          `(else (call $__out (i32.const 70)) (call $__hex (local.get $r)) (call $__out (i32.const 59))))`;
      }
    }
    checked.push(a);
    pieces.push(`    (if (i32.le_u (local.get $k) (i32.const ${i})) (then ${check})${replay ? ` (else ${replay})` : ""})`);
  }

  const out: string[] = [];
  const drop = link.drop;
  const mainExport = w.exports.find((e) => e.field.toString() === "main");
  w.lines.forEach((l, idx) => {
    if (drop.has(idx) || idx === mainExport?.line) return;
    for (const [name, value] of link.consts) {
      const re = new RegExp(`global\\.get ${name.replace(/[^\w]/g, "\\$&")}(?![\\w$.<>\\-+*/\\\\^~=?!#%&|:'\`@])`, "g");
      l = l.replace(re, value);
    }
    out.push(l);
    if (idx === 0) {
      out.push('  (import "hw" "outb" (func $__outb (param i32 i32)))');
      out.push('  (import "hw" "arg" (func $__arg (param i32) (result i32)))');
      out.push('  (import "hw" "ref_extern" (func $__ref_extern (param i32) (result externref)))');
      out.push('  (import "hw" "ref_bits" (func $__ref_bits (param externref) (result i64)))');
      out.push('  (import "hw" "ref_bits_func" (func $__ref_bits_func (param funcref) (result i64)))');
    }
  });
  // close of the module is the last ")" in the text
  let text = out.join("\n");
  const end = text.lastIndexOf(")");
  const chunks: string[] = [];
  const CHUNK = 200;
  for (let c = 0; c * CHUNK < pieces.length || c === 0; c++) {
    chunks.push(
      `  (func $__drv${c} (param $k i32) (local $r i64) (local $ok i32) (local $bad i64)${[...mvLocals].map((l) => ` (local ${l})`).join("")}\n${pieces.slice(c * CHUNK, (c + 1) * CHUNK).join("\n")})`,
    );
  }
  const driver = [
    ...link.defs.map((d) => "  " + d),
    "  (func $__out (param i32) (call $__outb (i32.const 0xE9) (local.get 0)))",
    "  (func $__hex (param i64) (local $i i32) (local $d i32)",
    "    (local.set $i (i32.const 60))",
    "    (loop $l (local.set $d (i32.wrap_i64 (i64.and (i64.shr_u (local.get 0) (i64.extend_i32_u (local.get $i))) (i64.const 15))))",
    "      (call $__out (i32.add (local.get $d) (select (i32.const 48) (i32.const 87) (i32.lt_u (local.get $d) (i32.const 10)))))",
    "      (local.set $i (i32.sub (local.get $i) (i32.const 4)))",
    "      (br_if $l (i32.ge_s (local.get $i) (i32.const 0)))))",
    ...chunks,
    `  (func $__main (export "main") (result i32) (local $k i32) (local.set $k (call $__arg (i32.const 0)))`,
    ...chunks.map((_, c) => `    (call $__drv${c} (local.get $k))`),
    "    (i32.const 0))",
  ];
  text = text.slice(0, end) + "\n" + driver.join("\n") + "\n" + text.slice(end);
  return { wat: text, checked };
}

// ---------------------------------------------------------------- running

/** wasm2wat text of a module with its export names restored (renameExports gives plain ones first). */
const watCache = new Map<string, Promise<ParsedWat>>();
function parsedWat(wasmPath: string): Promise<ParsedWat> {
  let p = watCache.get(wasmPath);
  if (!p) {
    p = (async () => {
      const renamed = renameExports(readFileSync(wasmPath));
      // not runInstance's .plain.wasm: both may work on the same module at once
      const plainPath = wasmPath.replace(/\.wasm$/, ".link.wasm");
      writeFileSync(plainPath, renamed.bytes);
      const wat = await limit(() => exec("wasm2wat", ["--generate-names", "--no-debug-names", plainPath], { maxBuffer: 256 << 20 }))
        .then((o) => o.stdout)
        .catch((e) => {
          throw new Error(`wasm2wat failed on ${wasmPath}: ${e.stderr ?? e}`);
        });
      const parsed = parseWat(wat);
      for (const e of parsed.exports) e.field = renamed.names[Number(e.field.toString().slice(1))];
      return parsed;
    })();
    watCache.set(wasmPath, p);
  }
  return p;
}

// ---------------------------------------------------------------- module groups

/** Assertions a member of a group stands for (its own, and an expected instantiation trap). */
const stepsOf = (i: Instance) => i.assertions.length + (i.uninstantiable ? 1 : 0);

/** The spectest module of the reference interpreter as a real module (a group's member 0). */
const SPECTEST_WAT = `(module
  (func (export "print")) (func (export "print_i32") (param i32)) (func (export "print_i64") (param i64))
  (func (export "print_f32") (param f32)) (func (export "print_f64") (param f64))
  (func (export "print_i32_f32") (param i32 f32)) (func (export "print_f64_f64") (param f64 f64))
  (global (export "global_i32") i32 (i32.const 666)) (global (export "global_i64") i64 (i64.const 666))
  (global (export "global_f32") f32 (f32.const 666.6)) (global (export "global_f64") f64 (f64.const 666.6))
  (table (export "table") 10 20 funcref)
  (memory (export "memory") 1 2))`;
let spectestWasm: Promise<Uint8Array> | undefined;
function spectestModule(): Promise<Uint8Array> {
  spectestWasm ??= (async () => {
    const dir = join(buildDir, "spectest");
    mkdirSync(dir, { recursive: true });
    const wat = join(dir, `spectest-${process.pid}.wat`);
    writeFileSync(wat, SPECTEST_WAT);
    await exec("wat2wasm", [wat, "-o", wat.replace(/\.wat$/, ".wasm")]);
    return new Uint8Array(readFileSync(wat.replace(/\.wat$/, ".wasm")));
  })();
  return spectestWasm;
}

/** A wat string literal for arbitrary bytes. */
const watString = (s: string) =>
  `"${[...Buffer.from(s, "utf8")].map((b) => (b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c ? String.fromCharCode(b) : `\\${b.toString(16).padStart(2, "0")}`)).join("")}"`;

/**
 * Run a group of linked modules in one process (scripts/aot compileGroup): member 0 is the
 * spectest module, then the group's modules in script order, each compiled on its own with its
 * imports bound to the export the harness's linker resolved; the last member is the driver,
 * which instantiates each module when the script defines it and runs the assertions in script
 * order against the members' exports.
 */
async function runGroup(members: Instance[], dir: string, r: FileResult, linker: Linker<Instance>): Promise<void> {
  const line = members[0].cmd.line;
  const total = members.reduce((n, i) => n + stepsOf(i), 0);
  const bad = members.find((i) => i.linkError || i.skipReason);
  if (bad?.linkError) {
    fail(r, bad.cmd.line, `module does not link: ${bad.linkError}`, total);
    return;
  }
  if (bad) {
    skip(r, `linked group: ${bad.skipReason}`, total);
    return;
  }
  if (backend.name !== "aot") {
    skip(r, `linked modules need the aot backend's compileGroup (backend ${backend.name})`, total);
    return;
  }
  const memberOf = new Map(members.map((m, i) => [m, i + 1]));
  const target = (res: Resolved<Instance>) => ({ member: res.owner === "spectest" ? 0 : memberOf.get(res.owner)!, field: res.field });

  // the driver's imports: each member's init (and replay), each export an assertion uses
  const lines = ["(module"];
  const steps: Assertion[] = [];
  const imported = new Map<string, { kind: string; name: string }>();
  const byAssertion = new Map<Assertion, { kind: string; name: string }>();
  for (const m of members) {
    const k = memberOf.get(m)!;
    lines.push(`  (import "tv_init" "${k}" (func $__init${k}))`);
    if (m.uninstantiable) lines.push(`  (import "tv_replay" "${k}" (func $__replay${k}))`);
    steps.push({
      cmd: { type: "module", line: m.cmd.line, action: { type: "invoke", field: `instantiation of the module at line ${m.cmd.line}` }, text: m.uninstantiable },
      kind: m.uninstantiable ? "trap" : "action",
      seq: m.seq,
      init: { fn: `$__init${k}`, replay: m.uninstantiable ? `$__replay${k}` : `$__init${k}` },
    });
    for (const a of m.assertions) {
      steps.push(a);
      const res = linker.resolveExport(m, a.cmd.action!.field);
      if (!res) continue;
      const t = target(res);
      const key = `${t.member}\0${t.field}\0${res.kind}`;
      let imp = imported.get(key);
      if (!imp) {
        const name = `$__x${imported.size}`;
        const ty = res.type;
        if (ty.kind === "func") {
          const sig = `${ty.params.length ? ` (param ${ty.params.join(" ")})` : ""}${ty.results.length ? ` (result ${ty.results.join(" ")})` : ""}`;
          lines.push(`  (type $__t${imported.size} (func${sig}))`, `  (import "m${t.member}" ${watString(t.field)} (func ${name} (type $__t${imported.size})))`);
        } else if (ty.kind === "global") lines.push(`  (import "m${t.member}" ${watString(t.field)} (global ${name} ${ty.mut ? `(mut ${ty.type})` : ty.type}))`);
        imp = { kind: ty.kind, name };
        imported.set(key, imp);
      }
      byAssertion.set(a, imp);
    }
  }
  lines.push(")");
  steps.sort((a, b) => a.seq! - b.seq!);
  const w = parseWat(lines.join("\n"));
  const d = buildDriver(steps, w, r, new Map(), (a) => byAssertion.get(a), true);
  if (typeof d === "string") {
    skip(r, d, total);
    return;
  }
  const base = join(dir, `group-${basename(members[0].wasmPath, ".wasm")}`);
  writeFileSync(`${base}.driver.wat`, d.wat);
  try {
    await limit(() => exec("wat2wasm", [`${base}.driver.wat`, "-o", `${base}.driver.wasm`]));
  } catch (e: any) {
    fail(r, line, `group driver did not assemble (harness bug): ${String(e.stderr ?? e).split("\n").slice(0, 2).join(" / ")}`, total);
    return;
  }
  // each member's imports, bound by (module, field)
  const wasms: Uint8Array[] = [await spectestModule()];
  const bindings: Record<string, { member: number; field: string }>[] = [{}];
  for (const m of members) {
    wasms.push(new Uint8Array(readFileSync(m.wasmPath)));
    const types = moduleTypes(wasms[wasms.length - 1]);
    const b: Record<string, { member: number; field: string }> = {};
    types.imports.forEach((imp, i) => (b[`${imp.module}\0${imp.field}`] = target(m.imports![i])));
    bindings.push(b);
  }
  wasms.push(new Uint8Array(readFileSync(`${base}.driver.wasm`)));
  bindings.push({});
  const comp = await limit(() => compileGroupCached(wasms, bindings));
  if (comp.error) {
    fail(r, line, `group compile failed: ${comp.error}`, total);
    return;
  }
  r.modules += members.length;
  await runChecked(comp.exe!, d.checked, line, r);
}

/** compileGroup through the cache, keyed by every member's bytes and bindings. */
function compileGroupCached(wasms: Uint8Array[], bindings: Record<string, { member: number; field: string }>[]): Promise<{ exe?: string; error?: string }> {
  const key = sha(Buffer.concat([...wasms.map((w) => Buffer.concat([Buffer.from(sha(w)), Buffer.from([0])])), Buffer.from(JSON.stringify(bindings)), Buffer.from(backendVersion)]));
  return cachedBuild(key, ".group", async (tmp) => {
    const { compileGroup } = await import(join(root, "scripts/aot/index.ts"));
    const members = wasms.map((wasm, k) => ({
      wasm,
      resolve(module: string, field: string) {
        if (k === wasms.length - 1 && (module === "tv_init" || module === "tv_replay")) return module === "tv_init" ? { init: Number(field) } : { replay: Number(field) };
        if (k === wasms.length - 1 && /^m\d+$/.test(module)) return { member: Number(module.slice(1)), field };
        return bindings[k][`${module}\0${field}`];
      },
    }));
    await compileGroup(members, { out: tmp, main: wasms.length - 1 });
  });
}

async function runInstance(inst: Instance, dir: string, r: FileResult): Promise<void> {
  const line = inst.cmd.line;
  const all = inst.assertions.length;
  if (inst.linkError) {
    fail(r, line, `module does not link: ${inst.linkError}`, all + 1);
    return;
  }
  if (inst.skipReason) {
    skip(r, inst.skipReason, all + (inst.uninstantiable ? 1 : 0));
    return;
  }
  // plain export names first, so wasm2wat's generated identifiers are plain too
  const renamed = renameExports(readFileSync(inst.wasmPath));
  const plainPath = inst.wasmPath.replace(/\.wasm$/, ".plain.wasm");
  writeFileSync(plainPath, renamed.bytes);
  const wat = await limit(() => exec("wasm2wat", ["--generate-names", "--no-debug-names", plainPath], { maxBuffer: 256 << 20 }))
    .then((o) => o.stdout)
    .catch((e) => {
      throw new Error(`wasm2wat failed on ${inst.wasmPath}: ${e.stderr ?? e}`);
    });
  const parsed = parseWat(wat);
  for (const e of parsed.exports) e.field = renamed.names[Number(e.field.toString().slice(1))];
  const d = buildDriver(inst.assertions, parsed, r, new Map());
  if (typeof d === "string") {
    skip(r, d, all + (inst.uninstantiable ? 1 : 0));
    return;
  }
  const watPath = join(dir, `${basename(inst.wasmPath, ".wasm")}.driver.wat`);
  const drvPath = watPath.replace(/\.wat$/, ".wasm");
  writeFileSync(watPath, d.wat);
  try {
    await limit(() => exec("wat2wasm", [watPath, "-o", drvPath]));
  } catch (e: any) {
    fail(r, line, `driver did not assemble (harness bug): ${String(e.stderr ?? e).split("\n")[0]}`, d.checked.length + 1);
    return;
  }
  const comp = await limit(() => compileCached(readFileSync(drvPath)));
  if (comp.error) {
    fail(r, line, `compile failed: ${comp.error}`, Math.max(1, d.checked.length + (inst.uninstantiable ? 1 : 0)));
    return;
  }
  const exe = comp.exe!;
  if (inst.uninstantiable) {
    const p = await limit(() => runExe(exe, ["0"]));
    const err = checkTrap(inst.uninstantiable, p.status, p.stderr, p.signal);
    if (err) fail(r, line, `assert_uninstantiable: ${err}`);
    else pass(r, "assert_uninstantiable");
    return;
  }
  r.modules++;
  await runChecked(exe, d.checked, line, r);
}

/** Run a driver executable over its checked assertions, from the first one on; a trap ends a
 * process, the next one starts after it (hw.arg(0)) with the earlier commands replayed. */
async function runChecked(exe: string, checked: Assertion[], line: number, r: FileResult): Promise<void> {
  let k = 0;
  let first = true;
  while (first || k < checked.length) {
    first = false;
    const p = await limit(() => runExe(exe, [String(k)]));
    const out = p.stdout.toString("latin1");
    let pos = 0;
    let j = k;
    let pendingTrap = -1;
    while (pos < out.length && j < checked.length) {
      const c = out[pos++];
      const a = checked[j];
      if (c === ".") {
        // a member's instantiation is no assertion of the script (a failure of it is reported)
        if (!a.init) pass(r, `assert_${a.kind}`.replace("assert_action", "action"));
        j++;
      } else if (c === "F") {
        const semi = out.indexOf(";", pos);
        const got = out.slice(pos, semi < 0 ? undefined : semi);
        pos = semi < 0 ? out.length : semi + 1;
        fail(r, a.cmd.line, `${a.cmd.action!.field}(${(a.cmd.action!.args ?? []).map((x) => x.value).join(", ")}): got 0x${got}, expected ${JSON.stringify(a.cmd.expected?.map((x) => x.value))}`);
        j++;
      } else if (c === "T") {
        if (pos < out.length && out[pos] === "N") {
          pos++;
          fail(r, a.cmd.line, `${a.cmd.action!.field}: expected trap "${a.cmd.text}", returned normally`);
          j++;
        } else pendingTrap = j;
      } else {
        fail(r, a.cmd.line, `driver output garbled: ${JSON.stringify(out.slice(pos - 1, pos + 20))}`, checked.length - j);
        return;
      }
    }
    if (p.timedOut) {
      fail(r, checked[j]?.cmd.line ?? line, "timed out", Math.max(1, checked.length - j));
      return;
    }
    if (pendingTrap >= 0) {
      const a = checked[pendingTrap];
      const err = checkTrap(a.cmd.text ?? "", p.status, p.stderr, p.signal);
      if (err) fail(r, a.cmd.line, `${a.cmd.action!.field}: ${err}`);
      else pass(r, a.init ? "assert_uninstantiable" : `assert_${a.kind}`);
      k = pendingTrap + 1;
      continue;
    }
    if (j >= checked.length && p.status === 0) return;
    // ended early: an unexpected trap or crash at assertion j
    const why = `status ${p.status}${p.signal ? ` signal ${p.signal}` : ""} ${p.stderr.trim().split("\n")[0] ?? ""}`;
    if (j >= checked.length) {
      fail(r, line, `module exited abnormally after its assertions: ${why}`);
      return;
    }
    if (j === k && k > 0 && j < checked.length && out.length === 0 && p.status !== 0) {
      // a replayed command traps: nothing after it can be reached
      fail(r, checked[j].cmd.line, `replay trapped before assertion ${j}: ${why}`, checked.length - j);
      return;
    }
    fail(r, checked[j].cmd.line, `${checked[j].cmd.action!.field}: unexpected end: ${why}`);
    k = j + 1;
  }
}

async function runFile(wastName: string): Promise<FileResult> {
  const r: FileResult = { file: wastName, passed: 0, failed: 0, skipped: 0, notApplicable: 0, modules: 0, failures: [], skipReasons: new Map(), passedByKind: new Map() };
  const { dir, json } = await convert(join(suiteDir, wastName));
  const cmds: Command[] = JSON.parse(readFileSync(json, "utf8")).commands;
  const instances: Instance[] = [];
  const named = new Map<string, Instance>();
  let current: Instance | undefined;
  const pending: Promise<void>[] = [];
  const validity = new Map<string, Promise<string>>();
  const checkSupported = (f: string) => {
    if (!validity.has(f)) validity.set(f, limit(() => supported(join(dir, f))));
    return validity.get(f)!;
  };

  // the harness is the linker: each module's imports are matched against the registered
  // instances' exports before it is instantiated (spec 4.5.4)
  const grows = new Map<Instance, boolean>();
  const linker = new Linker<Instance>((owner, kind) => grows.get(owner) ?? true);
  const typesOf = (path: string): ModuleTypes | string => {
    try {
      return moduleTypes(readFileSync(path));
    } catch (e: any) {
      return String(e?.message ?? e);
    }
  };

  // modules whose imports resolve to another instance share state with it: a group, run in
  // one process (runGroup); union-find over instances
  let seq = 0;
  const parent = new Map<Instance, Instance>();
  const find = (i: Instance): Instance => {
    const p = parent.get(i);
    if (!p || p === i) return i;
    const root = find(p);
    parent.set(i, root);
    return root;
  };
  const joinProviders = (inst: Instance) => {
    for (const imp of inst.imports ?? []) if (imp.owner !== "spectest" && imp.owner !== inst) parent.set(find(imp.owner), find(inst));
  };

  for (const c of cmds) {
    switch (c.type) {
      case "module": {
        current = { cmd: c, wasmPath: join(dir, c.filename!), assertions: [], seq: seq++ };
        instances.push(current);
        const types = typesOf(current.wasmPath);
        if (typeof types !== "string") {
          const l = linker.link(types);
          if ("error" in l) current.linkError = l.error;
          else {
            linker.add(current, types, l.imports);
            current.imports = l.imports;
            joinProviders(current);
          }
        }
        if (c.name) named.set(c.name, current);
        break;
      }
      case "register": {
        const inst = c.name ? named.get(c.name) : current;
        if (inst) {
          if (!grows.has(inst)) {
            // a registered memory or table may be grown by its module before a later import
            const wat = (await exec("wasm2wat", [inst.wasmPath], { maxBuffer: 256 << 20 }).catch(() => ({ stdout: "grow" }))).stdout;
            grows.set(inst, /\b(memory|table)\.grow\b/.test(wat));
          }
          try {
            linker.register(c.as!, inst);
          } catch {
            // an instance the linker does not know (not parsed): imports from it are unknown
          }
        }
        break;
      }
      case "action":
      case "assert_return":
      case "assert_trap":
      case "assert_exhaustion": {
        const target = c.action?.module ? named.get(c.action.module) : current;
        if (!target) {
          skip(r, "assertion without a module");
          break;
        }
        const kind = c.type === "assert_return" ? "return" : c.type === "assert_trap" ? "trap" : c.type === "action" ? "action" : "exhaustion";
        target.assertions.push({ cmd: c, kind, seq: seq++ });
        break;
      }
      case "assert_invalid":
      case "assert_malformed": {
        if (c.module_type !== "binary") {
          r.notApplicable++;
          break;
        }
        pending.push(
          (async () => {
            const res = await limit(() => compileCached(readFileSync(join(dir, c.filename!))));
            if (res.error) pass(r, c.type);
            else fail(r, c.line, `${c.type} (${c.text}): module was accepted`);
          })(),
        );
        break;
      }
      case "assert_uninstantiable": {
        if (c.module_type !== "binary") {
          r.notApplicable++;
          break;
        }
        const wasmPath = join(dir, c.filename!);
        const inst: Instance = { cmd: c, wasmPath, assertions: [], uninstantiable: c.text, seq: seq++ };
        instances.push(inst);
        const types = typesOf(wasmPath);
        if (typeof types !== "string") {
          const l = linker.link(types);
          if ("error" in l) inst.linkError = l.error;
          else {
            inst.imports = l.imports;
            joinProviders(inst);
          }
        }
        break;
      }
      case "assert_unlinkable": {
        if (c.module_type !== "binary") {
          r.notApplicable++;
          break;
        }
        const types = typesOf(join(dir, c.filename!));
        if (typeof types === "string") {
          fail(r, c.line, `assert_unlinkable: module not readable: ${types}`);
          break;
        }
        const l = linker.link(types);
        if (!("error" in l) && l.unknown) skip(r, `assert_unlinkable: ${l.unknown}`);
        else if (!("error" in l)) fail(r, c.line, `assert_unlinkable (${c.text}): module links`);
        else if (!l.error.startsWith(c.text ?? "")) fail(r, c.line, `assert_unlinkable: expected "${c.text}", got "${l.error}"`);
        else pass(r, "assert_unlinkable");
        break;
      }
      default:
        skip(r, `command ${c.type}`);
    }
  }
  const groups = new Map<Instance, Instance[]>();
  for (const inst of instances) {
    const root = find(inst);
    if (!groups.has(root)) groups.set(root, []);
    groups.get(root)!.push(inst);
  }
  for (const members of groups.values()) {
    if (members.length > 1) {
      members.sort((a, b) => a.seq - b.seq);
      pending.push(
        (async () => {
          // members are compiled from their binaries (no wasm2wat): the compiler's validation
          // (V8, then binaryen's feature set) decides, not wabt's reader, which rejects some valid
          // 2.0 modules (e.g. a global.get element expression, elem.wast line 690)
          await runGroup(members, dir, r, linker);
        })().catch((e) => fail(r, members[0].cmd.line, `harness error (module group): ${e?.message ?? e}`, members.reduce((n, i) => n + stepsOf(i), 0))),
      );
      continue;
    }
    const inst = members[0];
    pending.push(
      (async () => {
        const why = await checkSupported(basename(inst.wasmPath));
        // wasm2wat prints the module for the driver: what wabt cannot read cannot be driven
        if (why) inst.skipReason = `module rejected by wasm-validate --disable-simd: ${why}`;
        await runInstance(inst, dir, r);
      })().catch((e) => fail(r, inst.cmd.line, `harness error: ${e?.message ?? e}`, Math.max(1, inst.assertions.length))),
    );
  }
  await Promise.all(pending);
  return r;
}

// ---------------------------------------------------------------- main

const LEFT_OUT: [RegExp, string][] = [
  [/^simd_/, "SIMD (v128) is not supported"],
];

async function main() {
  const files = readdirSync(suiteDir)
    .filter((f) => f.endsWith(".wast"))
    .sort();
  const selected = onlyFile ? files.filter((f) => f === `${onlyFile}.wast`) : files;
  if (!selected.length) throw new Error(`no such spec file: ${onlyFile}`);
  const skippedFiles: { file: string; reason: string }[] = [];
  const results: FileResult[] = [];
  const t0 = Date.now();
  const run: string[] = [];
  for (const f of selected) {
    const lo = LEFT_OUT.find(([re]) => re.test(f));
    if (lo) skippedFiles.push({ file: f, reason: lo[1] });
    else run.push(f);
  }
  // files run two at a time; inside a file, module work shares the job limiter
  const fileLimit = limiter(Math.max(2, jobs));
  await Promise.all(
    run.map((f) =>
      fileLimit(async () => {
        let r: FileResult;
        try {
          r = await runFile(f);
        } catch (e: any) {
          r = { file: f, passed: 0, failed: 1, skipped: 0, notApplicable: 0, modules: 0, failures: [`harness error: ${e?.message ?? e}`], skipReasons: new Map(), passedByKind: new Map() };
        }
        results.push(r);
        const reasons = [...r.skipReasons].map(([k, v]) => `${v} ${k}`).join("; ");
        console.log(
          `${r.failed ? "FAIL" : "ok  "} ${f}: ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped, ${r.notApplicable} n/a${reasons ? ` [skipped: ${reasons}]` : ""}`,
        );
        for (const m of r.failures.slice(0, verbose ? 1000 : 5)) console.log(`       ${m}`);
        if (!verbose && r.failures.length > 5) console.log(`       ... ${r.failures.length - 5} more (--verbose)`);
        if (r.passed === 0 && r.failed === 0) skippedFiles.push({ file: f, reason: reasons || "nothing runnable" });
      }),
    ),
  );
  const passed = results.reduce((s, r) => s + r.passed, 0);
  const failed = results.reduce((s, r) => s + r.failed, 0);
  const skipped = results.reduce((s, r) => s + r.skipped, 0);
  const na = results.reduce((s, r) => s + r.notApplicable, 0);
  const kinds = new Map<string, number>();
  for (const r of results) for (const [k, v] of r.passedByKind) kinds.set(k, (kinds.get(k) ?? 0) + v);
  const reasons = new Map<string, number>();
  for (const r of results) for (const [k, v] of r.skipReasons) reasons.set(k, (reasons.get(k) ?? 0) + v);
  console.log(`\nbackend ${backend.name}, ${run.length} files, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`passed by kind: ${[...kinds].sort().map(([k, v]) => `${k} ${v}`).join(", ")}`);
  console.log(`files left out (${skippedFiles.length}):`);
  for (const s of skippedFiles) console.log(`  ${s.file}: ${s.reason}`);
  console.log(`assertions skipped: ${skipped}`);
  for (const [k, v] of [...reasons].sort((a, b) => b[1] - a[1])) console.log(`  ${v}  ${k}`);
  console.log(`not applicable (text-format assert_invalid/assert_malformed): ${na}`);
  const summary = args.get("summary");
  if (summary) {
    mkdirSync(join(summary, ".."), { recursive: true });
    writeFileSync(summary, JSON.stringify({ passed, failed, skipped, not_applicable: na, backend: backend.name, skipped_files: skippedFiles }, null, 2));
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed === 0 ? 0 : 1;
}

await main();
