/**
 * The line cache on its own thread (`lineThread`) through the simulator, the run job,
 * scenario files and trace replay: byte-identical results to the line cache run in
 * place, on the paper's workloads (small runs) and with sampling, and bad settings
 * rejected by name.
 */
import { describe, expect, it } from "vitest";
import { runJob, type Job } from "../../src/sim/jobs.js";
import { Simulator } from "../../src/sim/simulator.js";
import { parseScenario, runScenario, scenarioJobs } from "../../src/sim/scenario.js";
import { lineThreadsFit, runJobs, withLineThreads } from "../../src/sim/pool.js";
import { replayTrace } from "../../src/workloads/trace/replay.js";
import { FIXTURE } from "../cli/helpers.js";

const GiB = 2 ** 30;
const MiB = 2 ** 20;
const TIERS: Job["tiers"] = [
  { name: "dram", preset: "dram", capacity: 4 * GiB },
  { name: "nvm", preset: "optane", capacity: 16 * GiB },
];

function job(policy: "osv" | "ucat", workload: Job["workload"], extra: Partial<Job> = {}): Job {
  return {
    seed: 1,
    tiers: TIERS,
    config: { name: policy, vm: { policy }, nodes: [{ tier: "dram", bytes: 256 * MiB }, { tier: "nvm", bytes: 768 * MiB }] },
    workload,
    ...extra,
  };
}

const MEMSLAP: Job["workload"] = { name: "memslap", type: "memslap", options: { operations: 40_000, server: { memoryLimit: 32 * MiB } } };
const YCSB_A: Job["workload"] = { name: "ycsb-a", type: "ycsb", workload: "a", options: { recordCount: 5_000, operationCount: 20_000 } };

describe("the line cache on a thread", () => {
  it.each([
    { policy: "osv", w: MEMSLAP, extra: {} },
    { policy: "ucat", w: YCSB_A, extra: {} },
    { policy: "ucat", w: MEMSLAP, extra: { lineSampling: 16 } },
    { policy: "osv", w: YCSB_A, extra: { lineCache: "walks" } },
  ] as const)("$w.name on $policy $extra: byte-identical JSON to the line cache in place", async ({ policy, w, extra }) => {
    const inPlace = await runJob(job(policy, w, extra));
    const threaded = await runJob(job(policy, w, { ...extra, lineThread: true }));
    expect(JSON.stringify(threaded)).toBe(JSON.stringify(inPlace));
  });

  it("gives the simulator's counters mid-run, and after close()", async () => {
    const make = (lineThread: boolean) => Simulator.create({ tiers: TIERS, lineThread });
    const [a, b] = await Promise.all([make(true), make(false)]);
    const counts = [a, b].map((sim) => {
      const vm = sim.createVm({ policy: "ucat", nodes: [{ tier: "dram", bytes: 256 * MiB }] });
      const p = vm.process.malloc(8 << 20);
      const seen = [];
      for (let round = 0; round < 3; round++) {
        for (let off = 0; off < 8 << 20; off += 4096) vm.process.write(p + off + round * 64, 1024);
        sim.flush();
        seen.push(vm.counters());
      }
      // long ranges in 2 MiB pages, unaligned: the core may hand the line cache more than 4 KiB at once
      vm.process.write(p + 100, 1 << 20);
      vm.process.read(p + (3 << 20) + 4000, 70_000);
      sim.flush();
      seen.push(vm.counters());
      sim.close();
      seen.push(vm.counters());
      return seen;
    });
    expect(counts[0]).toEqual(counts[1]);
    expect(counts[0][2].dataLineHits[2] + counts[0][2].dataLineMisses.flat().reduce((s, x) => s + x, 0)).toBeGreaterThan(3 * 2048 * 16 - 1);
  });

  it("scenario files take lineThread (not in the report), and refuse it without a line cache", async () => {
    const base = {
      tiers: TIERS,
      configs: { osv: { policy: "osv", nodes: [{ tier: "dram", bytes: 256 * MiB }] } },
      workloads: { "ycsb-a": { type: "ycsb", workload: "a", options: { recordCount: 500, operationCount: 1000 } } },
    };
    // absent: the pool decides (a core to spare for each job's thread)
    expect(parseScenario(base).lineThread).toBeUndefined();
    expect(scenarioJobs(parseScenario(base))[0]!.lineThread).toBeUndefined();
    expect(scenarioJobs(parseScenario({ ...base, lineThread: true }))[0]!.lineThread).toBe(true);
    expect(scenarioJobs(parseScenario({ ...base, lineThread: false }))[0]!.lineThread).toBe(false);
    expect(() => parseScenario({ ...base, lineThread: "yes" })).toThrow(/lineThread/);
    expect(() => parseScenario({ ...base, lineCache: "off", lineThread: true })).toThrow(/lineThread.*a line thread needs a line cache \(lineCache is off\)/);
    const threaded = await runScenario(parseScenario({ ...base, lineThread: true }), { threads: 1 });
    const inPlace = await runScenario(parseScenario({ ...base, lineThread: false }), { threads: 1 });
    expect(JSON.stringify(threaded)).toBe(JSON.stringify(inPlace));
  });

  it("trace replay runs the OSv and UCat VMs' line cache on a thread, and says the flat VMs have none", async () => {
    const threaded = await replayTrace(FIXTURE, { policy: "ucat", lineThread: true });
    expect(threaded).toEqual(await replayTrace(FIXTURE, { policy: "ucat" }));
    await expect(replayTrace(FIXTURE, { policy: "2m", lineThread: true })).rejects.toThrow(/lineThread: true is not allowed with policy "2m"; only the OSv and UCat VMs/);
  });

  it("runJobs gives jobs that leave it unset a line thread when each job thread has a core to spare", () => {
    expect(lineThreadsFit(1, 2)).toBe(true);
    expect(lineThreadsFit(2, 2)).toBe(false);
    expect(lineThreadsFit(3, 8)).toBe(true);
    expect(lineThreadsFit(5, 8)).toBe(false);
    const jobs = [job("osv", YCSB_A), job("osv", YCSB_A, { lineThread: false }), job("osv", YCSB_A, { lineCache: "off" }), job("osv", YCSB_A, { lineThread: true })];
    expect(withLineThreads(jobs, true).map((j) => j.lineThread)).toEqual([true, false, undefined, true]);
    expect(withLineThreads(jobs, false).map((j) => j.lineThread)).toEqual([undefined, false, undefined, true]);
    // YCSB's generator goes with them (on the line thread's worker, or one of its own), unless a job says otherwise
    const gen = [...jobs, job("osv", YCSB_A, { generatorThread: false }), job("osv", MEMSLAP)];
    expect(withLineThreads(gen, true).map((j) => j.generatorThread)).toEqual([true, true, true, true, false, undefined]);
    expect(withLineThreads(gen, false).map((j) => j.generatorThread)).toEqual([undefined, undefined, undefined, undefined, false, undefined]);
  });

  it("scenario files take generatorThread (not in the report): the same results", async () => {
    const base = {
      tiers: TIERS,
      configs: { osv: { policy: "osv", nodes: [{ tier: "dram", bytes: 256 * MiB }] } },
      workloads: { "ycsb-b": { type: "ycsb", workload: "b", options: { recordCount: 500, operationCount: 3000 } } },
    };
    expect(scenarioJobs(parseScenario(base))[0]!.generatorThread).toBeUndefined();
    expect(scenarioJobs(parseScenario({ ...base, generatorThread: true }))[0]!.generatorThread).toBe(true);
    expect(() => parseScenario({ ...base, generatorThread: 1 })).toThrow(/generatorThread/);
    const threaded = await runScenario(parseScenario({ ...base, lineThread: true, generatorThread: true }), { threads: 1 });
    const inPlace = await runScenario(parseScenario({ ...base, lineThread: false, generatorThread: false }), { threads: 1 });
    expect(JSON.stringify(threaded)).toBe(JSON.stringify(inPlace));
  });

  it("runJobs gives the same results whether or not its jobs get line threads", async () => {
    const jobs = [job("ucat", MEMSLAP), job("osv", YCSB_A)];
    const spare = await runJobs(jobs, { threads: 1, cores: 2 });
    const none = await runJobs(jobs, { threads: 1, cores: 1 });
    expect(JSON.stringify(spare)).toBe(JSON.stringify(none));
  });

  it("the simulator rejects it without a line cache, by name", async () => {
    await expect(Simulator.create({ tiers: TIERS, lineCache: "off", lineThread: true })).rejects.toThrow(/lineThread: true is not allowed; expected only with a line cache/);
  });
});
