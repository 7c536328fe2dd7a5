// V8 build of the switch benchmark.
export { setup, run, runBaseline } from "./core";
