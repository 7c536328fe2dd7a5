// Split virtqueues of virtio 1.2 section 2.7, both sides: the public API (see README.md).

export * from "./ring";
export * from "./barrier";
export * from "./chain";
export * from "./device-queue";
export * from "./driver-queue";
export * from "./copy";
export * from "./device";
