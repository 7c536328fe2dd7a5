// Garbage collection in the monitor. The image is built with asc --runtime minimal (asconfig.json): no shadow
// stack, and the collector runs only when called. It is called only here, from the top of the main loop (src/system.ts)
// loop, where every object still in use is reachable from a module global (docs/ABI.md "Garbage collection").
import { rdtsc } from "./hw";

/** TSC ticks between collections while the heap does not grow (70-200 ms at 1-3 GHz): a few per second. */
const INTERVAL_TSC: u64 = 200_000_000;

let lastTsc: u64 = 0;
let pagesAtLast: i32 = 0;
/** Full collections run so far (system.memory reports it). */
export let gcCollections: i64 = 0;

/**
 * The main loop's safe point: collects when linear memory grew since the last collection (the allocator ran
 * out of free blocks), or when INTERVAL_TSC has passed. Call it only where no managed object is held by a
 * wasm local alone: the minimal runtime does not scan the stack.
 */
export function gcSafePoint(): void {
  const pages = <i32>memory.size();
  const now = rdtsc();
  if (pages == pagesAtLast && now - lastTsc < INTERVAL_TSC) return;
  __collect();
  gcCollections++;
  lastTsc = rdtsc();
  pagesAtLast = <i32>memory.size();
}
