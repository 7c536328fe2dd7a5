// Guest CPU state that VM entry and exit do not switch, kept per vCPU and
// switched only when another vCPU takes the CPU: x87/SSE/AVX with XCR0,
// DR0-DR3/DR6, and the backend's unswitched MSRs (Vcpu.saveUnswitched).

import { Vcpu } from "./vcpu";
import { allocFrame, cpuidReg, phys_fill, phys_store16, phys_store32, read_cr4, write_cr4 } from "./hw";
import { dr_switch, ext_switch, xgetbv } from "../hw/intrinsics";
import { Cr4, Xcr0 } from "../hw/msr";

/** Offsets in a vCPU's state frame: the XSAVE/FXSAVE area (64-byte aligned, <= 1 KiB for x87|SSE|AVX), then the DRs. */
export const EXT_AREA: u64 = 0;
export const DR_AREA: u64 = 3072;

/** True when the CPU has XSAVE (CPUID.1:ECX[26]); else FXSAVE. */
export let useXsave: bool = false;
/** The state components guests may enable in XCR0: x87, SSE and AVX where the CPU has them. */
export let guestXcr0Mask: u64 = Xcr0.X87;
/** The vCPU whose state is in the registers now (null: none, the registers hold nothing of value). */
let owner: Vcpu | null = null;

/**
 * Boot: lets the monitor save and load extended state: CR4.OSFXSR (FXSAVE
 * includes XMM, SDM vol 3 2.5), CR4.OSXSAVE and XCR0 = every component a
 * guest may use. The monitor itself never touches x87/SSE/AVX or DRs.
 */
export function initLazyState(): void {
  let cr4 = read_cr4() | Cr4.OSFXSR | Cr4.OSXMMEXCPT;
  useXsave = (cpuidReg(1, 0, 2) & (1 << 26)) != 0;
  if (useXsave) {
    // CPUID.(EAX=0DH,ECX=0):EAX = XCR0 bits the CPU supports (SDM vol 1 13.2).
    const supported = <u64>cpuidReg(0xd, 0, 0);
    guestXcr0Mask = supported & (Xcr0.X87 | Xcr0.SSE | Xcr0.AVX);
    if ((guestXcr0Mask & Xcr0.SSE) == 0) guestXcr0Mask &= ~Xcr0.AVX; // AVX needs SSE (SDM vol 1 13.3)
    cr4 |= Cr4.OSXSAVE;
  } else {
    guestXcr0Mask = Xcr0.X87 | Xcr0.SSE;
  }
  write_cr4(cr4);
}

/**
 * A fresh state frame for a vCPU at power-on (SDM vol 3 9.1.1): x87 and SSE
 * in their initial configuration (XSTATE_BV 0 means "initial" to XRSTOR),
 * MXCSR 0x1F80, FCW 0x40 for FXRSTOR, DRs 0 and DR6 0xFFFF0FF0; XCR0 = x87.
 */
export function resetLazyState(v: Vcpu): void {
  if (v.statePa == 0) v.statePa = allocFrame();
  else if (owner === v) owner = null; // its live registers are stale now; reloaded from the frame
  const pa = v.statePa;
  phys_fill(pa, 0, 4096);
  phys_store16(pa + EXT_AREA, 0x40); // FCW (FXSAVE layout, SDM vol 1 10.5.1)
  phys_store32(pa + EXT_AREA + 24, 0x1f80); // MXCSR
  phys_store32(pa + DR_AREA + 32, 0xffff0ff0); // DR6
  v.xcr0 = Xcr0.X87;
}

/** Makes `v`'s unswitched state live before it runs; a no-op when it is already. */
export function switchLazyState(v: Vcpu): void {
  if (owner === v) return;
  const prev = owner;
  const full = useXsave ? guestXcr0Mask : 0;
  if (prev) {
    // The live XCR0 is the guest's: an emulator that does not intercept XSETBV lets the guest set it itself.
    if (useXsave) prev.xcr0 = <u64>xgetbv(0);
    ext_switch(<i64>prev.statePa, <i64>v.statePa, <i64>full, <i64>v.xcr0, useXsave ? 1 : 0);
    dr_switch(<i64>(prev.statePa + DR_AREA), <i64>(v.statePa + DR_AREA));
    prev.saveUnswitched();
  } else {
    ext_switch(0, <i64>v.statePa, <i64>full, <i64>v.xcr0, useXsave ? 1 : 0);
    dr_switch(0, <i64>(v.statePa + DR_AREA));
  }
  v.loadUnswitched();
  owner = v;
}

/** The running vCPU's XCR0 as the CPU has it (CPUID 0xD reports sizes for it). */
export function liveXcr0(v: Vcpu): u64 {
  return owner === v && useXsave ? <u64>xgetbv(0) : v.xcr0;
}

/** XSETBV by the running guest (SDM vol 1 13.3): false when the value must #GP; else live at once. */
export function setGuestXcr0(v: Vcpu, value: u64): bool {
  if ((value & Xcr0.X87) == 0) return false;
  if ((value & ~guestXcr0Mask) != 0) return false;
  if ((value & Xcr0.AVX) != 0 && (value & Xcr0.SSE) == 0) return false;
  v.xcr0 = value;
  if (owner === v) ext_switch(<i64>v.statePa, <i64>v.statePa, <i64>guestXcr0Mask, <i64>value, 1);
  return true;
}
