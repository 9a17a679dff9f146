import { describe, expect, it } from "vitest";
import { benchEndToEnd, benchModelsOnly, e2ePhases, type E2eResult } from "../../src/bench/e2e.js";
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
    expect(keys).toHaveLength(2 * 2 * 4 + 2 + 2); // workloads x policies x line modes, osv's first touches on the host, YCSB-A's line thread alone (SMALL has no load phase row)
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
          // the warm-up round's rate, apart from the median's runs
          expect(r.firstRunAccessesPerSecond).toBeGreaterThan(0);
          expect(r.runShare).toBeGreaterThan(0);
          expect(r.runShare).toBeLessThanOrEqual(1);
          // the line cache's setting changes where the time goes, never the workload's accesses
          expect(r.accesses).toBe(models[w]!.accesses);
        }
        expect(thread.sameAsExact).toBe(true);
        if (policy === "osv") expect(rows[`${w}/osv/thread/host-faults`]!.sameAsExact).toBe(true);
        if (w === "ycsb-a") expect(rows[`${w}/${policy}/line-thread`]!.sameAsExact).toBe(true);
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

describe("npm run bench: YCSB-A's phases", () => {
  const row = (accesses: number, rate: number, main?: number): E2eResult => ({
    accessesPerSecond: rate, cpuAccessesPerSecond: rate / 2, ...(main ? { mainCpuAccessesPerSecond: main } : {}),
    accesses, runs: [rate], firstRunAccessesPerSecond: rate, runShare: 0.5, dataLines: 0, dataLinesPerSecond: 0, throughputOpsPerSecond: 1,
  });

  it("takes the load phase's accesses and seconds from the whole run's (hand-computed)", () => {
    // whole: 3,000,000 accesses in 0.2 s (main 0.15 s); load: 600,000 in 0.08 s (main 0.06 s);
    // so the run phase: 2,400,000 in 0.12 s = 20 M/s, main 0.09 s = 26.67 M/s
    const phases = e2ePhases({
      "ycsb-a/osv/thread": row(3_000_000, 15e6, 20e6),
      "ycsb-a-load/osv/thread": row(600_000, 7.5e6, 10e6),
      "ycsb-a/ucat": row(3_000_000, 30e6), // no load-phase row: left out
      "memslap/osv": row(5_000_000, 20e6, 20e6),
    });
    expect(Object.keys(phases)).toEqual(["ycsb-a/osv/thread"]);
    const p = phases["ycsb-a/osv/thread"]!;
    expect(p.loadAccessShare).toBe(0.2);
    expect(p.loadTimeShare).toBe(0.4);
    expect(p.runAccessesPerSecond).toBe(20_000_000);
    expect(p.runMainCpuAccessesPerSecond).toBe(26_666_667);
  });

  it("leaves the main thread's run-phase rate out when a row has no main-thread time, and a rate out when the load took as long", () => {
    const p = e2ePhases({ "ycsb-a/osv": row(3_000_000, 15e6), "ycsb-a-load/osv": row(600_000, 7.5e6) })["ycsb-a/osv"]!;
    expect(p.runAccessesPerSecond).toBe(20_000_000);
    expect(p.runMainCpuAccessesPerSecond).toBeUndefined();
    // load 600,000 at 3 M/s = 0.2 s, as long as the whole run
    const q = e2ePhases({ "ycsb-a/osv": row(3_000_000, 15e6, 15e6), "ycsb-a-load/osv": row(600_000, 3e6, 3e6) })["ycsb-a/osv"]!;
    expect(q.runAccessesPerSecond).toBeUndefined();
    expect(q.runMainCpuAccessesPerSecond).toBeUndefined();
    expect(q.loadTimeShare).toBe(1);
  });

  it("splits the bench's own small rows: the load phase is part of the whole run", async () => {
    const small: Job["workload"][] = [
      { name: "ycsb-a", type: "ycsb", workload: "a", options: { recordCount: 2_000, operationCount: 10_000 } },
      { name: "ycsb-a-load", type: "ycsb", workload: "a", options: { recordCount: 2_000, operationCount: 0 } },
    ];
    const rows = await benchEndToEnd(1, undefined, small, 0);
    // the load phase runs no operations: no throughput for a sampled row's estimate to be off from
    for (const policy of ["osv", "ucat"]) {
      expect(rows[`ycsb-a-load/${policy}`]!.throughputOpsPerSecond).toBe(0);
      expect(rows[`ycsb-a-load/${policy}/sampled16`]!.estimateError).toBeUndefined();
      expect(rows[`ycsb-a/${policy}/sampled16`]!.estimateError).toBeDefined();
    }
    const phases = e2ePhases(rows);
    expect(Object.keys(phases).sort()).toEqual(Object.keys(rows).filter((k) => k.startsWith("ycsb-a/")).sort());
    for (const [k, p] of Object.entries(phases)) {
      expect(rows[k.replace("ycsb-a/", "ycsb-a-load/")]!.accesses).toBeLessThan(rows[k]!.accesses);
      expect(p.loadAccessShare).toBeGreaterThan(0);
      expect(p.loadAccessShare).toBeLessThan(1);
      // (tiny runs on a noisy machine may leave the run phase no time: then no rate, never a negative one)
      if (p.runAccessesPerSecond !== undefined) expect(p.runAccessesPerSecond).toBeGreaterThan(0);
    }
  }, 120_000);
});
