// `npm run bench -- linux`: launch to the guest's init (its first TYPEVISOR-INIT-OK line) of Debian's cloud
// kernel with the project's initramfs, under Typevisor in QEMU TCG (AMD-V) and under plain QEMU TCG with no
// firmware (-kernel/-initrd), one after the other (two TCG QEMUs at once each take about twice as long);
// then the ratio and the Linux VM's exits during boot by reason (vm.list over COM2).
import { spawn, spawnSync } from "node:child_process";
import { connect } from "node:net";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { QEMU_BIN, qemuArgs, root } from "../../scripts/lib/emulators.ts";

const MARK = "TYPEVISOR-INIT-OK";
const KERNEL = join(root, "build/linux/bzImage");
const INITRD = join(root, "build/linux/initramfs.cpio.gz");
const ELF = join(root, "build/typevisor.elf");

/** Runs QEMU until `MARK` shows on COM1; returns the seconds from launch, and the child (still running). */
function timeToInit(args: string[], limitS: number): Promise<{ secs: number; stop: () => void }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const q = spawn(QEMU_BIN, args, { stdio: ["ignore", "pipe", "pipe"], cwd: root });
    let out = "";
    const timer = setTimeout(() => {
      q.kill("SIGKILL");
      reject(new Error(`no ${MARK} within ${limitS} s:\n${out.slice(-2000)}`));
    }, limitS * 1000);
    q.stdout.on("data", (d: Buffer) => {
      out += d.toString("latin1");
      if (out.includes(MARK)) {
        clearTimeout(timer);
        const secs = Number(process.hrtime.bigint() - t0) / 1e9;
        resolve({ secs, stop: () => q.kill("SIGKILL") });
      }
    });
    q.on("close", () => clearTimeout(timer));
  });
}

async function rpc(sock: string, method: string): Promise<any> {
  return new Promise((resolve, reject) => {
    const c = connect(sock, () => c.write(JSON.stringify({ jsonrpc: "2.0", id: 1, method }) + "\n"));
    let buf = "";
    c.on("data", (d) => {
      buf += d.toString();
      const i = buf.indexOf("\n");
      if (i >= 0) {
        c.end();
        resolve(JSON.parse(buf.slice(0, i)).result);
      }
    });
    c.on("error", reject);
  });
}

async function main(): Promise<void> {
  if (spawnSync("npx", ["tsx", "scripts/guest-linux.ts"], { stdio: "inherit", cwd: root }).status !== 0) process.exit(1);
  if (!existsSync(ELF) && spawnSync("npm", ["run", "build"], { stdio: "inherit", cwd: root }).status !== 0) process.exit(1);
  const cmdline = "console=ttyS0 quiet";
  const plain = ["-accel", "tcg", "-cpu", "EPYC", "-m", "256", "-display", "none", "-monitor", "none", "-nodefaults", "-no-reboot",
    "-serial", "stdio", "-kernel", KERNEL, "-initrd", INITRD, "-append", cmdline];
  const sock = join(root, "build/bench-linux-com2.sock");
  rmSync(sock, { force: true });
  const tv = qemuArgs({ kernel: ELF, cmdline: "loglevel=warn", cpu: "EPYC,+svm,+npt", memoryMiB: 1024, com2Socket: sock,
    extraArgs: ["-initrd", `${KERNEL} name=lin1 mem=256M -- ${cmdline},${INITRD} initrd=lin1`] });
  const a = await timeToInit(plain, 300);
  a.stop();
  const b = await timeToInit(tv, 600);
  const vms = await rpc(sock, "vm.list");
  b.stop();
  const lin = vms.find((v: any) => v.name === "lin1");
  console.log(`linux: launch to init, plain QEMU TCG (-kernel, no firmware): ${a.secs.toFixed(2)} s`);
  console.log(`linux: launch to init, Typevisor in QEMU TCG (AMD-V):          ${b.secs.toFixed(2)} s`);
  console.log(`linux: ratio ${(b.secs / a.secs).toFixed(2)}x (target <= 1.5x, goal 1.1x)`);
  const exits = Object.entries(lin.exits as Record<string, number>).filter(([k]) => k !== "total").sort((x, y) => y[1] - x[1]);
  console.log(`linux: VM exits until init: ${lin.exits.total}; by reason: ${exits.filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(", ")}`);
}

main().catch((e) => {
  console.error(`bench linux: ${(e as Error).message}`);
  process.exit(1);
});
