// Builds test/drivers/entry.ts (the drivers' pure parts) for Node once per source hash and instantiates it.
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { buildEntry, root } from "../lib/as-build";
export { root };

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function loadDrivers(): Promise<any> {
  // everything entry.ts can reach (the drivers, the switch, the management server, ...): a change rebuilds
  const wasm = await buildEntry("drivers-test", "test/drivers/entry.ts", ["src", "test/drivers"]);
  return await import(pathToFileURL(join(dirname(wasm), "m.js")).href);
}
