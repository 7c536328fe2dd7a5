// Dataflow over a function's structured body: which locals need their entry zero (a forward
// walk) and which are live at the head of each loop (a backward walk); the register allocator's
// live intervals are built from both (codegen.ts assignHomes).
import { binaryen, exprInfo, type ExprRef } from "./binaryen-adapter.ts";
import { ID, forEachChild } from "./ir.ts";

/**
 * The non-parameter locals some path may read before writing them: only those need the
 * zero the spec gives every local at entry. A forward walk over the structured body with
 * the set of locals definitely written so far: a block ends with the intersection of its
 * fall-through and of every branch to it, an if with the intersection of its arms, and a
 * loop body starts with its entry set (back edges only add writes). `null` = unreachable.
 */
export function readBeforeWrite(body: ExprRef, firstVar: number): Set<number> {
  const needs = new Set<number>();
  type Defs = Set<number> | null;
  const meet = (a: Defs, b: Defs): Defs => (a === null ? b && new Set(b) : b === null ? new Set(a) : new Set([...a].filter((x) => b.has(x))));
  const atLabel = new Map<string, Defs>();
  const branch = (name: string, d: Defs) => { if (atLabel.has(name)) atLabel.set(name, meet(atLabel.get(name)!, d)); };
  // enter a label's scope (a block collects branches, a loop ignores them); returns the exit
  const scope = (name: string | null, block: boolean) => {
    if (!name) return () => {};
    const had = atLabel.has(name), prev = atLabel.get(name);
    if (block) atLabel.set(name, null); else atLabel.delete(name);
    return () => { if (had) atLabel.set(name, prev!); else atLabel.delete(name); };
  };
  const walk = (e: ExprRef, d: Defs): Defs => {
    if (!e || d === null) return d;
    const info = exprInfo(e);
    switch (info.id) {
      case ID.LocalGet: if (info.index >= firstVar && !d.has(info.index)) needs.add(info.index); return d;
      case ID.LocalSet: { const r = walk(info.value, d); if (r) r.add(info.index); return r; }
      case ID.Block: {
        const outer = scope(info.name, true);
        let cur: Defs = d;
        for (const c of info.children) cur = walk(c, cur);
        if (!info.name) return cur;
        const r = meet(cur, atLabel.get(info.name)!);
        outer();
        return r;
      }
      case ID.Loop: {
        // a branch to the loop goes back to its start: it adds no exit path
        const outer = scope(info.name, false);
        const r = walk(info.body, new Set(d));
        outer();
        return r;
      }
      case ID.If: {
        const c = walk(info.condition, d);
        const t = walk(info.ifTrue, c && new Set(c));
        const f = info.ifFalse ? walk(info.ifFalse, c && new Set(c)) : c;
        return meet(t, f);
      }
      case ID.Break: {
        let cur = walk(info.value, d);
        cur = walk(info.condition, cur);
        branch(info.name, cur);
        return info.condition ? cur : null;
      }
      case ID.Switch: {
        let cur = walk(info.value, d);
        cur = walk(info.condition, cur);
        for (const n of [...info.names, info.defaultName]) branch(n, cur);
        return null;
      }
      case ID.Return: walk(info.value, d); return null;
      case ID.Unreachable: return null;
    }
    let cur: Defs = d;
    forEachChild(info, (c) => { cur = walk(c, cur); });
    // a call, load or other trap ends the function; an expression of type unreachable never completes
    return info.type === binaryen.unreachable ? null : cur;
  };
  walk(body, new Set());
  return needs;
}

/** A set of local indices as a bit vector (functions can have hundreds of locals). */
type Bits = Uint32Array;

/**
 * The locals live at the head of each loop: those some path from the loop's start reads before
 * writing, whether the path goes round the loop again or leaves it. Backward liveness over the
 * structured body: a local.get adds its local, a local.set removes it before its value is
 * walked; a branch to a block takes what is live after the block, a branch to a loop what is live
 * at its head, which is found by iterating the body to a fixed point (sets only grow, and an
 * inner loop restarts from the set it had, so nesting costs little). Code after something that
 * never completes (br, return, unreachable, an expression of type unreachable) sees nothing live.
 */
export function loopLiveIn(body: ExprRef, nLocals: number): Map<ExprRef, Bits> {
  const words = (nLocals + 31) >>> 5;
  const empty = (): Bits => new Uint32Array(words);
  const union = (a: Bits, b: Bits): Bits => { const r = a.slice(); for (let k = 0; k < words; k++) r[k] |= b[k]; return r; };
  const same = (a: Bits, b: Bits): boolean => { for (let k = 0; k < words; k++) if (a[k] !== b[k]) return false; return true; };
  const heads = new Map<ExprRef, Bits>();
  const atLabel = new Map<string, Bits>();
  const withLabel = (name: string | null, live: Bits, fn: () => Bits): Bits => {
    if (!name) return fn();
    const had = atLabel.has(name), prev = atLabel.get(name);
    atLabel.set(name, live);
    try { return fn(); } finally { if (had) atLabel.set(name, prev!); else atLabel.delete(name); }
  };
  const target = (name: string): Bits => atLabel.get(name) ?? empty();
  // live before `e`, given what is live after it
  const walk = (e: ExprRef, out: Bits): Bits => {
    if (!e) return out;
    const info = exprInfo(e);
    switch (info.id) {
      case ID.LocalGet: { const r = out.slice(); r[info.index >>> 5] |= 1 << (info.index & 31); return r; }
      case ID.LocalSet: { const r = out.slice(); r[info.index >>> 5] &= ~(1 << (info.index & 31)); return walk(info.value, r); }
      case ID.Block: return withLabel(info.name, out, () => {
        let cur = out;
        for (let k = info.children.length - 1; k >= 0; k--) cur = walk(info.children[k], cur);
        return cur;
      });
      case ID.Loop: {
        let head = heads.get(e) ?? empty();
        for (;;) {
          const h = head;
          const next = union(h, withLabel(info.name, h, () => walk(info.body, out)));
          if (same(next, head)) break;
          head = next;
        }
        heads.set(e, head);
        return head;
      }
      case ID.If: {
        const t = walk(info.ifTrue, out);
        const f = info.ifFalse ? walk(info.ifFalse, out) : out;
        return walk(info.condition, union(t, f));
      }
      case ID.Break: {
        const after = info.condition ? union(out, target(info.name)) : target(info.name);
        return walk(info.value, walk(info.condition, after));
      }
      case ID.Switch: {
        let after = empty();
        for (const n of [...info.names, info.defaultName]) after = union(after, target(n));
        return walk(info.value, walk(info.condition, after));
      }
      case ID.Return: return walk(info.value, empty());
      case ID.Unreachable: return empty();
    }
    const children: ExprRef[] = [];
    forEachChild(info, (c) => children.push(c));
    let cur = info.type === binaryen.unreachable ? empty() : out;
    for (let k = children.length - 1; k >= 0; k--) cur = walk(children[k], cur);
    return cur;
  };
  walk(body, empty());
  return heads;
}

/** Whether local `i` is in the set. */
export function hasLocal(set: Bits, i: number): boolean {
  return (set[i >>> 5] & (1 << (i & 31))) !== 0;
}
