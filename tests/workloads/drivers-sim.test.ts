// The drivers on the real simulator: the OSv and UCat allocators behind process.malloc,
// the Wasm core behind the accesses. Small sizes; the counts must agree with the models'.
import { describe, expect, it } from "vitest";
import { Simulator } from "../../src/sim/simulator.js";
import { runMemaslap, runYcsb } from "../../src/workloads/drivers.js";

const MiB = 2 ** 20;
const GiB = 2 ** 30;

async function vmOf(policy: "osv" | "ucat") {
  const sim = await Simulator.create({
    tiers: [
      { name: "dram", preset: "dram", capacity: 8 * GiB },
      { name: "nvm", preset: "optane", capacity: 16 * GiB },
    ],
    maxVms: 4,
  });
  const vm = sim.createVm({ policy, nodes: [{ tier: "dram", bytes: 512 * MiB }, { tier: "nvm", bytes: 512 * MiB }] });
  return { sim, vm };
}

describe.each(["osv", "ucat"] as const)("drivers on the simulator (%s)", (policy) => {
  it("memaslap: every access runs without a fault; the slabs match the hand count", async () => {
    const { sim, vm } = await vmOf(policy);
    const r = runMemaslap(vm.process, { concurrency: 1, windowSize: 1024, operations: 10_000 });
    expect(sim.faultCount).toBe(0);
    expect(r.memcached!.slabs[0]).toMatchObject({ chunkSize: 1184, chunksPerPage: 885, totalPages: 2, usedChunks: 1000 });
    expect(r.memcached!.stats.totalMalloced).toBe(2 * MiB);
    const c = vm.counters();
    // Each access is one core request per 4 KiB page it touches: at least one each.
    expect(c.requests).toBeGreaterThanOrEqual(r.accesses);
    expect(c.requestsByKind[1]! + c.requestsByKind[2]!).toBe(c.requests);
    // The heap holds the slab pages, the hash table and the connection buffers.
    const heap = vm.allocator.stats();
    expect(heap.requestedBytes).toBe(2 * MiB + 512 * 1024 + 2 * 16384);
  });

  it("YCSB-A on the store and on memcached, deterministic for a seed", async () => {
    const runs = [];
    for (let i = 0; i < 2; i++) {
      const { sim, vm } = await vmOf(policy);
      const a = runYcsb(vm.process, "a", { recordCount: 2000, operationCount: 5000, seed: 9 });
      const m = runYcsb(vm.process, "a", { backend: "memcached", recordCount: 2000, operationCount: 5000, seed: 9, memcached: { memoryLimit: 0 } });
      expect(sim.faultCount).toBe(0);
      expect(a.misses + m.misses).toBe(0);
      runs.push({ a, m, counters: vm.counters() });
    }
    expect(JSON.stringify(runs[0])).toBe(JSON.stringify(runs[1]));
  });
});
