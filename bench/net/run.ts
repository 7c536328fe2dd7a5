// `npm run bench -- net`: guest-to-guest frame flood between two Linux VMs on the built-in switch, under
// Typevisor in QEMU TCG (AMD-V), then the same flood under plain QEMU TCG as the reference, one after the
// other (one emulator at a time on a shared machine).
//
// Typevisor: lin1 sends raw Ethernet frames (IPv4/UDP, LEN bytes) to lin2's MAC with `tvnet rawflood`
// (scripts/guest-tools/tvnet.c); lin2 counts them with `tvnet rawcount`. Over a window inside the flood the
// bench reads, through COM2, with the host's clock beside the monitor's: frames delivered into lin2's RX ring (net.stats), both VMs' exits (vm.list),
// the NICs' interrupts (net.stats: virtio queue interrupts injected, timer interrupts not included) and the
// monitor's cycles in the NIC data path (net.stats datapath: TSC ticks around each NIC's service turn; a
// forwarded frame crosses two NICs).
// Reference: plain QEMU TCG, one Debian guest with two virtio-net NICs joined by a `-netdev dgram` pair
// (eth0 -> UDP socket -> eth1), the same tool sending out of eth0 and counting on eth1. It is one guest
// kernel with both ends instead of two: two QEMUs at once would break the one-emulator rule of this machine.
//
// Flags: --seconds=N (count window, default 8), --len=N (frame bytes, default 60; run bench/net/run.ts directly for it).
import { spawn } from "node:child_process";
import { join } from "node:path";
import { QEMU_BIN, nicArgs, root } from "../../scripts/lib/emulators.ts";
import { buildVmmImage, guestMaterial, QemuSession, Rpc } from "../../test/vmm/helpers.ts";

const arg = (name: string, dflt: number): number => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.slice(name.length + 3)) : dflt;
};
const SECONDS = arg("seconds", 8);
const LEN = arg("len", 60);
const KERNEL = join(root, "build/linux/bzImage");
const INITRD = join(root, "build/linux/initramfs.cpio.gz");
const run = (cmd: string) => `tv.run=${cmd.replace(/%/g, "%25").replace(/ /g, "%20")}`;

interface Snap { hostMs: number; ms: number; exits: number; rx: number; irqs: number; turns: number; frames: number; cycles: number; hist: [number, number][] }

async function snap(rpc: Rpc): Promise<Snap> {
  const vms = await rpc.call("vm.list");
  const ns = await rpc.call("net.stats");
  const hostMs = performance.now();
  const ms = (await rpc.call("system.info")).uptime_ms;
  const lin = (n: string) => vms.find((v: any) => v.name === n);
  const nic = (n: string) => ns.nics.find((x: any) => x.port === n);
  return {
    hostMs,
    ms,
    exits: lin("lin1").exits.total + lin("lin2").exits.total,
    rx: nic("lin2").rx_packets,
    irqs: ["lin1", "lin2"].reduce((s, n) => s + nic(n).rx_interrupts + nic(n).tx_interrupts, 0),
    turns: ns.datapath.turns,
    frames: ns.datapath.frames,
    cycles: ns.datapath.cycles,
    hist: ns.datapath.cycles_per_frame,
  };
}

/** The p-th percentile of a [low, count] histogram: the low end of the bucket holding it, and the next bucket's low. */
function percentile(hist: [number, number][], p: number): string {
  const total = hist.reduce((s, [, n]) => s + n, 0);
  let acc = 0;
  for (let i = 0; i < hist.length; i++) {
    acc += hist[i][1];
    if (acc >= total * p) return `${hist[i][0]}-${bucketHigh(hist[i][0])}`;
  }
  return "-";
}
/** Buckets are 4 per power of two (src/devices/virtio-net/datapath.ts): the next bucket starts a quarter-power up. */
function bucketHigh(low: number): number {
  if (low < 8) return low + 1;
  const msb = Math.floor(Math.log2(low));
  return low + 2 ** (msb - 2);
}

async function typevisor(): Promise<{ pps: number; monitorPps: number; clockRatio: number; guestPps: number; exitsPer: number; irqsPer: number; cyclesPerFwd: number; hist: [number, number][]; sent: string; clock: string }> {
  await buildVmmImage();
  const vm = (name: string) => [`${KERNEL} name=${name} mem=128M -- console=ttyS0 quiet`, `${INITRD} initrd=${name}`];
  const q = new QemuSession("loglevel=warn", { cpu: "EPYC,+svm,+npt", initrd: [...vm("lin1"), ...vm("lin2")].join(","), timeoutS: 900, memoryMiB: 1024 });
  const rpc = await Rpc.open(q.socketPath);
  try {
    for (const n of ["lin1", "lin2"]) await q.waitFor(new RegExp(`\\[${n}\\] Enter 'help'`), 600_000);
    const mac = (await rpc.call("port.get", { port: "lin2" })).mac;
    await rpc.call("vm.console_write", { name: "lin2", data: "echo CLOCK=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)\n" });
    const clock = (await q.waitFor(/\[lin2\] CLOCK=(\S+)/, 60_000))[1];
    await rpc.call("vm.console_write", { name: "lin2", data: `tvnet rawcount eth0 ${SECONDS} 120\n` });
    await new Promise((r) => setTimeout(r, 2000));
    await rpc.call("vm.console_write", { name: "lin1", data: `tvnet rawflood eth0 ${mac} ${SECONDS + 8} ${LEN}\n` });
    await q.waitFor(/\[lin1\] .*tvnet rawflood/, 30_000);
    await new Promise((r) => setTimeout(r, 3000));
    await rpc.call("net.stats_reset");
    const a = await snap(rpc);
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const b = await snap(rpc);
    const count = (await q.waitFor(/\[lin2\] TVRAWCOUNT packets=(\d+) bytes=\d+ secs=([\d.]+)/, 300_000)).slice(1).map(Number);
    const sent = (await q.waitFor(/\[lin1\] (TVRAWFLOOD .*)/, 300_000))[1];
    const fwd = b.rx - a.rx;
    if (fwd <= 0) throw new Error(`no frames reached lin2 in the window:\n${q.serial.slice(-3000)}`);
    return {
      pps: (fwd * 1000) / (b.hostMs - a.hostMs),
      monitorPps: (fwd * 1000) / (b.ms - a.ms),
      clockRatio: (b.ms - a.ms) / (b.hostMs - a.hostMs),
      guestPps: count[0] / count[1],
      exitsPer: (b.exits - a.exits) / fwd,
      irqsPer: (b.irqs - a.irqs) / fwd,
      cyclesPerFwd: (b.cycles - a.cycles) / fwd,
      hist: b.hist,
      sent,
      clock,
    };
  } finally {
    rpc.close();
    q.stop();
  }
}

function reference(): Promise<{ pps: number; sent: string }> {
  const mac1 = "52:54:00:12:34:02";
  const cmd = `ip link set eth1 up; sleep 1; tvnet rawcount eth1 ${SECONDS} 120 & sleep 2; tvnet rawflood eth0 ${mac1} ${SECONDS + 6} ${LEN}; wait`;
  const args = ["-accel", "tcg", "-cpu", "EPYC", "-m", "256", "-display", "none", "-monitor", "none", "-nodefaults", "-no-reboot",
    "-serial", "stdio", "-kernel", KERNEL, "-initrd", INITRD, "-append", `console=ttyS0 quiet ${run(cmd)} tv.poweroff`,
    ...nicArgs([{ local: 47101, remote: 47102, mode: "modern", mac: "52:54:00:12:34:01" }, { local: 47102, remote: 47101, mode: "modern", mac: mac1 }])];
  return new Promise((resolve, reject) => {
    const q = spawn("timeout", ["-k", "3", "600", QEMU_BIN, ...args], { stdio: ["ignore", "pipe", "pipe"], cwd: root });
    let out = "";
    q.stdout.on("data", (d: Buffer) => (out += d.toString("latin1")));
    q.stderr.on("data", (d: Buffer) => (out += d.toString("latin1")));
    q.on("close", () => {
      const c = /TVRAWCOUNT packets=(\d+) bytes=\d+ secs=([\d.]+)/.exec(out);
      const s = /(TVRAWFLOOD .*)/.exec(out);
      if (!c || !s || Number(c[1]) === 0) reject(new Error(`plain QEMU: no count:\n${out.slice(-3000)}`));
      else resolve({ pps: Number(c[1]) / Number(c[2]), sent: s[1].trim() });
    });
  });
}

async function main(): Promise<void> {
  await guestMaterial();
  const t = await typevisor();
  const r = await reference();
  const f = (x: number, d = 0) => x.toFixed(d);
  console.log(`net: ${LEN}-byte frames, lin1 -> switch -> lin2, ${SECONDS} s window (load average ${(await import("node:os")).loadavg().map((x) => x.toFixed(1)).join(" ")})`);
  console.log(`net: Typevisor (QEMU TCG, AMD-V): ${f(t.pps)} frames/s into lin2's RX ring by the host's clock; ${f(t.monitorPps)}/s by the monitor's (its ms ran at ${t.clockRatio.toFixed(3)} of the host's: the TSC calibration); lin2's own counter ${f(t.guestPps)}/s (guest clocksource ${t.clock}); sender: ${t.sent}`);
  console.log(`net: plain QEMU TCG, -netdev dgram eth0 -> eth1 in one guest: ${f(r.pps)} frames/s (guest counter); sender: ${r.sent}`);
  console.log(`net: ratio Typevisor / plain QEMU: ${(t.pps / r.pps).toFixed(2)} (Typevisor by the host's clock, plain QEMU by its guest's counter; one after the other in one run); ${(t.guestPps / r.pps).toFixed(2)} by both guests' counters`);
  console.log(`net: VM exits per forwarded frame (both VMs): ${f(t.exitsPer, 3)} (target <= 0.25, goal 0.05)`);
  console.log(`net: virtio interrupts injected per forwarded frame (both NICs): ${f(t.irqsPer, 3)}`);
  console.log(`net: monitor data path, TSC ticks per forwarded frame (mean, both NICs): ${f(t.cyclesPerFwd)}`);
  console.log(`net: per NIC crossing, ticks per frame by turn: p50 ${percentile(t.hist, 0.5)}, p90 ${percentile(t.hist, 0.9)}, p99 ${percentile(t.hist, 0.99)}`);
}

main().catch((e) => {
  console.error(`bench net: ${(e as Error).message}`);
  process.exit(1);
});
