// The examples at the end of every `tvctl COMMAND --help` work: each is run as
// shown (through sh, tvctl on the PATH) against a hosted runner with the ports
// they name. The VM examples need a booted monitor: against the runner, which
// has no VMs, they must get as far as the server's "not found".

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXAMPLES, main } from "../../src/mgmt-api/host/tvctl";
import { ROOT, runLine, startHosted } from "../../scripts/lib/tvctl-doc";

let h: { mgmt: string; stop: () => Promise<void> };
const dir = mkdtempSync(join(tmpdir(), "tvctl-examples-"));

beforeAll(async () => {
  h = await startHosted();
  // EXAMPLES is filled as the commands are defined
  await main(["--help"], () => {}, () => {});
});
afterAll(async () => {
  await h?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("tvctl help examples", () => {
  it("every command group has examples, and they appear in its --help", async () => {
    const groups = Object.keys(EXAMPLES);
    expect(groups).toEqual(expect.arrayContaining(["tvctl port", "tvctl qos", "tvctl security", "tvctl mirror", "tvctl fdb", "tvctl stats", "tvctl config", "tvctl audit", "tvctl vm", "tvctl call", "tvctl metrics", "tvctl show", "tvctl top", "tvctl system"]));
    for (const g of groups) {
      const out: string[] = [];
      expect(await main([...g.split(" ").slice(1), "--help"], (s) => out.push(s), () => {})).toBe(0);
      for (const e of EXAMPLES[g]) expect(out.join("\n")).toContain(`  ${e}`);
    }
  });

  it("every example runs as shown", async () => {
    let ran = 0;
    for (const [group, list] of Object.entries(EXAMPLES)) {
      for (const e of list) {
        if (group === "tvctl metrics") continue; // serves until stopped: below
        const r = await runLine(e, dir, h.mgmt);
        if (group === "tvctl vm" && e !== "tvctl vm list") {
          expect(r.status, `${e}: ${r.output}`).toBe(1);
          expect(r.output).toMatch(/error 1 not found/);
        } else expect(r.status, `${e}: ${r.output}`).toBe(0);
        ran++;
      }
    }
    expect(ran).toBeGreaterThan(25);
  }, 240_000);

  it("the metrics example serves until interrupted", async () => {
    const [e] = EXAMPLES["tvctl metrics"];
    const p = spawn("sh", ["-c", `exec ${e}`], { cwd: dir, env: { ...process.env, PATH: `${join(ROOT, "bin")}:${process.env.PATH}`, TVCTL_MGMT: h.mgmt } });
    let err = "";
    p.stderr.on("data", (d) => (err += d));
    const exited = new Promise<number | null>((r) => p.once("exit", (c) => r(c)));
    for (let i = 0; i < 300 && !err.includes("metrics on"); i++) await new Promise((r) => setTimeout(r, 100));
    if (/EADDRINUSE/.test(err)) {
      // another program holds the port: the example parsed, tried, and says so with exit 1
      expect(err).toContain("tvctl: metrics: cannot listen on 127.0.0.1:9400: listen EADDRINUSE");
      return expect(await exited).toBe(1);
    }
    expect(err).toContain("tvctl: metrics on http://127.0.0.1:9400/metrics");
    const text = await (await fetch("http://127.0.0.1:9400/metrics")).text();
    expect(text).toContain("typevisor_up 1");
    p.kill("SIGINT");
    expect(await exited).toBe(0);
  }, 60_000);
});
