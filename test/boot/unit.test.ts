// Unit tests of the boot-time logic compiled for Node: the physical page
// allocator, multiboot 1 and 2 parsing, and the command-line options.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { root } from "../../scripts/lib/emulators.ts";

const PHYS_SIZE = 1 << 20; // emulated physical memory for the multiboot tests
const phys = new DataView(new ArrayBuffer(PHYS_SIZE));
// eslint-disable-next-line @typescript-eslint/no-explicit-any
let x: any;

async function build(): Promise<string> {
  const files = ["test/boot/entry.ts", "src/platform/pages.ts", "src/platform/multiboot.ts", "src/hw/intrinsics.ts", "src/hw/layout.ts"];
  const h = createHash("sha256");
  for (const f of files) h.update(readFileSync(join(root, f)));
  const dir = join(root, "build/test/boot-unit", h.digest("hex").slice(0, 16));
  const wasm = join(dir, "entry.wasm");
  if (existsSync(wasm)) return wasm;
  mkdirSync(dir, { recursive: true });
  const asc = (await import("assemblyscript/asc")).default;
  let err = "";
  const { error } = await asc.main(["test/boot/entry.ts", "--target", "node", "--bindings", "raw", "-o", wasm], {
    stderr: { write: (s: string | Uint8Array) => ((err += String(s)), true) } as never,
  });
  if (error) throw new Error(`asc failed: ${error.message}\n${err}`);
  return wasm;
}

beforeAll(async () => {
  const wasm = await build();
  const bindings = await import(wasm.replace(/\.wasm$/, ".js"));
  const hw = {
    phys_load8: (pa: bigint) => phys.getUint8(Number(pa)),
    phys_load16: (pa: bigint) => phys.getUint16(Number(pa), true),
    phys_load32: (pa: bigint) => phys.getUint32(Number(pa), true) | 0,
    phys_load64: (pa: bigint) => phys.getBigUint64(Number(pa), true),
    phys_fill: () => {},
  };
  x = await bindings.instantiate(await WebAssembly.compile(readFileSync(wasm)), { hw });
}, 300_000);

describe("physical page allocator", () => {
  it("hands out pages from usable RAM minus reserved ranges, never twice", () => {
    x.pagesReset();
    x.pagesAddFree(0n, 0x9fc00n); // 159 pages (partial last page dropped)
    x.pagesAddFree(0x100000n, 0x800000n); // 1792 pages
    expect(x.pagesTotal()).toBe(159n + 1792n);
    x.pagesReserve(0n, 0x100000n);
    x.pagesReserve(0x100000n, 0x123456n); // kernel: partly covered pages are reserved too
    x.pagesReserve(0x400000n, 0x600000n); // heap pool
    const expected = (0x400000n - 0x124000n) / 4096n + (0x800000n - 0x600000n) / 4096n;
    expect(x.pagesFreeCount()).toBe(expected);
    const seen = new Set<bigint>();
    for (let i = 0n; i < expected; i++) {
      const pa = x.pagesAlloc();
      expect(pa % 4096n).toBe(0n);
      expect(pa >= 0x124000n && (pa < 0x400000n || pa >= 0x600000n) && pa < 0x800000n).toBe(true);
      expect(seen.has(pa)).toBe(false);
      seen.add(pa);
    }
    expect(x.pagesAlloc()).toBe(0n); // exhausted: 0, not a bogus page
    x.pagesFree(0x200000n);
    expect(x.pagesAlloc()).toBe(0x200000n);
  });

  it("allocates aligned contiguous runs and keeps the skipped head free", () => {
    x.pagesReset();
    x.pagesAddFree(0x101000n, 0x1000000n);
    const before = x.pagesFreeCount();
    const big = x.pagesAllocContiguous(512n, 512n); // 2 MiB aligned
    expect(big % 0x200000n).toBe(0n);
    expect(big).toBe(0x200000n);
    expect(x.pagesFreeCount()).toBe(before - 512n);
    // the pages between 0x101000 and 0x200000 are still there
    const small = x.pagesAllocContiguous(255n, 1n);
    expect(small).toBeGreaterThanOrEqual(0x101000n);
    expect(x.pagesAllocContiguous(100000n, 1n)).toBe(0n);
  });

  it("merges overlapping map entries without counting pages twice", () => {
    x.pagesReset();
    x.pagesAddFree(0x100000n, 0x300000n);
    x.pagesAddFree(0x200000n, 0x400000n);
    x.pagesAddFree(0x250000n, 0x260000n);
    expect(x.pagesTotal()).toBe(0x300000n / 4096n);
    expect(x.pagesFreeCount()).toBe(0x300000n / 4096n);
  });
});

function putString(at: number, s: string): void {
  for (let i = 0; i < s.length; i++) phys.setUint8(at + i, s.charCodeAt(i));
  phys.setUint8(at + s.length, 0);
}

describe("multiboot information", () => {
  it("multiboot 1: command line and memory map (spec 3.3)", () => {
    const info = 0x1000;
    new Uint8Array(phys.buffer).fill(0);
    phys.setUint32(info, (1 << 2) | (1 << 6), true);
    phys.setUint32(info + 16, 0x2000, true);
    putString(0x2000, "/boot/typevisor.elf console=ttyS0 demo");
    const mmap = 0x3000;
    const entries: [bigint, bigint, number][] = [[0n, 0x9fc00n, 1], [0x100000n, 0x7ee0000n, 1], [0xfffc0000n, 0x40000n, 2]];
    entries.forEach(([b, l, t], i) => {
      const e = mmap + i * 24;
      phys.setUint32(e, 20, true);
      phys.setBigUint64(e + 4, b, true);
      phys.setBigUint64(e + 12, l, true);
      phys.setUint32(e + 20, t, true);
    });
    phys.setUint32(info + 44, entries.length * 24, true);
    phys.setUint32(info + 48, mmap, true);
    expect(x.multibootProbe(0x2badb002, BigInt(info))).toBe(
      "1|/boot/typevisor.elf console=ttyS0 demo||0:9fc00:1;100000:7ee0000:1;fffc0000:40000:2;",
    );
  });

  it("multiboot 2: tags for command line, loader name, memory map (spec 3.6)", () => {
    new Uint8Array(phys.buffer).fill(0);
    const info = 0x8000;
    let t = info + 8;
    const tag = (type: number, body: (at: number) => number) => {
      const size = 8 + body(t + 8);
      phys.setUint32(t, type, true);
      phys.setUint32(t + 4, size, true);
      t += (size + 7) & ~7;
    };
    tag(1, (at) => (putString(at, "shutdown loglevel=debug"), 24));
    tag(2, (at) => (putString(at, "GRUB 2.06"), 10));
    tag(6, (at) => {
      phys.setUint32(at, 24, true);
      phys.setUint32(at + 4, 0, true);
      phys.setBigUint64(at + 8, 0x100000n, true);
      phys.setBigUint64(at + 16, 0xff00000n, true);
      phys.setUint32(at + 24, 1, true);
      return 8 + 24;
    });
    tag(0, () => 0);
    phys.setUint32(info, t - info, true);
    expect(x.multibootProbe(0x36d76289, BigInt(info))).toBe("2|shutdown loglevel=debug|GRUB 2.06|100000:ff00000:1;");
  });

  it("an unknown magic yields no information", () => {
    expect(x.multibootProbe(0x12345678, 0x1000n)).toBe("0|||");
  });
});

describe("command-line options", () => {
  it("defaults", () => {
    expect(x.optionsProbe("")).toBe("ttyS0|2||0||0|-");
  });
  it("skips the kernel path QEMU puts first; parses console=, loglevel=, panic-test, shutdown; keeps the rest", () => {
    expect(x.optionsProbe("build/typevisor.elf console=ttyS1,115200 loglevel=debug panic-test shutdown demo start=a,b"))
      .toBe("ttyS1|3|trap|1|demo,start=a,b|1|a,b");
  });
  it("numeric log levels and panic-test kinds", () => {
    expect(x.optionsProbe("loglevel=0 panic-test=pf")).toBe("ttyS0|0|pf|0||0|-");
  });
});
