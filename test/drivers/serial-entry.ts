// Node build of the serial path for test/drivers/serial.test.ts: the byte
// queue, the 16550 driver, the console and the COM2 pump with a management
// server. The test supplies inb/outb/pause: two 16550s emulated in JavaScript.
import { ByteQueue } from "../../src/lib/byte-queue";
import { com1, com2 } from "../../src/drivers/uart";
import { consoleDroppedBytes, consoleDroppedMessages, consoleInit, consolePoll, consoleSelect, print } from "../../src/drivers/console";
import { MgmtServer } from "../../src/mgmt-api/server";
import { pumpCom2 } from "../../src/vmm/mgmt";

// ------------------------------------------------------------ ByteQueue

let q = new ByteQueue(8);
const scratch = new StaticArray<u8>(64);

export function qNew(capacity: i32): void {
  q = new ByteQueue(capacity);
}
export function qPush(b: i32): bool {
  return q.push(<u8>b);
}
/** Pushes bytes first, first+1, ... (n of them) with pushFrom; returns how many it took. */
export function qPushFrom(first: i32, n: i32): i32 {
  for (let i = 0; i < n && i < 64; i++) scratch[i] = <u8>(first + i);
  return q.pushFrom(changetype<usize>(scratch), n < 64 ? n : 64);
}
export function qPushText(s: string): bool {
  return q.pushText(s);
}
export function qPop(): i32 {
  return q.pop();
}
export function qPeek(): i32 {
  return q.peek();
}
export function qLength(): i32 {
  return q.length;
}
export function qRoom(): i32 {
  return q.room();
}
export function qDropped(): u64 {
  return q.dropped;
}

// ------------------------------------------------------------ UARTs

export function uartInit(which: i32): bool {
  return (which == 1 ? com1 : com2).init(115200);
}
export function uartTxBurst(which: i32): i32 {
  return (which == 1 ? com1 : com2).txBurst;
}
export function uartQueued(which: i32): i32 {
  return (which == 1 ? com1 : com2).tx.length;
}
export function uartQueue(which: i32, s: string): bool {
  return (which == 1 ? com1 : com2).tx.pushText(s);
}
export function uartPoll(which: i32, budget: i32): i32 {
  return (which == 1 ? com1 : com2).poll(budget);
}
export function uartRead(which: i32): i32 {
  return (which == 1 ? com1 : com2).readByte();
}
export function uartWriteSync(which: i32, s: string): void {
  (which == 1 ? com1 : com2).write(s);
}
export function uartRxOverruns(which: i32): u32 {
  return (which == 1 ? com1 : com2).rxOverruns;
}
export function uartDropped(which: i32): u32 {
  return (which == 1 ? com1 : com2).dropped;
}

// ------------------------------------------------------------ console

export function consoleStart(): void {
  consoleInit();
}
/** console=NAME (ttyS0, ttyS1, none). */
export function consoleUse(name: string): bool {
  return consoleSelect(name);
}
export function consolePrint(s: string): void {
  print(s);
}
export function consoleTurn(): void {
  consolePoll();
}
export function consoleDropped(): u64 {
  return consoleDroppedBytes();
}
export function consoleDroppedMsgs(): u64 {
  return consoleDroppedMessages();
}

// ------------------------------------------------------------ COM2 pump

const server = new MgmtServer();

/** One main-loop turn of serial I/O. */
export function pumpTurn(): void {
  pumpCom2(server);
}
export function serverOutLen(): i32 {
  return server.out.len;
}
export function serverLines(): i64 {
  return server.lines;
}
export function serverDeferrals(): i64 {
  return server.deferrals;
}
export function serverOutLimit(): i32 {
  return server.outLimit;
}
export function serverDroppedRequestBytes(): i64 {
  return server.droppedRequestBytes;
}
