// The PCI building blocks device models and the VMM use: the function base class, MSI-X and the mechanism-1 host.

export * from "./regs";
export * from "./msix";
export * from "./function";
export * from "./host";
