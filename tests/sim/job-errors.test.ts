// A job's bad arguments get an error naming the field, the value and what is allowed,
// before anything runs (a negative record count once looped for good). A job whose
// configuration is too small for its workload ends with a JobError naming
// the configuration, the workload and what ran out, in this thread and through the
// pool's worker threads alike (the first failure in job order); it never returns
// figures of a run whose accesses were dropped.
import { describe, expect, it } from "vitest";
import { checkJob, JobError, runJob, type Job } from "../../src/sim/jobs.js";
import { runJobs } from "../../src/sim/pool.js";
import { Simulator } from "../../src/sim/simulator.js";
import { configIssues } from "../../src/core/config.js";
import { modelConfig } from "../../src/core/models.js";

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

  it("names the core's memory when the workload model's state cannot fit it (a limit of the simulator, not an internal error)", async () => {
    // 40 M records' store index (about 4.6 GiB) is refused before the load begins
    const err = await runJob(job("huge", { policy: "osv", host: 220 * GiB, guest: 200 * GiB, records: 40_000_000 })).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(JobError);
    expect((err as Error).message).toMatch(/^configuration "huge", workload "ycsb-a": the core's memory \(at most 4 GiB of Wasm memory\) cannot hold the YCSB store's index for \d+ records \(\d+ MiB\); expected a smaller workload$/);
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
    expect((err as Error).message).toBe("workloads.w.options.recordCount: -5 is not allowed; expected an integer in 0..2147483647");
  });
});

describe("a job's bad arguments", () => {
  const kv = { name: "w", type: "kv", options: { items: 10, reads: 10 } };
  const ycsb = (options: Record<string, unknown>, workload = "a") => ({ name: "w", type: "ycsb", workload, options: { recordCount: 100, operationCount: 10, ...options } });
  const memslap = (options: Record<string, unknown>) => ({ name: "w", type: "memslap", options: { operations: 10, ...options } });
  // paths as a scenario file spells them: the job's configuration is "x", its workload "w"
  it.each([
    [{ workload: { name: "w", type: "nope" } }, /^workloads\.w\.type: "nope" is not allowed; expected one of "kv", "memslap", "ycsb"$/],
    [{ workload: { name: "w", type: "ycsb", workload: "z" } }, /^workloads\.w\.workload: "z" is not allowed; expected one of "a", "b", "c", "d", "e", "f"/],
    [{ workload: ycsb({ recordCount: -5 }) }, /^workloads\.w\.options\.recordCount: -5 is not allowed; expected an integer in 0\.\.2147483647$/],
    [{ workload: ycsb({ recordCount: 1e12 }) }, /^workloads\.w\.options\.recordCount: 1000000000000 is not allowed; expected an integer in 0\.\.2147483647$/],
    [{ workload: ycsb({ operationCount: 1.5 }) }, /^workloads\.w\.options\.operationCount: 1\.5 is not allowed/],
    [{ workload: ycsb({ spec: { readProportion: 2 } }) }, /^workloads\.w\.options\.spec\.readProportion: 2 is not allowed; expected a proportion in 0\.\.1$/],
    [{ workload: ycsb({ spec: { readProportion: 0, updateProportion: 0 } }) }, /^workloads\.w\.options\.spec\.readProportion: 0 is not allowed; expected at least one of readProportion, .* above 0 with operations to run/],
    [{ workload: ycsb({ spec: { requestDistribution: "normal" } }) }, /^workloads\.w\.options\.spec\.requestDistribution: "normal" is not allowed; expected one of "uniform", "zipfian", "latest"$/],
    [{ workload: ycsb({ spec: { minScanLength: 5, maxScanLength: 2 } }) }, /^workloads\.w\.options\.spec\.maxScanLength: 2 is not allowed; expected an integer in 5\.\./],
    [{ workload: ycsb({ backend: "redis" }) }, /^workloads\.w\.options\.backend: "redis" is not allowed; expected "kv-store" or "memcached"$/],
    [{ workload: ycsb({ backend: "memcached", memcached: { memoryLimit: -1 } }) }, /^workloads\.w\.options\.memcached\.memoryLimit: -1 is not allowed; expected an integer >= 0/],
    [{ workload: ycsb({ memcached: { memoryLimit: 64 * MiB } }) }, /^workloads\.w\.options\.memcached: \{"memoryLimit":67108864\} is not allowed; expected it only with backend "memcached" \(the backend is "kv-store"\)$/],
    [{ workload: memslap({ operations: 1.5 }) }, /^workloads\.w\.options\.operations: 1\.5 is not allowed; expected an integer in 0\.\.2147483647/],
    [{ workload: memslap({ operations: 1e12 }) }, /^workloads\.w\.options\.operations: 1000000000000 is not allowed; expected an integer in 0\.\.2147483647 \(capped as YCSB's counts\)$/],
    [{ workload: memslap({ concurrency: 0 }) }, /^workloads\.w\.options\.concurrency: 0 is not allowed; expected an integer in 1\.\.65536/],
    [{ workload: memslap({ concurrency: 1_000_000 }) }, /^workloads\.w\.options\.concurrency: 1000000 is not allowed; expected an integer in 1\.\.65536 \(the memcached model takes connections 0\.\.65535\)$/],
    [{ workload: memslap({ concurrency: 65536 }) }, /^workloads\.w\.options\.windowSize: 10240 is not allowed; expected concurrency x windowSize <= 134217728 objects \(concurrency is 65536\)/],
    [{ workload: memslap({ windowSize: 1000 }) }, /^workloads\.w\.options\.windowSize: 1000 is not allowed; expected a positive multiple of 1024/],
    [{ workload: memslap({ windowSize: 0 }) }, /^workloads\.w\.options\.windowSize: 0 is not allowed; expected a positive multiple of 1024/],
    [{ workload: memslap({ keySize: 1 }) }, /^workloads\.w\.options\.keySize: 1 is not allowed; expected an integer in 16\.\.250$/],
    [{ workload: memslap({ keySize: { min: 10, max: 20 } }) }, /^workloads\.w\.options\.keySize: \{"min":10,"max":20\} is not allowed; expected \{ min, max \} of integers in 16\.\.250 with min <= max$/],
    [{ workload: memslap({ valueSize: { min: 10, max: 5 } }) }, /^workloads\.w\.options\.valueSize: \{"min":10,"max":5\} is not allowed/],
    [{ workload: memslap({ valueSize: 1_000_000 }) }, /^workloads\.w\.options\.valueSize: 1000000 is not allowed; expected an integer in 1\.\.524165 \(the largest value whose item, with keys of 64 B, fits memcached's slab_chunk_max of 524288 B;/],
    [{ workload: memslap({ valueSize: 600_000, keySize: 250 }) }, /^workloads\.w\.options\.valueSize: 600000 is not allowed; expected an integer in 1\.\.523979 \(.*with keys of 250 B/],
    [{ workload: memslap({ server: { memoryLimit: 1e300 } }) }, /^workloads\.w\.options\.server\.memoryLimit: 1e\+300 is not allowed/],
    [{ workload: { ...kv, options: { items: 0 } } }, /^workloads\.w\.options\.items: 0 is not allowed; expected an integer in 1\.\.134217728/],
    [{ workload: { ...kv, options: { items: 10, fillBytes: 1e6 } } }, /^workloads\.w\.options\.fillBytes: 1000000 is not allowed; expected it only without items \(both say how many keys to store\)$/],
    [{ workload: { ...kv, options: { items: 1e12 } } }, /^workloads\.w\.options\.items: 1000000000000 is not allowed; expected an integer in 1\.\.134217728/],
    [{ workload: { ...kv, options: { fillBytes: 1e15 } } }, /^workloads\.w\.options\.fillBytes: 1000000000000000 is not allowed; expected a number of bytes in 0\.\.147639501899: at most 134217728 values of the mean size, 1100 B/],
    [{ workload: { ...kv, options: { items: 10, reads: 1e12 } } }, /^workloads\.w\.options\.reads: 1000000000000 is not allowed; expected an integer in 0\.\.2147483647 \(capped as YCSB's counts\)$/],
    [{ workload: kv, tiers: [{ name: "dram", preset: "hbm3", capacity: GiB }] }, /^tiers\.0\.preset: "hbm3" is not allowed; expected a preset name \("dram", "optane", "cxl"\) or an object of overrides with an optional base$/],
    [{ workload: kv, tiers: [{ name: "dram", preset: "dram", capacity: 3 * MiB }] }, /^tiers\.0\.capacity: 3145728 is not allowed; expected a positive multiple of 2 MiB/],
    [{ workload: kv, cpu: "m1" }, /^cpu: "m1" is not allowed; expected a preset name \("skylake", "icelake", "goldencove", "zen4"\) or an object of overrides with an optional base$/],
    [{ workload: kv, cpu: { base: "zen4", frequencyHz: 0 } }, /^cpu\.frequencyHz: 0 is not allowed; expected an integer from 1 to 1e10 Hz \(10 GHz\)$/],
    [{ workload: kv, cpu: { base: "skylake", tlb: { stlb: { entries: 12, ways: 4 } } } }, /^cpu\.tlb\.stlb: \{"entries":12,"ways":4\} is not allowed; expected entries \/ ways to be a power of two \(sets = 3\)/],
    [{ workload: kv, cpu: { base: "skylake", lineCache: { entries: 0, ways: 1 } } }, /^cpu\.lineCache\.entries: 0 is not allowed; expected an integer >= 1 with lineCache "all" \(use lineCache "off" for no line cache\)$/],
    [{ workload: kv, cpu: { base: "skylake", lineCache: { entries: 0, ways: 1 } }, lineCache: "walks" }, /^cpu\.lineCache\.entries: 0 is not allowed; expected an integer >= 1 with lineCache "walks"/],
    [{ workload: kv, lineSampling: 3 }, /^lineSampling: 3 is not allowed; expected a power of two from 1 to the line cache's sets \(2048\)$/],
    [{ workload: kv, config: { name: "x", vm: { policy: "osv" }, nodes: [{ tier: "dram", bytes: 3 * MiB }] } }, /^configs\.x\.nodes\.0\.bytes: 3145728 is not allowed; expected a positive multiple of 2 MiB up to 1 TiB$/],
    [{ workload: kv, config: { name: "x", vm: { policy: "osv" }, nodes: [{ tier: "nvm", bytes: 64 * MiB }] } }, /^configs\.x\.nodes\.0\.tier: "nvm" is not allowed; expected one of the host's tiers: dram$/],
    [{ workload: kv, config: { name: "x", vm: { policy: "osv" }, nodes: [{ tier: "dram", bytes: 64 * MiB }], hypervisor: { pageTableTier: "hbm" } } }, /^configs\.x\.hypervisor\.pageTableTier: "hbm" is not allowed; expected one of the host's tiers: dram$/],
    [{ workload: kv, seed: -1 }, /^seed: -1 is not allowed; expected an integer in 0\.\.4294967295$/],
    // prepopulate backs the whole VM when it is made: a VM larger than the host is refused before anything runs
    [
      { workload: kv, config: { name: "x", vm: { policy: "ucat" }, nodes: [{ tier: "dram", bytes: 2 * GiB }], hypervisor: { prepopulate: true } } },
      /^configs\.x\.hypervisor\.prepopulate: true is not allowed; expected false, or nodes that fit the host: it backs all 2 GiB of the VM's nodes when the VM is made, and the host has 1 GiB to give$/,
    ],
  ])("%# is refused with the field, the value and what is allowed", async (change, message) => {
    const bad = { ...job("x"), ...change } as unknown as Job;
    await expect(runJob(bad)).rejects.toThrow(message);
    expect(checkJob(bad)).toHaveLength(1);
    expect(checkJob(bad)[0]).toMatch(message);
  });

  it("a job with several problems: all of them, one line each, before anything runs", async () => {
    const bad = {
      ...job("x"),
      tiers: [{ name: "dram", preset: "dram", capacity: 3 * MiB }],
      workload: memslap({ concurrency: 0, keySize: 1 }),
    } as unknown as Job;
    expect(checkJob(bad)).toEqual([
      "tiers.0.capacity: 3145728 is not allowed; expected a positive multiple of 2 MiB (2097152) bytes",
      "workloads.w.options.concurrency: 0 is not allowed; expected an integer in 1..65536 (the memcached model takes connections 0..65535)",
      "workloads.w.options.keySize: 1 is not allowed; expected an integer in 16..250",
    ]);
    await expect(runJob(bad)).rejects.toThrow(new RangeError(checkJob(bad).join("\n")));
  });

  it("a job that can run has none", () => {
    expect(checkJob(job("x"))).toEqual([]);
    const fits = { ...job("x"), workload: kv, config: { name: "x", vm: { policy: "osv" }, nodes: [{ tier: "dram", bytes: 512 * MiB }], hypervisor: { prepopulate: true } } } as unknown as Job;
    expect(checkJob(fits)).toEqual([]);
    expect(checkJob({ ...job("x"), workload: memslap({ valueSize: 524_165 }) } as unknown as Job)).toEqual([]);
  });
});

describe("YCSB with recordCount 0", () => {
  // workload D reads the latest records: YCSB takes recordcount 0 as 2^31-1 records and
  // sums a zipfian over all of them first (it took 106 s here before being refused)
  it.each(["kv-store", "memcached"])("workload d is refused at once, naming recordCount and the workload (%s)", async (backend) => {
    const bad = { ...job("x"), workload: ycsbOf("d", { recordCount: 0, operationCount: 1, backend }) } as unknown as Job;
    await expect(runJob(bad)).rejects.toThrow(
      /^workloads\.y\.options\.recordCount: 0 is not allowed; expected an integer in 1\.\.2147483647 for workloadd, whose reads choose among the latest records \(requestDistribution "latest"\)/,
    );
  }, 10_000);

  it.each(["a", "b", "c", "e", "f"])("workload %s runs: its reads miss (YCSB's key space of 2^31-1 records, none loaded)", async (w) => {
    for (const backend of ["kv-store", "memcached"]) {
      const r = await runJob({ ...job("x"), workload: ycsbOf(w, { recordCount: 0, operationCount: 200, backend }) } as unknown as Job);
      expect(r.operations).toBe(200);
      expect((r.result as { hits: number }).hits).toBe(0);
    }
  }, 20_000);
});

function ycsbOf(workload: string, options: Record<string, unknown>) {
  return { name: "y", type: "ycsb", workload, options };
}

describe("the simulator's and the core's own checks (API callers)", () => {
  it("a line cache of 0 lines is refused by name, not left to fail allocating the core", async () => {
    const tiers = [{ name: "dram", preset: "dram" as const, capacity: GiB }];
    await expect(Simulator.create({ tiers, cpu: { base: "skylake", lineCache: { entries: 0, ways: 1 } } })).rejects.toThrow(
      /^cpu\.lineCache\.entries: 0 is not allowed; expected an integer >= 1 with lineCache "all" \(use lineCache "off" for no line cache\)$/,
    );
    const sim = await Simulator.create({ tiers, cpu: { base: "skylake", lineCache: { entries: 0, ways: 1 } }, lineCache: "off" });
    sim.close();
    const cfg = { ...modelConfig("default", { lineCache: "all" }), lineCache: { entries: 0, ways: 1 } };
    expect(configIssues(cfg).map((e) => e.message)).toEqual(['lineCache.entries: 0 is not allowed; expected an integer >= 1 (null for no line cache)']);
  });

  it("a prepopulated VM the host has no room left for is refused before the hypervisor changes anything", async () => {
    const tiers = [{ name: "dram", preset: "dram" as const, capacity: GiB }];
    const sim = await Simulator.create({ tiers, hypervisor: { prepopulate: true } });
    try {
      const a = sim.createVm({ policy: "ucat", nodes: [{ tier: "dram", bytes: 768 * MiB }] });
      const used = sim.host.usage("dram").bytesUsed;
      expect(used).toBeGreaterThan(768 * MiB); // every page backed, and the EPT's tables
      expect(() => sim.createVm({ policy: "ucat", nodes: [{ tier: "dram", bytes: 512 * MiB }] })).toThrow(
        /^prepopulate: true is not allowed; expected false, or nodes that fit the host: it backs all 512 MiB of the VM's nodes when the VM is made, and the host has 262120 KiB to give$/, // 1 GiB less 768 MiB and the EPT's tables
      );
      expect(sim.host.usage("dram").bytesUsed).toBe(used);
      // the next VM that fits gets the next id: the refused one took none
      expect(sim.createVm({ policy: "ucat", nodes: [{ tier: "dram", bytes: 64 * MiB }] }).id).toBe(a.id + 1);
    } finally {
      sim.close();
    }
  });

  it("every problem of the core's configuration at once", () => {
    const cfg = { ...modelConfig("default"), pcpus: 0, vms: 0 };
    expect(configIssues(cfg).map((e) => e.field)).toEqual(["pcpus", "vms"]);
  });
});
