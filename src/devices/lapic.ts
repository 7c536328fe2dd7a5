// The vCPU's local APIC: x2APIC MSRs and the xAPIC MMIO page over one register file, the timer (one-shot, periodic, TSC-deadline), IRR/ISR/TMR and EOI (SDM vol 3 ch. 10).

import { BusDevice, Clock } from "./device";
import { mulDiv } from "../lib/muldiv";

export const MSR_IA32_APIC_BASE: u32 = 0x1b;
export const MSR_IA32_TSC_DEADLINE: u32 = 0x6e0;
export const MSR_X2APIC_FIRST: u32 = 0x800;
export const MSR_X2APIC_LAST: u32 = 0x8ff;
export const XAPIC_DEFAULT_BASE: u64 = 0xfee00000;
export const XAPIC_PAGE_SIZE: u64 = 0x1000;

// Register indexes: x2APIC MSR - 0x800, which is also the xAPIC MMIO offset >> 4 (SDM 10.12.1.2, table 10-6).
const R_ID: u32 = 0x02;
const R_VERSION: u32 = 0x03;
const R_TPR: u32 = 0x08;
const R_APR: u32 = 0x09;
const R_PPR: u32 = 0x0a;
const R_EOI: u32 = 0x0b;
const R_RRD: u32 = 0x0c;
const R_LDR: u32 = 0x0d;
const R_DFR: u32 = 0x0e;
const R_SVR: u32 = 0x0f;
const R_ISR: u32 = 0x10;
const R_TMR: u32 = 0x18;
const R_IRR: u32 = 0x20;
const R_ESR: u32 = 0x28;
const R_ICR: u32 = 0x30;
const R_ICR_HIGH: u32 = 0x31;
const R_LVT_TIMER: u32 = 0x32;
const R_LVT_THERMAL: u32 = 0x33;
const R_LVT_PERF: u32 = 0x34;
const R_LVT_LINT0: u32 = 0x35;
const R_LVT_LINT1: u32 = 0x36;
const R_LVT_ERROR: u32 = 0x37;
const R_TIMER_INITIAL: u32 = 0x38;
const R_TIMER_CURRENT: u32 = 0x39;
const R_TIMER_DIVIDE: u32 = 0x3e;
const R_SELF_IPI: u32 = 0x3f;

const LVT_COUNT: u32 = 6; // timer, thermal, perf, LINT0, LINT1, error (no CMCI)
const LVT_MASKED: u32 = 1 << 16;
const SVR_ENABLE: u32 = 1 << 8;

const TIMER_ONESHOT: u32 = 0;
const TIMER_PERIODIC: u32 = 1;
const TIMER_DEADLINE: u32 = 2;

// ESR bits (SDM 10.5.3).
const ESR_SEND_ILLEGAL: u32 = 1 << 5;
const ESR_RECV_ILLEGAL: u32 = 1 << 6;
const ESR_ILLEGAL_REGISTER: u32 = 1 << 7;

const BASE_BSP: u64 = 1 << 8;
const BASE_EXTD: u64 = 1 << 10;
const BASE_EN: u64 = 1 << 11;

/** Told of an EOI for a level-triggered vector (the IOAPIC clears its remote IRR; SDM 10.8.5). */
export abstract class EoiListener {
  abstract eoi(vector: u32): void;
}

export class Lapic {
  private apicBase: u64;
  private tpr: u32 = 0;
  private ldrX: u32 = 0; // xAPIC LDR (x2APIC derives it from the ID)
  private dfr: u32 = 0xffffffff;
  private svr: u32 = 0xff;
  private readonly isr: StaticArray<u32> = new StaticArray<u32>(8);
  private readonly tmr: StaticArray<u32> = new StaticArray<u32>(8);
  private readonly irr: StaticArray<u32> = new StaticArray<u32>(8);
  private esr: u32 = 0;
  private icr: u64 = 0;
  private readonly lvt: StaticArray<u32> = new StaticArray<u32>(<i32>LVT_COUNT);
  private divide: u32 = 0;

  // Timer: the initial count the guest wrote; the count it had at `baseTsc` (for one-shot/periodic);
  // `deadline` the guest TSC of the next expiry (0: not armed).
  private initialCount: u32 = 0;
  private baseCount: u32 = 0;
  private baseTsc: u64 = 0;
  private deadline: u64 = 0;
  private tscDeadline: u64 = 0;

  /** Listener for level-triggered EOIs (the IOAPIC). */
  eoiListener: EoiListener | null = null;
  /** Counters: timer interrupts, IPIs to other CPUs or with unsupported delivery modes (dropped), invalid accesses (#GP or ignored). */
  timerFires: u64 = 0;
  droppedIpis: u64 = 0;
  badAccesses: u64 = 0;
  /** The result of the last successful `readMsr`. */
  value: u64 = 0;

  /**
   * `busHz` is the frequency the one-shot/periodic counter runs at before
   * the divider (what CPUID 0x15/0x16 or the hypervisor leaf tells the guest).
   */
  constructor(readonly id: u32, private readonly clock: Clock, readonly busHz: u64, bsp: bool = true) {
    this.apicBase = XAPIC_DEFAULT_BASE | BASE_EN | (bsp ? BASE_BSP : 0);
    this.reset();
  }

  /** Power-up state of the registers (SDM 10.4.7.1); the APIC base MSR keeps its value. */
  reset(): void {
    this.tpr = 0;
    this.ldrX = 0;
    this.dfr = 0xffffffff;
    this.svr = 0xff;
    for (let i = 0; i < 8; i++) {
      unchecked((this.isr[i] = 0));
      unchecked((this.tmr[i] = 0));
      unchecked((this.irr[i] = 0));
    }
    this.esr = 0;
    this.icr = 0;
    for (let i = 0; i < <i32>LVT_COUNT; i++) unchecked((this.lvt[i] = LVT_MASKED));
    this.divide = 0;
    this.initialCount = 0;
    this.baseCount = 0;
    this.deadline = 0;
    this.tscDeadline = 0;
  }

  // ---- modes ----

  x2apic(): bool {
    return (this.apicBase & (BASE_EN | BASE_EXTD)) == (BASE_EN | BASE_EXTD);
  }
  xapic(): bool {
    return (this.apicBase & (BASE_EN | BASE_EXTD)) == BASE_EN;
  }
  hardwareEnabled(): bool {
    return (this.apicBase & BASE_EN) != 0;
  }
  softwareEnabled(): bool {
    return this.hardwareEnabled() && (this.svr & SVR_ENABLE) != 0;
  }
  /** Where the xAPIC page is mapped (the VMM registers it on its MMIO bus). */
  mmioBase(): u64 {
    return this.apicBase & 0x000ffffffffff000;
  }

  // ---- MSRs: IA32_APIC_BASE, IA32_TSC_DEADLINE and the x2APIC range ----

  /** True for the MSRs this model owns (the VMM routes them here). */
  static ownsMsr(msr: u32): bool {
    return msr == MSR_IA32_APIC_BASE || msr == MSR_IA32_TSC_DEADLINE || (msr >= MSR_X2APIC_FIRST && msr <= MSR_X2APIC_LAST);
  }

  /** RDMSR: true with the result in `value`, false when the guest must get #GP. */
  readMsr(msr: u32): bool {
    if (msr == MSR_IA32_APIC_BASE) {
      this.value = this.apicBase;
      return true;
    }
    if (msr == MSR_IA32_TSC_DEADLINE) {
      this.poll();
      this.value = this.timerMode() == TIMER_DEADLINE ? this.tscDeadline : 0;
      return true;
    }
    // The x2APIC MSRs exist only in x2APIC mode (SDM 10.12.1.2).
    if (msr < MSR_X2APIC_FIRST || msr > MSR_X2APIC_LAST || !this.x2apic()) return this.gp();
    const r = msr - MSR_X2APIC_FIRST;
    // Write-only registers and xAPIC-only ones fault on read.
    if (r == R_EOI || r == R_SELF_IPI || r == R_APR || r == R_RRD || r == R_DFR || r == R_ICR_HIGH) return this.gp();
    if (!this.readable(r)) return this.gp();
    this.value = this.regRead(r, true);
    return true;
  }

  /** WRMSR: false when the guest must get #GP. */
  writeMsr(msr: u32, v: u64): bool {
    if (msr == MSR_IA32_APIC_BASE) return this.writeApicBase(v);
    if (msr == MSR_IA32_TSC_DEADLINE) {
      // Ignored outside TSC-deadline mode; 0 disarms (SDM 10.5.4.1).
      if (this.timerMode() == TIMER_DEADLINE) {
        this.tscDeadline = v;
        this.deadline = v;
        this.poll();
      }
      return true;
    }
    if (msr < MSR_X2APIC_FIRST || msr > MSR_X2APIC_LAST || !this.x2apic()) return this.gp();
    const r = msr - MSR_X2APIC_FIRST;
    // Bits 63:32 are reserved in every x2APIC register but the ICR (SDM 10.12.1.2).
    if (r != R_ICR && (v >> 32) != 0) return this.gp();
    const lo = <u32>v;
    if (r == R_EOI || r == R_ESR) {
      if (lo != 0) return this.gp(); // a non-zero write faults in x2APIC mode
    } else if (r == R_SELF_IPI) {
      if ((lo & 0xffffff00) != 0) return this.gp();
    } else if (r == R_ICR) {
      // handled below
    } else if (
      r != R_TPR && r != R_SVR && r != R_TIMER_INITIAL && r != R_TIMER_DIVIDE && !(r >= R_LVT_TIMER && r <= R_LVT_ERROR)
    ) {
      return this.gp(); // read-only (ID, version, PPR, LDR, ISR/TMR/IRR, current count) or not implemented
    }
    this.regWrite(r, v, true);
    return true;
  }

  /**
   * IA32_APIC_BASE (SDM 10.4.4, 10.12.5): BSP is read-only; the legal mode
   * transitions are disabled -> xAPIC or x2APIC, xAPIC -> x2APIC, any -> disabled.
   * Disabling resets the APIC.
   */
  private writeApicBase(v: u64): bool {
    const reserved: u64 = 0xfff00000000002ff; // bits 7:0, 9 and above MAXPHYADDR 52
    if ((v & reserved) != 0) return this.gp();
    const en = (v & BASE_EN) != 0;
    const extd = (v & BASE_EXTD) != 0;
    if (extd && !en) return this.gp();
    if (this.x2apic() && en && !extd) return this.gp(); // x2APIC -> xAPIC directly is illegal
    const wasEnabled = this.hardwareEnabled();
    this.apicBase = (v & ~BASE_BSP) | (this.apicBase & BASE_BSP);
    if (wasEnabled && !en) this.reset();
    return true;
  }

  // ---- the xAPIC page ----

  /** A read in the xAPIC page (offset 0..0xFFF): registers are 32 bits on 16-byte boundaries; anything else reads 0. */
  mmioRead(offset: u64, size: u32): u64 {
    if (!this.xapic() || offset >= XAPIC_PAGE_SIZE || (offset & 0xf) != 0) {
      this.badAccesses++;
      return 0;
    }
    const r = <u32>(offset >> 4);
    if (r == R_EOI || r == R_SELF_IPI || !this.readable(r)) {
      this.badAccesses++;
      if (r != R_EOI) this.error(ESR_ILLEGAL_REGISTER);
      return 0;
    }
    return this.regRead(r, false) & 0xffffffff;
  }

  /** A write in the xAPIC page: 32-bit writes to writable registers; others ignored and counted. */
  mmioWrite(offset: u64, size: u32, value: u64): void {
    if (!this.xapic() || offset >= XAPIC_PAGE_SIZE || (offset & 0xf) != 0 || size < 4) {
      this.badAccesses++;
      return;
    }
    const r = <u32>(offset >> 4);
    const writable =
      r == R_ID || r == R_TPR || r == R_EOI || r == R_LDR || r == R_DFR || r == R_SVR || r == R_ESR || r == R_ICR ||
      r == R_ICR_HIGH || (r >= R_LVT_TIMER && r <= R_LVT_ERROR) || r == R_TIMER_INITIAL || r == R_TIMER_DIVIDE;
    if (!writable) {
      this.badAccesses++;
      if (!this.readable(r)) this.error(ESR_ILLEGAL_REGISTER);
      return;
    }
    this.regWrite(r, value & 0xffffffff, false);
  }

  // ---- interrupts in ----

  /**
   * A fixed interrupt for this APIC (from the IOAPIC or an MSI): IRR set,
   * TMR set for level-triggered (SDM 10.8.4). Vectors 0-15 are illegal and
   * only raise an error (SDM 10.5.3).
   */
  accept(vector: u32, level: bool): void {
    if (!this.hardwareEnabled()) return;
    vector &= 0xff;
    if (vector < 16) {
      this.error(ESR_RECV_ILLEGAL);
      return;
    }
    setBit(this.irr, vector, true);
    setBit(this.tmr, vector, level);
  }

  /**
   * An MSI write (address 0xFEExxxxx, SDM 10.11.1-2): fixed or lowest-priority
   * to this APIC's ID (physical) is accepted; false for anything else.
   */
  acceptMsi(address: u64, data: u32): bool {
    if ((address >> 20) != 0xfee) return false;
    const dest = <u32>(address >> 12) & 0xff;
    const logical = (address & 4) != 0;
    const mode = (data >> 8) & 7;
    if (mode != 0 && mode != 1) {
      this.droppedIpis++;
      return false;
    }
    if (!this.matches(dest, logical)) return false;
    // Trigger mode (bit 15) level only counts when asserted (bit 14) (SDM 10.11.2).
    this.accept(data & 0xff, (data & 0x8000) != 0);
    return true;
  }

  /** True when `dest` names this APIC: its ID in physical mode, a bit of its logical ID in flat logical mode (SDM 10.6.2). */
  matches(dest: u32, logical: bool): bool {
    if (!logical) return dest == (this.id & 0xff) || dest == 0xff;
    if (this.x2apic()) return false; // cluster mode via 8-bit destinations is not supported
    return ((this.ldrX >> 24) & dest) != 0;
  }

  /**
   * The vector to inject: the highest in IRR whose priority class is above
   * PPR's (SDM 10.8.3.1), or -1. Expired timers are delivered first.
   */
  pendingVector(): i32 {
    this.poll();
    const v = highest(this.irr);
    if (v < 0) return -1;
    if (((<u32>v) & 0xf0) <= (this.ppr() & 0xf0)) return -1;
    return v;
  }

  /** The vector was injected: IRR -> ISR (SDM 10.8.4). */
  ack(vector: u32): void {
    vector &= 0xff;
    if (!getBit(this.irr, vector)) return;
    setBit(this.irr, vector, false);
    setBit(this.isr, vector, true);
  }

  /** The guest TSC of the next timer expiry (u64 max when none): the VMM wakes a halted vCPU then. */
  nextDeadline(): u64 {
    this.poll();
    if (this.deadline == 0 || (this.lvtAt(R_LVT_TIMER) & LVT_MASKED) != 0) return u64.MAX_VALUE;
    return this.deadline;
  }

  /** Fires an expired timer (the VMM calls it before injecting; reads and pendingVector call it too). */
  poll(): void {
    if (this.deadline == 0) return;
    const now = this.clock.now();
    if (now < this.deadline) return;
    const mode = this.timerMode();
    const lvt = this.lvtAt(R_LVT_TIMER);
    if (mode == TIMER_PERIODIC && this.initialCount != 0) {
      // Re-arm from the missed expiry; ticks missed while the vCPU was descheduled fold into one interrupt.
      const period = this.countsToTsc(<u64>this.initialCount);
      let next = period > u64.MAX_VALUE - this.deadline ? u64.MAX_VALUE : this.deadline + period;
      if (next <= now) next = period > u64.MAX_VALUE - now ? u64.MAX_VALUE : now - ((now - this.deadline) % period) + period;
      this.baseTsc = next - period;
      this.baseCount = this.initialCount;
      this.deadline = next;
    } else {
      this.deadline = 0;
      this.baseCount = 0;
      if (mode == TIMER_DEADLINE) this.tscDeadline = 0; // fired: the MSR reads 0 (SDM 10.5.4.1)
    }
    if ((lvt & LVT_MASKED) == 0 && this.softwareEnabled()) {
      this.timerFires++;
      this.accept(lvt & 0xff, false);
    }
  }

  // ---- registers ----

  private readable(r: u32): bool {
    return (
      r == R_ID || r == R_VERSION || r == R_TPR || r == R_APR || r == R_PPR || r == R_RRD || r == R_LDR || r == R_DFR ||
      r == R_SVR || (r >= R_ISR && r < R_IRR + 8) || r == R_ESR || r == R_ICR || r == R_ICR_HIGH ||
      (r >= R_LVT_TIMER && r <= R_LVT_ERROR) || r == R_TIMER_INITIAL || r == R_TIMER_CURRENT || r == R_TIMER_DIVIDE
    );
  }

  private regRead(r: u32, x2: bool): u64 {
    if (r == R_ID) return x2 ? <u64>this.id : <u64>(this.id << 24);
    // Version 0x14 (integrated APIC), max LVT entry 5 (SDM 10.4.8).
    if (r == R_VERSION) return <u64>(0x14 | ((LVT_COUNT - 1) << 16));
    if (r == R_TPR) return <u64>this.tpr;
    if (r == R_PPR) return <u64>this.ppr();
    if (r == R_LDR) return x2 ? <u64>(((this.id >> 4) << 16) | (1 << (this.id & 15))) : <u64>this.ldrX; // SDM 10.12.10.2
    if (r == R_DFR) return <u64>this.dfr;
    if (r == R_SVR) return <u64>this.svr;
    if (r >= R_ISR && r < R_ISR + 8) return <u64>unchecked(this.isr[<i32>(r - R_ISR)]);
    if (r >= R_TMR && r < R_TMR + 8) return <u64>unchecked(this.tmr[<i32>(r - R_TMR)]);
    if (r >= R_IRR && r < R_IRR + 8) {
      this.poll();
      return <u64>unchecked(this.irr[<i32>(r - R_IRR)]);
    }
    if (r == R_ESR) return <u64>this.esr;
    if (r == R_ICR) return x2 ? this.icr : this.icr & 0xffffffff;
    if (r == R_ICR_HIGH) return this.icr >> 32;
    if (r >= R_LVT_TIMER && r <= R_LVT_ERROR) {
      this.poll();
      return <u64>this.lvtAt(r);
    }
    if (r == R_TIMER_INITIAL) return <u64>this.initialCount;
    if (r == R_TIMER_CURRENT) return <u64>this.currentCount();
    if (r == R_TIMER_DIVIDE) return <u64>this.divide;
    return 0; // APR, RRD
  }

  private regWrite(r: u32, v: u64, x2: bool): void {
    const lo = <u32>v;
    if (r == R_ID) {
      // The xAPIC ID is writable on some parts; one vCPU keeps its ID fixed (messages route by it).
      return;
    }
    if (r == R_TPR) this.tpr = lo & 0xff;
    else if (r == R_EOI) this.eoi();
    else if (r == R_LDR) this.ldrX = lo & 0xff000000;
    else if (r == R_DFR) this.dfr = lo | 0x0fffffff;
    else if (r == R_SVR) {
      this.svr = lo & 0x1ff; // vector and APIC enable; no focus checking, no EOI-broadcast suppression
      // Software-disabled: every LVT is masked (SDM 10.4.7.2).
      if ((this.svr & SVR_ENABLE) == 0) for (let i = 0; i < <i32>LVT_COUNT; i++) unchecked((this.lvt[i] = this.lvt[i] | LVT_MASKED));
    } else if (r == R_ESR) this.esr = 0;
    else if (r == R_ICR) {
      if (x2) this.icr = v & 0xffffffff000ccfff;
      else this.icr = (this.icr & 0xffffffff00000000) | <u64>(lo & 0x000ccfff);
      this.sendIpi();
    } else if (r == R_ICR_HIGH) this.icr = (this.icr & 0xffffffff) | (<u64>(lo & 0xff000000) << 32);
    else if (r >= R_LVT_TIMER && r <= R_LVT_ERROR) this.writeLvt(r, lo);
    else if (r == R_TIMER_INITIAL) this.writeInitialCount(lo);
    else if (r == R_TIMER_DIVIDE) {
      const cur = this.currentCount();
      this.divide = lo & 0xb;
      if (this.deadline != 0 && this.timerMode() != TIMER_DEADLINE) this.startCount(cur);
    } else if (r == R_SELF_IPI) this.selfIpi(lo & 0xff);
  }

  private writeLvt(r: u32, v: u32): void {
    this.poll();
    let mask: u32;
    // Writable fields per entry (SDM 10.5.1, figure 10-8); delivery status and remote IRR are read-only.
    if (r == R_LVT_TIMER) mask = 0x700ff;
    else if (r == R_LVT_LINT0 || r == R_LVT_LINT1) mask = 0x1a7ff;
    else if (r == R_LVT_ERROR) mask = 0x100ff;
    else mask = 0x107ff; // thermal, perf
    let nv = v & mask;
    if (!this.softwareEnabled()) nv |= LVT_MASKED;
    const i = <i32>(r - R_LVT_TIMER);
    const old = unchecked(this.lvt[i]);
    unchecked((this.lvt[i] = (old & ~mask) | nv));
    if (r == R_LVT_TIMER) {
      const oldMode = (old >> 17) & 3;
      const newMode = (nv >> 17) & 3;
      // Entering or leaving TSC-deadline mode disarms the timer (SDM 10.5.4.1).
      if ((oldMode == TIMER_DEADLINE) != (newMode == TIMER_DEADLINE)) {
        this.deadline = 0;
        this.tscDeadline = 0;
        this.initialCount = 0;
        this.baseCount = 0;
      }
    }
  }

  /** Writing the initial count starts one-shot/periodic counting; 0 stops it; ignored in TSC-deadline mode (SDM 10.5.4). */
  private writeInitialCount(v: u32): void {
    if (this.timerMode() == TIMER_DEADLINE) return;
    this.initialCount = v;
    if (v == 0) {
      this.deadline = 0;
      this.baseCount = 0;
      return;
    }
    this.startCount(v);
  }

  private startCount(count: u32): void {
    if (count == 0) {
      this.deadline = 0;
      this.baseCount = 0;
      return;
    }
    this.baseTsc = this.clock.now();
    this.baseCount = count;
    const ticks = this.countsToTsc(<u64>count);
    // Saturate rather than wrap: a deadline past the TSC's end is "never", not "now".
    let d = ticks > u64.MAX_VALUE - this.baseTsc ? u64.MAX_VALUE : this.baseTsc + ticks;
    if (d == 0) d = 1; // 0 means "not armed"
    this.deadline = d;
  }

  private currentCount(): u32 {
    this.poll();
    if (this.deadline == 0 || this.timerMode() == TIMER_DEADLINE) return 0;
    const now = this.clock.now();
    const elapsed = now > this.baseTsc ? now - this.baseTsc : 0;
    const counted = mulDiv(elapsed, this.busHz, this.clock.hz() * <u64>this.divisor());
    return counted >= <u64>this.baseCount ? 0 : this.baseCount - <u32>counted;
  }

  /** Guest TSC ticks for `counts` timer counts at busHz / divisor; at least 1. */
  private countsToTsc(counts: u64): u64 {
    const hz = this.clock.hz();
    if (hz == 0 || this.busHz == 0) return u64.MAX_VALUE; // a broken time base: never, rather than an interrupt storm
    const t = mulDiv(counts * <u64>this.divisor(), hz, this.busHz);
    return t == 0 ? 1 : t;
  }

  /** Divide configuration bits 3,1,0 (SDM 10.5.4, figure 10-10): 000 = 2 ... 110 = 128, 111 = 1. */
  private divisor(): u32 {
    const code = (this.divide & 3) | ((this.divide >> 1) & 4);
    return code == 7 ? 1 : 2 << code;
  }

  private timerMode(): u32 {
    const m = (this.lvtAt(R_LVT_TIMER) >> 17) & 3;
    return m == 3 ? TIMER_ONESHOT : m; // 11b is reserved
  }

  private lvtAt(r: u32): u32 {
    return unchecked(this.lvt[<i32>(r - R_LVT_TIMER)]);
  }

  /** PPR = TPR when its class is at least ISRV's, else ISRV's class (SDM 10.8.3.1). */
  private ppr(): u32 {
    const isrv = highest(this.isr);
    const isrClass: u32 = isrv < 0 ? 0 : <u32>isrv & 0xf0;
    return (this.tpr & 0xf0) >= isrClass ? this.tpr : isrClass;
  }

  /** Clears the highest in-service vector; a level-triggered one is broadcast to the IOAPIC (SDM 10.8.5). */
  private eoi(): void {
    const v = highest(this.isr);
    if (v < 0) return;
    setBit(this.isr, <u32>v, false);
    if (getBit(this.tmr, <u32>v)) {
      setBit(this.tmr, <u32>v, false);
      const l = this.eoiListener;
      if (l != null) l.eoi(<u32>v);
    }
  }

  /** ICR (SDM 10.6.1): with one vCPU only a fixed IPI to this APIC (self shorthand, all-including-self, or its own ID) is delivered. */
  private sendIpi(): void {
    const vector = <u32>this.icr & 0xff;
    const mode = (<u32>this.icr >> 8) & 7;
    const shorthand = (<u32>this.icr >> 18) & 3;
    const logical = (this.icr & (1 << 11)) != 0;
    const dest = this.x2apic() ? <u32>(this.icr >> 32) : <u32>(this.icr >> 56);
    let self = shorthand == 1 || shorthand == 2;
    if (shorthand == 0) self = this.x2apic() ? !logical && (dest == this.id || dest == 0xffffffff) : this.matches(dest, logical);
    if (mode != 0 || !self) {
      this.droppedIpis++;
      return;
    }
    this.selfIpi(vector);
  }

  private selfIpi(vector: u32): void {
    if (vector < 16) {
      this.error(ESR_SEND_ILLEGAL);
      return;
    }
    this.accept(vector, false);
  }

  /** Records an error in ESR and raises the error LVT when unmasked (SDM 10.5.3). */
  private error(bits: u32): void {
    this.esr |= bits;
    const lvt = this.lvtAt(R_LVT_ERROR);
    if ((lvt & LVT_MASKED) == 0 && this.softwareEnabled() && (lvt & 0xff) >= 16) {
      setBit(this.irr, lvt & 0xff, true);
      setBit(this.tmr, lvt & 0xff, false);
    }
  }

  private gp(): bool {
    this.badAccesses++;
    return false;
  }
}

function setBit(a: StaticArray<u32>, v: u32, on: bool): void {
  const i = <i32>(v >> 5);
  const b: u32 = 1 << (v & 31);
  const w = unchecked(a[i]);
  unchecked((a[i] = on ? w | b : w & ~b));
}

function getBit(a: StaticArray<u32>, v: u32): bool {
  return (unchecked(a[<i32>(v >> 5)]) & (<u32>1 << (v & 31))) != 0;
}

/** The highest set vector in a 256-bit register, or -1. */
function highest(a: StaticArray<u32>): i32 {
  for (let i = 7; i >= 0; i--) {
    const w = unchecked(a[i]);
    if (w != 0) return i * 32 + 31 - <i32>clz(w);
  }
  return -1;
}

/** The xAPIC page as a BusDevice, for a VMM that puts it on its MmioBus at `lapic.mmioBase()`. */
export class LapicPage extends BusDevice {
  constructor(readonly lapic: Lapic) {
    super();
  }
  read(offset: u64, size: u32): u64 {
    return this.lapic.mmioRead(offset, size);
  }
  write(offset: u64, size: u32, value: u64): void {
    this.lapic.mmioWrite(offset, size, value);
  }
}
