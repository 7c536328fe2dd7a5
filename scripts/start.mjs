// The README's main command: install what is missing, build the image, fetch
// the guest kernel (Debian's cloud kernel, cached in build/linux), and boot
// Typevisor in QEMU with two Linux VMs, lin1 (10.0.0.1) and lin2 (10.0.0.2),
// on the built-in switch. `--demo` boots the test guests instead (the old
// demo). The launcher's options are checked before anything is built: a typo
// costs no build. Other options go to scripts/run-qemu.ts.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureAll } from "./ensure-deps.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
process.chdir(root);
const args = process.argv.slice(2);
const demo = args.slice(0, args.includes("--") ? args.indexOf("--") : args.length).includes("--demo"); // run-qemu takes it too
ensureAll();

/** `tv.run=` words of the guest initramfs (scripts/guest-linux.ts): spaces as %20. */
const run = (cmd) => `tv.run=${cmd.replace(/%/g, "%25").replace(/ /g, "%20").replace(/,/g, "%2C")}`;
const linuxVm = (name, ip) =>
  [`build/linux/bzImage name=${name} mem=192M -- console=ttyS0 quiet ${run(`ip addr add ${ip}/24 dev eth0`)}`,
    `build/linux/initramfs.cpio.gz initrd=${name}`];
const linux = demo ? [] : ["--cpu", "EPYC,+svm,+npt", "-m", "1024", "--initrd", [...linuxVm("lin1", "10.0.0.1"), ...linuxVm("lin2", "10.0.0.2")].join(",")];
const cut = args.indexOf("--");
const opts = cut >= 0 ? args.slice(0, cut) : args;
const kernel = cut >= 0 ? args.slice(cut) : demo ? [] : ["--", "loglevel=info"];
const launcher = [...linux, ...opts, ...kernel];

// --help, or a usage error, from the launcher itself (--dry-run goes before the kernel options' "--")
const k = launcher.indexOf("--");
const check = k >= 0 ? [...launcher.slice(0, k), "--dry-run", ...launcher.slice(k)] : [...launcher, "--dry-run"];
const wantsHelp = opts.some((a) => a === "--help" || a === "-h");
const pre = spawnSync("npx", ["tsx", "scripts/run-qemu.ts", ...(wantsHelp ? ["--help"] : check)], { stdio: wantsHelp ? "inherit" : ["ignore", "ignore", "inherit"] });
if (wantsHelp) console.log("\nnpm start also takes --demo: the test guests (print-1, print-2, hostile) instead of two Linux VMs.");
if (wantsHelp || pre.status !== 0) process.exit(pre.status ?? 1);
const steps = [["run", "build"]];
if (!demo) steps.push(["exec", "--", "tsx", "scripts/guest-linux.ts"]);
for (const step of steps) {
  const r = spawnSync("npm", step, { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
if (!demo) {
  console.error(
    "[start] two Linux VMs, lin1 (10.0.0.1) and lin2 (10.0.0.2), on the switch. From another terminal:\n" +
      "[start]   bin/tvctl --mgmt build/com2.sock vm list\n" +
      "[start]   bin/tvctl --mgmt build/com2.sock vm console lin1 --follow     (type: ping -c 3 10.0.0.2; Ctrl-] leaves)\n" +
      "[start]   bin/tvctl --mgmt build/com2.sock stats lin1",
  );
}
const r = spawnSync("npm", ["run", "qemu", "--", ...launcher], { stdio: "inherit" });
process.exit(r.status ?? 1);
