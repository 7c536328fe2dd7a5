// The boot console: log lines with a stage tag ("[boot] ...") and a level,
// queued for the UART chosen by console= (ttyS0 default, ttyS1, or none).
// Never waits for the UART: a message that does not fit in the queue is
// dropped whole and counted, and one line says so once there is room again.
import { Uart16550, com1, com2 } from "./uart";
import { dec } from "../lib/fmt";

export const enum Level {
  Error = 0,
  Warn = 1,
  Info = 2,
  Debug = 3,
}

let out: Uart16550 | null = com1;
let level: Level = Level.Info;

/** Bytes handed to the UART per print() or consolePoll(): a bounded amount of I/O per call. */
export const CONSOLE_BURST: i32 = 256;

/** Totals since boot: bytes and messages dropped because the queue was full. */
let droppedBytes: u64 = 0;
let droppedMessages: u64 = 0;
/** Drops not yet reported by a "[console] dropped ..." line. */
let unreportedBytes: u64 = 0;
let unreportedMessages: u64 = 0;

/** console=ttyS0 | ttyS1 | none (an unknown value keeps ttyS0). Returns false for an unknown name. */
export function consoleSelect(name: string): bool {
  if (name == "ttyS0" || name == "com1") out = com1;
  else if (name == "ttyS1" || name == "com2") out = com2;
  else if (name == "none") out = null;
  else return false;
  return true;
}

/** Sets up the console UART unless it already is (a second init would reset its FIFOs). */
export function consoleInit(): void {
  const u = out;
  if (u && u.inits == 0) u.init(115200);
}

export function setLogLevel(l: i32): void {
  level = <Level>(l < 0 ? 0 : l > 3 ? 3 : l);
}

export function logLevel(): Level {
  return level;
}

export function consoleDroppedBytes(): u64 {
  return droppedBytes;
}

export function consoleDroppedMessages(): u64 {
  return droppedMessages;
}

/**
 * Queues the drop report when it fits. While drops are unreported, new
 * messages wait for half the queue to be free (then the report and what
 * follows go out together), so a slow reader sees few, long gaps, each
 * marked by one line where it happened.
 */
function report(u: Uart16550): bool {
  if (u.midLine) return false; // console=ttyS1: never inside a management reply
  if (unreportedMessages == 0) return true;
  if (u.tx.room() < u.tx.capacity / 2) return false;
  const line = "[console] dropped " + dec(unreportedBytes) + " bytes (" + dec(unreportedMessages) +
    " messages): the console was not drained\n";
  if (!u.tx.pushText(line)) return false;
  unreportedBytes = 0;
  unreportedMessages = 0;
  return true;
}

/** Raw text to the console (no newline added). Queued whole or dropped whole; never waits. */
export function print(s: string): void {
  const u = out;
  if (!u) return;
  if (!report(u) || !u.tx.pushText(s)) {
    const n = <u64>s.length;
    droppedBytes += n;
    droppedMessages++;
    unreportedBytes += n;
    unreportedMessages++;
  }
  u.poll(CONSOLE_BURST);
}

/** Hands queued console output to the UART (bounded, never waits); the main loop calls it every turn. */
export function consolePoll(): void {
  const u = out;
  if (!u) return;
  u.poll(CONSOLE_BURST);
  report(u); // sent on the next turn
}

/** One log line "[stage] text" when `lvl` is enabled. */
export function log(stage: string, text: string, lvl: Level = Level.Info): void {
  if (lvl > level) return;
  print("[" + stage + "] " + text + "\n");
}

export function warn(stage: string, text: string): void {
  log(stage, "WARNING: " + text, Level.Warn);
}

export function error(stage: string, text: string): void {
  log(stage, "ERROR: " + text, Level.Error);
}

/** Waits (bounded) until the console UART has sent everything queued: shutdown only, never the main loop. */
export function consoleDrain(): void {
  const u = out;
  if (u) u.drain();
}
