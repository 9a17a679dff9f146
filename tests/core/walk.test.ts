// Cold 2D walks: reference counts for every combination of guest page size, EPT page
// size of the guest tables and EPT page size of the data; entry sizes; tiers.
import { describe, expect, it } from "vitest";
import { FETCH, READ, WRITE, type PageSizeCode } from "../../src/core/types.js";
import { implementations } from "./impls.js";
import { GiB, MiB, NVM_BASE, PAGE_1G, PAGE_2M, PAGE_4K, TestVm, hostBase, plainConfig, probe, skylakeConfig } from "./setup.js";

const NAMES = ["4K", "2M", "1G"];

// [guest page, EPT page of the guest tables, EPT page of the data, references].
// A cold walk reads, for each guest level, the table's EPT path plus the entry, then
// the data's EPT path: e.g. 4K/4K/4K = 4 x (4 + 1) + 4 = 24; 1G/1G/1G = 2 x (2 + 1) + 2 = 8.
const COLD: [PageSizeCode, PageSizeCode, PageSizeCode, number][] = [
  [0, 0, 0, 24], [0, 0, 1, 23], [0, 0, 2, 22],
  [0, 1, 0, 20], [0, 1, 1, 19], [0, 1, 2, 18],
  [0, 2, 0, 16], [0, 2, 1, 15], [0, 2, 2, 14],
  [1, 0, 0, 19], [1, 0, 1, 18], [1, 0, 2, 17],
  [1, 1, 0, 16], [1, 1, 1, 15], [1, 1, 2, 14],
  [1, 2, 0, 13], [1, 2, 1, 12], [1, 2, 2, 11],
  [2, 0, 0, 14], [2, 0, 1, 13], [2, 0, 2, 12],
  [2, 1, 0, 12], [2, 1, 1, 11], [2, 1, 2, 10],
  [2, 2, 0, 10], [2, 2, 1, 9], [2, 2, 2, 8],
];

describe.each(implementations)("$name: cold walks", ({ create }) => {
  const VA = 256 * GiB; // 1 GiB aligned

  const cases = COLD.map(([g, te, de, refs]) => ({ g, te, de, refs, title: `guest ${NAMES[g]}, tables in EPT ${NAMES[te]}, data in EPT ${NAMES[de]}: ${refs}` }));
  it.each(cases)("$title references", ({ g, te, de, refs }) => {
    const core = create(skylakeConfig());
    const vm = new TestVm(core, { tableEpt: te, dataEpt: de });
    vm.map(VA, g);
    if (g === PAGE_4K) vm.map(VA + 0x1000, g);
    core.resetCounters();
    expect(vm.access(VA + 0x123, READ)).toBeNull();
    const c = vm.counters();
    const guestLevels = 4 - g;
    expect(c.walks).toBe(1);
    expect(c.walkRefs).toBe(refs);
    expect(c.walkRefsGuest).toBe(guestLevels);
    expect(c.walkRefsEpt).toBe(refs - guestLevels);
    expect(c.refsByTier[0]).toBe(refs);
    expect(c.l1Misses).toBe(1);
    expect(c.pwcMisses).toBe(1);
    expect(c.ntlbMisses).toBe(guestLevels);
    expect(c.ntlbHits).toBe(0);
    expect(c.faults).toBe(0);
    expect(c.data[0]![READ]).toBe(1);
    expect(c.requests).toBe(1);

    // The entry is of the smaller of the guest and EPT leaf sizes.
    const size = Math.min(g, de);
    expect(probe(vm, VA + 0x1000)).toBe(size === 0 ? "walk" : "l1");
    const after = vm.counters();
    expect([after.dtlb4kHits, after.dtlb2mHits, after.dtlb1gHits]).toEqual([0, size === 1 ? 1 : 0, size === 2 ? 1 : 0]);
  });

  it("counts references by the tier of each table's host frame, data by the data page's tier", () => {
    const core = create(plainConfig());
    // Guest tables and guest RAM in NVM; EPT tables stay in DRAM.
    const vm = new TestVm(core, { tableHpa: NVM_BASE + 1 * GiB, ramHpa: NVM_BASE + 4 * GiB });
    vm.map(VA, PAGE_4K);
    core.resetCounters();
    expect(vm.access(VA, WRITE)).toBeNull();
    const c = vm.counters();
    expect(c.refsByTier.slice(0, 3)).toEqual([20, 4, 0]);
    expect(c.data[1]).toEqual([0, 0, 1]);
    expect(c.data[0]).toEqual([0, 0, 0]);
  });

  it("counts an address outside every tier range in the last tier", () => {
    const core = create(plainConfig({ tiers: [{ base: 0, size: 2 * GiB }, { base: 2 * GiB, size: 2 * GiB }] }));
    const vm = new TestVm(core);
    vm.map(VA, PAGE_4K);
    expect(vm.access(VA, READ)).toBeNull();
    // Every frame of VM 0 lies at 64 GiB and above: the last tier (1).
    expect(vm.counters().refsByTier.slice(0, 2)).toEqual([0, 24]);
    expect(vm.counters().data[1]![READ]).toBe(1);
    expect(hostBase(0)).toBe(64 * GiB);
  });

  it("a repeated access hits the L1; a fetch of a page read before hits the STLB", () => {
    const core = create(plainConfig());
    const vm = new TestVm(core);
    vm.map(VA, PAGE_4K);
    expect(probe(vm, VA)).toBe("walk");
    expect(probe(vm, VA + 8)).toBe("l1");
    expect(probe(vm, VA + 16, FETCH)).toBe("stlb");
    expect(probe(vm, VA + 24, FETCH)).toBe("l1");
    const c = vm.counters();
    expect([c.dtlb4kHits, c.itlb4kHits, c.stlbHits, c.stlbHits4k, c.walks]).toEqual([1, 1, 1, 1, 1]);
    expect(c.requestsByKind).toEqual([2, 2, 0]);
  });

  it("a 2 MiB entry read by data fills itlb2m from the STLB for a fetch", () => {
    const core = create(plainConfig());
    const vm = new TestVm(core, { dataEpt: PAGE_2M });
    vm.map(VA, PAGE_2M);
    expect(probe(vm, VA)).toBe("walk");
    expect(probe(vm, VA + 0x5000, FETCH)).toBe("stlb");
    expect(probe(vm, VA + 0x1f_0000, FETCH)).toBe("l1");
    const c = vm.counters();
    expect([c.stlbHits2m, c.itlb2mHits, c.walkRefs]).toEqual([1, 1, 3 * 5 + 3]);
  });

  it("a fetch from a 1 GiB page caches a 2 MiB piece (stlb and itlb2m); data keeps the 1 GiB entry", () => {
    const core = create(plainConfig());
    const vm = new TestVm(core, { dataEpt: PAGE_1G });
    vm.map(VA, PAGE_1G);
    expect(probe(vm, VA)).toBe("walk"); // fills stlb1g and dtlb1g
    expect(probe(vm, VA + 0x40, FETCH)).toBe("walk"); // stlb1g is not probed by fetches
    expect(probe(vm, VA + 0x1000, FETCH)).toBe("l1"); // itlb2m
    expect(probe(vm, VA + 2 * MiB + 8)).toBe("l1"); // dtlb1g
    expect(probe(vm, VA + 2 * MiB, FETCH)).toBe("walk"); // another 2 MiB piece
    expect(probe(vm, VA + 2 * MiB + 0x100, FETCH)).toBe("l1");
    const c = vm.counters();
    expect([c.walks, c.walkRefs, c.itlb2mHits, c.dtlb1gHits, c.stlbHits]).toEqual([3, 3 * 12, 2, 1, 0]);
  });

  it("a data access hits a 2 MiB piece of a 1 GiB page in the STLB and fills dtlb2m", () => {
    const core = create(plainConfig({ tlb: { ...skylakeConfig().tlb, dtlb1g: { entries: 0, ways: 0 }, stlb1g: { entries: 0, ways: 0 } } }));
    const vm = new TestVm(core, { dataEpt: PAGE_1G });
    vm.map(VA, PAGE_1G);
    expect(probe(vm, VA, FETCH)).toBe("walk");
    expect(probe(vm, VA + 0x3000)).toBe("stlb");
    expect(probe(vm, VA + 0x4000)).toBe("l1");
    const c = vm.counters();
    expect([c.stlbHits2m, c.dtlb2mHits]).toEqual([1, 1]);
  });

  it("with 1 GiB data structures absent, a 1 GiB data entry is not cached at all", () => {
    const core = create(plainConfig({ tlb: { ...skylakeConfig().tlb, dtlb1g: { entries: 0, ways: 0 }, stlb1g: { entries: 0, ways: 0 } } }));
    const vm = new TestVm(core, { dataEpt: PAGE_1G });
    vm.map(VA, PAGE_1G);
    expect(probe(vm, VA)).toBe("walk");
    expect(probe(vm, VA)).toBe("walk");
  });
});
