// `npm run bench -- uplink`: frames per second uplink to uplink in QEMU TCG (two virtio-net NICs on UDP,
// the harness keeps a window of frames in flight and counts what returns), the monitor's TSC cycles per
// frame on the driver path, and the same harness against a Linux bridge of two virtio-net NICs in a plain
// QEMU TCG guest (Debian's cloud kernel, scripts/guest-linux.ts) as the reference: a ratio.
//   --frames N (default 20000)  --window W frames in flight (default 64)  --no-linux
import { spawn, type ChildProcess } from "node:child_process";
import { createSocket, type Socket } from "node:dgram";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync, gunzipSync } from "node:zlib";
import { QEMU_BIN, nicArgs, qemuArgs, requireTool, root } from "../../scripts/lib/emulators.ts";
import { ensureImage } from "../../scripts/lib/image.ts";

const arg = (name: string, d: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : d;
};
const FRAMES = arg("--frames", 20_000);
const WINDOW = arg("--window", 64);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function udp(port = 0): Promise<Socket> {
  const s = createSocket({ type: "udp4", recvBufferSize: 4 << 20 });
  await new Promise<void>((res, rej) => {
    s.once("error", rej);
    s.bind(port, "127.0.0.1", () => res());
  });
  return s;
}
async function freePort(): Promise<number> {
  const s = await udp();
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

interface Machine {
  child: ChildProcess;
  out: () => string;
  a: Socket;
  b: Socket;
  aPort: number;
  bPort: number;
}

/** Starts QEMU with two modern virtio-net NICs wired to two harness sockets; `extra` is the rest of the command line. */
async function boot(extra: (nics: string[]) => string[], ready: RegExp, ms: number): Promise<Machine> {
  const a = await udp();
  const b = await udp();
  const aPort = await freePort();
  const bPort = await freePort();
  const nics = nicArgs([
    { local: aPort, remote: a.address().port, mode: "modern" },
    { local: bPort, remote: b.address().port, mode: "modern" },
  ]);
  let serial = "";
  const child = spawn("timeout", ["-k", "3", "900", QEMU_BIN, ...extra(nics)], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout!.on("data", (d: Buffer) => (serial += d.toString("latin1").replace(/\r/g, "")));
  child.stderr!.on("data", (d: Buffer) => (serial += d.toString("latin1")));
  const end = Date.now() + ms;
  while (!ready.test(serial)) {
    if (child.exitCode !== null || Date.now() > end) throw new Error(`no ${ready}:\n${serial.slice(-2000)}`);
    await sleep(200);
  }
  return { child, out: () => serial, a, b, aPort, bPort };
}

function frame(seq: number): Buffer {
  const f = Buffer.alloc(64);
  Buffer.from([0x02, 0, 0, 0, 0x0b, 2]).copy(f, 0); // to the host behind b
  Buffer.from([0x02, 0, 0, 0, 0x0b, 1]).copy(f, 6);
  f.writeUInt16BE(0x88b5, 12);
  f.writeUInt32BE(seq, 14);
  return f;
}

/** Sends FRAMES frames into a, keeping WINDOW in flight, and counts what leaves b. */
async function forward(m: Machine): Promise<{ sent: number; got: number; secs: number }> {
  // teach the switch/bridge where 02:..:0b:02 is, so the frames are unicast to b
  const hello = Buffer.alloc(64, 0);
  Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0x0b, 2, 0x88, 0xb5]).copy(hello, 0);
  for (let i = 0; i < 3; i++) {
    m.b.send(hello, m.bPort, "127.0.0.1");
    await sleep(200);
  }
  let got = 0;
  m.b.removeAllListeners("message");
  m.b.on("message", (msg) => {
    if (msg.length >= 18 && msg.readUInt16BE(12) === 0x88b5) got++;
  });
  let sent = 0;
  let givenUp = 0;
  let last = 0;
  let lastT = Date.now();
  const t0 = Date.now();
  while (sent < FRAMES && Date.now() - t0 < 300_000) {
    if (sent - got - givenUp < WINDOW) {
      m.a.send(frame(sent), m.aPort, "127.0.0.1");
      sent++;
      if (sent % 16 === 0) await new Promise((r) => setImmediate(r));
      continue;
    }
    await sleep(1);
    if (got !== last) {
      last = got;
      lastT = Date.now();
    } else if (Date.now() - lastT > 300) {
      givenUp++; // a lost frame: free its window slot
      lastT = Date.now();
    }
  }
  const tEnd = Date.now();
  await sleep(500);
  return { sent, got, secs: (tEnd - t0) / 1000 };
}

function stop(m: Machine): void {
  m.child.kill("SIGTERM");
  m.a.close();
  m.b.close();
}

requireTool(QEMU_BIN, "qemu-system-x86");
const { elf } = await ensureImage();

// ---- Typevisor: uplink0 -> switch -> uplink1
const tv = await boot((nics) => qemuArgs({ kernel: elf, cmdline: "loglevel=debug", extraArgs: nics }), /^\[vmm\] main loop/m, 120_000);
const r1 = await forward(tv);
await sleep(500);
const cyc = [...tv.out().matchAll(/^\[net\] driver path: (\d+) frames received, (\d+) TSC cycles per frame.*, (\d+) polls moved frames/gm)].pop();
stop(tv);
const tvFps = r1.got / r1.secs;
console.log(`typevisor   uplink->uplink: sent ${r1.sent}, received ${r1.got} (${((100 * r1.got) / r1.sent).toFixed(2)}%) in ${r1.secs.toFixed(1)} s: ` +
  `${Math.round(tvFps)} frames/s (window ${WINDOW})`);
if (cyc) console.log(`typevisor   driver path: ${cyc[2]} TSC cycles per frame (RX, switch, TX; ${cyc[1]} frames in ${cyc[3]} polls that moved frames; QEMU TCG's TSC)`);
else console.log("typevisor   driver path: no [net] driver path line (fewer than 10,000 frames received?)");

// ---- reference: a Linux bridge of two virtio-net NICs in a plain QEMU TCG guest
if (process.argv.includes("--no-linux")) process.exit(0);
const { guestLinux, readCpio, cpioNewc, INITRAMFS, BZIMAGE, S_IFREG } = await import("../../scripts/guest-linux.ts");
const manifest = guestLinux();
const modDir = join(root, "build/linux/kernel-root/lib/modules", manifest.kernelVersion);
const initrd = join(root, "build/linux/initramfs-bridge.cpio.gz");
if (!existsSync(initrd)) {
  // the test initramfs plus the bridge module and what it depends on (modinfo depends=), dependencies first
  const order: string[] = [];
  const visit = (name: string): void => {
    if (order.includes(name) || manifest.modules.includes(name) || manifest.builtin.includes(name)) return;
    const path = findModule(modDir, name);
    const b = readFileSync(path);
    const at = b.indexOf("\0depends=");
    const deps = at < 0 ? [] : b.toString("ascii", at + 9, b.indexOf(0, at + 1)).split(",").filter(Boolean);
    for (const d of deps) visit(d.replace(/-/g, "_"));
    order.push(name);
  };
  visit("bridge");
  const entries = readCpio(gunzipSync(readFileSync(INITRAMFS)));
  const mods = entries.find((e) => e.name === "etc/modules")!;
  mods.data = Buffer.from(mods.data!.toString().trim() + "\n" + order.join("\n") + "\n");
  for (const m of order) entries.push({ name: `lib/modules/${m}.ko`, mode: S_IFREG | 0o644, data: readFileSync(findModule(modDir, m)) });
  writeFileSync(initrd, gzipSync(cpioNewc(entries)));
}
const cmds = ["ip link add br0 type bridge", "ip link set eth0 master br0", "ip link set eth1 master br0",
  "ip link set eth1 up", "ip link set br0 up", "echo BRIDGE-UP"];
const append = "console=ttyS0 quiet " + cmds.map((c) => `tv.run="${c}"`).join(" ");
const lx = await boot((nics) => ["-accel", "tcg", "-cpu", "qemu64", "-m", "512", "-display", "none", "-monitor", "none",
  "-no-reboot", "-nodefaults", "-serial", "stdio", "-kernel", BZIMAGE, "-initrd", initrd, "-append", append, ...nics],
/^BRIDGE-UP/m, 300_000);
await sleep(3000); // the bridge ports leave STP listening (forward delay 0 without STP? wait anyway)
const r2 = await forward(lx);
stop(lx);
const lxFps = r2.got / r2.secs;
console.log(`linux bridge (kernel ${manifest.kernelVersion}): sent ${r2.sent}, received ${r2.got} ` +
  `(${((100 * r2.got) / r2.sent).toFixed(2)}%) in ${r2.secs.toFixed(1)} s: ${Math.round(lxFps)} frames/s`);
console.log(`ratio typevisor / linux bridge: ${(tvFps / lxFps).toFixed(2)} (frames per second, same harness, QEMU TCG)`);

function findModule(dir: string, name: string): string {
  const stack = [dir];
  while (stack.length) {
    const d = stack.pop()!;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (e.name.replace(/-/g, "_") === `${name}.ko`) return p;
    }
  }
  throw new Error(`module ${name}.ko not found under ${dir}`);
}
