// Builds (with a cache in build/mgmt/) and loads the hosted wasm: the
// AssemblyScript switch and management server compiled for Node.

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const ENTRY = "src/mgmt-api/hosted-entry.ts";
// TV_HOSTED_BUILD_DIR: another cache (a test of the first, uncached start)
const OUT_DIR = process.env.TV_HOSTED_BUILD_DIR || join(ROOT, "build", "mgmt");

function listSources(dir: string, out: string[]): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name === "host" || e.name === "node_modules") continue;
      listSources(p, out);
    } else if (e.name.endsWith(".ts")) out.push(p);
  }
}

/** Hash of every AssemblyScript source the hosted build depends on. */
function sourceHash(): string {
  const files: string[] = [];
  listSources(join(ROOT, "src", "mgmt-api"), files);
  listSources(join(ROOT, "src", "vswitch"), files);
  files.sort();
  const h = createHash("sha256");
  for (const f of files) {
    h.update(relative(ROOT, f));
    h.update("\0");
    h.update(readFileSync(f));
    h.update("\0");
  }
  return h.digest("hex").slice(0, 16);
}

/** Compiles the hosted wasm unless a build of the same sources exists; returns its path. */
export async function buildHosted(opts: { quiet?: boolean; progress?: (line: string) => void } = {}): Promise<string> {
  const hash = sourceHash();
  const out = join(OUT_DIR, `hosted-${hash}.wasm`);
  if (existsSync(out) && statSync(out).size > 0) return out;
  mkdirSync(OUT_DIR, { recursive: true });
  const started = performance.now();
  opts.progress?.(`asc ${ENTRY} --target node -O3 (not built for these sources yet; about 10-20 s)`);
  const tmp = `${out}.${process.pid}.tmp`;
  const asc = (await import("assemblyscript/asc")).default;
  let errText = "";
  const prev = process.cwd();
  // asconfig.json in the root applies to every asc run; the node target is what we want.
  process.chdir(ROOT);
  try {
    const r = await asc.main(
      [ENTRY, "--target", "node", "--outFile", tmp, "--optimizeLevel", "3", "--runtime", "incremental"],
      {
        stdout: { write: (s: string) => (opts.quiet ? true : process.stderr.write(s)) } as any,
        stderr: { write: (s: string) => ((errText += s), true) } as any,
      },
    );
    if (r.error) throw new Error(`asc failed: ${r.error.message}\n${errText}`);
  } finally {
    process.chdir(prev);
  }
  renameSync(tmp, out);
  for (const ext of [".js", ".d.ts"]) rmSync(tmp + ext, { force: true }); // the node target's bindings: unused
  opts.progress?.(`built ${relative(process.cwd(), out)} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return out;
}

export interface HostedExports {
  memory: WebAssembly.Memory;
  init(auditRecords: number, auditBytes: number): void;
  in_ptr(): number;
  feed(n: number): void;
  open_session(): number;
  close_session(id: number): void;
  feed_session(id: number, n: number): void;
  out_ptr(): number;
  out_len(): number;
  consumed(n: number): void;
  set_clock_ns(ns: bigint): void;
  set_host(virt: number, cpus: number, memoryMib: bigint): void;
  add_test_port(n: number): number;
  frame_in(port: number, n: number): void;
  age(): number;
  drain(): number;
  tx_ptr(): number;
  tx_clear(): void;
  queued(): number;
  state_digest(): bigint;
  audit_last_seq(): bigint;
  audit_last_code(): number;
  test_out_ptr(): number;
  test_out_len(): number;
  test_json(n: number): number;
  test_framer(n: number): number;
  test_clear(): void;
}

export class WasmTrap extends Error {}

/** One instance of the hosted module with byte-level helpers. */
export class Hosted {
  readonly x: HostedExports;
  private inPtr = 0;
  constructor(x: HostedExports) {
    this.x = x;
    this.inPtr = x.in_ptr();
  }

  private mem(): Uint8Array {
    return new Uint8Array(this.x.memory.buffer);
  }

  /** Copies bytes into the staging buffer (at most 65536). */
  stage(b: Uint8Array): number {
    this.inPtr = this.x.in_ptr();
    this.mem().set(b, this.inPtr);
    return b.length;
  }

  /** Feeds management bytes (any size) and returns the response bytes produced. */
  feed(b: Uint8Array): Uint8Array {
    for (let i = 0; i < b.length; i += 65536) {
      const part = b.subarray(i, Math.min(b.length, i + 65536));
      this.stage(part);
      this.x.feed(part.length);
    }
    return this.takeOutput();
  }

  /** Feeds bytes of one session (a connection) and returns its responses. */
  feedSession(id: number, b: Uint8Array): Uint8Array {
    for (let i = 0; i < b.length; i += 65536) {
      const part = b.subarray(i, Math.min(b.length, i + 65536));
      this.stage(part);
      this.x.feed_session(id, part.length);
    }
    return this.takeOutput();
  }

  takeOutput(): Uint8Array {
    const n = this.x.out_len();
    if (n === 0) return new Uint8Array(0);
    const r = this.mem().slice(this.x.out_ptr(), this.x.out_ptr() + n);
    this.x.consumed(n);
    return r;
  }

  /** Sets the switch clock (ns since start; never goes back). */
  setClockNs(ns: bigint): void {
    this.x.set_clock_ns(ns);
  }

  setClockMs(ms: number): void {
    this.x.set_clock_ns(BigInt(Math.floor(ms)) * 1_000_000n);
  }

  /** Adds a port of kind "test"; its id. Throws naming the error when the switch refuses. */
  addTestPort(name: string): number {
    const b = new TextEncoder().encode(name);
    this.stage(b);
    const id = this.x.add_test_port(b.length);
    if (id < 0) throw new Error(`cannot add port ${name}: switch error ${-1 - id}`);
    return id;
  }

  frameIn(port: number, frame: Uint8Array): void {
    if (frame.length > 65536) throw new Error("frame too large");
    this.stage(frame);
    this.x.frame_in(port, frame.length);
  }

  /** Frames ready to leave the switch: [port id, bytes], in the order they left. */
  takeFrames(): Array<[number, Uint8Array]> {
    const n = this.x.drain();
    const out: Array<[number, Uint8Array]> = [];
    if (n === 0) return out;
    const m = this.mem();
    const p = this.x.tx_ptr();
    let i = 0;
    while (i < n) {
      const port = m[p + i] | (m[p + i + 1] << 8);
      const len = m[p + i + 2] | (m[p + i + 3] << 8);
      out.push([port, m.slice(p + i + 4, p + i + 4 + len)]);
      i += 4 + len;
    }
    this.x.tx_clear();
    return out;
  }

  testJson(text: string | Uint8Array): { status: number; out: string } {
    const b = typeof text === "string" ? new TextEncoder().encode(text) : text;
    this.stage(b);
    const status = this.x.test_json(b.length);
    const p = this.x.test_out_ptr();
    const out = Buffer.from(this.mem().slice(p, p + this.x.test_out_len())).toString("utf8");
    return { status, out };
  }

  /** Feeds the standalone framer; returns events so far and bytes pending. */
  testFramer(b: Uint8Array): { events: Buffer; pending: number } {
    let pending = 0;
    this.x.test_clear(); // the buffer is shared with testJson
    for (let i = 0; i < b.length; i += 65536) {
      const part = b.subarray(i, Math.min(b.length, i + 65536));
      this.stage(part);
      pending = this.x.test_framer(part.length);
    }
    const p = this.x.test_out_ptr();
    const events = Buffer.from(this.mem().slice(p, p + this.x.test_out_len()));
    this.x.test_clear();
    return { events, pending };
  }
}

/** Instantiates the hosted wasm (building it first if needed). */
export async function loadHosted(opts: { auditRecords?: number; auditBytes?: number; quiet?: boolean; progress?: (line: string) => void } = {}): Promise<Hosted> {
  const path = await buildHosted({ quiet: opts.quiet ?? true, progress: opts.progress });
  const bytes = readFileSync(path);
  let memory: WebAssembly.Memory | undefined;
  const readStr = (ptr: number): string => {
    if (!memory || ptr === 0) return "";
    const m = new Uint8Array(memory.buffer);
    const len = new Uint32Array(memory.buffer, ptr - 4, 1)[0];
    return Buffer.from(m.slice(ptr, ptr + len)).toString("utf16le");
  };
  const { instance } = await WebAssembly.instantiate(bytes, {
    env: {
      abort(msg: number, file: number, line: number, col: number) {
        throw new WasmTrap(`abort: ${readStr(msg)} at ${readStr(file)}:${line}:${col}`);
      },
      trace() {},
      seed() {
        return 1;
      },
    },
  });
  const x = instance.exports as unknown as HostedExports;
  memory = x.memory;
  const h = new Hosted(x);
  if (opts.auditRecords !== undefined || opts.auditBytes !== undefined) {
    x.init(opts.auditRecords ?? 1024, opts.auditBytes ?? 1 << 20);
  }
  return h;
}
