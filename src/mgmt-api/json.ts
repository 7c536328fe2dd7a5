// Strict JSON reader and writer for the management protocol: integer-only,
// bounded in depth, size and allocation, safe on hostile input.
//
// The reader works on one framed line (at most LINE_MAX bytes), so every
// string, number and container it builds is bounded by that line. It never
// uses floating point: a number with a fraction or exponent, or one too long
// for an i64, is kept as a BadNum value that a method rejects (-32602) where
// it expects a number.

/** Deepest nesting of arrays/objects accepted (the protocol needs 6). */
export const JSON_MAX_DEPTH: i32 = 32;
/** Most members one object may have (keeps duplicate checks bounded). */
export const JSON_MAX_MEMBERS: i32 = 256;
/** Most values in one document (a 64 KiB line cannot hold many more). */
export const JSON_MAX_VALUES: i32 = 40000;
/** Longest integer accepted, in digits (fits an i64 without overflow). */
export const JSON_MAX_DIGITS: i32 = 18;

export const enum JKind {
  Null = 0,
  False = 1,
  True = 2,
  Int = 3,
  BadNum = 4, // valid JSON number that is not a small integer
  Str = 5,
  Arr = 6,
  Obj = 7,
}

export class JValue {
  kind: i32 = JKind.Null;
  num: i64 = 0;
  str: string = "";
  /** array items, or object values (parallel to keys) */
  items: Array<JValue> | null = null;
  keys: Array<string> | null = null;

  constructor(kind: i32) {
    this.kind = kind;
  }

  static int(v: i64): JValue {
    const j = new JValue(JKind.Int);
    j.num = v;
    return j;
  }

  static string(s: string): JValue {
    const j = new JValue(JKind.Str);
    j.str = s;
    return j;
  }

  static array(): JValue {
    const j = new JValue(JKind.Arr);
    j.items = new Array<JValue>();
    return j;
  }

  static object(): JValue {
    const j = new JValue(JKind.Obj);
    j.items = new Array<JValue>();
    j.keys = new Array<string>();
    return j;
  }

  isObj(): bool {
    return this.kind == JKind.Obj;
  }
  isArr(): bool {
    return this.kind == JKind.Arr;
  }
  isNull(): bool {
    return this.kind == JKind.Null;
  }
  isBool(): bool {
    return this.kind == JKind.True || this.kind == JKind.False;
  }
  isNum(): bool {
    return this.kind == JKind.Int || this.kind == JKind.BadNum;
  }

  length(): i32 {
    const it = this.items;
    return it === null ? 0 : it.length;
  }

  at(i: i32): JValue {
    return (this.items as Array<JValue>)[i];
  }

  keyAt(i: i32): string {
    return (this.keys as Array<string>)[i];
  }

  /** Member of an object, or null when absent (or not an object). */
  get(key: string): JValue | null {
    const ks = this.keys;
    if (ks === null) return null;
    for (let i = 0; i < ks.length; i++) {
      if (ks[i] == key) return (this.items as Array<JValue>)[i];
    }
    return null;
  }

  has(key: string): bool {
    return this.get(key) !== null;
  }

  set(key: string, v: JValue): JValue {
    (this.keys as Array<string>).push(key);
    (this.items as Array<JValue>).push(v);
    return this;
  }

  push(v: JValue): JValue {
    (this.items as Array<JValue>).push(v);
    return this;
  }
}

/** Names a JSON kind for error reasons ("expected integer, got string"). */
export function kindName(k: i32): string {
  switch (k) {
    case JKind.Null: return "null";
    case JKind.False:
    case JKind.True: return "boolean";
    case JKind.Int:
    case JKind.BadNum: return "number";
    case JKind.Str: return "string";
    case JKind.Arr: return "array";
    default: return "object";
  }
}

// ---------------------------------------------------------------- reader

export const enum ParseStatus {
  Ok = 0,
  Syntax = 1, // not JSON: -32700
  Limit = 2, // JSON beyond the reader's limits: -32600
}

/** Decoded UTF-16 units of the string being read; a line of n bytes needs at most n. */
const scratch = new StaticArray<u16>(65536 + 8);

/** The first address at or after p (before e) that is not an ASCII digit. */
function skipDigits(p: usize, e: usize): usize {
  while (p < e) {
    const c = <i32>load<u8>(p);
    if (c < 0x30 || c > 0x39) break;
    p++;
  }
  return p;
}

export class JsonReader {
  private p: usize = 0;
  private end: usize = 0;
  private depth: i32 = 0;
  private values: i32 = 0;
  status: i32 = ParseStatus.Ok;
  /** Byte offset of the first error (for the error message). */
  errorAt: i32 = 0;
  reason: string = "";
  private base: usize = 0;

  /** Parses one whole document from [ptr, ptr+len); null on error (see status). */
  parse(ptr: usize, len: i32): JValue | null {
    this.base = ptr;
    this.p = ptr;
    this.end = ptr + <usize>len;
    this.depth = 0;
    this.values = 0;
    this.status = ParseStatus.Ok;
    this.reason = "";
    this.ws();
    const v = this.value();
    if (v === null) return null;
    this.ws();
    if (this.p != this.end) return this.syntax("trailing characters");
    return v;
  }

  private syntax(why: string): JValue | null {
    if (this.status == ParseStatus.Ok) {
      this.status = ParseStatus.Syntax;
      this.reason = why;
      this.errorAt = <i32>(this.p - this.base);
    }
    return null;
  }

  private limit(why: string): JValue | null {
    if (this.status == ParseStatus.Ok) {
      this.status = ParseStatus.Limit;
      this.reason = why;
      this.errorAt = <i32>(this.p - this.base);
    }
    return null;
  }

  private ws(): void {
    let p = this.p;
    const e = this.end;
    while (p < e) {
      const c = load<u8>(p);
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
      p++;
    }
    this.p = p;
  }

  private peek(): i32 {
    return this.p < this.end ? <i32>load<u8>(this.p) : -1;
  }

  private word(w: string, kind: i32): JValue | null {
    const n = w.length;
    if (this.end - this.p < <usize>n) return this.syntax("invalid literal");
    for (let i = 0; i < n; i++) {
      if (<i32>load<u8>(this.p + <usize>i) != w.charCodeAt(i)) return this.syntax("invalid literal");
    }
    this.p += <usize>n;
    return new JValue(kind);
  }

  private value(): JValue | null {
    if (++this.values > JSON_MAX_VALUES) return this.limit("too many values");
    const c = this.peek();
    if (c == 0x7b) return this.container(0x7d);
    if (c == 0x5b) return this.container(0x5d);
    if (c == 0x22) {
      const s = this.string();
      if (s === null) return null;
      return JValue.string(s);
    }
    if (c == 0x74) return this.word("true", JKind.True);
    if (c == 0x66) return this.word("false", JKind.False);
    if (c == 0x6e) return this.word("null", JKind.Null);
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    if (c < 0) return this.syntax("unexpected end of input");
    return this.syntax("unexpected character");
  }

  /** An object (close '}') or an array (close ']'): the same comma-separated loop; objects read "name": before each value. */
  private container(close: i32): JValue | null {
    if (++this.depth > JSON_MAX_DEPTH) return this.limit("nesting too deep");
    this.p++; // { or [
    const isObj = close == 0x7d;
    const c = isObj ? JValue.object() : JValue.array();
    const items = c.items as Array<JValue>;
    this.ws();
    if (this.peek() == close) {
      this.p++;
      this.depth--;
      return c;
    }
    while (true) {
      this.ws();
      if (isObj && !this.memberName(c.keys as Array<string>)) return null;
      const v = this.value();
      if (v === null) return null;
      items.push(v);
      this.ws();
      const n = this.peek();
      if (n == 0x2c) {
        this.p++;
        continue;
      }
      if (n == close) {
        this.p++;
        break;
      }
      return this.syntax(isObj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
    this.depth--;
    return c;
  }

  /** Reads `"name" :` (and the space after) into keys; false on error. */
  private memberName(keys: Array<string>): bool {
    if (this.peek() != 0x22) {
      this.syntax("expected member name");
      return false;
    }
    const k = this.string();
    if (k === null) return false;
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] == k) {
        this.syntax("duplicate member name");
        return false;
      }
    }
    if (keys.length >= JSON_MAX_MEMBERS) {
      this.limit("too many members");
      return false;
    }
    this.ws();
    if (this.peek() != 0x3a) {
      this.syntax("expected ':'");
      return false;
    }
    this.p++;
    this.ws();
    keys.push(k);
    return true;
  }

  private number(): JValue | null {
    let p = this.p;
    const e = this.end;
    let neg = false;
    if (load<u8>(p) == 0x2d) {
      neg = true;
      p++;
    }
    if (p >= e) {
      this.p = p;
      return this.syntax("invalid number");
    }
    let c = <i32>load<u8>(p);
    let digits = 0;
    let v: i64 = 0;
    if (c == 0x30) {
      p++;
      digits = 1;
    } else if (c >= 0x31 && c <= 0x39) {
      while (p < e) {
        c = <i32>load<u8>(p);
        if (c < 0x30 || c > 0x39) break;
        if (digits < JSON_MAX_DIGITS) v = v * 10 + <i64>(c - 0x30);
        digits++;
        p++;
      }
    } else {
      this.p = p;
      return this.syntax("invalid number");
    }
    let bad = digits > JSON_MAX_DIGITS;
    // fraction
    if (p < e && load<u8>(p) == 0x2e) {
      p++;
      const q = skipDigits(p, e);
      if (q == p) {
        this.p = p;
        return this.syntax("invalid number");
      }
      p = q;
      bad = true;
    }
    // exponent
    if (p < e && (load<u8>(p) | 0x20) == 0x65) {
      p++;
      if (p < e && (load<u8>(p) == 0x2b || load<u8>(p) == 0x2d)) p++;
      const q = skipDigits(p, e);
      if (q == p) {
        this.p = p;
        return this.syntax("invalid number");
      }
      p = q;
      bad = true;
    }
    const start = this.p;
    this.p = p;
    if (bad) {
      // keep the text so that an audit record can show what was sent
      const j = new JValue(JKind.BadNum);
      j.str = String.UTF8.decodeUnsafe(start, p - start);
      return j;
    }
    return JValue.int(neg ? -v : v);
  }

  private hex4(p: usize): i32 {
    let v = 0;
    for (let i: usize = 0; i < 4; i++) {
      const c = <i32>load<u8>(p + i);
      let d: i32;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) d = c - 0x61 + 10;
      else if (c >= 0x41 && c <= 0x46) d = c - 0x41 + 10;
      else return -1;
      v = (v << 4) | d;
    }
    return v;
  }

  /** Reads a string at p (which is at '"'); validates UTF-8 and escapes. */
  private string(): string | null {
    let p = this.p + 1;
    const e = this.end;
    let n = 0; // UTF-16 units written to scratch
    const out = changetype<usize>(scratch);
    while (true) {
      if (p >= e) {
        this.p = p;
        this.syntax("unterminated string");
        return null;
      }
      const c = <i32>load<u8>(p);
      if (c == 0x22) {
        p++;
        break;
      }
      if (c < 0x20) {
        this.p = p;
        this.syntax("control character in string");
        return null;
      }
      if (c == 0x5c) {
        if (p + 1 >= e) {
          this.p = p;
          this.syntax("unterminated string");
          return null;
        }
        const x = <i32>load<u8>(p + 1);
        let u = -1;
        if (x == 0x22) u = 0x22;
        else if (x == 0x5c) u = 0x5c;
        else if (x == 0x2f) u = 0x2f;
        else if (x == 0x62) u = 0x08;
        else if (x == 0x66) u = 0x0c;
        else if (x == 0x6e) u = 0x0a;
        else if (x == 0x72) u = 0x0d;
        else if (x == 0x74) u = 0x09;
        else if (x == 0x75) {
          if (e - p < 6) {
            this.p = p;
            this.syntax("truncated \\u escape");
            return null;
          }
          const h = this.hex4(p + 2);
          if (h < 0) {
            this.p = p;
            this.syntax("invalid \\u escape");
            return null;
          }
          if (h >= 0xdc00 && h <= 0xdfff) {
            this.p = p;
            this.syntax("lone low surrogate");
            return null;
          }
          if (h >= 0xd800 && h <= 0xdbff) {
            // must be followed by \uDC00-\uDFFF
            if (e - p < 12 || load<u8>(p + 6) != 0x5c || load<u8>(p + 7) != 0x75) {
              this.p = p;
              this.syntax("lone high surrogate");
              return null;
            }
            const l = this.hex4(p + 8);
            if (l < 0xdc00 || l > 0xdfff) {
              this.p = p;
              this.syntax("lone high surrogate");
              return null;
            }
            store<u16>(out + (<usize>n << 1), <u16>h);
            store<u16>(out + (<usize>(n + 1) << 1), <u16>l);
            n += 2;
            p += 12;
            continue;
          }
          store<u16>(out + (<usize>n << 1), <u16>h);
          n++;
          p += 6;
          continue;
        }
        if (u < 0) {
          this.p = p;
          this.syntax("invalid escape");
          return null;
        }
        store<u16>(out + (<usize>n << 1), <u16>u);
        n++;
        p += 2;
        continue;
      }
      if (c < 0x80) {
        store<u16>(out + (<usize>n << 1), <u16>c);
        n++;
        p++;
        continue;
      }
      // multi-byte UTF-8 (RFC 3629 table 3-7: no overlongs, no surrogates, <= U+10FFFF)
      let cp = 0;
      let need = 0;
      let lo = 0x80;
      let hi = 0xbf;
      if (c >= 0xc2 && c <= 0xdf) {
        cp = c & 0x1f;
        need = 1;
      } else if (c >= 0xe0 && c <= 0xef) {
        cp = c & 0x0f;
        need = 2;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f;
      } else if (c >= 0xf0 && c <= 0xf4) {
        cp = c & 0x07;
        need = 3;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
      } else {
        this.p = p;
        this.syntax("invalid UTF-8");
        return null;
      }
      if (e - p <= <usize>need) {
        this.p = p;
        this.syntax("invalid UTF-8");
        return null;
      }
      for (let i = 1; i <= need; i++) {
        const b = <i32>load<u8>(p + <usize>i);
        if (i == 1) {
          if (b < lo || b > hi) {
            this.p = p;
            this.syntax("invalid UTF-8");
            return null;
          }
        } else if (b < 0x80 || b > 0xbf) {
          this.p = p;
          this.syntax("invalid UTF-8");
          return null;
        }
        cp = (cp << 6) | (b & 0x3f);
      }
      p += <usize>(need + 1);
      if (cp >= 0x10000) {
        const v = cp - 0x10000;
        store<u16>(out + (<usize>n << 1), <u16>(0xd800 | (v >> 10)));
        store<u16>(out + (<usize>(n + 1) << 1), <u16>(0xdc00 | (v & 0x3ff)));
        n += 2;
      } else {
        store<u16>(out + (<usize>n << 1), <u16>cp);
        n++;
      }
    }
    this.p = p;
    return String.UTF16.decodeUnsafe(out, <usize>n << 1);
  }
}

// ---------------------------------------------------------------- writer

/** A growable byte buffer (the server's output queue and scratch). */
export class ByteBuf {
  ptr: usize;
  len: i32 = 0;
  cap: i32;
  private store_: ArrayBuffer;

  constructor(cap: i32 = 4096) {
    this.store_ = new ArrayBuffer(cap);
    this.cap = cap;
    this.ptr = changetype<usize>(this.store_);
  }

  reserve(n: i32): void {
    const need = this.len + n;
    if (need <= this.cap) return;
    let c = this.cap << 1;
    while (c < need) c <<= 1;
    const nb = new ArrayBuffer(c);
    memory.copy(changetype<usize>(nb), this.ptr, <usize>this.len);
    this.store_ = nb;
    this.ptr = changetype<usize>(nb);
    this.cap = c;
  }

  byte(b: i32): void {
    if (this.len >= this.cap) this.reserve(1);
    store<u8>(this.ptr + <usize>this.len, <u8>b);
    this.len++;
  }

  bytes(p: usize, n: i32): void {
    this.reserve(n);
    memory.copy(this.ptr + <usize>this.len, p, <usize>n);
    this.len += n;
  }

  /** Appends an ASCII string (no escaping). */
  ascii(s: string): void {
    const n = s.length;
    this.reserve(n);
    for (let i = 0; i < n; i++) store<u8>(this.ptr + <usize>(this.len + i), <u8>s.charCodeAt(i));
    this.len += n;
  }

  /** Drops the first n bytes (consumed by the transport). */
  consume(n: i32): void {
    if (n >= this.len) {
      this.len = 0;
      return;
    }
    memory.copy(this.ptr, this.ptr + <usize>n, <usize>(this.len - n));
    this.len -= n;
  }

  clear(): void {
    this.len = 0;
  }

  /** Shrinks the backing store after a large response went out. */
  compact(keep: i32): void {
    if (this.len == 0 && this.cap > keep) {
      this.store_ = new ArrayBuffer(keep);
      this.ptr = changetype<usize>(this.store_);
      this.cap = keep;
    }
  }
}

/** Appends the decimal form of v. */
export function writeInt(b: ByteBuf, v: i64): void {
  if (v == 0) {
    b.byte(0x30);
    return;
  }
  let u: u64;
  if (v < 0) {
    b.byte(0x2d);
    u = <u64>(-(v + 1)) + 1; // no overflow for i64.MIN
  } else {
    u = <u64>v;
  }
  const tmp = new StaticArray<u8>(20);
  let n = 0;
  while (u != 0) {
    tmp[n++] = <u8>(0x30 + <i32>(u % 10));
    u /= 10;
  }
  b.reserve(n);
  while (n > 0) b.byte(tmp[--n]);
}

export function writeUint(b: ByteBuf, u: u64): void {
  if (u == 0) {
    b.byte(0x30);
    return;
  }
  const tmp = new StaticArray<u8>(20);
  let n = 0;
  while (u != 0) {
    tmp[n++] = <u8>(0x30 + <i32>(u % 10));
    u /= 10;
  }
  while (n > 0) b.byte(tmp[--n]);
}

const HEX = "0123456789abcdef";

/** Appends s as a JSON string literal, UTF-8 encoded (lone surrogates become U+FFFD). */
export function writeString(b: ByteBuf, s: string): void {
  const n = s.length;
  b.reserve(n + 2);
  b.byte(0x22);
  for (let i = 0; i < n; i++) {
    let c = <i32>s.charCodeAt(i);
    if (c < 0x80) {
      if (c == 0x22 || c == 0x5c) {
        b.byte(0x5c);
        b.byte(c);
      } else if (c < 0x20) {
        b.byte(0x5c);
        if (c == 0x0a) b.byte(0x6e);
        else if (c == 0x0d) b.byte(0x72);
        else if (c == 0x09) b.byte(0x74);
        else if (c == 0x08) b.byte(0x62);
        else if (c == 0x0c) b.byte(0x66);
        else {
          b.ascii("u00");
          b.byte(HEX.charCodeAt(c >> 4));
          b.byte(HEX.charCodeAt(c & 15));
        }
      } else {
        b.byte(c);
      }
      continue;
    }
    if (c < 0x800) {
      b.byte(0xc0 | (c >> 6));
      b.byte(0x80 | (c & 0x3f));
      continue;
    }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const l = <i32>s.charCodeAt(i + 1);
      if (l >= 0xdc00 && l <= 0xdfff) {
        const cp = 0x10000 + ((c - 0xd800) << 10) + (l - 0xdc00);
        b.byte(0xf0 | (cp >> 18));
        b.byte(0x80 | ((cp >> 12) & 0x3f));
        b.byte(0x80 | ((cp >> 6) & 0x3f));
        b.byte(0x80 | (cp & 0x3f));
        i++;
        continue;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    b.byte(0xe0 | (c >> 12));
    b.byte(0x80 | ((c >> 6) & 0x3f));
    b.byte(0x80 | (c & 0x3f));
  }
  b.byte(0x22);
}

/**
 * Streaming JSON writer with automatic commas. Objects: key() then a value.
 * Depth is bounded by the code that calls it (responses nest at most ~6).
 */
export class JsonWriter {
  b: ByteBuf;
  private first: StaticArray<bool> = new StaticArray<bool>(64);
  private depth: i32 = 0;
  private afterKey: bool = false;

  constructor(b: ByteBuf) {
    this.b = b;
  }

  private sep(): void {
    if (this.afterKey) {
      this.afterKey = false;
      return;
    }
    if (this.depth > 0) {
      if (this.first[this.depth]) this.first[this.depth] = false;
      else this.b.byte(0x2c);
    }
  }

  private open(bracket: i32): JsonWriter {
    this.sep();
    this.b.byte(bracket);
    this.first[++this.depth] = true;
    return this;
  }

  private close(bracket: i32): JsonWriter {
    this.b.byte(bracket);
    this.depth--;
    return this;
  }

  beginObj(): JsonWriter {
    return this.open(0x7b);
  }

  endObj(): JsonWriter {
    return this.close(0x7d);
  }

  beginArr(): JsonWriter {
    return this.open(0x5b);
  }

  endArr(): JsonWriter {
    return this.close(0x5d);
  }

  key(k: string): JsonWriter {
    this.sep();
    writeString(this.b, k);
    this.b.byte(0x3a);
    this.afterKey = true;
    return this;
  }

  str(s: string): JsonWriter {
    this.sep();
    writeString(this.b, s);
    return this;
  }

  /** `len` bytes at `p` as a string of lower-case hex digits (two per byte): no escaping, no allocation. */
  strHex(p: usize, len: i32): JsonWriter {
    this.sep();
    this.b.byte(0x22);
    for (let i = 0; i < len; i++) {
      const v = <i32>load<u8>(p + <usize>i);
      const hi = v >> 4;
      const lo = v & 15;
      this.b.byte(hi < 10 ? 48 + hi : 87 + hi);
      this.b.byte(lo < 10 ? 48 + lo : 87 + lo);
    }
    this.b.byte(0x22);
    return this;
  }

  int(v: i64): JsonWriter {
    this.sep();
    writeInt(this.b, v);
    return this;
  }

  uint(v: u64): JsonWriter {
    this.sep();
    writeUint(this.b, v);
    return this;
  }

  bool(v: bool): JsonWriter {
    this.sep();
    this.b.ascii(v ? "true" : "false");
    return this;
  }

  nul(): JsonWriter {
    this.sep();
    this.b.ascii("null");
    return this;
  }

  /** Writes a parsed value back (BadNum cannot occur in values we write). */
  value(v: JValue): JsonWriter {
    switch (v.kind) {
      case JKind.Null:
        this.nul();
        break;
      case JKind.False:
        this.bool(false);
        break;
      case JKind.True:
        this.bool(true);
        break;
      case JKind.Int:
        this.int(v.num);
        break;
      case JKind.BadNum: {
        // the number's own text (digits, sign, '.', 'e' only)
        this.sep();
        this.b.ascii(v.str);
        break;
      }
      case JKind.Str:
        this.str(v.str);
        break;
      case JKind.Arr: {
        this.beginArr();
        for (let i = 0; i < v.length(); i++) this.value(v.at(i));
        this.endArr();
        break;
      }
      default: {
        this.beginObj();
        for (let i = 0; i < v.length(); i++) {
          this.key(v.keyAt(i));
          this.value(v.at(i));
        }
        this.endObj();
      }
    }
    return this;
  }

  /** Splices pre-serialized JSON bytes in as one value. */
  raw(p: usize, n: i32): JsonWriter {
    this.sep();
    this.b.bytes(p, n);
    return this;
  }

  reset(): void {
    this.depth = 0;
    this.afterKey = false;
  }
}
