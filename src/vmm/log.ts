// VMM log lines ("[vmm] ...") on the boot console, and number formatting.

import { log as consoleLog, warn as consoleWarn } from "../drivers/console";

export function vlog(text: string): void {
  consoleLog("vmm", text);
}

export function vwarn(text: string): void {
  consoleWarn("vmm", text);
}

const DIGITS = "0123456789abcdef";

/** "0x" and lower-case hex digits, no leading zeros. */
export function hex(v: u64): string {
  if (v == 0) return "0x0";
  let s = "";
  while (v != 0) {
    s = DIGITS.charAt(<i32>(v & 15)) + s;
    v >>= 4;
  }
  return "0x" + s;
}
