// tvctl: the Typevisor management command (in the habits of ovs-vsctl, bridge(8)
// and virsh). Talks the protocol of docs/PROTOCOL.md over TCP, a unix socket or
// a serial device. Every command, option and example is defined once here; help,
// shell completion and the man page are generated from these definitions.

import pkg from "../../../package.json" with { type: "json" };
import { closeSync, openSync, writeSync } from "node:fs";
import {
  Client,
  connect,
  MirrorSrc,
  Port,
  Qos,
  Rate,
  RpcError,
  Security,
  Storm,
  TransportError,
  VlanConfig,
  VlanSet,
  Vm,
} from "./client";
import { Command, CliIo, Option, commandPath, finishProgram, intParser, parser, parseIntIn, runProgram, setupProgram, UsageError, usageIn } from "./cli";
import { readConfigFile, toYaml } from "./config-file";
import { EXIT } from "./exit-codes";
import { bashCompletion, manPage, zshCompletion } from "./gen-docs";
import { serveMetrics } from "./metrics";

/** pcap global header (little-endian, microsecond timestamps, Ethernet, snaplen 65535). */
function pcapHeader(): Buffer {
  const b = Buffer.alloc(24);
  b.writeUInt32LE(0xa1b2c3d4, 0);
  b.writeUInt16LE(2, 4);
  b.writeUInt16LE(4, 6);
  b.writeUInt32LE(65535, 16);
  b.writeUInt32LE(1, 20); // LINKTYPE_ETHERNET
  return b;
}

/** One pcap record; the time is when the frame reached tvctl (the monitor keeps no per-frame time). */
function pcapRecord(ms: number, frame: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt32LE(Math.floor(ms / 1000), 0);
  h.writeUInt32LE((ms % 1000) * 1000, 4);
  h.writeUInt32LE(frame.length, 8);
  h.writeUInt32LE(frame.length, 12);
  return Buffer.concat([h, frame]);
}

/**
 * `vm console NAME --follow`: new lines every 200 ms (vm.console since the last seq); stdin in raw mode,
 * each chunk typed goes to vm.console_write (at most 4096 bytes a call); Ctrl-] (0x1d) or end of input leaves.
 */
async function followConsole(ctx: Ctx, c: Awaited<ReturnType<Ctx["client"]>>, name: string, seq: number): Promise<void> {
  const stdin = process.stdin;
  let stop = false;
  let pending: Promise<unknown> = Promise.resolve();
  const raw = stdin.isTTY ? (stdin.setRawMode(true), true) : false;
  if (raw) ctx.err("[connected to " + name + "; Ctrl-] leaves]");
  const onData = (d: Buffer) => {
    const at = d.indexOf(0x1d);
    const part = at >= 0 ? d.subarray(0, at) : d;
    if (part.length > 0) {
      const text = part.toString("latin1").replace(/\r/g, "\n");
      for (let i = 0; i < text.length; i += 4096) {
        const chunk = text.slice(i, i + 4096);
        pending = pending.then(() => c.call("vm.console_write", { name, data: chunk }));
      }
    }
    if (at >= 0) stop = true;
  };
  stdin.on("data", onData);
  stdin.on("end", () => (stop = true));
  try {
    while (!stop) {
      const r = (await c.call("vm.console", { name, since: seq })) as { seq: number; lines: string[] };
      for (const l of r.lines) ctx.out(l);
      seq = r.seq;
      await new Promise((res) => setTimeout(res, 200));
    }
    await pending;
  } finally {
    stdin.off("data", onData);
    if (raw) stdin.setRawMode(false);
    stdin.pause();
  }
}

export { readConfigFile, toYaml } from "./config-file";

export const DEFAULT_MGMT = "tcp:127.0.0.1:7000";

/** The command could not do its work for a reason outside the protocol (e.g. a port to listen on is taken): exit 1. */
class Failed extends Error {}
export const VERSION: string = pkg.version;

// ---------------------------------------------------------------- values

function vlanId(s: string, what: string): number {
  return parseIntIn(s, what, 1, 4094);
}

/** "10,20,100-199" -> [10, 20, [100, 199]]; a range must not run backwards. */
export function parseVlanSet(s: string, what = "VLAN set"): VlanSet {
  const out: VlanSet = [];
  for (const part of s.split(",")) {
    const p = part.trim();
    if (p === "") throw new UsageError(`${what}: empty element in "${s}"`);
    const m = /^(\d+)-(\d+)$/.exec(p);
    if (m) {
      const lo = vlanId(m[1], what);
      const hi = vlanId(m[2], what);
      if (lo > hi) throw new UsageError(`${what}: range ${p} runs backwards (write ${hi}-${lo})`);
      out.push([lo, hi]);
    } else out.push(vlanId(p, what));
  }
  return out;
}

/** [10, [100,199]] -> "10,100-199" */
export function formatVlanSet(v: VlanSet | undefined): string {
  if (!v || v.length === 0) return "-";
  return v.map((x) => (Array.isArray(x) ? `${x[0]}-${x[1]}` : String(x))).join(",");
}

function vlanIds(v: VlanSet): Set<number> {
  const ids = new Set<number>();
  for (const x of v) {
    if (Array.isArray(x)) for (let i = x[0]; i <= x[1]; i++) ids.add(i);
    else ids.add(x);
  }
  return ids;
}

/** A set of ids back to the protocol's form: sorted, runs merged into ranges. */
function toVlanSet(ids: Set<number>): VlanSet {
  const sorted = [...ids].sort((a, b) => a - b);
  const out: VlanSet = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    out.push(i === j ? sorted[i] : [sorted[i], sorted[j]]);
    i = j + 1;
  }
  return out;
}

/** "10000:15000" -> rate; "off" -> null */
function parseRate(s: string, what: string): Rate | null {
  if (s === "off" || s === "none") return null;
  const m = /^(\d+):(\d+)$/.exec(s);
  if (!m) throw new UsageError(`${what}: want RATE_KBPS:BURST_BYTES or off, got "${s}"`);
  return { rate_kbps: Number(m[1]), burst_bytes: Number(m[2]) };
}

function parsePps(s: string, what: string): number {
  return s === "off" ? 0 : parseIntIn(s, what, 0, 100_000_000);
}

function parseMac(s: string, what: string): string {
  if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(s)) throw new UsageError(`${what}: "${s}" is not a MAC address like 02:00:00:00:00:01`);
  return s.toLowerCase();
}

function formatRate(r: Rate | null | undefined): string {
  return r ? `${r.rate_kbps}kbps/${r.burst_bytes}B` : "-";
}

function formatStorm(s: Storm | undefined): string {
  if (!s) return "off";
  const parts = [["broadcast", s.broadcast_pps], ["multicast", s.multicast_pps], ["unknown-unicast", s.unknown_unicast_pps]] as const;
  return parts.filter(([, v]) => v > 0).map(([n, v]) => `${n} ${v}pps`).join(", ") || "off";
}

function formatVlan(v: VlanConfig): string {
  if (v.mode === "access") return `access ${v.vlan}`;
  let s = `trunk ${formatVlanSet(v.allowed)}`;
  if (v.native !== null && v.native !== undefined) s += ` native ${v.native}${v.native_tagged ? " tagged" : ""}`;
  return s;
}

/** 3723.4 s -> "1h02m03s" */
export function formatUptime(ms: number): string {
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, "0")}m${String(sec).padStart(2, "0")}s`;
  if (m > 0) return `${m}m${String(sec).padStart(2, "0")}s`;
  return `${(ms / 1000).toFixed(1)}s`;
}

/** 1234567 -> "1.23M" (packets or bits per second) */
export function formatRateUnit(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(2)}k`;
  return n.toFixed(n >= 100 || n === 0 ? 0 : 1);
}

/** s, cut to n characters ending in "..." when longer. */
function cut(s: string, n: number): string {
  return s.length <= n ? s : s.slice(0, n - 3) + "...";
}

/**
 * A plain text table: columns padded to the widest cell. With `width`, the
 * last column is cut (ending in "...") so that no line is wider.
 */
export function table(head: string[], rows: Array<Array<string | number>>, width?: number): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const w = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  return cells
    .map((r) => {
      let line = r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]))).join("  ").trimEnd();
      if (width !== undefined && line.length > width) line = line.slice(0, Math.max(0, width - 3)) + "...";
      return line;
    })
    .join("\n");
}

// ---------------------------------------------------------------- context

interface Ctx {
  json: boolean;
  verbose: boolean;
  out: (s: string) => void;
  err: (s: string) => void;
  client: () => Promise<Client>;
  /** line width for tables that could run long */
  width: number;
  /** a promise that resolves when the user interrupts (Ctrl-C) a long-running command */
  interrupted: Promise<void>;
}

function printJson(ctx: Ctx, v: unknown): void {
  ctx.out(JSON.stringify(v, null, 2));
}

/** Quiet success (as ovs-vsctl): the result as JSON with --json, the detail with -v, else nothing. */
function done(ctx: Ctx, result: unknown, detail: () => string): void {
  if (ctx.json) printJson(ctx, result);
  else if (ctx.verbose) ctx.out(detail());
}

function portRows(ports: Port[]): string {
  return table(
    ["NAME", "KIND", "VLAN", "MTU", "INGRESS", "EGRESS", "MAX_MACS", "RX_PKTS", "RX_DROP", "TX_PKTS", "TX_DROP"],
    ports.map((p) => [
      p.name + (p.mirror_dst ? "*" : ""),
      p.kind,
      formatVlan(p.vlan),
      p.mtu ?? 1500,
      formatRate(p.qos.ingress),
      formatRate(p.qos.egress),
      p.security.max_macs || "-",
      p.stats.rx_packets,
      p.stats.rx_dropped,
      p.stats.tx_packets,
      p.stats.tx_dropped,
    ]),
  );
}

function dropsLine(p: Port): string {
  const d = p.stats.drops;
  if (!d) return "-";
  const nz = Object.entries(d).filter(([, v]) => v > 0);
  return nz.length ? nz.map(([k, v]) => `${k} ${v}`).join(", ") : "none";
}

function portDetail(p: Port): string {
  return [
    `name:          ${p.name}`,
    `kind:          ${p.kind}`,
    `mac:           ${p.mac ?? "-"}`,
    `vlan:          ${formatVlan(p.vlan)}`,
    `mtu:           ${p.mtu ?? 1500}`,
    `qos ingress:   ${formatRate(p.qos.ingress)}`,
    `qos egress:    ${formatRate(p.qos.egress)}`,
    `storm control: ${formatStorm(p.qos.storm)}`,
    `max macs:      ${p.security.max_macs || "no limit"}`,
    `allowed macs:  ${p.security.allowed_macs.length ? p.security.allowed_macs.join(", ") : "any"}`,
    `mirror dst:    ${p.mirror_dst ? "yes" : "no"}`,
    `rx:            ${p.stats.rx_packets} packets, ${p.stats.rx_bytes} bytes, ${p.stats.rx_dropped} dropped`,
    `tx:            ${p.stats.tx_packets} packets, ${p.stats.tx_bytes} bytes, ${p.stats.tx_dropped} dropped`,
    `drops:         ${dropsLine(p)}`,
  ].join("\n");
}

function vmDetail(v: Vm): string {
  const exits = Object.entries(v.exits)
    .filter(([k]) => k !== "total")
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
  return [
    `name:       ${v.name}`,
    `state:      ${v.state}${v.reason ? ` (${v.reason})` : ""}`,
    `vcpus:      ${v.vcpus}`,
    `memory:     ${v.memory_mib} MiB`,
    `ports:      ${v.ports.join(", ") || "-"}`,
    `exits:      ${v.exits.total}${exits ? ` (${exits})` : ""}`,
  ].join("\n");
}

// ---------------------------------------------------------------- definitions

/** Per-command examples: shown in --help and run by test/mgmt-api/tvctl-examples.test.ts. */
export const EXAMPLES: Record<string, string[]> = {};

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

function examples(cmd: Command, list: string[]): Command {
  EXAMPLES[commandPath(cmd)] = list;
  return cmd.addHelpText("after", "\nExamples:\n" + list.map((e) => `  ${e}`).join("\n"));
}

/** Builds the command tree; `run` gets the context for each action. */
export function buildProgram(io: CliIo, makeCtx: (cmd: Command) => Ctx, helpWidth = 100): Command {
  const program = setupProgram(new Command("tvctl"), io);
  program.configureHelp({ helpWidth });
  program
    .description("Manages a Typevisor monitor (or the hosted runner) over its management channel.")
    .version(`tvctl ${VERSION} (management protocol 1)`, "-V, --version", "print the version")
    .option("--mgmt <ADDR>", `tcp:HOST:PORT, unix:PATH, or the path of a socket or serial device (default: $TVCTL_MGMT or ${DEFAULT_MGMT})`)
    .option("--json", "print the method's result as JSON (for scripts)")
    .option("-v, --verbose", "print details after a change (default: quiet on success)")
    .option("--timeout <MS>", "per-call timeout in milliseconds (default 10000)", intParser("--timeout", 1, 3_600_000))
    .helpCommand("help [COMMAND...]", "help for a command");

  const act =
    <A extends unknown[]>(f: (ctx: Ctx, cmd: Command, ...a: A) => Promise<void>) =>
    async (...a: unknown[]) => {
      const cmd = a[a.length - 1] as Command;
      await f(makeCtx(cmd), cmd, ...(a.slice(0, -1) as A));
    };

  // ---- system
  const system = program.command("system").description("the monitor: version, virtualization, CPUs, memory, uptime");
  system
    .command("info")
    .description("system.info: name, version, API version, virtualization, CPUs, memory, uptime")
    .action(
      act(async (ctx) => {
        const s = await (await ctx.client()).systemInfo();
        if (ctx.json) return printJson(ctx, s);
        ctx.out(
          [
            `name:        ${s.name}`,
            `version:     ${s.version} (api ${s.api})`,
            `virt:        ${s.virt}`,
            `cpus:        ${s.cpus}`,
            `memory:      ${s.memory_mib} MiB`,
            `uptime:      ${formatUptime(s.uptime_ms)}`,
          ].join("\n"),
        );
      }),
    );
  system
    .command("memory")
    .description("system.memory: the monitor's heap size and garbage collections")
    .action(
      act(async (ctx) => {
        const m = await (await ctx.client()).call<{ heap_bytes: number; collections: number }>("system.memory");
        if (ctx.json) return printJson(ctx, m);
        ctx.out([`heap:        ${(m.heap_bytes / 1024).toFixed(0)} KiB`, `collections: ${m.collections}`].join("\n"));
      }),
    );
  examples(system, ["tvctl system info", "tvctl --json system memory"]);

  // ---- show
  examples(
    program
      .command("show")
      .description("everything at a glance, as ovs-vsctl show: system, ports, mirrors, FDB settings, VMs")
      .action(act(async (ctx) => cmdShow(ctx))),
    ["tvctl show"],
  );

  // ---- port
  const port = program.command("port").description("switch ports: VLANs, MTU, counters");
  port
    .command("list")
    .description("every port, one line each (* marks a mirror destination)")
    .action(
      act(async (ctx) => {
        const ports = await (await ctx.client()).portList();
        ctx.json ? printJson(ctx, ports) : ctx.out(portRows(ports));
      }),
    );
  port
    .command("show")
    .argument("<PORT>", "port name")
    .description("one port in detail, with drops by reason")
    .action(
      act(async (ctx, _cmd, name: string) => {
        const p = await (await ctx.client()).portGet(name);
        ctx.json ? printJson(ctx, p) : ctx.out(portDetail(p));
      }),
    );
  const vlanSetOpt = (flag: string) => parser((s) => parseVlanSet(s, flag));
  port
    .command("set")
    .argument("<PORT>", "port name")
    .description("changes a port's VLAN membership or MTU (settings not given are kept)")
    .addOption(new Option("--access <VLAN>", "untagged port in VLAN (1-4094)").argParser(intParser("--access", 1, 4094)).conflicts(["trunk", "trunkAdd", "trunkDel"]))
    .addOption(new Option("--trunk <SET>", "tagged port carrying SET, like 10,20,100-199").argParser(vlanSetOpt("--trunk")).conflicts(["trunkAdd", "trunkDel"]))
    .option("--trunk-add <SET>", "add VLANs to a trunk port's allowed set (as bridge vlan add)", vlanSetOpt("--trunk-add"))
    .option("--trunk-del <SET>", "remove VLANs from a trunk port's allowed set", vlanSetOpt("--trunk-del"))
    .option("--native <VLAN|none>", "VLAN for untagged frames on a trunk (must be allowed); none: drop them", parser((s) => (s === "none" ? "none" : vlanId(s, "--native"))))
    .option("--native-tagged", "send the native VLAN tagged too")
    .option("--no-native-tagged", "send the native VLAN untagged")
    .option("--mtu <BYTES>", "largest payload accepted (46-1990; default 1500)", intParser("--mtu", 46, 1990))
    .action(act(cmdPortSet));
  examples(port, [
    "tvctl port list",
    "tvctl port set vm1 --access 10",
    "tvctl port set up0 --trunk 10,20,100-199 --native 10",
    "tvctl port set up0 --trunk-add 30",
    "tvctl port set up0 --trunk-del 100-199",
    "tvctl port set vm2 --mtu 1400",
    "tvctl port show up0",
  ]);

  // ---- qos
  const qos = program.command("qos").description("rate limits: ingress policer, egress shaper, storm control");
  // commander turns a parsed null into "": "off" stays a string here and becomes null in cmdQosSet
  const rateOpt = (flag: string) => parser((s) => parseRate(s, flag) ?? "off");
  const ppsOpt = (flag: string) => parser((s) => parsePps(s, flag));
  qos
    .command("set")
    .argument("<PORT>", "port name")
    .description("sets a port's limits; a limit not given keeps its setting")
    .option("--ingress <RATE:BURST|off>", "policer on frames from the port: kbit/s and bucket bytes", rateOpt("--ingress"))
    .option("--egress <RATE:BURST|off>", "shaper on frames to the port: kbit/s and bucket bytes", rateOpt("--egress"))
    .option("--storm-broadcast <PPS|off>", "storm control: most broadcast frames per second from the port", ppsOpt("--storm-broadcast"))
    .option("--storm-multicast <PPS|off>", "storm control: most multicast frames per second", ppsOpt("--storm-multicast"))
    .option("--storm-unknown-unicast <PPS|off>", "storm control: most unknown-unicast (flooded) frames per second", ppsOpt("--storm-unknown-unicast"))
    .action(act(cmdQosSet));
  examples(qos, ["tvctl qos set vm1 --ingress 10000:15000 --egress off", "tvctl qos set vm1 --storm-broadcast 100 --storm-multicast off"]);

  // ---- security
  const security = program.command("security").description("port security: learned-MAC limit, allowed source MACs");
  security
    .command("set")
    .argument("<PORT>", "port name")
    .description("sets port security; settings not given keep their values")
    .option("--max-macs <N>", "most learned source MACs (0 = no limit)", intParser("--max-macs", 0, 1048576))
    .option("--allow <MAC[,MAC...]>", "admit only these source MACs (repeatable)", collect)
    .addOption(new Option("--allow-any", "clear the allowed list (admit any source MAC)").conflicts("allow"))
    .action(act(cmdSecuritySet));
  examples(security, ["tvctl security set vm1 --max-macs 4", "tvctl security set vm1 --allow 02:00:00:00:00:01", "tvctl security set vm1 --allow-any --max-macs 0"]);

  // ---- mirror
  const mirror = program.command("mirror").description("port mirroring (SPAN)");
  mirror
    .command("list")
    .description("the mirrors with their counters")
    .action(
      act(async (ctx) => {
        const ms = await (await ctx.client()).mirrorList();
        if (ctx.json) return printJson(ctx, ms);
        ctx.out(
          table(
            ["NAME", "SOURCES", "SRC_VLANS", "DST", "PACKETS", "BYTES"],
            ms.map((m) => [m.name, m.src_ports.map((s) => `${s.port}:${s.dir}`).join(",") || "-", formatVlanSet(m.src_vlans), m.dst_port, m.stats?.packets ?? 0, m.stats?.bytes ?? 0]),
          ),
        );
      }),
    );
  mirror
    .command("add")
    .argument("<NAME>", "mirror name")
    .description("copies frames selected by port or VLAN to a destination port, which then carries nothing else")
    .option("--src <PORT[:rx|tx|both]>", "a source port and direction (default both; repeatable)", collect)
    .option("--src-vlan <SET>", "source VLANs (repeatable)", collect)
    .option("--dst <PORT>", "the destination port (required)")
    .action(
      act(async (ctx, cmd, name: string) => {
        const o = cmd.opts<{ src?: string[]; srcVlan?: string[]; dst?: string }>();
        // checked here rather than as a commander required option, whose check would come before an unknown option is named
        if (!o.dst) throw usageIn(cmd, "--dst PORT is required");
        const src_ports: MirrorSrc[] = (o.src ?? []).flatMap((s) =>
          s.split(",").map((x) => {
            const [p, dir = "both", extra] = x.split(":");
            if (!p || extra !== undefined || !["rx", "tx", "both"].includes(dir)) throw usageIn(cmd, `--src: want PORT[:rx|tx|both], got "${x}"`);
            return { port: p, dir: dir as MirrorSrc["dir"] };
          }),
        );
        const src_vlans = (o.srcVlan ?? []).flatMap((s) => {
          try {
            return parseVlanSet(s, "--src-vlan");
          } catch (e) {
            throw usageIn(cmd, (e as Error).message);
          }
        });
        const m = await (await ctx.client()).mirrorAdd({ name, src_ports, src_vlans, dst_port: o.dst! });
        done(ctx, m, () => `mirror ${m.name} added`);
      }),
    );
  mirror
    .command("remove")
    .alias("del")
    .argument("<NAME>", "mirror name")
    .description("removes a mirror")
    .action(
      act(async (ctx, _cmd, name: string) => {
        const r = await (await ctx.client()).mirrorRemove(name);
        done(ctx, r, () => `mirror ${name} removed`);
      }),
    );
  examples(mirror, ["tvctl mirror add m1 --src vm1:both --src-vlan 10 --dst tap0", "tvctl mirror list", "tvctl mirror remove m1"]);

  // ---- fdb
  const fdb = program.command("fdb").description("the forwarding database: learned and static MACs");
  const filterOpts = (c: Command) =>
    c.option("--vlan <VLAN>", "only this VLAN", intParser("--vlan", 1, 4094)).option("--port <PORT>", "only this port");
  filterOpts(fdb.command("show").alias("list").description("the entries, learned and static")).action(
    act(async (ctx, cmd) => {
      const es = await (await ctx.client()).fdbList(cmd.opts());
      if (ctx.json) return printJson(ctx, es);
      ctx.out(table(["PORT", "VLAN", "MAC", "TYPE", "AGE"], es.map((e) => [e.port, e.vlan, e.mac, e.static ? "static" : "learned", e.static ? "-" : e.age_s])));
    }),
  );
  fdb
    .command("add")
    .argument("<MAC>", "unicast MAC address", parser((s) => parseMac(s, "MAC")))
    .argument("<VLAN>", "VLAN 1-4094", intParser("VLAN", 1, 4094))
    .argument("<PORT>", "port the MAC is on")
    .description("adds one static entry (or moves it to PORT)")
    .action(
      act(async (ctx, _cmd, mac: string, vlan: number, p: string) => {
        const e = await (await ctx.client()).fdbAdd(mac, vlan, p);
        done(ctx, e, () => `static ${e.mac} vlan ${e.vlan} -> ${e.port}`);
      }),
    );
  fdb
    .command("del")
    .alias("remove")
    .argument("<MAC>", "MAC address", parser((s) => parseMac(s, "MAC")))
    .argument("<VLAN>", "VLAN 1-4094", intParser("VLAN", 1, 4094))
    .description("removes one static entry")
    .action(
      act(async (ctx, _cmd, mac: string, vlan: number) => {
        const r = await (await ctx.client()).fdbDel(mac, vlan);
        done(ctx, r, () => `static ${mac} vlan ${vlan} removed`);
      }),
    );
  filterOpts(fdb.command("flush").description("removes learned entries (static ones stay)")).action(
    act(async (ctx, cmd) => {
      const r = await (await ctx.client()).fdbFlush(cmd.opts());
      done(ctx, r, () => `${r.removed} entries removed`);
    }),
  );
  fdb
    .command("config")
    .description("shows, or with options changes, the aging time and the table size")
    .option("--aging <SECONDS>", "10-1000000 seconds, 0 = never age", intParser("--aging", 0, 1000000))
    .option("--max <ENTRIES>", "1-1048576 entries", intParser("--max", 1, 1048576))
    .action(
      act(async (ctx, cmd) => {
        const o = cmd.opts<{ aging?: number; max?: number }>();
        const change: { aging_s?: number; max_entries?: number } = {};
        if (o.aging !== undefined) change.aging_s = o.aging;
        if (o.max !== undefined) change.max_entries = o.max;
        const r = await (await ctx.client()).fdbConfig(change);
        const text = () => `aging_s: ${r.aging_s}\nmax_entries: ${r.max_entries}`;
        if (Object.keys(change).length === 0 && !ctx.json) return ctx.out(text());
        done(ctx, r, text);
      }),
    );
  examples(fdb, [
    "tvctl fdb add 02:00:00:00:00:99 10 vm1",
    "tvctl fdb show --vlan 10",
    "tvctl fdb del 02:00:00:00:00:99 10",
    "tvctl fdb flush --port vm1",
    "tvctl fdb config --aging 600",
  ]);

  // ---- stats / top
  const stats = program
    .command("stats")
    .argument("[PORT]", "one port (default: all)")
    .description("port counters and drops by reason; --watch for live packet and bit rates")
    .option("--reset", "zero the counters (all ports, or PORT)")
    .option("-w, --watch", "print rates every interval until interrupted (with --json: one object per sample)")
    .option("-i, --interval <SECONDS>", "seconds between samples with --watch (default 1)", intParser("--interval", 1, 3600))
    .option("-n, --count <N>", "with --watch: stop after N samples", intParser("--count", 1, 1_000_000))
    .action(act(cmdStats));
  examples(stats, ["tvctl stats", "tvctl stats vm1", "tvctl stats --watch -i 1 --count 2", "tvctl stats vm1 --reset"]);
  examples(
    program
      .command("top")
      .description("live packet and bit rates of every port (stats --watch)")
      .option("-i, --interval <SECONDS>", "seconds between samples (default 1)", intParser("--interval", 1, 3600))
      .option("-n, --count <N>", "stop after N samples", intParser("--count", 1, 1_000_000))
      .action(act(async (ctx, cmd) => watchRates(ctx, undefined, cmd.opts().interval ?? 1, cmd.opts().count))),
    ["tvctl top --count 1"],
  );

  // ---- config
  const config = program.command("config").description("the whole switch configuration as one document");
  config
    .command("export")
    .alias("show")
    .description("prints the configuration (YAML by default)")
    .addOption(new Option("--format <FORMAT>", "output format").choices(["yaml", "json"]))
    .action(
      act(async (ctx, cmd) => {
        const fmt = cmd.opts().format ?? (ctx.json ? "json" : "yaml");
        const doc = await (await ctx.client()).configGet();
        ctx.out(fmt === "json" ? JSON.stringify(doc, null, 2) : toYaml(doc));
      }),
    );
  config
    .command("apply")
    .argument("<FILE>", "a .json, .yaml or .yml file; - reads stdin (JSON or YAML)")
    .description("validates the whole document, then applies it at once; on any error nothing changes")
    .option("--dry-run", "list the changes only")
    .action(
      act(async (ctx, cmd, file: string) => {
        let doc;
        try {
          doc = readConfigFile(file);
        } catch (e) {
          throw usageIn(cmd, (e as Error).message);
        }
        const dry = !!cmd.opts().dryRun;
        const r = await (await ctx.client()).configApply(doc, dry);
        if (ctx.json) return printJson(ctx, r);
        // a dry run is asked for its list; a real apply is quiet unless -v
        if (!dry && !ctx.verbose) return;
        if (r.changes.length === 0) return ctx.out("no changes");
        ctx.out(`${dry ? "would change" : "changed"} (${r.changes.length}):\n` + r.changes.map((c) => `  ${c}`).join("\n"));
      }),
    );
  examples(config, ["tvctl config export > sw.yaml", "tvctl config apply sw.yaml --dry-run", "tvctl config apply sw.yaml"]);

  // ---- audit
  examples(
    program
      .command("audit")
      .description("the audit log of changes, oldest first (times are monitor uptime: it has no wall clock)")
      .option("--since <SEQ>", "only records after SEQ", intParser("--since", 0, Number.MAX_SAFE_INTEGER))
      .option("--wide", "do not cut lines to the terminal width")
      .action(act(cmdAudit)),
    ["tvctl audit", "tvctl audit --since 3 --wide"],
  );

  // ---- vm
  const vm = program.command("vm").description("virtual machines");
  vm.command("list")
    .description("every VM with its state")
    .action(
      act(async (ctx) => {
        const vms = await (await ctx.client()).vmList();
        if (ctx.json) return printJson(ctx, vms);
        ctx.out(
          table(
            ["NAME", "STATE", "VCPUS", "MEMORY_MIB", "PORTS", "EXITS", "REASON"],
            vms.map((v) => [v.name, v.state, v.vcpus, v.memory_mib, v.ports.join(",") || "-", v.exits.total, v.reason ?? ""]),
            ctx.width,
          ),
        );
      }),
    );
  vm.command("show")
    .argument("<NAME>", "VM name")
    .description("one VM in detail: state, memory, ports, exits by reason")
    .action(
      act(async (ctx, _cmd, name: string) => {
        const v = (await (await ctx.client()).vmList()).find((x) => x.name === name);
        // the same answer as the vm.* methods give for an unknown name
        if (!v) throw new RpcError("vm.list", 1, `not found: no VM named ${name}`, { field: "name" });
        ctx.json ? printJson(ctx, v) : ctx.out(vmDetail(v));
      }),
    );
  for (const op of ["start", "stop", "pause", "resume", "reset"] as const) {
    vm.command(op)
      .argument("<NAME>", "VM name")
      .description(`vm.${op}`)
      .action(
        act(async (ctx, _cmd, name: string) => {
          const v = await (await ctx.client()).vm(op, name);
          done(ctx, v, () => `${v.name}: ${v.state}`);
        }),
      );
  }
  vm.command("console")
    .argument("<NAME>", "VM name")
    .option("-f, --follow", "stay: show new lines as they come and send what you type to the guest (Ctrl-] leaves), like virsh console")
    .description("the VM's serial console (vm.console): its last lines; with --follow, interactive")
    .action(
      act(async (ctx, cmd, name: string) => {
        const follow = !!(cmd.opts() as { follow?: boolean }).follow;
        const c = await ctx.client();
        const first = (await c.call("vm.console", { name })) as { seq: number; lines: string[] };
        if (ctx.json && !follow) return printJson(ctx, first);
        for (const l of first.lines) ctx.out(l);
        if (!follow) return;
        await followConsole(ctx, c, name, first.seq);
      }),
    );
  examples(vm, ["tvctl vm list", "tvctl vm show print-1", "tvctl vm pause print-1", "tvctl vm resume print-1"]);

  // ---- capture
  program
    .command("capture")
    .argument("<PORT>", "the port whose frames (received and sent) are captured")
    .requiredOption("-w, --write <FILE>", "pcap file to write (tcpdump -r / tshark -r read it)")
    .option("-c, --count <N>", "stop after N frames (default: until Ctrl-C)", intParser("--count", 1, 100_000_000))
    .option("--vlan <VLAN>", "only frames of this VLAN", intParser("--vlan", 1, 4094))
    .description("captures a port's traffic into a pcap file, through a temporary mirror to the internal port capture0")
    .action(
      act(async (ctx, cmd, port: string) => {
        const o = cmd.opts() as { write: string; count?: number; vlan?: number };
        const c = await ctx.client();
        await c.call("capture.start", o.vlan ? { port, vlan: o.vlan } : { port });
        const out = openSync(o.write, "w");
        writeSync(out, pcapHeader());
        let n = 0;
        let dropped = 0;
        let stop = false;
        const onInt = () => (stop = true);
        process.on("SIGINT", onInt);
        try {
          while (!stop && (o.count === undefined || n < o.count)) {
            const r = (await c.call("capture.read", { max: 64 })) as { frames: string[]; dropped: number };
            dropped = r.dropped;
            const now = Date.now();
            for (const hex of r.frames) {
              if (o.count !== undefined && n >= o.count) break;
              writeSync(out, pcapRecord(now, Buffer.from(hex, "hex")));
              n++;
            }
            if (r.frames.length === 0) await new Promise((res) => setTimeout(res, 100));
          }
        } finally {
          process.off("SIGINT", onInt);
          closeSync(out);
          await c.call("capture.stop").catch(() => undefined);
        }
        if (ctx.verbose || !ctx.json) ctx.err(`tvctl: ${n} frames written to ${o.write}` + (dropped ? `, ${dropped} not captured (the capture queue was full)` : ""));
      }),
    );

  // ---- call
  examples(
    program
      .command("call")
      .argument("<METHOD>", "method name, e.g. port.get")
      .argument("[PARAMS]", "params as a JSON object")
      .description("calls any method and prints its result as JSON")
      .action(
        act(async (ctx, cmd, method: string, params?: string) => {
          let p: object | undefined;
          if (params !== undefined) {
            try {
              p = JSON.parse(params);
            } catch (e) {
              throw usageIn(cmd, `PARAMS are not JSON: ${(e as Error).message}`);
            }
          }
          printJson(ctx, await (await ctx.client()).call(method, p));
        }),
      ),
    [`tvctl call port.get '{"port":"vm1"}'`],
  );

  // ---- metrics
  examples(
    program
      .command("metrics")
      .description("serves Prometheus metrics (port counters, drops, FDB size, VM states and exits) over HTTP")
      .option("--listen <HOST:PORT>", "address to listen on, e.g. 127.0.0.1:9400 (port 0: any free port; required)")
      .action(
        act(async (ctx, cmd) => {
          const l = cmd.opts().listen as string | undefined;
          if (!l) throw usageIn(cmd, "--listen HOST:PORT is required");
          const i = l.lastIndexOf(":");
          const portNo = Number(l.slice(i + 1));
          if (i < 1 || !/^\d+$/.test(l.slice(i + 1)) || portNo > 65535) throw usageIn(cmd, `--listen: want HOST:PORT, got "${l}"`);
          const client = await ctx.client();
          const srv = await serveMetrics(client, l.slice(0, i).replace(/^\[|\]$/g, ""), portNo).catch((e: Error) => {
            throw new Failed(`metrics: cannot listen on ${l}: ${e.message}`);
          });
          ctx.err(`tvctl: metrics on http://${srv.address}/metrics`);
          await ctx.interrupted;
          await srv.close();
        }),
      ),
    ["tvctl metrics --listen 127.0.0.1:9400"],
  );

  // ---- generated from these definitions
  program
    .command("completion")
    .argument("<SHELL>", "bash or zsh")
    .description("prints a shell completion script: eval \"$(tvctl completion bash)\"")
    .action((shell: string, _o: unknown, cmd: Command) => {
      if (shell === "bash") io.out(bashCompletion(program));
      else if (shell === "zsh") io.out(zshCompletion(program));
      else throw usageIn(cmd, `SHELL: bash or zsh, not "${shell}"`);
    });
  program
    .command("man")
    .description("prints the man page (roff): tvctl man > tvctl.1")
    .action(() => io.out(manPage(program, EXAMPLES)));
  return finishProgram(program, io);
}

// ---------------------------------------------------------------- commands

async function cmdShow(ctx: Ctx): Promise<void> {
  const c = await ctx.client();
  const [s, ports, mirrors, fdbCfg, fdb, vms] = await Promise.all([c.systemInfo(), c.portList(), c.mirrorList(), c.fdbConfig(), c.fdbList(), c.vmList()]);
  if (ctx.json) return printJson(ctx, { system: s, ports, mirrors, fdb: { ...fdbCfg, entries: fdb.length }, vms });
  const lines = [`${s.name} ${s.version} (api ${s.api}), virt ${s.virt}, ${s.cpus} cpus, ${s.memory_mib} MiB, up ${formatUptime(s.uptime_ms)}`];
  lines.push(`    fdb: ${fdb.length} entries (${fdb.filter((e) => e.static).length} static), aging ${fdbCfg.aging_s} s, max ${fdbCfg.max_entries}`);
  for (const p of ports) {
    lines.push(`    Port ${p.name}`);
    lines.push(`        kind: ${p.kind}${p.mac ? `, mac ${p.mac}` : ""}`);
    lines.push(`        vlan: ${formatVlan(p.vlan)}`);
    if ((p.mtu ?? 1500) !== 1500) lines.push(`        mtu: ${p.mtu}`);
    if (p.qos.ingress) lines.push(`        ingress: ${formatRate(p.qos.ingress)}`);
    if (p.qos.egress) lines.push(`        egress: ${formatRate(p.qos.egress)}`);
    if (p.qos.storm) lines.push(`        storm control: ${formatStorm(p.qos.storm)}`);
    if (p.security.max_macs || p.security.allowed_macs.length) {
      lines.push(`        security: max_macs ${p.security.max_macs || "no limit"}, allowed ${p.security.allowed_macs.join(",") || "any"}`);
    }
    if (p.mirror_dst) lines.push(`        mirror destination`);
  }
  for (const m of mirrors) {
    lines.push(`    Mirror ${m.name}`);
    lines.push(`        select: ${[...m.src_ports.map((x) => `${x.port}:${x.dir}`), ...(m.src_vlans.length ? [`vlans ${formatVlanSet(m.src_vlans)}`] : [])].join(", ") || "-"}`);
    lines.push(`        output: ${m.dst_port}`);
  }
  for (const v of vms) {
    lines.push(`    VM ${v.name}`);
    lines.push(`        state: ${v.state}${v.reason ? ` (${v.reason})` : ""}, ${v.vcpus} vcpu, ${v.memory_mib} MiB${v.ports.length ? `, ports ${v.ports.join(",")}` : ""}`);
  }
  ctx.out(lines.join("\n"));
}

interface PortSetOpts {
  access?: number;
  trunk?: VlanSet;
  trunkAdd?: VlanSet;
  trunkDel?: VlanSet;
  native?: number | "none";
  nativeTagged?: boolean;
  mtu?: number;
}

async function cmdPortSet(ctx: Ctx, cmd: Command, name: string): Promise<void> {
  const o = cmd.opts<PortSetOpts>();
  const vlanChange = o.access !== undefined || o.trunk !== undefined || o.trunkAdd !== undefined || o.trunkDel !== undefined || o.native !== undefined || o.nativeTagged !== undefined;
  if (!vlanChange && o.mtu === undefined) throw usageIn(cmd, "nothing to set: give --access, --trunk, --trunk-add, --trunk-del, --native or --mtu");
  if (o.access !== undefined && (o.native !== undefined || o.nativeTagged !== undefined)) throw usageIn(cmd, "--native and --native-tagged are for trunk ports, not with --access");
  const c = await ctx.client();
  const change: { vlan?: VlanConfig; mtu?: number } = {};
  if (o.mtu !== undefined) change.mtu = o.mtu;
  if (o.access !== undefined) change.vlan = { mode: "access", vlan: o.access };
  else if (vlanChange) {
    // a change to a trunk: start from the port's current trunk settings unless --trunk replaces them
    let cur: VlanConfig | undefined;
    if (o.trunk === undefined) {
      cur = (await c.portGet(name)).vlan;
      if (cur.mode !== "trunk") {
        const which = o.trunkAdd ? "--trunk-add" : o.trunkDel ? "--trunk-del" : "--native";
        throw usageIn(cmd, `${which}: port ${name} is an access port (VLAN ${cur.vlan}); make it a trunk with --trunk SET`);
      }
    }
    const ids = vlanIds(o.trunk ?? (cur as { allowed: VlanSet }).allowed);
    for (const v of o.trunkAdd ? vlanIds(o.trunkAdd) : []) ids.add(v);
    for (const v of o.trunkDel ? vlanIds(o.trunkDel) : []) ids.delete(v);
    if (ids.size === 0) throw usageIn(cmd, `port ${name} would carry no VLAN: a trunk needs at least one`);
    const curTrunk = cur as { native?: number | null; native_tagged?: boolean } | undefined;
    change.vlan = {
      mode: "trunk",
      allowed: toVlanSet(ids),
      native: o.native !== undefined ? (o.native === "none" ? null : o.native) : o.trunk !== undefined ? null : curTrunk?.native ?? null,
      native_tagged: o.nativeTagged ?? (o.trunk !== undefined ? false : curTrunk?.native_tagged ?? false),
    };
  }
  const p = await c.portSet(name, change);
  done(ctx, p, () => portDetail(p));
}

async function cmdQosSet(ctx: Ctx, cmd: Command, name: string): Promise<void> {
  const o = cmd.opts<{ ingress?: Rate | "off"; egress?: Rate | "off"; stormBroadcast?: number; stormMulticast?: number; stormUnknownUnicast?: number }>();
  const storm = o.stormBroadcast !== undefined || o.stormMulticast !== undefined || o.stormUnknownUnicast !== undefined;
  if (o.ingress === undefined && o.egress === undefined && !storm) throw usageIn(cmd, "nothing to set: give --ingress, --egress or a --storm-* limit");
  const c = await ctx.client();
  const qos: Qos = {};
  if (o.ingress !== undefined) qos.ingress = o.ingress === "off" ? null : o.ingress;
  if (o.egress !== undefined) qos.egress = o.egress === "off" ? null : o.egress;
  if (storm) {
    // storm control is replaced whole by port.set: keep the limits not given
    const cur = (await c.portGet(name)).qos.storm ?? { broadcast_pps: 0, multicast_pps: 0, unknown_unicast_pps: 0 };
    qos.storm = {
      broadcast_pps: o.stormBroadcast ?? cur.broadcast_pps,
      multicast_pps: o.stormMulticast ?? cur.multicast_pps,
      unknown_unicast_pps: o.stormUnknownUnicast ?? cur.unknown_unicast_pps,
    };
  }
  const p = await c.portSet(name, { qos });
  done(ctx, p, () => portDetail(p));
}

async function cmdSecuritySet(ctx: Ctx, cmd: Command, name: string): Promise<void> {
  const o = cmd.opts<{ maxMacs?: number; allow?: string[]; allowAny?: boolean }>();
  if (o.maxMacs === undefined && !o.allow && !o.allowAny) throw usageIn(cmd, "nothing to set: give --max-macs, --allow or --allow-any");
  const allow = o.allow?.flatMap((a) => a.split(",").map((m) => m.trim()).filter((m) => m !== ""));
  for (const m of allow ?? []) {
    try {
      parseMac(m, "--allow");
    } catch (e) {
      throw usageIn(cmd, (e as Error).message);
    }
  }
  const c = await ctx.client();
  // security is replaced whole by port.set: start from the current settings
  const cur = await c.portGet(name);
  const sec: Security = { max_macs: o.maxMacs ?? cur.security.max_macs, allowed_macs: allow ?? (o.allowAny ? [] : [...cur.security.allowed_macs]) };
  const p = await c.portSet(name, { security: sec });
  done(ctx, p, () => portDetail(p));
}

async function cmdStats(ctx: Ctx, cmd: Command, port?: string): Promise<void> {
  const o = cmd.opts<{ reset?: boolean; watch?: boolean; interval?: number; count?: number }>();
  if (o.reset && o.watch) throw usageIn(cmd, "--reset and --watch exclude each other");
  if (!o.watch && (o.interval !== undefined || o.count !== undefined)) throw usageIn(cmd, "--interval and --count need --watch");
  const c = await ctx.client();
  if (o.reset) {
    const r = await c.statsReset(port);
    return done(ctx, r, () => (port ? `counters of ${port} reset` : "all counters reset"));
  }
  if (o.watch) return watchRates(ctx, port, o.interval ?? 1, o.count);
  if (port) {
    const p = await c.portGet(port);
    if (ctx.json) return printJson(ctx, p);
    const d = p.stats.drops ?? {};
    const lines = [
      table(
        ["PORT", "RX_PACKETS", "RX_BYTES", "RX_DROPPED", "TX_PACKETS", "TX_BYTES", "TX_DROPPED"],
        [[p.name, p.stats.rx_packets, p.stats.rx_bytes, p.stats.rx_dropped, p.stats.tx_packets, p.stats.tx_bytes, p.stats.tx_dropped]],
      ),
      "",
      table(["DROP_REASON", "PACKETS"], Object.entries(d).map(([k, v]) => [k, v])),
    ];
    return ctx.out(lines.join("\n"));
  }
  const ports = await c.portList();
  if (ctx.json) return printJson(ctx, ports);
  ctx.out(
    table(
      ["PORT", "RX_PACKETS", "RX_BYTES", "RX_DROPPED", "TX_PACKETS", "TX_BYTES", "TX_DROPPED", "DROPS"],
      ports.map((p) => [p.name, p.stats.rx_packets, p.stats.rx_bytes, p.stats.rx_dropped, p.stats.tx_packets, p.stats.tx_bytes, p.stats.tx_dropped, dropsLine(p)]),
      ctx.width,
    ),
  );
}

export interface RateSample {
  port: string;
  rx_pps: number;
  rx_bps: number;
  tx_pps: number;
  tx_bps: number;
  drop_pps: number;
}

/** Rates between two counter snapshots `dtMs` apart (bits per second from bytes). */
export function rates(prev: Port[], cur: Port[], dtMs: number): RateSample[] {
  const before = new Map(prev.map((p) => [p.name, p.stats]));
  const per = (d: number) => (d < 0 ? 0 : (d * 1000) / dtMs); // a reset in between: no negative rate
  return cur.map((p) => {
    const b = before.get(p.name) ?? p.stats;
    const s = p.stats;
    return {
      port: p.name,
      rx_pps: per(s.rx_packets - b.rx_packets),
      rx_bps: per((s.rx_bytes - b.rx_bytes) * 8),
      tx_pps: per(s.tx_packets - b.tx_packets),
      tx_bps: per((s.tx_bytes - b.tx_bytes) * 8),
      drop_pps: per(s.rx_dropped + s.tx_dropped - b.rx_dropped - b.tx_dropped),
    };
  });
}

/** stats --watch / top: samples the counters every interval and prints the rates from the deltas. */
async function watchRates(ctx: Ctx, port: string | undefined, intervalS: number, count?: number): Promise<void> {
  const c = await ctx.client();
  const snap = async (): Promise<[Port[], number]> => [port ? [await c.portGet(port)] : await c.portList(), performance.now()];
  let [prev, t0] = await snap();
  let stop = false;
  void ctx.interrupted.then(() => (stop = true));
  for (let n = 0; !stop && (count === undefined || n < count); n++) {
    await Promise.race([new Promise((r) => setTimeout(r, intervalS * 1000)), ctx.interrupted]);
    if (stop) break;
    const [cur, t1] = await snap();
    const dt = t1 - t0;
    const rs = rates(prev, cur, dt);
    [prev, t0] = [cur, t1];
    if (ctx.json) {
      ctx.out(JSON.stringify({ interval_ms: Number(dt.toFixed(3)), ports: rs }));
      continue;
    }
    ctx.out(
      table(
        ["PORT", "RX_PPS", "RX_BPS", "TX_PPS", "TX_BPS", "DROP_PPS"],
        rs.map((r) => [r.port, formatRateUnit(r.rx_pps), formatRateUnit(r.rx_bps), formatRateUnit(r.tx_pps), formatRateUnit(r.tx_bps), formatRateUnit(r.drop_pps)]),
      ) + "\n",
    );
  }
}

async function cmdAudit(ctx: Ctx, cmd: Command): Promise<void> {
  const o = cmd.opts<{ since?: number; wide?: boolean }>();
  const c = await ctx.client();
  const recs = await c.auditList(o.since);
  if (ctx.json) return printJson(ctx, recs);
  ctx.out(
    table(
      ["SEQ", "UPTIME", "METHOD", "RESULT", "PARAMS"],
      recs.map((r) => [r.seq, formatUptime(r.ts_ms), r.method, r.ok ? "ok" : cut(`error ${r.error?.code}: ${r.error?.message}`, 40), JSON.stringify(r.params)]),
      o.wide ? undefined : ctx.width,
    ),
  );
}

// ---------------------------------------------------------------- main

/** Runs tvctl with argv; returns the exit status (docs/PROTOCOL.md "Exit status"). */
export async function main(
  argv: string[],
  out = (s: string) => console.log(s),
  err = (s: string) => console.error(s),
  opts: { interrupted?: Promise<void>; width?: number } = {},
): Promise<number> {
  let client: Client | undefined;
  const io = { out, err };
  const interrupted = opts.interrupted ?? new Promise<void>(() => {});
  const width = opts.width ?? (Number(process.env.COLUMNS) || process.stdout.columns || 120);
  const program = buildProgram(io, (cmd) => {
    const g = cmd.optsWithGlobals<{ mgmt?: string; json?: boolean; verbose?: boolean; timeout?: number }>();
    const mgmt = g.mgmt ?? (process.env.TVCTL_MGMT || DEFAULT_MGMT);
    return {
      json: !!g.json,
      verbose: !!g.verbose,
      out,
      err,
      width,
      interrupted,
      client: async () => (client ??= await connect(mgmt, { timeoutMs: g.timeout ?? 10_000 })),
    };
  }, Math.min(width, 100));
  // "tvctl help mirror add" is "tvctl mirror add --help" (commander's help command goes one level deep)
  const first = argv.findIndex((a, i) => !a.startsWith("-") && !["--mgmt", "--timeout"].includes(argv[i - 1]));
  if (first >= 0 && argv[first] === "help" && argv.length > first + 1) argv = [...argv.slice(0, first), ...argv.slice(first + 1), "--help"];
  try {
    return await runProgram(program, argv, io, (e) => {
      if (e instanceof RpcError || e instanceof Failed) {
        err(`tvctl: ${e.message}`);
        return EXIT.FAILED;
      }
      if (e instanceof TransportError) {
        err(`tvctl: ${e.message}`);
        return EXIT.UNAVAILABLE;
      }
      err(`tvctl: internal error: ${(e as Error)?.stack ?? e}`);
      return EXIT.INTERNAL;
    });
  } finally {
    client?.close();
  }
}

const isMain = process.argv[1] && /tvctl(\.ts|\.mjs)?$/.test(process.argv[1]);
if (isMain) {
  const interrupted = new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  main(process.argv.slice(2), undefined, undefined, { interrupted }).then((code) => process.exit(code));
}
