// scripts/guest-linux.ts: fetches Debian's cloud kernel and busybox, builds the initramfs (newc cpio), caches it, and the result boots in plain QEMU TCG to the init marker.
import { beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { root } from "../../../scripts/lib/emulators";
import {
  BZIMAGE, INIT_MARKER, INITRAMFS, MANIFEST, MODULES, S_IFCHR, S_IFDIR, S_IFLNK, S_IFREG, cpioNewc, readCpio,
} from "../../../scripts/guest-linux";

/** Runs a command without blocking the worker; resolves with status and output. */
function run(cmd: string, args: string[], timeoutMs: number, until?: (out: string) => boolean, env?: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
    let out = "";
    const done = (): void => {
      clearTimeout(t);
      p.kill("SIGKILL");
    };
    const t = setTimeout(done, timeoutMs);
    const feed = (d: Buffer): void => {
      out += d.toString("latin1");
      if (until?.(out)) done();
    };
    p.stdout.on("data", feed);
    p.stderr.on("data", feed);
    p.on("close", (code) => {
      clearTimeout(t);
      resolve({ code, out });
    });
  });
}

describe("newc cpio writer", () => {
  it("round-trips directories, files, symlinks and device nodes with 4-byte alignment", () => {
    const entries = [
      { name: "bin", mode: S_IFDIR | 0o755 },
      { name: "bin/a", mode: S_IFREG | 0o644, data: Buffer.from("hello") },
      { name: "bin/sh", mode: S_IFLNK | 0o777, data: Buffer.from("busybox") },
      { name: "dev/console", mode: S_IFCHR | 0o600, rdevMajor: 5, rdevMinor: 1 },
    ];
    const buf = cpioNewc(entries);
    expect(buf.length % 4).toBe(0);
    const back = readCpio(buf);
    expect(back.map((e) => [e.name, e.mode, Buffer.from(e.data!).toString(), e.rdevMajor, e.rdevMinor])).toEqual([
      ["bin", S_IFDIR | 0o755, "", 0, 0],
      ["bin/a", S_IFREG | 0o644, "hello", 0, 0],
      ["bin/sh", S_IFLNK | 0o777, "busybox", 0, 0],
      ["dev/console", S_IFCHR | 0o600, "", 5, 1],
    ]);
    expect(buf.subarray(buf.length - 124).toString("latin1")).toContain("TRAILER!!!");
  });
});

describe("an unreachable Debian archive", () => {
  it("makes the script fail with a message that says so (nothing cached in a fresh directory)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tv-linux-"));
    try {
      const r = await run("npx", ["tsx", "scripts/guest-linux.ts"], 300_000, undefined, {
        TV_LINUX_DIR: dir,
        TV_APT_OPTIONS: "-o Acquire::http::Proxy=http://127.0.0.1:9 -o Acquire::https::Proxy=http://127.0.0.1:9 -o Acquire::Retries=0",
      });
      expect(r.code, r.out).toBe(1);
      expect(r.out).toMatch(/\[guest-linux\] cannot download linux-image-.*-cloud-amd64 from the Debian archive \(is it reachable\?\)/);
      expect(existsSync(join(dir, "initramfs.cpio.gz"))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("guest material (needs the Debian archive the first time)", () => {
  let first = { code: 0 as number | null, out: "" };
  beforeAll(async () => {
    first = await run("npx", ["tsx", "scripts/guest-linux.ts"], 900_000);
  }, 900_000);

  it("fetches the kernel and busybox and builds the initramfs", () => {
    if (first.code !== 0) {
      throw new Error(`scripts/guest-linux.ts failed (is the Debian archive reachable? apt-get download needs it):\n${first.out}`);
    }
    const m = JSON.parse(readFileSync(MANIFEST, "utf8"));
    expect(m.kernelPackage).toMatch(/^linux-image-\d.*-cloud-amd64$/);
    const hdr = readFileSync(BZIMAGE).subarray(0x202, 0x206).toString("latin1");
    expect(hdr).toBe("HdrS");
    const files = readCpio(gunzipSync(readFileSync(INITRAMFS)));
    const names = files.map((f) => f.name);
    for (const n of ["init", "bin/busybox", "bin/sh", "dev/console", "etc/modules", "bin/tvnet"]) expect(names).toContain(n);
    for (const mod of MODULES) if (!m.builtin.includes(mod)) expect(names).toContain(`lib/modules/${mod}.ko`);
    // Dependencies load first: each module's modinfo depends= names appear earlier in etc/modules.
    const order = Buffer.from(files.find((f) => f.name === "etc/modules")!.data!).toString().trim().split("\n");
    for (const [i, mod] of order.entries()) {
      const ko = Buffer.from(files.find((f) => f.name === `lib/modules/${mod}.ko`)!.data!);
      const at = ko.indexOf("\0depends=");
      const deps = at < 0 ? [] : ko.toString("ascii", at + 9, ko.indexOf(0, at + 1)).split(",").filter(Boolean).map((d) => d.replace(/-/g, "_"));
      for (const d of deps) {
        expect(order.indexOf(d), `${d} (needed by ${mod}) is loaded`).toBeGreaterThanOrEqual(0);
        expect(order.indexOf(d), `${d} loads before ${mod}`).toBeLessThan(i);
      }
    }
  });

  it("does nothing on a second run", async () => {
    expect(first.code, first.out).toBe(0);
    const before = [statSync(INITRAMFS).mtimeMs, statSync(BZIMAGE).mtimeMs];
    const again = await run("npx", ["tsx", "scripts/guest-linux.ts"], 120_000);
    expect(again.code, again.out).toBe(0);
    expect(again.out).toContain("cached");
    expect([statSync(INITRAMFS).mtimeMs, statSync(BZIMAGE).mtimeMs]).toEqual(before);
  });

  it("boots in plain QEMU TCG to the init marker and runs tv.run commands", async () => {
    expect(first.code, first.out).toBe(0);
    const append = 'console=ttyS0 tv.run="uname -r" tv.run=echo%20tv-%2541 tv.run="ls /sys/bus/virtio/drivers" tv.poweroff';
    const r = await run(
      "qemu-system-x86_64",
      ["-kernel", BZIMAGE, "-initrd", INITRAMFS, "-append", append, "-nographic", "-nic", "none", "-cpu", "EPYC", "-m", "256", "-no-reboot"],
      240_000,
      (out) => out.includes("reboot: Power down"),
    );
    const tail = r.out.slice(-3000);
    expect(r.out, `no ${INIT_MARKER} within 240 s; console tail:\n${tail}`).toContain(INIT_MARKER);
    const m = JSON.parse(readFileSync(MANIFEST, "utf8"));
    expect(r.out).toMatch(new RegExp(`TV-RUN: uname -r\\r?\\n${m.kernelVersion.replace(/\./g, "\\.")}\\r?\\nTV-RUN-EXIT: 0`));
    expect(r.out).toMatch(/TV-RUN: echo tv-%41\r?\ntv-%41\r?\nTV-RUN-EXIT: 0/);
    expect(r.out).toMatch(/virtio_net/); // the modules loaded and registered their drivers
    expect(r.out).not.toMatch(/init: insmod .* failed/);
  });
});
