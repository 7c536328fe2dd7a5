// `npm run test:long` (vitest.long.config.ts; not part of `npm test`): Debian's stock cloud kernel with the
// project's initramfs boots to its init under Typevisor on Bochs, VT-x with EPT (corei7_skylake_x) and AMD-V
// with NPT (ryzen), and runs the commands of its command line. The same kernel and initramfs as test/vmm/linux-guests.test.ts (QEMU TCG,
// AMD-V), given to the monitor by GRUB as multiboot-2 modules. The console is not `quiet`: the kernel must
// boot without a warning or oops (a feature CPUID shows but the VM cannot use shows up there: INVPCID's
// #UD, an MSR access that faults). Takes minutes: Bochs runs about 15 million instructions per host second.
// Without Bochs the test fails and names the packages (never a silent pass).
import { afterAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import net from "node:net";
import { Writable } from "node:stream";
import { join } from "node:path";
import { makeIso } from "../../scripts/build-image";
import { requireTool, root, runBochs, BOCHS_BIN, type RunResult } from "../../scripts/lib/emulators";
import { buildVmmImage, guestMaterial, Rpc, vmLines, VMM_ELF } from "./helpers";

const KERNEL = join(root, "build/linux/bzImage");
const INITRD = join(root, "build/linux/initramfs.cpio.gz");

/** `tv.run=` words (scripts/guest-linux.ts): spaces as %20. */
const run = (cmd: string) => `tv.run=${cmd.replace(/%/g, "%25").replace(/ /g, "%20").replace(/,/g, "%2C")}`;
const CMDLINE = ["console=ttyS0", run("uname -r"), run("echo sum=$((6*7))")].join(" ");
const DONE = /\[lin1\] TV-RUN-EXIT: \d+\n[\s\S]*\[lin1\] TV-RUN-EXIT: \d+\n/;
const BUDGET_S = Number(process.env.TV_LONG_BUDGET_S ?? 1200);

const ALL_MODELS: [string, string, RegExp][] = [
  ["corei7_skylake_x", "VT-x", /\[vmm\] VT-x: EPT\+2M, unrestricted guest, VPID, preemption timer/],
  ["ryzen", "AMD-V", /\[vmm\] AMD-V: NPT\+2M, \d+ ASIDs, NRIPS/],
];
// Both by default; one of them with TV_LONG_MODELS=ryzen (or corei7_skylake_x) npm run test:long. ryzen (AMD-V)
// boots since CPUID hides MONITORX and OSVW and the AMD MSRs HWCR and NB_CFG answer (docs/MEASURED.md
// "Linux on Bochs").
const WANT = (process.env.TV_LONG_MODELS ?? "corei7_skylake_x,ryzen").split(",");
const MODELS = ALL_MODELS.filter(([cpu]) => WANT.includes(cpu));
if (MODELS.length !== WANT.length) throw new Error(`TV_LONG_MODELS: unknown model in ${WANT.join(",")} (known: ${ALL_MODELS.map((m) => m[0]).join(", ")})`);

/** A free TCP port on 127.0.0.1 for Bochs's COM2 socket server. */
function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => res(p));
    });
  });
}

/** Bochs's COM2 socket server holds the machine until a client connects: connect as soon as it listens. */
async function connectCom2(port: number, until: number): Promise<Rpc | null> {
  while (Date.now() < until) {
    const s = await new Promise<net.Socket | null>((res) => {
      const c = net.connect(port, "127.0.0.1", () => res(c));
      c.once("error", () => res(null));
    });
    if (s) return new Rpc(s);
    await new Promise((r) => setTimeout(r, 100));
  }
  return null;
}

describe.each(MODELS)("Linux on Bochs %s (%s)", (cpu, virt, banner) => {
  let rpc: Rpc | null = null;
  afterAll(() => rpc?.close());

  it("boots the stock kernel to its init, runs the commands of its command line, counts the exits", async () => {
    requireTool(BOCHS_BIN, "bochs bochsbios vgabios"); // throws with the packages to install
    await guestMaterial();
    await buildVmmImage();
    const iso = join(root, `build/vmm/linux-bochs-${cpu}.iso`);
    makeIso(VMM_ELF, iso, "", true, 0, 0, [
      { file: KERNEL, args: `name=lin1 mem=192M -- ${CMDLINE}` },
      { file: INITRD, args: "initrd=lin1" },
    ]);
    const port = await freePort();
    const started = Date.now();
    const pending = connectCom2(port, started + 60_000).then((c) => (rpc = c));
    // At init, ask the monitor for the VM's exit counts (vm.list) while Bochs goes on with the commands.
    let seen = "";
    let atInit: Promise<any> | undefined;
    let answered = false;
    let initMs: number | null = null;
    const echo = new Writable({
      write(chunk, _enc, done) {
        seen += chunk.toString();
        if (initMs === null && /\[lin1\] TYPEVISOR-INIT-OK/.test(seen)) initMs = Date.now() - started;
        if (!atInit && rpc && initMs !== null) {
          atInit = rpc.call("vm.list", undefined, 120_000).catch((e: Error) => e).finally(() => (answered = true));
        }
        done();
      },
    });
    const r = await runBochs({
      iso, cpu, memoryMiB: 512, timeoutMs: BUDGET_S * 1000, workDir: `build/vmm/linux-bochs-${cpu}`,
      com2: `mode=socket-server, dev=127.0.0.1:${port}`, echo,
      // the second command's end, once the monitor answered (COM2 replies trail in Bochs)
      until: (serial) => DONE.test(serial) && (answered || atInit === undefined),
    });
    await pending;
    const secs = (ms: number | null) => (ms === null ? "-" : (ms / 1000).toFixed(1));
    const why = [
      `Bochs ${cpu} ran ${secs(r.elapsedMs)} s (budget ${BUDGET_S} s, TV_LONG_BUDGET_S); last console lines:`,
      ...r.serial.split("\n").slice(-25),
      "Bochs log (VM entry failures, panics):",
      ...r.log.split("\n").filter((l) => /VMENTER|VMFAIL|VMRUN|PANIC/i.test(l)).slice(-10),
    ].join("\n");
    expect(r.serial, why).toMatch(banner);
    expect(r.serial, why).toMatch(/\[lin1\] TYPEVISOR-INIT-OK/);
    expect(r.serial, why).toMatch(DONE);
    // the guest's clock (its TSC: Bochs counts ips=10,000,000 ticks per emulated second, idle time skipped)
    // against the host's: about Bochs's speed in guest instructions per host second
    const stamps = [...r.serial.slice(0, r.serial.indexOf("[lin1] TYPEVISOR-INIT-OK")).matchAll(/\[lin1\] \[\s*(\d+\.\d+)\]/g)];
    const guestS = stamps.length ? Number(stamps[stamps.length - 1][1]) : NaN;
    const bootMs = initMs !== null && r.readyMs !== null ? initMs - r.readyMs : null;
    console.log(`Linux on Bochs ${cpu} (${virt}): guest clock ${guestS.toFixed(1)} s at its last line before init, ` +
      `${secs(bootMs)} s of host time from the monitor's ready line to init`);
    // Bochs's speed: its log lines start with its tick count (one tick per instruction, ips=10,000,000; with
    // clock sync=none a halted CPU skips ahead to the next timer event, so ticks >= instructions)
    const ticks = [...r.log.matchAll(/^(\d{11,})[a-z]\[/gm)].map((m) => Number(m[1]));
    if (ticks.length) {
      const last = Math.max(...ticks);
      console.log(`Linux on Bochs ${cpu} (${virt}): ${(last / 1e6).toFixed(0)} M ticks in ${secs(r.elapsedMs)} s of host time ` +
        `(${(last / r.elapsedMs / 1e3).toFixed(1)} M ticks per host second, up to the last log line)`);
    }
    console.log(`Linux on Bochs ${cpu} (${virt}): monitor ready ${secs(r.readyMs)} s, init ${secs(initMs)} s, ` +
      `both commands done ${secs(r.matchMs)} s after Bochs's launch`);

    const version = JSON.parse(readFileSync(join(root, "build/linux/manifest.json"), "utf8")).kernelVersion as string;
    const lines = vmLines(r.serial, "lin1");
    expect(lines).toContain(version); // uname -r, from the kernel that booted
    expect(lines).toContain("sum=42");
    expect(lines.filter((l) => l === "TV-RUN-EXIT: 0").length).toBe(2);
    // a clean boot: no oops, no warning, no faulting MSR access (the console is not quiet)
    const bad = lines.filter((l) => /Call Trace|unchecked MSR access|WARNING: CPU:|BUG:|Oops|invalid opcode/.test(l));
    expect(bad, bad.join("\n")).toEqual([]);

    // the management channel answered during the boot
    expect(atInit, "no vm.list was sent at init (COM2 not connected)").toBeDefined();
    const list = await atInit;
    expect(list).not.toBeInstanceOf(Error);
    const vm = (list as any[]).find((v) => v.name === "lin1");
    expect(vm.state).toMatch(/^(running|halted)$/);
    expect(vm.exits.total).toBeGreaterThan(0);
    console.log(`Linux on Bochs ${cpu}: exits at init ${JSON.stringify(vm.exits)}`);
  }, (BUDGET_S + 900) * 1000);
});

