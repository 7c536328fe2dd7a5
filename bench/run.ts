// `npm run bench [-- AREA...]`: runs every bench/<area>/run.ts (or the ones
// named) one after another, so their figures are measured on a quiet machine
// and each prints its own figures and ratios.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const flags = process.argv.slice(2).filter((a) => a.startsWith("-"));
const areas = readdirSync(here, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(here, d.name, "run.ts")))
  .map((d) => d.name)
  .filter((a) => wanted.length === 0 || wanted.includes(a))
  .sort();
if (areas.length === 0) {
  console.error(`no benchmark matches ${wanted.join(" ")}`);
  process.exit(1);
}
let status = 0;
for (const area of areas) {
  console.log(`\n=== bench/${area} ===`);
  const r = spawnSync("npx", ["tsx", join(here, area, "run.ts"), ...flags], { stdio: "inherit" });
  if (r.status !== 0) status = 1;
}
process.exit(status);
