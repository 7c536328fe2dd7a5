// The virtqueue fuzzer's short run (20,000 cases) in the suite; `npx tsx test/virtio/fuzz.ts --long` runs 1,000,000.
import { expect, test } from "vitest";
import { fuzz } from "./fuzz";

test("20,000 random and mutated ring states: the device agrees with the reference walker, no access outside memory", async () => {
  const seed = process.env.VIRTIO_FUZZ_SEED !== undefined ? Number(process.env.VIRTIO_FUZZ_SEED) >>> 0 : (Date.now() >>> 0);
  console.log(`virtio fuzz seed ${seed} (replay: VIRTIO_FUZZ_SEED=${seed} npx tsx test/virtio/fuzz.ts)`);
  const s = await fuzz(Number(process.env.VIRTIO_FUZZ_CASES ?? 20_000), seed);
  // Every kind of outcome was exercised, not only faults.
  expect(s.completions).toBeGreaterThan(s.cases / 5);
  expect(s.ringFaults).toBeGreaterThan(s.cases / 5);
  expect(Object.keys(s.byFault).length).toBeGreaterThanOrEqual(14);
});
