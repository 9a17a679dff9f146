import { describe, expect, it } from "vitest";
import { formatIsoUnik, runIsoUnik } from "../../src/cli/iso-unik.js";
import { DESIGNS } from "../../src/guest/isolation/gate.js";
import { createModel } from "../../src/guest/isolation/model.js";
import { forkBench } from "../../src/workloads/lmbench/fork.js";
import { runApache, staticRequestSyscalls } from "../../src/workloads/apache/prefork.js";
import { KiB, MiB, newSim, VM_OPTIONS } from "./helpers.js";

const SMALL = { seconds: 3, clients: 16, samplePerSecond: 10, forkIterations: 1, forkSizes: [256 * KiB, 4 * MiB] };

describe("unimmu run iso-unik", () => {
  it("reports every design with the required fields, and the same JSON twice", async () => {
    const a = await runIsoUnik(SMALL);
    const b = await runIsoUnik(SMALL);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(Object.keys(a.designs)).toEqual([...DESIGNS]);
    for (const d of DESIGNS) {
      const x = a.designs[d]!;
      for (const k of ["syscallCycles", "forkMicroseconds", "apacheRequestsPerSecond", "isolationFaults"] as const) expect(typeof x[k], `${d}.${k}`).toBe("number");
      expect(x.syscallCycles).toBe(Object.values(x.syscallBreakdown).reduce((s, v) => s + v.cycles, 0));
      expect(x.forkScaling.map((s) => s.parentBytes)).toEqual([256 * KiB + 384 * KiB, 4 * MiB + 384 * KiB]);
      expect(x.forkScaling[1].microseconds).toBeGreaterThan(x.forkScaling[0].microseconds);
      expect(x.apacheRequestsPerSecond).toBeGreaterThan(0);
    }
    const iso = a.designs["iso-unik"]!;
    expect(iso.syscallCycles).toBe(62);
    expect(a.designs.none!.syscallCycles).toBe(6);
    expect(a.designs.linux!.syscallCycles).toBe(1200);
    // isolation costs throughput, but less than Linux processes do
    expect(iso.apacheRequestsPerSecond).toBeLessThan(a.designs.none!.apacheRequestsPerSecond);
    expect(iso.apacheRequestsPerSecond).toBeGreaterThan(a.designs.linux!.apacheRequestsPerSecond);
    // a VM clone duplicates memory: far dearer than a page-table fork
    expect(a.designs["vm-per-process"]!.forkMicroseconds).toBeGreaterThan(10 * iso.forkMicroseconds);
    // the misbehaving worker
    expect(iso.apache.probe).toEqual({ kernel: "fault", peer: "fault", killed: ["worker-1", "worker-2"] });
    expect(a.designs.none!.apache.probe.kernel).toBe("allowed");
    expect(a.designs["vm-per-process"]!.apache.probe).toMatchObject({ kernel: "allowed", peer: "own-copy" });
    expect(iso.isolationFaults).toBe(2);
    expect(iso.isolationFaultDetails[0]).toMatchObject({ kind: "key", owners: "kernel", accessor: { name: "worker-1" } });
    const text = formatIsoUnik(a);
    for (const d of DESIGNS) expect(text).toContain(d);
    expect(text).toContain("callRet 6 + wrpkruOpen 25");
    expect(text).toContain("fork + exit + wait by parent size");
  }, 120_000);

  it("rejects bad options naming the field", async () => {
    await expect(runIsoUnik({ seconds: 0 })).rejects.toThrow(/seconds: 0 is not allowed/);
    await expect(runIsoUnik({ designs: ["nope" as never] })).rejects.toThrow(/designs\[0\]: "nope"/);
  });
});

describe("workloads", () => {
  it("a static request makes the dozen system calls of REFERENCE.md section 8", () => {
    expect(staticRequestSyscalls(0).map((s) => s.name)).toEqual(["accept", "getsockname", "fcntl", "read", "stat", "open", "writev", "sendfile", "write", "shutdown", "poll", "close", "close"]);
  });

  it("prefork spawns 5 at start, then 1, 2, 4, ... up to 32 a second while short of idle workers", async () => {
    const sim = await newSim(4);
    // 60 clients keep 60 workers busy: 68 workers leave 8 idle, between MinSpare 5 and MaxSpare 10
    const r = runApache(createModel(sim, "iso-unik", VM_OPTIONS), { seconds: 8, clients: 60, samplePerSecond: 4 });
    expect(r.timeline.map((t) => t.spawned)).toEqual([1, 2, 4, 8, 16, 32, 0, 0]);
    expect(r.timeline.map((t) => t.workers)).toEqual([6, 8, 12, 20, 36, 68, 68, 68]);
    expect(r.forks).toBe(5 + 63);
    // with idle workers to spare, it stops one a second
    const r2 = runApache(createModel(sim, "iso-unik", VM_OPTIONS), { seconds: 3, clients: 1, samplePerSecond: 4, prefork: { startServers: 20 } });
    expect(r2.timeline.map((t) => t.stopped)).toEqual([1, 1, 1]);
  });

  it("lmbench fork+exit+wait: the breakdown adds up and grows with the parent", async () => {
    const sim = await newSim(4);
    const small = forkBench(createModel(sim, "iso-unik", VM_OPTIONS), { heapBytes: 256 * KiB, iterations: 2 });
    const big = forkBench(createModel(sim, "iso-unik", VM_OPTIONS), { heapBytes: 8 * MiB, iterations: 2 });
    for (const r of [small, big]) {
      const sum = Object.values(r.breakdown.steps).reduce((s, v) => s + v.cycles, 0);
      expect(Math.abs(sum - r.cycles)).toBeLessThanOrEqual(1);
      expect(r.breakdown.steps["cowFault.copy4k.dram"].count).toBe(1); // the child's stack page
      expect(r.breakdown.steps["cowFault.reuse.pteWrite"].count).toBe(1); // the parent's, its own again
    }
    expect(big.breakdown.steps["fork.entriesCopied"].count - small.breakdown.steps["fork.entriesCopied"].count).toBe((8 * MiB - 256 * KiB) / 4096);
    expect(big.microseconds).toBeGreaterThan(small.microseconds);
  });
});
