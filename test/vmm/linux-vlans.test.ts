// The switch on the wire (issue 12): three Linux VMs with virtio-net NICs on QEMU TCG (AMD-V). A
// `switch-config` module puts lin1 and lin2 on VLAN 10 and lin3 on VLAN 20 at boot; lin1 reaches lin2 and
// not lin3; moved to VLAN 10 with port.set at run time, lin3 answers too. Commands are typed into lin1's
// shell with vm.console_write.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildVmmImage, guestMaterial, QemuSession, Rpc } from "./helpers";
import { root } from "../../scripts/lib/emulators";

const run = (cmd: string) => `tv.run=${cmd.replace(/%/g, "%25").replace(/ /g, "%20")}`;
const CONFIG = "build/vmm/switch-config-vlans.json";



describe("VLANs between Linux VMs (switch-config at boot, port.set at run time)", () => {
  let q: QemuSession;
  let rpc: Rpc;
  let marks = 0;

  /** Types a command into lin1's shell and waits for its end marker; returns lin1's lines in between. */
  async function sh(cmd: string, ms = 120_000): Promise<string> {
    const mark = `DONE-${++marks}`;
    await rpc.call("vm.console_write", { name: "lin1", data: `${cmd}; echo ${mark}\n` });
    await q.waitFor(new RegExp(`\\[lin1\\] ${mark}\\n`), ms);
    const at = q.serial.lastIndexOf(`[lin1] ${mark}`);
    const from = q.serial.lastIndexOf(cmd.slice(0, 20), at);
    return q.serial.slice(from, at);
  }

  beforeAll(async () => {
    await guestMaterial();
    await buildVmmImage();
    writeFileSync(join(root, CONFIG), JSON.stringify({
      ports: [
        { name: "lin1", vlan: { mode: "access", vlan: 10 } },
        { name: "lin2", vlan: { mode: "access", vlan: 10 } },
        { name: "lin3", vlan: { mode: "access", vlan: 20 } },
      ],
    }, null, 2)); // line breaks on purpose: the monitor reads a multi-line document
    const vm = (name: string, ip: string, extra = "") => [
      `build/linux/bzImage name=${name} mem=128M -- console=ttyS0 quiet ${run(`ip addr add ${ip}/24 dev eth0`)} ${extra}`,
      `build/linux/initramfs.cpio.gz initrd=${name}`,
    ];
    const modules = [...vm("lin1", "10.0.0.1"), ...vm("lin2", "10.0.0.2"), ...vm("lin3", "10.0.0.3"), `${CONFIG} switch-config`].join(",");
    q = new QemuSession("loglevel=info", { cpu: "EPYC,+svm,+npt", initrd: modules, timeoutS: 900, memoryMiB: 1024 });
    rpc = await Rpc.open(q.socketPath);
  }, 900_000);
  afterAll(() => {
    rpc?.close();
    q?.stop();
  });

  it("applies the switch-config module once the VM ports exist", async () => {
    await q.waitFor(/\[boot\] switch-config: (applied|invalid)/, 120_000);
    expect(q.serial).toMatch(/\[boot\] switch-config: applied/);
    const ports = await rpc.call("port.list");
    const vlan = (n: string) => ports.find((p: any) => p.name === n).vlan;
    expect(vlan("lin1")).toEqual({ mode: "access", vlan: 10 });
    expect(vlan("lin3")).toEqual({ mode: "access", vlan: 20 });
  }, 200_000);

  it("same VLAN answers, another VLAN does not, and after port.set it does", async () => {
    for (const n of ["lin1", "lin2", "lin3"]) await q.waitFor(new RegExp(`\\[${n}\\] Enter 'help'`), 600_000);
    expect(await sh("ping -c 2 -W 2 10.0.0.2")).toMatch(/2 packets transmitted, 2 packets received/);
    expect(await sh("ping -c 2 -W 2 10.0.0.3")).toMatch(/2 packets transmitted, 0 packets received/);
    await rpc.call("port.set", { port: "lin3", vlan: { mode: "access", vlan: 10 } });
    expect(await sh("ping -c 2 -W 2 10.0.0.3")).toMatch(/2 packets transmitted, 2 packets received/);
    const lin3 = (await rpc.call("port.list")).find((p: any) => p.name === "lin3");
    expect(lin3.stats.rx_packets).toBeGreaterThan(0);
  }, 900_000);
});
