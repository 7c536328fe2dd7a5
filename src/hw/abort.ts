// The AssemblyScript abort handler (asc --use abort=src/hw/abort/tvAbort):
// prints the message and location on COM1, then traps, so the panic path
// prints a backtrace. It touches no module globals and allocates nothing:
// asc may compile it while it is still compiling a global's initializer.
import { inb, outb, pause } from "./intrinsics";

const COM1: i32 = 0x3F8;

function putc(c: i32): void {
  for (let i = 0; i < 100_000; i++) {
    if ((inb(COM1 + 5) & 0x20) != 0) break; // LSR.THRE
    pause();
  }
  outb(COM1, c & 0xFF);
}

function puts(s: string | null): void {
  if (s === null) {
    puts("(null)");
    return;
  }
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 10) putc(13);
    putc(c < 0x80 ? c : 0x3F);
  }
}

function putU32(v: u32): void {
  let div: u32 = 1_000_000_000;
  let started = false;
  while (div > 0) {
    const d = (v / div) % 10;
    if (d != 0 || started || div == 1) {
      putc(<i32>(48 + d));
      started = true;
    }
    div /= 10;
  }
}

export function tvAbort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  puts("\n\nabort: ");
  puts(message);
  puts(" at ");
  puts(fileName);
  putc(58);
  putU32(line);
  putc(58);
  putU32(column);
  puts("\n");
  unreachable();
}
