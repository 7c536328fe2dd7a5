// The machine under the common VMM code in Node: test/vmm/fake/entry.ts compiled with asc (--runtime stub,
// a bump allocator, so heap growth is exact) and instantiated with the `hw` imports of src/hw/intrinsics.ts
// implemented here: physical memory is a buffer, CPUID answers from a table, the TSC advances by a set step
// per read, COM1 output is collected. An intrinsic the code under test was not expected to reach throws.
import { readFileSync } from "node:fs";
import { buildEntry } from "../../lib/as-build";

/** Fake physical memory: [0, PHYS_BYTES); the page allocator gets [RAM_START, PHYS_BYTES). */
export const PHYS_BYTES = 48 << 20;
export const RAM_START = 1 << 20;

/** ExitKind (src/vmm/vcpu.ts), VmState (vm.ts), VmOp and VmError (mgmt-api/vm.ts), Reg (regs.ts). */
export const Exit = {
  Handled: 0, Cpuid: 1, Io: 2, MsrRead: 3, MsrWrite: 4, Hlt: 5, MemFault: 6, TripleFault: 7, InvalidState: 8,
  Preempted: 9, Interrupt: 10, EntryFailed: 11, Unhandled: 12, Exception: 13, Xsetbv: 14, Rdpmc: 15, Invd: 16,
  VirtInsn: 17, InterruptWindow: 18,
} as const;
export const State = { Created: 0, Running: 1, Paused: 2, Stopped: 3 } as const;
export const Op = { Start: 0, Stop: 1, Pause: 2, Resume: 3, Reset: 4 } as const;
export const VmError = { NotFound: 1, WrongState: 2, Busy: 3, NoResources: 4 } as const;
export const Reg = { Rax: 0, Rcx: 1, Rdx: 2, Rbx: 3 } as const;
/** test/vmm/fake/fake-vcpu.ts StepFlag. */
export const Flag = { IoIn: 1, IoString: 2, Write: 4, Fetch: 8, NoLength: 16 } as const;
/** The monitor's slice (src/vmm/monitor.ts SLICE_TSC). */
export const SLICE_TSC = 5_000_000n;

let modulePromise: Promise<WebAssembly.Module> | null = null;

/** Compiles the entry once per source hash (test/lib/as-build.ts) and the wasm once per test file. */
function compiled(): Promise<WebAssembly.Module> {
  modulePromise ??= buildEntry("vmm-test", "test/vmm/fake/entry.ts", ["src", "test/vmm/fake"], ["--runtime", "stub"])
    .then((wasm) => WebAssembly.compile(readFileSync(wasm)));
  return modulePromise;
}

type Cpuid = (leaf: number, sub: number) => [number, number, number, number] | undefined;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Exports = any;

export class FakeMachine {
  x: Exports = null;
  readonly phys = new DataView(new ArrayBuffer(PHYS_BYTES));
  /** Host CPUID: leaves the function does not answer read 0. */
  cpuid: Cpuid = () => undefined;
  tsc = 0n;
  /** TSC ticks per rdtsc. */
  tscStep = 1000n;
  cr4 = 0n;
  xcr0 = 1n;
  /** Embedded guest images for hw_guest_copy. */
  images = new Map<number, Uint8Array>([[0, Uint8Array.from([0xf4])]]);
  com1 = "";
  /** How often each intrinsic was called. */
  calls = new Map<string, number>();

  private check(pa: bigint, len: bigint): number {
    if (pa < 0n || pa + len > BigInt(PHYS_BYTES)) throw new Error(`physical access outside the fake RAM: 0x${pa.toString(16)}+${len}`);
    return Number(pa);
  }
  private mem(): Uint8Array {
    return new Uint8Array(this.x.memory.buffer);
  }

  imports(): WebAssembly.Imports {
    const count = (name: string) => this.calls.set(name, (this.calls.get(name) ?? 0) + 1);
    const p = this.phys;
    const hw: Record<string, (...a: never[]) => unknown> = {
      phys_load8: (pa: bigint) => p.getUint8(this.check(pa, 1n)),
      phys_load16: (pa: bigint) => p.getUint16(this.check(pa, 2n), true),
      phys_load32: (pa: bigint) => p.getInt32(this.check(pa, 4n), true),
      phys_load64: (pa: bigint) => p.getBigInt64(this.check(pa, 8n), true),
      phys_store8: (pa: bigint, v: number) => p.setUint8(this.check(pa, 1n), v),
      phys_store16: (pa: bigint, v: number) => p.setUint16(this.check(pa, 2n), v, true),
      phys_store32: (pa: bigint, v: number) => p.setInt32(this.check(pa, 4n), v, true),
      phys_store64: (pa: bigint, v: bigint) => p.setBigInt64(this.check(pa, 8n), v, true),
      phys_fill: (pa: bigint, byte: number, len: bigint) => {
        const a = this.check(pa, len);
        new Uint8Array(p.buffer, a, Number(len)).fill(byte);
      },
      phys_copy_in: (pa: bigint, src: number, len: number) => {
        new Uint8Array(p.buffer, this.check(pa, BigInt(len)), len).set(this.mem().subarray(src, src + len));
      },
      phys_copy_out: (dst: number, pa: bigint, len: number) => {
        this.mem().set(new Uint8Array(p.buffer, this.check(pa, BigInt(len)), len), dst);
      },
      cpuid: (leaf: number, sub: number, out: number) => {
        count("cpuid");
        const r = this.cpuid(leaf >>> 0, sub >>> 0) ?? [0, 0, 0, 0];
        const v = new DataView(this.x.memory.buffer);
        r.forEach((w, i) => v.setUint32(out + 4 * i, w >>> 0, true));
      },
      rdtsc: () => {
        this.tsc += this.tscStep;
        return this.tsc;
      },
      read_cr4: () => this.cr4,
      write_cr4: (v: bigint) => {
        this.cr4 = v;
      },
      xgetbv: () => this.xcr0,
      ext_switch: () => count("ext_switch"),
      dr_switch: () => count("dr_switch"),
      guest_copy: (index: number, dst: bigint, max: bigint) => {
        const img = this.images.get(index);
        if (!img || BigInt(img.length) > max) return -1n;
        new Uint8Array(p.buffer, this.check(dst, BigInt(img.length)), img.length).set(img);
        return BigInt(img.length);
      },
      // COM1 (src/drivers/uart.ts): the line status register says "transmitter empty", data bytes are kept
      inb: (port: number) => (port === 0x3fd ? 0x60 : 0xff),
      outb: (port: number, v: number) => {
        if (port === 0x3f8) this.com1 += String.fromCharCode(v);
      },
      pause: () => undefined,
    };
    const env = {
      abort: (msg: number, file: number, line: number, col: number) => {
        throw new Error(`abort: ${this.str(msg)} at ${this.str(file)}:${line}:${col}`);
      },
      trace: () => undefined,
      seed: () => 1,
    };
    return { env, hw } as WebAssembly.Imports;
  }

  /** An AssemblyScript string from its pointer. */
  str(ptr: number): string {
    if (!ptr) return "";
    const len = new Uint32Array(this.x.memory.buffer, ptr - 4, 1)[0] >>> 1;
    return String.fromCharCode(...new Uint16Array(this.x.memory.buffer, ptr, len));
  }
  /** A new AssemblyScript string (class id 2); the stub runtime never collects it. */
  newStr(s: string): number {
    const ptr = this.x.__new(s.length << 1, 2);
    new Uint16Array(this.x.memory.buffer, ptr, s.length).set([...s].map((c) => c.charCodeAt(0)));
    return ptr;
  }

  u64(v: bigint): bigint {
    return BigInt.asUintN(64, v);
  }
  load64(pa: bigint): bigint {
    return this.u64(this.phys.getBigInt64(Number(pa), true));
  }

  // the entry's exports in JS terms
  create(name: string, image = 0, ram = 1n << 20n): number {
    return this.x.create(this.newStr(name), image, ram);
  }
  reason(id: number): string {
    return this.str(this.x.reason(id));
  }
  consoleLine(id: number): string {
    return this.str(this.x.consoleLine(id));
  }
  reg(id: number, r: number): bigint {
    return this.u64(this.x.reg(id, r));
  }
  script(id: number, kind: number, o: { rax?: bigint; rcx?: bigint; rdx?: bigint; arg?: bigint; arg2?: number; flags?: number } = {}): void {
    this.x.script(id, kind, o.rax ?? 0n, o.rcx ?? 0n, o.rdx ?? 0n, o.arg ?? 0n, o.arg2 ?? 0, o.flags ?? 0);
  }
  /** One scripted exit through handleExit; whether the vCPU may run on. */
  exit(id: number, kind: number, o: Parameters<FakeMachine["script"]>[2] = {}): boolean {
    this.x.resetScript(id, false);
    this.script(id, kind, o);
    return this.x.step(id) !== 0;
  }
  /** A running test VM with 1 MiB of RAM. */
  running(name: string): number {
    const id = this.create(name);
    if (id < 0 || this.x.change(id, Op.Start) !== 0) throw new Error(`cannot start ${name}`);
    return id;
  }
}

/** A fresh instance: its own linear memory, fake physical memory and monitor. */
export async function machine(setup: (m: FakeMachine) => void = () => {}): Promise<FakeMachine> {
  const m = new FakeMachine();
  setup(m);
  const mod = await compiled();
  const imports = m.imports();
  for (const i of WebAssembly.Module.imports(mod)) {
    const ns = (imports[i.module] ??= {}) as Record<string, unknown>;
    ns[i.name] ??= () => {
      throw new Error(`${i.module}.${i.name} is not expected here (test/vmm/fake/machine.ts)`);
    };
  }
  const inst = await WebAssembly.instantiate(mod, imports);
  m.x = inst.exports;
  (inst.exports._start as (() => void) | undefined)?.();
  m.x.addRam(BigInt(RAM_START), BigInt(PHYS_BYTES));
  return m;
}
