// String parsers shared by boot options, module words and the management
// protocol: names, numbers and sizes, integer only.

/** MGMT-API names of VMs, ports and mirrors: 1-32 characters of [A-Za-z0-9._-]. */
export function isValidName(s: string): bool {
  const n = s.length;
  if (n < 1 || n > 32) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    const ok = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 46 || c == 95 || c == 45;
    if (!ok) return false;
  }
  return true;
}

/** Decimal (or 0x hex) u64, at most 16 digits; -1 when not a number. */
export function parseNumber(s: string): i64 {
  let base: u64 = 10;
  let i = 0;
  if (s.length > 2 && s.charCodeAt(0) == 48 && (s.charCodeAt(1) == 120 || s.charCodeAt(1) == 88)) {
    base = 16;
    i = 2;
  }
  if (i >= s.length || s.length - i > 16) return -1;
  let v: u64 = 0;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let d: i32 = -1;
    if (c >= 48 && c <= 57) d = c - 48;
    else if (base == 16 && c >= 97 && c <= 102) d = c - 87;
    else if (base == 16 && c >= 65 && c <= 70) d = c - 55;
    if (d < 0) return -1;
    v = v * base + <u64>d;
  }
  return v > 0x7fffffffffffffff ? -1 : <i64>v;
}

/**
 * A memory size as GUESTS.md writes `mem=`: N with K, M or G (also KiB, MiB,
 * GiB; k for K); no suffix means MiB. -1 when invalid or above 1 TiB.
 */
export function parseMem(s: string): i64 {
  let t = s;
  let shift: u64 = 20;
  if (t.endsWith("iB")) t = t.substring(0, t.length - 2);
  if (t.length > 0) {
    const u = t.charCodeAt(t.length - 1);
    if (u == 75 || u == 107) shift = 10; // K k
    else if (u == 77) shift = 20; // M
    else if (u == 71) shift = 30; // G
    else if (s.endsWith("iB")) return -1; // "iB" with no unit before it
    if (u == 75 || u == 107 || u == 77 || u == 71) t = t.substring(0, t.length - 1);
  }
  if (t.length == 0 || t.length > 10) return -1;
  const n = parseNumber(t);
  if (n < 0 || (<u64>n >> (40 - shift)) != 0) return -1;
  return <i64>(<u64>n << shift);
}
