// The fuzzers' short runs in the suite (20,000 queue cases, 5,000 driver-side and 5,000 device cases); `--long` runs 1,000,000 and 200,000 each.
import { expect, test } from "vitest";
import { fuzz, fuzzDriver, fuzzNet } from "./fuzz";

const seed = process.env.VIRTIO_FUZZ_SEED !== undefined ? Number(process.env.VIRTIO_FUZZ_SEED) >>> 0 : (Date.now() >>> 0);

test("20,000 random and mutated ring states: the device side agrees with the reference walker, no access outside memory", async () => {
  console.log(`virtio fuzz seed ${seed} (replay: VIRTIO_FUZZ_SEED=${seed} npx tsx test/virtio/fuzz.ts)`);
  const s = await fuzz(Number(process.env.VIRTIO_FUZZ_CASES ?? 20_000), seed);
  // Every kind of outcome was exercised, not only faults.
  expect(s.completions).toBeGreaterThan(s.cases / 5);
  expect(s.ringFaults).toBeGreaterThan(s.cases / 5);
  expect(Object.keys(s.byFault).length).toBeGreaterThanOrEqual(14);
});

test("5,000 virtio-net cases: transmit/receive on mutated rings copy what the reference copies, or NEEDS_RESET with one [net] line", async () => {
  const s = await fuzzNet(5_000, seed);
  expect(s.txFrames).toBeGreaterThan(1000);
  expect(s.rxFrames).toBeGreaterThan(1000);
  expect(s.resets).toBeGreaterThan(1000);
}, 120_000);

test("5,000 driver-side cases: a lying device (used idx, id, len) is a fault, never corrupted bookkeeping; recovery by tokens", async () => {
  const s = await fuzzDriver(5_000, seed);
  expect(s.reaped).toBeGreaterThan(10_000);
  expect(Object.keys(s.faults).sort()).toEqual(["19", "20", "21"]);
});
