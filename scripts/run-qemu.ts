// `npm run qemu [-- OPTIONS] [-- KERNEL OPTIONS...]`: boots build/typevisor.elf in QEMU.
// COM1 is this terminal; COM2 (the management channel) is a unix socket
// (build/com2.sock). Options are checked before anything starts: an unknown
// one is exit status 2 and never reaches the kernel command line.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join, relative } from "node:path";
import { Command, InvalidArgumentError, intParser, runProgram, setupProgram, usageIn } from "../src/mgmt-api/host/cli.ts";
import { EXIT, describeEnd, signalStatus } from "../src/mgmt-api/host/exit-codes.ts";
import { QEMU_BIN, QEMU_STATUS_FAILURE, QEMU_STATUS_SUCCESS, hasKvm, nicArgs, qemuArgs, requireTool, root, virtioConsoleArgs, type DgramNic } from "./lib/emulators.ts";
import { isoForCmdline } from "./lib/image.ts";

export const DEFAULT_CMDLINE = "demo";

/** --nic LOCAL:REMOTE[:modern|legacy], repeatable. */
function collectNic(v: string, prev: DgramNic[]): DgramNic[] {
  const [local, remote, mode] = v.split(":");
  if (!Number(local) || !Number(remote) || (mode && mode !== "modern" && mode !== "legacy")) {
    throw new InvalidArgumentError("expected LOCAL:REMOTE[:modern|legacy] (UDP ports on 127.0.0.1)");
  }
  return [...prev, { local: Number(local), remote: Number(remote), mode: mode as DgramNic["mode"] }];
}
const io = { out: (s: string) => console.log(s), err: (s: string) => console.error(s) };
const timeoutPrefix = (secs?: number) => (secs ? `timeout -k 3 ${secs} ` : "");

const program = setupProgram(new Command("run-qemu"), io)
  .description(
    "Boots the image in QEMU. Default: TCG with an AMD CPU that has SVM + NPT (QEMU emulates no VT-x).\n" +
      `Kernel options (default: ${DEFAULT_CMDLINE}) go after --, e.g. npm run qemu -- --timeout 20 -- loglevel=debug demo;\n` +
      "words without a leading - are kernel options too. --iso passes them through GRUB.",
  )
  .argument("[KERNEL_OPTIONS...]", `the kernel command line (default: ${DEFAULT_CMDLINE})`)
  .option("--kvm", "KVM with the host CPU (no nested virtualization here: a plain boot)")
  .option("--tcg", "TCG (the default)")
  .option("--iso", "boot through GRUB (an ISO of build/typevisor.elf with this command line) instead of -kernel")
  .option("--cpu <MODEL>", "another CPU model")
  .option("-m, --memory <MIB>", "memory (default 256)", intParser("--memory", 16, 65536))
  .option("--timeout <SECONDS>", "stop after this many seconds (exit status 0); default: run until the monitor exits", intParser("--timeout", 1, 86400))
  .option("--com2 <PATH>", "unix socket for COM2, the management channel", "build/com2.sock")
  .option("--nic <LOCAL:REMOTE[:modern|legacy]>", "a virtio-net-pci NIC on UDP 127.0.0.1 (repeatable; uplink0, uplink1, ...)", collectNic, [] as DgramNic[])
  .option("--virtio-console", "a virtconsole on build/vcon.sock: a second management channel (docs/DRIVERS.md)")
  .option("--initrd <MODULES>", "multiboot modules, QEMU -initrd syntax: \"FILE WORDS,FILE WORDS\" (Linux guests: docs/GUESTS.md)")
  .option("--demo", "the test guests' demo: kernel command line `demo` (the default here; `npm start -- --demo` boots it instead of Linux VMs)")
  .option("--dry-run", "print the QEMU command line and stop (nothing built or booted)")
  .action(async (kernelOpts: string[], o: { kvm?: boolean; tcg?: boolean; iso?: boolean; cpu?: string; memory?: number; timeout?: number; com2: string; dryRun?: boolean; nic: DgramNic[]; virtioConsole?: boolean; initrd?: string }, cmd: Command) => {
    if (o.kvm && o.tcg) throw usageIn(cmd, "--kvm and --tcg exclude each other");
    if (o.iso && o.initrd) throw usageIn(cmd, "--initrd goes with -kernel boots, not --iso");
    const cmdline = (kernelOpts.length ? kernelOpts : [DEFAULT_CMDLINE]).join(" ");
    const vconSock = join(root, "build/vcon.sock");
    const extraArgs = [...nicArgs(o.nic), ...(o.virtioConsole ? virtioConsoleArgs(vconSock) : []), ...(o.initrd ? ["-initrd", o.initrd] : [])];
    if (o.dryRun) {
      const qa = qemuArgs({ accel: o.kvm ? "kvm" : "tcg", cpu: o.cpu, memoryMiB: o.memory ?? 256, iso: o.iso ? "build/run/typevisor-CMDLINE.iso" : undefined, kernel: "build/typevisor.elf", cmdline, com2Socket: o.com2, extraArgs });
      console.log(`${timeoutPrefix(o.timeout)}${QEMU_BIN} ${qa.join(" ")}${o.iso ? `\n# GRUB command line: ${cmdline}` : ""}`);
      return;
    }
    try {
      requireTool(QEMU_BIN, "qemu-system-x86");
    } catch (e) {
      console.error(`run-qemu: ${(e as Error).message}`);
      process.exitCode = EXIT.UNAVAILABLE;
      return;
    }
    if (o.kvm && !hasKvm()) {
      console.error("run-qemu: /dev/kvm is not available; drop --kvm to use TCG");
      process.exitCode = EXIT.UNAVAILABLE;
      return;
    }
    const elf = join(root, "build/typevisor.elf");
    if (!existsSync(elf)) {
      console.error(`run-qemu: ${elf} is missing: run npm run build`);
      process.exitCode = EXIT.UNAVAILABLE;
      return;
    }
    const iso = o.iso ? await isoForCmdline(elf, cmdline) : undefined;
    const sock = join(root, o.com2);
    mkdirSync(join(sock, ".."), { recursive: true });
    rmSync(sock, { force: true });
    if (o.virtioConsole) rmSync(vconSock, { force: true });
    const qa = qemuArgs({ accel: o.kvm ? "kvm" : "tcg", cpu: o.cpu, memoryMiB: o.memory ?? 256, iso, kernel: elf, cmdline, com2Socket: sock, extraArgs });
    console.error(`[qemu] ${QEMU_BIN} ${qa.join(" ")}`);
    if (iso) console.error(`[qemu] GRUB command line: ${cmdline}`);
    console.error(`[qemu] COM2 (management channel): ${relative(process.cwd(), sock) || sock}  (bin/tvctl --mgmt ${relative(process.cwd(), sock)} show)`);
    if (o.virtioConsole) console.error(`[qemu] virtio-console (management channel): ${relative(process.cwd(), vconSock)}`);
    const timeoutSecs = o.timeout ?? 0;
    const exe = timeoutSecs > 0 ? "timeout" : QEMU_BIN;
    const exeArgs = timeoutSecs > 0 ? ["-k", "3", String(timeoutSecs), QEMU_BIN, ...qa] : qa;
    const r = spawnSync(exe, exeArgs, { stdio: "inherit", cwd: root });
    rmSync(sock, { force: true });
    if (r.status === QEMU_STATUS_SUCCESS) {
      process.exitCode = EXIT.OK;
    } else if (r.status === QEMU_STATUS_FAILURE) {
      console.error("[qemu] the monitor panicked (isa-debug-exit 0x11)");
      process.exitCode = EXIT.FAILED;
    } else if (timeoutSecs > 0 && (r.status === 124 || r.status === 137)) {
      // timeout(1): 124 when the time ran out (137 if QEMU needed the KILL): the stop the user asked for
      console.error(`[qemu] stopped after ${timeoutSecs} s (--timeout)`);
      process.exitCode = EXIT.OK;
    } else if (r.signal) {
      console.error(`[qemu] ${describeEnd(r.status, r.signal)}`);
      process.exitCode = signalStatus(r.signal);
    } else {
      console.error(`[qemu] QEMU ended with ${describeEnd(r.status, r.signal)}`);
      process.exitCode = EXIT.FAILED;
    }
  });

runProgram(program, process.argv.slice(2), io).then((code) => {
  if (code !== EXIT.OK) process.exitCode = code;
});
