// AOT compile time of the monitor image's wasm (build/typevisor.wasm from `npm run build`),
// baremetal target, best of 3, in ms per KB. Give a copy of scripts/aot to time another compiler.
//
//   npx tsx bench/aot/compile-time.ts [compiler dir, default scripts/aot]
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { root } from "../../test/aot/lib/backend.ts";

const dir = resolve(process.argv[2] ?? join(root, "scripts/aot"));
const { compile } = await import(pathToFileURL(join(dir, "index.ts")).href);
const wasm = readFileSync(join(root, "build/typevisor.wasm"));
const kb = wasm.length / 1024;
let best = Infinity;
for (let i = 0; i < 3; i++) {
  const t0 = process.hrtime.bigint();
  await compile(wasm, { target: "baremetal", out: join(root, "build/bench-aot-ctime.o") });
  best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e6);
}
console.log(`${dir}: ${kb.toFixed(1)} KB of wasm, best of 3: ${best.toFixed(0)} ms, ${(best / kb).toFixed(1)} ms per KB (binaryen -O2, code generation, as)`);
