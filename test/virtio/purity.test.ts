// src/virtio is pure like src/vswitch: it imports only itself and the BoundedMemory contract, and compiles to integer-only code.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";
import { NET_SOURCES, load, loadVirtio, root } from "./harness";

function importsOf(dir: string): [string, string][] {
  const out: [string, string][] = [];
  for (const f of readdirSync(join(root, dir)).filter((n) => n.endsWith(".ts"))) {
    const text = readFileSync(join(root, dir, f), "utf8");
    for (const m of text.matchAll(/^\s*(?:import|export)[^;]*?from\s+"([^"]+)"/gms)) out.push([f, m[1]]);
  }
  return out;
}

test("src/virtio imports nothing but itself and src/lib/bounded-memory", () => {
  const bad = importsOf("src/virtio").filter(([, p]) => !/^\.\/[a-z-]+$/.test(p) && p !== "../lib/bounded-memory");
  expect(bad).toEqual([]);
  expect(importsOf("src/virtio").length).toBeGreaterThan(5); // the scan sees the imports
});

test("src/devices/virtio-net reaches no hardware, vmm or driver code", () => {
  const bad = importsOf("src/devices/virtio-net").filter(([, p]) => /(^|\/)(hw|vmm|drivers)(\/|$)/.test(p));
  expect(bad).toEqual([]);
});

async function floatLines(wasm: string): Promise<string[]> {
  const binaryen = (await import("binaryen")).default;
  const m = binaryen.readBinary(readFileSync(wasm));
  m.setFeatures(binaryen.Features.All);
  const text = m.emitText();
  m.dispose();
  return text.split("\n").filter((l: string) => /\bf(32|64)\b|f(32|64)\./.test(l));
}

test("the virtqueue and the virtio-net device compile to integer-only code (no f32/f64)", async () => {
  expect(await floatLines((await loadVirtio()).wasm)).toEqual([]);
  const net = await load("virtio-net", "test/devices/virtio-net/entry.ts", NET_SOURCES);
  expect(await floatLines(net.wasm)).toEqual([]);
});
