// `npm run bochs [-- OPTIONS] [-- KERNEL OPTIONS...]`: boots the image in Bochs
// through GRUB with the same kernel command line as `npm run qemu` (default
// `demo`), COM1 streamed to this terminal and COM2 (the management channel) on
// a unix socket (build/com2.sock), as with QEMU.
import { existsSync, mkdirSync, rmSync } from "node:fs";
import net from "node:net";
import { join, relative } from "node:path";
import { Command, intParser, runProgram, setupProgram, usageIn } from "../src/mgmt-api/host/cli.ts";
import { EXIT, describeEnd, signalStatus } from "../src/mgmt-api/host/exit-codes.ts";
import { requireTool, root, runBochs, BOCHS_BIN } from "./lib/emulators.ts";
import { isoForCmdline } from "./lib/image.ts";

export const DEFAULT_CMDLINE = "demo";
const io = { out: (s: string) => console.log(s), err: (s: string) => console.error(s) };

/** A free TCP port on 127.0.0.1 (closed again for Bochs to bind). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

/**
 * Bochs' COM2 as a socket server waits for its client before the machine
 * starts: connect to it at once, and serve that one stream on a unix socket
 * (one management client at a time, as on a serial line).
 */
function bridgeCom2(tcpPort: number, sockPath: string): { close: () => void } {
  let upstream: net.Socket | null = null;
  let client: net.Socket | null = null;
  let closed = false;
  const server = net.createServer((c) => {
    client?.destroy();
    client = c;
    c.on("data", (d) => upstream?.write(d));
    c.on("error", () => {});
    c.on("close", () => {
      if (client === c) client = null;
    });
  });
  rmSync(sockPath, { force: true });
  server.listen(sockPath);
  const tryConnect = () => {
    if (closed) return;
    const s = net.connect(tcpPort, "127.0.0.1");
    s.once("connect", () => {
      upstream = s;
      s.on("data", (d) => client?.write(d));
    });
    s.once("error", () => setTimeout(tryConnect, 100));
  };
  tryConnect();
  return {
    close: () => {
      closed = true;
      upstream?.destroy();
      client?.destroy();
      server.close();
      rmSync(sockPath, { force: true });
    },
  };
}

const program = setupProgram(new Command("run-bochs"), io)
  .description(
    "Boots the image in Bochs through GRUB. Default CPU corei7_skylake_x: VT-x with EPT, unrestricted guest, VPID.\n" +
      `Kernel options (default: ${DEFAULT_CMDLINE}) go after --, as with npm run qemu; words without a leading - are kernel options too.`,
  )
  .argument("[KERNEL_OPTIONS...]", `the kernel command line (default: ${DEFAULT_CMDLINE})`)
  .option("--svm", "an AMD CPU (ryzen): AMD-V with NPT")
  .option("--cpu <MODEL>", "any Bochs CPU model")
  .option("--iso <PATH>", "boot this ISO as it is (its own GRUB command line) instead of one built with KERNEL_OPTIONS")
  .option("-m, --memory <MIB>", "memory (default 256)", intParser("--memory", 16, 4096))
  .option("--timeout <SECONDS>", "stop after this many seconds (exit status 0); default: run until the monitor exits", intParser("--timeout", 1, 86400))
  .option("--com2 <PATH>", "unix socket for COM2, the management channel", "build/com2.sock")
  .option("--dry-run", "print the CPU, ISO and command line and stop (nothing built or booted)")
  .action(async (kernelOpts: string[], o: { svm?: boolean; cpu?: string; iso?: string; memory?: number; timeout?: number; com2: string; dryRun?: boolean }, cmd: Command) => {
    if (o.svm && o.cpu) throw usageIn(cmd, "--svm and --cpu exclude each other");
    if (o.iso && kernelOpts.length) throw usageIn(cmd, "--iso PATH boots that ISO's own command line: give no KERNEL_OPTIONS");
    if (o.dryRun) {
      const line = o.iso ? `iso ${o.iso} (its own command line)` : `command line: ${(kernelOpts.length ? kernelOpts : [DEFAULT_CMDLINE]).join(" ")}`;
      console.log(`bochs cpu ${o.svm ? "ryzen" : o.cpu ?? "corei7_skylake_x"}, ${o.memory ?? 256} MiB, ${line}, timeout ${o.timeout ?? "none"}, COM2 ${o.com2}`);
      return;
    }
    try {
      requireTool(BOCHS_BIN, "bochs bochsbios vgabios");
    } catch (e) {
      console.error(`run-bochs: ${(e as Error).message}`);
      process.exitCode = EXIT.UNAVAILABLE;
      return;
    }
    const elf = join(root, "build/typevisor.elf");
    const cmdline = (kernelOpts.length ? kernelOpts : [DEFAULT_CMDLINE]).join(" ");
    if (o.iso ? !existsSync(o.iso) : !existsSync(elf)) {
      console.error(`run-bochs: ${o.iso ?? elf} is missing${o.iso ? "" : ": run npm run build"}`);
      process.exitCode = EXIT.UNAVAILABLE;
      return;
    }
    const iso = o.iso ?? (await isoForCmdline(elf, cmdline));
    const cpu = o.svm ? "ryzen" : o.cpu ?? "corei7_skylake_x";
    const sock = join(root, o.com2);
    mkdirSync(join(sock, ".."), { recursive: true });
    const tcp = await freePort();
    console.error(`[bochs] ${relative(process.cwd(), iso)} on ${cpu}${o.iso ? "" : `, command line: ${cmdline}`} (serial log and bochsrc under build/bochs/)`);
    console.error(`[bochs] COM2 (management channel): ${relative(process.cwd(), sock)}  (bin/tvctl --mgmt ${relative(process.cwd(), sock)} show)`);
    const bridge = bridgeCom2(tcp, sock);
    const limitS = o.timeout ?? 0;
    let r;
    try {
      r = await runBochs({
        iso, cpu, memoryMiB: o.memory, echo: process.stdout,
        // no --timeout: as good as no limit (runBochs always has a budget)
        timeoutMs: (limitS || 10 * 365 * 86400) * 1000,
        com2: `mode=socket-server, dev=127.0.0.1:${tcp}`,
      });
    } finally {
      bridge.close();
    }
    process.stdout.write("\n");
    if (/PANIC/.test(r.serial)) {
      console.error("[bochs] the monitor panicked");
      process.exitCode = EXIT.FAILED;
    } else if (/shutting down/.test(r.serial)) process.exitCode = EXIT.OK;
    else if (r.timedOut && limitS > 0) {
      console.error(`[bochs] stopped after ${limitS} s (--timeout)`);
      process.exitCode = EXIT.OK;
    } else if (r.signal) {
      console.error(`[bochs] ${describeEnd(r.status, r.signal)}`);
      process.exitCode = signalStatus(r.signal);
    } else {
      console.error(`[bochs] stopped without a clean shutdown (Bochs ${describeEnd(r.status, r.signal)})`);
      process.exitCode = EXIT.FAILED;
    }
  });

runProgram(program, process.argv.slice(2), io).then((code) => {
  if (code !== EXIT.OK) process.exitCode = code;
});
