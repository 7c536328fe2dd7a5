// Text-level surgery on a module printed by `wasm2wat --generate-names`:
// every reference is by name, so imports can be turned into definitions and a
// driver appended without renumbering anything.

export interface WatImport {
  line: number;
  module: Buffer;
  field: Buffer;
  kind: "func" | "table" | "memory" | "global";
  name: string;
  rest: string; // text after the name, e.g. " (type $t1)" or " i32" or " 1 2"
}

export interface WatExport {
  line: number;
  field: Buffer;
  kind: string;
  name: string;
}

export interface ParsedWat {
  lines: string[];
  imports: WatImport[];
  exports: WatExport[];
  funcTypes: Map<string, string>; // function name -> type name
  types: Map<string, { params: string[]; results: string[] }>;
}

/** Decode a wat string literal body (without quotes) to bytes. */
export function decodeWatString(s: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c !== "\\") {
      for (const b of Buffer.from(c, "utf8")) out.push(b);
      continue;
    }
    const d = s[++i];
    if (d === "t") out.push(9);
    else if (d === "n") out.push(10);
    else if (d === "r") out.push(13);
    else if (d === '"') out.push(34);
    else if (d === "'") out.push(39);
    else if (d === "\\") out.push(92);
    else if (d === "u") {
      const end = s.indexOf("}", i);
      const cp = parseInt(s.slice(i + 2, end), 16);
      for (const b of Buffer.from(String.fromCodePoint(cp), "utf8")) out.push(b);
      i = end;
    } else {
      out.push(parseInt(s.slice(i, i + 2), 16));
      i++;
    }
  }
  return Buffer.from(out);
}

const STR = '"((?:[^"\\\\]|\\\\.)*)"';
const importRe = new RegExp(`^\\s*\\(import ${STR} ${STR} \\((func|table|memory|global) (\\$\\S+)(.*)\\)\\)\\s*$`);
const exportRe = new RegExp(`^\\s*\\(export ${STR} \\((\\w+) (\\$\\S+)\\)\\)\\s*$`);
// a one-line function ends in "))": the type name stops at the first ")"
const funcRe = /^\s*\(func (\$\S+) \(type (\$[^\s)]+)\)/;
const typeRe = /^\s*\(type (\$\S+) \(func(.*)\)\)\s*$/;

function parseSig(s: string): { params: string[]; results: string[] } {
  const params: string[] = [];
  const results: string[] = [];
  for (const m of s.matchAll(/\((param|result)((?: \w+)*)\)/g)) {
    const list = m[2].trim().split(/\s+/).filter(Boolean);
    (m[1] === "param" ? params : results).push(...list);
  }
  return { params, results };
}

/** --generate-names derives names from export names, and the export "" gives
 * the invalid identifier "$": rename it (outside string literals). */
function fixEmptyIds(line: string): string {
  if (!line.includes("$")) return line;
  return line
    .split(/("(?:[^"\\]|\\.)*")/)
    .map((part, i) => (i % 2 ? part : part.replace(/\$(?=[\s)]|$)/g, "$__empty_name")))
    .join("");
}

export function parseWat(text: string): ParsedWat {
  // wasm2wat closes the module on its last field's line: move it to a line of its own
  const close = text.lastIndexOf(")");
  const lines = (text.slice(0, close) + "\n)").split("\n").map(fixEmptyIds);
  const imports: WatImport[] = [];
  const exports: WatExport[] = [];
  const funcTypes = new Map<string, string>();
  const types = new Map<string, { params: string[]; results: string[] }>();
  lines.forEach((l, i) => {
    if (!l.startsWith("  (")) return; // only module fields (two-space indent)
    let m = importRe.exec(l);
    if (m) {
      imports.push({
        line: i,
        module: decodeWatString(m[1]),
        field: decodeWatString(m[2]),
        kind: m[3] as WatImport["kind"],
        name: m[4],
        rest: m[5],
      });
      const t = /\(type (\$\S+?)\)/.exec(m[5]);
      if (m[3] === "func" && t) funcTypes.set(m[4], t[1]);
      return;
    }
    m = exportRe.exec(l);
    if (m) {
      exports.push({ line: i, field: decodeWatString(m[1]), kind: m[2], name: m[3] });
      return;
    }
    m = funcRe.exec(l);
    if (m) {
      funcTypes.set(m[1], m[2]);
      return;
    }
    m = typeRe.exec(l);
    if (m) types.set(m[1], parseSig(m[2]));
  });
  return { lines, imports, exports, funcTypes, types };
}
