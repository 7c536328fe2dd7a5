// The README's main command: install what is missing, build the image,
// boot it in QEMU with the demo VMs.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureAll } from "./ensure-deps.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
process.chdir(root);
ensureAll();
for (const step of [["run", "build"], ["run", "qemu", "--", ...process.argv.slice(2)]]) {
  const r = spawnSync("npm", step, { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
