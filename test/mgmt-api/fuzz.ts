// Seeded, reproducible fuzzer for the management server, run in-process
// (the hosted wasm in Node): random and mutated requests (byte flips,
// truncation, deep nesting, huge numbers and strings, wrong types, unknown
// members, bad ids, batches, invalid UTF-8). Checks: no wasm trap, every
// request with an id answered exactly once with that id, every response
// well-formed, and a failed call changes nothing (config, ports, counters,
// mirrors, FDB; the audit log gains at most its one failure record).
//
//   npx tsx test/mgmt-api/fuzz.ts [--long] [--seed N] [--count N]
//   npm run fuzz            (the long run: 1,000,000 requests)

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Hosted, loadHosted, ROOT } from "../../src/mgmt-api/host/wasm";

// ---------------------------------------------------------------- PRNG

/** sfc32: small, fast, good enough, and the same on every machine. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.u32();
  }
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }
  int(n: number): number {
    return this.u32() % n;
  }
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.u32() / 4294967296 < p;
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)];
  }
}

// ---------------------------------------------------------------- generator

const PORTS = ["p0", "p1", "p2", "p3", "p4", "p5"];
const MIRRORS = Array.from({ length: 20 }, (_, i) => `m${i}`);
const METHODS = [
  "system.info",
  "port.list",
  "port.get",
  "port.set",
  "fdb.list",
  "fdb.flush",
  "fdb.config",
  "fdb.add",
  "fdb.del",
  "mirror.list",
  "mirror.add",
  "mirror.remove",
  "stats.reset",
  "config.get",
  "config.apply",
  "audit.list",
  "audit.info",
  "vm.list",
  "vm.start",
  "vm.stop",
  "vm.pause",
  "vm.resume",
  "vm.reset",
];
/** Methods that never change state when they succeed. */
const READS = new Set(["system.info", "port.list", "port.get", "fdb.list", "mirror.list", "config.get", "audit.list", "audit.info", "vm.list"]);

type J = null | boolean | number | string | J[] | { [k: string]: J };

class Gen {
  /** The newest audit seq, so audit.list asks mostly for recent records. */
  auditHint = 0;
  constructor(private r: Rng) {}

  vid(): number {
    const r = this.r;
    return r.chance(0.9) ? r.pick([1, 2, 10, 20, 30, 100, 4094]) : r.pick([0, 4095, -1, 5000, r.range(1, 4094)]);
  }
  vset(): J {
    const r = this.r;
    const n = r.range(r.chance(0.1) ? 0 : 1, 4);
    const out: J[] = [];
    for (let i = 0; i < n; i++) {
      if (r.chance(0.3)) {
        const lo = this.vid();
        out.push([lo, r.chance(0.8) ? lo + r.range(0, 50) : lo - 1]);
      } else out.push(this.vid());
    }
    return out;
  }
  port(): string {
    return this.r.chance(0.92) ? this.r.pick(PORTS) : this.r.pick(["nope", "", "x".repeat(33), "a b", "p0\u0000"]);
  }
  mac(): string {
    const r = this.r;
    if (r.chance(0.05)) return r.pick(["ff:ff:ff:ff:ff:ff", "01:00:5e:00:00:01", "zz", "02:00:00:00:00", "02-00-00-00-00-01"]);
    return `02:00:00:00:${r.int(4).toString(16).padStart(2, "0")}:${r.int(256).toString(16).padStart(2, "0")}`;
  }
  vlan(): J {
    const r = this.r;
    if (r.chance(0.5)) return { mode: "access", vlan: this.vid() };
    const allowed = this.vset();
    const v: { [k: string]: J } = { mode: "trunk", allowed };
    if (r.chance(0.5)) {
      const first = Array.isArray(allowed) && allowed.length ? allowed[0] : 1;
      v.native = r.chance(0.8) ? (Array.isArray(first) ? first[0] : first) : r.chance(0.5) ? null : this.vid();
    }
    if (r.chance(0.3)) v.native_tagged = r.chance(0.5);
    return v;
  }
  rate(): J {
    const r = this.r;
    if (r.chance(0.3)) return null;
    return { rate_kbps: r.chance(0.9) ? r.range(1, 100000) : r.pick([0, 100000001]), burst_bytes: r.chance(0.9) ? r.range(64, 100000) : 0 };
  }
  qos(): J {
    const q: { [k: string]: J } = {};
    if (this.r.chance(0.6)) q.ingress = this.rate();
    if (this.r.chance(0.6)) q.egress = this.rate();
    if (this.r.chance(0.2)) {
      const pps = () => (this.r.chance(0.9) ? this.r.pick([0, 10, 1000, 100000]) : this.r.pick([-1, 1e12]));
      q.storm = { broadcast_pps: pps(), multicast_pps: pps(), unknown_unicast_pps: pps() };
    }
    return q;
  }
  security(): J {
    const s: { [k: string]: J } = {};
    if (this.r.chance(0.7)) s.max_macs = this.r.chance(0.9) ? this.r.range(0, 16) : -1;
    if (this.r.chance(0.5)) s.allowed_macs = Array.from({ length: this.r.int(4) }, () => this.mac());
    return s;
  }
  mirror(): { [k: string]: J } {
    const r = this.r;
    const m: { [k: string]: J } = { name: r.pick(MIRRORS) };
    if (r.chance(0.7)) m.src_ports = Array.from({ length: r.range(0, 2) }, () => ({ port: this.port(), dir: r.pick(["rx", "tx", "both", "up"]) }));
    if (r.chance(0.4)) m.src_vlans = this.vset();
    if (r.chance(0.95)) m.dst_port = this.port();
    return m;
  }
  portSettings(): { [k: string]: J } {
    const o: { [k: string]: J } = {};
    if (this.r.chance(0.6)) o.vlan = this.vlan();
    if (this.r.chance(0.4)) o.qos = this.qos();
    if (this.r.chance(0.3)) o.security = this.security();
    return o;
  }
  /** port.set only (config documents carry no mtu) */
  mtu(): J {
    return this.r.chance(0.9) ? this.r.pick([46, 1400, 1500, 1990]) : this.r.pick([45, 1991, 0, -1]);
  }
  config(): J {
    const r = this.r;
    const c: { [k: string]: J } = {};
    if (r.chance(0.7)) c.ports = Array.from({ length: r.range(0, 3) }, () => ({ name: this.port(), ...this.portSettings() }));
    if (r.chance(0.4)) c.mirrors = Array.from({ length: r.range(0, 2) }, () => this.mirror());
    if (r.chance(0.4)) {
      const f: { [k: string]: J } = {};
      if (r.chance(0.6)) f.aging_s = r.pick([0, 10, 300, 5, 1000001]);
      if (r.chance(0.6)) f.max_entries = r.pick([1, 100, 8192, 0]);
      if (r.chance(0.6)) f.static = Array.from({ length: r.range(0, 2) }, () => ({ mac: this.mac(), vlan: this.vid(), port: this.port() }));
      c.fdb = f;
    }
    return c;
  }
  params(method: string): { [k: string]: J } | undefined {
    const r = this.r;
    switch (method) {
      case "port.get":
        return { port: this.port() };
      case "port.set": {
        const p: { [k: string]: J } = { port: this.port(), ...this.portSettings() };
        if (r.chance(0.2)) p.mtu = this.mtu();
        return p;
      }
      case "fdb.add":
        return { mac: this.mac(), vlan: this.vid(), port: this.port() };
      case "fdb.del":
        return { mac: this.mac(), vlan: this.vid() };
      case "fdb.list":
      case "fdb.flush": {
        const p: { [k: string]: J } = {};
        if (r.chance(0.3)) p.vlan = this.vid();
        if (r.chance(0.3)) p.port = this.port();
        return p;
      }
      case "fdb.config": {
        if (r.chance(0.3)) return undefined;
        const p: { [k: string]: J } = {};
        if (r.chance(0.5)) p.aging_s = r.pick([0, 10, 300, 9, 1000000]);
        if (r.chance(0.5)) p.max_entries = r.pick([1, 64, 8192, 1048577]);
        return p;
      }
      case "mirror.add":
        return this.mirror();
      case "mirror.remove":
        return { name: r.chance(0.9) ? r.pick(MIRRORS) : "zz" };
      case "stats.reset":
        return r.chance(0.5) ? undefined : { port: this.port() };
      case "config.apply": {
        const p: { [k: string]: J } = { config: this.config() };
        if (r.chance(0.5)) p.dry_run = r.chance(0.5);
        return p;
      }
      case "audit.list":
        // mostly the recent records (a full list is 1024 records of params)
        return r.chance(0.02) ? undefined : { since: Math.max(0, this.auditHint - r.int(20)) };
      default:
        if (method.startsWith("vm.") && method !== "vm.list") return { name: r.pick(["g1", "vm1", ""]) };
        return r.chance(0.9) ? undefined : {};
    }
  }
  request(id: J | undefined): { [k: string]: J } {
    const method = this.r.pick(METHODS);
    const req: { [k: string]: J } = { jsonrpc: "2.0" };
    if (id !== undefined) req.id = id;
    req.method = method;
    const p = this.params(method);
    if (p !== undefined) req.params = p;
    return req;
  }

  // ------------------------------------------------------------ mutations

  randomValue(depth = 0): J {
    const r = this.r;
    switch (r.int(depth > 2 ? 5 : 7)) {
      case 0:
        return null;
      case 1:
        return r.chance(0.5);
      case 2:
        return r.pick([0, -1, 1, 4094, 4095, 2 ** 31, -(2 ** 31), 2 ** 53, 1.5, 1e21, -0.25]);
      case 3:
        return r.pick(["", "a", "p0", "\u0000", "é", "😀", "x".repeat(r.int(100))]);
      case 4:
        return r.int(1000);
      case 5:
        return Array.from({ length: r.int(4) }, () => this.randomValue(depth + 1));
      default: {
        const o: { [k: string]: J } = {};
        for (let i = r.int(4); i > 0; i--) o[r.pick(["a", "port", "vlan", "mode", "x", "name", "id"])] = this.randomValue(depth + 1);
        return o;
      }
    }
  }

  /** Every (container, key) pair inside v, for structural mutations. */
  slots(v: J, out: Array<[J[] | { [k: string]: J }, string | number]>): void {
    if (Array.isArray(v)) v.forEach((x, i) => (out.push([v, i]), this.slots(x, out)));
    else if (v !== null && typeof v === "object") for (const k of Object.keys(v)) out.push([v, k]), this.slots(v[k], out);
  }

  structural(req: { [k: string]: J }): string {
    const r = this.r;
    const slots: Array<[J[] | { [k: string]: J }, string | number]> = [];
    this.slots(req, slots);
    const [obj, key] = r.pick(slots);
    const set = (v: J) => ((obj as any)[key] = v);
    switch (r.int(8)) {
      case 0: // wrong type
        set(this.randomValue());
        break;
      case 1: // unknown member
        if (!Array.isArray(obj)) obj[r.pick(["extra", "x", "Vlan", "native ", "dry"])] = this.randomValue();
        else set(this.randomValue());
        break;
      case 2: // remove a member
        if (Array.isArray(obj)) obj.splice(key as number, 1);
        else delete obj[key as string];
        break;
      case 3: {
        // deep nesting
        let v: J = (obj as any)[key];
        for (let i = r.range(1, 70); i > 0; i--) v = r.chance(0.5) ? [v] : { a: v };
        set(v);
        break;
      }
      case 4: {
        // huge or non-integer numbers, kept as raw text
        const txt = r.pick(["9".repeat(r.range(17, 400)), "-" + "1".repeat(r.range(17, 40)), "1.0", "1e3", "-0", "4094.000", "1E-7", "0.5e+2"]);
        set(`@@NUM${txt}@@`);
        break;
      }
      case 5: // huge strings (sometimes beyond the line limit)
        set("s".repeat(r.pick([1000, 40000, 65536, 70000])));
        break;
      case 6: // odd ids
        req.id = r.pick<J>([null, "", "é", 1.5, { a: 1 }, [1], true, -1, 2 ** 60, "x".repeat(100)]);
        if (r.chance(0.2)) delete req.id;
        break;
      default: // duplicate member (raw)
        return JSON.stringify(req).replace('"jsonrpc":"2.0"', '"jsonrpc":"2.0","jsonrpc":"2.0"');
    }
    return JSON.stringify(req).replace(/"@@NUM(.*?)@@"/g, "$1");
  }

  bytes(s: Uint8Array): Uint8Array {
    const r = this.r;
    let b = Array.from(s);
    switch (r.int(6)) {
      case 0: // byte flips
        for (let i = r.range(1, 8); i > 0 && b.length; i--) b[r.int(b.length)] ^= 1 << r.int(8);
        break;
      case 1: // random bytes
        for (let i = r.range(1, 8); i > 0 && b.length; i--) b[r.int(b.length)] = r.int(256);
        break;
      case 2: // truncation
        b = b.slice(0, r.int(b.length + 1));
        break;
      case 3: // insert garbage / invalid UTF-8
        b.splice(r.int(b.length + 1), 0, ...r.pick([[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0x0d], [0x0a], [0x5c], [0x22], [0x00], [0xf4, 0x90, 0x80, 0x80]]));
        break;
      case 4: // duplicate a chunk
        {
          const i = r.int(b.length + 1);
          const j = r.int(b.length + 1);
          b.splice(r.int(b.length + 1), 0, ...b.slice(Math.min(i, j), Math.max(i, j)));
        }
        break;
      default: // pure noise
        b = Array.from({ length: r.int(200) }, () => r.int(256));
    }
    return Uint8Array.from(b);
  }

  /** One input line's bytes (no trailing newline; it may contain newlines). */
  line(n: number): Uint8Array {
    const r = this.r;
    const id: J | undefined = r.chance(0.1) ? undefined : r.chance(0.7) ? n : r.chance(0.5) ? `id-${n}` : null;
    const req = this.request(id);
    const kind = r.int(10);
    const enc = (s: string) => new TextEncoder().encode(s);
    if (kind < 3) return enc(JSON.stringify(req)); // valid
    if (kind < 6) return enc(this.structural(req));
    if (kind < 9) return this.bytes(enc(JSON.stringify(req)));
    // batches and other shapes
    return enc(r.pick([JSON.stringify([req]), "[]", JSON.stringify(req.params ?? 1), "\t \r", "", "null", JSON.stringify([req, req])]));
  }
}

// ---------------------------------------------------------------- checking

export class FuzzFailure extends Error {}

interface Expect {
  /** responses expected: exactly 1, 0, or "0 or 1 (an error with id null)" */
  count: 0 | 1 | "01";
  id?: J;
  idKnown: boolean;
  method?: string;
}

const dec = new TextDecoder("utf-8", { fatal: true });

/** What the protocol requires for one line (the bytes between newlines). */
function expectFor(seg: Uint8Array): Expect {
  let n = seg.length;
  if (n > 0 && seg[n - 1] === 0x0d) n--;
  if (seg.length > 65536) return { count: 1, id: null, idKnown: true };
  const body = seg.subarray(0, n);
  if (body.every((c) => c === 0x20 || c === 0x09 || c === 0x0d)) return { count: 0, idKnown: false };
  let v: unknown;
  try {
    v = JSON.parse(dec.decode(body));
  } catch {
    return { count: 1, id: null, idKnown: true };
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) return { count: 1, id: null, idKnown: true };
  const o = v as Record<string, unknown>;
  const method = typeof o.method === "string" ? o.method : undefined;
  if (!Object.prototype.hasOwnProperty.call(o, "id")) return { count: "01", idKnown: false, method };
  const id = o.id;
  const idKnown = typeof id === "string" || id === null || (typeof id === "number" && Number.isSafeInteger(id));
  return { count: 1, id: id as J, idKnown, method };
}

// ---------------------------------------------------------------- the run

export interface FuzzResult {
  seed: number;
  requests: number;
  lines: number;
  responses: number;
  errors: Record<string, number>;
  stateChecks: number;
  ms: number;
  maxFeedMs: number;
  /** the slowest line: its index and first bytes */
  slowest: string;
  /** wasm linear memory at the end, in bytes (the heap stays bounded) */
  memoryBytes: number;
}

export async function runFuzz(opts: { seed: number; count: number; progress?: (done: number) => void }): Promise<FuzzResult> {
  const h: Hosted = await loadHosted();
  const rng = new Rng(opts.seed);
  const gen = new Gen(rng);
  for (const p of PORTS) h.addTestPort(p);
  h.setClockMs(1000);
  const enc = new TextEncoder();
  const res: FuzzResult = { seed: opts.seed, requests: 0, lines: 0, responses: 0, errors: {}, stateChecks: 0, ms: 0, maxFeedMs: 0, slowest: "", memoryBytes: 0 };
  let current: Uint8Array = new Uint8Array(0);
  let index = 0;

  const fail = (why: string): never => {
    const dir = join(ROOT, "build", "mgmt");
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `fuzz-fail-${opts.seed}-${index}.bin`);
    writeFileSync(file, current);
    const shown = Buffer.from(current.subarray(0, 300)).toString("latin1");
    throw new FuzzFailure(`fuzz seed ${opts.seed}, request #${index}: ${why}\n  input (${current.length} bytes, saved to ${file}): ${JSON.stringify(shown)}`);
  };

  // the state a failed call must leave alone, digested inside the server
  const snapshot = (): bigint => h.x.state_digest();
  const auditLast = (): { last: number; code: number } => ({ last: Number(h.x.audit_last_seq()), code: h.x.audit_last_code() });
  let snap: bigint | null = null;

  const t0 = performance.now();
  for (index = 0; index < opts.count; index++) {
    if (index % 997 === 0) {
      // some traffic, so FDB and counters have something in them
      for (let k = 0; k < 4; k++) {
        const f = new Uint8Array(60 + rng.int(100));
        f.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, rng.int(4), rng.int(256)], 0);
        h.frameIn(rng.int(PORTS.length), f);
      }
      h.takeFrames();
      snap = null;
    }
    gen.auditHint = Number(h.x.audit_last_seq());
    current = gen.line(index);
    const segments: Uint8Array[] = [];
    for (let start = 0; ; ) {
      const i = current.indexOf(0x0a, start);
      segments.push(current.subarray(start, i < 0 ? current.length : i));
      if (i < 0) break;
      start = i + 1;
    }
    for (const seg of segments) {
      const exp = expectFor(seg);
      if (snap === null) snap = snapshot();
      const auditBefore = exp.count === 0 ? null : auditLast();
      const ts = performance.now();
      let out: Uint8Array;
      try {
        const line = new Uint8Array(seg.length + 1);
        line.set(seg);
        line[seg.length] = 0x0a;
        out = h.feed(line);
      } catch (e) {
        return fail(`the server trapped: ${(e as Error).message}`);
      }
      const dt = performance.now() - ts;
      if (dt > res.maxFeedMs) {
        res.maxFeedMs = dt;
        res.slowest = `#${index} (${seg.length} bytes) ${JSON.stringify(Buffer.from(seg.subarray(0, 120)).toString("latin1"))}`;
      }
      res.lines++;
      const text = Buffer.from(out).toString("utf8");
      const lines = text === "" ? [] : text.split("\n");
      if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
      else if (lines.length > 0) fail(`response not ended by a newline: ${text.slice(0, 200)}`);
      if (exp.count === 0 && lines.length !== 0) fail(`a blank line was answered: ${text.slice(0, 200)}`);
      if (exp.count === 1 && lines.length !== 1) fail(`expected one response, got ${lines.length}`);
      if (exp.count === "01" && lines.length > 1) fail(`a notification got ${lines.length} responses`);
      res.responses += lines.length;
      if (lines.length === 0) {
        // a notification: it may have changed state
        if (exp.count === "01" && !(exp.method && READS.has(exp.method))) snap = null;
        continue;
      }
      let m: any;
      try {
        m = JSON.parse(lines[0]);
      } catch {
        return fail(`response is not JSON: ${lines[0].slice(0, 200)}`);
      }
      if (m.jsonrpc !== "2.0" || !("id" in m) || ("result" in m) === ("error" in m)) fail(`malformed response: ${lines[0].slice(0, 200)}`);
      if (exp.count === "01" && (m.id !== null || !m.error || (m.error.code !== -32600 && m.error.code !== -32700)))
        fail(`a notification was answered with more than an invalid-request error: ${lines[0].slice(0, 200)}`);
      if (exp.count === 1 && exp.idKnown) {
        const idOk = JSON.stringify(m.id) === JSON.stringify(exp.id);
        const strictReject = m.id === null && m.error && (m.error.code === -32700 || m.error.code === -32600);
        if (!idOk && !strictReject) fail(`answered with id ${JSON.stringify(m.id)}, expected ${JSON.stringify(exp.id)}`);
      }
      if (m.error) {
        const code = String(m.error.code);
        res.errors[code] = (res.errors[code] ?? 0) + 1;
        if (typeof m.error.message !== "string") fail("error without a message");
        if (m.error.code === -32602 && (typeof m.error.data?.field !== "string" || typeof m.error.data?.reason !== "string"))
          fail(`-32602 without data.field/reason: ${lines[0].slice(0, 200)}`);
        // a failed call changes nothing (calls that never reached a method: every 8th checked)
        const dispatched = m.error.code !== -32700 && m.error.code !== -32600;
        if (dispatched || index % 8 === 0) {
          const after = snapshot();
          res.stateChecks++;
          if (after !== snap) fail(`a failed call (${m.error.code} ${m.error.message}) changed the state`);
        }
        const a = auditLast();
        const before = auditBefore!;
        if (a.last !== before.last) {
          if (a.last !== before.last + 1) fail(`a failed call added ${a.last - before.last} audit records`);
          if (a.code !== m.error.code) fail(`audit record of a failed call has code ${a.code}, the response ${m.error.code}`);
        }
      } else {
        res.errors.ok = (res.errors.ok ?? 0) + 1;
        if (!(exp.method && READS.has(exp.method))) snap = null;
      }
    }
    res.requests++;
    if (opts.progress && index % 50000 === 49999) opts.progress(index + 1);
  }
  res.ms = performance.now() - t0;
  res.memoryBytes = h.x.memory.buffer.byteLength;
  return res;
}

// ---------------------------------------------------------------- CLI

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (process.argv[1] && /fuzz\.ts$/.test(process.argv[1])) {
  const long = process.argv.includes("--long");
  const seed = Number(arg("--seed") ?? (long ? Date.now() % 2 ** 31 : 1));
  const count = Number(arg("--count") ?? (long ? 1_000_000 : 50_000));
  console.log(`fuzz: seed ${seed}, ${count} requests (reproduce: npx tsx test/mgmt-api/fuzz.ts --seed ${seed} --count ${count})`);
  runFuzz({
    seed,
    count,
    progress: (n) => console.log(`fuzz: ${n} requests`),
  })
    .then((r) => {
      const rate = Math.round((r.requests / r.ms) * 1000);
      console.log(
        `fuzz: ok: ${r.requests} requests (${r.lines} lines), ${r.responses} responses, ${r.stateChecks} state checks, seed ${r.seed}, ` +
          `${(r.ms / 1000).toFixed(1)} s, ${rate} requests/s, slowest line ${r.maxFeedMs.toFixed(1)} ms, wasm memory ${(r.memoryBytes / 1048576).toFixed(1)} MiB`,
      );
      console.log(`fuzz: outcomes ${JSON.stringify(r.errors)}`);
      console.log(`fuzz: slowest line ${r.slowest}`);
    })
    .catch((e) => {
      console.error(e instanceof FuzzFailure ? e.message : e);
      process.exit(1);
    });
}
