// Tests of the spec harness's linker (test/spec/link-check.ts): import matching as spec 2.0 4.5.1/4.5.4 define it.
import { describe, expect, it } from "vitest";
import { Linker, limitsMatch, moduleTypes } from "../spec/link-check.ts";
import { wat2wasm } from "./lib/wat.ts";

const types = (name: string, wat: string) => moduleTypes(wat2wasm(`link-${name}`, wat));

/** A linker with module M registered under "M"; `grows` says whether its memory/table may grow. */
function withM(grows = false) {
  const linker = new Linker<string>(() => grows);
  const m = types("M", `(module
    (func (export "f") (param i32) (result i64) (i64.const 0))
    (table (export "t") 2 4 funcref)
    (table (export "tx") 1 externref)
    (memory (export "m") 1 5)
    (global (export "g") i32 (i32.const 1))
    (global (export "gm") (mut f64) (f64.const 0)))`);
  const l = linker.link(m);
  if (!("imports" in l)) throw new Error("M does not link");
  linker.add("M", m, l.imports);
  linker.register("M", "M");
  return linker;
}
const link = (linker: Linker<string>, name: string, imp: string) => linker.link(types(name, `(module ${imp})`));

describe("link-check", () => {
  it("reads imports and exports with their types", () => {
    const t = types("read", `(module (import "a" "b" (func (param i32 f32) (result i64))) (import "a" "m" (memory 2 3))
      (global (export "x") (mut externref) (ref.null extern)) (func (export "y")))`);
    expect(t.imports).toEqual([
      { module: "a", field: "b", type: { kind: "func", params: ["i32", "f32"], results: ["i64"] } },
      { module: "a", field: "m", type: { kind: "memory", limits: { min: 2, max: 3 } } },
    ]);
    expect(t.exports).toEqual([{ name: "x", kind: "global", index: 0 }, { name: "y", kind: "func", index: 1 }]);
    expect(t.globals).toEqual([{ kind: "global", type: "externref", mut: true }]);
  });

  it("limits subtyping: min >=, max <=, max present", () => {
    expect(limitsMatch({ min: 2, max: 4 }, { min: 2, max: 4 })).toBe(true);
    expect(limitsMatch({ min: 3 }, { min: 2 })).toBe(true);
    expect(limitsMatch({ min: 1, max: 4 }, { min: 2 })).toBe(false);
    expect(limitsMatch({ min: 2, max: 5 }, { min: 2, max: 4 })).toBe(false);
    expect(limitsMatch({ min: 2 }, { min: 2, max: 4 })).toBe(false);
  });

  it("accepts matching imports and resolves them to the definition", () => {
    const l = link(withM(), "ok", `(import "M" "f" (func (param i32) (result i64))) (import "M" "t" (table 1 funcref))
      (import "M" "m" (memory 0 5)) (import "M" "g" (global i32)) (import "M" "gm" (global (mut f64)))
      (import "spectest" "print_i32" (func (param i32))) (import "spectest" "table" (table 10 funcref))`);
    expect("imports" in l && l.imports.map((r) => `${r.owner}:${r.kind}${r.index}`)).toEqual(
      ["M:func0", "M:table0", "M:memory0", "M:global0", "M:global1", "spectest:func-1", "spectest:table-1"]);
  });

  it.each([
    ["unknown module", `(import "N" "f" (func))`, "unknown import"],
    ["unknown field", `(import "M" "nope" (func))`, "unknown import"],
    ["unknown spectest field", `(import "spectest" "nope" (global i32))`, "unknown import"],
    ["kind", `(import "M" "f" (global i32))`, "incompatible import type"],
    ["function params", `(import "M" "f" (func (param i64) (result i64)))`, "incompatible import type"],
    ["function results", `(import "M" "f" (func (param i32)))`, "incompatible import type"],
    ["table min", `(import "M" "t" (table 3 funcref))`, "incompatible import type"],
    ["table max", `(import "M" "t" (table 2 3 funcref))`, "incompatible import type"],
    ["table element type", `(import "M" "tx" (table 1 funcref))`, "incompatible import type"],
    ["memory min", `(import "M" "m" (memory 2))`, "incompatible import type"],
    ["memory max", `(import "M" "m" (memory 1 4))`, "incompatible import type"],
    ["spectest memory max", `(import "spectest" "memory" (memory 1 1))`, "incompatible import type"],
    ["global mutability", `(import "M" "g" (global (mut i32)))`, "incompatible import type"],
    ["global type", `(import "M" "gm" (global (mut f32)))`, "incompatible import type"],
  ])("rejects a mismatch: %s", (name, imp, want) => {
    const l = link(withM(), `bad-${name.replace(/\W/g, "_")}`, imp);
    expect("error" in l && l.error.startsWith(want)).toBe(true);
  });

  it("a re-exported import has the original definition's type", () => {
    const linker = withM();
    const re = types("reexport", `(module (import "M" "m" (memory 1)) (export "mem" (memory 0)))`);
    const l = linker.link(re);
    if (!("imports" in l)) throw new Error("re-export does not link");
    linker.add("R", re, l.imports);
    linker.register("R", "R");
    // the importer said max absent, the definition has max 5: an import with max 5 matches
    expect("imports" in link(linker, "re-ok", `(import "R" "mem" (memory 1 5))`)).toBe(true);
    expect("error" in link(linker, "re-bad", `(import "R" "mem" (memory 1 4))`)).toBe(true);
  });

  it("a minimum above the declared one is undecided when the memory may have grown", () => {
    const l = link(withM(true), "grown", `(import "M" "m" (memory 2))`);
    expect("imports" in l && l.unknown).toMatch(/growth at run time/);
    // a maximum mismatch is certain even then
    expect("error" in link(withM(true), "grown-max", `(import "M" "m" (memory 2 4))`)).toBe(true);
  });
});
