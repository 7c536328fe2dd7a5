// The host probes themselves: their no-op firmware must really run to its
// "done" signal where the capability exists (TCG and Bochs are installed
// here), or a broken probe would skip the KVM and Bochs tests everywhere.
import { describe, expect, it } from "vitest";
import { KVM_CPU_MODELS, kvmCpuModel } from "../../scripts/lib/emulators";
import { bochsProbeRom, needHost, probeBochs, probeQemu, qemuProbeRom } from "./host-caps";

describe("host probes", () => {
  it("the QEMU no-op firmware reaches isa-debug-exit under TCG", async () => {
    expect(qemuProbeRom().length).toBe(0x10000);
    expect(await probeQemu("tcg", "qemu64")).toBeNull();
  });

  it("a CPU model QEMU does not know gives a reason, not null", async () => {
    const why = await probeQemu("tcg", "no-such-cpu-model");
    expect(why).toMatch(/^QEMU -accel tcg -cpu no-such-cpu-model cannot run a no-op guest here \(exit status 1\): .*no-such-cpu-model/);
  });

  it("the Bochs no-op firmware reaches the shutdown port on both CPU models the tests use", async () => {
    expect(bochsProbeRom().subarray(0x20, 0x28).toString("latin1")).toBe("Shutdown");
    expect(await probeBochs("corei7_skylake_x")).toBeNull();
    expect(await probeBochs("ryzen")).toBeNull();
    expect(await probeBochs("no_such_model")).toMatch(/^Bochs cannot run a no-op firmware with cpu model no_such_model here: /);
  });

  it("the KVM CPU model is the first that creates a vCPU, with the reason for each one refused before it", () => {
    const m = kvmCpuModel();
    if (m.cpu === null) expect(m.why.length).toBe(KVM_CPU_MODELS.length);
    else {
      expect(KVM_CPU_MODELS.indexOf(m.cpu)).toBe(m.why.length);
      m.why.forEach((w, k) => expect(w).toMatch(new RegExp(`^-cpu ${KVM_CPU_MODELS[k]}: (exit status|killed by)`)));
    }
  });

  it("needHost skips with the reason and records it for scripts/test.mjs", async () => {
    let note: string | undefined;
    const meta: Record<string, unknown> = {};
    const ctx = {
      task: { name: "t", meta },
      skip: (n?: string) => {
        note = n;
        throw new Error("skipped");
      },
    };
    await expect(needHost(ctx as never, Promise.resolve("no widget here"))).rejects.toThrow("skipped");
    expect(note).toBe("no widget here");
    expect(meta.skipReason).toBe("no widget here");
    note = undefined;
    await needHost(ctx as never, Promise.resolve(null));
    expect(note).toBeUndefined();
  });
});
