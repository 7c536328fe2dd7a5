// One JSON-RPC call in progress: its params, its result writer, and the
// first error it met (AssemblyScript has no exceptions, so errors are state).

import { ByteBuf, JKind, JValue, JsonWriter, kindName } from "./json";
import { parseMac } from "../vswitch/mac";
import { isValidName } from "../lib/parse";

export const E_PARSE: i32 = -32700;
export const E_INVALID_REQUEST: i32 = -32600;
export const E_METHOD: i32 = -32601;
export const E_PARAMS: i32 = -32602;
export const E_INTERNAL: i32 = -32603;
export const E_NOT_FOUND: i32 = 1;
export const E_CONFLICT: i32 = 2;
export const E_BUSY: i32 = 3;
export const E_LIMIT: i32 = 4;

export class Call {
  method: string = "";
  params: JValue | null = null;
  /** The result is written here; discarded when the call fails. */
  out: ByteBuf;
  w: JsonWriter;

  code: i32 = 0;
  message: string = "";
  field: string = "";
  reason: string = "";

  constructor() {
    const o = new ByteBuf(4096);
    this.out = o;
    this.w = new JsonWriter(o);
  }

  reset(method: string, params: JValue | null): void {
    this.method = method;
    this.params = params;
    this.out.clear();
    this.out.compact(65536);
    this.w.reset();
    this.code = 0;
    this.message = "";
    this.field = "";
    this.reason = "";
  }

  get failed(): bool {
    return this.code != 0;
  }

  /** Records the first error; later ones are ignored. */
  fail(code: i32, message: string, field: string = "", reason: string = ""): void {
    if (this.code != 0) return;
    this.code = code;
    this.message = message;
    this.field = field;
    this.reason = reason;
  }

  /** -32602 naming the field. */
  bad(field: string, reason: string): void {
    this.fail(E_PARAMS, "invalid params: " + (field.length > 0 ? field : '""') + ": " + reason, field, reason);
  }

  notFound(what: string, name: string, field: string): void {
    this.fail(E_NOT_FOUND, what + " not found: " + name, field, "no such " + what);
  }

  /** Params as an object ({} when absent); fails when they are not an object. */
  paramsObj(): JValue | null {
    const p = this.params;
    if (p === null) return JValue.object();
    if (!p.isObj()) {
      this.bad("params", "must be an object");
      return null;
    }
    return p;
  }

  /** Rejects members of obj not in allowed (path prefix for the field name). */
  onlyMembers(obj: JValue, allowed: Array<string>, prefix: string): bool {
    for (let i = 0; i < obj.length(); i++) {
      const k = obj.keyAt(i);
      if (!allowed.includes(k)) {
        this.bad(prefix + k, "unknown member");
        return false;
      }
    }
    return true;
  }

  /** A required member; fails naming it when absent. */
  need(obj: JValue, key: string, prefix: string): JValue | null {
    const v = obj.get(key);
    if (v === null) this.bad(prefix + key, "required");
    return v;
  }

  /** Integer in [min, max]; returns min-1 (and fails) on error. */
  int(v: JValue, field: string, min: i64, max: i64): i64 {
    if (v.kind == JKind.BadNum) {
      this.bad(field, "must be an integer of at most 18 digits");
      return min - 1;
    }
    if (v.kind != JKind.Int) {
      this.bad(field, "must be an integer, not " + kindName(v.kind));
      return min - 1;
    }
    if (v.num < min || v.num > max) {
      this.bad(field, "must be " + min.toString() + "-" + max.toString());
      return min - 1;
    }
    return v.num;
  }

  bool(v: JValue, field: string): bool {
    if (!v.isBool()) {
      this.bad(field, "must be a boolean, not " + kindName(v.kind));
      return false;
    }
    return v.kind == JKind.True;
  }

  str(v: JValue, field: string): string | null {
    if (v.kind != JKind.Str) {
      this.bad(field, "must be a string, not " + kindName(v.kind));
      return null;
    }
    return v.str;
  }

  /** A port, mirror or VM name: 1-32 chars of [A-Za-z0-9._-]. */
  name(v: JValue, field: string): string | null {
    const s = this.str(v, field);
    if (s === null) return null;
    if (!isValidName(s)) {
      this.bad(field, "must be 1-32 characters of A-Z a-z 0-9 . _ -");
      return null;
    }
    return s;
  }

  /** The params of a call that takes only {name}: the name, or null (failed). */
  nameParam(): string | null {
    const p = this.paramsObj();
    if (p === null || !this.onlyMembers(p, ["name"], "")) return null;
    const nv = this.need(p, "name", "");
    if (nv === null) return null;
    return this.name(nv, "name");
  }

  /** A MAC address "xx:xx:xx:xx:xx:xx" (either case); -1 on error. */
  mac(v: JValue, field: string): i64 {
    const s = this.str(v, field);
    if (s === null) return -1;
    const m = <i64>parseMac(s); // BAD_MAC is -1 as i64
    if (m < 0) this.bad(field, "must be a MAC address like 02:00:00:00:00:01");
    return m;
  }
}

