// Runs a wasm module under Node (V8) with the linux contract of docs/ABI.md:
// hw.outb(0xE9, b) appends to stdout, hw.arg(i) reads args[i], main's result
// & 0xff is the status, and a trap gives 100 + its ABI.md code.

export interface NodeRun {
  stdout: Buffer;
  status: number;
  trap?: string;
}

const TRAPS: [RegExp, number][] = [
  [/unreachable/, 1],
  [/divide by zero|remainder by zero/, 2],
  [/divide result unrepresentable|integer overflow/, 3],
  [/float unrepresentable|invalid conversion/, 4],
  [/memory access out of bounds/, 5],
  [/table index is out of bounds|undefined element/, 6],
  [/signature mismatch|null function/, 7],
  [/call stack|Maximum call stack/, 8],
];

export function trapCode(message: string): number {
  return TRAPS.find(([re]) => re.test(message))?.[1] ?? 9;
}

export async function instantiate(wasm: Uint8Array, args: number[] = [], out: number[] = []) {
  const imports = {
    hw: {
      outb: (port: number, value: number) => {
        if (port === 0xe9) out.push(value & 0xff);
      },
      arg: (i: number) => args[i] ?? 0,
    },
  };
  const module = await WebAssembly.compile(wasm as Uint8Array<ArrayBuffer>);
  return WebAssembly.instantiate(module, imports as any);
}

export async function runInNode(wasm: Uint8Array, args: number[] = []): Promise<NodeRun> {
  const out: number[] = [];
  try {
    const instance = await instantiate(wasm, args, out);
    const r = (instance.exports.main as () => number)();
    return { stdout: Buffer.from(out), status: r & 0xff };
  } catch (e: any) {
    if (e instanceof WebAssembly.RuntimeError || e instanceof RangeError) {
      return { stdout: Buffer.from(out), status: 100 + trapCode(String(e.message)), trap: String(e.message) };
    }
    throw e;
  }
}
