// Builds the test guests (boot/guests/*.S) into flat binaries in
// build/guests/NAME.bin, loaded at guest-physical 0x1000 (src/vmm/README.md).
// Run by scripts/build-image.ts before boot/*.S are assembled, since
// boot/guest-images.S embeds the binaries with .incbin.
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const GUEST_LOAD_ADDRESS = 0x1000;
/** Guests embedded in the image, in the index order hw_guest_copy uses. */
export const EMBEDDED_GUESTS = ["print", "real16", "long64", "probe", "hostile", "cpuidloop", "spin", "isolate", "prefixes", "storm", "attack"];

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

export function buildGuests(outDir = join(root, "build/guests")): string[] {
  const src = join(root, "boot/guests");
  mkdirSync(outDir, { recursive: true });
  const built: string[] = [];
  for (const f of readdirSync(src).filter((n) => n.endsWith(".S")).sort()) {
    const name = f.slice(0, -2);
    const obj = join(outDir, `${name}.o`);
    const bin = join(outDir, `${name}.bin`);
    execFileSync("as", ["--64", "-I", src, "-o", obj, join(src, f)], { stdio: "inherit" });
    execFileSync(
      "ld",
      ["-m", "elf_x86_64", "-nostdlib", "-N", "-e", "_start", `-Ttext=0x${GUEST_LOAD_ADDRESS.toString(16)}`,
        "--oformat", "binary", "-o", bin, obj],
      { stdio: "inherit" },
    );
    const size = statSync(bin).size;
    // The guest must fit between its load address and the page tables some
    // guests build at 0x10000.
    if (size > 0x10000 - GUEST_LOAD_ADDRESS) throw new Error(`${name}.bin is too large (${size} bytes)`);
    built.push(bin);
  }
  for (const g of EMBEDDED_GUESTS) {
    if (!built.some((b) => b.endsWith(`/${g}.bin`))) throw new Error(`embedded guest ${g} was not built`);
  }
  return built;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const b of buildGuests()) console.log(`built ${b} (${statSync(b).size} bytes)`);
}
