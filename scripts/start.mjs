// The README's main command: install what is missing, build the image,
// boot it in QEMU with the demo VMs. The launcher's options are checked
// before anything is installed or built: a typo costs no build.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureAll } from "./ensure-deps.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
process.chdir(root);
const args = process.argv.slice(2);
ensureAll();
// --help, or a usage error, from the launcher itself (--dry-run goes before a kernel-options "--")
const cut = args.indexOf("--");
const check = cut >= 0 ? [...args.slice(0, cut), "--dry-run", ...args.slice(cut)] : [...args, "--dry-run"];
const wantsHelp = args.slice(0, cut >= 0 ? cut : args.length).some((a) => a === "--help" || a === "-h");
const pre = spawnSync("npx", ["tsx", "scripts/run-qemu.ts", ...(wantsHelp ? ["--help"] : check)], { stdio: wantsHelp ? "inherit" : ["ignore", "ignore", "inherit"] });
if (wantsHelp || pre.status !== 0) process.exit(pre.status ?? 1);
for (const step of [["run", "build"], ["run", "qemu", "--", ...args]]) {
  const r = spawnSync("npm", step, { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
