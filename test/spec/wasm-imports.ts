// Reads the module names of a wasm binary's imports (section 2), enough to
// know which registered modules a module links against.

export function importModules(bytes: Uint8Array): string[] {
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
  const name = () => {
    const n = leb();
    const s = Buffer.from(bytes.subarray(p, p + n)).toString("utf8");
    p += n;
    return s;
  };
  const limits = () => {
    const flags = bytes[p++];
    leb();
    if (flags & 1) leb();
  };
  const out: string[] = [];
  while (p < bytes.length) {
    const id = bytes[p++];
    const size = leb();
    const end = p + size;
    if (id === 2) {
      const count = leb();
      for (let i = 0; i < count; i++) {
        out.push(name());
        name();
        const kind = bytes[p++];
        if (kind === 0) leb();
        else if (kind === 1) {
          p++;
          limits();
        } else if (kind === 2) limits();
        else if (kind === 3) p += 2;
        else break;
      }
    }
    p = end;
  }
  return out;
}
