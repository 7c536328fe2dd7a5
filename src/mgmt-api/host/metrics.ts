// `tvctl metrics --listen HOST:PORT`: Prometheus text exposition of the
// switch and VM counters, read from the management API at each scrape.

import http from "node:http";
import type { Counter, Gauge, Registry } from "prom-client";
import type { Client } from "./client";

const VM_STATES = ["created", "running", "paused", "halted", "stopped"];

export interface MetricsServer {
  address: string;
  close(): Promise<void>;
}

/** The metrics of one scrape, in a fresh registry (a port or VM that went away leaves no stale series). */
export async function collect(c: Client): Promise<Registry> {
  // loaded here, not at the top: every other tvctl command starts without it
  const prom = await import("prom-client");
  const [info, ports, fdb, fdbCfg, vms] = await Promise.all([c.systemInfo(), c.portList(), c.fdbList(), c.fdbConfig(), c.vmList()]);
  const reg = new prom.Registry();
  const counter = (name: string, help: string, labelNames: string[] = []): Counter => new prom.Counter({ name, help, labelNames, registers: [reg] });
  const gauge = (name: string, help: string, labelNames: string[] = []): Gauge => new prom.Gauge({ name, help, labelNames, registers: [reg] });

  gauge("typevisor_up", "1 when the management API answered this scrape").set(1);
  gauge("typevisor_uptime_seconds", "monitor uptime").set(info.uptime_ms / 1000);
  gauge("typevisor_info", "monitor facts as labels", ["version", "virt"]).set({ version: info.version, virt: info.virt }, 1);
  const rxp = counter("typevisor_port_rx_packets_total", "frames received from the port", ["port"]);
  const rxb = counter("typevisor_port_rx_bytes_total", "bytes received from the port", ["port"]);
  const rxd = counter("typevisor_port_rx_dropped_total", "frames from the port dropped", ["port"]);
  const txp = counter("typevisor_port_tx_packets_total", "frames sent to the port", ["port"]);
  const txb = counter("typevisor_port_tx_bytes_total", "bytes sent to the port", ["port"]);
  const txd = counter("typevisor_port_tx_dropped_total", "frames to the port dropped", ["port"]);
  const drops = counter("typevisor_port_drops_total", "dropped frames by reason", ["port", "reason"]);
  for (const p of ports) {
    const l = { port: p.name };
    rxp.inc(l, p.stats.rx_packets);
    rxb.inc(l, p.stats.rx_bytes);
    rxd.inc(l, p.stats.rx_dropped);
    txp.inc(l, p.stats.tx_packets);
    txb.inc(l, p.stats.tx_bytes);
    txd.inc(l, p.stats.tx_dropped);
    for (const [reason, n] of Object.entries(p.stats.drops ?? {})) drops.inc({ port: p.name, reason }, n);
  }
  gauge("typevisor_fdb_entries", "entries in the forwarding database", ["type"]).set({ type: "learned" }, fdb.filter((e) => !e.static).length);
  (reg.getSingleMetric("typevisor_fdb_entries") as Gauge).set({ type: "static" }, fdb.filter((e) => e.static).length);
  gauge("typevisor_fdb_max_entries", "size of the forwarding database").set(fdbCfg.max_entries);
  const state = gauge("typevisor_vm_state", "1 for the VM's current state", ["vm", "state"]);
  const exits = counter("typevisor_vm_exits_total", "VM exits by reason", ["vm", "reason"]);
  for (const v of vms) {
    for (const s of VM_STATES) state.set({ vm: v.name, state: s }, v.state === s ? 1 : 0);
    for (const [reason, n] of Object.entries(v.exits)) if (reason !== "total") exits.inc({ vm: v.name, reason }, n);
  }
  return reg;
}

export async function serveMetrics(c: Client, host: string, port: number): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("see /metrics\n");
      return;
    }
    collect(c).then(
      async (reg) => {
        res.writeHead(200, { "content-type": reg.contentType }).end(await reg.metrics());
      },
      (e: Error) => {
        // the monitor did not answer: say so, as typevisor_up 0
        res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
        res.end(`# ${e.message.replace(/\n/g, " ")}\n# TYPE typevisor_up gauge\ntypevisor_up 0\n`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const a = server.address();
  const address = typeof a === "string" ? a : `${a!.family === "IPv6" ? `[${a!.address}]` : a!.address}:${a!.port}`;
  return { address, close: () => new Promise((r) => server.close(() => r())) };
}
