// Fuzzes the device side of the split virtqueue against a reference walker written here: random and mutated ring states, wrapped indexes.
// `npx tsx test/virtio/fuzz.ts --long` runs 1,000,000 cases; VIRTIO_FUZZ_SEED=n replays from seed n, VIRTIO_FUZZ_CASES=n sets the count.
import { Exports, loadVirtio } from "./harness";

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
  constructor(readonly r: Ring, readonly dv: () => DataView) {}
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
      if (segs.length >= SEGS) return { fault: F.CHAIN_TOO_LONG };
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
    try {
      runCase(x, dv, new Rng(caseSeed), st);
    } catch (e) {
      throw new Error(`virtio fuzz: case ${c} failed; replay with VIRTIO_FUZZ_SEED=${caseSeed} VIRTIO_FUZZ_CASES=1: ${(e as Error).message}`);
    }
  }
  st.ms = Date.now() - t0;
  return st;
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(what);
}

function runCase(x: Exports, dv: () => DataView, g: Rng, st: FuzzStats): void {
  const d = dv();
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
  const r: Ring = { size, desc, avail, used, eventIdx: g.chance(0.5), indirect: g.chance(0.7) };
  const expectSetup = refSetup(r);
  const got = x.devSetup(size, desc, avail, used, r.eventIdx, r.indirect);
  check(got === expectSetup, `setup: got ${got}, want ${expectSetup}`);
  if (got !== F.NONE) {
    st.setupFaults++;
    st.byFault[NAMES[got]] = (st.byFault[NAMES[got]] ?? 0) + 1;
    check(!x.memFault(), "memory fault at setup");
    return;
  }
  const D = Number(desc), A = Number(avail), U = Number(used);
  const lastAvail = g.chance(0.5) ? g.below(65536) : 0;
  const usedStart = g.chance(0.5) ? g.below(65536) : 0;
  x.devSetIndexes(lastAvail, usedStart);
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

async function main(): Promise<void> {
  const long = process.argv.includes("--long");
  const seed = process.env.VIRTIO_FUZZ_SEED !== undefined ? Number(process.env.VIRTIO_FUZZ_SEED) >>> 0 : (Date.now() ^ (process.pid << 16)) >>> 0;
  const cases = Number(process.env.VIRTIO_FUZZ_CASES ?? (long ? 1_000_000 : 20_000));
  console.log(`virtio fuzz: ${cases} cases from seed ${seed} (replay: VIRTIO_FUZZ_SEED=${seed})`);
  const s = await fuzz(cases, seed);
  console.log(`virtio fuzz: ${s.cases} cases in ${(s.ms / 1000).toFixed(1)} s: ${s.completions} completed (${s.chains} chains, ${s.interrupts} interrupts), ` +
    `${s.ringFaults} ring faults, ${s.setupFaults} setup faults; no trap, no access outside guest memory`);
  console.log(`virtio fuzz: faults ${Object.entries(s.byFault).sort().map(([k, v]) => `${k} ${v}`).join(", ")}`);
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
