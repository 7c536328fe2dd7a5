// Typed client for the Typevisor management protocol (docs/PROTOCOL.md, version 1)
// over TCP, a unix socket, or a serial character device.

import { openSync, statSync, createReadStream, createWriteStream } from "node:fs";
import { spawnSync } from "node:child_process";
import net from "node:net";
import { Duplex } from "node:stream";

// ---------------------------------------------------------------- types

export type VlanSet = Array<number | [number, number]>;
export type VlanConfig =
  | { mode: "access"; vlan: number }
  | { mode: "trunk"; allowed: VlanSet; native?: number | null; native_tagged?: boolean };
export interface Rate {
  rate_kbps: number;
  burst_bytes: number;
}
/** Storm control: most frames per second of each kind from the port; 0 = no limit. */
export interface Storm {
  broadcast_pps: number;
  multicast_pps: number;
  unknown_unicast_pps: number;
}
export interface Qos {
  ingress?: Rate | null;
  egress?: Rate | null;
  storm?: Storm;
}
export interface Security {
  max_macs: number;
  allowed_macs: string[];
}
export interface PortStats {
  rx_packets: number;
  rx_bytes: number;
  rx_dropped: number;
  tx_packets: number;
  tx_bytes: number;
  tx_dropped: number;
  /** drops by reason (vlan, policer, shaper, security, storm, no_buffer, malformed, mirror_dst, filtered) */
  drops?: Record<string, number>;
}
export interface Port {
  name: string;
  kind: "vm" | "uplink" | "internal" | "test";
  mac: string | null;
  vlan: VlanConfig;
  qos: { ingress: Rate | null; egress: Rate | null; storm?: Storm };
  security: Security;
  mirror_dst: boolean;
  mtu?: number;
  stats: PortStats;
}
export interface FdbEntry {
  mac: string;
  vlan: number;
  port: string;
  static: boolean;
  age_s: number;
}
export interface MirrorSrc {
  port: string;
  dir: "rx" | "tx" | "both";
}
export interface Mirror {
  name: string;
  src_ports: MirrorSrc[];
  src_vlans: VlanSet;
  dst_port: string;
  stats?: { packets: number; bytes: number };
}
export interface ConfigDoc {
  ports?: Array<{ name: string; vlan?: VlanConfig; qos?: Qos; security?: Security }>;
  mirrors?: Array<{ name: string; src_ports?: MirrorSrc[]; src_vlans?: VlanSet; dst_port: string }>;
  fdb?: { aging_s?: number; max_entries?: number; static?: Array<{ mac: string; vlan: number; port: string }> };
}
export interface AuditRecord {
  seq: number;
  ts_ms: number;
  method: string;
  params: unknown;
  ok: boolean;
  error?: { code: number; message: string };
}
export interface Vm {
  name: string;
  /** halted: the guest stopped itself (HLT with interrupts off, nothing to wake it) */
  state: "created" | "running" | "paused" | "halted" | "stopped";
  reason?: string;
  vcpus: number;
  memory_mib: number;
  ports: string[];
  exits: { total: number; [name: string]: number };
}
export interface SystemInfo {
  name: string;
  version: string;
  api: number;
  virt: "vmx" | "svm" | "none";
  cpus: number;
  memory_mib: number;
  uptime_ms: number;
}

// ---------------------------------------------------------------- errors

export const ERROR_NAMES: Record<number, string> = {
  [-32700]: "parse error",
  [-32600]: "invalid request",
  [-32601]: "method not found",
  [-32602]: "invalid params",
  [-32603]: "internal error",
  1: "not found",
  2: "conflict",
  3: "busy",
  4: "resource limit",
};

/** An error response: says which method failed, with what code, and which field. */
export class RpcError extends Error {
  constructor(
    readonly method: string,
    readonly code: number,
    readonly serverMessage: string,
    readonly data?: { field?: string; reason?: string },
  ) {
    const name = ERROR_NAMES[code];
    // "port.set: error -32602 invalid params: vlan.vlan: must be 1-4094"
    let text = name && serverMessage.startsWith(name + ": ") ? serverMessage.slice(name.length + 2) : serverMessage;
    if (data?.field !== undefined && !text.includes(`${data.field}:`)) text += ` (field ${data.field || '""'}${data.reason ? `: ${data.reason}` : ""})`;
    super(`${method}: error ${code}${name ? ` ${name}` : ""}: ${text}`);
    this.name = "RpcError";
  }
}

/** The transport failed or the server did not answer in time. */
export class TransportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TransportError";
  }
}

// ---------------------------------------------------------------- transport

export const DEFAULT_TIMEOUT_MS = 10_000;

async function openStream(addr: string, timeoutMs: number): Promise<Duplex> {
  let target: { kind: "tcp"; host: string; port: number } | { kind: "unix"; path: string } | { kind: "dev"; path: string };
  if (addr.startsWith("tcp:")) {
    const rest = addr.slice(4);
    const i = rest.lastIndexOf(":");
    const port = Number(rest.slice(i + 1));
    if (i < 0 || !Number.isInteger(port) || port < 1 || port > 65535) throw new TransportError(`bad address ${addr}: want tcp:HOST:PORT`);
    target = { kind: "tcp", host: rest.slice(0, i).replace(/^\[|\]$/g, ""), port };
  } else if (addr.startsWith("unix:")) {
    target = { kind: "unix", path: addr.slice(5) };
  } else if (!/^[a-z][a-z0-9+.-]*:/i.test(addr) || /^[A-Za-z]:[\\/]/.test(addr)) {
    // anything without a scheme is a path, relative ones too (build/com2.sock)
    let st;
    try {
      st = statSync(addr);
    } catch (e) {
      throw new TransportError(`cannot open ${addr}: ${(e as Error).message}`);
    }
    if (st.isSocket()) target = { kind: "unix", path: addr };
    else if (st.isCharacterDevice() || st.isFIFO()) target = { kind: "dev", path: addr };
    else throw new TransportError(`${addr} is neither a socket nor a character device`);
  } else {
    throw new TransportError(`bad address ${addr}: want tcp:HOST:PORT, unix:PATH or the path of a socket or device`);
  }
  if (target.kind === "dev") {
    const path = target.path;
    if (statSync(path).isCharacterDevice()) {
      // a serial line: raw, no echo (115200 8N1 as the monitor's COM2)
      spawnSync("stty", ["-F", path, "115200", "raw", "-echo", "cs8", "-cstopb", "-parenb"], { stdio: "ignore" });
    }
    const fd = openSync(path, "r+");
    // one fd, two streams: the read stream owns it (closes it once), the write stream borrows it
    const rs = createReadStream("", { fd, autoClose: true });
    const ws = createWriteStream("", { fd, autoClose: false });
    const d = new Duplex({
      read() {},
      write(chunk, enc, cb) {
        ws.write(chunk, enc, cb);
      },
      destroy(err, cb) {
        // Not ws.destroy(): an fs stream's destroy closes its fd whatever autoClose says, and rs closes it
        // again once its pending read returns, by then perhaps another connection's fd.
        rs.destroy();
        cb(err);
      },
    });
    ws.on("error", (e) => d.destroy(e));
    rs.on("data", (c) => d.push(c));
    rs.on("end", () => d.push(null));
    rs.on("error", (e) => d.destroy(e));
    return d;
  }
  const t = target;
  return await new Promise<Duplex>((resolve, reject) => {
    const s = t.kind === "tcp" ? net.connect(t.port, t.host) : net.connect(t.path);
    const timer = setTimeout(() => {
      s.destroy();
      reject(new TransportError(`connect to ${addr}: timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    s.once("connect", () => {
      clearTimeout(timer);
      s.setNoDelay?.(true);
      resolve(s);
    });
    s.once("error", (e) => {
      clearTimeout(timer);
      reject(new TransportError(`connect to ${addr}: ${e.message}`));
    });
  });
}

interface Pending {
  method: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** A connection to one server. Calls may overlap; responses come in request order. */
export class Client {
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private buf = "";
  private closed = false;
  timeoutMs: number;

  constructor(
    private readonly stream: Duplex,
    readonly address: string,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ) {
    this.timeoutMs = timeoutMs;
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => this.onData(chunk));
    stream.on("close", () => this.failAll(new TransportError(`${address}: connection closed`)));
    stream.on("error", (e) => this.failAll(new TransportError(`${address}: ${e.message}`)));
  }

  private failAll(e: Error): void {
    this.closed = true;
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(e);
    }
    this.pending.clear();
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    let i: number;
    while ((i = this.buf.indexOf("\n")) >= 0) {
      const line = this.buf.slice(0, i).replace(/\r$/, "");
      this.buf = this.buf.slice(i + 1);
      if (line.trim() === "") continue;
      let msg: { id?: unknown; result?: unknown; error?: { code: number; message: string; data?: { field?: string; reason?: string } } };
      try {
        msg = JSON.parse(line);
      } catch {
        continue; // not ours (e.g. console noise on a serial line)
      }
      if (typeof msg.id !== "number") {
        // an answer with id null: the server could not read our request
        if (msg.error && this.pending.size > 0) {
          const [id, p] = this.pending.entries().next().value as [number, Pending];
          this.pending.delete(id);
          clearTimeout(p.timer);
          p.reject(new RpcError(p.method, msg.error.code, msg.error.message, msg.error.data));
        }
        continue;
      }
      const p = this.pending.get(msg.id);
      if (!p) continue;
      this.pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.error) p.reject(new RpcError(p.method, msg.error.code, msg.error.message, msg.error.data));
      else p.resolve(msg.result);
    }
  }

  /** Calls any method; rejects with RpcError or TransportError. */
  call<T = unknown>(method: string, params?: object, timeoutMs = this.timeoutMs): Promise<T> {
    if (this.closed) return Promise.reject(new TransportError(`${this.address}: connection closed`));
    const id = this.nextId++;
    const req: Record<string, unknown> = { jsonrpc: "2.0", id, method };
    if (params !== undefined) req.params = params;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new TransportError(`${method}: no answer from ${this.address} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { method, resolve: resolve as (v: unknown) => void, reject, timer });
      this.stream.write(JSON.stringify(req) + "\n");
    });
  }

  /** Sends a notification (no answer). */
  notify(method: string, params?: object): void {
    const req: Record<string, unknown> = { jsonrpc: "2.0", method };
    if (params !== undefined) req.params = params;
    this.stream.write(JSON.stringify(req) + "\n");
  }

  close(): void {
    this.closed = true;
    this.stream.destroy();
  }

  // one typed call per method
  systemInfo(): Promise<SystemInfo> {
    return this.call("system.info");
  }
  portList(): Promise<Port[]> {
    return this.call("port.list");
  }
  portGet(port: string): Promise<Port> {
    return this.call("port.get", { port });
  }
  portSet(port: string, change: { vlan?: VlanConfig; qos?: Qos; security?: Security; mtu?: number }): Promise<Port> {
    return this.call("port.set", { port, ...change });
  }
  fdbList(filter: { vlan?: number; port?: string } = {}): Promise<FdbEntry[]> {
    return this.call("fdb.list", filter);
  }
  fdbFlush(filter: { vlan?: number; port?: string } = {}): Promise<{ removed: number }> {
    return this.call("fdb.flush", filter);
  }
  fdbConfig(change: { aging_s?: number; max_entries?: number } = {}): Promise<{ aging_s: number; max_entries: number }> {
    return this.call("fdb.config", change);
  }
  fdbAdd(mac: string, vlan: number, port: string): Promise<{ mac: string; vlan: number; port: string; static: true }> {
    return this.call("fdb.add", { mac, vlan, port });
  }
  fdbDel(mac: string, vlan: number): Promise<Record<string, never>> {
    return this.call("fdb.del", { mac, vlan });
  }
  mirrorList(): Promise<Mirror[]> {
    return this.call("mirror.list");
  }
  mirrorAdd(m: { name: string; src_ports?: MirrorSrc[]; src_vlans?: VlanSet; dst_port: string }): Promise<Mirror> {
    return this.call("mirror.add", m);
  }
  mirrorRemove(name: string): Promise<Record<string, never>> {
    return this.call("mirror.remove", { name });
  }
  statsReset(port?: string): Promise<Record<string, never>> {
    return this.call("stats.reset", port === undefined ? {} : { port });
  }
  configGet(): Promise<Required<ConfigDoc>> {
    return this.call("config.get");
  }
  configApply(config: ConfigDoc, dryRun = false): Promise<{ changes: string[] }> {
    return this.call("config.apply", dryRun ? { config, dry_run: true } : { config });
  }
  auditList(since?: number): Promise<AuditRecord[]> {
    return this.call("audit.list", since === undefined ? {} : { since });
  }
  auditInfo(): Promise<{ first_seq: number; last_seq: number; records: number; dropped: number }> {
    return this.call("audit.info");
  }
  vmList(): Promise<Vm[]> {
    return this.call("vm.list");
  }
  vm(op: "start" | "stop" | "pause" | "resume" | "reset", name: string): Promise<Vm> {
    return this.call(`vm.${op}`, { name });
  }
}

/** Connects to "tcp:HOST:PORT", "unix:PATH", or a path (a unix socket or a serial device). */
export async function connect(addr: string, opts: { timeoutMs?: number } = {}): Promise<Client> {
  const t = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const s = await openStream(addr, t);
  return new Client(s, addr, t);
}
