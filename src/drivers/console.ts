// The boot console: log lines with a stage tag ("[boot] ...") and a level,
// written to the UART chosen by console= (ttyS0 default, ttyS1, or none).
import { Uart16550, com1, com2 } from "./uart";

export const enum Level {
  Error = 0,
  Warn = 1,
  Info = 2,
  Debug = 3,
}

let out: Uart16550 | null = com1;
let level: Level = Level.Info;

/** console=ttyS0 | ttyS1 | none (an unknown value keeps ttyS0). Returns false for an unknown name. */
export function consoleSelect(name: string): bool {
  if (name == "ttyS0" || name == "com1") out = com1;
  else if (name == "ttyS1" || name == "com2") out = com2;
  else if (name == "none") out = null;
  else return false;
  return true;
}

export function consoleInit(): void {
  const u = out;
  if (u) u.init(115200);
}

export function setLogLevel(l: i32): void {
  level = <Level>(l < 0 ? 0 : l > 3 ? 3 : l);
}

export function logLevel(): Level {
  return level;
}

/** Raw text to the console (no newline added). */
export function print(s: string): void {
  const u = out;
  if (u) u.write(s);
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

/** Waits until the console UART has sent everything. */
export function consoleDrain(): void {
  const u = out;
  if (u) u.drain();
}
