import { describe, expect, it } from "vitest";
import { benchEndToEnd, benchModelsOnly } from "../../src/bench/e2e.js";
import type { Job } from "../../src/sim/jobs.js";

// Small runs of the bench's own rows: it must measure what it says (the sizes are the bench's business).
const SMALL: Job["workload"][] = [
  { name: "memslap", type: "memslap", options: { operations: 20_000, concurrency: 2, windowSize: 1024, server: { memoryLimit: 16 * 2 ** 20 } } },
  { name: "ycsb-a", type: "ycsb", workload: "a", options: { recordCount: 2_000, operationCount: 10_000 } },
];

describe("npm run bench: end to end", () => {
  it("measures every row, checks the line thread's results against the exact row's, and the models alone do the same work", async () => {
    const rows = await benchEndToEnd(1, undefined, SMALL);
    const models = await benchModelsOnly(1, undefined, SMALL);
    const keys = Object.keys(rows);
    expect(keys).toHaveLength(2 * 2 * 4 + 2); // workloads x policies x line modes, and osv's first touches on the host
    for (const w of ["memslap", "ycsb-a"]) {
      for (const policy of ["osv", "ucat"]) {
        const exact = rows[`${w}/${policy}`]!;
        const thread = rows[`${w}/${policy}/thread`]!;
        const sampled = rows[`${w}/${policy}/sampled16`]!;
        const walks = rows[`${w}/${policy}/walks`]!;
        for (const r of [exact, thread, sampled, walks]) {
          for (const rate of [r.accessesPerSecond, r.cpuAccessesPerSecond]) {
            expect(rate).toBeGreaterThan(0);
            expect(Number.isFinite(rate)).toBe(true);
          }
          if (process.platform === "linux") {
            // the main thread's CPU time is part of the process's: its rate is at least the process's
            expect(r.mainCpuAccessesPerSecond).toBeGreaterThanOrEqual(r.cpuAccessesPerSecond * 0.99);
            expect(Number.isFinite(r.mainCpuAccessesPerSecond!)).toBe(true);
          }
          expect(r.runs).toHaveLength(1);
          expect(r.runShare).toBeGreaterThan(0);
          expect(r.runShare).toBeLessThanOrEqual(1);
          // the line cache's setting changes where the time goes, never the workload's accesses
          expect(r.accesses).toBe(models[w]!.accesses);
        }
        expect(thread.sameAsExact).toBe(true);
        if (policy === "osv") expect(rows[`${w}/osv/thread/host-faults`]!.sameAsExact).toBe(true);
        expect(thread.speedup).toBeGreaterThan(0);
        expect(thread.dataLines).toBe(exact.dataLines);
        expect(walks.dataLines).toBe(0);
        expect(exact.dataLines).toBeGreaterThan(0);
        expect(Math.abs(sampled.estimateError!)).toBeLessThan(0.05);
      }
      for (const rate of [models[w]!.accessesPerSecond, models[w]!.cpuAccessesPerSecond]) {
        expect(rate).toBeGreaterThan(0);
        expect(Number.isFinite(rate)).toBe(true);
      }
    }
  }, 120_000);
});
