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
import { Command, InvalidArgumentError, Option, intParser, parser, runProgram, setupProgram, UsageError, usageIn } from "../src/mgmt-api/host/cli";
import { EXIT } from "../src/mgmt-api/host/exit-codes";
import { connect } from "../src/mgmt-api/host/client";
import { serveMetrics } from "../src/mgmt-api/host/metrics";

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

function fail(msg: string, code: number = EXIT.FAILED): never {
  process.stderr.write(`hosted: ${msg}\n`);
  process.exit(code);
}

/** "NAME=udp:LOCAL:REMOTE" with LOCAL/REMOTE = PORT or HOST:PORT */
function parsePortSpec(spec: string): PortSpec {
  const m = /^([^=]+)=udp:(.+)$/.exec(spec);
  if (!m) throw new UsageError(`want NAME=udp:LOCAL:REMOTE`);
  const parts = m[2].split(":");
  const num = (x: string): number => {
    const n = Number(x);
    if (!/^\d+$/.test(x) || n < 1 || n > 65535) throw new UsageError(`bad UDP port "${x}"`);
    return n;
  };
  if (parts.length === 2) return { name: m[1], local: { host: "127.0.0.1", port: num(parts[0]) }, remote: { host: "127.0.0.1", port: num(parts[1]) }, spec };
  if (parts.length === 4) return { name: m[1], local: { host: parts[0], port: num(parts[1]) }, remote: { host: parts[2], port: num(parts[3]) }, spec };
  throw new UsageError(`want udp:LOCAL:REMOTE with LOCAL/REMOTE = PORT or HOST:PORT`);
}

interface Opts {
  ports: PortSpec[];
  mgmt: string;
  auditRecords?: number;
  virt: string;
  metrics?: string;
}

function parseArgs(argv: string[]): Promise<Opts> {
  return new Promise((resolve) => {
    const io = { out: (s: string) => console.log(s), err: (s: string) => console.error(s) };
    const program = setupProgram(new Command("hosted"), io)
      .description(
        "The switch and management server in Node, each switch port on a UDP socket (one Ethernet frame per datagram).\n" +
          'Prints a line with "ready" once every socket is bound; stops on SIGINT/SIGTERM.',
      )
      .option("--port <NAME=udp:LOCAL:REMOTE>", "a switch port: frames in on LOCAL, out to REMOTE (PORT on 127.0.0.1, or HOST:PORT); repeatable",
        (v: string, prev: PortSpec[] = []) => {
          const p = parser(parsePortSpec)(v);
          if (prev.some((x) => x.name === p.name)) throw new InvalidArgumentError(`port ${p.name} given twice`);
          return [...prev, p];
        })
      .option("--mgmt <ADDR>", "management listener: tcp:HOST:PORT or unix:PATH (required)")
      .option("--audit-records <N>", "audit ring size", intParser("--audit-records", 1, 1024))
      .addOption(new Option("--virt <KIND>", "what system.info reports").choices(["none", "vmx", "svm"]).default("none"))
      .option("--metrics <HOST:PORT>", "also serve Prometheus metrics there (as tvctl metrics --listen)")
      .action((o: { port?: PortSpec[]; mgmt?: string; auditRecords?: number; virt: string; metrics?: string }, cmd: Command) => {
        // checked here, not as a commander "required option": that check comes before unknown options are named
        if (!o.mgmt) throw usageIn(cmd, "--mgmt ADDR is required");
        resolve({ ports: o.port ?? [], mgmt: o.mgmt, auditRecords: o.auditRecords, virt: o.virt, metrics: o.metrics });
      });
    runProgram(program, argv, io).then((code) => {
      // help, --version and usage errors end here; a parsed command line resolved above
      if (code !== EXIT.OK || !program.opts().mgmt) process.exit(code);
    });
  });
}

async function main(): Promise<void> {
  const opts = await parseArgs(process.argv.slice(2));
  let h: Hosted;
  try {
    // the first start compiles the switch (seconds): say so, on stderr (stdout carries "ready")
    h = await loadHosted({ auditRecords: opts.auditRecords, quiet: true, progress: (l) => process.stderr.write(`[hosted] ${l}\n`) });
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
        shutdown(EXIT.INTERNAL);
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
      fail(`--port ${spec.spec}: ${(e as Error).message}`, EXIT.USAGE);
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
      if (i < 0 || !Number.isInteger(port) || port < 0 || port > 65535) fail(`--mgmt ${opts.mgmt}: want tcp:HOST:PORT`, EXIT.USAGE);
      server.listen(port, rest.slice(0, i), () => resolve());
    } else if (opts.mgmt.startsWith("unix:")) {
      unixPath = opts.mgmt.slice(5);
      if (existsSync(unixPath)) unlinkSync(unixPath);
      server.listen(unixPath, () => resolve());
    } else fail(`--mgmt ${opts.mgmt}: want tcp:HOST:PORT or unix:PATH`, EXIT.USAGE);
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

  // Prometheus metrics: a client of our own management socket, as tvctl metrics would be
  if (opts.metrics) {
    const i = opts.metrics.lastIndexOf(":");
    const mp = Number(opts.metrics.slice(i + 1));
    if (i < 1 || !/^\d+$/.test(opts.metrics.slice(i + 1)) || mp > 65535) fail(`--metrics ${opts.metrics}: want HOST:PORT`, EXIT.USAGE);
    const c = await connect(where);
    const ms = await serveMetrics(c, opts.metrics.slice(0, i), mp).catch((e) => fail(`cannot listen on ${opts.metrics}: ${e.message}`, EXIT.FAILED));
    process.stdout.write(`hosted: metrics on http://${ms.address}/metrics\n`);
  }

  const portList = opts.ports.map((p) => `${p.name}=udp:${p.local.host}:${p.local.port}->${p.remote.host}:${p.remote.port}`).join(" ");
  process.stdout.write(`hosted: ready mgmt ${where} ports ${portList || "(none)"}\n`);
}

main().catch((e) => fail(`${(e as Error).stack ?? e}`, EXIT.INTERNAL));
