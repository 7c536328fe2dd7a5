// `tvctl metrics`: a Prometheus scrape of the hosted runner's counters agrees
// with port.get, drops come by reason, FDB size and typevisor_up are there.

import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "../../src/mgmt-api/host/client";
import { frame, ROOT, Runner, sleep, spawnAsync, startRunner } from "./helpers";

let r: Runner;

beforeAll(async () => {
  r = await startRunner(["p1", "p2", "p3"]);
});
afterAll(async () => {
  expect(await r?.stop()).toBe(0);
});

/** name{labels} value lines of a text exposition -> map */
function parseExposition(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

/** Starts `tvctl metrics --listen 127.0.0.1:0` and resolves with its URL once it listens. */
function startMetrics(mgmt: string): Promise<{ url: string; stop: () => Promise<number | null> }> {
  const p = spawn(join(ROOT, "bin", "tvctl"), ["--mgmt", mgmt, "metrics", "--listen", "127.0.0.1:0"], { cwd: ROOT });
  let err = "";
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`metrics did not start: ${err}`)), 60_000);
    p.stderr.on("data", (d) => {
      err += d;
      const m = /metrics on (http:\/\/\S+)/.exec(err);
      if (m) {
        clearTimeout(t);
        resolve({
          url: m[1],
          stop: () =>
            new Promise((res) => {
              p.once("exit", (code) => res(code));
              p.kill("SIGINT");
            }),
        });
      }
    });
    p.once("exit", (code) => reject(new Error(`tvctl metrics exited ${code}: ${err}`)));
  });
}

describe("tvctl metrics", () => {
  it("serves the port counters, drops by reason, FDB size and up, equal to port.get", async () => {
    const c = await connect(r.mgmt);
    await c.portSet("p2", { vlan: { mode: "access", vlan: 20 } });
    // learned: two MACs; a VLAN drop on p3 (access 1, tagged frame)
    await r.inject("p1", frame({ dst: "ff:ff:ff:ff:ff:ff", src: "02:00:00:00:00:a1", len: 90 }));
    await r.inject("p1", frame({ dst: "02:00:00:00:00:b2", src: "02:00:00:00:00:a1", len: 70 }));
    await r.inject("p2", frame({ dst: "ff:ff:ff:ff:ff:ff", src: "02:00:00:00:00:b2", len: 64 }));
    await r.inject("p3", frame({ dst: "ff:ff:ff:ff:ff:ff", src: "02:00:00:00:00:c3", vid: 9 }));
    for (let i = 0; i < 100 && (await c.portGet("p3")).stats.rx_packets < 1; i++) await sleep(20);
    const m = await startMetrics(r.mgmt);
    try {
      const res = await fetch(m.url);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toContain("text/plain");
      const text = await res.text();
      expect(text).toContain("# TYPE typevisor_port_rx_packets_total counter");
      const v = parseExposition(text);
      expect(v.get("typevisor_up")).toBe(1);
      for (const name of ["p1", "p2", "p3"]) {
        const p = await c.portGet(name);
        for (const k of ["rx_packets", "rx_bytes", "rx_dropped", "tx_packets", "tx_bytes", "tx_dropped"] as const) {
          expect(v.get(`typevisor_port_${k}_total{port="${name}"}`), `${name} ${k}`).toBe(p.stats[k]);
        }
        for (const [reason, n] of Object.entries(p.stats.drops!)) expect(v.get(`typevisor_port_drops_total{port="${name}",reason="${reason}"}`)).toBe(n);
      }
      expect(v.get('typevisor_port_rx_packets_total{port="p1"}')).toBe(2);
      expect(v.get('typevisor_port_rx_bytes_total{port="p1"}')).toBe(160);
      expect(v.get('typevisor_port_drops_total{port="p3",reason="vlan"}')).toBe(1);
      const fdb = await c.fdbList();
      expect(v.get('typevisor_fdb_entries{type="learned"}')).toBe(fdb.length);
      expect(fdb.length).toBe(2); // a1 on VLAN 1, b2 on VLAN 20; the dropped frame teaches nothing
      expect(v.get("typevisor_fdb_max_entries")).toBe(8192);
      // a second scrape sees new traffic
      await r.inject("p1", frame({ dst: "02:00:00:00:00:b2", src: "02:00:00:00:00:a1", len: 64 }));
      for (let i = 0; i < 100 && (await c.portGet("p1")).stats.rx_packets < 3; i++) await sleep(20);
      const v2 = parseExposition(await (await fetch(m.url)).text());
      expect(v2.get('typevisor_port_rx_packets_total{port="p1"}')).toBe(3);
      expect((await fetch(m.url.replace("/metrics", "/"))).status).toBe(404);
    } finally {
      expect(await m.stop()).toBe(0);
      c.close();
    }
  });

  it("reports typevisor_up 0 when the monitor does not answer", async () => {
    // a management address that accepts and never answers
    const net = await import("node:net");
    const silent = net.createServer(() => {});
    await new Promise<void>((res) => silent.listen(0, "127.0.0.1", () => res()));
    const port = (silent.address() as { port: number }).port;
    const m = await startMetrics(`tcp:127.0.0.1:${port}`);
    try {
      // the client's per-call timeout is 10 s by default: the scrape waits for it
      const text = await (await fetch(m.url)).text();
      expect(parseExposition(text).get("typevisor_up")).toBe(0);
    } finally {
      await m.stop();
      silent.close();
    }
  }, 60_000);
});

describe("tvctl metrics: errors", () => {
  it("a port already taken: exit 1 naming the address; a bad address: exit 2", async () => {
    const net = await import("node:net");
    const taken = net.createServer();
    await new Promise<void>((res) => taken.listen(0, "127.0.0.1", () => res()));
    const port = (taken.address() as { port: number }).port;
    try {
      const t = await spawnAsync(join(ROOT, "bin", "tvctl"), ["--mgmt", r.mgmt, "metrics", "--listen", `127.0.0.1:${port}`]);
      expect(t.status).toBe(1);
      expect(t.stderr).toContain(`tvctl: metrics: cannot listen on 127.0.0.1:${port}: listen EADDRINUSE`);
      const b = await spawnAsync(join(ROOT, "bin", "tvctl"), ["--mgmt", r.mgmt, "metrics", "--listen", "nowhere"]);
      expect(b.status).toBe(2);
      expect(b.stderr).toContain('--listen: want HOST:PORT, got "nowhere"');
    } finally {
      taken.close();
    }
  });
});

describe("hosted --metrics", () => {
  it("serves the same exposition from the runner itself", async () => {
    const h = await startRunner(["q1"], ["--metrics", "127.0.0.1:0"]);
    try {
      const line = h.stdout.find((l) => l.includes("metrics on"));
      expect(line).toMatch(/^hosted: metrics on http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      await h.inject("q1", frame({ dst: "ff:ff:ff:ff:ff:ff", src: "02:00:00:00:00:d4", len: 80 }));
      const c = await connect(h.mgmt);
      for (let i = 0; i < 100 && (await c.portGet("q1")).stats.rx_packets < 1; i++) await sleep(20);
      c.close();
      const v = parseExposition(await (await fetch(line!.split(" ").pop()!)).text());
      expect(v.get("typevisor_up")).toBe(1);
      expect(v.get('typevisor_port_rx_packets_total{port="q1"}')).toBe(1);
      expect(v.get('typevisor_port_rx_bytes_total{port="q1"}')).toBe(80);
    } finally {
      expect(await h.stop()).toBe(0);
    }
  });
});
