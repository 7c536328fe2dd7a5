// The virtqueues, virtio-net and its PCI transport build for the monitor: asc --target baremetal (as scripts/build-image.ts) and the project's AOT accept them, with no floating point.
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";
import { root } from "../../virtio/harness";
import { ascFlags } from "../../../scripts/build-image";
import { compileToAsm } from "../../../scripts/aot/index";

test("compiles with the monitor's asc flags, contains no f32/f64, and the AOT compiles it", async () => {
  const dir = join(root, "build/virtio-baremetal");
  mkdirSync(dir, { recursive: true });
  const wasm = join(dir, "virtio.wasm");
  const wat = join(dir, "virtio.wat");
  const asc = (await import("assemblyscript/asc")).default;
  let err = "";
  const { error } = await asc.main(
    // src/hw/abort.ts is the abort handler the flags name (main.ts pulls it in the same way); the code under test imports nothing from src/hw.
    ["test/devices/virtio-net/baremetal-entry.ts", "src/hw/abort.ts", ...ascFlags("src"), "--outFile", wasm, "--textFile", wat],
    { stderr: { write: (s: string | Uint8Array) => ((err += String(s)), true) } as never },
  );
  expect(error, err).toBeFalsy();
  const text = readFileSync(wat, "utf8");
  // The code is really in it (not dead-code eliminated).
  for (const f of ["DeviceQueue#walk", "DriverQueue#reap", "VirtioNet#transmit", "VirtioNet#receive", "VirtioPci#commonWrite", "VirtioDevice#failQueue"]) {
    expect(text, f).toMatch(new RegExp(`func \\$[^ ]*${f}`));
  }
  expect(text.split("\n").filter((l) => /\bf(32|64)\b/.test(l)).slice(0, 5)).toEqual([]);
  const { functions } = compileToAsm(new Uint8Array(readFileSync(wasm)), { target: "baremetal" });
  expect(functions).toBeGreaterThan(50);
}, 600_000);
