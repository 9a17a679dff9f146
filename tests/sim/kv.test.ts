// The built-in key-value workload: seeded, deterministic, and its counts add up.
import { describe, expect, it } from "vitest";
import { GiB, MiB, sim } from "./helpers.js";
import { runKv, type KvOptions } from "../../src/workloads/kv/kv.js";
import { vmStats } from "../../src/sim/stats.js";

async function run(policy: "osv" | "ucat", o: KvOptions) {
  const s = await sim(1 * GiB, 1 * GiB);
  const vm = s.createVm({ policy, nodes: policy === "osv" ? [{ tier: "dram", bytes: 256 * MiB }] : [{ tier: "dram", bytes: 64 * MiB }, { tier: "nvm", bytes: 192 * MiB }] });
  const r = runKv(vm, o);
  return { r, stats: vmStats(vm) };
}

describe("kv workload", () => {
  for (const policy of ["osv", "ucat"] as const) {
    it(`is deterministic (${policy}): the same seed gives the same result and the same accounting`, async () => {
      const o = { seed: 42, items: 5000, reads: 20_000 };
      const a = await run(policy, o);
      const b = await run(policy, o);
      expect(JSON.stringify(b)).toBe(JSON.stringify(a));
      const c = await run(policy, { ...o, seed: 43 });
      expect(c.r.requestedBytes).not.toBe(a.r.requestedBytes);
    });
  }

  it("counts add up: fill, replace, delete, gets", async () => {
    const { r, stats } = await run("ucat", { seed: 5, items: 4000, reads: 10_000, replace: 0.25, delete: 0.1, valueSize: { min: 100, max: 3000 } });
    expect(r).toMatchObject({ items: 4000, stored: 4000, outOfMemory: null, phase: "done", gets: 10_000 });
    expect(r.mallocs).toBe(4000 + 1000);
    expect(r.frees).toBe(1000 + 400);
    expect(r.liveItems).toBe(3600);
    expect(r.misses).toBeGreaterThan(0);
    expect(r.misses).toBeLessThan(r.gets);
    expect(stats.app.requestedBytes).toBe(r.requestedBytes);
    expect(stats.app.liveObjects).toBe(r.liveItems);
    expect(stats.translation.requests).toBeGreaterThanOrEqual(r.mallocs + r.gets - r.misses);
  });

  it("a fixed value size and partial reads", async () => {
    const { r } = await run("osv", { seed: 1, items: 1000, reads: 1000, valueSize: 1147, readBytes: 64, replace: 0, delete: 0 });
    expect(r.requestedBytes).toBe(1000 * 1147);
    expect(r.bytesWritten).toBe(1000 * 1147);
    expect(r.bytesRead).toBe(1000 * 64);
    expect(r.misses).toBe(0);
  });

  it("fills by bytes when no item count is given", async () => {
    const { r } = await run("ucat", { seed: 1, fillBytes: 1.1 * MiB, reads: 0, valueSize: 1100 });
    expect(r.items).toBe(1048);
  });

  it("rejects bad options, naming them", async () => {
    const s = await sim(1 * GiB);
    const vm = s.createVm({ policy: "osv", nodes: [{ tier: "dram", bytes: 64 * MiB }] });
    expect(() => runKv(vm, { items: 0 })).toThrow(/items: 0/);
    expect(() => runKv(vm, { valueSize: { min: 10, max: 5 } })).toThrow(/valueSize.max/);
    expect(() => runKv(vm, { replace: 2 })).toThrow(/replace: 2/);
    expect(() => runKv(vm, { theta: 1 })).toThrow(/theta/);
    expect(() => runKv(vm, { readBytes: 0 })).toThrow(/readBytes/);
  });

  it("stops early, without an exception, when the guest's memory runs out", async () => {
    const s = await sim(1 * GiB);
    const vm = s.createVm({ policy: "ucat", nodes: [{ tier: "dram", bytes: 8 * MiB }] });
    const r = runKv(vm, { seed: 1, items: 20_000, reads: 100, tier: "dram" });
    expect(r.outOfMemory).toBe("guest");
    expect(r.phase).toBe("fill");
    expect(r.stored).toBeLessThan(20_000);
    expect(r.liveItems).toBe(r.stored);
    expect(vmStats(vm).app.requestedBytes).toBe(r.requestedBytes);
  });
});
