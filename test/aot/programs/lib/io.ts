// Output for differential-test programs: bytes to port 0xE9 (stdout on the
// linux target, a buffer under Node), plus the abort handler (--use abort=).

@external("hw", "outb") declare function outb(port: i32, value: i32): void;
@external("hw", "arg") export declare function arg(i: i32): i32;

export function putc(c: i32): void {
  outb(0xe9, c);
}

export function puts(s: string): void {
  for (let i = 0; i < s.length; i++) putc(s.charCodeAt(i));
}

export function putln(s: string): void {
  puts(s);
  putc(10);
}

export function putHex(v: u64, digits: i32 = 16): void {
  for (let i = digits - 1; i >= 0; i--) {
    const d = <i32>((v >> (<u64>i * 4)) & 15);
    putc(d < 10 ? 48 + d : 87 + d);
  }
}

export function putDec(v: i64): void {
  if (v < 0) {
    putc(45);
    // i64.MIN has no positive counterpart: print its digits unsigned
    putU(<u64>0 - <u64>v);
  } else putU(<u64>v);
}

function putU(v: u64): void {
  if (v >= 10) putU(v / 10);
  putc(48 + <i32>(v % 10));
}

export function tvAbort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  puts("abort: ");
  if (message !== null) puts(message);
  puts(" at ");
  if (fileName !== null) puts(fileName);
  putc(58);
  putDec(line);
  putc(10);
  unreachable();
}
