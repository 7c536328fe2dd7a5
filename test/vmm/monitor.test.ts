// src/vmm/monitor.ts against fake vCPUs (test/vmm/fake): the state changes of vm.start/stop/pause/resume/reset
// and their VmError codes, slices by charged time over running VMs, the slice's TSC budget, and the lazy state
// switched only when another vCPU takes the CPU.
import { beforeEach, describe, expect, it } from "vitest";
import { Exit, FakeMachine, machine, Op, Reg, SLICE_TSC, State, VmError } from "./fake/machine";

let m: FakeMachine;
beforeEach(async () => {
  m = await machine((f) => {
    f.images.set(3, Uint8Array.from([0xeb, 0xfe])); // jmp $
  });
});

/** The vCPU tags (VM id + 1) in the order they ran since the last call. */
function ran(): number[] {
  const out: number[] = [];
  for (let i = 0; i < m.x.traceLen(); i++) out.push(m.x.trace(i) - 1);
  m.x.clearTrace();
  return out;
}

describe("state changes", () => {
  it("follow PROTOCOL.md: each operation from each state, WrongState where it does not apply, nothing changed then", () => {
    const id = m.create("a");
    // from each state, the result of each operation and the state after it
    const table: [number, number, number, number][] = [
      [State.Created, Op.Stop, VmError.WrongState, State.Created],
      [State.Created, Op.Pause, VmError.WrongState, State.Created],
      [State.Created, Op.Resume, VmError.WrongState, State.Created],
      [State.Created, Op.Reset, VmError.WrongState, State.Created],
      [State.Created, Op.Start, 0, State.Running],
      [State.Running, Op.Start, VmError.WrongState, State.Running],
      [State.Running, Op.Resume, VmError.WrongState, State.Running],
      [State.Running, Op.Pause, 0, State.Paused],
      [State.Paused, Op.Pause, VmError.WrongState, State.Paused],
      [State.Paused, Op.Start, VmError.WrongState, State.Paused],
      [State.Paused, Op.Resume, 0, State.Running],
      [State.Running, Op.Stop, 0, State.Stopped],
      [State.Stopped, Op.Stop, VmError.WrongState, State.Stopped],
      [State.Stopped, Op.Pause, VmError.WrongState, State.Stopped],
      [State.Stopped, Op.Resume, VmError.WrongState, State.Stopped],
      [State.Stopped, Op.Reset, 0, State.Running],
      [State.Running, Op.Pause, 0, State.Paused],
      [State.Paused, Op.Stop, 0, State.Stopped],
      [State.Stopped, Op.Start, 0, State.Running],
      [State.Running, Op.Reset, 0, State.Running],
      [State.Running, 7, VmError.WrongState, State.Running], // not an operation
    ];
    for (const [from, op, code, to] of table) {
      expect(m.x.state(id), `before op ${op}`).toBe(from);
      expect(m.x.change(id, op), `op ${op} from ${from}`).toBe(code);
      expect(m.x.state(id), `after op ${op} from ${from}`).toBe(to);
    }
  });

  it("start and reset load the image into fresh RAM, power-on state, counters zeroed; reset flushes the guest TLB", () => {
    const id = m.create("a", 3);
    const ram = m.u64(m.x.ramPa(id));
    expect(m.x.change(id, Op.Start)).toBe(0);
    expect(m.x.setStates(id)).toBe(1);
    expect(m.x.rip(id)).toBe(0x1000n);
    expect(m.phys.getUint16(Number(ram) + 0x1000, true)).toBe(0xfeeb);
    m.phys.setUint32(Number(ram) + 0x2000, 0x12345678, true); // the guest wrote to its RAM
    expect(m.exit(id, Exit.Cpuid, { rax: 0n })).toBe(true);
    expect(m.x.exitsTotal(id)).toBe(1n);
    expect(m.x.flushes()).toBe(0);
    expect(m.x.change(id, Op.Reset)).toBe(0);
    expect(m.x.flushes()).toBe(1);
    expect(m.x.setStates(id)).toBe(2);
    expect(m.x.exitsTotal(id)).toBe(0n);
    expect(m.phys.getUint32(Number(ram) + 0x2000, true)).toBe(0);
    expect(m.phys.getUint16(Number(ram) + 0x1000, true)).toBe(0xfeeb);
    expect(m.reg(id, Reg.Rax)).toBe(0n); // GPRs zeroed
  });

  it("an image that cannot be loaded is NoResources and leaves the VM as it was", () => {
    const id = m.create("a", 9); // no such embedded image
    expect(m.x.change(id, Op.Start)).toBe(VmError.NoResources);
    expect(m.x.state(id)).toBe(State.Created);
  });

  it("create refuses a VM when memory runs out", () => {
    expect(m.create("huge", 0, 1n << 30n)).toBe(-1);
    expect(m.com1).toContain("no memory for VM huge");
  });
});

describe("scheduling", () => {
  it("the least-charged running VM first, ties in round-robin order, skipping created, paused, stopped and halted ones", () => {
    const a = m.running("a"), b = m.running("b"), c = m.running("c"), d = m.create("d");
    // an empty script ends each run with Preempted: one exit per slice
    expect(m.x.slices(9)).toBe(9);
    expect(ran()).toEqual([a, b, c, a, b, c, a, b, c]);
    expect(m.x.change(b, Op.Pause)).toBe(0);
    expect(m.x.slices(4)).toBe(4);
    expect(ran()).toEqual([a, c, a, c]);
    expect(m.x.change(b, Op.Resume)).toBe(0);
    expect(m.x.change(c, Op.Stop)).toBe(0);
    m.x.slices(4);
    // b, paused while a ran two more slices, is charged two slices less: it runs until it has caught up
    // (here the floor of one SLICE_TSC below the last chosen VM is far below: these fake slices are short)
    expect(ran()).toEqual([b, b, a, b]);
    m.script(a, Exit.Hlt);
    m.x.slices(3);
    expect(ran()).toEqual([a, b, b]); // a halted in its slice and is not scheduled again
    expect(m.x.isHalted(a)).toBe(1);
    expect(m.x.state(d)).toBe(State.Created);
    expect(m.x.change(b, Op.Stop)).toBe(0);
    expect(m.x.runnable()).toBe(0);
    expect(m.x.slices(3)).toBe(0);
    expect(ran()).toEqual([]);
  });

  it("a slice ends when its TSC budget is spent, however many exits it takes; then the next VM runs", () => {
    const a = m.running("a"), b = m.running("b");
    m.x.resetScript(a, true);
    m.script(a, Exit.Cpuid, { rax: 0x4000_0000n });
    m.tscStep = 10_000n; // one rdtsc per exit in the slice loop
    m.x.slices(2);
    const runs = ran();
    expect(runs.length).toBe(Number(SLICE_TSC / m.tscStep)); // 499 CPUID exits, then b
    expect(runs.filter((v) => v === a).length).toBe(Number(SLICE_TSC / m.tscStep) - 1);
    expect(runs.at(-1)).toBe(b);
    expect(m.x.exits(a, Exit.Cpuid)).toBe(SLICE_TSC / m.tscStep - 1n);
  });

  it("HLT parks a VM with a platform until its LAPIC timer fires, and the interrupt is injected when IF allows", () => {
    const id = m.running("linux");
    m.x.attachPlatform(id);
    m.tscStep = 1n;
    const wr = (msr: bigint, v: bigint) => m.exit(id, Exit.MsrWrite, { rcx: msr, rax: v & 0xffff_ffffn, rdx: v >> 32n });
    wr(0x1bn, 0xfee0_0000n | 0x900n | 0x400n); // IA32_APIC_BASE: enabled, BSP, x2APIC (SDM 10.12.1)
    wr(0x80fn, 0x1ffn); // SVR: APIC software-enabled
    wr(0x832n, 0x40n | (2n << 17n)); // LVT timer: vector 0x40, TSC-deadline mode (SDM 10.5.4.1)
    const deadline = m.tsc + 1_000_000n;
    wr(0x6e0n, deadline);
    expect([m.x.injections(id), m.x.msrDenied(id)]).toEqual([0, 0n]);
    expect(m.exit(id, Exit.Hlt)).toBe(false);
    expect(m.x.isHalted(id)).toBe(0); // PROTOCOL.md `halted` is for test guests, which nothing can wake
    expect(m.x.change(id, Op.Pause)).toBe(0); // and a parked VM can be paused
    expect(m.x.change(id, Op.Resume)).toBe(0);
    ran();
    expect(m.x.runnable()).toBe(0);
    expect(m.x.runSlice()).toBe(0);
    m.x.setInterruptible(id, 0); // HLT with IF = 0: only NMI/INIT would wake it
    m.tsc = deadline + 10n;
    expect(m.x.runnable()).toBe(0);
    m.x.setInterruptible(id, 1);
    expect(m.x.runnable()).toBe(1);
    expect(m.x.runSlice()).toBe(1);
    expect(ran()).toEqual([id]);
    expect(m.x.lastInterrupt(id)).toBe(0x40);
  });

  it("switches the lazily switched state only when another vCPU takes the CPU", () => {
    const a = m.running("a");
    m.x.slices(3);
    expect(m.calls.get("ext_switch")).toBe(1);
    expect(m.calls.get("dr_switch")).toBe(1);
    const b = m.running("b");
    m.x.slices(4);
    // b starts charged nothing and catches up a's three slices, then a runs
    expect(ran()).toEqual([a, a, a, b, b, b, a]);
    expect(m.calls.get("ext_switch")).toBe(3); // a -> b, b -> a
    expect(m.calls.get("dr_switch")).toBe(3);
  });
});
