// CLI: npm run aot -- <in.wasm> --target linux|baremetal -o <out> [--keep-asm] [--no-opt]
import { readFile } from "node:fs/promises";
import { compile } from "./index.ts";

function usage(): never {
  console.error("usage: npm run aot -- <in.wasm> --target linux|baremetal -o <out> [--keep-asm] [--no-opt]");
  process.exit(2);
}

async function main() {
  const args = process.argv.slice(2);
  let input: string | undefined, out: string | undefined, target: string | undefined;
  let keepAsm = false, optimize = true;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--target" || a === "-t") target = args[++i];
    else if (a.startsWith("--target=")) target = a.slice(9);
    else if (a === "-o" || a === "--out") out = args[++i];
    else if (a === "--keep-asm" || a === "-S") keepAsm = true;
    else if (a === "--no-opt" || a === "-O0") optimize = false;
    else if (a === "--help" || a === "-h") usage();
    else if (!a.startsWith("-") && !input) input = a;
    else { console.error(`aot: unknown argument ${a}`); usage(); }
  }
  if (!input || !out || (target !== "linux" && target !== "baremetal")) usage();
  let wasm: Uint8Array;
  try { wasm = new Uint8Array(await readFile(input)); } catch (e) { console.error(`aot: cannot read ${input}: ${(e as Error).message}`); process.exit(1); }
  try {
    const r = await compile(wasm, { target, out, keepAsm, optimize });
    console.log(`aot: ${input} -> ${out} (${target}, ${r.functions} functions${r.asmPath ? `, asm ${r.asmPath}` : ""})`);
  } catch (e) {
    console.error(`aot: ${input}: ${(e as Error).message}`);
    process.exit(1);
  }
}

main();
