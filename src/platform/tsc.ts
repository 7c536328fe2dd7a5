// The TSC's frequency, measured once at boot, so that uptime, switch
// timestamps and guest timers run in real time (integer only).

import { cpuidInto, CpuidResult } from "../hw/cpuid";
import { inb, outb, rdtsc } from "../hw/intrinsics";
import { mulDiv } from "../lib/muldiv";

/** PIT input clock (8254 datasheet; the PC's 14.31818 MHz / 12). */
const PIT_HZ: u64 = 1193182;
/** 10 ms of PIT ticks. */
const PIT_TICKS: u64 = 11932;

/** TSC ticks per second; 1 GHz until calibrateTsc() ran. */
export let tscHz: u64 = 1_000_000_000;
/** How tscHz was found, for the boot log. */
export let tscSource: string = "assumed";

/** PIT windows tried at most; the one with the tightest TSC brackets wins. */
const PIT_TRIES = 16;
/** A window whose start and end are each known within 1/400 of it is taken at once. */
const GOOD_BRACKET_DIV: u64 = 400;

/**
 * CPUID 0x15 (crystal ratio, SDM vol 3 19.7.3) when it gives a frequency, else 10 ms windows of PIT
 * channel 2 (gate through port 0x61, mode 0, OUT2 read back in port 0x61 bit 5).
 *
 * Each window's start and end are bracketed by TSC reads (the start between the reads around the
 * count's second byte, the end between the read before the last low OUT2 sample and the read after the
 * high one), so a window in which the CPU was away (a loaded host descheduling an emulator, an SMI) has
 * wide brackets and is not believed: up to PIT_TRIES windows, the tightest kept. A gap of a few ms at
 * either end of one unbracketed 10 ms window is a 40% error (2.60 to 4.66 GHz were reported for one CPU
 * under QEMU on a loaded host), and every Linux guest's clock inherits it through tsc_early_khz.
 */
export function calibrateTsc(): void {
  const r = new CpuidResult();
  cpuidInto(0, 0, r);
  if (r.eax >= 0x15) {
    cpuidInto(0x15, 0, r);
    if (r.eax != 0 && r.ebx != 0 && r.ecx != 0) {
      tscHz = <u64>r.ecx * <u64>r.ebx / <u64>r.eax;
      tscSource = "CPUID 0x15";
      return;
    }
  }
  // HW: ports 0x42/0x43/0x61 are the PIT's channel 2 and its gate, which nothing else in the monitor uses.
  const ctl = inb(0x61);
  let bestTicks: u64 = 0;
  let bestSlack: u64 = u64.MAX_VALUE;
  let tries = 0;
  for (let i = 0; i < PIT_TRIES; i++) {
    tries++;
    outb(0x61, (ctl & ~0x02) | 0x01); // speaker off, gate on
    outb(0x43, 0xb0); // channel 2, lobyte/hibyte, mode 0 (interrupt on terminal count), binary
    outb(0x42, <i32>(PIT_TICKS & 0xff));
    // 8254 datasheet, mode 0: with GATE high, the count starts on the clock after its last byte is written
    // (QEMU's model ignores GATE in mode 0, so the write, not the gate, is the edge to bracket).
    const s0 = <u64>rdtsc();
    outb(0x42, <i32>(PIT_TICKS >> 8));
    const s1 = <u64>rdtsc();
    let before = s1;
    let after = s1;
    let spins = 0;
    while (spins < 50_000_000) {
      const a = <u64>rdtsc();
      const high = (inb(0x61) & 0x20) != 0;
      after = <u64>rdtsc();
      if (high) break;
      before = a;
      spins++;
    }
    if (spins >= 50_000_000 || after <= s1) break; // no PIT: keep what we have (maybe the assumption)
    const slack = (s1 - s0) + (after - before);
    const ticks = (before + after) / 2 - (s0 + s1) / 2;
    if (slack < bestSlack) {
      bestSlack = slack;
      bestTicks = ticks;
    }
    if (slack * GOOD_BRACKET_DIV < ticks) break;
  }
  outb(0x61, ctl);
  if (bestTicks == 0) return; // no PIT: keep the assumption, said in the log
  tscHz = mulDiv(bestTicks, PIT_HZ, PIT_TICKS);
  // The brackets bound the error: the boot log says how tight they were.
  tscSource = "PIT, " + tries.toString() + " window(s), within " + (bestSlack * 1_000_000 / bestTicks).toString() + " ppm";
}

/** Milliseconds for a TSC difference. */
export function tscToMs(ticks: u64): u64 {
  return ticks / (tscHz / 1000);
}
