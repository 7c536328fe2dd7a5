// `npm run qemu [-- OPTIONS] [KERNEL OPTIONS...]`: boots build/typevisor.elf in QEMU.
//   default     TCG with an AMD CPU that has SVM + NPT (QEMU emulates no VT-x)
//   --kvm       KVM with the host CPU (no nested virtualization here: a plain boot)
//   --iso       boot build/typevisor.iso through GRUB instead of -kernel
//   --cpu M     another CPU model;  -m MiB  memory (default 256)
//   --timeout S stop after S seconds, exit status 0 (default: run until the monitor exits)
//   --nic LOCAL:REMOTE[:modern|legacy]  a virtio-net-pci NIC on UDP 127.0.0.1 (repeatable; uplink0, 1, ...)
//   --virtio-console  a virtconsole on build/vcon.sock: a second management channel (docs/DRIVERS.md)
// Kernel options default to `demo`. COM1 is this terminal; COM2 (the
// management channel) is the unix socket build/com2.sock. Exit status: 0 when
// the monitor shut down cleanly (isa-debug-exit 0x10), 1 after a panic.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { QEMU_BIN, QEMU_STATUS_FAILURE, QEMU_STATUS_SUCCESS, hasKvm, nicArgs, qemuArgs, requireTool, root, virtioConsoleArgs, type DgramNic } from "./lib/emulators.ts";

const args = process.argv.slice(2);
const kernelOpts: string[] = [];
let kvm = false;
let iso = false;
let cpu: string | undefined;
let mem = 256;
let timeoutSecs = 0;
const nics: DgramNic[] = [];
let vcon = false;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === "--kvm") kvm = true;
  else if (a === "--tcg") kvm = false;
  else if (a === "--iso") iso = true;
  else if (a === "--cpu") cpu = args[++i];
  else if (a === "-m") mem = Number(args[++i]);
  else if (a === "--timeout") timeoutSecs = Number(args[++i]);
  else if (a === "--nic") {
    const [local, remote, mode] = (args[++i] ?? "").split(":");
    if (!Number(local) || !Number(remote) || (mode && mode !== "modern" && mode !== "legacy")) {
      console.error("run-qemu: --nic LOCAL:REMOTE[:modern|legacy] (UDP ports on 127.0.0.1)");
      process.exit(2);
    }
    nics.push({ local: Number(local), remote: Number(remote), mode: mode as DgramNic["mode"] });
  } else if (a === "--virtio-console") vcon = true;
  else kernelOpts.push(a);
}
requireTool(QEMU_BIN, "qemu-system-x86");
if (kvm && !hasKvm()) {
  console.error("run-qemu: /dev/kvm is not available; drop --kvm to use TCG");
  process.exit(2);
}
const elf = join(root, "build/typevisor.elf");
const isoPath = join(root, "build/typevisor.iso");
if (!existsSync(iso ? isoPath : elf)) {
  console.error(`run-qemu: ${iso ? isoPath : elf} is missing: run npm run build`);
  process.exit(2);
}
mkdirSync(join(root, "build"), { recursive: true });
const sock = join(root, "build/com2.sock");
rmSync(sock, { force: true });
const vconSock = join(root, "build/vcon.sock");
if (vcon) rmSync(vconSock, { force: true });
const qa = qemuArgs({
  accel: kvm ? "kvm" : "tcg", cpu, memoryMiB: mem, iso: iso ? isoPath : undefined, kernel: elf,
  cmdline: (kernelOpts.length ? kernelOpts : ["demo"]).join(" "), com2Socket: sock,
  extraArgs: [...nicArgs(nics), ...(vcon ? virtioConsoleArgs(vconSock) : [])],
});
console.error(`[qemu] ${QEMU_BIN} ${qa.join(" ")}`);
console.error(`[qemu] COM2 (management channel): ${sock}`);
if (vcon) console.error(`[qemu] virtio-console (management channel): ${vconSock}`);
const cmd = timeoutSecs > 0 ? "timeout" : QEMU_BIN;
const cmdArgs = timeoutSecs > 0 ? ["-k", "3", String(timeoutSecs), QEMU_BIN, ...qa] : qa;
const r = spawnSync(cmd, cmdArgs, { stdio: "inherit", cwd: root });
rmSync(sock, { force: true });
if (r.status === QEMU_STATUS_SUCCESS) process.exit(0);
if (r.status === QEMU_STATUS_FAILURE) {
  console.error("[qemu] the monitor panicked (isa-debug-exit 0x11)");
  process.exit(1);
}
// timeout(1) exits 124 when the time ran out: that is the stop the user asked for, not a failure.
if (timeoutSecs > 0 && r.status === 124) {
  console.error(`[qemu] stopped after ${timeoutSecs} s (--timeout)`);
  process.exit(0);
}
console.error(`[qemu] exit status ${r.status}`);
process.exit(r.status ?? 1);
