// Guests given as multiboot modules (QEMU -initrd, multiboot 1 mods_*): one
// VM per module, named and parameterised by the module string, with no
// `demo`. QEMU TCG with SVM + NPT (EMULATORS.md).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildVmmImage, interleaved, QemuSession, vmLines, vmmGuest } from "./helpers";

const CPU = "qemu64,+svm,+npt";

describe("VMs from multiboot modules (QEMU TCG, AMD-V)", () => {
  const sessions: QemuSession[] = [];
  let print = "";
  let hostile = "";

  beforeAll(async () => {
    await buildVmmImage();
    print = await vmmGuest("print");
    hostile = await vmmGuest("hostile");
  });
  afterAll(() => {
    for (const q of sessions) q.stop();
  });

  it("two print guests and the hostile guest as modules: interleaved output, hostile stopped", async () => {
    const q = new QemuSession("loglevel=info", {
      cpu: CPU,
      initrd: `${print} name=vmA param=1,${print} name=vmB param=2 mem=2M,${hostile} name=evil param=1`,
    });
    sessions.push(q);
    await q.waitFor(/\[vmA\] done, halting/, 180_000);
    await q.waitFor(/\[vmB\] done, halting/, 180_000);
    await q.waitFor(/VM evil stopped: .*/, 180_000);
    // one boot-stage line per module, then one VM each
    expect(q.serial).toMatch(/\[boot\] module 0: 0x[0-9a-f]+-0x[0-9a-f]+ ".*print\.bin name=vmA param=1" \(\d+ bytes\), reserved/);
    expect(q.serial).toMatch(/\[boot\] module 1: .*name=vmB param=2 mem=2M" \(\d+ bytes\), reserved/);
    expect(q.serial).toMatch(/\[boot\] module 2: .*hostile\.bin name=evil param=1" \(\d+ bytes\), reserved/);
    expect(q.serial).toMatch(/VM vmB: 2 MiB RAM/);
    expect(q.serial).not.toMatch(/VM print-1 started/); // no demo
    const a = vmLines(q.serial, "vmA");
    const b = vmLines(q.serial, "vmB");
    for (let i = 0; i < 12; i++) {
      expect(a).toContain(`guest 1 line ${i}`);
      expect(b).toContain(`guest 2 line ${i}`);
    }
    expect(interleaved(q.serial, "vmA", "vmB")).toBe(true);
    // param=1: the hostile guest writes vmA's host-physical RAM (given in RCX)
    const vmAPa = q.serial.match(/VM vmA: 1 MiB RAM at host (0x[0-9a-f]+)/)![1];
    expect(q.serial).toMatch(new RegExp(`VM evil stopped: guest-physical access outside RAM at ${vmAPa} \\(write\\)`));
    expect(q.serial).not.toMatch(/ESCAPED|PANIC/);
  });

  it("a module with a bad or duplicate name is refused; the others run", async () => {
    const q = new QemuSession("loglevel=info", {
      cpu: CPU,
      initrd: `${print} name=bad/name param=1,${print} name=good param=2,${print} name=good param=3,` +
        `${print} name=this-name-is-longer-than-32-chars param=4,${print} name=tiny mem=4K`,
    });
    sessions.push(q);
    await q.waitFor(/\[good\] done, halting/, 180_000);
    expect(q.serial).toMatch(/module 0: skipped: bad name "bad\/name"/);
    expect(q.serial).toMatch(/module 2: skipped: duplicate name good/);
    expect(q.serial).toMatch(/module 3: skipped: bad name "this-name-is-longer-than-32-chars"/);
    expect(q.serial).toMatch(/module 4: skipped: bad mem=4K/);
    expect(vmLines(q.serial, "good")).toContain("guest 2 line 11");
    expect(q.serial).not.toMatch(/PANIC/);
  });
});
