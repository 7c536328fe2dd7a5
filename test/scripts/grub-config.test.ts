// The GRUB menu of the ISO (scripts/build-image.ts): boot modules with their strings, quoted where GRUB's
// shell-like parser would change them.
import { describe, expect, it } from "vitest";
import { grubConfig, grubWord } from "../../scripts/build-image";

describe("grubConfig with modules", () => {
  it("lists each module after the image, module2 for multiboot 2 and module for multiboot 1", () => {
    const cfg = grubConfig("loglevel=info", 1, 0, [
      { file: "/x/bzImage", args: "name=lin1 mem=192M -- console=ttyS0 quiet" },
      { file: "/y/initramfs.cpio.gz", args: "initrd=lin1" },
    ]);
    const lines = cfg.split("\n").map((l) => l.trim());
    const mb2 = lines.indexOf("multiboot2 /boot/typevisor.elf loglevel=info");
    const mb1 = lines.indexOf("multiboot /boot/typevisor.elf loglevel=info");
    expect(mb2).toBeGreaterThanOrEqual(0);
    expect(mb1).toBeGreaterThan(mb2);
    expect(lines.slice(mb2 + 1, mb2 + 4)).toEqual([
      "module2 /boot/mod0-bzImage name=lin1 mem=192M -- console=ttyS0 quiet",
      "module2 /boot/mod1-initramfs.cpio.gz initrd=lin1",
      "boot",
    ]);
    expect(lines.slice(mb1 + 1, mb1 + 4)).toEqual([
      "module /boot/mod0-bzImage name=lin1 mem=192M -- console=ttyS0 quiet",
      "module /boot/mod1-initramfs.cpio.gz initrd=lin1",
      "boot",
    ]);
  });

  it("quotes words with $, parentheses, quotes or backslashes, and leaves plain ones alone", () => {
    expect(grubWord("tv.run=uname%20-r")).toBe("tv.run=uname%20-r");
    expect(grubWord("mem=192M")).toBe("mem=192M");
    expect(grubWord("tv.run=echo%20$((6*7))")).toBe("'tv.run=echo%20$((6*7))'");
    expect(grubWord("a;b")).toBe("'a;b'");
    expect(grubWord("it's")).toBe("'it'\\''s'");
    expect(grubWord("c:\\d")).toBe("'c:\\d'");
  });

  it("without modules the menu is as before: no module lines", () => {
    expect(grubConfig("demo")).not.toMatch(/module/);
  });
});
