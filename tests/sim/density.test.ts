// Density: VMs running the kv workload are added until the first out-of-memory; the
// count and the tier that ran out are reported.
import { describe, expect, it } from "vitest";
import { GiB, MiB, tiers } from "./helpers.js";
import { density, runDensity } from "../../src/sim/density.js";
import { vmStats } from "../../src/sim/stats.js";
import { Simulator } from "../../src/sim/simulator.js";

const workload = { items: 1000, reads: 2000 };

describe("density", () => {
  it("stops at the first out-of-memory and names the tier (one tier allowed)", async () => {
    const r = await density({
      tiers: tiers(128 * MiB, 128 * MiB),
      hypervisor: { onTierFull: "fail" },
      vm: { policy: "osv", nodes: [{ tier: "dram", bytes: 32 * MiB }] },
      workload,
    });
    expect(r.stoppedBy).toBe("out-of-memory");
    expect(r.oom).toMatchObject({ vm: r.vms, during: "workload", kind: "host", tier: "dram" });
    expect(r.exhausted).toEqual(["dram"]);
    expect(r.fullAt).toEqual({ dram: r.vms + 1, nvm: null });
    expect(r.vms).toBeGreaterThan(1);
    // the counted VMs are the ones left, none of them saw an out-of-memory ...
    const vms = r.sim.allVms();
    expect(vms.length).toBe(r.vms);
    const sizes = vms.map((vm) => {
      const s = vmStats(vm);
      expect(s.backing.outOfMemory).toBe(0);
      expect(s.faults.oom).toBe(0);
      return s.memoryBytes;
    });
    // ... and one more would not fit: what is free is less than any of them holds
    const free = r.sim.host.usage("dram").bytesFree;
    expect(free).toBeLessThan(Math.min(...sizes));
    expect(r.bytesUsedByTier).toEqual({ dram: 128 * MiB - free, nvm: 0 });
    expect(r.lastWorkload?.outOfMemory).toBeNull();
  });

  it("with fall-back to the next tier, names the tier that ran out last", async () => {
    const r = await density({
      tiers: tiers(64 * MiB, 64 * MiB),
      vm: { policy: "osv", nodes: [{ tier: "dram", bytes: 32 * MiB }] },
      workload,
    });
    expect(r.stoppedBy).toBe("out-of-memory");
    expect(r.oom?.tier).toBe("nvm");
    expect(r.exhausted).toEqual(["dram", "nvm"]);
    expect(r.fullAt.dram!).toBeLessThan(r.fullAt.nvm!);
    expect(r.fullAt.nvm).toBe(r.vms + 1);
  });

  it("ucat VMs whose DRAM node's tier runs out, NVM untouched", async () => {
    const r = await density({
      tiers: tiers(64 * MiB, 256 * MiB),
      hypervisor: { onTierFull: "fail" },
      vm: { policy: "ucat", nodes: [{ tier: "dram", bytes: 16 * MiB }, { tier: "nvm", bytes: 32 * MiB }] },
      workload: { items: 6000, reads: 2000 },
    });
    expect(r.oom).toMatchObject({ kind: "host", tier: "dram" });
    expect(r.vms).toBeGreaterThan(0);
    expect(r.bytesUsedByTier.nvm).toBe(0);
  });

  it("a VM too small for the workload is a guest out-of-memory, not a host tier", async () => {
    const r = await density({ tiers: tiers(1 * GiB), vm: { policy: "osv", nodes: [{ tier: "dram", bytes: 8 * MiB }] }, workload: { items: 4000, reads: 100 } });
    expect(r.vms).toBe(0);
    expect(r.oom).toMatchObject({ vm: 0, kind: "guest", tier: "dram" });
    expect(r.exhausted).toEqual([]);
    expect(r.bytesUsedByTier.dram).toBe(0);
  });

  it("stops at the limit when memory lasts", async () => {
    const r = await density({ tiers: tiers(1 * GiB), vm: { policy: "ucat", nodes: [{ tier: "dram", bytes: 16 * MiB }] }, workload: { items: 100, reads: 100 }, limit: 3 });
    expect(r).toMatchObject({ vms: 3, stoppedBy: "limit", oom: null, exhausted: [] });
  });

  it("counts 500 VMs in one process", async () => {
    for (const policy of ["osv", "ucat"] as const) {
      const r = await density({ tiers: tiers(32 * GiB), vm: { policy, nodes: [{ tier: "dram", bytes: 16 * MiB }] }, workload: { items: 64, reads: 64 }, limit: 500 });
      expect(r.vms).toBe(500);
      expect(r.stoppedBy).toBe("limit");
      expect(r.sim.allVms().length).toBe(500);
    }
  });

  it("needs a fresh simulator", async () => {
    const s = await Simulator.create({ tiers: tiers(1 * GiB) });
    s.createVm({ policy: "osv", nodes: [{ tier: "dram", bytes: 16 * MiB }] });
    expect(() => runDensity(s, { vm: { policy: "osv", nodes: [{ tier: "dram", bytes: 16 * MiB }] } })).toThrow(/fresh/);
  });
});
