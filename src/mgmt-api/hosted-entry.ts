// Entry for the hosted build (Node): the switch and the management server,
// exported as plain integer functions over shared buffers for
// scripts/hosted.ts, the tests and the fuzzer (src/mgmt-api/host/wasm.ts).

import { MgmtServer } from "./server";
import { LineFramer, LineKind } from "./framer";
import { ByteBuf, JsonReader, JsonWriter, ParseStatus } from "./json";
import { HostSwitch } from "./switch-methods";

let server: MgmtServer = new MgmtServer();
let sw: HostSwitch = new HostSwitch();
server.methods = sw;

/** Restarts with a fresh switch and server; auditRecords bounds the audit ring. */
export function init(auditRecords: i32, auditBytes: i32): void {
  server = new MgmtServer(auditRecords, auditBytes);
  sw = new HostSwitch();
  server.methods = sw;
}

/** Where the host writes incoming bytes (64 KiB). */
export function in_ptr(): usize {
  return changetype<usize>(server.inBuf);
}

/** Feeds n management bytes from in_ptr(). */
export function feed(n: i32): void {
  server.feedStaged(n);
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

/** The host's monotonic clock, in ms since start. */
export function set_now(ms: i64): void {
  server.host.nowMs = ms;
  sw.setNow(ms);
}

/** virt: 0 none, 1 vmx, 2 svm. */
export function set_host(virt: i32, cpus: i32, memoryMib: i64): void {
  server.host.virt = virt == 1 ? "vmx" : virt == 2 ? "svm" : "none";
  server.host.cpus = cpus;
  server.host.memoryMib = memoryMib;
}

// ------------------------------------------------------------ switch ports

/** Adds a port of kind "test" named by the n bytes at in_ptr(); its index, or -1. */
export function add_test_port(n: i32): i32 {
  return sw.addTestPort(String.UTF8.decodeUnsafe(changetype<usize>(server.inBuf), <usize>n));
}

/** Delivers the frame of n bytes at in_ptr() received on port `port`. */
export function frame_in(port: i32, n: i32): void {
  sw.frameIn(port, changetype<usize>(server.inBuf), n);
}

/** Runs the switch's timers/queues (shapers, aging) at the current clock. */
export function poll(): void {
  sw.poll();
}

/** Frames the switch has sent, waiting for the host. */
export function tx_count(): i32 {
  return sw.txCount();
}
export function tx_port(i: i32): i32 {
  return sw.txPort(i);
}
export function tx_ptr(i: i32): usize {
  return sw.txPtr(i);
}
export function tx_len(i: i32): i32 {
  return sw.txLen(i);
}
export function tx_clear(): void {
  sw.txClear();
}

// ------------------------------------------------------------ unit-test hooks

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
