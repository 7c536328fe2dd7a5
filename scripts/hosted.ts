// The hosted runner: the AssemblyScript switch and management server
// (compiled for Node) with each switch port on a UDP socket and management
// on TCP or a unix socket.
//
//   npm run hosted -- --port NAME=udp:LOCAL:REMOTE ... --mgmt tcp:127.0.0.1:PORT
//
// LOCAL and REMOTE are PORT (on 127.0.0.1) or HOST:PORT. One Ethernet frame
// per datagram: the switch receives the port's frames on LOCAL and sends to
// REMOTE (QEMU's dgram netdev framing). Ports have kind "test".

import dgram from "node:dgram";
import net from "node:net";
import { existsSync, unlinkSync } from "node:fs";
import { availableParallelism, totalmem } from "node:os";
import { loadHosted, Hosted, WasmTrap } from "../src/mgmt-api/host/wasm";
import { serveConnection } from "../src/mgmt-api/host/conn";

const USAGE = `usage: npm run hosted -- --port NAME=udp:LOCAL:REMOTE ... --mgmt tcp:127.0.0.1:PORT|unix:PATH
       [--audit-records N] [--virt none|vmx|svm]

LOCAL and REMOTE are PORT (127.0.0.1) or HOST:PORT. Prints a line with
"ready" once every socket is bound; stops on SIGINT/SIGTERM.`;

interface Endpoint {
  host: string;
  port: number;
}
interface PortSpec {
  name: string;
  local: Endpoint;
  remote: Endpoint;
  spec: string;
}

function fail(msg: string, code = 2): never {
  process.stderr.write(`hosted: ${msg}\n`);
  process.exit(code);
}

function parseEndpoints(s: string, what: string): [Endpoint, Endpoint] {
  const parts = s.split(":");
  const num = (x: string): number => {
    const n = Number(x);
    if (!/^\d+$/.test(x) || n < 1 || n > 65535) fail(`${what}: bad UDP port "${x}"`);
    return n;
  };
  if (parts.length === 2) return [{ host: "127.0.0.1", port: num(parts[0]) }, { host: "127.0.0.1", port: num(parts[1]) }];
  if (parts.length === 4) return [{ host: parts[0], port: num(parts[1]) }, { host: parts[2], port: num(parts[3]) }];
  return fail(`${what}: want udp:LOCAL:REMOTE with LOCAL/REMOTE = PORT or HOST:PORT`);
}

function parseArgs(raw: string[]) {
  // "--flag=value" is "--flag value"
  const argv = raw.flatMap((a) => (a.startsWith("--") && a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a]));
  const ports: PortSpec[] = [];
  let mgmt = "";
  let auditRecords: number | undefined;
  let virt = "none";
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = (): string => {
      if (i + 1 >= argv.length) fail(`${a} needs a value\n${USAGE}`);
      return argv[++i];
    };
    if (a === "--port") {
      const spec = val();
      const m = /^([^=]+)=udp:(.+)$/.exec(spec);
      if (!m) fail(`--port ${spec}: want NAME=udp:LOCAL:REMOTE`);
      const [local, remote] = parseEndpoints(m[2], `--port ${spec}`);
      if (ports.some((p) => p.name === m[1])) fail(`--port ${spec}: port ${m[1]} given twice`);
      ports.push({ name: m[1], local, remote, spec });
    } else if (a === "--mgmt") mgmt = val();
    else if (a === "--audit-records") {
      const v = val();
      if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 1024) fail("--audit-records: 1-1024");
      auditRecords = Number(v);
    } else if (a === "--virt") {
      virt = val();
      if (!["none", "vmx", "svm"].includes(virt)) fail("--virt: none, vmx or svm");
    } else if (a === "--help" || a === "-h") {
      process.stdout.write(USAGE + "\n");
      process.exit(0);
    } else fail(`unknown argument ${a}\n${USAGE}`);
  }
  if (!mgmt) fail(`--mgmt is required\n${USAGE}`);
  return { ports, mgmt, auditRecords, virt };
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  let h: Hosted;
  try {
    h = await loadHosted({ auditRecords: opts.auditRecords, quiet: true });
  } catch (e) {
    fail(`cannot build the hosted switch: ${(e as Error).message}`, 1);
  }
  const start = process.hrtime.bigint();
  const tick = () => h.setClockNs(process.hrtime.bigint() - start);
  h.x.set_host(opts.virt === "vmx" ? 1 : opts.virt === "svm" ? 2 : 0, availableParallelism(), BigInt(Math.floor(totalmem() / 1048576)));

  // ports, then their sockets: all bound before management listens
  const byId = new Map<number, { spec: PortSpec; sock: dgram.Socket }>();
  const socks: dgram.Socket[] = [];
  let pendingDrain: NodeJS.Timeout | null = null;

  const guard = <T>(f: () => T): T | undefined => {
    try {
      return f();
    } catch (e) {
      if (e instanceof WasmTrap || e instanceof WebAssembly.RuntimeError) {
        process.stderr.write(`hosted: switch trapped: ${(e as Error).message}\n`);
        shutdown(70);
        return undefined;
      }
      throw e;
    }
  };

  const flush = (): void => {
    tick();
    for (const [id, bytes] of h.takeFrames()) {
      const p = byId.get(id);
      if (p) p.sock.send(bytes, p.spec.remote.port, p.spec.remote.host);
    }
    // frames held back by a shaper leave later
    if (h.x.queued() > 0 && pendingDrain === null) {
      pendingDrain = setTimeout(() => {
        pendingDrain = null;
        guard(flush);
      }, 1);
    }
  };

  for (const spec of opts.ports) {
    let id: number;
    try {
      id = h.addTestPort(spec.name);
    } catch (e) {
      fail(`--port ${spec.spec}: ${(e as Error).message}`);
    }
    const sock = dgram.createSocket("udp4");
    await new Promise<void>((resolve) => {
      sock.once("error", (e) => fail(`cannot bind udp ${spec.local.host}:${spec.local.port} (port ${spec.name}): ${e.message}`, 1));
      sock.bind(spec.local.port, spec.local.host, () => {
        sock.removeAllListeners("error");
        sock.on("error", (e) => process.stderr.write(`hosted: port ${spec.name}: ${e.message}\n`));
        resolve();
      });
    });
    sock.on("message", (msg) =>
      guard(() => {
        tick();
        h.frameIn(id, msg);
        flush();
      }),
    );
    byId.set(id, { spec, sock });
    socks.push(sock);
  }

  // management
  const server = net.createServer((conn) => {
    const sid = h.x.open_session();
    if (sid < 0) {
      conn.end('{"jsonrpc":"2.0","id":null,"error":{"code":3,"message":"busy: too many management connections"}}\n');
      return;
    }
    // back-pressure: reading stops while the client does not take its replies
    serveConnection(
      conn,
      (piece) => guard(() => (tick(), h.feedSession(sid, piece))) ?? new Uint8Array(0),
      () => guard(flush), // a config change may release queued frames
    );
    conn.on("error", () => {});
    conn.on("close", () => h.x.close_session(sid));
  });
  let unixPath: string | undefined;
  await new Promise<void>((resolve) => {
    server.once("error", (e) => fail(`cannot listen on ${opts.mgmt}: ${e.message}`, 1));
    if (opts.mgmt.startsWith("tcp:")) {
      const rest = opts.mgmt.slice(4);
      const i = rest.lastIndexOf(":");
      const port = Number(rest.slice(i + 1));
      if (i < 0 || !Number.isInteger(port) || port < 0 || port > 65535) fail(`--mgmt ${opts.mgmt}: want tcp:HOST:PORT`);
      server.listen(port, rest.slice(0, i), () => resolve());
    } else if (opts.mgmt.startsWith("unix:")) {
      unixPath = opts.mgmt.slice(5);
      if (existsSync(unixPath)) unlinkSync(unixPath);
      server.listen(unixPath, () => resolve());
    } else fail(`--mgmt ${opts.mgmt}: want tcp:HOST:PORT or unix:PATH`);
  });
  const addr = server.address();
  const where = typeof addr === "string" ? `unix:${addr}` : `tcp:${addr!.address}:${addr!.port}`;

  // FDB aging on the host's clock
  const ager = setInterval(() => guard(() => (tick(), h.x.age())), 1000);

  let stopping = false;
  function shutdown(code = 0): void {
    if (stopping) return;
    stopping = true;
    clearInterval(ager);
    if (pendingDrain) clearTimeout(pendingDrain);
    for (const s of socks) s.close();
    server.close();
    if (unixPath && existsSync(unixPath)) unlinkSync(unixPath);
    process.stdout.write(`hosted: stopped\n`);
    process.exit(code);
  }
  process.on("SIGINT", () => shutdown(0));
  process.on("SIGTERM", () => shutdown(0));

  const portList = opts.ports.map((p) => `${p.name}=udp:${p.local.host}:${p.local.port}->${p.remote.host}:${p.remote.port}`).join(" ");
  process.stdout.write(`hosted: ready mgmt ${where} ports ${portList || "(none)"}\n`);
}

main().catch((e) => fail(`${(e as Error).stack ?? e}`, 1));
