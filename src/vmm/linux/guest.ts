// A Linux VM's guest RAM made ready in one call: ACPI tables and the 64-bit boot protocol state, with the E820 map and acpi_rsdp_addr agreeing on where the tables are.

import { BoundedMemory } from "../../lib/bounded-memory";
import { AcpiConfig, acpiMaxSize, buildAcpi } from "../../devices/acpi";
import { LinuxBootConfig, LinuxEntry, setupLinux } from "./boot";

/** Where the tables go by default: the BIOS area a legacy scan also searches (ACPI 6.4 5.2.5.1), outside the E820 RAM. */
export const ACPI_DEFAULT_BASE: u64 = 0xe0000;
/** The region reserved for them (0xE0000-0xFFFFF). */
export const ACPI_DEFAULT_REGION: u64 = 0x20000;

/**
 * Builds the tables described by `acpi` at `acpiBase` and loads the kernel
 * (and initrd) with `cmdline`. The E820 map reserves [acpiBase, acpiBase +
 * region) as ACPI data and boot_params.acpi_rsdp_addr points at the RSDP.
 * Returns the entry state, or one with `error` set.
 */
export function prepareLinux(
  kernel: BoundedMemory,
  initrd: BoundedMemory | null,
  ram: BoundedMemory,
  cmdline: string,
  acpi: AcpiConfig,
  acpiBase: u64 = ACPI_DEFAULT_BASE,
  acpiRegion: u64 = ACPI_DEFAULT_REGION,
): LinuxEntry {
  const cfg = new LinuxBootConfig();
  cfg.cmdline = cmdline;
  if (acpiRegion < acpiMaxSize(acpi)) {
    const e = new LinuxEntry();
    e.error = "the ACPI region of 0x" + acpiRegion.toString(16) + " bytes is smaller than the tables may need";
    return e;
  }
  const l = buildAcpi(ram, acpiBase, acpi);
  if (l == null) {
    const e = new LinuxEntry();
    e.error = "the ACPI tables do not fit at 0x" + acpiBase.toString(16);
    return e;
  }
  cfg.acpiBase = acpiBase;
  cfg.acpiSize = acpiRegion;
  cfg.rsdp = l.rsdp;
  return setupLinux(kernel, initrd, ram, cfg);
}
