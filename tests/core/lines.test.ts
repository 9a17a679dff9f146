/**
 * The line cache (docs/core.md section 5b), hand-computed. TestVm puts the guest's
 * table pages at consecutive guest frames (root, PDPT, PD, PT), so their EPT entries
 * share lines: a cold walk misses only the lines it has not read before.
 */
import { describe, expect, it } from "vitest";
import { implementations } from "./impls.js";
import { TestVm, plainConfig } from "./setup.js";
import { READ, WRITE } from "../../src/core/types.js";

describe.each(implementations)("$name: the line cache", ({ create }) => {
  it("a cold 4 KiB walk: 10 of its 24 references miss, the rest hit lines read earlier in the walk", () => {
    const core = create(plainConfig({ lineCache: { entries: 1024, ways: 8 }, lineCacheData: true }));
    const vm = new TestVm(core);
    vm.map(0x40_0000);
    expect(vm.access(0x40_0000, READ, 8)).toBeNull();
    const c = vm.counters();
    expect(c.walkRefs).toBe(24);
    // EPT walk of the root's gPA: 4 misses; 4 guest entries, each in a table page of its own: 4 misses;
    // the EPT walks of the PDPT, PD and PT pages reuse the root's EPT lines: 12 hits;
    // the data page's EPT walk (gPA 4 GiB) shares the PML4E and PDPTE lines: 2 hits, 2 misses
    expect(c.refMissesByTier[0]).toBe(10);
    expect(c.walkRefsCached).toBe(14);
    expect(c.dataLineMisses[0]).toEqual([0, 1, 0]);
  });

  it("data lines: hits, misses across lines, dirty lines and their write-backs", () => {
    // one set of two lines: the third line evicts the least recently used
    const core = create(plainConfig({ lineCache: { entries: 2, ways: 2 }, lineCacheData: true }));
    const vm = new TestVm(core);
    vm.map(0x40_0000);
    expect(vm.access(0x40_0000, READ, 8)).toBeNull(); // walk lines churn the 2-line cache; then line A misses
    const before = vm.counters();
    expect(vm.access(0x40_0000, WRITE, 8)).toBeNull(); // a TLB hit (D is clear: dirty assist, a walk) ...
    const mid = vm.counters();
    expect(mid.dirtyAssists - before.dirtyAssists).toBe(1);
    // the walk's references churned the tiny cache, so line A misses again, and is written: dirty
    expect(mid.dataLineMisses[0]![2]! - before.dataLineMisses[0]![2]!).toBe(1);
    expect(vm.access(0x40_0000 + 64, READ, 128)).toBeNull(); // two lines, B and C: A (dirty) goes back
    const after = vm.counters();
    expect(after.dataLineMisses[0]![1]! - mid.dataLineMisses[0]![1]!).toBe(2);
    expect(after.writebacks[0]! - mid.writebacks[0]!).toBe(1);
    expect(vm.access(0x40_0000 + 64, READ, 8)).toBeNull(); // B: still there
    expect(vm.counters().dataLineHits[1]! - after.dataLineHits[1]!).toBe(1);
  });

  it("without the line cache the counters stay at zero; with it on walks only, data is not counted", () => {
    for (const cfg of [plainConfig(), plainConfig({ lineCache: { entries: 64, ways: 4 }, lineCacheData: false })]) {
      const core = create(cfg);
      const vm = new TestVm(core);
      vm.map(0x40_0000);
      vm.access(0x40_0000, READ, 8);
      const c = vm.counters();
      expect(c.dataLineHits).toEqual([0, 0, 0]);
      expect(c.dataLineMisses[0]).toEqual([0, 0, 0]);
      if (!cfg.lineCache) expect(c.walkRefsCached + c.refMissesByTier[0]!).toBe(0);
      else expect(c.walkRefsCached + c.refMissesByTier[0]!).toBe(c.walkRefs);
    }
  });
});
