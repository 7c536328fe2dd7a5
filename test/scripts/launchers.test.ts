// The launchers (QEMU, Bochs, the hosted runner, the benchmarks) on the shared
// argument parser: help, unknown flags (exit 2, nothing started), --timeout
// ending with 0 in QEMU and Bochs alike, the same command line (demo) through
// GRUB with --iso and in Bochs, COM2 reachable there, a signal named.

import { spawn } from "node:child_process";
import { spawnAsync } from "../mgmt-api/helpers";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { describeEnd, EXIT, signalStatus } from "../../src/mgmt-api/host/exit-codes";
import { main as tvctl } from "../../src/mgmt-api/host/tvctl";
import { ensureImage } from "../../scripts/lib/image";

const ROOT = join(__dirname, "../..");
const TSX = join(ROOT, "node_modules/.bin/tsx");

function run(script: string, args: string[], timeoutMs = 120_000) {
  return spawnAsync(TSX, [join(ROOT, script), ...args], { cwd: ROOT, timeoutMs });
}

describe("usage errors start nothing (exit 2)", () => {
  it("run-qemu: --help is help, an unknown flag is an error, never a kernel command line", async () => {
    const h = await run("scripts/run-qemu.ts", ["--help"]);
    expect(h.status).toBe(0);
    expect(h.stdout).toMatch(/^Usage: run-qemu \[options\] \[KERNEL_OPTIONS\.\.\.\]/);
    expect(h.stdout).toContain("Exit status:");
    expect(h.stderr).not.toContain("[qemu]");
    for (const args of [["--bogus"], ["--timeout", "x"], ["--kvm", "--tcg"], ["-m"]]) {
      const r = await run("scripts/run-qemu.ts", args);
      expect(r.status, args.join(" ")).toBe(EXIT.USAGE);
      expect(r.stderr).not.toContain("[qemu]");
    }
    expect((await run("scripts/run-qemu.ts", ["--bogus"])).stderr).toContain("unknown option '--bogus'");
    expect((await run("scripts/run-qemu.ts", ["--iso", "--timout", "5"])).stderr).toContain("Did you mean --timeout?");
  });

  it("run-bochs, hosted, bench: the same", async () => {
    for (const [script, args, text] of [
      ["scripts/run-bochs.ts", ["--bogus"], "unknown option '--bogus'"],
      ["scripts/run-bochs.ts", ["--svm", "--cpu", "ryzen"], "exclude each other"],
      ["scripts/run-bochs.ts", ["--iso", "x.iso", "--", "demo"], "give no KERNEL_OPTIONS"],
      ["scripts/hosted.ts", ["--bogus"], "unknown option '--bogus'"],
      ["scripts/hosted.ts", ["--port", "a=udp:1", "--mgmt", "tcp:127.0.0.1:0"], "argument 'a=udp:1' is invalid"],
      ["bench/run.ts", ["--bogus"], "unknown option '--bogus'"],
      ["bench/run.ts", ["nope"], 'unknown area "nope"'],
      ["bench/run.ts", ["mgmt", "--quick"], "--quick is for vswitch"],
    ] as Array<[string, string[], string]>) {
      const r = await run(script, args);
      expect(r.status, `${script} ${args.join(" ")}: ${r.stderr}`).toBe(EXIT.USAGE);
      expect(r.stderr).toContain(text);
      expect(r.stderr).not.toMatch(/\[(bochs|qemu)\]|=== bench/);
    }
    for (const script of ["scripts/run-bochs.ts", "scripts/hosted.ts", "bench/run.ts"]) expect((await run(script, ["--help"])).status).toBe(0);
  });

  it("npm start checks the launcher options before it builds anything", async () => {
    const r = await spawnAsync("node", [join(ROOT, "scripts/start.mjs"), "--bogus"], { cwd: ROOT, timeoutMs: 300_000 });
    expect(r.status).toBe(EXIT.USAGE);
    expect(r.stderr).toContain("run-qemu: unknown option '--bogus'");
    expect(r.stdout + r.stderr).not.toMatch(/\[build\]|\[qemu\]/);
  });

  it("exit statuses of signals name the signal", () => {
    expect(describeEnd(null, "SIGKILL")).toBe("killed by signal SIGKILL (9)");
    expect(describeEnd(3, null)).toBe("exit status 3");
    expect(signalStatus("SIGKILL")).toBe(137);
    expect(signalStatus("SIGTERM")).toBe(143);
  });
});

describe("the hosted runner's first start", () => {
  const dir = mkdtempSync(join(tmpdir(), "tv-hosted-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("prints its steps with times when it has to compile; silent once built", async () => {
    const start = () =>
      new Promise<{ err: string }>((resolve, reject) => {
        const p = spawn(TSX, [join(ROOT, "scripts/hosted.ts"), "--mgmt", "tcp:127.0.0.1:0"], { cwd: ROOT, env: { ...process.env, TV_HOSTED_BUILD_DIR: dir } });
        let err = "";
        let out = "";
        p.stderr.on("data", (d) => (err += d));
        p.stdout.on("data", (d) => {
          out += d;
          if (out.includes("ready")) p.kill("SIGTERM");
        });
        p.once("exit", (code) => (out.includes("ready") ? resolve({ err }) : reject(new Error(`exit ${code}: ${err}`))));
      });
    const first = await start();
    expect(first.err).toMatch(/^\[hosted\] asc src\/mgmt-api\/hosted-entry\.ts .*\n\[hosted\] built \S+hosted-\w+\.wasm in \d+\.\d s\n/);
    const second = await start();
    expect(second.err).toBe("");
  }, 240_000);
});

// Boots: kept to two short runs (QEMU through GRUB, Bochs), each stopped by --timeout.
describe("boots with the demo command line through GRUB", () => {
  it("npm run qemu -- --iso: the demo VMs, COM2 answers, --timeout ends with 0", async () => {
    await ensureImage();
    const sock = `build/test/com2-iso-${process.pid}.sock`;
    const p = spawn(TSX, [join(ROOT, "scripts/run-qemu.ts"), "--iso", "--timeout", "40", "--com2", sock], { cwd: ROOT });
    let out = "";
    let err = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (err += d));
    const exited = new Promise<number | null>((r) => p.once("exit", (c) => r(c)));
    for (let i = 0; i < 300 && !/main loop/.test(out); i++) await new Promise((r) => setTimeout(r, 100));
    expect(out).toContain('[boot] command line: "demo"');
    expect(out).toContain("[vmm] VM print-1 started");
    const lines: string[] = [];
    const code = await tvctl(["--mgmt", join(ROOT, sock), "--timeout", "20000", "vm", "show", "print-1"], (s) => lines.push(s), (s) => lines.push(s));
    expect(code, lines.join("\n")).toBe(0);
    expect(lines.join("\n")).toMatch(/^name:\s+print-1$/m);
    expect(await exited).toBe(0);
    expect(err).toContain("[qemu] GRUB command line: demo");
    expect(err).toContain("[qemu] stopped after 40 s (--timeout)");
  }, 300_000);

  it("npm run bochs: VT-x, the demo VMs, COM2 on the socket, --timeout ends with 0", async () => {
    await ensureImage();
    const sock = `build/test/com2-bochs-${process.pid}.sock`;
    const p = spawn(TSX, [join(ROOT, "scripts/run-bochs.ts"), "--timeout", "60", "--com2", sock], { cwd: ROOT });
    let out = "";
    let err = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (err += d));
    const exited = new Promise<number | null>((r) => p.once("exit", (c) => r(c)));
    for (let i = 0; i < 500 && !/main loop/.test(out); i++) await new Promise((r) => setTimeout(r, 100));
    expect(out).toContain('[boot] command line: "demo"');
    expect(out).toContain("[vmm] VT-x: EPT");
    expect(out).toContain("[vmm] VM print-1 started");
    const lines: string[] = [];
    const code = await tvctl(["--mgmt", join(ROOT, sock), "--timeout", "30000", "--json", "vm", "list"], (s) => lines.push(s), (s) => lines.push(s));
    expect(code, lines.join("\n")).toBe(0);
    expect(JSON.parse(lines.join("\n")).map((v: { name: string }) => v.name)).toContain("print-1");
    expect(await exited).toBe(0);
    expect(err).toContain("[bochs] stopped after 60 s (--timeout)");
    expect(existsSync(join(ROOT, sock))).toBe(false);
  }, 300_000);
});
