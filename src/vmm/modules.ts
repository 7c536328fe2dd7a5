// Boot modules as GUESTS.md defines them: a Linux bzImage (`name= mem= [mac=]
// [vcpus=1] [-- cmdline]`), its initramfs (`initrd=NAME`), a `switch-config`
// document, or a flat test guest (`name= mem= param=`). Every bad module gets
// one "[vmm] module N: skipped: ..." line; the others still start.

import { MbModule } from "../platform/multiboot";
import { isValidName, parseMem, parseNumber } from "../lib/parse";
import { parseMac, BAD_MAC } from "../vswitch/mac";
import { Monitor } from "./monitor";
import { LinuxImage, Vm, GUEST_LOAD } from "./vm";
import { GuestRam } from "./guest-ram";
import { parseBzImage } from "./linux/bzimage";
import { vlog, vwarn } from "./log";
import { VmOp } from "../mgmt-api/vm";
import { tscHz } from "../platform/tsc";

const MIB: u64 = 1 << 20;
/** Flat test guests: room for the load address and a stack; 256 MiB at most. */
const FLAT_MEM_MIN: u64 = 64 << 10;
const FLAT_MEM_MAX: u64 = 256 << 20;
/** Linux VMs (GUESTS.md): 32 MiB to 4 GiB. */
const LINUX_MEM_MIN: u64 = 32 << 20;
const LINUX_MEM_MAX: u64 = 4 << 30;
/** Boot modules taken (GUESTS.md: at least 32; boot/mbinfo.S keeps 32 for multiboot 1). */
export const MAX_MODULES = 32;

/** A module's words: key=value pairs before `--`, the kernel command line after it. */
class Words {
  keys: Array<string> = new Array<string>();
  values: Array<string> = new Array<string>();
  flags: Array<string> = new Array<string>();
  /** Everything after the word `--`, as written (null: no `--`). */
  cmdline: string | null = null;

  get(key: string): string | null {
    for (let i = 0; i < this.keys.length; i++) if (this.keys[i] == key) return this.values[i];
    return null;
  }
  has(flag: string): bool {
    return this.flags.includes(flag);
  }
}

function splitWords(text: string): Words {
  const w = new Words();
  const dash = text.startsWith("-- ") ? 0 : text.indexOf(" -- ");
  let head = text;
  if (dash >= 0 || text == "--" || text.endsWith(" --")) {
    const cut = dash >= 0 ? dash : text.length - 2;
    const rest = dash >= 0 ? text.substring(dash + (dash == 0 ? 3 : 4)) : "";
    w.cmdline = rest;
    head = text.substring(0, cut);
  }
  const parts = head.split(" ");
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (p.length == 0) continue;
    const eq = p.indexOf("=");
    if (eq < 0) w.flags.push(p); // the file's path (QEMU puts it first) or a flag such as switch-config
    else {
      w.keys.push(p.substring(0, eq));
      w.values.push(p.substring(eq + 1));
    }
  }
  return w;
}

/** True when the module holds a bzImage: "HdrS" at 0x202 (Documentation/x86/boot.rst). */
function isBzImage(m: MbModule): bool {
  const win = new GuestRam(m.start, m.end - m.start);
  return win.contains(0x202, 4) && win.load32(0x202) == 0x53726448;
}

/** The switch-config documents found among the modules, applied once every VM and port exists. */
export const switchConfigs = new Array<MbModule>();

/** The default MAC of VM `id` (GUESTS.md): 02:74:76 and the id in the low 24 bits. */
export function defaultMac(id: i32): u64 {
  return (<u64>0x027476 << 24) | (<u64>id & 0xffffff);
}

export function setupModuleVms(m: Monitor, mods: Array<MbModule>): void {
  let first: Vm | null = null;
  const initrdFor = new Array<string>();
  const initrdIdx = new Array<i32>();
  for (let i = 0; i < mods.length; i++) {
    const mod = mods[i];
    const tag = "module " + i.toString() + ": ";
    if (mod.refused.length > 0) {
      vwarn(tag + "skipped: " + mod.refused);
      continue;
    }
    if (i >= MAX_MODULES) {
      vwarn(tag + "skipped: at most " + MAX_MODULES.toString() + " modules");
      continue;
    }
    const w = splitWords(mod.text);
    if (w.has("switch-config")) {
      switchConfigs.push(mod);
      vlog(tag + "switch configuration (" + (mod.end - mod.start).toString() + " bytes)");
      continue;
    }
    const initrd = w.get("initrd");
    if (initrd !== null) {
      initrdFor.push(initrd);
      initrdIdx.push(i);
      continue;
    }
    const linux = isBzImage(mod);
    // words after `--` are a kernel's command line: a module with them that is no bzImage is a mistake
    const bad = linux ? linuxVm(m, mod, w, tag) : w.cmdline !== null ? "not a Linux bzImage (no \"HdrS\" at 0x202), yet it has a kernel command line" : flatVm(m, mod, w, tag, first);
    if (bad.length > 0) vwarn(tag + "skipped: " + bad);
    else if (!first && m.vms.length > 0) first = m.vms[m.vms.length - 1];
  }
  // initramfs modules, in any order relative to their VMs
  for (let k = 0; k < initrdFor.length; k++) {
    const tag = "module " + initrdIdx[k].toString() + ": ";
    const vm = m.find(initrdFor[k]);
    const mod = mods[initrdIdx[k]];
    if (!vm || !vm.linux) {
      vwarn(tag + "skipped: initrd for " + (vm ? "the non-Linux VM " : "an unknown VM ") + initrdFor[k]);
      continue;
    }
    const img = <LinuxImage>vm.linux;
    if (img.initrdLen > 0) {
      vwarn(tag + "skipped: a second initrd for " + vm.name);
      continue;
    }
    img.initrdPa = mod.start;
    img.initrdLen = mod.end - mod.start;
    vlog(tag + "initrd of " + vm.name + " (" + img.initrdLen.toString() + " bytes)");
  }
  // Linux VMs start once their initramfs is known
  for (let i = 0; i < m.vms.length; i++) {
    const vm = m.vms[i];
    if (!vm.linux) continue;
    if (m.change(vm, VmOp.Start) != 0) vwarn("VM " + vm.name + " not started: " + (vm.loadError.length > 0 ? vm.loadError : "no memory"));
  }
}

function linuxVm(m: Monitor, mod: MbModule, w: Words, tag: string): string {
  const name = w.get("name");
  if (name === null || !isValidName(<string>name)) return "a Linux VM needs name= (1-32 characters of A-Z a-z 0-9 . _ -)";
  if (m.find(<string>name)) return "duplicate name " + <string>name;
  const memWord = w.get("mem");
  const mem = memWord === null ? -1 : parseMem(<string>memWord);
  if (mem < 0 || <u64>mem < LINUX_MEM_MIN || <u64>mem > LINUX_MEM_MAX || (<u64>mem & 0x1fffff) != 0) {
    return "bad mem=" + (memWord === null ? "(missing)" : <string>memWord) + " (32M to 4G, a multiple of 2 MiB)";
  }
  const vcpus = w.get("vcpus");
  if (vcpus !== null && parseNumber(<string>vcpus) != 1) return "vcpus=" + <string>vcpus + ": one vCPU per VM for now";
  let mac: u64 = BAD_MAC;
  const macWord = w.get("mac");
  if (macWord !== null) {
    mac = parseMac(<string>macWord);
    if (mac == BAD_MAC || (mac & (<u64>1 << 40)) != 0 || mac == 0) return "bad mac=" + <string>macWord + " (a unicast MAC like 02:00:00:00:00:01)";
  }
  for (let k = 0; k < w.keys.length; k++) {
    const key = w.keys[k];
    if (key != "name" && key != "mem" && key != "vcpus" && key != "mac") vwarn(tag + "unknown option " + key + "= ignored");
  }
  const img = parseBzImage(new GuestRam(mod.start, mod.end - mod.start));
  if (!img.ok()) return img.error;
  const vm = m.create(<string>name, -1, <u64>mem);
  if (!vm) return "no memory for " + <string>name + " (" + (<u64>mem >> 20).toString() + " MiB)";
  const li = new LinuxImage();
  li.kernelPa = mod.start;
  li.kernelLen = mod.end - mod.start;
  // GUESTS.md: the user's words as written; the monitor appends what the guest needs to know about its TSC
  // (documented in docs/GUESTS.md): its rate, as there is no PIT or HPET to calibrate against, and that it
  // is reliable: it is the host's TSC, the clock the monitor itself keeps time with, never offset or
  // scaled. Without `tsc=reliable`, Linux's clocksource watchdog (no HPET or PM timer: it falls back to
  // jiffies) marked the TSC unstable in some loaded boots, and guest time then ran on refined-jiffies.
  const user = w.cmdline !== null ? <string>w.cmdline : "console=ttyS0";
  li.cmdline = user + " tsc_early_khz=" + (tscHz / 1000).toString() + " tsc=reliable";
  vm.linux = li;
  vm.mac = mac != BAD_MAC ? mac : defaultMac(vm.id);
  vlog(tag + "Linux VM " + <string>name + " (" + li.kernelLen.toString() + " bytes, boot protocol " +
    (img.version >> 8).toString() + "." + (img.version & 0xff).toString() + ")");
  return "";
}

function flatVm(m: Monitor, mod: MbModule, w: Words, tag: string, first: Vm | null): string {
  let name = "mod-" + tag.substring(7, tag.length - 2);
  let mem: u64 = MIB;
  let param: u64 = 0;
  for (let k = 0; k < w.keys.length; k++) {
    const key = w.keys[k];
    const val = w.values[k];
    if (key == "name") {
      if (!isValidName(val)) return "bad name \"" + val + "\" (1-32 characters of A-Z a-z 0-9 . _ -)";
      name = val;
    } else if (key == "mem") {
      const b = parseMem(val);
      if (b < 0 || <u64>b < FLAT_MEM_MIN || <u64>b > FLAT_MEM_MAX || (<u64>b & 0xfff) != 0) {
        return "bad mem=" + val + " (64 KiB to 256 MiB, a multiple of 4 KiB; e.g. 512K, 2M)";
      }
      mem = <u64>b;
    } else if (key == "param") {
      const p = parseNumber(val);
      if (p < 0) return "bad param=" + val + " (decimal or 0x hex)";
      param = <u64>p;
    } else {
      vwarn(tag + "unknown option " + key + "= ignored");
    }
  }
  if (m.find(name)) return "duplicate name " + name;
  const len = mod.end - mod.start;
  if (len > mem - GUEST_LOAD) {
    return "image of " + len.toString() + " bytes does not fit in " + (mem >> 10).toString() + " KiB of guest RAM above 0x1000";
  }
  const vm = m.create(name, -1, mem);
  if (!vm) return "no memory for " + name;
  vm.modPa = mod.start;
  vm.modLen = len;
  vm.param = param;
  // like the embedded hostile guest: RCX = another VM's host-physical RAM
  vm.peerPa = first ? first.ramPa : vm.ramPa;
  vlog(tag + "VM " + name + " (" + len.toString() + " bytes, param " + param.toString() + ")");
  m.change(vm, VmOp.Start);
  return "";
}
