// tvctl against the hosted runner: the cases of issue 16 (messages, exit
// statuses, relative socket paths), the new commands (--version, vm show,
// fdb add/del, --trunk-add/--trunk-del, storm control, MTU, drop reasons,
// show, quiet success), config file errors, --watch rates from the UDP
// harness, completion and man page from the same definitions.

import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Port } from "../../src/mgmt-api/host/client";
import { main, rates, VERSION } from "../../src/mgmt-api/host/tvctl";
import { frame, ROOT, Runner, sleep, spawnAsync, startRunner } from "./helpers";

let r: Runner;
const dir = mkdtempSync(join(tmpdir(), "tvctl-test-"));

beforeAll(async () => {
  r = await startRunner(["vm1", "vm2", "up0", "tap0"]);
});

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  expect(await r?.stop()).toBe(0);
});

/** tvctl in-process against the runner: exit status, stdout, stderr. */
async function tv(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(["--mgmt", r.mgmt, ...args], (s) => out.push(s), (s) => err.push(s), { width: 100 });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

async function ok(...args: string[]): Promise<string> {
  const res = await tv(...args);
  if (res.code !== 0) throw new Error(`tvctl ${args.join(" ")} exited ${res.code}: ${res.err}`);
  return res.out;
}

describe("messages and exit statuses (the cases of issue 16)", () => {
  it("--version", async () => {
    const v = await tv("--version");
    expect(v.code).toBe(0);
    expect(v.out).toBe(`tvctl ${VERSION} (management protocol 1)`);
  });

  it("a mistyped global option is named as an option, with a suggestion, exit 2", async () => {
    const e = await tv("--jsn", "port", "list");
    expect(e.code).toBe(2);
    expect(e.err).toContain("unknown option '--jsn'");
    expect(e.err).toContain("Did you mean --json?");
    expect(e.err).not.toContain("unknown command");
  });

  it("an unknown subcommand is named as one (not 'PORT is required')", async () => {
    const e = await tv("port", "frob");
    expect(e.code).toBe(2);
    expect(e.err).toMatch(/^tvctl port: unknown command 'frob'/);
    expect(e.err).not.toContain("required");
  });

  it("vm show: a missing VM is error 1, with the prefix once", async () => {
    const e = await tv("vm", "show", "x");
    expect(e.code).toBe(1);
    expect(e.err).toBe("tvctl: vm.list: error 1 not found: no VM named x (field name)");
  });

  it("--trunk 10-5 is refused locally, exit 2 like every other range error", async () => {
    const seq = (await ok("--json", "audit")).length;
    const back = await tv("port", "set", "up0", "--trunk", "10-5");
    expect(back.code).toBe(2);
    expect(back.err).toContain("argument '10-5' is invalid");
    expect(back.err).toContain("runs backwards");
    const big = await tv("port", "set", "up0", "--trunk", "10-5000");
    expect(big.code).toBe(2);
    const acc = await tv("port", "set", "up0", "--access", "4095");
    expect(acc.code).toBe(2);
    // nothing reached the server
    expect((await ok("--json", "audit")).length).toBe(seq);
  });

  it("a relative socket path is a path (not exit 3 for the form)", async () => {
    const sockDir = join(ROOT, "build", "mgmt", "test");
    mkdirSync(sockDir, { recursive: true });
    const rel = join("build", "mgmt", "test", `rel-${process.pid}.sock`);
    // a unix socket that forwards to the runner
    const srv = net.createServer((c) => {
      const up = net.connect(r.mgmtPort, "127.0.0.1");
      c.pipe(up).pipe(c);
      c.on("error", () => up.destroy());
      up.on("error", () => c.destroy());
    });
    await new Promise<void>((res) => srv.listen(join(ROOT, rel), () => res()));
    const cwd = process.cwd();
    try {
      process.chdir(ROOT);
      const out: string[] = [];
      expect(await main(["--mgmt", rel, "system", "info"], (s) => out.push(s), () => {})).toBe(0);
      expect(out.join("\n")).toMatch(/^name:\s+typevisor/);
      const err: string[] = [];
      expect(await main(["--mgmt", "build/none.sock", "port", "list"], () => {}, (s) => err.push(s))).toBe(3);
      expect(err.join("")).toContain("cannot open build/none.sock");
    } finally {
      process.chdir(cwd);
      srv.close();
    }
  });

  it("a missing subcommand shows the group's help as a usage error; help itself is exit 0", async () => {
    const g = await tv("port");
    expect(g.code).toBe(2);
    expect(g.err).toMatch(/^Usage: tvctl port/);
    expect((await tv()).code).toBe(2);
    expect((await tv("help")).code).toBe(0);
    expect((await tv("--help")).code).toBe(0);
    expect((await tv("port", "--help")).code).toBe(0);
  });

  it("an unknown option is named before a missing required one", async () => {
    const e = await tv("mirror", "add", "m9", "--bogus");
    expect(e.code).toBe(2);
    expect(e.err).toContain("unknown option '--bogus'");
    const d = await tv("mirror", "add", "m9");
    expect(d.code).toBe(2);
    expect(d.err).toContain("--dst PORT is required");
  });

  it("help per subcommand, with examples that name real options", async () => {
    const h = await tv("port", "set", "--help");
    expect(h.code).toBe(0);
    expect(h.out).toMatch(/^Usage: tvctl port set \[options\] <PORT>/);
    expect(h.out).toContain("--trunk-add <SET>");
    const g = await tv("port", "--help");
    expect(g.out).toContain("tvctl port set up0 --trunk 10,20,100-199 --native 10");
    const m = await tv("help", "mirror", "add");
    expect(m.out).toMatch(/^Usage: tvctl mirror add/);
  });
});

describe("commands", () => {
  it("port set is quiet on success; -v prints the port; --json prints port.set's result", async () => {
    expect(await ok("port", "set", "vm1", "--access", "10")).toBe("");
    expect(await ok("-v", "port", "set", "vm1", "--access", "10")).toMatch(/^name:\s+vm1\n/);
    const j = JSON.parse(await ok("--json", "port", "set", "vm1", "--access", "10"));
    expect(j).toEqual(JSON.parse(await ok("--json", "port", "show", "vm1")));
    expect(j.vlan).toEqual({ mode: "access", vlan: 10 });
  });

  it("--trunk-add / --trunk-del change one trunk's VLANs and keep its native VLAN", async () => {
    await ok("port", "set", "up0", "--trunk", "10,20,100-199", "--native", "10");
    await ok("port", "set", "tap0", "--trunk", "5", "--native", "none");
    expect(JSON.parse(await ok("--json", "port", "show", "tap0")).vlan.native).toBeNull();
    await ok("port", "set", "tap0", "--access", "1");
    await ok("port", "set", "up0", "--trunk-add", "30,31");
    let v = JSON.parse(await ok("--json", "port", "show", "up0")).vlan;
    expect(v).toEqual({ mode: "trunk", allowed: [10, 20, [30, 31], [100, 199]], native: 10, native_tagged: false });
    await ok("port", "set", "up0", "--trunk-del", "100-199,31");
    v = JSON.parse(await ok("--json", "port", "show", "up0")).vlan;
    expect(v.allowed).toEqual([10, 20, 30]);
    // on an access port: a clear error, nothing changed
    const e = await tv("port", "set", "vm1", "--trunk-add", "30");
    expect(e.code).toBe(2);
    expect(e.err).toContain("port vm1 is an access port");
    // removing the native VLAN: the server says why
    const n = await tv("port", "set", "up0", "--trunk-del", "10");
    expect(n.code).toBe(1);
    expect(n.err).toContain("vlan.native");
  });

  it("--mtu and storm control flags", async () => {
    await ok("port", "set", "vm2", "--mtu", "1400");
    expect(JSON.parse(await ok("--json", "port", "show", "vm2")).mtu).toBe(1400);
    expect((await tv("port", "set", "vm2", "--mtu", "9000")).code).toBe(2);
    await ok("qos", "set", "vm2", "--storm-broadcast", "100");
    await ok("qos", "set", "vm2", "--storm-multicast", "50");
    let q = JSON.parse(await ok("--json", "port", "show", "vm2")).qos;
    expect(q.storm).toEqual({ broadcast_pps: 100, multicast_pps: 50, unknown_unicast_pps: 0 });
    await ok("qos", "set", "vm2", "--storm-broadcast", "off", "--storm-multicast", "off");
    q = JSON.parse(await ok("--json", "port", "show", "vm2")).qos;
    expect(q.storm).toBeUndefined();
    await ok("qos", "set", "vm2", "--ingress", "1000:2000");
    await ok("qos", "set", "vm2", "--ingress", "off", "--egress", "off");
    expect(JSON.parse(await ok("--json", "port", "show", "vm2")).qos).toEqual({ ingress: null, egress: null });
    await ok("port", "set", "vm2", "--mtu", "1500");
  });

  it("fdb add / del of one static entry", async () => {
    await ok("fdb", "add", "02:00:00:00:00:99", "10", "vm1");
    expect(await ok("fdb", "show", "--vlan", "10")).toMatch(/^vm1\s+10\s+02:00:00:00:00:99\s+static/m);
    const bad = await tv("fdb", "add", "02:00:00:00:00:99", "10", "nope");
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("fdb.add: error 1 not found");
    expect((await tv("fdb", "add", "zz", "10", "vm1")).code).toBe(2);
    await ok("fdb", "del", "02:00:00:00:00:99", "10");
    expect(JSON.parse(await ok("--json", "fdb", "show"))).toEqual([]);
    expect((await tv("fdb", "del", "02:00:00:00:00:99", "10")).code).toBe(1);
  });

  it("stats PORT shows drops by reason", async () => {
    await ok("stats", "--reset");
    // vm1 is access 10: a tagged frame is a VLAN drop
    await r.inject("vm1", frame({ dst: "ff:ff:ff:ff:ff:ff", src: "02:00:00:00:00:01", vid: 77 }));
    let out = "";
    for (let i = 0; i < 100; i++) {
      out = await ok("stats", "vm1");
      if (/^vlan\s+1$/m.test(out)) break;
      await sleep(20);
    }
    expect(out).toMatch(/^vlan\s+1$/m);
    expect(out).toMatch(/^policer\s+0$/m);
    expect(await ok("stats")).toMatch(/^vm1\s+1\s+\d+\s+1\s+.*vlan 1$/m);
  });

  it("show lists system, ports, mirrors and VMs", async () => {
    await ok("mirror", "add", "m1", "--src", "vm1", "--dst", "tap0");
    const s = await ok("show");
    expect(s).toMatch(/^typevisor \S+ \(api 1\), virt none/);
    expect(s).toContain("    Port up0\n        kind: test\n        vlan: trunk 10,20,30 native 10");
    expect(s).toContain("    Mirror m1\n        select: vm1:both\n        output: tap0");
    await ok("mirror", "remove", "m1");
  });

  it("audit: uptime labelled, lines cut to the width (--wide keeps them)", async () => {
    await ok("call", "port.set", JSON.stringify({ port: "vm2", security: { max_macs: 0, allowed_macs: Array.from({ length: 20 }, (_, i) => `02:00:00:00:01:${(i + 16).toString(16)}`) } }));
    const a = await ok("audit");
    expect(a.split("\n")[0]).toMatch(/^SEQ\s+UPTIME\s+METHOD\s+RESULT\s+PARAMS$/);
    expect(Math.max(...a.split("\n").map((l) => l.length))).toBeLessThanOrEqual(100);
    expect(a).toMatch(/\.\.\.$/m);
    const w = await ok("audit", "--wide");
    expect(Math.max(...w.split("\n").map((l) => l.length))).toBeGreaterThan(300);
    await ok("security", "set", "vm2", "--allow-any");
  });
});

describe("config files", () => {
  it("a broken .json file is reported as JSON, with line and column; exit 2, nothing sent", async () => {
    const f = join(dir, "bad.json");
    writeFileSync(f, '{\n  "ports": [\n    { "name": "vm1", }\n  ]\n}\n');
    const e = await tv("config", "apply", f);
    expect(e.code).toBe(2);
    expect(e.err).toContain("invalid JSON");
    expect(e.err).not.toContain("YAML");
    expect(e.err).toMatch(/line 3 column 22/);
  });

  it("a YAML error is given whole: every line of it, with line and column", async () => {
    const f = join(dir, "bad.yaml");
    writeFileSync(f, "ports:\n  - name: vm1\n    vlan: {mode: access\n  - name: vm2\n");
    const e = await tv("config", "apply", f);
    expect(e.code).toBe(2);
    expect(e.err).toContain("invalid YAML");
    expect(e.err).toMatch(/at line 4, column 3/);
    expect(e.err).toContain("    vlan: {mode: access"); // the context lines, not just the first line
    expect(e.err).toContain("^");
  });

  it("stdin tries both and reports both errors", async () => {
    const tvctl = join(ROOT, "bin", "tvctl");
    const p = await spawnAsync(tvctl, ["--mgmt", r.mgmt, "config", "apply", "-"], { input: "ports: [\n" });
    expect(p.status).toBe(2);
    expect(p.stderr).toContain("stdin is neither JSON nor YAML");
    expect(p.stderr).toContain("as invalid JSON");
    expect(p.stderr).toContain("as invalid YAML");
    const good = await spawnAsync(tvctl, ["--mgmt", r.mgmt, "config", "apply", "-", "--dry-run"], { input: '{"ports":[{"name":"vm2","vlan":{"mode":"access","vlan":21}}]}' });
    expect(good.status).toBe(0);
    expect(good.stdout).toContain("port vm2: vlan access 1 -> access 21");
  });

  it("a .yaml file with JSON-like content is still parsed as YAML (YAML is a superset)", async () => {
    const f = join(dir, "ok.yml");
    writeFileSync(f, "fdb: { aging_s: 120 }\n");
    expect(await ok("config", "apply", f, "--dry-run")).toBe("would change (1):\n  fdb: aging_s 300 -> 120");
    // max_entries and static not listed: kept
    await ok("fdb", "config", "--max", "4000");
    await ok("config", "apply", f);
    expect(JSON.parse(await ok("--json", "fdb", "config"))).toEqual({ aging_s: 120, max_entries: 4000 });
  });
});

describe("rates", () => {
  const port = (name: string, rx: number, rxb: number, tx = 0, txb = 0): Port =>
    ({ name, stats: { rx_packets: rx, rx_bytes: rxb, rx_dropped: 0, tx_packets: tx, tx_bytes: txb, tx_dropped: 0 } }) as Port;

  it("pps and bps from counter deltas over the measured interval", () => {
    const rs = rates([port("a", 100, 10000, 5, 500)], [port("a", 350, 35000, 5, 500)], 500);
    expect(rs).toEqual([{ port: "a", rx_pps: 500, rx_bps: 400000, tx_pps: 0, tx_bps: 0, drop_pps: 0 }]);
    // counters reset in between: no negative rate
    expect(rates([port("a", 100, 10000)], [port("a", 3, 300)], 1000)[0].rx_pps).toBe(0);
  });

  it("stats --watch reports the rate frames are sent at (UDP harness)", async () => {
    await ok("stats", "--reset");
    const len = 100;
    const f = frame({ dst: "02:00:00:00:00:55", src: "02:00:00:00:00:56", len });
    // a steady 200 frames/s into vm2 for as long as the watch runs
    let sent = 0;
    let sending = true;
    const t0 = performance.now();
    const sender = (async () => {
      while (sending) {
        const due = Math.floor(((performance.now() - t0) / 1000) * 200);
        while (sent < due) {
          await r.inject("vm2", f);
          sent++;
        }
        await sleep(5);
      }
    })();
    const out: string[] = [];
    await sleep(300);
    const code = await main(["--mgmt", r.mgmt, "--json", "stats", "vm2", "--watch", "-i", "1", "--count", "3"], (s) => out.push(s), () => {});
    sending = false;
    await sender;
    expect(code).toBe(0);
    expect(out.length).toBe(3);
    for (const line of out) {
      const s = JSON.parse(line);
      expect(s.interval_ms).toBeGreaterThanOrEqual(900);
      const p = s.ports[0];
      expect(p.port).toBe("vm2");
      // near the rate sent (a loaded machine delays some frames into the next sample)
      expect(p.rx_pps).toBeGreaterThan(200 * 0.6);
      expect(p.rx_pps).toBeLessThan(200 * 1.4);
      // from the counters: pps times the measured interval is a whole number of frames
      const frames = (p.rx_pps * s.interval_ms) / 1000;
      expect(Math.abs(frames - Math.round(frames))).toBeLessThan(0.02);
      // every frame the same size: bits follow packets exactly
      expect(p.rx_bps).toBeCloseTo(p.rx_pps * len * 8, 6);
    }
    // the text form: one table per sample
    const text: string[] = [];
    expect(await main(["--mgmt", r.mgmt, "top", "-i", "1", "--count", "1"], (s) => text.push(s), () => {})).toBe(0);
    expect(text.join("\n")).toMatch(/^PORT\s+RX_PPS\s+RX_BPS\s+TX_PPS\s+TX_BPS\s+DROP_PPS$/m);
  });
});

describe("generated from the definitions", () => {
  it("bash completion completes subcommands and options", async () => {
    const script = await ok("completion", "bash");
    const f = join(dir, "c.bash");
    writeFileSync(f, script);
    const complete = (line: string) => {
      const words = line.split(" ");
      const sh = `source ${f}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _tvctl; echo "\${COMPREPLY[*]}"`;
      return spawnSync("bash", ["-c", sh], { encoding: "utf8" }).stdout.trim();
    };
    expect(complete("tvctl po")).toBe("port");
    expect(complete("tvctl port s")).toBe("show set");
    expect(complete("tvctl port set up0 --trunk-")).toBe("--trunk-add --trunk-del");
    expect(complete("tvctl --json fdb ")).toBe("show list add del remove flush config --help");
  });

  it("zsh completion and the man page name every command", async () => {
    const z = await ok("completion", "zsh");
    expect(z.startsWith("#compdef tvctl\n")).toBe(true);
    expect(z).toContain('("port set") next=(--access --trunk --trunk-add --trunk-del');
    const man = await ok("man");
    expect(man).toMatch(/^\.TH TVCTL 1 /);
    for (const c of ["port set", "fdb add", "stats", "top", "metrics", "vm show"]) expect(man).toContain(`.SS tvctl ${c}`);
    expect(man).toContain(".SH EXIT STATUS");
    expect((await tv("completion", "fish")).code).toBe(2);
    if (spawnSync("sh", ["-c", "command -v man"]).status === 0) {
      const f = join(dir, "tvctl.1");
      writeFileSync(f, man);
      const m = spawnSync("man", ["-l", f], { encoding: "utf8", env: { ...process.env, MANPAGER: "cat", MANWIDTH: "100" } });
      expect(m.stdout).toContain("--trunk-add");
    }
  });
});

describe("VM states of the protocol, halted included", () => {
  it("vm list, vm show and metrics show a halted VM as halted", async () => {
    // a stand-in monitor that answers vm.list with one halted guest (the hosted runner has no VMs)
    const vm = { name: "print-2", state: "halted", vcpus: 1, memory_mib: 1, ports: [], exits: { total: 12, hlt: 2, io: 10 } };
    const answers: Record<string, unknown> = {
      "vm.list": [vm],
      "system.info": { name: "typevisor", version: "0.1.0", api: 1, virt: "svm", cpus: 1, memory_mib: 255, uptime_ms: 5000 },
      "port.list": [],
      "fdb.list": [],
      "fdb.config": { aging_s: 300, max_entries: 8192 },
    };
    const srv = net.createServer((c) => {
      let buf = "";
      c.on("data", (d) => {
        buf += d;
        let i;
        while ((i = buf.indexOf("\n")) >= 0) {
          const req = JSON.parse(buf.slice(0, i));
          buf = buf.slice(i + 1);
          c.write(JSON.stringify({ jsonrpc: "2.0", id: req.id, result: answers[req.method] }) + "\n");
        }
      });
    });
    await new Promise<void>((res) => srv.listen(0, "127.0.0.1", () => res()));
    const mgmt = `tcp:127.0.0.1:${(srv.address() as net.AddressInfo).port}`;
    try {
      const out: string[] = [];
      expect(await main(["--mgmt", mgmt, "vm", "list"], (s) => out.push(s), () => {})).toBe(0);
      expect(out.join("\n")).toMatch(/^print-2\s+halted\s+1\s+1\s+-\s+12/m);
      out.length = 0;
      expect(await main(["--mgmt", mgmt, "vm", "show", "print-2"], (s) => out.push(s), () => {})).toBe(0);
      expect(out.join("\n")).toContain("state:      halted");
      expect(out.join("\n")).toContain("exits:      12 (hlt 2, io 10)");
      const { connect } = await import("../../src/mgmt-api/host/client");
      const { collect } = await import("../../src/mgmt-api/host/metrics");
      const c = await connect(mgmt);
      const text = await (await collect(c)).metrics();
      c.close();
      expect(text).toContain('typevisor_vm_state{vm="print-2",state="halted"} 1');
      expect(text).toContain('typevisor_vm_state{vm="print-2",state="running"} 0');
      expect(text).toContain('typevisor_vm_exits_total{vm="print-2",reason="io"} 10');
    } finally {
      srv.close();
    }
  });
});
