// MAC addresses as u64 (48 bits, first octet most significant): parse, format, classify.

export const BROADCAST_MAC: u64 = 0xffffffffffff;
/** Returned by parseMac for a string that is not a MAC. */
export const BAD_MAC: u64 = <u64>-1;

/** IEEE 802: the individual/group bit is the least significant bit of the first octet. */
@inline export function isGroupMac(mac: u64): bool {
  return ((mac >> 40) & 1) != 0;
}

function hexVal(c: i32): i32 {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** "02:00:00:00:00:01" (either case) -> u64; BAD_MAC when malformed. */
export function parseMac(s: string): u64 {
  if (s.length != 17) return BAD_MAC;
  let v: u64 = 0;
  for (let i = 0; i < 6; i++) {
    const hi = hexVal(s.charCodeAt(i * 3));
    const lo = hexVal(s.charCodeAt(i * 3 + 1));
    if (hi < 0 || lo < 0) return BAD_MAC;
    if (i < 5 && s.charCodeAt(i * 3 + 2) != 58) return BAD_MAC;
    v = (v << 8) | <u64>((hi << 4) | lo);
  }
  return v;
}

const HEX = "0123456789abcdef";

/** u64 -> "02:00:00:00:00:01" (lower case). */
export function formatMac(mac: u64): string {
  let s = "";
  for (let i = 5; i >= 0; i--) {
    const b = <i32>((mac >> (<u64>(i * 8))) & 0xff);
    s += HEX.charAt(b >> 4) + HEX.charAt(b & 15);
    if (i > 0) s += ":";
  }
  return s;
}

/**
 * The 6-byte MAC at p as it lies in memory, read little-endian ("wire order": first octet in the low byte).
 * The forwarding path and the FDB keys use this form: no byte swapping per frame. swapMac converts.
 */
@inline export function loadWireMac(p: usize): u64 {
  return <u64>load<u32>(p) | (<u64>load<u16>(p, 4) << 32);
}

/** The group bit of a wire-order MAC (the least significant bit of the first octet). */
@inline export function isGroupWire(w: u64): bool {
  return (w & 1) != 0;
}

/** Network-order MAC (parseMac, the API) <-> wire-order MAC (loadWireMac, FDB keys): reverses the 6 octets. */
@inline export function swapMac(m: u64): u64 {
  return bswap<u64>(m) >> 16;
}
