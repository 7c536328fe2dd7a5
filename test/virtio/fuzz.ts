// Fuzzes the device side of the split virtqueue against a reference walker written here: random and mutated ring states, wrapped indexes.
// Then the virtio-net device model: mutated TX and RX rings through transmit/receive against a reference that copies the same bytes.
// And the driver side against a lying device. `npx tsx test/virtio/fuzz.ts --long` runs 1,000,000 queue cases, 200,000 driver
// and 200,000 device cases; VIRTIO_FUZZ_SEED=n replays from seed n, VIRTIO_FUZZ_CASES=n sets the queue count (the others: a fifth).
import { Exports, NET_SOURCES, load, loadVirtio } from "./harness";

const MEM = 1 << 16; // the guest: small, so random addresses often fall outside it
const MAX_SIZE = 256; // the device's queue_size maximum
const SEGS = 32; // segments a chain may hold
const NEXT = 1, WRITE = 2, INDIRECT = 4;
const F = {
  NONE: 0, QUEUE_SIZE: 1, RING_OUTSIDE: 2, RING_ALIGN: 3, AVAIL_IDX: 5, HEAD_INDEX: 6, NEXT_INDEX: 7, CHAIN_LOOP: 8,
  CHAIN_TOO_LONG: 9, ZERO_LENGTH: 10, BUFFER_OUTSIDE: 11, WRITE_ORDER: 12, LENGTH_OVERFLOW: 13, INDIRECT_FEATURE: 14,
  INDIRECT_LEN: 15, INDIRECT_OUTSIDE: 16, INDIRECT_NESTED: 17, INDIRECT_NEXT: 18,
};
const NAMES = Object.fromEntries(Object.entries(F).map(([k, v]) => [v, k.toLowerCase()]));

/** mulberry32: a small seeded generator (reproducible runs). */
class Rng {
  constructor(private s: number) {}
  u32(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  below(n: number): number {
    return this.u32() % n;
  }
  chance(p: number): boolean {
    return this.u32() < p * 4294967296;
  }
  u64(): bigint {
    return (BigInt(this.u32()) << 32n) | BigInt(this.u32());
  }
}

interface Ring { size: number; desc: bigint; avail: bigint; used: bigint; eventIdx: boolean; indirect: boolean }
type Seg = [bigint, number, boolean];
type Pop = { fault: number } | { none: true } | { head: number; segs: Seg[] };

const contains = (addr: bigint, len: number): boolean => BigInt(len) <= BigInt(MEM) && addr <= BigInt(MEM - len);
const pow2 = (n: number) => n !== 0 && (n & (n - 1)) === 0;

/** The reference: setup checks in the documented order (README.md, "Fault codes"). */
function refSetup(r: Ring): number {
  if (!pow2(r.size) || r.size > MAX_SIZE) return F.QUEUE_SIZE;
  if (r.desc % 16n !== 0n || r.avail % 2n !== 0n || r.used % 4n !== 0n) return F.RING_ALIGN;
  if (!contains(r.desc, 16 * r.size) || !contains(r.avail, 6 + 2 * r.size) || !contains(r.used, 6 + 8 * r.size)) return F.RING_OUTSIDE;
  return F.NONE;
}

/** The reference walker, written from virtio 1.2 2.7.5 / 2.7.5.3 independently of src/virtio. */
class RefQueue {
  lastAvail = 0;
  availSeen = 0;
  constructor(readonly r: Ring, readonly dv: () => DataView, readonly segCap = SEGS) {}
  pop(): Pop {
    const d = this.dv(), r = this.r, avail = Number(r.avail);
    if (this.lastAvail === this.availSeen) {
      const idx = d.getUint16(avail + 2, true);
      const ahead = (idx - this.lastAvail) & 0xffff;
      if (ahead > r.size) return { fault: F.AVAIL_IDX };
      this.availSeen = idx;
      if (ahead === 0) return { none: true };
    }
    const head = d.getUint16(avail + 4 + 2 * (this.lastAvail % r.size), true);
    if (head >= r.size) return { fault: F.HEAD_INDEX };
    const segs: Seg[] = [];
    let table = Number(r.desc), entries = r.size, i = head, budget = r.size, nested = false, writable = 0, rb = 0, wb = 0;
    for (;;) {
      if (budget-- === 0) return { fault: F.CHAIN_LOOP };
      const at = table + 16 * i;
      const addr = d.getBigUint64(at, true), len = d.getUint32(at + 8, true), flags = d.getUint16(at + 12, true), next = d.getUint16(at + 14, true);
      if (flags & INDIRECT) {
        if (!r.indirect) return { fault: F.INDIRECT_FEATURE };
        if (nested) return { fault: F.INDIRECT_NESTED };
        if (flags & NEXT) return { fault: F.INDIRECT_NEXT };
        if (len === 0 || len % 16 !== 0 || len / 16 > r.size) return { fault: F.INDIRECT_LEN };
        if (!contains(addr, len)) return { fault: F.INDIRECT_OUTSIDE };
        table = Number(addr);
        entries = budget = len / 16;
        i = 0;
        nested = true;
        continue;
      }
      if (len === 0) return { fault: F.ZERO_LENGTH };
      if (!contains(addr, len)) return { fault: F.BUFFER_OUTSIDE };
      const w = (flags & WRITE) !== 0;
      if (!w && writable > 0) return { fault: F.WRITE_ORDER };
      if (segs.length >= this.segCap) return { fault: F.CHAIN_TOO_LONG };
      if ((w ? wb : rb) + len > 0xffffffff) return { fault: F.LENGTH_OVERFLOW };
      segs.push([addr, len, w]);
      if (w) { writable++; wb += len; } else rb += len;
      if (!(flags & NEXT)) break;
      if (next >= entries) return { fault: F.NEXT_INDEX };
      i = next;
    }
    this.lastAvail = (this.lastAvail + 1) & 0xffff;
    return { head, segs };
  }
}

function needEvent(event: number, now: number, old: number): boolean {
  return ((now - event - 1) & 0xffff) < ((now - old) & 0xffff);
}

export interface FuzzStats {
  cases: number;
  seed: number;
  setupFaults: number;
  ringFaults: number;
  completions: number;
  chains: number;
  interrupts: number;
  byFault: Record<string, number>;
  ms: number;
}

/** Runs `cases` cases from `seed` (case i uses seed + i). Throws with the case's seed on the first disagreement. */
export async function fuzz(cases: number, seed: number): Promise<FuzzStats> {
  const x: Exports = (await loadVirtio()).x;
  x.reset(MEM, MAX_SIZE, SEGS);
  let buf = x.memory.buffer as ArrayBuffer;
  let view = new DataView(buf, x.memBase(), MEM);
  const dv = (): DataView => {
    if (x.memory.buffer !== buf) {
      buf = x.memory.buffer;
      view = new DataView(buf, x.memBase(), MEM);
    }
    return view;
  };
  const st: FuzzStats = { cases, seed, setupFaults: 0, ringFaults: 0, completions: 0, chains: 0, interrupts: 0, byFault: {}, ms: 0 };
  const t0 = Date.now();
  for (let c = 0; c < cases; c++) {
    const caseSeed = (seed + c) >>> 0;
    if (c % 500 === 499) await yieldToLoop();
    try {
      runCase(x, dv, new Rng(caseSeed), st);
    } catch (e) {
      throw new Error(`virtio fuzz: case ${c} failed; replay with VIRTIO_FUZZ_SEED=${caseSeed} VIRTIO_FUZZ_CASES=1: ${(e as Error).message}`);
    }
  }
  st.ms = Date.now() - t0;
  return st;
}

/** Lets vitest's worker answer its RPC now and then on a loaded machine (a long synchronous loop times it out). */
const yieldToLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(what);
}

/** A queue's parameters: mostly a valid layout, sometimes sizes and addresses anywhere. */
function genRing(g: Rng): Ring {
  // The queue.
  let size = 1 << g.below(9);
  const sz = g.below(20);
  if (sz === 0) size = 512;
  else if (sz === 1) size = g.below(65536);
  let desc: bigint, avail: bigint, used: bigint;
  if (g.chance(0.9)) {
    desc = BigInt(g.below(MEM / 4) & ~15);
    avail = desc + BigInt(16 * size);
    used = (avail + BigInt(6 + 2 * size) + 3n) & ~3n;
    if (g.chance(0.05)) desc += BigInt(1 + g.below(15));
    if (g.chance(0.05)) used = BigInt(g.below(MEM));
  } else {
    const pick = (): bigint => [BigInt(g.below(MEM)), g.u64(), BigInt(MEM - g.below(64)), BigInt(g.below(MEM) & ~15)][g.below(4)];
    desc = pick();
    avail = pick();
    used = pick();
  }
  return { size, desc, avail, used, eventIdx: g.chance(0.5), indirect: g.chance(0.7) };
}

/**
 * Writes a ring state into guest memory: garbage, or valid direct and indirect chains (readable then
 * writable segments) with up to three mutations; avail idx `lastAvail` + chains; used idx `usedStart`.
 */
function fillRing(d: DataView, g: Rng, r: Ring, lastAvail: number, usedStart: number): void {
  const size = r.size, D = Number(r.desc), A = Number(r.avail), U = Number(r.used);
  const randomBytes = (at: number, n: number) => {
    for (let i = 0; i < n && at + i < MEM; i++) d.setUint8(at + i, g.below(256));
  };
  const setDesc = (table: number, i: number, addr: bigint, len: number, flags: number, next: number) => {
    const at = table + 16 * i;
    if (at + 16 > MEM) return;
    d.setBigUint64(at, addr & 0xffff_ffff_ffff_ffffn, true);
    d.setUint32(at + 8, len >>> 0, true);
    d.setUint16(at + 12, flags & 0xffff, true);
    d.setUint16(at + 14, next & 0xffff, true);
  };
  // Indirect tables live in [MEM/4, MEM/2), buffers anywhere in the upper half.
  const bufAddr = (len: number) => BigInt(MEM / 2 + g.below(MEM / 2 - Math.min(len, MEM / 2 - 1)));
  let chains = 0;
  if (g.chance(0.25)) {
    // Pure garbage rings.
    randomBytes(D, 16 * size);
    randomBytes(A, 6 + 2 * size);
    chains = g.below(size + 3);
    d.setUint16(A + 2, (lastAvail + chains) & 0xffff, true);
  } else {
    // Valid chains, then a few mutations.
    const free = Array.from({ length: size }, (_, i) => i);
    for (let i = free.length - 1; i > 0; i--) {
      const j = g.below(i + 1);
      [free[i], free[j]] = [free[j], free[i]];
    }
    const want = 1 + g.below(Math.min(size, 8));
    for (let k = 0; k < want && free.length > 0; k++) {
      const nRead = g.below(4), nWrite = (nRead === 0 ? 1 : 0) + g.below(3);
      const n = nRead + nWrite;
      const head = free.pop()!;
      if (r.indirect && g.chance(0.3)) {
        const t = MEM / 4 + (g.below(MEM / 4 - 16 * n) & ~15);
        for (let s = 0; s < n; s++) {
          const len = 1 + g.below(2048);
          setDesc(t, s, bufAddr(len), len, (s < n - 1 ? NEXT : 0) | (s >= nRead ? WRITE : 0), s + 1);
        }
        setDesc(D, head, BigInt(t), 16 * n, INDIRECT, 0);
      } else {
        let cur = head;
        for (let s = 0; s < n; s++) {
          const nxt = s < n - 1 && free.length > 0 ? free.pop()! : -1;
          const len = 1 + g.below(2048);
          setDesc(D, cur, bufAddr(len), len, (nxt >= 0 ? NEXT : 0) | (s >= nRead ? WRITE : 0), nxt >= 0 ? nxt : 0);
          if (nxt < 0) break;
          cur = nxt;
        }
      }
      d.setUint16(A + 4 + 2 * ((lastAvail + chains) % size), head, true);
      chains++;
    }
    d.setUint16(A + 2, (lastAvail + chains) & 0xffff, true);
    const interesting = (): number => [0, 1, 15, 16, size - 1, size, 0xffff, MEM, MEM - 1, 0xffffffff, g.u32()][g.below(11)];
    for (let m = g.below(4); m > 0; m--) {
      const table = g.chance(0.7) ? D : MEM / 4 + (g.below(MEM / 4) & ~15);
      const i = g.below(Math.max(size, 1));
      const at = table + 16 * i;
      if (at + 16 > MEM) continue;
      switch (g.below(8)) {
        case 0: d.setBigUint64(at, g.chance(0.5) ? g.u64() : BigInt(MEM - g.below(4096)), true); break;
        case 1: d.setUint32(at + 8, interesting() >>> 0, true); break;
        case 2: d.setUint16(at + 12, d.getUint16(at + 12, true) ^ (1 << g.below(4)), true); break;
        case 3: d.setUint16(at + 14, interesting() & 0xffff, true); break;
        case 4: d.setUint16(A + 2, (lastAvail + interesting()) & 0xffff, true); break;
        case 5: d.setUint16(A + 4 + 2 * g.below(size), interesting() & 0xffff, true); break;
        case 6: d.setUint16(at + 14, i, true); d.setUint16(at + 12, d.getUint16(at + 12, true) | NEXT, true); break; // a self loop
        default: randomBytes(at, 16);
      }
    }
  }
  d.setUint16(A, g.below(2), true); // avail flags (NO_INTERRUPT or not)
  d.setUint16(A + 4 + 2 * size, (usedStart + g.below(8)) & 0xffff, true); // used_event
  d.setUint16(U + 2, usedStart, true);
}

function runCase(x: Exports, dv: () => DataView, g: Rng, st: FuzzStats): void {
  const d = dv();
  const r = genRing(g);
  const { size, desc, avail, used } = r;
  const expectSetup = refSetup(r);
  const got = x.devSetup(size, desc, avail, used, r.eventIdx, r.indirect);
  check(got === expectSetup, `setup: got ${got}, want ${expectSetup}`);
  if (got !== F.NONE) {
    st.setupFaults++;
    st.byFault[NAMES[got]] = (st.byFault[NAMES[got]] ?? 0) + 1;
    check(!x.memFault(), "memory fault at setup");
    return;
  }
  const A = Number(avail), U = Number(used);
  const lastAvail = g.chance(0.5) ? g.below(65536) : 0;
  const usedStart = g.chance(0.5) ? g.below(65536) : 0;
  x.devSetIndexes(lastAvail, usedStart);
  fillRing(d, g, r, lastAvail, usedStart);

  // Drive the device and the reference side by side.
  const ref = new RefQueue(r, dv);
  ref.lastAvail = ref.availSeen = lastAvail;
  const pushed: [number, number][] = [];
  let outcome: Pop = { none: true };
  for (let iter = 0; iter <= size + 1; iter++) {
    outcome = ref.pop();
    const popped = x.devPop();
    if ("fault" in outcome || "none" in outcome) {
      check(!popped, `popped where the reference says ${JSON.stringify(outcome)}`);
      const want = "fault" in outcome ? outcome.fault : F.NONE;
      check(x.devFault() === want, `fault ${x.devFault()}, reference ${want}`);
      break;
    }
    check(popped, `nothing popped; reference has head ${outcome.head} (fault ${x.devFault()})`);
    check(x.chainHead() === outcome.head, `head ${x.chainHead()} vs ${outcome.head}`);
    const n = x.chainReadable() + x.chainWritable();
    check(n === outcome.segs.length, `segments ${n} vs ${outcome.segs.length}`);
    let wb = 0;
    for (let s = 0; s < n; s++) {
      const [a, l, w] = outcome.segs[s];
      check(x.chainAddr(s) === a && x.chainLen(s) === l && s >= x.chainReadable() === w, `segment ${s} differs`);
      if (w) wb += l;
    }
    st.chains++;
    const len = wb === 0 ? 0 : g.below(Math.min(wb, 0xffffffff) + 1);
    x.devPush(outcome.head, len);
    pushed.push([outcome.head, len]);
    if (g.chance(0.2)) x.devPublish();
  }
  if ("fault" in outcome) {
    st.ringFaults++;
    st.byFault[NAMES[outcome.fault]] = (st.byFault[NAMES[outcome.fault]] ?? 0) + 1;
  } else {
    st.completions++;
    x.devPublish();
    const now = (usedStart + pushed.length) & 0xffff;
    // What the device published is what it popped, in order, at the wrapped used index.
    const dd = dv();
    check(dd.getUint16(U + 2, true) === now || pushed.length === 0, "used idx");
    for (let k = 0; k < pushed.length && k < size; k++) {
      const slot = (usedStart + pushed.length - 1 - k) % size; // the newest `size` elements survive
      const [h, l] = pushed[pushed.length - 1 - k];
      check(dd.getUint32(U + 4 + 8 * slot, true) === h && dd.getUint32(U + 8 + 8 * slot, true) === l, `used element ${k}`);
    }
    const irq = x.devNeedsInterrupt();
    const want = pushed.length > 0 &&
      (r.eventIdx ? needEvent(dd.getUint16(A + 4 + 2 * size, true), now, usedStart) : (dd.getUint16(A, true) & 1) === 0);
    check(irq === want, `needsInterrupt ${irq}, reference ${want}`);
    if (irq) st.interrupts++;
  }
  check(!x.memFault(), "an access outside guest memory");
}

// ---- the virtio-net device model ----

const NET_SEGS = 64; // NET_MAX_SEGS
const HDR = 12, MIN_FRAME = 14, BUF_DATA = 2016, BATCH = 32;
const S_OK = 1 | 2 | 8 | 4, NEEDS_RESET = 64;
const C_RX_NO_BUFFER = 2, C_RX_TOO_SMALL = 3, C_TX_MALFORMED = 6;

export interface NetFuzzStats {
  cases: number;
  seed: number;
  txFrames: number;
  txMalformed: number;
  rxFrames: number;
  rxDropped: number;
  resets: number;
  ms: number;
}

/** Negotiates features and enables queue q with ring r; returns the fault queue_enable reported. */
function netInit(x: Exports, vm: number, q: number, r: Ring): number {
  x.writeStatus(vm, 0);
  x.writeStatus(vm, 1 | 2);
  x.writeDriverFeatures(vm, 0, ((1 << 5) | (1 << 16) | (r.eventIdx ? 1 << 29 : 0) | (r.indirect ? 1 << 28 : 0)) >>> 0);
  x.writeDriverFeatures(vm, 1, 1);
  x.writeStatus(vm, 1 | 2 | 8);
  return x.enableQueue(vm, q, r.size, r.desc, r.avail, r.used);
}

/** The reference's scatter: bytes over the writable segments in order (later bytes win where segments overlap). */
function refScatter(d: DataView, segs: Seg[], bytes: Uint8Array): void {
  let k = 0;
  for (const [a, l, w] of segs) {
    if (!w) continue;
    for (let i = 0; i < l && k < bytes.length; i++) d.setUint8(Number(a) + i, bytes[k++]);
    if (k >= bytes.length) break;
  }
}

/** Runs `cases` device cases from `seed`; throws with the case's seed on the first disagreement. */
export async function fuzzNet(cases: number, seed: number): Promise<NetFuzzStats> {
  const { x } = await load("virtio-net", "test/devices/virtio-net/entry.ts", NET_SOURCES);
  x.reset(MEM, 256);
  const st: NetFuzzStats = { cases, seed, txFrames: 0, txMalformed: 0, rxFrames: 0, rxDropped: 0, resets: 0, ms: 0 };
  const t0 = Date.now();
  for (let c = 0; c < cases; c++) {
    const caseSeed = (seed + c) >>> 0;
    if (c % 500 === 499) await yieldToLoop();
    try {
      netCase(x, new Rng(caseSeed), st);
    } catch (e) {
      throw new Error(`virtio-net fuzz: case ${c} failed; replay with VIRTIO_FUZZ_SEED=${caseSeed} VIRTIO_FUZZ_CASES=5: ${(e as Error).message}`);
    }
  }
  st.ms = Date.now() - t0;
  return st;
}

function netCase(x: Exports, g: Rng, st: NetFuzzStats): void {
  const ram = (vm: number) => new Uint8Array(x.memory.buffer, x.memBase(vm), MEM);
  const counter = (vm: number, k: number) => Number(x.counter(vm, k));
  const logBefore: number = x.logCount();
  x.clearFaultCount(0);
  x.clearFaultCount(1);
  let faults = 0;

  // VM 0 transmits from a mutated TX ring.
  {
    const r = genRing(g);
    if (r.size > 256) r.size = 256; // queue_size above the maximum is covered by the queue cases
    const want = refSetup(r);
    if (want === F.NONE) fillRing(new DataView(x.memory.buffer, x.memBase(0), MEM), g, r, 0, 0);
    check(netInit(x, 0, 1, r) === want, "tx queue_enable fault");
    x.writeStatus(0, S_OK);
    const snap = ram(0).slice();
    const d = new DataView(snap.buffer);
    const frames: Uint8Array[] = [];
    let fault = want, pops = 0, malformed = 0;
    if (want === F.NONE) {
      const ref = new RefQueue(r, () => d, NET_SEGS);
      while (frames.length < BATCH) {
        const p = ref.pop();
        if ("fault" in p) { fault = p.fault; break; }
        if ("none" in p) break;
        const rd = p.segs.filter(([, , w]) => !w);
        const total = rd.reduce((n, [, l]) => n + l, 0);
        if (total < HDR + MIN_FRAME || total - HDR > BUF_DATA) malformed++;
        else {
          const f = new Uint8Array(total);
          let k = 0;
          for (const [a, l] of rd) { f.set(snap.subarray(Number(a), Number(a) + l), k); k += l; }
          frames.push(f.slice(HDR));
        }
        d.setUint32(Number(r.used) + 4 + 8 * (pops % r.size), p.head, true);
        d.setUint32(Number(r.used) + 8 + 8 * (pops % r.size), 0, true);
        pops++;
      }
      if (fault === F.NONE && pops > 0) d.setUint16(Number(r.used) + 2, pops, true);
    }
    const irqWant = fault === F.NONE && pops > 0 &&
      (r.eventIdx ? needEvent(d.getUint16(Number(r.avail) + 4 + 2 * r.size, true), pops, 0) : (d.getUint16(Number(r.avail), true) & 1) === 0);
    const irqBefore = x.queueIrqs(0, 1), malBefore = counter(0, C_TX_MALFORMED);
    const n = x.transmitCapture(0);
    check(n === frames.length, `tx frames ${n}, reference ${frames.length} (fault ${x.fault(0)} vs ${fault})`);
    for (let i = 0; i < n; i++) {
      const got = new Uint8Array(x.memory.buffer, x.capPtr() + 2048 * i, x.capLen(i));
      check(Buffer.from(got).equals(Buffer.from(frames[i])), `tx frame ${i} differs`);
    }
    check(x.fault(0) === fault, `tx fault ${x.fault(0)}, reference ${fault}`);
    check(((x.status(0) & NEEDS_RESET) !== 0) === (fault !== F.NONE), "tx NEEDS_RESET iff a fault");
    check(counter(0, C_TX_MALFORMED) - malBefore === malformed, "txMalformed");
    check(x.queueIrqs(0, 1) - irqBefore === (irqWant ? 1 : 0), "tx interrupt");
    check(Buffer.from(ram(0)).equals(Buffer.from(snap)), "tx: guest memory differs from the reference");
    check(!x.memFault(0), "tx: an access outside guest memory");
    st.txFrames += n;
    st.txMalformed += malformed;
    if (fault !== F.NONE) faults++;
  }

  // VM 1 receives a batch into a mutated RX ring.
  {
    const r = genRing(g);
    if (r.size > 256) r.size = 256;
    const want = refSetup(r);
    if (want === F.NONE) fillRing(new DataView(x.memory.buffer, x.memBase(1), MEM), g, r, 0, 0);
    check(netInit(x, 1, 0, r) === want, "rx queue_enable fault");
    x.writeStatus(1, S_OK);
    const count = 1 + g.below(BATCH), len = MIN_FRAME + g.below(BUF_DATA - MIN_FRAME + 1);
    const frame = new Uint8Array(len);
    for (let i = 0; i < len; i++) frame[i] = g.below(256);
    new Uint8Array(x.memory.buffer, x.framePtr(), len).set(frame);
    const snap = ram(1).slice();
    const d = new DataView(snap.buffer);
    const bytes = new Uint8Array(HDR + len);
    bytes[10] = 1; // num_buffers
    bytes.set(frame, HDR);
    let fault = want, pushes = 0, delivered = 0, noBuffer = 0, tooSmall = 0;
    const ref = new RefQueue(r, () => d, NET_SEGS);
    for (let i = 0; i < count; i++) {
      const p: Pop = fault !== F.NONE ? { none: true } : ref.pop();
      if ("fault" in p) fault = p.fault;
      if (!("head" in p)) { noBuffer++; continue; }
      const wb = p.segs.filter(([, , w]) => w).reduce((n, [, l]) => n + l, 0);
      let used = 0;
      if (wb < HDR + len) tooSmall++;
      else {
        refScatter(d, p.segs, bytes);
        used = HDR + len;
        delivered++;
      }
      d.setUint32(Number(r.used) + 4 + 8 * (pushes % r.size), p.head, true);
      d.setUint32(Number(r.used) + 8 + 8 * (pushes % r.size), used, true);
      pushes++;
    }
    if (fault === F.NONE && pushes > 0) d.setUint16(Number(r.used) + 2, pushes, true);
    const irqWant = fault === F.NONE && pushes > 0 &&
      (r.eventIdx ? needEvent(d.getUint16(Number(r.avail) + 4 + 2 * r.size, true), pushes, 0) : (d.getUint16(Number(r.avail), true) & 1) === 0);
    const irqBefore = x.queueIrqs(1, 0), nbBefore = counter(1, C_RX_NO_BUFFER), tsBefore = counter(1, C_RX_TOO_SMALL);
    const got = x.deliver(1, count, len);
    check(got === delivered, `rx delivered ${got}, reference ${delivered} (fault ${x.fault(1)} vs ${fault})`);
    check(x.fault(1) === fault, `rx fault ${x.fault(1)}, reference ${fault}`);
    check(((x.status(1) & NEEDS_RESET) !== 0) === (fault !== F.NONE), "rx NEEDS_RESET iff a fault");
    check(counter(1, C_RX_NO_BUFFER) - nbBefore === noBuffer && counter(1, C_RX_TOO_SMALL) - tsBefore === tooSmall, "rx drop counters");
    check(x.queueIrqs(1, 0) - irqBefore === (irqWant ? 1 : 0), "rx interrupt");
    check(Buffer.from(ram(1)).equals(Buffer.from(snap)), "rx: guest memory differs from the reference");
    check(!x.memFault(1), "rx: an access outside guest memory");
    check(x.poolAvailable() === 256, "pool buffers leaked");
    st.rxFrames += delivered;
    st.rxDropped += noBuffer + tooSmall;
    if (fault !== F.NONE) faults++;
  }
  // One [net] line per device that went to NEEDS_RESET.
  const logAfter: number = x.logCount();
  check(logAfter - logBefore === faults, `log lines ${logAfter - logBefore}, faults ${faults}`);
  check(Number(x.faultCount(0)) + Number(x.faultCount(1)) === faults, "fault counts");
  for (let i = logBefore; i < logAfter; i++) check(/^\[net\] [ab]: (rx|tx) queue: .+; device needs reset$/.test(x.logLine(i)), `log line ${x.logLine(i)}`);
  st.resets += faults;
}

// ---- the driver side against a misbehaving device ----

const FD = { USED_IDX: 19, USED_ID: 20, USED_LEN: 21 };
const NAMES_D: Record<number, string> = { 19: "used_idx", 20: "used_id", 21: "used_len" };

export interface DriverFuzzStats {
  cases: number;
  seed: number;
  reaped: number;
  faults: Record<string, number>;
  ms: number;
}

/**
 * Each case lays a ring out, then mixes posting, publishing, honest completions and lying ones (used idx
 * jumps, ids never posted or already reaped, lengths past the buffer) with reaping, against a model of
 * what is outstanding. After a fault the outstanding tokens must be exactly the model's, and a fresh
 * layout must work again (the recovery a driver performs after resetting the device).
 */
export async function fuzzDriver(cases: number, seed: number): Promise<DriverFuzzStats> {
  const x: Exports = (await loadVirtio()).x;
  x.reset(MEM, MAX_SIZE, 8);
  const st: DriverFuzzStats = { cases, seed, reaped: 0, faults: {}, ms: 0 };
  const t0 = Date.now();
  for (let c = 0; c < cases; c++) {
    const caseSeed = (seed + c) >>> 0;
    if (c % 500 === 499) await yieldToLoop();
    try {
      driverCase(x, new Rng(caseSeed), st);
    } catch (e) {
      throw new Error(`virtio driver fuzz: case ${c} failed; replay with VIRTIO_FUZZ_SEED=${caseSeed} VIRTIO_FUZZ_CASES=5: ${(e as Error).message}`);
    }
  }
  st.ms = Date.now() - t0;
  return st;
}

function driverCase(x: Exports, g: Rng, st: DriverFuzzStats): void {
  const size = 1 << g.below(9);
  const usedAlign = g.chance(0.5) ? 4 : 4096;
  const busBase = BigInt(g.below(1 << 20)) << 12n;
  check(x.drvLayout(0n, size, BigInt(usedAlign), busBase, g.chance(0.5)) === 0, "layout");
  const d = new DataView(x.memory.buffer, x.memBase(), MEM);
  const D = Number(x.drvDesc()), A = Number(x.drvAvail()), U = Number(x.drvUsed());
  check(D === 0 && A === 16 * size && U % usedAlign === 0 && U >= A + 6 + 2 * size, "ring placement");
  type Out = { token: number; writeLen: number; n: number; published: boolean };
  const out = new Map<number, Out>();
  let token = 1, free = size, devUsed = 0, devSeen = 0;
  const published: number[] = []; // heads the device may use, in avail order
  let fault = 0;
  const lies = g.chance(0.5) ? 0 : 0.05; // half the cases have an honest device
  for (let step = 0; step < 60 && fault === 0; step++) {
    const op = g.below(10);
    if (op < 3) {
      const n = 1 + g.below(4), nRead = g.below(n + 1);
      x.drvSegClear();
      let wl = 0;
      for (let i = 0; i < n; i++) {
        const len = 1 + g.below(4096);
        x.drvSeg(BigInt(MEM / 2 + g.below(MEM / 2 - 4096)), len, i >= nRead);
        if (i >= nRead) wl += len;
      }
      const h = x.drvAdd(token);
      if (n > free) { check(h === -1, `add with ${free} free gave ${h}`); continue; }
      check(h >= 0 && h < size && !out.has(h), `add gave head ${h}`);
      // The chain as the device will read it: bus addresses, NEXT links, WRITE on the writable tail.
      let i = h;
      for (let k = 0; k < n; k++) {
        const flags = d.getUint16(D + 16 * i + 12, true);
        check(d.getBigUint64(D + 16 * i, true) >= busBase, "bus address");
        check((flags & WRITE) === (k >= nRead ? WRITE : 0) && (flags & NEXT) === (k < n - 1 ? NEXT : 0), "descriptor flags");
        i = d.getUint16(D + 16 * i + 14, true);
      }
      out.set(h, { token: token++, writeLen: wl, n, published: false });
      free -= n;
    } else if (op < 5) {
      x.drvPublish();
      for (const [h, o] of out) if (!o.published) { o.published = true; published.push(h); }
    } else if (op < 9) {
      // The device: honest most of the time.
      const honest = !g.chance(lies);
      const ready = published.filter((h) => out.has(h));
      if (honest && ready.length === 0) continue;
      let id: number, len: number;
      if (honest) {
        id = ready[g.below(ready.length)];
        len = g.below(out.get(id)!.writeLen + 1);
        published.splice(published.indexOf(id), 1);
      } else {
        id = [g.below(size), g.u32(), ready.length > 0 ? ready[0] : 0][g.below(3)];
        len = g.chance(0.5) ? g.u32() : 0;
      }
      d.setUint32(U + 4 + 8 * (devUsed % size), id >>> 0, true);
      d.setUint32(U + 8 + 8 * (devUsed % size), len >>> 0, true);
      devUsed = (devUsed + (honest || g.chance(0.5) ? 1 : g.below(65536))) & 0xffff;
      d.setUint16(U + 2, devUsed, true);
    } else {
      // Reap everything; predict each answer from the model.
      for (let k = 0; k < size + 2; k++) {
        const ahead = (d.getUint16(U + 2, true) - devSeen) & 0xffff;
        const inFlight = [...out.values()].filter((o) => o.published).length;
        let want = 0;
        let id = 0, len = 0;
        if (ahead === 0) { check(!x.drvReap() && x.drvFault() === 0, "reap with nothing used"); break; }
        if (ahead > inFlight) want = FD.USED_IDX;
        else {
          id = d.getUint32(U + 4 + 8 * (devSeen % size), true);
          len = d.getUint32(U + 8 + 8 * (devSeen % size), true);
          const o = out.get(id);
          if (id >= size || !o || !o.published) want = FD.USED_ID;
          else if (len > o.writeLen) want = FD.USED_LEN;
        }
        const ok = x.drvReap();
        if (want !== 0) {
          check(!ok && x.drvFault() === want, `reap fault ${x.drvFault()}, model ${want}`);
          fault = want;
          st.faults[want] = (st.faults[want] ?? 0) + 1;
          break;
        }
        const o = out.get(id)!;
        check(ok && x.drvId() === id && x.drvLen() === len && x.drvToken() === o.token, "reaped element");
        out.delete(id);
        free += o.n;
        devSeen = (devSeen + 1) & 0xffff;
        st.reaped++;
      }
    }
    check(x.drvNumFree() === free, `free descriptors ${x.drvNumFree()}, model ${free}`);
  }
  // Recovery: the outstanding tokens are the model's, and a fresh layout works.
  const n = x.drvOutstanding();
  const tokens = Array.from({ length: n }, (_, i) => x.drvOutstandingToken(i)).sort((a, b) => a - b);
  check(JSON.stringify(tokens) === JSON.stringify([...out.values()].map((o) => o.token).sort((a, b) => a - b)), "outstanding tokens");
  if (fault !== 0) check(x.drvAdd(1) === -3 && !x.drvReap() && !x.drvPublish(), "a faulted queue does nothing");
  check(!x.memFault(), "an access outside the window");
}

async function main(): Promise<void> {
  const long = process.argv.includes("--long");
  const seed = process.env.VIRTIO_FUZZ_SEED !== undefined ? Number(process.env.VIRTIO_FUZZ_SEED) >>> 0 : (Date.now() ^ (process.pid << 16)) >>> 0;
  const cases = Number(process.env.VIRTIO_FUZZ_CASES ?? (long ? 1_000_000 : 20_000));
  console.log(`virtio fuzz: ${cases} cases from seed ${seed} (replay: VIRTIO_FUZZ_SEED=${seed})`);
  const s = await fuzz(cases, seed);
  console.log(`virtio fuzz: ${s.cases} cases in ${(s.ms / 1000).toFixed(1)} s: ${s.completions} completed (${s.chains} chains, ${s.interrupts} interrupts), ` +
    `${s.ringFaults} ring faults, ${s.setupFaults} setup faults; no trap, no access outside guest memory`);
  console.log(`virtio fuzz: faults ${Object.entries(s.byFault).sort().map(([k, v]) => `${k} ${v}`).join(", ")}`);
  const dr = await fuzzDriver(Math.ceil(cases / 5), seed);
  console.log(`virtio driver fuzz: ${dr.cases} cases in ${(dr.ms / 1000).toFixed(1)} s: ${dr.reaped} used elements reaped, faults ` +
    `${Object.entries(dr.faults).map(([k, v]) => `${NAMES_D[Number(k)]} ${v}`).join(", ")}`);
  const n = await fuzzNet(Math.ceil(cases / 5), seed);
  console.log(`virtio-net fuzz: ${n.cases} cases in ${(n.ms / 1000).toFixed(1)} s: ${n.txFrames} frames sent (${n.txMalformed} malformed), ` +
    `${n.rxFrames} received (${n.rxDropped} dropped), ${n.resets} NEEDS_RESET; guest memory as the reference, no access outside it`);
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
