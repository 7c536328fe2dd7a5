// The device models, decoder and Linux loader build for the monitor: asc --target baremetal (as scripts/build-image.ts) and the project's AOT accept them, with no floating point anywhere.
import { describe, expect, it } from "vitest";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { root } from "./harness";
import { ascFlags } from "../../scripts/build-image";
import { compileToAsm } from "../../scripts/aot/index";

describe("baremetal build", () => {
  it("compiles with the monitor's asc flags, contains no f32/f64, and the AOT compiles it", async () => {
    const dir = join(root, "build/as-test/baremetal");
    mkdirSync(dir, { recursive: true });
    const wasm = join(dir, "devices.wasm");
    const wat = join(dir, "devices.wat");
    const asc = (await import("assemblyscript/asc")).default;
    let err = "";
    const { error } = await asc.main(
      // src/hw/abort.ts is the abort handler the flags name (main.ts pulls it in the same way); the models themselves import nothing from src/hw.
      ["test/devices/baremetal-entry.ts", "src/hw/abort.ts", ...ascFlags("src"), "--outFile", wasm, "--textFile", wat],
      { stderr: { write: (s: string | Uint8Array) => ((err += String(s)), true) } as never },
    );
    expect(error, err).toBeFalsy();
    const text = readFileSync(wat, "utf8");
    // The models are really in it (not dead-code eliminated; small callers such as emulateMmio may be inlined).
    for (const f of ["Lapic#regWrite", "Ioapic#service", "Uart16550#write", "PciHost#route", "MsixTable#deliver", "decodeMmio", "buildAcpi", "setupLinux", "mulDiv", "GuestPlatform#mmioAccess"]) {
      expect(text, f).toMatch(new RegExp(`func \\$[^ ]*${f}`));
    }
    const floats = text.split("\n").filter((l) => /\bf(32|64)\b/.test(l));
    expect(floats.slice(0, 5)).toEqual([]);
    const { functions } = compileToAsm(new Uint8Array(readFileSync(wasm)), { target: "baremetal" });
    expect(functions).toBeGreaterThan(50);
  });
});
