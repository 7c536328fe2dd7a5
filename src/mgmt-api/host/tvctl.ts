// tvctl: the Typevisor management command (in the habits of ovs-vsctl and
// virsh). Talks MGMT-API.md over TCP, a unix socket or a serial device.

import { readFileSync } from "node:fs";
import YAML from "yaml";
import {
  Client,
  ConfigDoc,
  connect,
  MirrorSrc,
  Port,
  Qos,
  Rate,
  RpcError,
  Security,
  TransportError,
  VlanConfig,
  VlanSet,
} from "./client";

export const DEFAULT_MGMT = "tcp:127.0.0.1:7000";

/** A usage error: exit status 2 with the command's help hint. */
class UsageError extends Error {}

// ---------------------------------------------------------------- argument parsing

interface Opts {
  /** flag -> values (repeatable); a boolean flag has [""] */
  flags: Map<string, string[]>;
  args: string[];
}

/** Parses argv given which flags take a value; `--x=v` and `--x v` both work. */
function parseArgs(argv: string[], valued: string[], booleans: string[]): Opts {
  const flags = new Map<string, string[]>();
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith("--") && a.length > 2) {
      const eq = a.indexOf("=");
      const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
      if (valued.includes(name)) {
        let v: string;
        if (eq > 0) v = a.slice(eq + 1);
        else {
          if (i + 1 >= argv.length) throw new UsageError(`--${name} needs a value`);
          v = argv[++i];
        }
        flags.set(name, [...(flags.get(name) ?? []), v]);
      } else if (booleans.includes(name)) {
        if (eq > 0) throw new UsageError(`--${name} takes no value`);
        flags.set(name, [""]);
      } else throw new UsageError(`unknown option --${name}`);
    } else args.push(a);
  }
  return { flags, args };
}

function one(o: Opts, name: string): string | undefined {
  const v = o.flags.get(name);
  if (!v) return undefined;
  if (v.length > 1) throw new UsageError(`--${name} given more than once`);
  return v[0];
}

function intArg(s: string, what: string, min: number, max: number): number {
  if (!/^-?\d+$/.test(s)) throw new UsageError(`${what}: "${s}" is not an integer`);
  const n = Number(s);
  if (n < min || n > max) throw new UsageError(`${what}: ${n} is not in ${min}-${max}`);
  return n;
}

/** "10,20,100-199" -> [10, 20, [100, 199]] */
export function parseVlanSet(s: string, what = "VLAN set"): VlanSet {
  const out: VlanSet = [];
  for (const part of s.split(",")) {
    const p = part.trim();
    if (p === "") throw new UsageError(`${what}: empty element in "${s}"`);
    const m = /^(\d+)-(\d+)$/.exec(p);
    if (m) out.push([intArg(m[1], what, 1, 4094), intArg(m[2], what, 1, 4094)]);
    else out.push(intArg(p, what, 1, 4094));
  }
  return out;
}

/** [10, [100,199]] -> "10,100-199" */
export function formatVlanSet(v: VlanSet | undefined): string {
  if (!v || v.length === 0) return "-";
  return v.map((x) => (Array.isArray(x) ? `${x[0]}-${x[1]}` : String(x))).join(",");
}

/** "10000:15000" -> rate; "off" -> null */
function parseRate(s: string, what: string): Rate | null {
  if (s === "off" || s === "none") return null;
  const m = /^(\d+):(\d+)$/.exec(s);
  if (!m) throw new UsageError(`${what}: want RATE_KBPS:BURST_BYTES or off, got "${s}"`);
  return { rate_kbps: Number(m[1]), burst_bytes: Number(m[2]) };
}

function formatRate(r: Rate | null | undefined): string {
  return r ? `${r.rate_kbps}kbps/${r.burst_bytes}B` : "-";
}

function formatVlan(v: VlanConfig): string {
  if (v.mode === "access") return `access ${v.vlan}`;
  let s = `trunk ${formatVlanSet(v.allowed)}`;
  if (v.native !== null && v.native !== undefined) s += ` native ${v.native}${v.native_tagged ? " tagged" : ""}`;
  return s;
}

/** A plain text table: columns padded to the widest cell. */
export function table(head: string[], rows: Array<Array<string | number>>): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const w = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]))).join("  ").trimEnd()).join("\n");
}

// ---------------------------------------------------------------- help

const HELP: Record<string, string> = {
  "": `usage: tvctl [--mgmt ADDR] [--json] [--timeout MS] COMMAND [ARGS]

Manages a Typevisor monitor (or the hosted runner) over its management channel.

commands:
  system info | memory             machine, version, uptime; heap size, collections
  port list | show PORT | set PORT ...
                                   switch ports, their VLANs and counters
  qos set PORT ...                 ingress policer / egress shaper
  security set PORT ...            MAC limits and allowed MACs
  mirror list | add NAME ... | remove NAME
  fdb show | flush | config        forwarding database
  stats [PORT] [--reset]           port counters
  config export | apply FILE [--dry-run]
  audit [--since N]                the audit log of changes
  vm list | start|stop|pause|resume|reset NAME
  call METHOD ['JSON']             any method, raw

global options:
  --mgmt ADDR     tcp:HOST:PORT, unix:PATH, or a device/socket path
                  (default: $TVCTL_MGMT or ${DEFAULT_MGMT})
  --json          print results as JSON (for scripts)
  --timeout MS    per-call timeout (default 10000)
  --help          help for any command: tvctl port set --help

exit status: 0 ok, 1 the server refused (error printed), 2 usage error,
3 could not talk to the server.`,
  system: `usage: tvctl system info\n       tvctl system memory\n\ninfo prints system.info: name, version, API version, virtualization, CPUs, memory, uptime.\nmemory prints system.memory: the monitor's heap (linear memory) size and the garbage collections run.`,
  port: `usage: tvctl port list
       tvctl port show PORT
       tvctl port set PORT (--access VLAN | --trunk SET [--native VLAN|none] [--native-tagged])

--access VLAN     untagged port in VLAN (1-4094)
--trunk SET       tagged port; SET like 10,20,100-199 (must be non-empty)
--native VLAN     VLAN for untagged frames on a trunk (must be in SET); default none
--native-tagged   send the native VLAN tagged too

Examples:
  tvctl port set vm1 --access 10
  tvctl port set up0 --trunk 10,20,100-199 --native 1`,
  qos: `usage: tvctl qos set PORT [--ingress RATE:BURST|off] [--egress RATE:BURST|off]

RATE in kbit/s (1000 bit/s), BURST in bytes; "off" removes the limit.
A direction not given keeps its setting.

Example: tvctl qos set vm1 --ingress 10000:15000 --egress off`,
  security: `usage: tvctl security set PORT [--max-macs N] [--allow MAC[,MAC...]]... [--allow-any]

--max-macs N    most learned source MACs (0 = no limit)
--allow MACS    admit only these source MACs (repeatable)
--allow-any     clear the allowed list (admit any MAC)
Settings not given keep their values.`,
  mirror: `usage: tvctl mirror list
       tvctl mirror add NAME [--src PORT[:rx|tx|both]]... [--src-vlan SET] --dst PORT
       tvctl mirror remove NAME

A mirror copies frames selected by port (direction default both) or VLAN to
the destination port, which then carries nothing else.

Example: tvctl mirror add m1 --src vm1:both --src-vlan 10 --dst tap0`,
  fdb: `usage: tvctl fdb show [--vlan N] [--port PORT]
       tvctl fdb flush [--vlan N] [--port PORT]
       tvctl fdb config [--aging SECONDS] [--max ENTRIES]

--aging   10-1000000 seconds, 0 = never age
--max     1-1048576 entries
Without options, "fdb config" shows the settings.`,
  stats: `usage: tvctl stats [PORT] [--reset]

Per-port counters (rx = received from the port, tx = sent to it).
--reset zeroes them (all ports, or PORT).`,
  config: `usage: tvctl config export [--format yaml|json]
       tvctl config apply FILE [--dry-run]

export prints the whole switch configuration (YAML by default).
apply reads YAML or JSON (FILE "-" = stdin), validates it whole, then applies
it at once; on any error nothing changes. --dry-run lists the changes only.`,
  audit: `usage: tvctl audit [--since N]

The audit log of state-changing calls, oldest first; records with seq > N.`,
  vm: `usage: tvctl vm list
       tvctl vm start|stop|pause|resume|reset NAME`,
  call: `usage: tvctl call METHOD ['JSON PARAMS']

Calls any method and prints the result as JSON. Example:
  tvctl call port.get '{"port":"vm1"}'`,
};

function help(cmd: string): string {
  return HELP[cmd] ?? HELP[""];
}

// ---------------------------------------------------------------- commands

interface Ctx {
  json: boolean;
  out: (s: string) => void;
  client: () => Promise<Client>;
}

function printJson(ctx: Ctx, v: unknown): void {
  ctx.out(JSON.stringify(v, null, 2));
}

function portRows(ports: Port[]): string {
  return table(
    ["NAME", "KIND", "VLAN", "INGRESS", "EGRESS", "MAX_MACS", "RX_PKTS", "RX_DROP", "TX_PKTS", "TX_DROP"],
    ports.map((p) => [
      p.name + (p.mirror_dst ? "*" : ""),
      p.kind,
      formatVlan(p.vlan),
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

function portDetail(p: Port): string {
  const lines = [
    `name:          ${p.name}`,
    `kind:          ${p.kind}`,
    `mac:           ${p.mac ?? "-"}`,
    `vlan:          ${formatVlan(p.vlan)}`,
    `qos ingress:   ${formatRate(p.qos.ingress)}`,
    `qos egress:    ${formatRate(p.qos.egress)}`,
    `max macs:      ${p.security.max_macs || "no limit"}`,
    `allowed macs:  ${p.security.allowed_macs.length ? p.security.allowed_macs.join(", ") : "any"}`,
    `mirror dst:    ${p.mirror_dst ? "yes" : "no"}`,
    `rx:            ${p.stats.rx_packets} packets, ${p.stats.rx_bytes} bytes, ${p.stats.rx_dropped} dropped`,
    `tx:            ${p.stats.tx_packets} packets, ${p.stats.tx_bytes} bytes, ${p.stats.tx_dropped} dropped`,
  ];
  return lines.join("\n");
}

async function cmdPort(ctx: Ctx, argv: string[]): Promise<void> {
  const o = parseArgs(argv, ["access", "trunk", "native"], ["native-tagged"]);
  const [sub, name, ...rest] = o.args;
  if (rest.length) throw new UsageError(`unexpected argument ${rest[0]}`);
  const c = await ctx.client();
  if (sub === "list") {
    if (name) throw new UsageError(`unexpected argument ${name}`);
    const ports = await c.portList();
    return ctx.json ? printJson(ctx, ports) : ctx.out(portRows(ports));
  }
  if (!name) throw new UsageError(`port ${sub ?? ""}: PORT is required`);
  if (sub === "show" || sub === "get") {
    const p = await c.portGet(name);
    return ctx.json ? printJson(ctx, p) : ctx.out(portDetail(p));
  }
  if (sub === "set") {
    const access = one(o, "access");
    const trunk = one(o, "trunk");
    const native = one(o, "native");
    const tagged = o.flags.has("native-tagged");
    if (access !== undefined && trunk !== undefined) throw new UsageError("--access and --trunk exclude each other");
    if (access === undefined && trunk === undefined) throw new UsageError("port set: give --access VLAN or --trunk SET");
    if (access !== undefined && (native !== undefined || tagged)) throw new UsageError("--native and --native-tagged need --trunk");
    let vlan: VlanConfig;
    if (access !== undefined) vlan = { mode: "access", vlan: intArg(access, "--access", 1, 4094) };
    else
      vlan = {
        mode: "trunk",
        allowed: parseVlanSet(trunk!, "--trunk"),
        native: native === undefined || native === "none" ? null : intArg(native, "--native", 1, 4094),
        native_tagged: tagged,
      };
    const p = await c.portSet(name, { vlan });
    return ctx.json ? printJson(ctx, p) : ctx.out(portDetail(p));
  }
  throw new UsageError(`port: unknown subcommand ${sub ?? "(none)"}`);
}

async function cmdQos(ctx: Ctx, argv: string[]): Promise<void> {
  const o = parseArgs(argv, ["ingress", "egress"], []);
  const [sub, name, ...rest] = o.args;
  if (sub !== "set") throw new UsageError(`qos: unknown subcommand ${sub ?? "(none)"}`);
  if (!name || rest.length) throw new UsageError("qos set: exactly one PORT");
  const qos: Qos = {};
  const i = one(o, "ingress");
  const e = one(o, "egress");
  if (i === undefined && e === undefined) throw new UsageError("qos set: give --ingress and/or --egress");
  if (i !== undefined) qos.ingress = parseRate(i, "--ingress");
  if (e !== undefined) qos.egress = parseRate(e, "--egress");
  const c = await ctx.client();
  const p = await c.portSet(name, { qos });
  return ctx.json ? printJson(ctx, p) : ctx.out(portDetail(p));
}

async function cmdSecurity(ctx: Ctx, argv: string[]): Promise<void> {
  const o = parseArgs(argv, ["max-macs", "allow"], ["allow-any"]);
  const [sub, name, ...rest] = o.args;
  if (sub !== "set") throw new UsageError(`security: unknown subcommand ${sub ?? "(none)"}`);
  if (!name || rest.length) throw new UsageError("security set: exactly one PORT");
  const max = one(o, "max-macs");
  const allow = o.flags.get("allow");
  const any = o.flags.has("allow-any");
  if (allow && any) throw new UsageError("--allow and --allow-any exclude each other");
  if (max === undefined && !allow && !any) throw new UsageError("security set: give --max-macs, --allow or --allow-any");
  const c = await ctx.client();
  // security is replaced whole by port.set: start from the current settings
  const cur = await c.portGet(name);
  const sec: Security = { max_macs: cur.security.max_macs, allowed_macs: [...cur.security.allowed_macs] };
  if (max !== undefined) sec.max_macs = intArg(max, "--max-macs", 0, 1048576);
  if (any) sec.allowed_macs = [];
  if (allow) sec.allowed_macs = allow.flatMap((a) => a.split(",").map((m) => m.trim()).filter((m) => m !== ""));
  const p = await c.portSet(name, { security: sec });
  return ctx.json ? printJson(ctx, p) : ctx.out(portDetail(p));
}

async function cmdMirror(ctx: Ctx, argv: string[]): Promise<void> {
  const o = parseArgs(argv, ["src", "src-vlan", "dst"], []);
  const [sub, name, ...rest] = o.args;
  if (rest.length) throw new UsageError(`unexpected argument ${rest[0]}`);
  const c = await ctx.client();
  if (sub === "list" || sub === "show") {
    const ms = await c.mirrorList();
    if (ctx.json) return printJson(ctx, ms);
    return ctx.out(
      table(
        ["NAME", "SOURCES", "SRC_VLANS", "DST", "PACKETS", "BYTES"],
        ms.map((m) => [
          m.name,
          m.src_ports.map((s) => `${s.port}:${s.dir}`).join(",") || "-",
          formatVlanSet(m.src_vlans),
          m.dst_port,
          m.stats?.packets ?? 0,
          m.stats?.bytes ?? 0,
        ]),
      ),
    );
  }
  if (!name) throw new UsageError(`mirror ${sub ?? ""}: NAME is required`);
  if (sub === "add") {
    const dst = one(o, "dst");
    if (!dst) throw new UsageError("mirror add: --dst PORT is required");
    const src_ports: MirrorSrc[] = (o.flags.get("src") ?? []).flatMap((s) =>
      s.split(",").map((x) => {
        const [port, dir = "both", extra] = x.split(":");
        if (extra !== undefined || !["rx", "tx", "both"].includes(dir)) throw new UsageError(`--src: want PORT[:rx|tx|both], got "${x}"`);
        return { port, dir: dir as MirrorSrc["dir"] };
      }),
    );
    const sv = o.flags.get("src-vlan");
    const src_vlans = sv ? sv.flatMap((s) => parseVlanSet(s, "--src-vlan")) : [];
    const m = await c.mirrorAdd({ name, src_ports, src_vlans, dst_port: dst });
    return ctx.json ? printJson(ctx, m) : ctx.out(`mirror ${m.name} added`);
  }
  if (sub === "remove" || sub === "del") {
    await c.mirrorRemove(name);
    return ctx.json ? printJson(ctx, {}) : ctx.out(`mirror ${name} removed`);
  }
  throw new UsageError(`mirror: unknown subcommand ${sub ?? "(none)"}`);
}

async function cmdFdb(ctx: Ctx, argv: string[]): Promise<void> {
  const o = parseArgs(argv, ["vlan", "port", "aging", "max"], []);
  const [sub, ...rest] = o.args;
  if (rest.length) throw new UsageError(`unexpected argument ${rest[0]}`);
  const filter: { vlan?: number; port?: string } = {};
  const v = one(o, "vlan");
  const p = one(o, "port");
  if (v !== undefined) filter.vlan = intArg(v, "--vlan", 1, 4094);
  if (p !== undefined) filter.port = p;
  const c = await ctx.client();
  if (sub === "show" || sub === "list") {
    const es = await c.fdbList(filter);
    if (ctx.json) return printJson(ctx, es);
    return ctx.out(
      table(
        ["PORT", "VLAN", "MAC", "TYPE", "AGE"],
        es.map((e) => [e.port, e.vlan, e.mac, e.static ? "static" : "learned", e.static ? "-" : e.age_s]),
      ),
    );
  }
  if (sub === "flush") {
    const r = await c.fdbFlush(filter);
    return ctx.json ? printJson(ctx, r) : ctx.out(`${r.removed} entries removed`);
  }
  if (sub === "config") {
    if (v !== undefined || p !== undefined) throw new UsageError("fdb config takes --aging and --max");
    const change: { aging_s?: number; max_entries?: number } = {};
    const a = one(o, "aging");
    const m = one(o, "max");
    if (a !== undefined) change.aging_s = intArg(a, "--aging", 0, 1000000);
    if (m !== undefined) change.max_entries = intArg(m, "--max", 1, 1048576);
    const r = await c.fdbConfig(change);
    return ctx.json ? printJson(ctx, r) : ctx.out(`aging_s: ${r.aging_s}\nmax_entries: ${r.max_entries}`);
  }
  throw new UsageError(`fdb: unknown subcommand ${sub ?? "(none)"}`);
}

async function cmdStats(ctx: Ctx, argv: string[]): Promise<void> {
  const o = parseArgs(argv, [], ["reset"]);
  if (o.args.length > 1) throw new UsageError(`unexpected argument ${o.args[1]}`);
  const port = o.args[0];
  const c = await ctx.client();
  if (o.flags.has("reset")) {
    await c.statsReset(port);
    return ctx.json ? printJson(ctx, {}) : ctx.out(port ? `counters of ${port} reset` : "all counters reset");
  }
  const ports = port ? [await c.portGet(port)] : await c.portList();
  if (ctx.json) return printJson(ctx, ports.map((p) => ({ name: p.name, ...p.stats })));
  ctx.out(
    table(
      ["PORT", "RX_PACKETS", "RX_BYTES", "RX_DROPPED", "TX_PACKETS", "TX_BYTES", "TX_DROPPED"],
      ports.map((p) => [p.name, p.stats.rx_packets, p.stats.rx_bytes, p.stats.rx_dropped, p.stats.tx_packets, p.stats.tx_bytes, p.stats.tx_dropped]),
    ),
  );
}

/** YAML with VLAN sets and other lists of numbers on one line: allowed: [ 10, 20, [ 100, 199 ] ]. */
export function toYaml(doc: unknown): string {
  const d = new YAML.Document(doc);
  YAML.visit(d, {
    Seq(_, node) {
      const flat = node.items.every(
        (it) => YAML.isScalar(it) || (YAML.isSeq(it) && it.items.every((x) => YAML.isScalar(x))),
      );
      if (flat) node.flow = true;
    },
  });
  return d.toString().trimEnd();
}

/** Reads a config file: JSON when it parses as JSON, else YAML. */
export function readConfigFile(path: string): ConfigDoc {
  let text: string;
  try {
    text = readFileSync(path === "-" ? 0 : path, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read ${path}: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    try {
      doc = YAML.parse(text, { intAsBigInt: false });
    } catch (e) {
      throw new UsageError(`${path}: neither JSON nor YAML: ${(e as Error).message.split("\n")[0]}`);
    }
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) throw new UsageError(`${path}: the configuration must be a mapping/object`);
  return doc as ConfigDoc;
}

async function cmdConfig(ctx: Ctx, argv: string[]): Promise<void> {
  const o = parseArgs(argv, ["format"], ["dry-run"]);
  const [sub, file, ...rest] = o.args;
  if (rest.length) throw new UsageError(`unexpected argument ${rest[0]}`);
  if (sub === "export" || sub === "get" || sub === "show") {
    if (file) throw new UsageError(`unexpected argument ${file}`);
    const fmt = one(o, "format") ?? (ctx.json ? "json" : "yaml");
    if (fmt !== "yaml" && fmt !== "json") throw new UsageError("--format: yaml or json");
    const c = await ctx.client();
    const doc = await c.configGet();
    return ctx.out(fmt === "json" ? JSON.stringify(doc, null, 2) : toYaml(doc));
  }
  if (sub === "apply") {
    if (!file) throw new UsageError("config apply: FILE is required (- for stdin)");
    const doc = readConfigFile(file);
    const dry = o.flags.has("dry-run");
    const c = await ctx.client();
    const r = await c.configApply(doc, dry);
    if (ctx.json) return printJson(ctx, r);
    const head = dry ? "would change" : "changed";
    if (r.changes.length === 0) return ctx.out(dry ? "no changes" : "no changes made");
    return ctx.out(`${head} (${r.changes.length}):\n` + r.changes.map((c) => `  ${c}`).join("\n"));
  }
  throw new UsageError(`config: unknown subcommand ${sub ?? "(none)"}`);
}

async function cmdAudit(ctx: Ctx, argv: string[]): Promise<void> {
  const o = parseArgs(argv, ["since"], []);
  if (o.args.length && o.args[0] !== "list") throw new UsageError(`unexpected argument ${o.args[0]}`);
  const s = one(o, "since");
  const c = await ctx.client();
  const recs = await c.auditList(s === undefined ? undefined : intArg(s, "--since", 0, Number.MAX_SAFE_INTEGER));
  if (ctx.json) return printJson(ctx, recs);
  ctx.out(
    table(
      ["SEQ", "TIME_MS", "METHOD", "RESULT", "PARAMS"],
      recs.map((r) => [r.seq, r.ts_ms, r.method, r.ok ? "ok" : `error ${r.error?.code}: ${r.error?.message}`, JSON.stringify(r.params)]),
    ),
  );
}

async function cmdVm(ctx: Ctx, argv: string[]): Promise<void> {
  const o = parseArgs(argv, [], []);
  const [sub, name, ...rest] = o.args;
  if (rest.length) throw new UsageError(`unexpected argument ${rest[0]}`);
  const c = await ctx.client();
  if (sub === "list") {
    const vms = await c.vmList();
    if (ctx.json) return printJson(ctx, vms);
    return ctx.out(
      table(
        ["NAME", "STATE", "VCPUS", "MEMORY_MIB", "PORTS", "EXITS", "REASON"],
        vms.map((v) => [v.name, v.state, v.vcpus, v.memory_mib, v.ports.join(",") || "-", v.exits.total, v.reason ?? ""]),
      ),
    );
  }
  if (sub === "start" || sub === "stop" || sub === "pause" || sub === "resume" || sub === "reset") {
    if (!name) throw new UsageError(`vm ${sub}: NAME is required`);
    const v = await c.vm(sub, name);
    return ctx.json ? printJson(ctx, v) : ctx.out(`${v.name}: ${v.state}`);
  }
  throw new UsageError(`vm: unknown subcommand ${sub ?? "(none)"}`);
}

async function cmdSystem(ctx: Ctx, argv: string[]): Promise<void> {
  const o = parseArgs(argv, [], []);
  if ((o.args[0] !== "info" && o.args[0] !== "memory") || o.args.length > 1) throw new UsageError("system: the subcommand is info or memory");
  const c = await ctx.client();
  if (o.args[0] === "memory") {
    const m = await c.call<{ heap_bytes: number; collections: number }>("system.memory");
    if (ctx.json) return printJson(ctx, m);
    return ctx.out([`heap:        ${(m.heap_bytes / 1024).toFixed(0)} KiB`, `collections: ${m.collections}`].join("\n"));
  }
  const s = await c.systemInfo();
  if (ctx.json) return printJson(ctx, s);
  ctx.out(
    [
      `name:        ${s.name}`,
      `version:     ${s.version} (api ${s.api})`,
      `virt:        ${s.virt}`,
      `cpus:        ${s.cpus}`,
      `memory:      ${s.memory_mib} MiB`,
      `uptime:      ${(s.uptime_ms / 1000).toFixed(1)} s`,
    ].join("\n"),
  );
}

async function cmdCall(ctx: Ctx, argv: string[]): Promise<void> {
  const o = parseArgs(argv, [], []);
  const [method, params, ...rest] = o.args;
  if (!method) throw new UsageError("call: METHOD is required");
  if (rest.length) throw new UsageError(`unexpected argument ${rest[0]}`);
  let p: object | undefined;
  if (params !== undefined) {
    try {
      p = JSON.parse(params);
    } catch (e) {
      throw new UsageError(`call: params are not JSON: ${(e as Error).message}`);
    }
  }
  const c = await ctx.client();
  const r = await c.call(method, p);
  ctx.out(JSON.stringify(r, null, 2));
}

const COMMANDS: Record<string, (ctx: Ctx, argv: string[]) => Promise<void>> = {
  port: cmdPort,
  qos: cmdQos,
  security: cmdSecurity,
  mirror: cmdMirror,
  fdb: cmdFdb,
  stats: cmdStats,
  config: cmdConfig,
  audit: cmdAudit,
  vm: cmdVm,
  system: cmdSystem,
  call: cmdCall,
};

/** Runs tvctl with argv; returns the exit status. */
export async function main(argv: string[], out = (s: string) => console.log(s), err = (s: string) => console.error(s)): Promise<number> {
  // global options may come before the command
  let mgmt = process.env.TVCTL_MGMT || DEFAULT_MGMT;
  let json = false;
  let timeout = 10_000;
  let wantHelp = false;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--mgmt" || a.startsWith("--mgmt=")) {
      const v = a.includes("=") ? a.slice(7) : argv[++i];
      if (!v) {
        err("tvctl: --mgmt needs an address");
        return 2;
      }
      mgmt = v;
    } else if (a === "--json") json = true;
    else if (a === "--timeout" || a.startsWith("--timeout=")) {
      const v = a.includes("=") ? a.slice(10) : argv[++i];
      if (!v || !/^\d+$/.test(v)) {
        err("tvctl: --timeout needs milliseconds");
        return 2;
      }
      timeout = Number(v);
    } else if (a === "--help" || a === "-h") wantHelp = true;
    else rest.push(a);
  }
  const cmd = rest[0];
  if (wantHelp || !cmd || cmd === "help") {
    const topic = cmd === "help" ? rest[1] ?? "" : cmd ?? "";
    out(help(topic));
    return cmd || wantHelp || cmd === "help" ? 0 : 2;
  }
  const f = COMMANDS[cmd];
  if (!f) {
    err(`tvctl: unknown command ${cmd} (tvctl --help lists them)`);
    return 2;
  }
  let client: Client | undefined;
  const ctx: Ctx = {
    json,
    out,
    client: async () => (client ??= await connect(mgmt, { timeoutMs: timeout })),
  };
  try {
    await f(ctx, rest.slice(1));
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      err(`tvctl ${cmd}: ${e.message}\n(tvctl ${cmd} --help for usage)`);
      return 2;
    }
    if (e instanceof RpcError) {
      err(`tvctl: ${e.message}`);
      return 1;
    }
    if (e instanceof TransportError) {
      err(`tvctl: ${e.message}`);
      return 3;
    }
    err(`tvctl: ${(e as Error).message ?? e}`);
    return 1;
  } finally {
    client?.close();
  }
}

const isMain = process.argv[1] && /tvctl(\.ts|\.mjs)?$/.test(process.argv[1]);
if (isMain) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
