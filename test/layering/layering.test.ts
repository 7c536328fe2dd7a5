// The folders are the architecture (shared/docs/STYLE.md): this test keeps them so. No import cycles among
// src/ and scripts/; the pure modules (vswitch, virtio) reach no hardware; only src/hw declares
// intrinsics; device models never see vmx/ or svm/; common VMM code never imports a vendor file; src/lib
// imports nothing from the layers that use it.
import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync, statSync, existsSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

function files(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (/\.(ts|mts|mjs)$/.test(e) && !e.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

/** The project files a source file imports (relative specifiers only), as paths from the root. */
export function importsOf(file: string, text = readFileSync(file, "utf8")): string[] {
  const out: string[] = [];
  const re = /^\s*(?:import|export)\s[^;]*?from\s+["'](\.[^"']+)["']/gm;
  for (let m; (m = re.exec(text)); ) {
    let p = resolve(dirname(file), m[1]);
    if (!/\.(ts|mts|mjs|js)$/.test(p)) p += ".ts";
    p = p.replace(/\.js$/, ".ts");
    if (existsSync(p)) out.push(relative(root, p));
  }
  return out;
}

/** Every import cycle, each as the list of files around it (Tarjan's strongly connected components). */
export function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>(), low = new Map<string, number>(), on = new Set<string>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      for (let w = ""; w !== v; ) {
        w = stack.pop()!;
        on.delete(w);
        comp.push(w);
      }
      if (comp.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(comp.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return found;
}

const all = [...files(join(root, "src")), ...files(join(root, "scripts"))];
const graph = new Map(all.map((f) => [relative(root, f), importsOf(f)]));
const under = (prefix: string) => [...graph.entries()].filter(([f]) => f.startsWith(prefix));

describe("layering", () => {
  it("finds a cycle when there is one (the checker itself)", () => {
    expect(cycles(new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["a"]]]))).toEqual([["a", "b", "c"]]);
    expect(cycles(new Map([["a", ["b"]], ["b", []]]))).toEqual([]);
  });

  it("has no import cycles among src/ and scripts/", () => {
    expect(cycles(graph)).toEqual([]);
  });

  it("keeps the pure modules pure: vswitch and virtio import nothing from hw, vmm, drivers or devices", () => {
    for (const [f, deps] of [...under("src/vswitch/"), ...under("src/virtio/")]) {
      const bad = deps.filter((d) => /^src\/(hw|vmm|drivers|devices|platform)\//.test(d));
      expect(bad, f).toEqual([]);
    }
  });

  it("device models see neither vmx/ nor svm/ nor hw/", () => {
    for (const [f, deps] of under("src/devices/")) {
      expect(deps.filter((d) => /^src\/(vmm\/(vmx|svm)|hw)\//.test(d)), f).toEqual([]);
    }
  });

  it("common VMM code imports no vendor file (vmx/, svm/), except where the backend is chosen", () => {
    for (const [f, deps] of under("src/vmm/")) {
      if (/^src\/vmm\/(vmx|svm)\//.test(f) || f === "src/vmm/index.ts") continue;
      expect(deps.filter((d) => /^src\/(vmm\/(vmx|svm)\/|hw\/(vmx|svm)\.ts)/.test(d)), f).toEqual([]);
    }
  });

  it("src/lib is the bottom layer: its pieces (mulDiv, parsers, formatting) import nothing outside src/lib", () => {
    const lib = under("src/lib/");
    expect(lib.length).toBeGreaterThan(0);
    for (const [f, deps] of lib) expect(deps.filter((d) => !d.startsWith("src/lib/")), f).toEqual([]);
  });

  it("only src/hw declares intrinsics (@external)", () => {
    for (const f of all) {
      const rel = relative(root, f);
      if (rel.startsWith("src/hw/") || !rel.startsWith("src/")) continue;
      expect(/@external\s*\(/.test(readFileSync(f, "utf8")), rel).toBe(false);
    }
  });
});
