// End to end: tvctl (as a process) configures VLANs, a mirror and a policer
// on the hosted runner; frames sent into its UDP ports come out where
// docs/PROTOCOL.md says, and the counters agree.

import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/mgmt-api/host/tvctl";
import { frame, ROOT, Runner, sleep, startRunner, vidOf } from "./helpers";

const TVCTL = join(ROOT, "bin", "tvctl");
let r: Runner;

function tvctl(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(TVCTL, args, { cwd: ROOT, env: { ...process.env, TVCTL_MGMT: r.mgmt, ...env } });
    let out = "";
    let err = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (err += d));
    p.on("exit", (code) => resolve({ code, out, err }));
  });
}

async function ok(args: string[]): Promise<string> {
  const res = await tvctl(args);
  if (res.code !== 0) throw new Error(`tvctl ${args.join(" ")} exited ${res.code}: ${res.err}`);
  return res.out;
}

const M1 = "02:00:00:00:00:01";
const M2 = "02:00:00:00:00:02";
const M9 = "02:00:00:00:00:09";
const BCAST = "ff:ff:ff:ff:ff:ff";

beforeAll(async () => {
  r = await startRunner(["vm1", "vm2", "up0", "tap0"]);
});

afterAll(async () => {
  expect(await r?.stop()).toBe(0);
});

describe("tvctl against the hosted runner", () => {
  it("configures VLANs, a mirror and a policer", async () => {
    await ok(["port", "set", "vm1", "--access", "10"]);
    await ok(["port", "set", "vm2", "--access", "20"]);
    await ok(["port", "set", "up0", "--trunk", "10,20,100-199"]);
    await ok(["mirror", "add", "m1", "--src", "vm1:both", "--dst", "tap0"]);
    // 1 kbit/s = 125 bytes/s: with a 500-byte bucket, two 240-byte frames pass a quick burst of four
    await ok(["qos", "set", "vm2", "--ingress", "1:500", "--egress", "off"]);
    const cfg = JSON.parse(await ok(["--json", "config", "export"]));
    expect(cfg.ports.find((p: any) => p.name === "up0").vlan).toEqual({
      mode: "trunk",
      allowed: [10, 20, [100, 199]],
      native: null,
      native_tagged: false,
    });
    expect(cfg.ports.find((p: any) => p.name === "vm2").qos.ingress).toEqual({ rate_kbps: 1, burst_bytes: 500 });
    expect(cfg.mirrors).toEqual([{ name: "m1", src_ports: [{ port: "vm1", dir: "both" }], src_vlans: [], dst_port: "tap0" }]);
    const table = await ok(["port", "list"]);
    expect(table).toMatch(/^vm1\s+test\s+access 10/m);
    expect(table).toMatch(/^tap0\*/m);
  });

  it("frames go where the semantics say and the counters agree", async () => {
    // 1. broadcast on vm1 (VLAN 10): up0 gets it tagged 10; vm2 (VLAN 20) nothing; tap0 an rx copy as received
    const f1 = frame({ dst: BCAST, src: M1, len: 64 });
    await r.inject("vm1", f1);
    const up = await r.ports.up0.rx.waitFor(1);
    expect(up.length).toBe(1);
    expect(vidOf(up[0])).toBe(10);
    expect(up[0].length).toBe(68);
    const tap = await r.ports.tap0.rx.waitFor(1);
    expect(tap[0].equals(f1)).toBe(true);

    // 2. unicast from up0 (tagged 10) to M1, learned on vm1: only vm1, untagged; tap0 a tx copy as sent
    await r.inject("up0", frame({ dst: M1, src: M9, vid: 10, len: 64 }));
    const v1 = await r.ports.vm1.rx.waitFor(1);
    expect(v1.length).toBe(1);
    expect(vidOf(v1[0])).toBeNull();
    expect(v1[0].length).toBe(60);
    const tap2 = await r.ports.tap0.rx.waitFor(2);
    expect(tap2[1].equals(v1[0])).toBe(true);

    // 3. short broadcast from up0 in VLAN 20: vm2 gets it untagged, padded to 60
    await r.inject("up0", frame({ dst: BCAST, src: M9, vid: 20, len: 40 }));
    const v2 = await r.ports.vm2.rx.waitFor(1);
    expect(v2.length).toBe(1);
    expect(v2[0].length).toBe(60);
    expect(vidOf(v2[0])).toBeNull();
    expect(v2[0].subarray(36).every((b) => b === 0)).toBe(true);

    // 4. VLAN 30 is not allowed on up0: dropped
    await r.inject("up0", frame({ dst: BCAST, src: M9, vid: 30, len: 64 }));

    // 5. four 240-byte frames from vm2 into a 500-byte policer bucket: two pass (a third would need
    //    220 more bytes of tokens, 1.76 s at 125 bytes/s; the four leave here back to back)
    await Promise.all([0, 1, 2, 3].map(() => r.inject("vm2", frame({ dst: BCAST, src: M2, len: 240 }))));
    const up5 = await r.ports.up0.rx.waitFor(3);
    expect(up5.slice(1).map((f) => [vidOf(f), f.length])).toEqual([
      [20, 244],
      [20, 244],
    ]);

    // the counters as tvctl reports them, once every frame has been counted
    let stats: Record<string, any> = {};
    for (let i = 0; i < 100; i++) {
      // --json prints the method's result: port.list
      stats = Object.fromEntries(JSON.parse(await ok(["--json", "stats"])).map((p: any) => [p.name, p.stats]));
      if (stats.vm2.rx_packets === 4 && stats.up0.rx_packets === 3) break;
      await sleep(50);
    }
    await sleep(200); // nothing more may arrive
    expect(r.ports.vm1.rx.frames.length).toBe(1);
    expect(r.ports.vm2.rx.frames.length).toBe(1);
    expect(r.ports.up0.rx.frames.length).toBe(3);
    expect(r.ports.tap0.rx.frames.length).toBe(2);
    const pick = (s: any) => [s.rx_packets, s.rx_dropped, s.tx_packets, s.tx_dropped];
    expect(pick(stats.vm1)).toEqual([1, 0, 1, 0]);
    expect(pick(stats.vm2)).toEqual([4, 2, 1, 0]);
    expect(pick(stats.up0)).toEqual([3, 1, 3, 0]);
    expect(pick(stats.tap0)).toEqual([0, 0, 2, 0]);
    // tx counters agree with the bytes that came out of each socket
    for (const name of ["vm1", "vm2", "up0", "tap0"]) {
      const bytes = r.ports[name].rx.frames.reduce((n, f) => n + f.length, 0);
      expect(stats[name].tx_bytes).toBe(bytes);
    }
    expect(stats.vm2.rx_bytes).toBe(960);
    const mirrors = JSON.parse(await ok(["--json", "mirror", "list"]));
    expect(mirrors[0].stats).toEqual({ packets: 2, bytes: 64 + 60 });
    const fdb = JSON.parse(await ok(["--json", "fdb", "show", "--vlan", "10"]));
    expect(fdb.map((e: any) => [e.mac, e.port])).toEqual([
      [M1, "vm1"],
      [M9, "up0"],
    ]);
    expect(await ok(["fdb", "show", "--port", "vm2"])).toMatch(/vm2\s+20\s+02:00:00:00:00:02\s+learned/);
  });

  it("config export, edit, apply --dry-run, apply (YAML)", async () => {
    const yaml = await ok(["config", "export"]);
    expect(yaml).toMatch(/allowed: \[ 10, 20, \[ 100, 199 \] \]/);
    const dir = join(ROOT, "build", "mgmt", "test");
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `sw-${process.pid}.yaml`);
    writeFileSync(file, yaml.replace("vlan: 20", "vlan: 21"));
    const dry = await ok(["config", "apply", file, "--dry-run"]);
    expect(dry).toContain("port vm2: vlan access 20 -> access 21");
    expect(JSON.parse(await ok(["--json", "port", "show", "vm2"])).vlan.vlan).toBe(20);
    // quiet on success; -v lists what changed
    const done = await ok(["config", "apply", file, "-v"]);
    expect(done).toContain("port vm2: vlan access 20 -> access 21");
    expect(JSON.parse(await ok(["--json", "port", "show", "vm2"])).vlan.vlan).toBe(21);
    expect(await ok(["config", "apply", file, "--dry-run"])).toContain("no changes");
    // a bad file changes nothing and says which field
    writeFileSync(file, yaml.replace("vlan: 20", "vlan: 5000"));
    const bad = await tvctl(["config", "apply", file]);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("config.apply");
    expect(bad.err).toContain("-32602");
    expect(bad.err).toMatch(/config\.ports\[\d\]\.vlan\.vlan/);
    expect(JSON.parse(await ok(["--json", "port", "show", "vm2"])).vlan.vlan).toBe(21);
  });

  it("audit, system info, vm, raw calls, fdb config, security", async () => {
    const audit = JSON.parse(await ok(["--json", "audit"]));
    expect(audit.map((a: any) => a.method).slice(0, 5)).toEqual(["port.set", "port.set", "port.set", "mirror.add", "port.set"]);
    expect(audit.every((a: any, i: number) => a.seq === audit[0].seq + i)).toBe(true);
    expect(JSON.parse(await ok(["--json", "audit", "--since", String(audit.at(-1).seq)]))).toEqual([]);
    expect(await ok(["system", "info"])).toMatch(/name:\s+typevisor/);
    expect(JSON.parse(await ok(["--json", "vm", "list"]))).toEqual([]);
    const vm = await tvctl(["vm", "start", "g1"]);
    expect(vm.code).toBe(1);
    expect(vm.err).toMatch(/vm\.start: error 1/);
    expect(JSON.parse(await ok(["call", "port.get", '{"port":"vm1"}'])).name).toBe("vm1");
    expect(JSON.parse(await ok(["--json", "fdb", "config", "--aging", "60", "--max", "4096"]))).toEqual({ aging_s: 60, max_entries: 4096 });
    await ok(["security", "set", "vm1", "--max-macs", "4"]);
    await ok(["security", "set", "vm1", "--allow", "02:00:00:00:00:01,02:00:00:00:00:03"]);
    const p = JSON.parse(await ok(["--json", "port", "show", "vm1"]));
    expect(p.security).toEqual({ max_macs: 4, allowed_macs: [M1, "02:00:00:00:00:03"] });
    // quiet on success, details with -v
    expect(await ok(["mirror", "remove", "m1"])).toBe("");
    expect(await ok(["-v", "fdb", "flush"])).toMatch(/\d+ entries removed/);
    expect(await ok(["stats", "--reset", "-v"])).toContain("reset");
  });

  it("errors: exit status and a message that says what failed", async () => {
    const nf = await tvctl(["port", "set", "nope", "--access", "5"]);
    expect(nf.code).toBe(1);
    expect(nf.err).toContain("port.set: error 1 not found");
    expect(nf.err).toContain("field port");
    const usage = await tvctl(["port", "set", "vm1", "--access", "5", "--trunk", "1"]);
    expect(usage.code).toBe(2);
    expect((await tvctl(["frobnicate"])).code).toBe(2);
    const down = await tvctl(["port", "list"], { TVCTL_MGMT: "tcp:127.0.0.1:1" });
    expect(down.code).toBe(3);
    expect(down.err).toContain("127.0.0.1:1");
    const h = await tvctl(["mirror", "add", "--help"]);
    expect(h.code).toBe(0);
    // only the subcommand's help, not the group's
    expect(h.out).toMatch(/^Usage: tvctl mirror add \[options\] <NAME>/);
    expect(h.out).not.toContain("mirror remove");
    // every command's --help (in-process: same code, without a process start each)
    for (const cmd of ["port", "qos", "security", "mirror", "fdb", "stats", "config", "audit", "vm", "system", "call"]) {
      const out: string[] = [];
      expect(await main([cmd, "--help"], (s) => out.push(s), () => {})).toBe(0);
      expect(out.join("\n")).toMatch(new RegExp(`^Usage: tvctl ${cmd}`));
    }
  });
});
