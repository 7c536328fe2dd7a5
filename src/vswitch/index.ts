// Typevisor's layer-2 virtual switch: the public API (see README.md).

export * from "./config";
export * from "./mac";
export * from "./pool";
export * from "./bucket";
export * from "./fdb";
export * from "./port";
export * from "./switch";
export * from "./ready";
