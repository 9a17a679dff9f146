// A job whose configuration is too small for its workload ends with a JobError naming
// the configuration, the workload and what ran out, in this thread and through the
// pool's worker threads alike (the first failure in job order); it never returns
// figures of a run whose accesses were dropped.
import { describe, expect, it } from "vitest";
import { JobError, runJob, type Job } from "../../src/sim/jobs.js";
import { runJobs } from "../../src/sim/pool.js";

const MiB = 2 ** 20;
const GiB = 2 ** 30;

function job(name: string, o: { host?: number; guest?: number; records?: number; policy?: "osv" | "ucat" } = {}): Job {
  return {
    seed: 1,
    tiers: [{ name: "dram", preset: "dram", capacity: o.host ?? GiB }],
    config: { name, vm: { policy: o.policy ?? "ucat" }, nodes: [{ tier: "dram", bytes: o.guest ?? 64 * MiB }] },
    workload: { name: "ycsb-a", type: "ycsb", workload: "a", options: { recordCount: o.records ?? 2_000, operationCount: 100 } },
  };
}

describe("JobError", () => {
  it("names the configuration, the workload and the guest memory that ran out", async () => {
    // 80,000 records of 1,056 B do not fit 64 MiB of guest memory
    const err = await runJob(job("small", { records: 80_000 })).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(JobError);
    expect((err as Error).message).toMatch(/^configuration "small", workload "ycsb-a": the VM's guest memory ran out \(vm 0: out of guest memory .*\); expected more bytes in the configuration's nodes, or a smaller workload$/);
  });

  it("refuses the figures of a run whose accesses the simulator dropped (the host ran out)", async () => {
    // osv gives each record a page of its own: 20,000 records need ~80 MiB of host memory, the host has 16
    const err = await runJob(job("tiny-host", { policy: "osv", host: 16 * MiB, guest: GiB, records: 20_000 })).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(JobError);
    expect((err as Error).message).toMatch(/^configuration "tiny-host", workload "ycsb-a": \d+ accesses were dropped, the first at va 0x[0-9a-f]+: the host had no memory left/);
  });

  it("a job that fits runs as before", async () => {
    const r = await runJob(job("fits"));
    expect(r.operations).toBe(100);
  });

  it("through worker threads: the first failure in job order, every time", async () => {
    const jobs = [job("fits"), job("second", { records: 80_000 }), job("third", { policy: "osv", records: 80_000 })];
    for (let k = 0; k < 2; k++) {
      const err = await runJobs(jobs, { threads: 2, cores: 2 }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(JobError);
      expect((err as Error).message).toMatch(/^configuration "second"/);
    }
  });
});
