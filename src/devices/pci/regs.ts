// PCI configuration-space layout of a type-0 header and the constants the models share (PCI local bus 3.0 ch. 6).

// Header offsets (PCI 3.0 6.1, figure 6-1).
export const PCI_VENDOR_ID: u32 = 0x00;
export const PCI_DEVICE_ID: u32 = 0x02;
export const PCI_COMMAND: u32 = 0x04;
export const PCI_STATUS: u32 = 0x06;
export const PCI_REVISION: u32 = 0x08;
export const PCI_CLASS_PROG: u32 = 0x09;
export const PCI_CACHE_LINE: u32 = 0x0c;
export const PCI_LATENCY: u32 = 0x0d;
export const PCI_HEADER_TYPE: u32 = 0x0e;
export const PCI_BAR0: u32 = 0x10;
export const PCI_SUBSYS_VENDOR: u32 = 0x2c;
export const PCI_SUBSYS_ID: u32 = 0x2e;
export const PCI_ROM: u32 = 0x30;
export const PCI_CAP_PTR: u32 = 0x34;
export const PCI_INT_LINE: u32 = 0x3c;
export const PCI_INT_PIN: u32 = 0x3d;
/** First byte after the predefined header: capabilities live in [0x40, 0x100). */
export const PCI_CAP_START: u32 = 0x40;
/** Conventional configuration space (mechanism 1 reaches 256 bytes). */
export const PCI_CONFIG_SIZE: u32 = 0x100;

// Command register bits (PCI 3.0 6.2.2).
export const CMD_IO: u32 = 1 << 0;
export const CMD_MEMORY: u32 = 1 << 1;
export const CMD_BUS_MASTER: u32 = 1 << 2;
export const CMD_PARITY: u32 = 1 << 6;
export const CMD_SERR: u32 = 1 << 8;
export const CMD_INTX_DISABLE: u32 = 1 << 10;
/** The bits a guest may change; the rest (special cycles, MWI, VGA snoop, fast back-to-back) are hard-wired 0. */
export const CMD_WRITABLE: u32 = CMD_IO | CMD_MEMORY | CMD_BUS_MASTER | CMD_PARITY | CMD_SERR | CMD_INTX_DISABLE;

// Status register bits (PCI 3.0 6.2.3).
export const STS_INTX: u32 = 1 << 3;
export const STS_CAP_LIST: u32 = 1 << 4;
/** Error bits are write-1-to-clear: master data parity (8), signaled/received target abort (11, 12), master abort (13), SERR (14), parity (15). */
export const STS_W1C: u32 = (1 << 8) | (1 << 11) | (1 << 12) | (1 << 13) | (1 << 14) | (1 << 15);

// Capability IDs (PCI 3.0 appendix H).
export const CAP_ID_MSI: u8 = 0x05;
export const CAP_ID_VENDOR: u8 = 0x09;
export const CAP_ID_MSIX: u8 = 0x11;

/** What a BAR decodes (PCI 3.0 6.2.5.1). */
export enum BarKind {
  None = 0,
  Io = 1,
  Mem32 = 2,
  /** The low half of a 64-bit memory BAR; the next BAR slot is its high half. */
  Mem64 = 3,
  /** The high half of a 64-bit BAR (not usable on its own). */
  Mem64High = 4,
}
