// Hand-computed cases of the accounting: the 19-reference walk of a 2 MiB guest page
// over 4 KiB EPT pages (docs/core.md section 5), tier exhaustion and fallback, and host
// fragmentation that denies a 2 MiB EPT page.
import { describe, expect, it } from "vitest";
import { GiB, MiB, access, sim } from "./helpers.js";
import { simStats, vmStats } from "../../src/sim/stats.js";
import { runKv } from "../../src/workloads/kv/kv.js";
import { LINEAR_BASE } from "../../src/guest/guest.js";

const PS = 0x80n;
const ADDR_2M = 0x000f_ffff_ffe0_0000n;

describe("osv: a fault in an anonymous mapping", () => {
  it("maps a 2 MiB guest page over 4 KiB EPT pages where the fault is in the 2 MiB-aligned interior; a cold walk reads 19 entries", async () => {
    const s = await sim(1 * GiB);
    const vm = s.createVm({ policy: "osv", nodes: [{ tier: "dram", bytes: 64 * MiB }] });
    const vma = vm.guest.mmap(8 * MiB); // 2 MiB aligned, four whole 2 MiB pages
    const va = vma.start + 2 * MiB + 0x1234;
    access(vm, va, 8, "write");
    s.flush();
    expect(vm.faults).toEqual([]);

    // entry read-back: a 2 MiB leaf in the guest (PDE with PS), a 4 KiB leaf in the EPT
    const g = s.core.gptEntry(vm.id, vm.guest.kernelRoot, va);
    expect(g.level).toBe(2);
    expect(g.raw & PS).toBe(PS);
    const gpa = Number(g.raw & ADDR_2M) + (va % (2 * MiB));
    const e = s.core.eptEntry(vm.id, gpa);
    expect(e.level).toBe(1);
    expect(e.raw & 7n).not.toBe(0n);

    const st = vmStats(vm);
    expect(st.guestPages.mapped).toEqual({ "4k": 0, "2m": 1, "1g": 0 });
    expect(st.backing.frames["2m"]).toBe(0);

    // a cold walk: drop every TLB, paging-structure cache and nested-TLB entry of the VM
    // (INVEPT), so neither the walk caches nor the nested TLB shorten it
    s.core.invept(vm.id);
    s.core.resetCounters();
    access(vm, va, 8, "read");
    const c = s.counters(vm.vcpu);
    expect(c.walks).toBe(1);
    // 3 guest levels (PML4E, PDPTE, the PDE leaf), each translated by a 4-level EPT walk,
    // then the data's gPA: 3 x (4 + 1) + 4 = 19
    expect(c.walkRefs).toBe(19);
    expect(c.walkRefsGuest).toBe(3);
    expect(c.walkRefsEpt).toBe(16);
    expect(vmStats(vm).translation.walkRefs).toBe(19);
  });

  it("maps 4 KiB outside the 2 MiB-aligned interior; a cold walk then reads 24 entries", async () => {
    const s = await sim(1 * GiB);
    const vm = s.createVm({ policy: "osv", nodes: [{ tier: "dram", bytes: 64 * MiB }] });
    const vma = vm.guest.mmap(3 * MiB); // [start, start + 2 MiB) whole, then 1 MiB
    const va = vma.start + 2 * MiB + 0x2010;
    access(vm, va, 8, "write");
    s.flush();
    expect(s.core.gptEntry(vm.id, vm.guest.kernelRoot, va).level).toBe(1);
    expect(vmStats(vm).guestPages.mapped).toEqual({ "4k": 1, "2m": 0, "1g": 0 });
    s.core.invept(vm.id);
    s.core.resetCounters();
    access(vm, va, 8, "read");
    expect(s.counters(vm.vcpu).walkRefs).toBe(24);
  });
});

describe("tier exhaustion and fallback", () => {
  // host DRAM (16 MiB) smaller than the VM's DRAM node (64 MiB): the node outgrows the tier
  const vmNodes = [
    { tier: "dram", bytes: 64 * MiB },
    { tier: "nvm", bytes: 64 * MiB },
  ];

  it("ucat backs a full tier's node from the next tier and counts the fallbacks", async () => {
    const s = await sim(16 * MiB, 256 * MiB);
    const vm = s.createVm({ policy: "ucat", nodes: vmNodes });
    const r = runKv(vm, { seed: 3, items: 20_000, reads: 1000, tier: "dram" });
    expect(r.outOfMemory).toBeNull();
    const st = vmStats(vm);
    expect(st.backing.tierFallbacks).toBeGreaterThan(0);
    expect(st.memoryBytesByTier.nvm).toBeGreaterThan(0);
    // the guest asked for DRAM: its allocator counts every byte there
    expect(st.app.byTier.dram.requestedBytes).toBe(r.requestedBytes);
    expect(st.app.byTier.nvm.heldBytes).toBe(0);
    const host = simStats(s).host;
    expect(host.byTier.dram.bytesFree).toBeLessThan(2 * MiB);
    expect(host.tierFallbacks).toBeGreaterThan(0);
    expect(st.translation.accessesByTier.nvm).toBeGreaterThan(0);
  });

  it("with onTierFull 'fail' the guest sees out-of-memory instead, and nothing is over-committed", async () => {
    const s = await sim(16 * MiB, 256 * MiB, { hypervisor: { onTierFull: "fail" } });
    const vm = s.createVm({ policy: "ucat", nodes: vmNodes });
    const r = runKv(vm, { seed: 3, items: 20_000, reads: 1000, tier: "dram" });
    expect(r.outOfMemory).toBe("host");
    const st = vmStats(vm);
    expect(st.backing.outOfMemory).toBeGreaterThan(0);
    expect(st.faults.oom).toBeGreaterThan(0);
    expect(st.memoryBytesByTier.nvm).toBe(0);
    const host = simStats(s).host;
    expect(host.byTier.dram.bytesUsed).toBeLessThanOrEqual(16 * MiB);
    expect(host.byTier.dram.bytesFree).toBe(0);
    expect(host.byTier.nvm.bytesUsed).toBe(0);
  });

  it("osv fills DRAM first, then NVM", async () => {
    const s = await sim(16 * MiB, 256 * MiB);
    const vm = s.createVm({ policy: "osv", nodes: [{ tier: "dram", bytes: 128 * MiB }] });
    const r = runKv(vm, { seed: 4, items: 8000, reads: 1000 });
    expect(r.outOfMemory).toBeNull();
    const st = vmStats(vm);
    expect(st.memoryBytesByTier.dram).toBe(16 * MiB);
    expect(st.memoryBytesByTier.nvm).toBeGreaterThan(0);
    expect(st.backing.tierFallbacks).toBeGreaterThan(0);
  });
});

describe("host fragmentation", () => {
  it("without a free 2 MiB host frame a ucat first touch gets a 4 KiB EPT page and counts a fallback", async () => {
    const s = await sim(64 * MiB);
    // every 4 KiB frame, then every other one back: half the tier free, no 2 MiB block
    const frames: number[] = [];
    for (let f = s.host.alloc("dram", 0); f !== null; f = s.host.alloc("dram", 0)) frames.push(f);
    expect(frames.length).toBe(16384);
    for (let i = 1; i < frames.length; i += 2) s.host.free(frames[i]!, 0);
    const before = simStats(s).host.byTier.dram;
    expect(before.bytesFree).toBe(32 * MiB);
    expect(before.unusableFor2M).toBe(before.bytesFree);
    expect(before.largestFreeOrder).toBe(0);

    const vm = s.createVm({ policy: "ucat", nodes: [{ tier: "dram", bytes: 32 * MiB }] });
    const at0 = vm.hv.stats(vm.id).smallerFallbacks;
    const p = vm.allocator.malloc(1000, { tier: "dram" });
    access(vm, p, 1000, "write");
    s.flush();
    expect(vm.faults).toEqual([]);
    const b = vm.hv.stats(vm.id);
    expect(b.smallerFallbacks).toBe(at0 + 1);
    expect(b.frames["2m"]).toBe(0);
    // the guest's page is 2 MiB (its linear map), the EPT's 4 KiB
    expect(s.core.gptEntry(vm.id, vm.guest.kernelRoot, p).level).toBe(2);
    expect(s.core.eptEntry(vm.id, p - LINEAR_BASE).level).toBe(1);

    // give back the rest of the tier's last 2 MiB block (the VM took low frames): the
    // next new slab page gets a 2 MiB EPT page
    const last = frames.slice(-512);
    expect(last[0]! % (2 * MiB)).toBe(0);
    for (let i = 0; i < 512; i += 2) s.host.free(last[i]!, 0);
    expect(s.host.canAlloc("dram", 9)).toBe(true);
    const q = vm.allocator.malloc(4000, { tier: "dram" }); // another size class: a new slab page
    access(vm, q, 4000, "write");
    s.flush();
    expect(vm.hv.stats(vm.id).frames["2m"]).toBe(1);
    expect(s.core.eptEntry(vm.id, q - LINEAR_BASE).level).toBe(2);
  });
});
