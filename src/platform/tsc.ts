// The TSC's frequency, measured once at boot, so that uptime, switch
// timestamps and guest timers run in real time (integer only).

import { cpuidInto, CpuidResult } from "../hw/cpuid";
import { inb, outb, rdtsc } from "../hw/intrinsics";

/** PIT input clock (8254 datasheet; the PC's 14.31818 MHz / 12). */
const PIT_HZ: u64 = 1193182;
/** 10 ms of PIT ticks. */
const PIT_TICKS: u64 = 11932;

/** TSC ticks per second; 1 GHz until calibrateTsc() ran. */
export let tscHz: u64 = 1_000_000_000;
/** How tscHz was found, for the boot log. */
export let tscSource: string = "assumed";

/**
 * CPUID 0x15 (crystal ratio, SDM vol 3 19.7.3) when it gives a frequency, else 10 ms of PIT channel 2
 * (gate through port 0x61, mode 0, OUT2 read back in port 0x61 bit 5).
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
  // Five measurements, the shortest kept: being descheduled (an emulator on a loaded host, an SMI) can only
  // lengthen one, and a 14% long one made every Linux guest's clock run 14% slow.
  const ctl = inb(0x61);
  let best: u64 = u64.MAX_VALUE;
  for (let k = 0; k < 5; k++) {
    outb(0x61, (ctl & ~0x03)); // gate off: the counter reloads when the gate rises (8254 mode 0)
    outb(0x61, (ctl & ~0x02) | 0x01); // speaker off, gate on
    outb(0x43, 0xb0); // channel 2, lobyte/hibyte, mode 0 (interrupt on terminal count), binary
    outb(0x42, <i32>(PIT_TICKS & 0xff));
    outb(0x42, <i32>(PIT_TICKS >> 8));
    const t0 = <u64>rdtsc();
    let spins = 0;
    while ((inb(0x61) & 0x20) == 0 && spins < 50_000_000) spins++;
    const t1 = <u64>rdtsc();
    if (spins >= 50_000_000 || t1 <= t0) break; // no PIT: keep the assumption, said in the log
    if (t1 - t0 < best) best = t1 - t0;
  }
  outb(0x61, ctl);
  if (best == u64.MAX_VALUE) return;
  tscHz = best * PIT_HZ / PIT_TICKS;
  tscSource = "PIT";
}

/** Milliseconds for a TSC difference. */
export function tscToMs(ticks: u64): u64 {
  return ticks / (tscHz / 1000);
}
