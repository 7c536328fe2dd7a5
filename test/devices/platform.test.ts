// GuestPlatform, the device set as the VMM uses it: guest mov instructions through the decoder program the IOAPIC and xAPIC, the UART interrupts through GSI 4, a PCI function's MSI-X reaches the LAPIC, the timer wakes a halted vCPU.
import { beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { Exports, load, root } from "./harness";

let x: Exports;
beforeAll(async () => {
  x = await load(join(root, "test/devices/platform-entry.ts"));
});

const RAX = 0, RCX = 1, RDX = 2, RBX = 3;
/** Runs one guest mov that faulted at `gpa` (as the VMM would after an EPT/NPT violation). */
function guest(hex: string, gpa: bigint): number {
  const b = hex.split(" ").map((h) => parseInt(h, 16));
  new Uint8Array(x.memory.buffer, x.insnPtr(), 16).set(b);
  return x.mmioExit(gpa, b.length);
}
const cfgW = (dev: number, reg: number, v: number): void => {
  x.portExit(0xcf8, 4, true, (0x80000000 | (dev << 11) | reg) >>> 0);
  x.portExit(0xcfc, 4, true, v >>> 0);
};

describe("one VM's platform", () => {
  it("UART output and a THRE interrupt travel UART -> IOAPIC pin 4 -> LAPIC -> injection -> EOI", () => {
    // Guest: enable the xAPIC (SVR = 0x1FF) with mov [rbx], eax at 0xFEE000F0.
    x.setReg(RAX, 0x1ffn);
    expect(guest("89 03", 0xfee000f0n)).toBe(2);
    // Route IOAPIC pin 4 to vector 0x24: IOREGSEL = 0x18 (byte store), IOWIN = 0x24 (dword store from ecx).
    expect(guest("c6 03 18", 0xfec00000n)).toBe(3);
    x.setReg(RCX, 0x24n);
    expect(guest("89 0b", 0xfec00010n)).toBe(2);
    // Read it back with movzx edx, byte [rbx].
    expect(guest("0f b6 13", 0xfec00010n)).toBe(3);
    expect(x.getReg(RDX)).toBe(0x24n);
    // The guest's 8250 driver: print, then enable THRE interrupts.
    for (const c of "hello\n") x.portExit(0x3f8, 1, true, c.charCodeAt(0));
    expect(x.consoleLines()).toBe("[vm] hello");
    x.portExit(0x3f9, 1, true, 0x02);
    expect(x.injectable()).toBe(0x24);
    expect(x.portExit(0x3fa, 1, false, 0) & 0x0f).toBe(0x02); // IIR: THRE
    // EOI through the xAPIC page: mov dword [rbx], 0 at 0xFEE000B0.
    expect(guest("c7 03 00 00 00 00", 0xfee000b0n)).toBe(6);
    expect(x.injectable()).toBe(-1);
    // Console input raises a receive interrupt.
    x.portExit(0x3f9, 1, true, 0x01);
    x.input("ls\r");
    expect(x.injectable()).toBe(0x24);
    expect(String.fromCharCode(x.portExit(0x3f8, 1, false, 0), x.portExit(0x3f8, 1, false, 0))).toBe("ls");
  });

  it("a PCI function's MSI-X message, programmed by the guest through its BAR, reaches the LAPIC", () => {
    x.setReg(RAX, 0x1ffn);
    guest("89 03", 0xfee000f0n);
    cfgW(2, 0x10, 0xc0000000); // BAR0
    cfgW(2, 0x04, 0x6); // memory + bus master
    cfgW(2, 0x40 + 0, 0x80000000); // MSI-X enable (control word at cap + 2: write the dword from cap + 0)
    // Entry 1: address 0xFEE00000, data 0x41, unmasked, written with 32-bit and 64-bit movs.
    x.setReg(RAX, 0xfee00000n);
    expect(guest("48 89 03", 0xc0000810n)).toBe(3);
    x.setReg(RAX, 0x41n);
    guest("89 03", 0xc0000818n);
    x.setReg(RAX, 0n);
    guest("89 03", 0xc000081cn);
    // The guest rings the doorbell: the device sends vector 1.
    x.setReg(RAX, 1n);
    guest("89 03", 0xc0000100n);
    expect(x.injectable()).toBe(0x41);
  });

  it("the TSC-deadline timer tells the VMM when to wake a halted vCPU", () => {
    x.wrmsr(0x1b, 0xfee00d00n); // x2APIC
    x.wrmsr(0x80f, 0x1ffn);
    // The earlier tests left 0x24 and 0x41 in service: PPR holds 0x30 back until they are retired.
    x.wrmsr(0x832, BigInt(0x30 | (2 << 17)));
    x.wrmsr(0x6e0, 5_000_000n + 1_000_000n);
    const d = x.nextDeadline();
    expect(d).toBeGreaterThan(0n);
    expect(x.injectable()).toBe(-1);
    x.advance(BigInt.asUintN(64, d));
    expect(x.injectable()).toBe(-1);
    expect(x.wrmsr(0x80b, 0n)).toBe(true); // EOI 0x41: PPR drops to 0x20 (0x24 still in service)
    expect(x.injectable()).toBe(0x30); // class 3 is above class 2
    expect(x.nextDeadline()).toBe(0xffffffffffffffffn); // fired: disarmed
  });

  it("an instruction it cannot decode stops the VM with the bytes in the reason", () => {
    expect(guest("0f 0b 90", 0xfec00000n)).toBe(-1);
    expect(x.stopped()).toBe("cannot decode MMIO instruction at 0xfec00000 (unsupported opcode): 0f 0b 90");
  });
  it("an access no device claims stops the VM with the address", () => {
    expect(guest("8b 03", 0xd0000000n)).toBe(-1);
    expect(x.stopped()).toBe("guest-physical access outside RAM at 0xd0000000 (read)");
  });
});
