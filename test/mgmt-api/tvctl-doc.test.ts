// docs/TVCTL.md runs as shown: every `$ ` line of the page is run again, in
// order, against a fresh hosted runner, and prints what the page says (up to
// uptimes and host sizes) with the exit status the page says.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DOC, normalize, parseDoc, runLine, runnable, startHosted } from "../../scripts/lib/tvctl-doc";

let h: { mgmt: string; stop: () => Promise<void> };
const dir = mkdtempSync(join(tmpdir(), "tvctl-doc-test-"));

beforeAll(async () => {
  h = await startHosted();
});
afterAll(async () => {
  await h?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("docs/TVCTL.md", () => {
  const steps = parseDoc(readFileSync(DOC, "utf8"));

  it("has a session to check (and only the metrics example is not run)", () => {
    expect(steps.length).toBeGreaterThan(30);
    expect(steps.filter((s) => !runnable(s.cmd)).map((s) => s.cmd)).toEqual([
      "tvctl metrics --listen 127.0.0.1:9400 &",
      `curl -s 127.0.0.1:9400/metrics | grep 'port="vm1"'`,
    ]);
  });

  it("every command prints what the page shows, with its exit status", async () => {
    let checked = 0;
    for (const s of steps.filter((x) => runnable(x.cmd))) {
      const got = await runLine(s.cmd, dir, h.mgmt);
      expect(`${s.cmd} -> ${got.status}`).toBe(`${s.cmd} -> ${s.status}`);
      expect(normalize(got.output).trimEnd(), s.cmd).toBe(normalize(s.output).trimEnd());
      checked++;
    }
    expect(checked).toBeGreaterThan(30);
  }, 300_000);
});

describe("normalize", () => {
  it("hides only what changes from run to run", () => {
    expect(normalize("uptime:      1.1s")).toBe(normalize("uptime:      12.7s"));
    expect(normalize("13   8.5s    mirror.add")).toBe(normalize("13   1m02s   mirror.add"));
    expect(normalize("vlan: access 10")).not.toBe(normalize("vlan: access 20"));
    expect(normalize("rx: 3 packets")).not.toBe(normalize("rx: 4 packets"));
  });
});
