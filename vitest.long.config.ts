// `npm run test:long`: tests that take many minutes (a Linux guest on Bochs), kept out of `npm test`
// (vitest.config.ts includes only *.test.ts). One file at a time: each runs one emulator.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.long.ts"],
    testTimeout: 3_600_000,
    hookTimeout: 900_000,
    pool: "forks",
    poolOptions: { forks: { maxForks: 1, minForks: 1 } },
    fileParallelism: false,
  },
});
