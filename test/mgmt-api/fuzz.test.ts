// The short fuzz run for CI: 30,000 seeded requests in-process (the long run
// is `npm run fuzz`). Set FUZZ_SEED to try another seed.

import { expect, it } from "vitest";
import { runFuzz } from "./fuzz";

it("fuzz: 30k random and mutated requests, no trap, every id answered, failed calls change nothing", async () => {
  const seed = Number(process.env.FUZZ_SEED ?? 20261122);
  const r = await runFuzz({ seed, count: 30_000 });
  console.log(`fuzz seed ${seed}: ${r.requests} requests, ${r.responses} responses, ${r.stateChecks} state checks, ${Math.round((r.requests / r.ms) * 1000)}/s`);
  expect(r.requests).toBe(30_000);
  // hostile input does not grow the heap without bound (64 KiB lines, 1 MiB audit, GC'd parse trees)
  expect(r.memoryBytes).toBeLessThan(64 * 1048576);
  // the mix reaches every outcome class: success, each protocol error, application errors
  for (const code of ["ok", "-32700", "-32600", "-32601", "-32602", "1", "2"]) expect(r.errors[code] ?? 0).toBeGreaterThan(0);
});
