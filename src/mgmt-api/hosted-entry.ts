// Entry for the hosted build (Node): the switch and the management server,
// exported as plain integer functions over shared buffers for
// scripts/hosted.ts, the tests and the fuzzer (src/mgmt-api/host/wasm.ts).

import { MgmtServer } from "./server";
import { LineFramer, LineKind } from "./framer";
import { ByteBuf, JsonReader, JsonWriter, ParseStatus } from "./json";
import { SwitchMethods } from "./switch-methods";
import { KIND_TEST, Switch } from "../vswitch/index";

let server: MgmtServer = new MgmtServer();
let sw: Switch = new Switch();
let nowNs: i64 = 0;
const testPorts = new Array<i32>();
server.methods = new SwitchMethods(sw, server.host);

/** Restarts with a fresh switch and server; auditRecords/auditBytes bound the audit ring. */
export function init(auditRecords: i32, auditBytes: i32): void {
  server = new MgmtServer(auditRecords, auditBytes);
  sw = new Switch();
  server.methods = new SwitchMethods(sw, server.host);
  testPorts.length = 0;
  nowNs = 0;
}

/** Where the host writes incoming bytes (64 KiB). */
export function in_ptr(): usize {
  return changetype<usize>(server.inBuf);
}

/** Feeds n management bytes from in_ptr(). */
export function feed(n: i32): void {
  server.feedStaged(n);
}

/** A new management connection; its id (>= 1), or -1 when too many are open. */
export function open_session(): i32 {
  return server.openSession();
}

export function close_session(id: i32): void {
  server.closeSession(id);
}

/** Feeds n bytes from in_ptr() to session id. */
export function feed_session(id: i32, n: i32): void {
  server.feedSession(id, n);
}

export function out_ptr(): usize {
  return server.out.ptr;
}

export function out_len(): i32 {
  return server.out.len;
}

export function consumed(n: i32): void {
  server.consumed(n);
}

/** The host's monotonic clock in ns since start (switch timers, audit times, uptime). */
export function set_clock_ns(ns: i64): void {
  if (ns < nowNs) return;
  nowNs = ns;
  server.host.nowMs = ns / 1_000_000;
}

/** virt: 0 none, 1 vmx, 2 svm. */
export function set_host(virt: i32, cpus: i32, memoryMib: i64): void {
  server.host.virt = virt == 1 ? "vmx" : virt == 2 ? "svm" : "none";
  server.host.cpus = cpus;
  server.host.memoryMib = memoryMib;
}

// ------------------------------------------------------------ switch ports

/** Adds a port of kind "test" named by the n bytes at in_ptr(); its id, or -1 - error code. */
export function add_test_port(n: i32): i32 {
  const id = sw.addPort(String.UTF8.decodeUnsafe(changetype<usize>(server.inBuf), <usize>n), KIND_TEST);
  if (id < 0) {
    const e = sw.lastError;
    return e === null ? -1 : -1 - (e.code < 0 ? 0 : e.code);
  }
  testPorts.push(id);
  return id;
}

/** Delivers the frame of n bytes at in_ptr() received on port id. */
export function frame_in(port: i32, n: i32): void {
  if (n < 0 || n > 65536) return;
  sw.inject(port, changetype<usize>(server.inBuf), n, nowNs);
}

/** Ages the forwarding database at the current clock. */
export function age(): i32 {
  return sw.age(nowNs);
}

const txBuf = new ByteBuf(65536);
const frameScratch = new StaticArray<u8>(4096);

/**
 * Moves every frame ready to leave a test port (shapers permitting) into the
 * tx buffer as records [u16 port id][u16 length][frame], little-endian.
 * Returns the buffer's length.
 */
export function drain(): i32 {
  const f = changetype<usize>(frameScratch);
  for (let i = 0; i < testPorts.length; i++) {
    const id = testPorts[i];
    while (true) {
      const n = sw.popFrame(id, f, nowNs);
      if (n < 0) break;
      txBuf.reserve(n + 4);
      txBuf.byte(id & 0xff);
      txBuf.byte((id >> 8) & 0xff);
      txBuf.byte(n & 0xff);
      txBuf.byte((n >> 8) & 0xff);
      txBuf.bytes(f, n);
    }
  }
  return txBuf.len;
}

export function tx_ptr(): usize {
  return txBuf.ptr;
}

export function tx_clear(): void {
  txBuf.clear();
  txBuf.compact(65536);
}

/** Frames still waiting in the test ports' egress queues (e.g. behind a shaper). */
export function queued(): i32 {
  let n = 0;
  for (let i = 0; i < testPorts.length; i++) n += sw.queued(testPorts[i]);
  return n;
}

// ------------------------------------------------------------ unit-test hooks

const DIGEST_METHODS: Array<string> = ["config.get", "port.list", "mirror.list", "fdb.list", "fdb.config", "vm.list"];

/** Digest of the switch state the methods expose (see MgmtServer.stateDigest). */
export function state_digest(): u64 {
  return server.stateDigest(DIGEST_METHODS);
}

/** Sequence number of the newest audit record (0 when none yet). */
export function audit_last_seq(): i64 {
  return server.audit.lastSeq();
}

/** Error code of the newest audit record (0 = ok, -1 = none kept). */
export function audit_last_code(): i32 {
  return server.audit.lastCode();
}

const testOut = new ByteBuf(65536);
const testFramer = new LineFramer();
const testReader = new JsonReader();

export function test_out_ptr(): usize {
  return testOut.ptr;
}
export function test_out_len(): i32 {
  return testOut.len;
}

/**
 * Parses the n bytes at in_ptr() as one JSON document and writes it back
 * canonically into the test buffer. Returns the ParseStatus (0 ok, 1 syntax, 2 limit).
 */
export function test_json(n: i32): i32 {
  testOut.clear();
  const v = testReader.parse(changetype<usize>(server.inBuf), n);
  if (v === null) {
    testOut.ascii(testReader.reason);
    return testReader.status;
  }
  const w = new JsonWriter(testOut);
  w.value(v);
  return ParseStatus.Ok;
}

/**
 * Feeds n bytes at in_ptr() to a standalone framer and appends one event per
 * finished line to the test buffer: "L" + the line + "\n", or "T\n" (too long).
 * Returns the bytes of the unfinished line it holds.
 */
export function test_framer(n: i32): i32 {
  const p = changetype<usize>(server.inBuf);
  let i = 0;
  while (i < n) {
    i += testFramer.scan(p + <usize>i, n - i);
    const k = testFramer.kind;
    if (k == LineKind.Line) {
      testOut.byte(0x4c);
      testOut.bytes(testFramer.ptr, testFramer.len);
      testOut.byte(0x0a);
    } else if (k == LineKind.TooLong) {
      testOut.ascii("T\n");
    }
    if (k != LineKind.None) testFramer.next();
  }
  return testFramer.pending();
}

export function test_clear(): void {
  testOut.clear();
}
