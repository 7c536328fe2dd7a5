// PCI configuration mechanism 1 (PCI 3.0 3.2.2.3.2): ports 0xCF8 (address) and 0xCFC (data).

import { in32, out32 } from "../hw/mmio";
import { PciConfigAccess } from "./pci";

const CONFIG_ADDRESS: u32 = 0xCF8;
const CONFIG_DATA: u32 = 0xCFC;

/** Polled and single-CPU: the address/data pair is never interleaved with another user. */
export class PortConfigAccess extends PciConfigAccess {
  read32(bdf: u32, off: u32): u32 {
    out32(CONFIG_ADDRESS, 0x80000000 | (bdf << 8) | (off & 0xFC));
    return in32(CONFIG_DATA);
  }
  write32(bdf: u32, off: u32, v: u32): void {
    out32(CONFIG_ADDRESS, 0x80000000 | (bdf << 8) | (off & 0xFC));
    out32(CONFIG_DATA, v);
  }
}

/** True when mechanism 1 is there: the address register keeps what is written (no PCI: reads float to all-ones). */
export function mechanism1Present(): bool {
  const old = in32(CONFIG_ADDRESS);
  out32(CONFIG_ADDRESS, 0x80000000);
  const back = in32(CONFIG_ADDRESS);
  out32(CONFIG_ADDRESS, old);
  return back == 0x80000000;
}
