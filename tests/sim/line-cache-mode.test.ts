/**
 * The line cache's modes (`lineCache`: "all", "walks", "off") through the public run job,
 * the simulator and scenario files: what each models, and how the cycle model charges
 * data and walk references when lines are not modelled.
 */
import { describe, expect, it } from "vitest";
import { runJob, type Job } from "../../src/sim/jobs.js";
import { Simulator } from "../../src/sim/simulator.js";
import { parseScenario, scenarioJobs } from "../../src/sim/scenario.js";
import { cpuPreset, nsToCycles } from "../../src/cost/cpus.js";
import { tierPreset } from "../../src/cost/tiers.js";
import { translationCycles } from "../../src/cost/model.js";
import type { WorkloadRunResult } from "../../src/workloads/drivers.js";

const GiB = 2 ** 30;
const TIERS: Job["tiers"] = [
  { name: "dram", preset: "dram", capacity: 8 * GiB },
  { name: "nvm", preset: "optane", capacity: 16 * GiB },
];

function job(lineCache: Job["lineCache"]): Job {
  return {
    seed: 3,
    tiers: TIERS,
    config: { name: "osv", vm: { policy: "osv" }, nodes: [{ tier: "dram", bytes: GiB / 4 }, { tier: "nvm", bytes: GiB / 2 }] },
    workload: { name: "ycsb-a", type: "ycsb", workload: "a", options: { recordCount: 1000, operationCount: 3000 } },
    lineCache,
  };
}

describe("line cache modes", () => {
  it("run the same accesses; only what the cycle model charges for them differs", async () => {
    const [all, walks, off] = await Promise.all([runJob(job("all")), runJob(job("walks")), runJob(job("off"))]);
    for (const r of [walks, off]) {
      expect(r.requests).toBe(all.requests);
      expect(r.walks).toBe(all.walks);
      expect(r.walkRefs).toBe(all.walkRefs);
      expect((r.result as WorkloadRunResult).accesses).toBe((all.result as WorkloadRunResult).accesses);
    }
    // without data lines every data access is one miss to its tier (with them, a line
    // miss is; a 1 KiB record read touches 17 lines)
    const skylake = cpuPreset("skylake");
    const perAccess = nsToCycles(tierPreset("dram").loadRandomNs, skylake.frequencyHz);
    expect(walks.cycles.data).toBeGreaterThanOrEqual(all.requests * perAccess * 0.5);
    expect(walks.cycles.data).not.toBe(all.cycles.data);
    expect(off.cycles.data).toBe(walks.cycles.data);
    // without any line cache every walk reference is a miss too
    expect(off.cycles.walks).toBeGreaterThan(walks.cycles.walks);
  });

  it("the default is 'all', and a bad mode is an error naming the field", async () => {
    expect(job(undefined).lineCache).toBeUndefined();
    const def = await runJob(job(undefined));
    const all = await runJob(job("all"));
    expect(def.cycles).toEqual(all.cycles);
    await expect(Simulator.create({ tiers: TIERS, lineCache: "some" as never })).rejects.toThrow(
      'lineCache: "some" is not allowed; expected one of all, walks, off',
    );
  });

  it("scenario files take it, default 'all'", () => {
    const base = { tiers: TIERS, configs: { osv: { policy: "osv", nodes: [{ tier: "dram", bytes: GiB }] } }, workloads: { kv: { type: "kv" } } };
    expect(parseScenario(base).lineCache).toBe("all");
    expect(scenarioJobs(parseScenario({ ...base, lineCache: "walks" }))[0]!.lineCache).toBe("walks");
    expect(() => parseScenario({ ...base, lineCache: "data" })).toThrow(/lineCache: "data" is not allowed/);
  });

  it("translationCycles charges data as misses when no line was counted", () => {
    const cpu = cpuPreset("skylake");
    const tiers = [tierPreset("dram"), tierPreset("optane")];
    const base = {
      l1Hits: 0, stlbHits: 0, walks: 0, walkRefs: 0, walkRefsCached: 0, refMissesByTier: [0, 0], refsByTier: [0, 0],
      data: [[10, 20, 5], [0, 0, 0]], dataLineHits: [0, 0, 0], dataLineMisses: [[0, 0, 0], [0, 0, 0]], writebacks: [0, 0],
    };
    const f = cpu.frequencyHz;
    const load = nsToCycles(tiers[0]!.loadRandomNs, f);
    const store = nsToCycles(tiers[0]!.storeNs, f);
    expect(translationCycles(base as never, cpu, tiers).data).toBe(30 * load + 5 * store);
    // with lines counted, the lines decide
    const lines = { ...base, dataLineHits: [0, 30, 0], dataLineMisses: [[0, 0, 5], [0, 0, 0]] };
    expect(translationCycles(lines as never, cpu, tiers).data).toBe(5 * store + 30 * cpu.latency.walkRefLlc);
  });
});
