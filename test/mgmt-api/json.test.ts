// Unit tests of the AssemblyScript JSON reader/writer and line framer,
// compiled for Node (the hosted wasm's test hooks).

import { beforeAll, describe, expect, it } from "vitest";
import { Hosted, loadHosted } from "../../src/mgmt-api/host/wasm";

let h: Hosted;
beforeAll(async () => {
  h = await loadHosted();
});

const OK = 0;
const SYNTAX = 1;
const LIMIT = 2;

function rt(s: string | Uint8Array) {
  return h.testJson(s);
}

describe("JSON reader and writer", () => {
  it("round-trips valid documents canonically", () => {
    const cases: Array<[string, string]> = [
      ["{}", "{}"],
      ["[]", "[]"],
      [' { "a" : [ 1 , -2 , 0 , -0 ] , "b" : { } } ', '{"a":[1,-2,0,0],"b":{}}'],
      ["[true,false,null]", "[true,false,null]"],
      ['"x"', '"x"'],
      ["123456789012345678", "123456789012345678"],
      ["-123456789012345678", "-123456789012345678"],
      ['"\\"\\\\\\/\\b\\f\\n\\r\\t"', '"\\"\\\\/\\b\\f\\n\\r\\t"'],
      ['"\\u0041\\u00e9\\u20ac"', '"Aé€"'],
      ['"\\ud83d\\ude00"', '"😀"'],
      ['"😀é"', '"😀é"'],
      ['"\\u0001\\u001f"', '"\\u0001\\u001f"'],
      ['{"n":1.5,"e":2E+10,"f":-0.0e-1}', '{"n":1.5,"e":2E+10,"f":-0.0e-1}'],
      ["1234567890123456789", "1234567890123456789"],
    ];
    for (const [inp, out] of cases) {
      const r = rt(inp);
      expect(r, inp).toEqual({ status: OK, out });
      // what the writer emits, JavaScript reads as the same value (-0 is written as 0)
      expect(JSON.stringify(JSON.parse(r.out))).toEqual(JSON.stringify(JSON.parse(inp)));
    }
  });

  it("rejects what is not strict JSON", () => {
    const bad = [
      "",
      " ",
      "{",
      "}",
      "[1,]",
      "[,1]",
      '{"a":1,}',
      '{"a" 1}',
      "{a:1}",
      "{'a':1}",
      "[01]",
      "[1.]",
      "[.5]",
      "[1e]",
      "[+1]",
      "[-]",
      "[- 1]",
      "[NaN]",
      "[Infinity]",
      "[tru]",
      "[nul]",
      "[True]",
      '"abc',
      '"a\tb"',
      '"\\x41"',
      '"\\u12"',
      '"\\u12G4"',
      '"\\ud800"',
      '"\\ud800\\u0041"',
      '"\\udc00"',
      '"\\ud800\\ud800"',
      "[1] [2]",
      "[1]x",
      '{"a":1,"a":2}',
      "\u0000",
    ];
    for (const s of bad) expect(rt(s).status, JSON.stringify(s)).toBe(SYNTAX);
  });

  it("validates UTF-8 (RFC 3629)", () => {
    const q = (...b: number[]) => new Uint8Array([0x22, ...b, 0x22]);
    expect(rt(q(0xc3, 0xa9)).status).toBe(OK);
    expect(rt(q(0xe2, 0x82, 0xac)).status).toBe(OK);
    expect(rt(q(0xf0, 0x9f, 0x98, 0x80)).status).toBe(OK);
    expect(rt(q(0xf4, 0x8f, 0xbf, 0xbf)).status).toBe(OK); // U+10FFFF
    const bad = [
      [0x80], // lone continuation
      [0xc0, 0x80], // overlong NUL
      [0xc1, 0xbf], // overlong
      [0xe0, 0x80, 0x80], // overlong
      [0xed, 0xa0, 0x80], // UTF-8 encoded surrogate
      [0xf0, 0x80, 0x80, 0x80], // overlong
      [0xf4, 0x90, 0x80, 0x80], // > U+10FFFF
      [0xf5, 0x80, 0x80, 0x80],
      [0xff],
      [0xc3], // truncated
      [0xe2, 0x82], // truncated
      [0xc3, 0x41], // bad continuation
    ];
    for (const b of bad) expect(rt(q(...b)).status, b.map((x) => x.toString(16)).join(" ")).toBe(SYNTAX);
  });

  it("bounds depth, members and values", () => {
    expect(rt("[".repeat(32) + "]".repeat(32)).status).toBe(OK);
    expect(rt("[".repeat(33) + "]".repeat(33)).status).toBe(LIMIT);
    expect(rt('{"a":'.repeat(33) + "1" + "}".repeat(33)).status).toBe(LIMIT);
    expect(rt("[".repeat(60000)).status).toBe(LIMIT); // unterminated and deep: stops at the bound
    const members = (n: number) => "{" + Array.from({ length: n }, (_, i) => `"k${i}":0`).join(",") + "}";
    expect(rt(members(256)).status).toBe(OK);
    expect(rt(members(257)).status).toBe(LIMIT);
    expect(rt("[" + "0,".repeat(39999) + "0]").status).toBe(LIMIT);
    expect(rt("[" + "0,".repeat(20000) + "0]").status).toBe(OK);
  });

  it("keeps long numbers and strings bounded by the input", () => {
    const digits = "9".repeat(30000);
    const r = rt(`[${digits}]`);
    expect(r.status).toBe(OK);
    expect(r.out).toBe(`[${digits}]`); // kept as text (a BadNum), never converted
    const long = "a".repeat(60000);
    expect(rt(`"${long}"`)).toEqual({ status: OK, out: `"${long}"` });
  });
});

describe("line framer", () => {
  const enc = (s: string) => new TextEncoder().encode(s);

  it("splits lines, strips one \\r, keeps partial lines", () => {
    let r = h.testFramer(enc("ab\ncd\r\n\n\r\r\nxy"));
    expect(r.events.toString()).toBe("Lab\nLcd\nL\nL\r\n");
    expect(r.pending).toBe(2);
    r = h.testFramer(enc("z\n"));
    expect(r.events.toString()).toBe("Lxyz\n");
    expect(r.pending).toBe(0);
  });

  it("limits a line to 65536 bytes, counting \\r", () => {
    const x = (n: number) => "x".repeat(n);
    let r = h.testFramer(enc(x(65536) + "\n"));
    expect(r.events.length).toBe(65536 + 2);
    r = h.testFramer(enc(x(65535) + "\r\n"));
    expect(r.events.length).toBe(65535 + 2);
    r = h.testFramer(enc(x(65536) + "\r\n"));
    expect(r.events.toString()).toBe("T\n");
    r = h.testFramer(enc(x(65537) + "\n" + "ok\n"));
    expect(r.events.toString()).toBe("T\nLok\n");
  });

  it("an over-long line is reported when it ends, whatever the chunking", () => {
    const chunks = [enc("y".repeat(40000)), enc("y".repeat(40000)), enc("y".repeat(40000))];
    for (const c of chunks) {
      const r = h.testFramer(c);
      expect(r.events.length).toBe(0);
      expect(r.pending).toBeLessThanOrEqual(65536);
    }
    const r = h.testFramer(enc("\nnext\n"));
    expect(r.events.toString()).toBe("T\nLnext\n");
  });

  it("byte-at-a-time input gives the same lines", () => {
    const s = enc('{"a":1}\r\nfoo\n\nbar\n');
    let all = "";
    for (const b of s) all += h.testFramer(new Uint8Array([b])).events.toString();
    expect(all).toBe('L{"a":1}\nLfoo\nL\nLbar\n');
  });
});

describe("integer-only", () => {
  it("the compiled server and switch hold no f32/f64 (the AOT rejects them)", async () => {
    const { readFileSync } = await import("node:fs");
    const { buildHosted } = await import("../../src/mgmt-api/host/wasm");
    const binaryen = (await import("binaryen")).default;
    const m = binaryen.readBinary(readFileSync(await buildHosted()));
    m.setFeatures(binaryen.Features.All);
    const text = m.emitText();
    m.dispose();
    expect(text.split("\n").filter((l) => /\bf(32|64)\b|f(32|64)\./.test(l))).toEqual([]);
  });
});
