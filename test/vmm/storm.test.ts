// Exceptions a guest raises on purpose (issue 14), on Bochs VT-x and AMD-V (QEMU 7.2 itself can abort on a
// guest's #DB storm, EMULATORS.md): 20,000 single-step #DB traps, each intercepted and reflected (the
// delivery-loop pattern of CVE-2015-8104 cannot keep the CPU), RDPMC and a reserved CR4 bit each #GP in the
// guest, and a test guest beside it runs to its end.
import { describe, expect, it } from "vitest";
import { runBochs } from "../../scripts/lib/emulators";
import { buildVmmImage, isoWith } from "./helpers";
import { needHost, probeBochs } from "./host-caps";

describe("exception storms and privileged instructions stay in the guest", () => {
  it.for([["corei7_skylake_x"], ["ryzen"]])("Bochs %s", { timeout: 400_000 }, async ([cpu], ctx) => {
    await needHost(ctx, probeBochs(cpu)); // a host whose Bochs cannot run is a skip with its reason
    await buildVmmImage();
    const iso = await isoWith("start=storm,print-1");
    const done = /(?=[\s\S]*(?:storm done|VM storm stopped))(?=[\s\S]*\[print-1\] done)/;
    const r = await runBochs({ iso, cpu, until: done, timeoutMs: 300_000, workDir: `build/vmm/bochs-storm-${cpu}` });
    expect(r.serial).not.toMatch(/VM storm stopped/);
    const m = /\[storm\] storm db=(\d+) gp=(\d+)/.exec(r.serial);
    expect(m, r.serial.slice(-2000)).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThanOrEqual(20000); // every single-step trap reached the guest's handler
    expect(Number(m![2])).toBe(2); // RDPMC and the reserved CR4 bit
    expect(r.serial).toMatch(/\[print-1\] done, halting/);
  });
});
