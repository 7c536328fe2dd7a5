// tvctl capture (issue 12) against the hosted runner: frames a port receives and sends, through a temporary
// mirror to the internal port capture0, written as pcap; tcpdump reads the file back (installed from
// Debian when missing and running as root).
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { frame, ROOT, Runner, sleep, spawnAsync, startRunner } from "./helpers";

let r: Runner;
const tvctl = join(ROOT, "bin", "tvctl");

function tcpdump(): string {
  if (spawnSync("tcpdump", ["--version"]).status === 0) return "tcpdump";
  if (process.getuid?.() !== 0) throw new Error("tcpdump is missing: apt-get install tcpdump");
  execFileSync("apt-get", ["install", "-y", "-q", "tcpdump"], { stdio: "ignore", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  return "tcpdump";
}

beforeAll(async () => {
  r = await startRunner(["vm1", "vm2", "vm3"]);
}, 300_000);
afterAll(async () => {
  await r?.stop();
});

/** One management call through `tvctl call`, which must succeed; its JSON result. */
async function call(m: string, p?: object) {
  const res = await spawnAsync(tvctl, ["--mgmt", r.mgmt, "--json", "call", m, ...(p ? [JSON.stringify(p)] : [])]);
  expect(res.status, res.stderr).toBe(0);
  return JSON.parse(res.stdout || "{}");
}

describe("tvctl capture", () => {
  it("writes the frames a port receives and sends as pcap that tcpdump reads, then removes its mirror", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tv-capture-"));
    const file = join(dir, "vm1.pcap");
    const cap = spawnAsync(tvctl, ["--mgmt", r.mgmt, "capture", "vm1", "-w", file, "--count", "3"], { timeoutMs: 60_000 });
    await sleep(1500); // the capture has started
    // vm1 -> broadcast (received by vm1), vm2 -> vm1's MAC (sent by vm1 once learned), vm3 -> vm2 (not vm1's)
    await r.inject("vm1", frame({ src: "02:00:00:00:00:01", dst: "ff:ff:ff:ff:ff:ff", type: 0x0806, len: 60 }));
    await sleep(200);
    await r.inject("vm2", frame({ src: "02:00:00:00:00:02", dst: "02:00:00:00:00:01", type: 0x0800, len: 64 }));
    await sleep(200);
    await r.inject("vm3", frame({ src: "02:00:00:00:00:03", dst: "02:00:00:00:00:02", type: 0x0800, len: 70 }));
    await sleep(200);
    await r.inject("vm1", frame({ src: "02:00:00:00:00:01", dst: "02:00:00:00:00:02", type: 0x86dd, len: 80 }));
    const res = await cap;
    expect(res.status, res.stderr).toBe(0);
    expect(res.stderr).toMatch(/3 frames written/);
    const bytes = readFileSync(file);
    expect(bytes.readUInt32LE(0)).toBe(0xa1b2c3d4);
    const out = execFileSync(tcpdump(), ["-r", file, "-e", "-n"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    const lines = out.trim().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff, ethertype ARP/);
    expect(lines[1]).toMatch(/02:00:00:00:00:02 > 02:00:00:00:00:01, ethertype IPv4/);
    expect(lines[2]).toMatch(/02:00:00:00:00:01 > 02:00:00:00:00:02, ethertype IPv6/);
    // the capture's mirror and port are gone again
    const ports = JSON.parse((await spawnAsync(tvctl, ["--mgmt", r.mgmt, "--json", "port", "list"])).stdout);
    expect(ports.map((p: { name: string }) => p.name)).not.toContain("capture0");
  }, 120_000);

  it("capture.read with max 1 returns the queued frames one by one: none is lost beyond max (issue 14)", async () => {
    await call("capture.start", { port: "vm2" });
    try {
      for (let i = 0; i < 5; i++) {
        await r.inject("vm2", frame({ src: "02:00:00:00:00:02", dst: "ff:ff:ff:ff:ff:ff", type: 0x0800, len: 60 + i }));
        await sleep(100);
      }
      await sleep(500); // all five queued on capture0
      const got: string[] = [];
      for (let i = 0; i < 6; i++) {
        const res = await call("capture.read", { max: 1 });
        expect(res.frames.length).toBeLessThanOrEqual(1);
        got.push(...res.frames);
        expect(res.dropped).toBe(0);
      }
      // before the fix: [60], the other four taken from the queue with the first and lost uncounted
      expect(got.map((h) => h.length / 2)).toEqual([60, 61, 62, 63, 64]);
    } finally {
      await call("capture.stop");
    }
  }, 60_000);

  it("a capture nobody reads is bounded: its queue keeps 64 frames and counts the rest as dropped (issue 14)", async () => {
    await call("capture.start", { port: "vm2" });
    try {
      const sent = 100;
      for (let i = 0; i < sent; i++) {
        await r.inject("vm2", frame({ src: "02:00:00:00:00:02", dst: "ff:ff:ff:ff:ff:ff", type: 0x0800, len: 60 }));
        if (i % 10 == 9) await sleep(50); // paced: the runner's UDP socket buffer must not be what drops them
      }
      await sleep(500);
      let got = 0;
      let dropped = 0;
      for (;;) {
        const res = await call("capture.read", { max: 64 });
        got += res.frames.length;
        dropped = res.dropped;
        if (res.frames.length == 0) break;
      }
      expect(got).toBe(64); // the capture port's egress queue depth (src/vswitch/port.ts QUEUE_DEPTH)
      expect(got + dropped).toBe(sent); // nothing vanishes uncounted
    } finally {
      await call("capture.stop");
    }
  }, 60_000);

  it("refuses a second capture and an unknown port with the protocol's errors", async () => {
    const bad = await spawnAsync(tvctl, ["--mgmt", r.mgmt, "capture", "nosuch", "-w", join(tmpdir(), "x.pcap"), "-c", "1"]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/nosuch/);
    const ok = await spawnAsync(tvctl, ["--mgmt", r.mgmt, "call", "capture.start", '{"port":"vm2"}']);
    expect(ok.status, ok.stderr).toBe(0);
    const again = await spawnAsync(tvctl, ["--mgmt", r.mgmt, "call", "capture.start", '{"port":"vm3"}']);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/a capture is running/);
    expect((await spawnAsync(tvctl, ["--mgmt", r.mgmt, "call", "capture.stop"])).status).toBe(0);
  }, 60_000);
});
