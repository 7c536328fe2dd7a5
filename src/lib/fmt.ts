// Integer formatting without floats: hex and decimal for logs.

const DIGITS = "0123456789abcdef";

/** `value` in hex, at least `width` digits, no prefix. */
export function hex(value: u64, width: i32 = 1): string {
  let s = "";
  let n = 0;
  let v = value;
  do {
    s = DIGITS.charAt(<i32>(v & 15)) + s;
    v >>= 4;
    n++;
  } while (v != 0 || n < width);
  return s;
}

/** "0x" and lower-case hex digits, no leading zeros (addresses and codes in log lines). */
export function hex0x(value: u64): string {
  return "0x" + hex(value);
}

/** "0x" + 16 hex digits. */
export function hex64(value: u64): string {
  return "0x" + hex(value, 16);
}

export function dec(value: u64): string {
  if (value == 0) return "0";
  let s = "";
  let v = value;
  while (v != 0) {
    s = DIGITS.charAt(<i32>(v % 10)) + s;
    v /= 10;
  }
  return s;
}

export function decSigned(value: i64): string {
  return value < 0 ? "-" + dec(<u64>(-value)) : dec(<u64>value);
}

/** Bytes as "N MiB" / "N KiB" / "N B" (rounded down). */
export function size(bytes: u64): string {
  if (bytes >= (1 << 30) && bytes % (1 << 30) == 0) return dec(bytes >> 30) + " GiB";
  if (bytes >= (1 << 20)) return dec(bytes >> 20) + " MiB";
  if (bytes >= (1 << 10)) return dec(bytes >> 10) + " KiB";
  return dec(bytes) + " B";
}

/** Left-pads `s` with spaces to `width`. */
export function pad(s: string, width: i32): string {
  let r = s;
  while (r.length < width) r = " " + r;
  return r;
}
