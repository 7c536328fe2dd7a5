// The client library: transports (TCP, unix socket by URL and by path),
// typed calls, errors that say what failed, timeouts; the runner's start-up
// and shutdown rules.

import { spawn } from "node:child_process";
import dgram from "node:dgram";
import { closeSync, fstatSync, mkdirSync, openSync, rmSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, RpcError, TransportError } from "../../src/mgmt-api/host/client";
import { ROOT, Runner, startRunner, TSX } from "./helpers";

const dir = join(ROOT, "build", "mgmt", "test");
const sock = join(dir, `mgmt-${process.pid}.sock`);
let r: Runner;

beforeAll(async () => {
  mkdirSync(dir, { recursive: true });
  rmSync(sock, { force: true });
  r = await startRunner(["a", "b"], ["--mgmt", `unix:${sock}`]);
});
afterAll(async () => {
  expect(await r?.stop()).toBe(0);
});

describe("client library", () => {
  it("talks over a unix socket, by unix: URL and by bare path", async () => {
    for (const addr of [`unix:${sock}`, sock]) {
      const c = await connect(addr);
      try {
        const info = await c.systemInfo();
        expect(info.name).toBe("typevisor");
        const ports = await c.portList();
        expect(ports.map((p) => p.name)).toEqual(["a", "b"]);
        const p = await c.portSet("a", { vlan: { mode: "trunk", allowed: [10, 11, 12], native: 10 } });
        expect(p.vlan).toEqual({ mode: "trunk", allowed: [[10, 12]], native: 10, native_tagged: false });
        // calls may overlap; answers are matched up
        const [x, y, z] = await Promise.all([c.portGet("a"), c.mirrorList(), c.fdbConfig()]);
        expect([x.name, y, z.aging_s]).toEqual(["a", [], 300]);
        expect(await c.vmList()).toEqual([]);
        const cfg = await c.configGet();
        expect((await c.configApply(cfg, true)).changes).toEqual([]);
      } finally {
        c.close();
      }
    }
  });

  it("talks over a serial character device (a pty bridged to the runner)", async () => {
    // python3's pty module stands in for a serial line: slave = the "device", master <-> the runner's socket
    const bridge = spawn("python3", [
      "-c",
      [
        "import os, pty, select, socket, sys, tty",
        "m, s = pty.openpty()",
        "tty.setraw(s)",
        "c = socket.socket(socket.AF_UNIX); c.connect(sys.argv[1])",
        "print(os.ttyname(s), flush=True)",
        "while True:",
        "  r, _, _ = select.select([m, c], [], [], 60)",
        "  if not r: break",
        "  if m in r:",
        "    d = os.read(m, 65536)",
        "    if not d: break",
        "    c.sendall(d)",
        "  if c in r:",
        "    d = c.recv(65536)",
        "    if not d: break",
        "    os.write(m, d)",
      ].join("\n"),
      sock,
    ]);
    try {
      const dev = await new Promise<string>((res, rej) => {
        bridge.stdout.once("data", (d) => res(String(d).trim()));
        bridge.once("exit", (c) => rej(new Error(`pty bridge exited ${c}`)));
      });
      expect(dev).toMatch(/^\/dev\//);
      const c = await connect(dev, { timeoutMs: 5000 });
      try {
        expect((await c.systemInfo()).name).toBe("typevisor");
        expect((await c.portGet("b")).name).toBe("b");
        const e = await c.portGet("zz").catch((x) => x);
        expect(e.code).toBe(1);
      } finally {
        c.close();
      }
    } finally {
      bridge.kill("SIGTERM");
    }
  });

  it("errors name the method, the code and the field", async () => {
    const c = await connect(`unix:${sock}`);
    try {
      const e = await c.portSet("a", { vlan: { mode: "access", vlan: 0 } }).catch((x) => x);
      expect(e).toBeInstanceOf(RpcError);
      expect(e.method).toBe("port.set");
      expect(e.code).toBe(-32602);
      expect(e.data.field).toBe("vlan.vlan");
      expect(e.message).toBe("port.set: error -32602 invalid params: vlan.vlan: must be 1-4094");
      const nf = await c.vm("start", "g1").catch((x) => x);
      expect([nf.method, nf.code]).toEqual(["vm.start", 1]);
      const m = (await c.call("no.such").catch((x: RpcError) => x)) as RpcError;
      expect(m.code).toBe(-32601);
    } finally {
      c.close();
    }
  });

  it("closing a serial client closes its fd once (the fd number may already serve something else)", async () => {
    // A pty whose master stays open until the process dies: the client's read of the slave is pending until then.
    const holder = spawn("python3", ["-c", "import os, pty, sys\nm, s = pty.openpty()\nprint(os.ttyname(s), flush=True)\nsys.stdin.read()"]);
    const others: number[] = [];
    try {
      const dev = await new Promise<string>((res, rej) => {
        holder.stdout.once("data", (d) => res(String(d).trim()));
        holder.once("exit", (c) => rej(new Error(`pty holder exited ${c}`)));
      });
      const c = await connect(dev, { timeoutMs: 1000 });
      await new Promise((r) => setTimeout(r, 50)); // its read of the line is under way
      c.close();
      await new Promise((r) => setTimeout(r, 50));
      for (let i = 0; i < 32; i++) others.push(openSync("/dev/null", "r")); // the lowest free fd numbers, the client's among them
      const exited = new Promise((r) => holder.once("exit", r));
      holder.kill("SIGTERM"); // the pending read returns; the client's read stream closes its fd now
      await exited;
      await new Promise((r) => setTimeout(r, 200));
      expect(others.filter((fd) => {
        try {
          fstatSync(fd);
          return false;
        } catch {
          return true;
        }
      })).toEqual([]);
    } finally {
      holder.kill("SIGKILL");
      for (const fd of others) {
        try {
          closeSync(fd);
        } catch {
          // already closed: the failure above says so
        }
      }
    }
  });

  it("times out on a silent server and fails on a refused connection", async () => {
    const silent = net.createServer(() => {});
    await new Promise<void>((res) => silent.listen(0, "127.0.0.1", () => res()));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const c = await connect(`tcp:127.0.0.1:${port}`, { timeoutMs: 200 });
      const e = await c.systemInfo().catch((x) => x);
      expect(e).toBeInstanceOf(TransportError);
      expect(e.message).toContain("system.info: no answer");
      c.close();
    } finally {
      silent.close();
    }
    const refused = await connect(`tcp:127.0.0.1:${port}`).catch((x) => x);
    expect(refused).toBeInstanceOf(TransportError);
    expect(refused.message).toContain(`127.0.0.1:${port}`);
    expect(await connect("ftp:x").catch((x) => x.message)).toContain("bad address");
    // no scheme: a path, relative ones too
    expect(await connect("build/no-such.sock").catch((x) => x.message)).toMatch(/^cannot open build\/no-such.sock: .*ENOENT/);
  });
});

describe("hosted runner start-up", () => {
  it("exits non-zero naming the address when a port cannot bind", async () => {
    const busy = dgram.createSocket("udp4");
    await new Promise<void>((res) => busy.bind(0, "127.0.0.1", () => res()));
    const taken = busy.address().port;
    try {
      const p = spawn(TSX, [join(ROOT, "scripts", "hosted.ts"), "--port", `x=udp:${taken}:9`, "--mgmt", "tcp:127.0.0.1:0"], { cwd: ROOT });
      let out = "";
      let err = "";
      p.stdout.on("data", (d) => (out += d));
      p.stderr.on("data", (d) => (err += d));
      const code = await new Promise<number | null>((res) => p.on("exit", (c) => res(c)));
      expect(code).not.toBe(0);
      expect(err).toContain(`127.0.0.1:${taken}`);
      expect(out).not.toContain("ready");
    } finally {
      busy.close();
    }
  });
});
