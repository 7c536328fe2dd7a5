// The management server: bytes in (feed), response bytes out (out). Frames
// lines, parses JSON-RPC 2.0, dispatches to the methods, audits changes.
// Transport-independent: the monitor drives it from COM2, the hosted runner
// from TCP.

import { AuditLog, AUDIT_MAX_BYTES, AUDIT_MAX_RECORDS } from "./audit";
import {
  Call,
  E_INVALID_REQUEST,
  E_METHOD,
  E_PARAMS,
  E_PARSE,
} from "./call";
import { isBlank, LineFramer, LineKind, LINE_MAX } from "./framer";
import { ByteBuf, JKind, JsonReader, JsonWriter, JValue, ParseStatus } from "./json";
import { HostInfo, NoVms, VmBackend, VmInfo, VmOp } from "./vm";

/** The switch's methods (port.*, fdb.*, mirror.*, stats.*, config.*), see switch-methods.ts. */
export abstract class MethodSet {
  /** Handles `call` if it knows the method; returns false when it does not. */
  abstract handle(call: Call): bool;
}

/** Methods that are audited whenever they are called (see docs/PROTOCOL.md, audit log). */
const ALWAYS_AUDITED: Array<string> = [
  "port.set",
  "mirror.add",
  "mirror.remove",
  "fdb.flush",
  "fdb.add",
  "fdb.del",
  "stats.reset",
  "vm.start",
  "vm.stop",
  "vm.pause",
  "vm.resume",
  "vm.reset",
];

/** Most concurrent sessions (each holds a 64 KiB line buffer). */
export const MAX_SESSIONS: i32 = 16;

/**
 * Reply bytes a transport may leave waiting before a bounded feed stops
 * taking requests (back-pressure): the output is then at most this plus one
 * reply, and no reply byte is ever dropped.
 */
export const OUT_LIMIT: i32 = 16384;

export class MgmtServer {
  /** Staging area a host copies incoming bytes into before feedStaged(). */
  readonly inBuf: StaticArray<u8> = new StaticArray<u8>(LINE_MAX);
  /** Response bytes waiting for the transport (complete lines only). */
  readonly out: ByteBuf;
  readonly host: HostInfo = new HostInfo();
  audit: AuditLog;
  vms: VmBackend = new NoVms();
  methods: MethodSet | null = null;

  private framer: LineFramer = new LineFramer();
  /** Extra framers for hosts with several connections (hosted runner); index = session - 1. */
  private sessions: Array<LineFramer | null> = new Array<LineFramer | null>();
  private reader: JsonReader = new JsonReader();
  private call: Call = new Call();
  private w: JsonWriter;

  /** Counters: lines handled, responses with errors, notifications. */
  lines: i64 = 0;
  errors: i64 = 0;
  notifications: i64 = 0;
  /** Request bytes discarded from lines over LINE_MAX (each line answered with an error). */
  droppedRequestBytes: i64 = 0;
  /** Times a bounded feed stopped because `outLimit` reply bytes were waiting. */
  deferrals: i64 = 0;
  /** See OUT_LIMIT. */
  outLimit: i32 = OUT_LIMIT;

  constructor(auditRecords: i32 = AUDIT_MAX_RECORDS, auditBytes: i32 = AUDIT_MAX_BYTES) {
    this.audit = new AuditLog(auditRecords, auditBytes);
    const o = new ByteBuf(65536);
    this.out = o;
    this.w = new JsonWriter(o);
  }

  /** Feeds n bytes at p (any split: partial lines are kept). */
  feed(p: usize, n: i32): void {
    this.feedWith(this.framer, p, n, false);
  }

  /**
   * One request handled inside the monitor (boot-time configuration): `line` is a whole JSON-RPC request
   * without newline; returns the reply line. Only before the transports run: the reply is taken back out
   * of the output buffer. It goes through the dispatcher and the audit log like any other request.
   */
  callLocal(line: string): string {
    const start = this.out.len;
    const id = this.openSession();
    if (id < 0) return "";
    const bytes = String.UTF8.encode(line + "\n");
    const n = bytes.byteLength;
    const p = changetype<usize>(bytes);
    let done = 0;
    while (done < n) {
      const k = n - done < this.inBuf.length ? n - done : this.inBuf.length;
      memory.copy(changetype<usize>(this.inBuf), p + <usize>done, <usize>k);
      this.feedSession(id, k);
      done += k;
    }
    this.closeSession(id);
    const reply = String.UTF8.decodeUnsafe(this.out.ptr + <usize>start, <usize>(this.out.len - start), false);
    this.out.len = start;
    return reply;
  }

  /** False while `outLimit` reply bytes wait for the transport: a bounded feed takes no more requests. */
  accepting(): bool {
    return this.out.len < this.outLimit;
  }

  /**
   * Frames and handles the bytes; returns how many it took. Unbounded, it
   * takes all n. Bounded, it stops after the line whose reply brought the
   * output to `outLimit`: the caller keeps the rest and offers it again once
   * the output has drained (accepting()).
   */
  private feedWith(f: LineFramer, p: usize, n: i32, bounded: bool): i32 {
    let i = 0;
    while (i < n) {
      if (bounded && !this.accepting()) {
        this.deferrals++;
        return i;
      }
      i += f.scan(p + <usize>i, n - i);
      const k = f.kind;
      if (k == LineKind.Line) this.line(f.ptr, f.len);
      else if (k == LineKind.TooLong) this.tooLong(f.lastDiscarded);
      if (k != LineKind.None) f.next();
    }
    return i;
  }

  /**
   * Opens a session: a stream with its own framing state, for hosts that
   * serve several connections. Its responses are the output produced while
   * its bytes are fed. Returns the session id (>= 1), or -1 when MAX_SESSIONS are open.
   */
  openSession(): i32 {
    for (let i = 0; i < this.sessions.length; i++) {
      if (this.sessions[i] === null) {
        this.sessions[i] = new LineFramer();
        return i + 1;
      }
    }
    if (this.sessions.length >= MAX_SESSIONS) return -1;
    this.sessions.push(new LineFramer());
    return this.sessions.length;
  }

  closeSession(id: i32): void {
    if (id >= 1 && id <= this.sessions.length) this.sessions[id - 1] = null;
  }

  /** Feeds n bytes at inBuf to session id (0 = the default stream); `bounded`: see feedStaged. Returns the bytes taken. */
  feedSession(id: i32, n: i32, bounded: bool = false): i32 {
    if (n <= 0) return 0;
    if (n > LINE_MAX) n = LINE_MAX;
    const p = changetype<usize>(this.inBuf);
    if (id == 0) return this.feedWith(this.framer, p, n, bounded);
    if (id < 1 || id > this.sessions.length) return n;
    const f = this.sessions[id - 1];
    return f !== null ? this.feedWith(f, p, n, bounded) : n;
  }

  /**
   * Feeds n bytes that the host wrote at inBuf. Bounded (back-pressure), it
   * stops taking requests once `outLimit` reply bytes wait and returns how
   * many bytes it took; the host keeps the rest at the start of inBuf.
   */
  feedStaged(n: i32, bounded: bool = false): i32 {
    if (n <= 0) return 0;
    if (n > LINE_MAX) n = LINE_MAX;
    return this.feedWith(this.framer, changetype<usize>(this.inBuf), n, bounded);
  }

  /** Drops n bytes of output that the transport has sent. */
  consumed(n: i32): void {
    this.out.consume(n);
    this.out.compact(65536);
  }

  // ------------------------------------------------------------ framing

  private tooLong(discarded: i64): void {
    this.lines++;
    this.droppedRequestBytes += discarded;
    this.errorLine(null, E_INVALID_REQUEST, "invalid request: line longer than 65536 bytes", "", "");
  }

  private line(p: usize, n: i32): void {
    if (isBlank(p, n)) return;
    this.lines++;
    const v = this.reader.parse(p, n);
    if (v === null) {
      if (this.reader.status == ParseStatus.Limit) {
        this.errorLine(null, E_INVALID_REQUEST, "invalid request: " + this.reader.reason, "", "");
      } else {
        this.errorLine(
          null,
          E_PARSE,
          "parse error: " + this.reader.reason + " at byte " + this.reader.errorAt.toString(),
          "",
          "",
        );
      }
      return;
    }
    if (v.kind == JKind.Arr) {
      this.errorLine(null, E_INVALID_REQUEST, "invalid request: batch requests are not supported", "", "");
      return;
    }
    if (v.kind != JKind.Obj) {
      this.errorLine(null, E_PARSE, "parse error: a request must be a JSON object", "", "");
      return;
    }
    this.request(v);
  }

  private request(req: JValue): void {
    // id: absent = notification; string, integer or null = request
    const id = req.get("id");
    if (id !== null && id.kind != JKind.Str && id.kind != JKind.Int && id.kind != JKind.Null) {
      this.errorLine(null, E_INVALID_REQUEST, "invalid request: id must be a string, an integer or null", "id", "");
      return;
    }
    for (let i = 0; i < req.length(); i++) {
      const k = req.keyAt(i);
      if (k != "jsonrpc" && k != "id" && k != "method" && k != "params") {
        this.errorLine(id, E_INVALID_REQUEST, "invalid request: unknown member " + k, k, "unknown member");
        return;
      }
    }
    const ver = req.get("jsonrpc");
    if (ver === null || ver.kind != JKind.Str || ver.str != "2.0") {
      this.errorLine(id, E_INVALID_REQUEST, 'invalid request: jsonrpc must be "2.0"', "jsonrpc", "");
      return;
    }
    const m = req.get("method");
    if (m === null || m.kind != JKind.Str) {
      this.errorLine(id, E_INVALID_REQUEST, "invalid request: method must be a string", "method", "");
      return;
    }
    const params = req.get("params");
    if (params !== null && params.kind != JKind.Obj && params.kind != JKind.Arr) {
      this.errorLine(id, E_INVALID_REQUEST, "invalid request: params must be an object", "params", "");
      return;
    }
    const call = this.call;
    call.reset(m.str, params);
    if (params !== null && params.kind == JKind.Arr) {
      call.bad("params", "must be an object (named params)");
    } else {
      this.dispatch(call);
    }
    if (this.audited(call)) this.audit.record(this.host.nowMs, call.method, params, call.code, call.message);
    if (id === null) {
      this.notifications++;
      return;
    }
    if (call.failed) this.errorLine(id, call.code, call.message, call.field, call.reason);
    else this.resultLine(id, call.out);
  }

  private audited(call: Call): bool {
    const m = call.method;
    if (ALWAYS_AUDITED.includes(m)) return true;
    const p = call.params;
    if (m == "fdb.config") return p !== null && p.length() > 0;
    if (m == "config.apply") {
      if (p === null || p.kind != JKind.Obj) return true;
      const d = p.get("dry_run");
      return d === null || d.kind != JKind.True;
    }
    return false;
  }

  private writeId(id: JValue | null): void {
    const w = this.w;
    w.key("id");
    if (id === null) w.nul();
    else w.value(id);
  }

  private resultLine(id: JValue, result: ByteBuf): void {
    const w = this.w;
    w.reset();
    w.beginObj();
    w.key("jsonrpc").str("2.0");
    this.writeId(id);
    w.key("result");
    if (result.len == 0) w.nul();
    else w.raw(result.ptr, result.len);
    w.endObj();
    this.out.byte(0x0a);
  }

  private errorLine(id: JValue | null, code: i32, message: string, field: string, reason: string): void {
    this.errors++;
    const w = this.w;
    w.reset();
    w.beginObj();
    w.key("jsonrpc").str("2.0");
    this.writeId(id);
    w.key("error").beginObj();
    w.key("code").int(code);
    w.key("message").str(message);
    // -32602 always names the field (an unknown member may be named "")
    if (field.length > 0 || code == E_PARAMS) {
      w.key("data").beginObj();
      w.key("field").str(field);
      if (reason.length > 0 || code == E_PARAMS) w.key("reason").str(reason);
      w.endObj();
    }
    w.endObj();
    w.endObj();
    this.out.byte(0x0a);
  }

  /**
   * A digest (FNV-1a, 64-bit) of everything a call can change: the result of
   * each read-only method named in `methods`, plus the audit log's last
   * record. For tests and the fuzzer ("a failed call changes nothing").
   */
  stateDigest(methods: Array<string>): u64 {
    let h: u64 = 0xcbf29ce484222325;
    const c = new Call();
    for (let i = 0; i < methods.length; i++) {
      c.reset(methods[i], null);
      this.dispatch(c);
      const b = c.out;
      for (let j = 0; j < b.len; j++) {
        h ^= <u64>load<u8>(b.ptr + <usize>j);
        h *= 0x100000001b3;
      }
      h ^= <u64>c.code;
      h *= 0x100000001b3;
    }
    return h;
  }

  // ------------------------------------------------------------ methods

  private dispatch(call: Call): void {
    const m = call.method;
    if (m == "system.info") return this.systemInfo(call);
    if (m == "system.memory") return this.systemMemory(call);
    if (m == "audit.list") return this.auditList(call);
    if (m == "audit.info") return this.auditInfo(call);
    if (m == "vm.list") return this.vmList(call);
    if (m == "vm.stats") return this.vmStats(call);
    if (m == "vm.start") return this.vmChange(call, VmOp.Start);
    if (m == "vm.stop") return this.vmChange(call, VmOp.Stop);
    if (m == "vm.pause") return this.vmChange(call, VmOp.Pause);
    if (m == "vm.resume") return this.vmChange(call, VmOp.Resume);
    if (m == "vm.reset") return this.vmChange(call, VmOp.Reset);
    if (m == "vm.console") return this.vmConsole(call);
    if (m == "vm.console_write") return this.vmConsoleWrite(call);
    const ms = this.methods;
    if (ms !== null && ms.handle(call)) return;
    call.fail(E_METHOD, "method not found: " + m, "method", "unknown method");
  }

  private noParams(call: Call): bool {
    const p = call.paramsObj();
    if (p === null) return false;
    return call.onlyMembers(p, [], "");
  }

  private systemInfo(call: Call): void {
    if (!this.noParams(call)) return;
    const h = this.host;
    const w = call.w;
    w.beginObj();
    w.key("name").str("typevisor");
    w.key("version").str(h.version);
    w.key("api").int(1);
    w.key("virt").str(h.virt);
    w.key("cpus").int(h.cpus);
    w.key("memory_mib").int(h.memoryMib);
    w.key("uptime_ms").int(h.nowMs);
    w.endObj();
  }

  /** system.memory (an addition to protocol version 1): the size of linear memory (the heap) and the collections run. */
  private systemMemory(call: Call): void {
    if (!this.noParams(call)) return;
    const w = call.w;
    w.beginObj();
    w.key("heap_bytes").int(<i64>memory.size() << 16);
    w.key("collections").int(this.host.collections);
    w.endObj();
  }

  private auditList(call: Call): void {
    const p = call.paramsObj();
    if (p === null || !call.onlyMembers(p, ["since"], "")) return;
    let since: i64 = 0;
    const s = p.get("since");
    if (s !== null) {
      since = call.int(s, "since", 0, 999999999999999999);
      if (call.failed) return;
    }
    this.audit.write(call.w, since);
  }

  private auditInfo(call: Call): void {
    if (!this.noParams(call)) return;
    this.audit.writeInfo(call.w);
  }

  private vmList(call: Call): void {
    if (!this.noParams(call)) return;
    const vms = this.vms.list();
    call.w.beginArr();
    for (let i = 0; i < vms.length; i++) writeVm(call.w, vms[i]);
    call.w.endArr();
  }

  /** vm.stats -> [{name, state, run_us, slices, exits}]: the scheduler's accounting per VM (docs/PROTOCOL.md). */
  private vmStats(call: Call): void {
    if (!this.noParams(call)) return;
    const vms = this.vms.list();
    const w = call.w;
    w.beginArr();
    for (let i = 0; i < vms.length; i++) {
      const vm = vms[i];
      w.beginObj();
      w.key("name").str(vm.name);
      w.key("state").str(vm.state);
      w.key("run_us").int(vm.runUs);
      w.key("slices").uint(vm.slices);
      w.key("exits").uint(vm.exitsTotal);
      w.endObj();
    }
    w.endArr();
  }

  /** vm.console {name, since?} -> {seq, lines} (docs/GUESTS.md "Consoles"). */
  private vmConsole(call: Call): void {
    const p = call.paramsObj();
    if (p === null || !call.onlyMembers(p, ["name", "since"], "")) return;
    const nv = call.need(p, "name", "");
    if (nv === null) return;
    const name = call.name(nv, "name");
    if (name === null) return;
    let since: i64 = 0;
    const s = p.get("since");
    if (s !== null) {
      since = call.int(s, "since", 0, 999999999999999999);
      if (call.failed) return;
    }
    const lines = new Array<string>();
    const seq = this.vms.console(name, <u64>since, lines);
    if (seq < 0) {
      call.fail(1, "VM not found: " + name, "name", "no such VM");
      return;
    }
    const w = call.w;
    w.beginObj();
    w.key("seq").int(seq);
    w.key("lines").beginArr();
    for (let i = 0; i < lines.length; i++) w.str(lines[i]);
    w.endArr();
    w.endObj();
  }

  /** vm.console_write {name, data}: at most 4096 bytes per call (GUESTS.md) -> {written}. */
  private vmConsoleWrite(call: Call): void {
    const p = call.paramsObj();
    if (p === null || !call.onlyMembers(p, ["name", "data"], "")) return;
    const nv = call.need(p, "name", "");
    if (nv === null) return;
    const name = call.name(nv, "name");
    if (name === null) return;
    const dv = call.need(p, "data", "");
    if (dv === null) return;
    const data = call.str(dv, "data");
    if (data === null) return;
    if (String.UTF8.byteLength(data) > 4096) {
      call.bad("data", "at most 4096 bytes per call");
      return;
    }
    const r = this.vms.consoleWrite(name, data);
    if (r.code != 0) {
      call.fail(r.code, r.message, "name", r.message);
      return;
    }
    const w = call.w;
    w.beginObj();
    w.key("written").int(<i64>r.written);
    w.endObj();
  }

  private vmChange(call: Call, op: VmOp): void {
    const name = call.nameParam();
    if (name === null) return;
    if (this.vms.find(name) === null) {
      call.notFound("VM", name, "name");
      return;
    }
    const r = this.vms.change(name, op);
    if (r.code != 0) {
      call.fail(r.code, r.message, "name", "");
      return;
    }
    const vm = this.vms.find(name);
    if (vm === null) call.w.beginObj().endObj();
    else writeVm(call.w, vm);
  }
}

export function writeVm(w: JsonWriter, vm: VmInfo): void {
  w.beginObj();
  w.key("name").str(vm.name);
  w.key("state").str(vm.state);
  if (vm.reason.length > 0) w.key("reason").str(vm.reason);
  w.key("vcpus").int(vm.vcpus);
  w.key("memory_mib").int(vm.memoryMib);
  w.key("ports").beginArr();
  for (let i = 0; i < vm.ports.length; i++) w.str(vm.ports[i]);
  w.endArr();
  w.key("exits").beginObj();
  w.key("total").uint(vm.exitsTotal);
  for (let i = 0; i < vm.exitNames.length; i++) w.key(vm.exitNames[i]).uint(vm.exitCounts[i]);
  w.endObj();
  w.endObj();
}
