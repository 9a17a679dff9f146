// The README's embedding examples, through the public entry point.
import { describe, expect, it } from "vitest";
import { FlatVm, READ, Simulator, WasmCore, modelConfig, runMemaslap, runYcsb, vmStats } from "../../src/index.js";

describe("the README's examples", () => {
  it("a core and a flat VM", async () => {
    const core = await WasmCore.create(modelConfig("default"));
    const vm = new FlatVm(core, { pageSize: 0 });
    vm.runRequests([{ vcpu: vm.vcpu, va: 0x400000, kind: READ, size: 8 }]);
    const c = core.counters(vm.vcpu);
    expect(c.walks).toBe(2); // the walk that faulted, and the one after the page was mapped
    expect(c.pageFaults).toBe(1);
  });

  it("a simulator, a UCat VM, an allocation placed in DRAM", async () => {
    const GiB = 2 ** 30;
    const sim = await Simulator.create({ tiers: [{ name: "dram", preset: "dram", capacity: 64 * GiB }, { name: "nvm", preset: "optane", capacity: 512 * GiB }] });
    const vm = sim.createVm({ policy: "ucat", nodes: [{ tier: "dram", bytes: 1 * GiB }, { tier: "nvm", bytes: 3 * GiB }] });
    const p = vm.process.malloc(1147, { tier: "dram" });
    vm.process.write(p, 1147);
    const s = vmStats(vm);
    expect(s.app.requestedBytes).toBe(1147);
    expect(s.memoryBytesByTier.dram).toBeGreaterThan(0);
    expect(s.memoryBytesByTier.nvm).toBe(0);
    expect(s.translation.requests).toBe(1);
  });

  it("the workloads in a VM's process", async () => {
    const GiB = 2 ** 30;
    const sim = await Simulator.create({ tiers: [{ name: "dram", preset: "dram", capacity: 64 * GiB }] });
    const vm = sim.createVm({ policy: "ucat", nodes: [{ tier: "dram", bytes: 1 * GiB }] });
    const m = runMemaslap(vm.process, { operations: 20_000 });
    const y = runYcsb(vm.process, "a", { recordCount: 1_000, operationCount: 5_000 });
    sim.flush();
    expect(m.memcached!.slabs[0].chunkSize).toBe(1184);
    expect(y.operations).toBe(5_000);
    // every access went through the core (one request per 4 KiB page a range touches)
    const requests = vmStats(vm).translation.requests;
    expect(requests).toBeGreaterThanOrEqual(m.accesses + y.accesses);
    expect(requests).toBeLessThan(1.1 * (m.accesses + y.accesses));
  });

  it("a simulator with its line cache on a thread counts the same, and closes", async () => {
    const GiB = 2 ** 30;
    const run = async (lineThread: boolean) => {
      const sim = await Simulator.create({ tiers: [{ name: "dram", preset: "dram", capacity: 64 * GiB }], lineThread });
      const vm = sim.createVm({ policy: "ucat", nodes: [{ tier: "dram", bytes: 1 * GiB }] });
      const p = vm.process.malloc(1 << 20, { tier: "dram" });
      for (let off = 0; off < 1 << 20; off += 1024) vm.process.write(p + off, 1024);
      sim.close();
      return vmStats(vm);
    };
    expect(await run(true)).toEqual(await run(false));
  });
});

describe("the README's sweep file", () => {
  it("parses, and over the STLB's size gives no more misses the larger it is on osv; next to none on ucat", async () => {
    const { readFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { parseSweep, runSweep } = await import("../../src/sim/sweep.js");
    const readme = readFileSync(join(import.meta.dirname, "..", "..", "README.md"), "utf8");
    const block = /```json\n([\s\S]*?)```/.exec(readme)![1]!;
    const file = JSON.parse(block) as { base: { workloads: Record<string, { options: Record<string, number> }> }; grid: Record<string, unknown[]> };
    // the same grid over a smaller workload, to keep the test short
    file.base.workloads["ycsb-c"]!.options = { recordCount: 2000, operationCount: 10000 };
    const r = await runSweep(parseSweep(file), { threads: 1 });
    expect(r.sweep).toMatchObject({ cells: 8, jobs: 8, failed: 0 });
    const rate = (policy: string): number[] =>
      r.rows.filter((x) => "result" in x && x.params["configs.vm.policy"] === policy).map((x) => ("result" in x ? x.result.tlbMissRate : NaN));
    const osv = rate("osv");
    expect(osv).toHaveLength(4);
    for (let i = 1; i < osv.length; i++) expect(osv[i]!).toBeLessThanOrEqual(osv[i - 1]!);
    expect(osv[3]!).toBeLessThan(osv[0]! / 2);
    for (const x of rate("ucat")) expect(x).toBeLessThan(0.001);
  });
});
