// Paging-structure caches (hits per level, where the walk starts, fills, LRU, cached
// rights) and the nested TLB (hits and misses per guest table translation).
// pwcHits is indexed [PML4E cache, PDPTE cache, PDE cache].
import { describe, expect, it } from "vitest";
import { READ, WRITE } from "../../src/core/types.js";
import { implementations } from "./impls.js";
import { GiB, MiB, TABLE_GPA, TestVm, plainConfig, skylakeConfig } from "./setup.js";

const A = 256 * GiB; // PML4 0, PDPT 256, PD 0, PT 0
// A, A+4K share a PT; A+2M shares the PD; A+1G shares the PDPT; A+512G only the root.
const PAGES = [A, A + 4096, A + 2 * MiB, A + 1 * GiB, A + 512 * GiB];

describe.each(implementations)("$name: paging-structure caches and nested TLB", ({ create }) => {
  function run(vm: TestVm, va: number) {
    const b = vm.counters();
    expect(vm.access(va, READ)).toBeNull();
    const a = vm.counters();
    return {
      refs: a.walkRefs - b.walkRefs,
      pwc: [0, 1, 2].map((i) => a.pwcHits[i]! - b.pwcHits[i]!),
      miss: a.pwcMisses - b.pwcMisses,
      ntlb: [a.ntlbHits - b.ntlbHits, a.ntlbMisses - b.ntlbMisses],
    };
  }

  it("PSC and nested TLB: each walk starts at the deepest hit and reads only new tables through the EPT", () => {
    const vm = new TestVm(create(skylakeConfig()));
    for (const va of PAGES) vm.map(va);
    // cold: 4 x (4 + 1) + 4
    expect(run(vm, PAGES[0]!)).toEqual({ refs: 24, pwc: [0, 0, 0], miss: 1, ntlb: [0, 4] });
    // PDE cache hit: the PT (nested TLB hit) + the data's EPT walk
    expect(run(vm, PAGES[1]!)).toEqual({ refs: 1 + 4, pwc: [0, 0, 1], miss: 0, ntlb: [1, 0] });
    // PDPTE cache hit: the PD (hit), a new PT (miss: 4 + 1), the data
    expect(run(vm, PAGES[2]!)).toEqual({ refs: 1 + 5 + 4, pwc: [0, 1, 0], miss: 0, ntlb: [1, 1] });
    // PML4E cache hit: the PDPT (hit), new PD and PT, the data
    expect(run(vm, PAGES[3]!)).toEqual({ refs: 1 + 5 + 5 + 4, pwc: [1, 0, 0], miss: 0, ntlb: [1, 2] });
    // no PSC hit: the root (hit), new PDPT, PD and PT, the data
    expect(run(vm, PAGES[4]!)).toEqual({ refs: 1 + 5 + 5 + 5 + 4, pwc: [0, 0, 0], miss: 1, ntlb: [1, 3] });
  });

  it("PSC without nested TLB", () => {
    const vm = new TestVm(create(skylakeConfig({ ntlb: null })));
    for (const va of PAGES) vm.map(va);
    const refs = PAGES.map((va) => run(vm, va).refs);
    expect(refs).toEqual([24, 9, 14, 19, 24]);
    const c = vm.counters();
    expect([c.ntlbHits, c.ntlbMisses, c.pwcMisses, ...c.pwcHits]).toEqual([0, 0, 2, 1, 1, 1]);
  });

  it("nested TLB without PSC: every walk reads 4 guest entries, tables seen before cost no EPT walk", () => {
    const vm = new TestVm(create(skylakeConfig({ psc: null })));
    for (const va of PAGES) vm.map(va);
    const r = PAGES.map((va) => run(vm, va));
    expect(r.map((x) => x.refs)).toEqual([24, 4 + 4, 4 + 4 + 4, 4 + 8 + 4, 4 + 12 + 4]);
    expect(r.map((x) => x.ntlb)).toEqual([[0, 4], [4, 0], [3, 1], [2, 2], [1, 3]]);
    const c = vm.counters();
    expect([c.pwcMisses, ...c.pwcHits]).toEqual([0, 0, 0, 0]); // PSCs off: nothing counted
  });

  it("a walk that ends in a fault fills no PSC entry (an EPT violation keeps the PSCs)", () => {
    const vm = new TestVm(create(skylakeConfig()));
    vm.map(A);
    vm.map(A + 4096, 0, {}, { w: false });
    // The guest levels pass; the final EPT walk fails: the walk did not succeed.
    expect(vm.access(A + 4096, WRITE)).toMatchObject({ type: "ept-violation" });
    expect(run(vm, A)).toMatchObject({ pwc: [0, 0, 0], miss: 1 });
    expect(run(vm, A + 4096)).toMatchObject({ pwc: [0, 0, 1], miss: 0 });
  });

  it("a 2 MiB leaf fills the PML4E and PDPTE caches, not the PDE cache", () => {
    const vm = new TestVm(create(skylakeConfig({ ntlb: null })));
    vm.map(A, 1);
    vm.map(A + 2 * MiB, 1);
    expect(run(vm, A)).toEqual({ refs: 3 * 5 + 4, pwc: [0, 0, 0], miss: 1, ntlb: [0, 0] });
    // The PDPTE cache hit leaves one level (the PDE leaf) to read.
    expect(run(vm, A + 2 * MiB)).toEqual({ refs: 5 + 4, pwc: [0, 1, 0], miss: 0, ntlb: [0, 0] });
  });

  it("PDE cache LRU: 5 tags in one 4-way set", () => {
    // PDE cache: 32 entries, 4 ways, 8 sets; tags (VA >> 21) 8 apart share a set.
    const vm = new TestVm(create(skylakeConfig({ ntlb: null })));
    const T = (k: number) => A + k * 16 * MiB;
    for (let k = 0; k < 5; k++) {
      vm.map(T(k));
      vm.map(T(k) + 4096);
      vm.map(T(k) + 8192);
    }
    for (let k = 0; k < 4; k++) run(vm, T(k)); // fills the set with tags 0..3
    expect(run(vm, T(0) + 4096).pwc).toEqual([0, 0, 1]); // touches tag 0
    expect(run(vm, T(4)).pwc).toEqual([0, 1, 0]); // PDPTE hit, fills tag 4, evicts tag 1
    expect(run(vm, T(1) + 4096).pwc).toEqual([0, 1, 0]); // evicted; refills, evicts tag 2
    expect(run(vm, T(0) + 8192).pwc).toEqual([0, 0, 1]);
    expect(run(vm, T(3) + 4096).pwc).toEqual([0, 0, 1]);
    expect(run(vm, T(2) + 4096).pwc).toEqual([0, 1, 0]);
  });

  it("a PSC entry carries the rights accumulated down to its entry, stale until flushed", () => {
    const withPsc = new TestVm(create(skylakeConfig()));
    const without = new TestVm(create(plainConfig()));
    for (const vm of [withPsc, without]) {
      vm.map(A);
      vm.map(A + 4096);
      vm.map(A + 8192);
      expect(vm.access(A, READ)).toBeNull();
      // Clear R/W in the PDE (it links to the PT, guest frame 3; A set by the walk).
      const pde = BigInt(TABLE_GPA + 3 * 4096) | 0x1n | 0x4n | 0x20n;
      expect(vm.core.gptWriteRaw(vm.vm, vm.root, A, 2, pde)).toBe("ok");
    }
    expect(withPsc.access(A + 4096, WRITE)).toBeNull(); // the PDE cache still says writable
    expect(without.access(A + 4096, WRITE)).toMatchObject({ type: "page-fault", error: 7 });
    withPsc.core.invlpg(withPsc.vcpu, A + 4096);
    expect(withPsc.access(A + 8192, WRITE)).toMatchObject({ type: "page-fault", error: 7 });
  });

  it("PSC entries are tagged with the PCID", () => {
    const vm = new TestVm(create(skylakeConfig({ ntlb: null })), { pcid: 1 });
    vm.map(A);
    vm.map(A + 4096);
    run(vm, A);
    vm.core.setCr3(vm.vcpu, vm.root, 2, true);
    expect(run(vm, A + 4096)).toMatchObject({ pwc: [0, 0, 0], miss: 1 });
  });
});
