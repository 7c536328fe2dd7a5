// Per-VM CPU state and exact next RIP (issue 14). Two `isolate` guests load their own x87 control word and st0, MXCSR, XMM0,
// DR0, DR3 and IA32_KERNEL_GS_BASE and check them forever; after many time slices neither may see the
// other's values. QEMU TCG (AMD-V, FXSAVE path: qemu64 has no XSAVE), QEMU TCG with EPYC (XSAVE), Bochs
// VT-x (skylake: XSAVE, KERNEL_GS_BASE in the real MSR) and Bochs AMD-V (ryzen). Beside them the `prefixes`
// guest runs CPUID, RDMSR, WRMSR, IN/OUT and INVD with legacy prefixes and prints "prefixes N ok" after
// each: a wrong next RIP (fixed lengths without NRIPS, or a length added before the NRIPS one) breaks it.
const CMDLINE = "start=isolate-1,isolate-2,prefixes";
const PREFIX_OKS = Array.from({ length: 10 }, (_, i) => `[prefixes] prefixes ${i + 1} ok`);
import { describe, expect, it } from "vitest";
import { runBochs } from "../../scripts/lib/emulators";
import { buildVmmImage, isoWith, QemuSession } from "./helpers";

/** Stops the run once the console has switched between the guests four times (five alternating runs of lines,
 * each switch at least one VM switch), or at the first LEAK. */
const FOUR_SWITCHES = /(?:\[isolate-1\] isolate[\s\S]*?\[isolate-2\] isolate[\s\S]*?){2}\[isolate-1\] isolate|(?:\[isolate-2\] isolate[\s\S]*?\[isolate-1\] isolate[\s\S]*?){2}\[isolate-2\] isolate|LEAK/;

/** How often the console switches between the two guests' lines: each switch is at least one VM switch. */
function switches(serial: string): number {
  let last = "";
  let n = 0;
  for (const l of serial.split("\n")) {
    const m = /^\[(isolate-[12])\] isolate/.exec(l);
    if (!m) continue;
    if (last && m[1] !== last) n++;
    last = m[1];
  }
  return n;
}

function check(serial: string): void {
  expect(serial, serial.split("\n").filter((l) => /LEAK|stopped|halted/.test(l)).join("\n")).not.toMatch(/LEAK/);
  expect(switches(serial)).toBeGreaterThanOrEqual(4);
  const lines = serial.split("\n");
  for (const ok of PREFIX_OKS) expect(lines).toContain(ok);
  expect(lines).toContain("[prefixes] prefixes done");
  expect(serial).not.toMatch(/VM prefixes stopped/);
}

/** Both checks can be judged: four switches (or a leak) and the prefixes guest finished (or stopped). */
const DONE = new RegExp(`(?=[\\s\\S]*(?:${FOUR_SWITCHES.source}))(?=[\\s\\S]*(?:prefixes done|VM prefixes stopped))|LEAK`);

describe("VMs never see each other's x87/SSE/debug registers or KERNEL_GS_BASE; prefixed exits resume right", () => {
  it.each([["qemu64,+svm,+npt"], ["EPYC,+svm,+npt"]])("QEMU TCG %s", async (cpu) => {
    await buildVmmImage();
    const q = new QemuSession(CMDLINE, { cpu });
    try {
      await q.waitFor(DONE, 200_000);
      check(q.serial);
    } finally {
      q.stop();
    }
  }, 300_000);

  it.each([["corei7_skylake_x"], ["ryzen"]])("Bochs %s", async (cpu) => {
    await buildVmmImage();
    const iso = await isoWith(CMDLINE);
    const r = await runBochs({ iso, cpu, until: DONE, timeoutMs: 300_000, workDir: `build/vmm/bochs-isolate-${cpu}` });
    check(r.serial);
  }, 400_000);
});
