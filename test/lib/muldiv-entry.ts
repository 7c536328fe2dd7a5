// The wasm entry for test/lib/muldiv.test.ts: src/lib/muldiv.ts exported as it is.
export { mulDiv } from "../../src/lib/muldiv";
