/**
 * Set sampling of the line cache (`lineSampling`) through the run job and scenario
 * files: the same accesses, totals kept, estimates close to the exact model's on the
 * paper's workloads (small runs here; docs/model.md gives the full-size errors), and
 * bad values rejected by name.
 */
import { describe, expect, it } from "vitest";
import { runJob, type Job, type JobResult } from "../../src/sim/jobs.js";
import { Simulator } from "../../src/sim/simulator.js";
import { parseScenario, runScenario, scenarioJobs } from "../../src/sim/scenario.js";
import type { WorkloadRunResult } from "../../src/workloads/drivers.js";
import { replayTrace } from "../../src/workloads/trace/replay.js";
import { FIXTURE } from "../cli/helpers.js";

const GiB = 2 ** 30;
const MiB = 2 ** 20;
const TIERS: Job["tiers"] = [
  { name: "dram", preset: "dram", capacity: 4 * GiB },
  { name: "nvm", preset: "optane", capacity: 16 * GiB },
];

function job(policy: "osv" | "ucat", workload: Job["workload"], lineSampling?: number): Job {
  return {
    seed: 1,
    tiers: TIERS,
    config: { name: policy, vm: { policy }, nodes: [{ tier: "dram", bytes: 256 * MiB }, { tier: "nvm", bytes: 768 * MiB }] },
    workload,
    ...(lineSampling ? { lineSampling } : {}),
  };
}

const MEMSLAP: Job["workload"] = { name: "memslap", type: "memslap", options: { operations: 40_000, server: { memoryLimit: 32 * MiB } } };
const YCSB_A: Job["workload"] = { name: "ycsb-a", type: "ycsb", workload: "a", options: { recordCount: 5_000, operationCount: 20_000 } };

const rel = (a: number, b: number): number => Math.abs(a / b - 1);

describe("line sampling", () => {
  it.each([
    { name: "memslap", policy: "osv", w: MEMSLAP },
    { name: "ycsb-a", policy: "osv", w: YCSB_A },
    { name: "memslap", policy: "ucat", w: MEMSLAP },
    { name: "ycsb-a", policy: "ucat", w: YCSB_A },
  ] as const)("$name on $policy: 1 set in 16 estimates throughput and data cycles within 1 %", async ({ policy, w }) => {
    const exact: JobResult = await runJob(job(policy, w));
    const sampled: JobResult = await runJob(job(policy, w, 16));
    // the same run: only the line counts are estimated
    expect(sampled.requests).toBe(exact.requests);
    expect(sampled.walkRefs).toBe(exact.walkRefs);
    expect((sampled.result as WorkloadRunResult).accesses).toBe((exact.result as WorkloadRunResult).accesses);
    expect(sampled.cycles.tlb).toBe(exact.cycles.tlb);
    expect(rel(sampled.throughputOpsPerSecond, exact.throughputOpsPerSecond)).toBeLessThan(0.01);
    expect(rel(sampled.cycles.data, exact.cycles.data)).toBeLessThan(0.01);
    // osv walks a lot (4 KiB EPT pages): enough references for a close estimate
    if (policy === "osv") expect(rel(sampled.cycles.walks, exact.cycles.walks)).toBeLessThan(0.05);
  });

  it("keeps the totals and gives the same JSON for the same seed", async () => {
    const a = await runJob(job("osv", YCSB_A, 16));
    const b = await runJob(job("osv", YCSB_A, 16));
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    const sim = await Simulator.create({ tiers: TIERS, lineSampling: 16 });
    const vm = sim.createVm({ policy: "osv", nodes: [{ tier: "dram", bytes: 256 * MiB }] });
    const p = vm.process.malloc(1 << 20);
    for (let off = 0; off < 1 << 20; off += 4096) vm.process.write(p + off, 1024);
    sim.flush();
    const c = vm.counters();
    // every data line is counted: 16 per 1 KiB write, hits and misses together
    expect(c.dataLineHits.reduce((s, x) => s + x, 0) + c.dataLineMisses.flat().reduce((s, x) => s + x, 0)).toBe(256 * 16);
    expect(c.walkRefsCached + c.refMissesByTier.reduce((s, x) => s + x, 0)).toBe(c.walkRefs);
  });

  it("scenario files take a power of two up to the preset's sets, and name the field otherwise", () => {
    const base = { tiers: TIERS, configs: { osv: { policy: "osv", nodes: [{ tier: "dram", bytes: GiB }] } }, workloads: { kv: { type: "kv" } } };
    expect(parseScenario(base).lineSampling).toBe(1);
    expect(scenarioJobs(parseScenario(base))[0]!.lineSampling).toBeUndefined();
    expect(scenarioJobs(parseScenario({ ...base, lineSampling: 16 }))[0]!.lineSampling).toBe(16);
    expect(() => parseScenario({ ...base, lineSampling: 12 })).toThrow(/lineSampling.*power of two/);
    expect(() => parseScenario({ ...base, lineSampling: 4096 })).toThrow(/lineSampling.*at most the line cache's 2048 sets \(cpu skylake\)/);
    expect(() => parseScenario({ ...base, lineCache: "off", lineSampling: 4 })).toThrow(/lineSampling.*sampling needs a line cache/);
  });

  it("a scenario's report says it sampled, and an exact one's says nothing new", async () => {
    const base = {
      tiers: TIERS,
      configs: { osv: { policy: "osv", nodes: [{ tier: "dram", bytes: 256 * MiB }] } },
      workloads: { "ycsb-a": { type: "ycsb", workload: "a", options: { recordCount: 500, operationCount: 1000 } } },
    };
    const sampled = await runScenario(parseScenario({ ...base, lineSampling: 16 }), { threads: 1 });
    expect(sampled.lineSampling).toBe(16);
    const exact = await runScenario(parseScenario(base), { threads: 1 });
    expect("lineSampling" in exact).toBe(false);
    expect(sampled.results["ycsb-a"]!.osv!.requests).toBe(exact.results["ycsb-a"]!.osv!.requests);
  });

  it("trace replay samples the OSv and UCat VMs' line cache, and says the flat VMs have none", async () => {
    const r = await replayTrace(FIXTURE, { policy: "ucat", lineSampling: 8 });
    expect(r.lineSampling).toBe(8);
    expect("lineSampling" in (await replayTrace(FIXTURE, { policy: "ucat" }))).toBe(false);
    await expect(replayTrace(FIXTURE, { policy: "4k", lineSampling: 8 })).rejects.toThrow(/lineSampling: 8 is not allowed with policy "4k"; only the OSv and UCat VMs/);
  });

  it("the simulator rejects a bad value by name", async () => {
    await expect(Simulator.create({ tiers: TIERS, lineSampling: 3 })).rejects.toThrow(/lineSampling: 3 is not allowed; expected a power of two from 1 to the line cache's sets \(2048\)/);
  });
});
