// The accounting identities (docs/accounting.md): requested <= allocated <= held per
// tier; host bytes by tier = the sum over VMs of backing + EPT table pages; host frames
// = backing frames + EPT table pages; everything returned when every VM is destroyed.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { GiB, MiB, sim } from "./helpers.js";
import { simStats, vmStats, type SimStats } from "../../src/sim/stats.js";
import { runKv, type KvOptions } from "../../src/workloads/kv/kv.js";
import type { Simulator } from "../../src/sim/simulator.js";
import type { VmOptions } from "../../src/sim/vm.js";

function checkIdentities(st: SimStats): void {
  for (const v of st.vms) {
    const a = v.app;
    expect(a.requestedBytes).toBeLessThanOrEqual(a.allocatedBytes);
    expect(a.allocatedBytes).toBeLessThanOrEqual(a.heldBytes);
    let req = 0;
    let alloc = 0;
    let held = 0;
    for (const [tier, t] of Object.entries(a.byTier)) {
      expect(t.requestedBytes, `vm ${v.vm} ${tier}`).toBeLessThanOrEqual(t.allocatedBytes);
      expect(t.allocatedBytes, `vm ${v.vm} ${tier}`).toBeLessThanOrEqual(t.heldBytes);
      req += t.requestedBytes;
      alloc += t.allocatedBytes;
      held += t.heldBytes;
    }
    expect([req, alloc, held]).toEqual([a.requestedBytes, a.allocatedBytes, a.heldBytes]);
    expect(v.fragmentationBytes).toBe(a.heldBytes - a.requestedBytes);
    expect(v.memoryBytes).toBe(v.backing.bytes + v.eptTables.pages * 4096);
    let mem = 0;
    for (const [tier, n] of Object.entries(v.memoryBytesByTier)) {
      expect(n).toBe(v.backing.bytesByTier[tier]! + v.eptTables.bytesByTier[tier]!);
      mem += n;
    }
    expect(mem).toBe(v.memoryBytes);
    expect(v.backing.bytes).toBe(v.backing.frames["4k"] * 4096 + v.backing.frames["2m"] * 2 * MiB + v.backing.frames["1g"] * GiB);
    expect(v.pageTableBytes).toBe((v.guestTables.pages + v.eptTables.pages) * 4096);
    expect(v.guestTables.inUse).toBeLessThanOrEqual(v.guestTables.pages);
    expect(v.eptTables.inUse).toBeLessThanOrEqual(v.eptTables.pages);
    const t = v.translation;
    expect(t.stlbMisses).toBeLessThanOrEqual(t.walks);
    expect(t.l1Hits + t.l1Misses).toBe(t.requests + t.retries);
    expect(t.tlbMissRate).toBe(t.requests ? t.stlbMisses / t.requests : 0);
    expect(Object.values(t.refsByTier).reduce((x, y) => x + y, 0)).toBe(t.walkRefs);
  }
  // host-wide: every host byte in use belongs to a VM's backing or EPT tables
  let frames4k = 0;
  let frames2m = 0;
  let frames1g = 0;
  for (const v of st.vms) {
    frames4k += v.backing.frames["4k"] + v.eptTables.pages;
    frames2m += v.backing.frames["2m"];
    frames1g += v.backing.frames["1g"];
  }
  for (const tier of st.tiers) {
    const sum = st.vms.reduce((x, v) => x + v.backing.bytesByTier[tier]! + v.eptTables.bytesByTier[tier]!, 0);
    expect(st.host.byTier[tier]!.bytesUsed, tier).toBe(sum);
    expect(st.totals.memoryBytesByTier[tier]).toBe(sum);
  }
  const h = Object.values(st.host.byTier);
  expect(h.reduce((x, t) => x + t.frames["4k"], 0)).toBe(frames4k);
  expect(h.reduce((x, t) => x + t.frames["2m"], 0)).toBe(frames2m);
  expect(h.reduce((x, t) => x + t.frames["1g"], 0)).toBe(frames1g);
  expect(st.totals.memoryBytes).toBe(st.host.bytesUsed);
  expect(st.simulator.totalBytes).toBe(st.simulator.coreBytes + st.simulator.hostAllocatorBytes + st.simulator.guestAllocatorBytes);
}

function destroyAll(s: Simulator): void {
  for (const vm of s.allVms()) s.destroyVm(vm);
  const st = simStats(s);
  expect(st.vms).toEqual([]);
  for (const t of st.tiers) {
    expect(st.host.byTier[t]!.bytesUsed, t).toBe(0);
    expect(st.host.byTier[t]!.frames).toEqual({ "4k": 0, "2m": 0, "1g": 0 });
  }
  expect(s.core.tablePages()).toBe(0);
}

const UCAT_NODES: VmOptions["nodes"] = [
  { tier: "dram", bytes: 64 * MiB },
  { tier: "nvm", bytes: 128 * MiB },
];

describe("accounting identities", () => {
  it("hold for three osv VMs, and everything returns to the host when they are destroyed", async () => {
    const s = await sim(1 * GiB, 1 * GiB);
    for (let i = 0; i < 3; i++) {
      const vm = s.createVm({ policy: "osv", nodes: [{ tier: "dram", bytes: 64 * MiB }] });
      runKv(vm, { seed: 10 + i, items: 3000, reads: 6000, valueSize: { min: 8, max: 6000 } });
    }
    const st = simStats(s);
    checkIdentities(st);
    expect(st.totals.app.requestedBytes).toBeGreaterThan(0);
    expect(st.totals.translation.requests).toBeGreaterThan(0);
    destroyAll(s);
  });

  it("hold for three ucat VMs over two tiers, and everything returns to the host when they are destroyed", async () => {
    const s = await sim(1 * GiB, 1 * GiB);
    for (let i = 0; i < 3; i++) {
      const vm = s.createVm({ policy: "ucat", nodes: UCAT_NODES });
      runKv(vm, { seed: 20 + i, items: 3000, reads: 6000, valueSize: { min: 8, max: 20_000 }, tier: i === 1 ? "nvm" : "auto" });
    }
    const st = simStats(s);
    checkIdentities(st);
    expect(st.totals.app.byTier.nvm.requestedBytes).toBeGreaterThan(0);
    expect(st.totals.memoryBytesByTier.nvm).toBeGreaterThan(0);
    destroyAll(s);
  });

  it("hold for osv and ucat VMs side by side on one host", async () => {
    const s = await sim(1 * GiB, 1 * GiB);
    for (let i = 0; i < 4; i++) {
      const vm = s.createVm(i % 2 ? { policy: "ucat", nodes: UCAT_NODES } : { policy: "osv", nodes: [{ tier: "dram", bytes: 64 * MiB }] });
      runKv(vm, { seed: 30 + i, items: 2000, reads: 4000 });
    }
    checkIdentities(simStats(s));
    destroyAll(s);
  });

  it("hold for random workloads (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<"osv" | "ucat">("osv", "ucat"),
        fc.integer({ min: 1, max: 2500 }),
        fc.integer({ min: 1, max: 9000 }),
        fc.integer({ min: 0, max: 12_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 0xffffffff }),
        async (policy, items, min, spread, replace, del, seed) => {
          const s = await sim(1 * GiB, 1 * GiB);
          const nodes = policy === "osv" ? [{ tier: "dram", bytes: 128 * MiB }] : UCAT_NODES;
          const o: KvOptions = { seed, items, reads: items, valueSize: { min, max: min + spread }, replace, delete: del };
          for (let i = 0; i < 2; i++) {
            const vm = s.createVm({ policy, nodes });
            const r = runKv(vm, { ...o, seed: (seed + i) >>> 0 });
            if (!r.outOfMemory) expect(vmStats(vm).app.requestedBytes).toBe(r.requestedBytes);
          }
          checkIdentities(simStats(s));
          destroyAll(s);
        },
      ),
      { numRuns: 12, seed: 7 },
    );
  });
});

describe("guest pages touched", () => {
  it("counts linear-map pages by their accessed bit: untouched memory is not counted", async () => {
    const s = await sim(1 * GiB);
    const vm = s.createVm({ policy: "ucat", nodes: [{ tier: "dram", bytes: 256 * MiB }] });
    expect(vmStats(vm).guestPages.touched).toEqual({ "4k": 0, "2m": 0, "1g": 0 });
    runKv(vm, { seed: 1, items: 4000, reads: 4000 });
    const st = vmStats(vm);
    // ~4.4 MiB of values in 2 MiB slab pages: a few pages, each touched
    expect(st.guestPages.linearTouched["2m"]).toBeGreaterThanOrEqual(3);
    expect(st.guestPages.linearTouched["2m"]).toBeLessThanOrEqual(st.backing.frames["2m"]);
    expect(st.guestPages.mapped).toEqual({ "4k": 0, "2m": 0, "1g": 0 });
  });
});
