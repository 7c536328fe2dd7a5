// docs/ABI.md "Allocation on the exit path": the collector runs only at the main loop's safe point, so an exit
// that a VM survives must not allocate. The common exit path (exits.ts, monitor.ts) runs 100,000 scripted
// exits of each kind on a fake vCPU, built with asc's stub runtime (a bump allocator: any allocation moves
// the heap top for good), and the heap top must not move. The console line, the one allocation ABI.md
// allows, shows that the measure sees an allocation on this path.
import { beforeEach, describe, expect, it } from "vitest";
import { Exit, FakeMachine, Flag, machine, Op } from "./fake/machine";

const N = 100_000;
type Step = [number, Parameters<FakeMachine["script"]>[2]?];

const cpuidAll = (leaf: number, sub: number): [number, number, number, number] => {
  if (leaf === 1) return [0, 0, 0xffff_ffff, 0xffff_ffff];
  if (leaf === 0xd) return sub === 0 ? [7, 832, 832, 0] : [256, 576, 0, 0];
  return [1, 2, 3, 4];
};

/** Exits a running VM survives, by kind (the stop rules end a VM's life and may allocate their reason once). */
const KINDS: Record<string, Step[]> = {
  handled: [[Exit.Handled], [Exit.Preempted], [Exit.Interrupt], [Exit.InterruptWindow]],
  cpuid: [0, 1, 7, 0xa, 0xd, 0x4000_0000, 0x4000_0001, 0x4000_0010, 0x8000_0001, 0x8000_0007].map((l) => [Exit.Cpuid, { rax: BigInt(l) }] as Step),
  io: [
    [Exit.Io, { arg: 0x80n, arg2: 1, rax: 1n }],
    [Exit.Io, { arg: 0x64n, arg2: 1, rax: 1n }],
    [Exit.Io, { arg: 0x60n, arg2: 1, flags: Flag.IoIn }],
    [Exit.Io, { arg: 0x60n, arg2: 2, flags: Flag.IoIn }],
    [Exit.Io, { arg: 0xcfcn, arg2: 4, flags: Flag.IoIn }],
    [Exit.Io, { arg: 0xe9n, arg2: 1, flags: Flag.IoIn }],
    [Exit.Io, { arg: 0xe9n, arg2: 1, flags: Flag.IoString }],
  ],
  msr: [
    [Exit.MsrRead, { rcx: 0xc000_0080n }],
    [Exit.MsrRead, { rcx: 0x277n }],
    [Exit.MsrRead, { rcx: 0xc000_0082n }],
    [Exit.MsrRead, { rcx: 0x10n }],
    [Exit.MsrRead, { rcx: 0x1a0n }],
    [Exit.MsrRead, { rcx: 0x1234n }],
    [Exit.MsrWrite, { rcx: 0xc000_0080n, rax: 0x501n }],
    [Exit.MsrWrite, { rcx: 0x277n, rax: 0x2n }],
    [Exit.MsrWrite, { rcx: 0xc000_0102n, rax: 0x1000n, rdx: 0xffff_8000n }],
    [Exit.MsrWrite, { rcx: 0xc000_0082n, rdx: 0x8000n }],
    [Exit.MsrWrite, { rcx: 0x1234n }],
  ],
  events: [[Exit.Exception, { arg: 17n }], [Exit.Exception, { arg: 1n }], [Exit.Rdpmc], [Exit.VirtInsn], [Exit.Invd]],
  xsetbv: [[Exit.Xsetbv, { rax: 7n }], [Exit.Xsetbv, { rax: 2n }], [Exit.Xsetbv, { rcx: 1n, rax: 1n }], [Exit.Xsetbv, { rax: 1n }]],
  "decoded length": [[Exit.Cpuid, { rax: 0x4000_0000n, flags: Flag.NoLength }]],
};

let m: FakeMachine;
beforeEach(async () => {
  m = await machine((f) => {
    f.cpuid = cpuidAll;
    f.images.set(0, new Uint8Array(2 * (N + 8)).map((_, i) => (i & 1 ? 0xa2 : 0x0f))); // cpuid, cpuid, ... (decoded length)
  });
  m.x.initExtendedState();
});

/** A running VM whose vCPU repeats `steps` forever. */
function looping(name: string, steps: Step[]): number {
  const id = m.running(name);
  m.x.resetScript(id, true);
  for (const [kind, o] of steps) m.script(id, kind, o);
  return id;
}

describe("the exit path allocates nothing", () => {
  for (const [what, steps] of Object.entries(KINDS)) {
    it(`${N.toLocaleString("en")} exits: ${what}`, () => {
      const id = looping("v", steps);
      expect(m.x.steps(id, steps.length)).toBe(steps.length); // warm-up: one round
      const top = m.x.heapTop();
      expect(m.x.steps(id, N)).toBe(N); // the VM survives every one of them
      expect(m.x.heapTop() - top, "bytes allocated").toBe(0);
      expect(m.x.exitsTotal(id)).toBe(BigInt(N + steps.length));
      if (what === "decoded length") expect(m.x.rip(id)).toBe(BigInt(0x1000 + 2 * (N + 1))); // each CPUID decoded: 2 bytes
    });
  }

  it("nor does the scheduler: slices over two VMs, every kind mixed, more than 100,000 exits", () => {
    const all = Object.values(KINDS).flat().filter(([k]) => k !== Exit.Preempted); // slices end on the TSC budget
    const a = looping("a", all), b = looping("b", all.slice().reverse());
    m.tscStep = 10_000n; // 499 exits per slice
    m.x.slices(2);
    const top = m.x.heapTop();
    expect(m.x.slices(220)).toBe(220);
    expect(m.x.heapTop() - top, "bytes allocated").toBe(0);
    expect(m.x.exitsTotal(a) + m.x.exitsTotal(b)).toBeGreaterThan(100_000n);
  });

  it("the measure sees an allocation on the path: a finished console line is one string (ABI.md's exception)", () => {
    const id = looping("v", [[Exit.Io, { arg: 0xe9n, arg2: 1, rax: 0x41n }], [Exit.Io, { arg: 0xe9n, arg2: 1, rax: 10n }]]);
    m.x.steps(id, 2);
    const top = m.x.heapTop();
    m.x.steps(id, 200);
    expect(m.x.heapTop() - top).toBeGreaterThan(100 * 8); // 100 lines "A", each at least one heap block
  });

  it("a stopped or halted VM is out of the loop (their reason and log line are once per VM life)", () => {
    const id = m.running("v");
    expect(m.exit(id, Exit.Hlt)).toBe(false);
    expect(m.x.change(id, Op.Reset)).toBe(0);
    expect(m.exit(id, Exit.TripleFault)).toBe(false);
    expect(m.x.runnable()).toBe(0);
  });
});
