// `npm run bench -- linux`: launch to the guest's init (its first TYPEVISOR-INIT-OK line) of Debian's cloud
// kernel with the project's initramfs, under Typevisor in QEMU TCG (AMD-V) and under plain QEMU TCG with no
// firmware (-kernel/-initrd), one after the other (two TCG QEMUs at once each take about twice as long);
// then the ratio and the Linux VM's exits during boot by reason (vm.list over COM2). `--baseline-elf=PATH` also
// times another Typevisor image (e.g. a build of an older commit) in the same run, so that a before/after
// comparison is made under the same load.
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
  const baseline = process.argv.slice(2).find((a) => a.startsWith("--baseline-elf="))?.slice("--baseline-elf=".length);
  if (baseline !== undefined && !existsSync(baseline)) throw new Error(`--baseline-elf: no file ${baseline}`);
  const tvArgs = (elf: string): string[] => qemuArgs({ kernel: elf, cmdline: "loglevel=warn", cpu: "EPYC,+svm,+npt", memoryMiB: 1024,
    com2Socket: sock, extraArgs: ["-initrd", `${KERNEL} name=lin1 mem=256M -- ${cmdline},${INITRD} initrd=lin1`] });
  /** Launch to init under one image, and the VM's exits then. */
  const underTv = async (elf: string): Promise<{ secs: number; exits: Record<string, number> }> => {
    rmSync(sock, { force: true });
    const b = await timeToInit(tvArgs(elf), 600);
    const vms = await rpc(sock, "vm.list");
    b.stop();
    return { secs: b.secs, exits: vms.find((v: any) => v.name === "lin1").exits };
  };
  const exitLine = (e: Record<string, number>): string => {
    const by = Object.entries(e).filter(([k, n]) => k !== "total" && n > 0).sort((x, y) => y[1] - x[1]);
    return `${e.total}; by reason: ${by.map(([k, n]) => `${k} ${n}`).join(", ")}`;
  };
  const a = await timeToInit(plain, 300);
  a.stop();
  const b = await underTv(ELF);
  const base = baseline !== undefined ? await underTv(baseline) : null;
  console.log(`linux: launch to init, plain QEMU TCG (-kernel/-initrd):       ${a.secs.toFixed(2)} s`);
  console.log(`linux: launch to init, Typevisor in QEMU TCG (AMD-V):          ${b.secs.toFixed(2)} s`);
  console.log(`linux: ratio ${(b.secs / a.secs).toFixed(2)}x (target <= 1.5x, goal 1.1x)`);
  console.log(`linux: VM exits until init: ${exitLine(b.exits)}`);
  if (base) {
    console.log(`linux: baseline ${baseline}: ${base.secs.toFixed(2)} s, ratio ${(base.secs / a.secs).toFixed(2)}x`);
    console.log(`linux: baseline VM exits until init: ${exitLine(base.exits)}`);
  }
}

main().catch((e) => {
  console.error(`bench linux: ${(e as Error).message}`);
  process.exit(1);
});
