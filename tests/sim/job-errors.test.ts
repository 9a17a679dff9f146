// A job's bad arguments get an error naming the field, the value and what is allowed,
// before anything runs (a negative record count once looped for good). A job whose
// configuration is too small for its workload ends with a JobError naming
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

  it("through worker threads, a bad argument stays a RangeError with its message", async () => {
    const bad = { ...job("bad"), workload: { name: "w", type: "ycsb", workload: "a", options: { recordCount: -5 } } } as Job;
    const err = await runJobs([job("fits"), bad], { threads: 2, cores: 2 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RangeError);
    expect((err as Error).message).toBe("recordCount: -5 is not allowed; expected an integer in 0..2147483647");
  });
});

describe("a job's bad arguments", () => {
  const kv = { name: "w", type: "kv", options: { items: 10, reads: 10 } };
  const ycsb = (options: Record<string, unknown>) => ({ name: "w", type: "ycsb", workload: "a", options: { recordCount: 100, operationCount: 10, ...options } });
  it.each([
    [{ workload: { name: "w", type: "nope" } }, /^workload\.type: "nope" is not allowed; expected one of "kv", "memslap", "ycsb"$/],
    [{ workload: { name: "w", type: "ycsb", workload: "z" } }, /^workload: "z" is not allowed; expected one of "a", "b", "c", "d", "e", "f"/],
    [{ workload: ycsb({ recordCount: -5 }) }, /^recordCount: -5 is not allowed; expected an integer in 0\.\.2147483647$/],
    [{ workload: ycsb({ operationCount: 1.5 }) }, /^operationCount: 1\.5 is not allowed/],
    [{ workload: ycsb({ spec: { readProportion: 2 } }) }, /^readProportion: 2 is not allowed; expected a proportion in 0\.\.1$/],
    [{ workload: ycsb({ spec: { readProportion: 0, updateProportion: 0 } }) }, /all 0 is not allowed with operations to run/],
    [{ workload: ycsb({ spec: { requestDistribution: "normal" } }) }, /^requestDistribution: "normal" is not allowed; expected one of "uniform", "zipfian", "latest"$/],
    [{ workload: ycsb({ spec: { minScanLength: 5, maxScanLength: 2 } }) }, /^maxScanLength: 2 is not allowed; expected an integer in 5\.\./],
    [{ workload: { name: "w", type: "memslap", options: { operations: 1.5 } } }, /^operations: 1\.5 is not allowed; expected an integer >= 0$/],
    [{ workload: { name: "w", type: "memslap", options: { concurrency: 0 } } }, /^concurrency: 0 is not allowed; expected a positive integer$/],
    [{ workload: { name: "w", type: "memslap", options: { windowSize: 1000 } } }, /^windowSize: 1000 is not allowed; expected a positive multiple of 1024/],
    [{ workload: { name: "w", type: "memslap", options: { valueSize: { min: 10, max: 5 } } } }, /^valueSize: \{"min":10,"max":5\} is not allowed/],
    [{ workload: kv, tiers: [{ name: "dram", preset: "hbm3", capacity: GiB }] }, /^tiers\[0\]\.preset: "hbm3" is not allowed; a preset name \("dram", "optane", "cxl"\) or an object of overrides with an optional base$/],
    [{ workload: kv, cpu: "m1" }, /^cpu: "m1" is not allowed; a preset name \("skylake", "icelake", "goldencove", "zen4"\) or an object of overrides with an optional base$/],
    [{ workload: kv, cpu: { base: "zen4", frequencyHz: 0 } }, /^cpu\.frequencyHz: 0 is not allowed; an integer from 1 to 1e10 Hz \(10 GHz\)$/],
    [{ workload: kv, seed: -1 }, /^seed: -1 is not allowed; expected an integer in 0\.\.4294967295$/],
  ])("%# is refused with the field, the value and what is allowed", async (change, message) => {
    const bad = { ...job("x"), ...change } as unknown as Job;
    await expect(runJob(bad)).rejects.toThrow(message);
  });
});
