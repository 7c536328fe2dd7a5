// Configuration documents for `tvctl config`: read by file extension (.json,
// .yaml/.yml; stdin and other names: JSON, then YAML), with errors that give
// the line and column; written as YAML with short lists on one line.

import { readFileSync } from "node:fs";
import YAML from "yaml";
import type { ConfigDoc } from "./client";

/** Line and column (1-based) of character offset `pos` in `text`. */
function lineCol(text: string, pos: number): { line: number; col: number } {
  const before = text.slice(0, pos).split("\n");
  return { line: before.length, col: before[before.length - 1].length + 1 };
}

/** Parses JSON; the error names the line and column (V8 gives only a position). */
export function parseJsonText(text: string, name: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const m = /at position (\d+)/.exec(msg);
    let where = "";
    if (/line \d+ column \d+/.test(msg)) where = "";
    else if (m) {
      const { line, col } = lineCol(text, Number(m[1]));
      where = ` (line ${line} column ${col})`;
    } else if (/end of JSON input/.test(msg)) {
      const { line, col } = lineCol(text, text.length);
      where = ` (line ${line} column ${col})`;
    }
    throw new Error(`${name}: invalid JSON: ${msg}${where}`);
  }
}

/** Parses YAML (one document); every error in full, with its line and column. */
export function parseYamlText(text: string, name: string): unknown {
  const doc = YAML.parseDocument(text, { intAsBigInt: false, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new Error(`${name}: invalid YAML:\n` + doc.errors.map((e) => e.message.trimEnd()).join("\n"));
  }
  return doc.toJS();
}

/** Reads a config file: by extension, or (stdin "-", other names) JSON then YAML, reporting both errors. */
export function readConfigFile(path: string): ConfigDoc {
  let text: string;
  try {
    text = readFileSync(path === "-" ? 0 : path, "utf8");
  } catch (e) {
    throw new Error(`cannot read ${path}: ${(e as Error).message}`);
  }
  const name = path === "-" ? "stdin" : path;
  let doc: unknown;
  if (/\.json$/i.test(path)) doc = parseJsonText(text, name);
  else if (/\.ya?ml$/i.test(path)) doc = parseYamlText(text, name);
  else {
    try {
      doc = parseJsonText(text, name);
    } catch (je) {
      try {
        doc = parseYamlText(text, name);
      } catch (ye) {
        throw new Error(`${name} is neither JSON nor YAML:\n  as ${(je as Error).message.replace(`${name}: `, "")}\n  as ${(ye as Error).message.replace(`${name}: `, "").replace(/\n/g, "\n    ")}`);
      }
    }
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) throw new Error(`${name}: the configuration must be a mapping/object (with ports, mirrors, fdb)`);
  return doc as ConfigDoc;
}

/** YAML with VLAN sets and other lists of numbers on one line: allowed: [ 10, 20, [ 100, 199 ] ]. */
export function toYaml(doc: unknown): string {
  const d = new YAML.Document(doc);
  YAML.visit(d, {
    Seq(_, node) {
      const flat = node.items.every((it) => YAML.isScalar(it) || (YAML.isSeq(it) && it.items.every((x) => YAML.isScalar(x))));
      if (flat) node.flow = true;
    },
  });
  return d.toString().trimEnd();
}
