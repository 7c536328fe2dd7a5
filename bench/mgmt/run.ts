// Management server cost per request, in-process (the hosted wasm in Node):
// reads, writes, config documents and rejected lines, in batches of lines.
//   npm run bench -- mgmt

import { loadHosted } from "../../src/mgmt-api/host/wasm";

const h = await loadHosted();
const PORTS = ["up0", "vm1", "vm2", "vm3", "vm4", "vm5", "vm6", "vm7"];
for (const p of PORTS) h.addTestPort(p);
const enc = (o: unknown) => JSON.stringify(o);

const cases: Array<[string, (i: number) => string]> = [
  ["system.info", (i) => enc({ jsonrpc: "2.0", id: i, method: "system.info" })],
  ["port.get", (i) => enc({ jsonrpc: "2.0", id: i, method: "port.get", params: { port: "vm1" } })],
  ["port.set (access)", (i) => enc({ jsonrpc: "2.0", id: i, method: "port.set", params: { port: "vm1", vlan: { mode: "access", vlan: 10 + (i & 7) } } })],
  ["port.set (trunk + qos)", (i) => enc({ jsonrpc: "2.0", id: i, method: "port.set", params: { port: "up0", vlan: { mode: "trunk", allowed: [10, 20, [100, 199]], native: 10 }, qos: { ingress: { rate_kbps: 10000 + i, burst_bytes: 15000 } } } })],
  ["port.list (8 ports)", (i) => enc({ jsonrpc: "2.0", id: i, method: "port.list" })],
  ["config.get", (i) => enc({ jsonrpc: "2.0", id: i, method: "config.get" })],
  ["config.apply dry_run (8 ports)", (i) => enc({ jsonrpc: "2.0", id: i, method: "config.apply", params: { dry_run: true, config: { ports: PORTS.map((name, k) => ({ name, vlan: { mode: "access", vlan: 1 + ((i + k) & 15) } })) } } })],
  ["invalid params (-32602)", (i) => enc({ jsonrpc: "2.0", id: i, method: "port.set", params: { port: "vm1", vlan: { mode: "access", vlan: 5000 } } })],
  ["garbage line (-32700)", () => "not json at all, just some bytes here"],
];

const N = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 20000);
console.log(`mgmt server, in-process (Node ${process.version}), ${N} requests per case, 100 per feed`);
console.log("case".padEnd(34) + "ns/request".padStart(12) + "requests/s".padStart(12) + "  bytes in/out");
for (const [name, make] of cases) {
  const batches: Buffer[] = [];
  for (let b = 0; b < N / 100; b++) {
    let s = "";
    for (let i = 0; i < 100; i++) s += make(b * 100 + i) + "\n";
    batches.push(Buffer.from(s));
  }
  // warm up, then measure
  for (let b = 0; b < Math.min(20, batches.length); b++) h.feed(batches[b]);
  let out = 0;
  const t0 = process.hrtime.bigint();
  for (const b of batches) out += h.feed(b).length;
  const ns = Number(process.hrtime.bigint() - t0) / N;
  const inBytes = batches.reduce((n, b) => n + b.length, 0) / N;
  console.log(name.padEnd(34) + ns.toFixed(0).padStart(12) + Math.round(1e9 / ns).toString().padStart(12) + `  ${inBytes.toFixed(0)}/${(out / N).toFixed(0)}`);
}
