/**
 * A run job's profile (where its time went: the core's runs and the models) and the
 * simulator's run-time counter behind it.
 */
import { describe, expect, it } from "vitest";
import { runJob, type Job, type JobProfile } from "../../src/sim/jobs.js";
import { Simulator } from "../../src/sim/simulator.js";

const GiB = 2 ** 30;

function job(lineCache: Job["lineCache"]): Job {
  return {
    seed: 5,
    tiers: [{ name: "dram", preset: "dram", capacity: 8 * GiB }],
    config: { name: "ucat", vm: { policy: "ucat" }, nodes: [{ tier: "dram", bytes: GiB / 2 }] },
    workload: { name: "memslap", type: "memslap", options: { operations: 4000, windowSize: 1024, concurrency: 2 } },
    lineCache,
  };
}

describe("job profile", () => {
  it("fills the time in the core's runs and the data lines modelled, and leaves the result as it was", async () => {
    const profile: JobProfile = { runSeconds: 0, dataLines: 0 };
    const t0 = performance.now();
    const profiled = await runJob(job("all"), profile);
    const wall = (performance.now() - t0) / 1000;
    expect(profile.runSeconds).toBeGreaterThan(0);
    expect(profile.runSeconds).toBeLessThanOrEqual(wall);
    // a 1 KiB value is 17 lines: far more lines than accesses' worth of one each
    expect(profile.dataLines).toBeGreaterThan(4000 * 17 * 0.5);
    expect(JSON.stringify(await runJob(job("all")))).toBe(JSON.stringify(profiled));
  });

  it("counts no data lines when only walks use the line cache", async () => {
    const profile: JobProfile = { runSeconds: 0, dataLines: 0 };
    await runJob(job("walks"), profile);
    expect(profile.dataLines).toBe(0);
    expect(profile.runSeconds).toBeGreaterThan(0);
  });

  it("a simulator's run seconds grow with the accesses it runs, and not without them", async () => {
    const sim = await Simulator.create({ tiers: [{ name: "dram", preset: "dram", capacity: 4 * GiB }] });
    const vm = sim.createVm({ policy: "ucat", nodes: [{ tier: "dram", bytes: GiB / 4 }] });
    expect(sim.runSeconds).toBe(0);
    const p = vm.process.malloc(1 << 20);
    for (let i = 0; i < 256; i++) vm.process.write(p + i * 4096, 4096);
    sim.flush();
    const once = sim.runSeconds;
    expect(once).toBeGreaterThan(0);
    sim.flush(); // nothing queued: no run
    expect(sim.runSeconds).toBe(once);
  });
});
