// End to end on real hardware models: Debian's kernel booted in plain QEMU with no firmware from the guest RAM our loader and ACPI builder prepared (zero page, E820, page tables, GDT, tables), entered through a short real-to-long-mode switch.
import { beforeAll, describe, expect, it } from "vitest";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Exports, load, root } from "../../devices/harness";

const kernelFile = join(root, "build/linux/bzImage");
const initrdFile = join(root, "build/linux/initramfs.cpio.gz");
const MiB = 1 << 20;
const RAM = 256 * MiB;
const ACPI_BASE = 0x30000;

let x: Exports;
let material = "";
beforeAll(async () => {
  x = await load(join(root, "test/vmm/linux/entry.ts"));
  // The kernel and initramfs (cached after the first run; needs the Debian archive once).
  material = await new Promise<string>((resolve) => {
    const p = spawn("npx", ["tsx", "scripts/guest-linux.ts"], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.stderr.on("data", (d: Buffer) => (out += d.toString()));
    p.on("close", (code) => resolve(code === 0 ? "" : out || `exit ${code}`));
  });
}, 900_000);

/** Real mode at 0x8000 -> long mode with the LinuxEntry's CR3/CR4/EFER/CR0/GDT, then its RSI/RSP/RIP. */
function trampoline(dir: string, e: Record<string, bigint>): Buffer {
  const src = `
.code16
  cli
  xor %ax, %ax
  mov %ax, %ds
  lgdtl gdtr
  mov $0x${e.cr3.toString(16)}, %eax
  mov %eax, %cr3
  mov $0x${e.cr4.toString(16)}, %eax
  mov %eax, %cr4
  mov $0xc0000080, %ecx
  xor %edx, %edx
  mov $0x${(e.efer & ~0x400n).toString(16)}, %eax
  wrmsr
  mov $0x${e.cr0.toString(16)}, %eax
  mov %eax, %cr0
  ljmpl $0x${e.cs.toString(16)}, $long64
.code64
long64:
  mov $0x${e.ds.toString(16)}, %eax
  mov %eax, %ds
  mov %eax, %es
  mov %eax, %ss
  mov $0x${e.rsp.toString(16)}, %rsp
  mov $0x${e.rsi.toString(16)}, %rsi
  movabs $0x${e.rip.toString(16)}, %rax
  jmp *%rax
.align 8
gdtr:
  .word 0x${e.limit.toString(16)}
  .long 0x${e.gdt.toString(16)}
`;
  writeFileSync(join(dir, "tramp.s"), src);
  execFileSync("as", ["--64", "-o", join(dir, "tramp.o"), join(dir, "tramp.s")]);
  execFileSync("ld", ["-m", "elf_x86_64", "-nostdlib", "-N", "-e", "0", "-Ttext=0x8000", "--oformat", "binary", "-o", join(dir, "tramp.bin"), join(dir, "tramp.o")]);
  return readFileSync(join(dir, "tramp.bin"));
}

function qemu(args: string[], timeoutMs: number, until: (s: string) => boolean): Promise<string> {
  return new Promise((resolve) => {
    const p = spawn("qemu-system-x86_64", args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const stop = (): void => void p.kill("SIGKILL");
    const t = setTimeout(stop, timeoutMs);
    const feed = (d: Buffer): void => {
      out += d.toString("latin1");
      if (until(out)) stop();
    };
    p.stdout.on("data", feed);
    p.stderr.on("data", feed);
    p.on("close", () => {
      clearTimeout(t);
      resolve(out);
    });
  });
}

describe("direct boot of Debian's kernel in plain QEMU, no firmware", () => {
  it("the kernel boots from our zero page, page tables, GDT, E820 and ACPI tables to the init marker", async () => {
    if (material !== "" || !existsSync(kernelFile) || !existsSync(initrdFile)) {
      throw new Error(`no guest material: scripts/guest-linux.ts failed (is the Debian archive reachable?):\n${material}`);
    }
    const k = new Uint8Array(readFileSync(kernelFile));
    const initrd = new Uint8Array(readFileSync(initrdFile));
    // Allocate before taking views: growing wasm memory detaches them.
    const kp = x.allocKernel(k.length);
    new Uint8Array(x.memory.buffer, kp, k.length).set(k);
    const ip = x.allocInitrd(initrd.length);
    new Uint8Array(x.memory.buffer, ip, initrd.length).set(initrd);
    const rp = x.allocRam(RAM);
    const acpiSize = Number(x.buildTables(BigInt(ACPI_BASE)));
    expect(acpiSize).toBeGreaterThan(0);
    // HW-reduced ACPI means no PIT for Linux: without a TSC frequency it stops at "tsc: Marking TSC unstable"
    // (seen here). Under Typevisor CPUID gives it; in plain QEMU TCG the guest TSC is the host's.
    const mhz = /cpu MHz\s*:\s*([0-9.]+)/.exec(readFileSync("/proc/cpuinfo", "utf8"));
    const khz = mhz ? Math.round(Number(mhz[1]) * 1000) : 1_000_000;
    const cmdline = [
      "console=ttyS0", "reboot=t", `tsc_early_khz=${khz}`, "tv.poweroff",
      'tv.run="ls /sys/bus/acpi/devices"',
      'tv.run="cat /proc/cmdline"',
    ].join(" ");
    const out: string = x.boot(cmdline, BigInt(ACPI_BASE), BigInt(acpiSize), BigInt(ACPI_BASE), true);
    expect(out).not.toMatch(/^error/);
    const e: Record<string, bigint> = {};
    for (const kv of out.split(" ")) e[kv.split("=")[0]] = BigInt("0x" + kv.split("=")[1]);
    const ram = new Uint8Array(x.memory.buffer, rp, RAM);

    const dir = join(root, "build/linux/direct");
    mkdirSync(dir, { recursive: true });
    const tramp = trampoline(dir, e);
    expect(tramp.length).toBeLessThan(0x8ff0 - 0x8000 - 64); // below the boot stack
    const low = Buffer.from(ram.subarray(0, 0x40000));
    tramp.copy(low, 0x8000);
    writeFileSync(join(dir, "low.bin"), low);
    const setup = ((k[0x1f1] || 4) + 1) * 512;
    const load = Number(e.load);
    writeFileSync(join(dir, "kernel.bin"), ram.subarray(load, load + k.length - setup));
    const ia = Number(e.initrd);
    writeFileSync(join(dir, "initrd.bin"), ram.subarray(ia, ia + initrd.length));
    // A 64 KiB "BIOS" whose reset vector only jumps to 0000:8000 (no firmware runs).
    const rom = Buffer.alloc(0x10000);
    Buffer.from([0xea, 0x00, 0x80, 0x00, 0x00]).copy(rom, 0xfff0);
    writeFileSync(join(dir, "rom.bin"), rom);

    const console = await qemu(
      [
        "-bios", join(dir, "rom.bin"),
        "-device", `loader,file=${join(dir, "low.bin")},addr=0`,
        "-device", `loader,file=${join(dir, "kernel.bin")},addr=0x${load.toString(16)}`,
        "-device", `loader,file=${join(dir, "initrd.bin")},addr=0x${ia.toString(16)}`,
        "-nographic", "-nic", "none", "-cpu", "EPYC", "-m", "256", "-no-reboot",
      ],
      240_000,
      (s) => /reboot: (Power down|System halted)|Kernel panic/.test(s),
    );
    writeFileSync(join(dir, "console.log"), console);
    const tail = console.slice(-4000);
    expect(console, `no TYPEVISOR-INIT-OK; console tail:\n${tail}`).toContain("TYPEVISOR-INIT-OK");
    // The kernel read our tables and our E820.
    expect(console).toMatch(/ACPI: RSDP 0x0*30000 0+24 \(v02 TYPEVI\)/);
    expect(console).toMatch(/ACPI: FACP 0x[0-9A-F]+ 0+114 \(v06 TYPEVI TYPEVISR/);
    expect(console).toMatch(/ACPI: APIC 0x[0-9A-F]+ /);
    expect(console).toMatch(/ACPI: DSDT 0x[0-9A-F]+ /);
    expect(console).toMatch(/BIOS-e820: \[mem 0x0000000000030000-0x0000000000030[0-9a-f]{3}\] ACPI data/);
    expect(console).toMatch(/BIOS-e820: \[mem 0x0000000000100000-0x000000000fffffff\] usable/);
    expect(console).toMatch(/IOAPIC\[0\]: apic_id 0, version 32, address 0xfec00000, GSI 0-23/);
    // And found the devices the DSDT names, with their resources.
    expect(console).toMatch(/TV-RUN: ls \/sys\/bus\/acpi\/devices\r?\n.*PNP0501:00 +PNP0A03:00/);
    expect(console).toMatch(/ACPI: PCI Root Bridge \[PCI0\] \(domain 0000 \[bus 00-ff\]\)/);
    expect(console).toMatch(/root bus resource \[io  0x1000-0xffff window\]/);
    expect(console).toMatch(/root bus resource \[mem 0xc0000000-0xfebfffff window\]/);
    expect(console).toMatch(/ttyS0 at I\/O 0x3f8 .* is a 16550A/);
    expect(console).toMatch(/TV-RUN: cat \/proc\/cmdline\r?\nconsole=ttyS0 reboot=t tsc_early_khz=\d+ tv\.poweroff/);
  });
});
