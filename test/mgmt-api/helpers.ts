// Test helpers: spawn the hosted runner on free ports, raw line connections,
// UDP frame endpoints, and frame builders.

import { spawn, ChildProcess } from "node:child_process";
import dgram from "node:dgram";
import net from "node:net";
import { join } from "node:path";
import { buildHosted, ROOT } from "../../src/mgmt-api/host/wasm";

export { ROOT };
export const TSX = join(ROOT, "node_modules", ".bin", "tsx");

/** A free TCP port on 127.0.0.1 (closed again; the runner binds it next). */
export async function freeTcpPort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** A UDP socket bound on an ephemeral 127.0.0.1 port, collecting datagrams. */
export class UdpEnd {
  frames: Buffer[] = [];
  private waiters: Array<() => void> = [];
  constructor(
    readonly sock: dgram.Socket,
    readonly port: number,
  ) {
    sock.on("message", (m) => {
      this.frames.push(m);
      for (const w of this.waiters.splice(0)) w();
    });
  }
  static async open(): Promise<UdpEnd> {
    const s = dgram.createSocket("udp4");
    await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
    return new UdpEnd(s, s.address().port);
  }
  send(frame: Uint8Array, port: number): Promise<void> {
    return new Promise((resolve, reject) => this.sock.send(frame, port, "127.0.0.1", (e) => (e ? reject(e) : resolve())));
  }
  /** Waits until at least n frames arrived (or timeoutMs passed); returns the frames. */
  async waitFor(n: number, timeoutMs = 5000): Promise<Buffer[]> {
    const end = Date.now() + timeoutMs;
    while (this.frames.length < n && Date.now() < end) {
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.max(1, end - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return this.frames;
  }
  take(): Buffer[] {
    return this.frames.splice(0);
  }
  close(): void {
    this.sock.close();
  }
}

export interface Runner {
  mgmt: string;
  mgmtPort: number;
  proc: ChildProcess;
  /** per switch port: its LOCAL port (send frames there) and the test's receiving end (REMOTE) */
  ports: Record<string, { local: number; rx: UdpEnd }>;
  /** a UDP socket frames are sent from */
  tx: UdpEnd;
  stdout: string[];
  /** Sends a frame into switch port `name`. */
  inject(name: string, frame: Uint8Array): Promise<void>;
  stop(): Promise<number | null>;
}

/** Starts scripts/hosted.ts with the named ports; resolves once it printed "ready". */
export async function startRunner(names: string[], extra: string[] = []): Promise<Runner> {
  await buildHosted(); // built once here, reused by the runner from the cache
  const mgmtPort = await freeTcpPort();
  const ports: Runner["ports"] = {};
  const args = [join(ROOT, "scripts", "hosted.ts")];
  for (const n of names) {
    const rx = await UdpEnd.open();
    // a free UDP port for LOCAL: bind, note, close
    const probe = await UdpEnd.open();
    const local = probe.port;
    probe.close();
    ports[n] = { local, rx };
    args.push("--port", `${n}=udp:${local}:${rx.port}`);
  }
  args.push("--mgmt", `tcp:127.0.0.1:${mgmtPort}`, ...extra);
  const proc = spawn(TSX, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  const stdout: string[] = [];
  let stderr = "";
  proc.stderr!.on("data", (d) => (stderr += d));
  await new Promise<void>((resolve, reject) => {
    let buf = "";
    const t = setTimeout(() => reject(new Error(`runner not ready in time: ${stderr}`)), 240_000);
    proc.stdout!.on("data", (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        stdout.push(line);
        if (line.includes("ready")) {
          clearTimeout(t);
          resolve();
        }
      }
    });
    proc.once("exit", (code) => {
      clearTimeout(t);
      reject(new Error(`runner exited with ${code}: ${stderr}`));
    });
  });
  const tx = await UdpEnd.open();
  // never leave a runner behind, even when the test process ends early
  const reap = () => proc.exitCode === null && proc.kill("SIGTERM");
  process.once("exit", reap);
  proc.once("exit", () => process.removeListener("exit", reap));
  return {
    mgmt: `tcp:127.0.0.1:${mgmtPort}`,
    mgmtPort,
    proc,
    ports,
    tx,
    stdout,
    inject: (name, frame) => tx.send(frame, ports[name].local),
    stop: async () => {
      for (const p of Object.values(ports)) p.rx.close();
      tx.close();
      if (proc.exitCode !== null) return proc.exitCode;
      const done = new Promise<number | null>((r) => proc.once("exit", (c) => r(c)));
      proc.kill("SIGTERM");
      return await done;
    },
  };
}

/** A raw line-oriented management connection. */
export class LineConn {
  private buf = "";
  private lines: string[] = [];
  private waiters: Array<() => void> = [];
  closed = false;
  constructor(readonly sock: net.Socket) {
    sock.setEncoding("utf8");
    sock.on("data", (d: string) => {
      this.buf += d;
      let i;
      while ((i = this.buf.indexOf("\n")) >= 0) {
        this.lines.push(this.buf.slice(0, i));
        this.buf = this.buf.slice(i + 1);
      }
      for (const w of this.waiters.splice(0)) w();
    });
    sock.on("close", () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
  }
  static async open(port: number): Promise<LineConn> {
    const s = net.connect(port, "127.0.0.1");
    await new Promise<void>((r, j) => {
      s.once("connect", () => r());
      s.once("error", j);
    });
    s.setNoDelay(true);
    return new LineConn(s);
  }
  write(s: string | Uint8Array): void {
    this.sock.write(s);
  }
  /** The next response line (throws after timeoutMs). */
  async line(timeoutMs = 10_000): Promise<string> {
    const end = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      if (this.closed) throw new Error("connection closed");
      const left = end - Date.now();
      if (left <= 0) throw new Error("no response line");
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return this.lines.shift()!;
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async json(timeoutMs?: number): Promise<any> {
    return JSON.parse(await this.line(timeoutMs));
  }
  /** Sends one request and returns the parsed response. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async req(method: string, params?: unknown, id: unknown = 1): Promise<any> {
    const r: Record<string, unknown> = { jsonrpc: "2.0", id, method };
    if (params !== undefined) r.params = params;
    this.write(JSON.stringify(r) + "\n");
    return this.json();
  }
  pendingLines(): number {
    return this.lines.length;
  }
  close(): void {
    this.sock.destroy();
  }
}

// ---------------------------------------------------------------- frames

export function mac(s: string): number[] {
  return s.split(":").map((x) => parseInt(x, 16));
}

/** An Ethernet frame: dst, src, optional 802.1Q tag (vid, pcp), ethertype, payload bytes. */
export function frame(o: { dst: string; src: string; vid?: number; pcp?: number; type?: number; len?: number; fill?: number }): Buffer {
  const hdr: number[] = [...mac(o.dst), ...mac(o.src)];
  if (o.vid !== undefined) {
    const tci = ((o.pcp ?? 0) << 13) | o.vid;
    hdr.push(0x81, 0x00, tci >> 8, tci & 0xff);
  }
  const type = o.type ?? 0x0800;
  hdr.push(type >> 8, type & 0xff);
  const total = Math.max(o.len ?? 64, hdr.length);
  const b = Buffer.alloc(total, o.fill ?? 0xab);
  Buffer.from(hdr).copy(b, 0);
  return b;
}

/** VID of a tagged frame, or null when untagged. */
export function vidOf(f: Buffer): number | null {
  return f.readUInt16BE(12) === 0x8100 ? f.readUInt16BE(14) & 0xfff : null;
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/**
 * A child process to its end, without blocking: vitest's worker must keep
 * answering its RPC (spawnSync in a loop blocks it for the sum of the runs).
 */
export function spawnAsync(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const t = opts.timeoutMs ? setTimeout(() => p.kill("SIGKILL"), opts.timeoutMs) : undefined;
    p.stdout!.on("data", (d) => (stdout += d));
    p.stderr!.on("data", (d) => (stderr += d));
    p.stdin!.on("error", () => {});
    p.stdin!.end(opts.input ?? "");
    p.on("close", (status) => {
      if (t) clearTimeout(t);
      resolve({ status, stdout, stderr });
    });
  });
}
