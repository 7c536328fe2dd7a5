// src/vmm/gpt.ts, the EPT/NPT radix tree: the tables GuestTables builds are read back from the fake physical
// memory and walked here, independently of GuestTables.translate (SDM 28.3.2: 4 levels, 9 bits each,
// address in bits 51:12, bit 7 a 2 MiB leaf in the PD).
import { beforeEach, describe, expect, it } from "vitest";
import { FakeMachine, machine } from "./fake/machine";

const ADDR = 0x000f_ffff_ffff_f000n;
const TABLE = 7n, LEAF4K = 7n | (6n << 3n), LEAF2M = 7n | (6n << 3n) | 0x80n; // fake-vcpu.ts eptFormat
const MISS = (1n << 64n) - 1n;

interface Walk {
  hpa: bigint;
  leaf: bigint;
  level: number;
  tables: bigint[];
}

/** The walk the CPU does for `gpa` from `root`, with every non-leaf entry checked; null when not present. */
function walk(m: FakeMachine, root: bigint, gpa: bigint): Walk | null {
  let t = root;
  const tables = [root];
  for (let level = 4; level >= 1; level--) {
    const e = m.load64(t + (((gpa >> BigInt(12 + 9 * (level - 1))) & 511n) << 3n));
    if (e === 0n) return null;
    if (level === 2 && (e & 0x80n) !== 0n) {
      return { hpa: (e & ADDR & ~0x1fffffn) | (gpa & 0x1fffffn), leaf: e & ~ADDR, level, tables };
    }
    if (level === 1) return { hpa: (e & ADDR) | (gpa & 0xfffn), leaf: e & ~ADDR, level, tables };
    expect(e & ~ADDR, `table entry bits at level ${level} for 0x${gpa.toString(16)}`).toBe(TABLE);
    t = e & ADDR;
    tables.push(t);
  }
  return null;
}

let m: FakeMachine;
beforeEach(async () => {
  m = await machine();
});

describe("GuestTables (gpt.ts)", () => {
  it("maps 1 MiB with 4 KiB leaves in four frames, and nothing else", () => {
    const root = m.u64(m.x.gptNew(0));
    const hpa = 0x2345000n;
    expect(m.x.gptMap(0n, hpa, 1n << 20n)).toBe(1);
    const frames = new Set<bigint>();
    for (let gpa = 0n; gpa < 1n << 20n; gpa += 0x1000n) {
      const w = walk(m, root, gpa + 0x123n)!;
      expect(w, `0x${gpa.toString(16)}`).not.toBeNull();
      expect(w.level).toBe(1);
      expect(w.leaf).toBe(LEAF4K);
      expect(w.hpa).toBe(hpa + gpa + 0x123n);
      expect(m.u64(m.x.gptTranslate(gpa + 0x123n))).toBe(w.hpa);
      w.tables.forEach((t) => frames.add(t));
    }
    expect(frames.size).toBe(4); // PML4, PDPT, PD, PT
    expect(m.x.gptFrames()).toBe(4);
    for (const gpa of [1n << 20n, 2n << 20n, 1n << 30n, 1n << 39n, 0xffff_f000n]) {
      expect(walk(m, root, gpa), `0x${gpa.toString(16)}`).toBeNull();
      expect(m.u64(m.x.gptTranslate(gpa))).toBe(MISS);
    }
    // the PT holds exactly 256 leaves; its other 256 entries are empty
    const pt = [...frames][3];
    let present = 0;
    for (let i = 0n; i < 512n; i++) if (m.load64(pt + i * 8n) !== 0n) present++;
    expect(present).toBe(256);
  });

  it("uses 2 MiB leaves when the format allows them and both addresses are aligned", () => {
    const root = m.u64(m.x.gptNew(1));
    expect(m.x.gptMap(0x400000n, 0x1800000n, 0x400000n)).toBe(1);
    for (const off of [0n, 0x1234n, 0x200000n, 0x3fffffn]) {
      const w = walk(m, root, 0x400000n + off)!;
      expect(w.level).toBe(2);
      expect(w.leaf).toBe(LEAF2M);
      expect(w.hpa).toBe(0x1800000n + off);
      expect(m.u64(m.x.gptTranslate(0x400000n + off))).toBe(w.hpa);
    }
    expect(m.x.gptFrames()).toBe(3); // no PT
    expect(walk(m, root, 0x800000n)).toBeNull();
  });

  it("falls back to 4 KiB leaves for an unaligned host address or a short tail", () => {
    const root = m.u64(m.x.gptNew(1));
    expect(m.x.gptMap(0n, 0x1801000n, 0x200000n)).toBe(1); // host not 2 MiB aligned
    expect(walk(m, root, 0x1fffffn)!.level).toBe(1);
    expect(walk(m, root, 0x1fffffn)!.hpa).toBe(0x1801000n + 0x1fffffn);
    const root2 = m.u64(m.x.gptNew(1));
    expect(m.x.gptMap(0n, 0x1800000n, 0x201000n)).toBe(1); // one 2 MiB leaf, then one 4 KiB page
    expect(walk(m, root2, 0x1000n)!.level).toBe(2);
    const tail = walk(m, root2, 0x200800n)!;
    expect(tail.level).toBe(1);
    expect(tail.hpa).toBe(0x1a00800n);
    expect(walk(m, root2, 0x201000n)).toBeNull();
  });

  it("creates the tables each range needs across 1 GiB and 512 GiB boundaries", () => {
    const root = m.u64(m.x.gptNew(0));
    expect(m.x.gptMap((1n << 30n) - 0x2000n, 0x3000000n, 0x4000n)).toBe(1);
    expect(m.x.gptFrames()).toBe(6); // PML4, PDPT, 2 PDs, 2 PTs
    expect(walk(m, root, (1n << 30n) - 0x2000n)!.hpa).toBe(0x3000000n);
    expect(walk(m, root, (1n << 30n) + 0x1fffn)!.hpa).toBe(0x3003fffn);
    expect(m.x.gptMap((1n << 39n) - 0x1000n, 0x3100000n, 0x2000n)).toBe(1);
    expect(m.x.gptFrames()).toBe(6 + 2 + 3); // a PD and PT under PDPT slot 511, then PDPT, PD, PT under PML4 slot 1
    const a = walk(m, root, (1n << 39n) - 0x1000n)!, b = walk(m, root, 1n << 39n)!;
    expect(a.hpa).toBe(0x3100000n);
    expect(b.hpa).toBe(0x3101000n);
    expect(a.tables[1]).not.toBe(b.tables[1]); // different PDPTs under different PML4 slots
    // a random sample agrees with translate()
    for (let i = 0n; i < 64n; i++) {
      const gpa = ((1n << 30n) - 0x2000n + i * 0x123n) & ((1n << 48n) - 1n);
      const w = walk(m, root, gpa);
      expect(m.u64(m.x.gptTranslate(gpa))).toBe(w ? w.hpa : MISS);
    }
  });

  it("reuses existing tables for a second mapping in the same range", () => {
    const root = m.u64(m.x.gptNew(0));
    expect(m.x.gptMap(0n, 0x2000000n, 0x1000n)).toBe(1);
    expect(m.x.gptMap(0x1000n, 0x2100000n, 0x1000n)).toBe(1);
    expect(m.x.gptFrames()).toBe(4);
    expect(walk(m, root, 0x1000n)!.hpa).toBe(0x2100000n);
    expect(walk(m, root, 0n)!.tables).toEqual(walk(m, root, 0x1000n)!.tables);
  });
});
