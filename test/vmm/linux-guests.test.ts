// Linux guests under Typevisor (issues 11 and 12) on QEMU TCG (AMD-V with NPT): Debian's stock cloud kernel
// with the project's initramfs (scripts/guest-linux.ts) boots to its init in two VMs beside a test guest,
// runs the commands on its command line, keeps time, and the two ping each other through the switch. Bad
// modules each get one skip line and the others still start. The console is also read through vm.console.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildVmmImage, guestMaterial, QemuSession, Rpc } from "./helpers";
import { root } from "../../scripts/lib/emulators";

const KERNEL = "build/linux/bzImage";
const INITRD = "build/linux/initramfs.cpio.gz";
const NOT_LINUX = "build/vmm/not-a-kernel.bin";


/** `tv.run=` words (scripts/guest-linux.ts): spaces as %20. */
const run = (cmd: string) => `tv.run=${cmd.replace(/%/g, "%25").replace(/ /g, "%20").replace(/,/g, "%2C")}`;

const LIN1 = [
  "console=ttyS0", "quiet",
  run("uname -r"),
  run("grep -o hypervisor /proc/cpuinfo | head -n 1"),
  run("ip addr add 10.0.0.1/24 dev eth0"),
  // three timed sleeps: a loaded host can only delay a console line, so the shortest measurement is the
  // one least disturbed by the machine's other work
  run("echo SLEEP-START-1; sleep 10; echo SLEEP-END-1"),
  run("echo SLEEP-START-2; sleep 10; echo SLEEP-END-2"),
  run("echo SLEEP-START-3; sleep 10; echo SLEEP-END-3"),
  // after 30 s of watchdog rounds the guest still keeps time with the TSC (tsc=reliable: no fallback to jiffies)
  run("echo CLOCKSOURCE=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"),
  run("ping -c 3 10.0.0.2"),
].join(" ");
const LIN2 = ["console=ttyS0", "quiet", run("ip addr add 10.0.0.2/24 dev eth0"), run("sleep 600")].join(" ");

describe("Linux guests on QEMU TCG (AMD-V, NPT)", () => {
  let q: QemuSession;
  let rpc: Rpc;
  const seen = new Map<string, number>(); // console line -> host time it was first seen

  beforeAll(async () => {
    await guestMaterial();
    await buildVmmImage();
    writeFileSync(join(root, NOT_LINUX), Buffer.alloc(4096, 0x90));
    const modules = [
      `${KERNEL} name=lin1 mem=192M -- ${LIN1}`,
      `${INITRD} initrd=lin1`,
      `${KERNEL} name=lin2 mem=192M -- ${LIN2}`,
      `${INITRD} initrd=lin2`,
      `${NOT_LINUX} name=notlinux mem=64M -- console=ttyS0`,
      `${INITRD} initrd=ghost`,
      `${KERNEL} name=huge mem=8G`,
    ].join(",");
    q = new QemuSession("start=print-1", { cpu: "EPYC,+svm,+npt", initrd: modules, timeoutS: 600, memoryMiB: 1024 });
    rpc = await Rpc.open(q.socketPath);
    const timer = setInterval(() => {
      for (const l of q.serial.split("\n")) if (!seen.has(l)) seen.set(l, Date.now());
    }, 50);
    q.child.on("close", () => clearInterval(timer));
  }, 900_000);
  afterAll(() => {
    rpc?.close();
    q?.stop();
  });

  it("skips each bad module with one line and starts the others", async () => {
    await q.waitFor(/\[vmm\] main loop/, 120_000);
    expect(q.serial).toMatch(/\[vmm\] WARNING: module 4: skipped: not a Linux bzImage/);
    expect(q.serial).toMatch(/\[vmm\] WARNING: module 5: skipped: initrd for an unknown VM ghost/);
    expect(q.serial).toMatch(/\[vmm\] WARNING: module 6: skipped: bad mem=8G/);
    expect(q.serial).toMatch(/\[vmm\] VM lin1 started/);
    expect(q.serial).toMatch(/\[vmm\] VM lin2 started/);
    expect(q.serial).toMatch(/\[vmm\] VM print-1 started/);
  }, 200_000);

  it("boots the stock kernel to its init and runs the commands of its command line", async () => {
    await q.waitFor(/\[lin1\] TYPEVISOR-INIT-OK/, 400_000);
    await q.waitFor(/\[lin1\] TV-RUN-EXIT: \d+\n[\s\S]*\[lin1\] TV-RUN: grep[\s\S]*\[lin1\] TV-RUN-EXIT/, 120_000);
    expect(q.serial).toMatch(/\[lin1\] \d+\.\d+\.\d+-\d+-cloud-amd64/); // uname -r
    expect(q.serial).toMatch(/\[lin1\] hypervisor\n/); // the CPUID hypervisor bit shows in /proc/cpuinfo
    expect(q.serial).toMatch(/\[print-1\] guest 1 line 3/); // the test guest ran beside it
  }, 600_000);

  it("keeps wall-clock time: sleep 10 lasts 10 s within 5%", async () => {
    await q.waitFor(/\[lin1\] SLEEP-END-3/, 300_000);
    await new Promise((r) => setTimeout(r, 200));
    const secs: number[] = [];
    for (const i of [1, 2, 3]) {
      const start = seen.get(`[lin1] SLEEP-START-${i}`);
      const end = seen.get(`[lin1] SLEEP-END-${i}`);
      expect(start).toBeDefined();
      expect(end).toBeDefined();
      secs.push((end! - start!) / 1000);
    }
    await q.waitFor(/\[lin1\] CLOCKSOURCE=\S+/, 60_000);
    expect(q.serial).toMatch(/\[lin1\] CLOCKSOURCE=tsc\n/);
    console.log(`sleep 10 in lin1 took ${secs.map((x) => x.toFixed(2)).join(", ")} s of wall-clock time`);
    const best = Math.min(...secs);
    expect(best).toBeGreaterThan(9.5); // never shorter: the guest's clock does not run fast
    expect(best).toBeLessThan(10.5);
  }, 400_000);

  it("the two Linux VMs ping each other through the switch", async () => {
    await q.waitFor(/\[lin1\] \d+ packets transmitted, \d+ packets received/, 200_000);
    expect(q.serial).toMatch(/\[lin1\] 3 packets transmitted, 3 packets received, 0% packet loss/);
    const ports = await rpc.call("port.list");
    const lin1 = ports.find((p: any) => p.name === "lin1");
    expect(lin1.kind).toBe("vm");
    expect(lin1.mac).toMatch(/^02:74:76:00:00:[0-9a-f]{2}$/);
    expect(lin1.stats.rx_packets).toBeGreaterThanOrEqual(3);
    const vms = await rpc.call("vm.list");
    expect(vms.find((v: any) => v.name === "lin2").ports).toEqual(["lin2"]);
  }, 300_000);

  it("vm.console returns the lines, vm.console_write types into the guest's shell", async () => {
    const c = await rpc.call("vm.console", { name: "lin1" });
    expect(c.seq).toBeGreaterThan(3);
    expect(c.lines).toContain("TYPEVISOR-INIT-OK");
    const after = await rpc.call("vm.console", { name: "lin1", since: c.seq });
    expect(after.lines.length).toBeLessThanOrEqual(after.seq - c.seq);
    await q.waitFor(/\[lin2\] TV-RUN: sleep 600/, 200_000);
    // lin1's init ends its commands in a shell on ttyS0
    await q.waitFor(/\[lin1\] Enter 'help' for a list of built-in commands/, 200_000);
    const w = await rpc.call("vm.console_write", { name: "lin1", data: "echo typed-$((6*7))\n" });
    expect(w.written).toBe(20);
    await q.waitFor(/\[lin1\] typed-42/, 60_000);
    const tail = await rpc.call("vm.console", { name: "lin1", since: c.seq });
    expect(tail.lines).toContain("typed-42");
    const err = await rpc.call("vm.console", { name: "nosuch" }).catch((e: Error) => e);
    expect(String(err)).toMatch(/VM not found/);
  }, 300_000);
});
