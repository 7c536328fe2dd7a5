// Shared by the VMM integration tests: builds the image once (serialised
// by scripts/build-image.ts's own lock, skipped when newer than every source), runs QEMU with COM2 on
// a unix socket, and talks JSON-RPC to the monitor over it.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { qemuArgs, requireTool, root, QEMU_BIN } from "../../scripts/lib/emulators";

export const VMM_ELF = join(root, "build/vmm/typevisor.elf");
export const VMM_ISO = join(root, "build/vmm/typevisor.iso");
/** The ISO's command line (Bochs cannot be given one at run time). */
export const ISO_CMDLINE = "demo start=real16,long64,probe,spin";

function newestSource(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newestSource(p));
    else t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

/**
 * Builds build/vmm/typevisor.{elf,iso} unless they are newer than src/, boot/
 * and scripts/. Asynchronous: a long spawnSync starves vitest's worker RPC.
 */
export async function buildVmmImage(): Promise<void> {
  mkdirSync(join(root, "build/vmm"), { recursive: true });
  const stamp = join(root, "build/vmm/iso-cmdline.txt");
  const fresh = () =>
    existsSync(VMM_ELF) && existsSync(VMM_ISO) &&
    existsSync(stamp) && readFileSync(stamp, "utf8") === ISO_CMDLINE &&
    statSync(VMM_ISO).mtimeMs > Math.max(newestSource(join(root, "src")), newestSource(join(root, "boot")), newestSource(join(root, "scripts")));
  if (fresh()) return;
  // scripts/build-image.ts takes the one build lock itself; the image's
  // temporaries are its own (build/obj/vmm_typevisor.elf/)
  const { buildImageLocked } = await import("../../scripts/build-image");
  await buildImageLocked(["--elf", VMM_ELF, "--iso", VMM_ISO, "--cmdline", ISO_CMDLINE]);
  writeFileSync(stamp, ISO_CMDLINE);
}

/** A test guest binary built with the VMM image (scripts/build-image.ts keeps it per image). */
export async function vmmGuest(name: string): Promise<string> {
  const { intermediateDir } = await import("../../scripts/build-image");
  return join(intermediateDir(VMM_ELF), "guests", `${name}.bin`);
}

/** An ISO of the built ELF with another command line (Bochs takes none at run time). */
export async function isoWith(cmdline: string): Promise<string> {
  const { makeIso } = await import("../../scripts/build-image");
  const iso = join(root, "build/vmm", `iso-${cmdline.replace(/[^A-Za-z0-9]+/g, "_")}.iso`);
  makeIso(VMM_ELF, iso, cmdline, true);
  return iso;
}

export class QemuSession {
  serial = "";
  child: ChildProcess;
  exited = false;
  socketPath: string;
  /** QMP socket when started paused (`paused`), for cont(). */
  qmpPath = "";

  /**
   * `initrd`: QEMU's -initrd, multiboot modules separated by commas ("path args,path args").
   * `paused`: QEMU starts with the CPU stopped (-S) until cont(), so a test can talk to COM2 before anything runs.
   */
  constructor(cmdline: string, opts: { cpu?: string; timeoutS?: number; initrd?: string; paused?: boolean; extraArgs?: string[]; memoryMiB?: number } = {}) {
    requireTool(QEMU_BIN, "qemu-system-x86");
    if (!existsSync(VMM_ELF)) throw new Error(`${VMM_ELF} missing: build failed?`);
    const tag = `${process.pid}-${Date.now()}`;
    this.socketPath = join(root, "build/vmm", `com2-${tag}.sock`);
    rmSync(this.socketPath, { force: true });
    const extra = [...(opts.initrd ? ["-initrd", opts.initrd] : []), ...(opts.extraArgs ?? [])];
    if (opts.paused) {
      this.qmpPath = join(root, "build/vmm", `qmp-${tag}.sock`);
      rmSync(this.qmpPath, { force: true });
      extra.push("-S", "-qmp", `unix:${this.qmpPath},server=on,wait=off`);
    }
    const args = qemuArgs({ kernel: VMM_ELF, cmdline, cpu: opts.cpu, com2Socket: this.socketPath, memoryMiB: opts.memoryMiB ?? 256, extraArgs: extra });
    this.child = spawn("timeout", ["-k", "3", String(opts.timeoutS ?? 240), QEMU_BIN, ...args], {
      cwd: root, stdio: ["ignore", "pipe", "pipe"],
    });
    this.child.stdout!.on("data", (d: Buffer) => (this.serial += d.toString("latin1").replace(/\r/g, "")));
    this.child.stderr!.on("data", (d: Buffer) => (this.serial += d.toString("latin1")));
    this.child.on("close", () => (this.exited = true));
  }

  /** Starts the CPU of a session created with `paused` (QMP qmp_capabilities, then cont). */
  async cont(ms = 30_000): Promise<void> {
    if (!this.qmpPath) throw new Error("cont(): the session was not started paused");
    const s = await connectRetry(this.qmpPath, ms);
    let got = "";
    await new Promise<void>((res, rej) => {
      const t = setTimeout(() => rej(new Error(`QMP: no answer to cont within ${ms} ms: ${got}`)), ms);
      s.on("data", (d) => {
        got += d.toString("utf8");
        if (got.includes('"QMP"') && !got.includes("qmp_capabilities-sent")) {
          got += "qmp_capabilities-sent";
          s.write('{"execute":"qmp_capabilities"}\n{"execute":"cont"}\n');
        }
        // the greeting, then one {"return": {}} per command
        if ((got.match(/"return"/g) ?? []).length >= 2) {
          clearTimeout(t);
          res();
        }
      });
    });
    s.destroy();
  }

  /** Stops reading COM1 (QEMU's stdout): once the pipe is full the UART's transmitter stalls. */
  pauseConsole(): void {
    this.child.stdout!.pause();
  }

  resumeConsole(): void {
    this.child.stdout!.resume();
  }

  /** Resolves when the serial log matches, rejects on exit or after ms. */
  async waitFor(re: RegExp, ms: number): Promise<RegExpMatchArray> {
    const end = Date.now() + ms;
    for (;;) {
      const m = this.serial.match(re);
      if (m) return m;
      if (this.exited) throw new Error(`QEMU exited before ${re}; serial:\n${this.serial.slice(-3000)}`);
      if (Date.now() > end) throw new Error(`no ${re} within ${ms} ms; serial:\n${this.serial.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  stop(): void {
    if (!this.exited) this.child.kill("SIGTERM");
    rmSync(this.socketPath, { force: true });
    if (this.qmpPath) rmSync(this.qmpPath, { force: true });
  }
}

/** Connects to a unix socket, retrying until it exists (QEMU creates it at start). */
export async function connectRetry(path: string, ms = 30_000): Promise<Socket> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await new Promise<Socket>((res, rej) => {
        const c = connect(path, () => res(c));
        c.once("error", rej);
      });
    } catch (e) {
      if (Date.now() > end) throw new Error(`cannot connect to ${path}: ${e}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** A line-oriented JSON-RPC client over the COM2 socket. */
export class Rpc {
  private buf = "";
  private waiters: ((line: string) => void)[] = [];
  private lines: string[] = [];
  private id = 1;
  constructor(private sock: Socket) {
    sock.on("data", (d) => {
      this.buf += d.toString("utf8");
      let i;
      while ((i = this.buf.indexOf("\n")) >= 0) {
        const line = this.buf.slice(0, i).replace(/\r$/, "");
        this.buf = this.buf.slice(i + 1);
        if (line.trim().length === 0) continue;
        const w = this.waiters.shift();
        if (w) w(line);
        else this.lines.push(line);
      }
    });
  }

  static async open(path: string, ms = 30_000): Promise<Rpc> {
    const end = Date.now() + ms;
    for (;;) {
      try {
        const s = await new Promise<Socket>((res, rej) => {
          const c = connect(path, () => res(c));
          c.once("error", rej);
        });
        return new Rpc(s);
      } catch (e) {
        if (Date.now() > end) throw new Error(`cannot connect to ${path}: ${e}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  async call(method: string, params?: unknown, ms = 30_000): Promise<any> {
    const id = this.id++;
    const req = JSON.stringify(params === undefined ? { jsonrpc: "2.0", id, method } : { jsonrpc: "2.0", id, method, params });
    const line = await this.raw(req + "\n", ms, method);
    const msg = JSON.parse(line);
    if (msg.id !== id) throw new Error(`answer for id ${msg.id}, expected ${id}: ${line}`);
    if (msg.error) throw Object.assign(new Error(`${method}: ${msg.error.message}`), { code: msg.error.code });
    return msg.result;
  }

  /** Sends `text` as it is (malformed requests included) and returns the next line the server answers. */
  async raw(text: string, ms = 30_000, what = JSON.stringify(text.slice(0, 60))): Promise<string> {
    return await new Promise<string>((res, rej) => {
      const t = setTimeout(() => rej(new Error(`no answer to ${what} within ${ms} ms`)), ms);
      const done = (l: string) => {
        clearTimeout(t);
        res(l);
      };
      const queued = this.lines.shift();
      if (queued !== undefined) done(queued);
      else this.waiters.push(done);
      this.sock.write(text);
    });
  }

  close(): void {
    this.sock.destroy();
  }
}

/** Lines printed by a VM's debug console, in order. */
export function vmLines(serial: string, vm: string): string[] {
  return serial.split("\n").filter((l) => l.startsWith(`[${vm}] `)).map((l) => l.slice(vm.length + 3));
}

/** True when the two VMs' output overlaps in time (each printed between the other's first and last line). */
export function interleaved(serial: string, a: string, b: string): boolean {
  const lines = serial.split("\n");
  const idx = (vm: string) => lines.map((l, i) => (l.startsWith(`[${vm}] `) ? i : -1)).filter((i) => i >= 0);
  const ia = idx(a);
  const ib = idx(b);
  if (ia.length < 2 || ib.length < 2) return false;
  return ib.some((i) => i > ia[0] && i < ia[ia.length - 1]) && ia.some((i) => i > ib[0] && i < ib[ib.length - 1]);
}

/** The Linux guest kernel and initramfs (scripts/guest-linux.ts; cached in build/linux, the first run needs Debian's archive). */
export async function guestMaterial(): Promise<void> {
  const out = await new Promise<string>((resolve) => {
    const p = spawn("npx", ["tsx", "scripts/guest-linux.ts"], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let text = "";
    p.stdout!.on("data", (d: Buffer) => (text += d.toString()));
    p.stderr!.on("data", (d: Buffer) => (text += d.toString()));
    p.on("close", (code) => resolve(code === 0 ? "" : text || `exit ${code}`));
  });
  if (out) throw new Error(`scripts/guest-linux.ts could not provide the guest kernel:\n${out}`);
}
