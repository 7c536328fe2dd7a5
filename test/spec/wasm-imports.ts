// Renames a wasm binary's exports to plain names for wasm2wat (the spec harness keeps the originals).

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

/** Renames export i to "e<i>" (so printed names are plain identifiers) and
 * returns the original names, in export order. */
export function renameExports(bytes: Uint8Array): { bytes: Uint8Array; names: Buffer[] } {
  let p = 8;
  const leb = () => {
    let r = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[p++];
      r += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (!(b & 0x80)) return r;
    }
  };
  const parts: Uint8Array[] = [bytes.subarray(0, 8)];
  const names: Buffer[] = [];
  while (p < bytes.length) {
    const start = p;
    const id = bytes[p++];
    const size = leb();
    const end = p + size;
    if (id !== 7) {
      parts.push(bytes.subarray(start, end));
      p = end;
      continue;
    }
    const count = leb();
    const body: number[] = [...uleb(count)];
    for (let i = 0; i < count; i++) {
      const n = leb();
      names.push(Buffer.from(bytes.subarray(p, p + n)));
      p += n;
      const kind = bytes[p++];
      const idxStart = p;
      leb();
      const fresh = Buffer.from(`e${i}`);
      body.push(...uleb(fresh.length), ...fresh, kind, ...bytes.subarray(idxStart, p));
    }
    parts.push(Uint8Array.from([7, ...uleb(body.length), ...body]));
    p = end;
  }
  return { bytes: Buffer.concat(parts), names };
}
