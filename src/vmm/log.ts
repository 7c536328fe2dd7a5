// VMM log lines ("[vmm] ...") on the boot console.

import { log as consoleLog, warn as consoleWarn } from "../drivers/console";

export function vlog(text: string): void {
  consoleLog("vmm", text);
}

export function vwarn(text: string): void {
  consoleWarn("vmm", text);
}
