// virtio-net: the device model and its virtio-pci transport (see src/virtio/README.md for the data path).

export * from "./net";
export * from "./pci";
export * from "./port";
export * from "./datapath";
export * from "./nic-loop";
