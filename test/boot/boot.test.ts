// Boots the real image (asc -> AOT -> boot/ -> ld -> GRUB) in QEMU and Bochs
// and checks what a user sees: the banner, the detected CPU and
// virtualization features, a clean shutdown, and a symbolized panic.
// QEMU TCG is required (a missing QEMU fails the test). The KVM and Bochs
// tests first probe the host with a no-op guest (test/vmm/host-caps.ts): a
// host that cannot run one skips the test with the reason; once the probe
// has run, any failure is the monitor's and fails the test.
import { beforeAll, describe, expect, it } from "vitest";
import { QEMU_STATUS_FAILURE, QEMU_STATUS_SUCCESS, READY_RE, runBochs, runQemu } from "../../scripts/lib/emulators.ts";
import { ensureImage, ensureIso } from "../../scripts/lib/image.ts";
import { needHost, probeBochs, probeKvm } from "../vmm/host-caps.ts";

const BANNER = /^Typevisor \d+\.\d+\.\d+ - a hypervisor in AssemblyScript \(multiboot [12]/m;
const SHUTDOWN = /^\[boot\] shutdown requested on the command line: shutting down$/m;
const QEMU_TIMEOUT = 60_000;
const BOCHS_TIMEOUT = 120_000;

let elf = "";
let shutdownIso = "";
let panicIso = "";
let mb1Iso = "";

beforeAll(async () => {
  elf = (await ensureImage()).elf;
  shutdownIso = await ensureIso("shutdown", "shutdown loglevel=debug");
  panicIso = await ensureIso("panic-test", "panic-test");
  mb1Iso = await ensureIso("shutdown-mb1", "shutdown", 1);
});

function stageOrder(serial: string): void {
  const i = (re: RegExp) => serial.search(re);
  expect(i(BANNER)).toBeGreaterThanOrEqual(0);
  expect(i(/^\[boot\] memory: /m)).toBeGreaterThan(i(BANNER));
  expect(i(/^\[cpu\] /m)).toBeGreaterThan(i(/^\[boot\] memory: /m));
  expect(i(/^\[virt\] /m)).toBeGreaterThan(i(/^\[cpu\] /m));
  expect(i(READY_RE)).toBeGreaterThan(i(/^\[virt\] /m));
}

describe("QEMU TCG, AMD CPU with SVM + NPT", () => {
  it("boots with -kernel (multiboot 1), reports AMD-V with NPT, shuts down cleanly", async () => {
    const r = await runQemu({ kernel: elf, cmdline: "shutdown loglevel=debug demo", timeoutMs: QEMU_TIMEOUT });
    expect(r.serial).toMatch(/\(multiboot 1\)/);
    stageOrder(r.serial);
    expect(r.serial).toMatch(/^\[boot\] command line: ".*shutdown loglevel=debug demo"$/m);
    expect(r.serial).toMatch(/^\[boot\] options passed on: demo$/m);
    expect(r.serial).toMatch(/^\[boot\] memory: \d+ MiB usable/m);
    expect(r.serial).toMatch(/^\[boot\] memory: \d+ free pages/m);
    expect(r.serial).toMatch(/^\[cpu\] AuthenticAMD family \d+ model \d+/m);
    expect(r.serial).toMatch(/^\[virt\] AMD-V: available \(SVM revision \d+, \d+ ASIDs\): NPT yes, NRIPS no, decode assists no/m);
    expect(r.serial).toMatch(SHUTDOWN);
    expect(r.status).toBe(QEMU_STATUS_SUCCESS);
  });

  it("boots the GRUB ISO (multiboot 2) and shuts down cleanly", async () => {
    const r = await runQemu({ iso: shutdownIso, timeoutMs: QEMU_TIMEOUT });
    expect(r.serial).toMatch(/\(multiboot 2, GRUB/);
    stageOrder(r.serial);
    expect(r.serial).toMatch(/^\[virt\] AMD-V: available .*NPT yes/m);
    expect(r.serial).toMatch(SHUTDOWN);
    expect(r.status).toBe(QEMU_STATUS_SUCCESS);
  });

  it("boots the GRUB ISO's multiboot 1 entry (a.out kludge through GRUB)", async () => {
    const r = await runQemu({ iso: mb1Iso, timeoutMs: QEMU_TIMEOUT });
    expect(r.serial).toMatch(/\(multiboot 1\)/);
    stageOrder(r.serial);
    expect(r.serial).toMatch(SHUTDOWN);
    expect(r.status).toBe(QEMU_STATUS_SUCCESS);
  });

  it("says clearly when the CPU has no virtualization (qemu64 without SVM)", async () => {
    const r = await runQemu({ kernel: elf, cpu: "qemu64,-svm", cmdline: "shutdown", timeoutMs: QEMU_TIMEOUT });
    expect(r.serial).toMatch(/^\[virt\] no hardware virtualization$/m);
    expect(r.serial).toMatch(/^\[virt\] WARNING: the CPU has neither VT-x .* nor AMD-V .*: guests cannot run$/m);
    expect(r.status).toBe(QEMU_STATUS_SUCCESS);
  });
});

describe("panic path (QEMU TCG)", () => {
  const frames = /^backtrace:\n {2}#0 {2}[0-9a-f]{16} {2}src\/main\/panicDeep\+0x[0-9a-f]+\n(?: {2}#\d+ +[0-9a-f]{16} {2}src\/main\/panicDeep\+0x[0-9a-f]+\n)+ {2}#\d+ +[0-9a-f]{16} {2}src\/main\/main\+0x[0-9a-f]+\n/m;
  const registers = /^registers:\n {2}rax [0-9a-f]{16} {2}rbx [0-9a-f]{16}/m;

  it("a wasm trap (unreachable) prints the trap, registers and a symbolized backtrace, then exits with failure", async () => {
    const r = await runQemu({ kernel: elf, cmdline: "panic-test", timeoutMs: QEMU_TIMEOUT });
    expect(r.serial).toMatch(/^\[boot\] panic-test=trap: faulting on purpose$/m);
    expect(r.serial).toMatch(/^PANIC: wasm trap 1: unreachable$/m);
    expect(r.serial).toMatch(/^ {2}at [0-9a-f]{16} {2}src\/main\/panicDeep\+0x/m);
    expect(r.serial).toMatch(registers);
    expect(r.serial).toMatch(frames);
    expect(r.serial).not.toMatch(READY_RE);
    expect(r.serial).toMatch(/^\[panic\] system halted/m);
    expect(r.status).toBe(QEMU_STATUS_FAILURE);
  });

  it("a CPU page fault prints the vector, error code and faulting address (cr2)", async () => {
    const r = await runQemu({ kernel: elf, cmdline: "panic-test=pf", timeoutMs: QEMU_TIMEOUT });
    expect(r.serial).toMatch(/^PANIC: CPU exception #PF page fault \(vector e\), error code 0x0$/m);
    expect(r.serial).toMatch(/^ {2}faulting address \(cr2\) ffff807f00000000: page not present on read$/m);
    expect(r.serial).toMatch(frames);
    expect(r.status).toBe(QEMU_STATUS_FAILURE);
  });

  it("a linear-memory access beyond the heap faults in the guard region and becomes trap 5", async () => {
    const r = await runQemu({ kernel: elf, cmdline: "panic-test=oob", timeoutMs: QEMU_TIMEOUT });
    expect(r.serial).toMatch(/^PANIC: wasm trap 5: out of bounds memory access$/m);
    expect(r.serial).toMatch(/^ {2}faulting address \(cr2\) 00000100fffffff0 = linear memory \+ 0xfffffff0$/m);
    expect(r.serial).toMatch(frames);
    expect(r.status).toBe(QEMU_STATUS_FAILURE);
  });

  it("unbounded recursion hits the stack limit: trap 8, reported from the panic stack", async () => {
    const r = await runQemu({ kernel: elf, cmdline: "panic-test=stack", timeoutMs: QEMU_TIMEOUT });
    expect(r.serial).toMatch(/^PANIC: wasm trap 8: call stack exhausted$/m);
    expect(r.serial).toMatch(/^ {2}at [0-9a-f]{16} {2}src\/main\/recurseForever\+0x/m);
    expect(r.serial).toMatch(/#1 +[0-9a-f]{16} {2}src\/main\/recurseForever\+0x/);
    expect(r.serial).toMatch(/^\[panic\] system halted/m);
    expect(r.status).toBe(QEMU_STATUS_FAILURE);
  });

  it("a stack running into its guard page raises #DF, handled on its own IST stack", async () => {
    const r = await runQemu({ kernel: elf, cmdline: "panic-test=guard", timeoutMs: QEMU_TIMEOUT });
    expect(r.serial).toMatch(/^PANIC: CPU exception #DF double fault \(vector 8\), error code 0x0$/m);
    expect(r.serial).toMatch(/src\/main\/panicDeep\+0x[0-9a-f]+\n[\s\S]*src\/main\/main\+0x/);
    expect(r.status).toBe(QEMU_STATUS_FAILURE);
  });

  it("an AssemblyScript abort (failed assert) prints its message and location, then the panic", async () => {
    const r = await runQemu({ kernel: elf, cmdline: "panic-test=abort", timeoutMs: QEMU_TIMEOUT });
    expect(r.serial).toMatch(/^abort: panic-test=abort at src\/main\.ts:\d+:\d+$/m);
    expect(r.serial).toMatch(/^PANIC: wasm trap 1: unreachable$/m);
    expect(r.serial).toMatch(/src\/hw\/abort\/tvAbort\+0x[0-9a-f]+\n[\s\S]*src\/main\/panicDeep\+0x/);
    expect(r.status).toBe(QEMU_STATUS_FAILURE);
  });

  it("a fault inside the panic path itself ends in the assembly fallback, never a hang", async () => {
    const r = await runQemu({ kernel: elf, cmdline: "panic-test=nested", timeoutMs: QEMU_TIMEOUT });
    expect(r.serial).toMatch(/^PANIC: wasm trap 1: unreachable$/m);
    expect(r.serial).toMatch(/^!!! PANIC \(assembly fallback: the panic path itself failed\)$/m);
    expect(r.serial).toMatch(/^vec=000000000000000e err=[0-9a-f]{16} rip=[0-9a-f]{16} cr2=ffff807f00000000 /m);
    expect(r.status).toBe(QEMU_STATUS_FAILURE);
  });

  it("an invalid opcode (#UD) in boot/ code is reported with the monitor frames above it", async () => {
    const r = await runQemu({ kernel: elf, cmdline: "panic-test=ud", timeoutMs: QEMU_TIMEOUT });
    expect(r.serial).toMatch(/^PANIC: CPU exception #UD invalid opcode \(vector 6\)/m);
    expect(r.serial).toMatch(/#1 +[0-9a-f]{16} {2}src\/main\/panicDeep\+0x/);
    expect(r.status).toBe(QEMU_STATUS_FAILURE);
  });
});

// Always registered: on a host whose KVM cannot run QEMU's -cpu host (or
// without /dev/kvm) the probe skips it with the reason, never passes it.
describe("QEMU KVM", () => {
  it("boots with the host CPU under KVM and shuts down cleanly", async (ctx) => {
    await needHost(ctx, probeKvm());
    const r = await runQemu({ kernel: elf, accel: "kvm", cmdline: "shutdown", timeoutMs: QEMU_TIMEOUT });
    stageOrder(r.serial);
    expect(r.serial).toMatch(/^\[cpu\] (GenuineIntel|AuthenticAMD) family \d+/m);
    // no nested virtualization on these hosts: the line must still say what was found
    expect(r.serial).toMatch(/^\[virt\] (VT-x|AMD-V|no hardware virtualization)/m);
    expect(r.serial).toMatch(/^\[cpu\] features: .*running under a hypervisor/m);
    expect(r.serial).toMatch(SHUTDOWN);
    expect(r.status).toBe(QEMU_STATUS_SUCCESS);
  });
});

describe("Bochs (GRUB ISO)", () => {
  it("VT-x model corei7_skylake_x: reports EPT, unrestricted guest, VPID, preemption timer; shuts down cleanly", async (ctx) => {
    await needHost(ctx, probeBochs("corei7_skylake_x"));
    const r = await runBochs({ iso: shutdownIso, cpu: "corei7_skylake_x", timeoutMs: BOCHS_TIMEOUT });
    stageOrder(r.serial);
    expect(r.serial).toMatch(/^\[cpu\] GenuineIntel family 6 model \d+/m);
    expect(r.serial).toMatch(
      /^\[virt\] VT-x: available \(VMCS revision 0x[0-9a-f]+, IA32_FEATURE_CONTROL 0x[0-9a-f]+\): EPT yes .*unrestricted guest yes, VPID yes, preemption timer yes/m,
    );
    expect(r.serial).toMatch(SHUTDOWN);
    expect(r.log).toMatch(/Shutdown port: shutdown requested/);
  });

  it("SVM model ryzen: reports AMD-V with NPT and NRIPS; shuts down cleanly", async (ctx) => {
    await needHost(ctx, probeBochs("ryzen"));
    const r = await runBochs({ iso: shutdownIso, cpu: "ryzen", timeoutMs: BOCHS_TIMEOUT });
    stageOrder(r.serial);
    expect(r.serial).toMatch(/^\[cpu\] AuthenticAMD family \d+/m);
    expect(r.serial).toMatch(/^\[virt\] AMD-V: available \(SVM revision \d+, \d+ ASIDs\): NPT yes, NRIPS yes/m);
    expect(r.serial).toMatch(SHUTDOWN);
    expect(r.log).toMatch(/Shutdown port: shutdown requested/);
  });

  it("panic-test on the VT-x model prints a symbolized backtrace and stops", async (ctx) => {
    await needHost(ctx, probeBochs("corei7_skylake_x"));
    const r = await runBochs({ iso: panicIso, cpu: "corei7_skylake_x", timeoutMs: BOCHS_TIMEOUT });
    expect(r.serial).toMatch(/^PANIC: wasm trap 1: unreachable$/m);
    expect(r.serial).toMatch(/src\/main\/panicDeep\+0x[0-9a-f]+\n[\s\S]*src\/main\/main\+0x/);
    expect(r.log).toMatch(/Shutdown port: shutdown requested/);
  });
});
