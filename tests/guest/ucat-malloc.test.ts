/**
 * The UCat allocator (src/guest/malloc/ucat.ts, docs/guest-ucat.md): the class table,
 * hand-computed waste against OSv's pools, tier placement and the auto rule, large
 * pages in both layers, exhaustion and fall-back, invalid frees, and a property test
 * of random malloc/free sequences against a simple model.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { GuestOutOfMemory, LINEAR_BASE } from "../../src/guest/guest.js";
import { InvalidFree } from "../../src/guest/malloc/types.js";
import { SLAB_MAX, UCAT_CLASSES, UcatAllocator, ucatAlignment, ucatClassOf } from "../../src/guest/malloc/ucat.js";
import { SLAB } from "../../src/core/layout.js";
import type { Vm } from "../../src/sim/vm.js";
import { Simulator } from "../../src/sim/simulator.js";
import { GiB, KiB, MiB, access, guestLeaf, nodeTier, ucat, ucatSim, ucatVm } from "./ucat-helpers.js";

/** OSv's mempool (REFERENCE.md section 2): bytes a request occupies, for comparison. */
function osvFootprint(size: number): number {
  if (size <= 1024) {
    const pool = Math.max(8, 2 ** Math.ceil(Math.log2(size)));
    // objects carved from the end of a 4 KiB page with a ~40 B header
    return 4096 / Math.floor((4096 - 40) / pool);
  }
  if (size <= 4096) return 4096;
  return Math.ceil(size / 4096) * 4096;
}

function expectInvalid(f: () => void, reason: InvalidFree["reason"]): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidFree);
    expect((e as InvalidFree).reason).toBe(reason);
    return;
  }
  throw new Error(`expected InvalidFree (${reason})`);
}

describe("ucat: size classes", () => {
  it("has 64 classes: 8 B steps to 128 B, then 8 per doubling to 8 KiB", () => {
    expect(UCAT_CLASSES.length).toBe(64);
    expect(UCAT_CLASSES.length).toBeLessThanOrEqual(SLAB.MAX_CACHES);
    expect(UCAT_CLASSES.slice(0, 17)).toEqual([8, 16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 96, 104, 112, 120, 128, 144]);
    expect(UCAT_CLASSES.slice(32, 40)).toEqual([576, 640, 704, 768, 832, 896, 960, 1024]);
    expect(UCAT_CLASSES.slice(40, 48)).toEqual([1152, 1280, 1408, 1536, 1664, 1792, 1920, 2048]);
    expect(UCAT_CLASSES[63]).toBe(SLAB_MAX);
  });

  it("spacing: increasing multiples of 8, each step at most max(8 B, 12.5% of the class below)", () => {
    for (let i = 0; i < UCAT_CLASSES.length; i++) {
      const c = UCAT_CLASSES[i]!;
      expect(c % 8).toBe(0);
      if (i === 0) continue;
      const prev = UCAT_CLASSES[i - 1]!;
      expect(c).toBeGreaterThan(prev);
      expect(c - prev).toBeLessThanOrEqual(Math.max(8, prev / 8));
    }
  });

  it("waste of every size 1..8192: under 8 B up to 128 B, under 12.5% of the request above", () => {
    for (let s = 1; s <= SLAB_MAX; s++) {
      const c = UCAT_CLASSES[ucatClassOf(s)]!;
      expect(c).toBeGreaterThanOrEqual(s);
      if (ucatClassOf(s) > 0) expect(UCAT_CLASSES[ucatClassOf(s) - 1]!).toBeLessThan(s); // the smallest class that fits
      if (s <= 128) expect(c - s).toBeLessThan(8);
      else expect(c - s).toBeLessThan(s / 8);
    }
  });

  it("1147 B (a memaslap item) and 1024 B: hand-computed against OSv", async () => {
    // ucat: 1147 -> class 1152, 5 B waste (0.4%); 2 MiB / 1152 = 1820 objects, 512 B tail
    expect(UCAT_CLASSES[ucatClassOf(1147)]).toBe(1152);
    // OSv: 1147 B > 1024 B takes a whole 4 KiB page: 2949 B waste (257%)
    expect(osvFootprint(1147) - 1147).toBe(2949);
    // ucat: 1024 -> class 1024, no waste, 2048 per 2 MiB page
    expect(UCAT_CLASSES[ucatClassOf(1024)]).toBe(1024);
    // OSv: a 1024 B pool page holds (4096 - 40) / 1024 = 3 objects: a third of a page each, 341.3 B waste
    expect(osvFootprint(1024) - 1024).toBeCloseTo(341.33, 2);
    // both within the documented spacing: waste < 12.5% of the request
    expect(1152 - 1147).toBeLessThan(1147 / 8);

    const sim = await ucatSim();
    const vm = ucatVm(sim);
    const a = ucat(vm);
    const p = a.malloc(1147, { tier: "dram" });
    const q = a.malloc(1024, { tier: "dram" });
    expect(a.usableSize(p)).toBe(1152);
    expect(a.usableSize(q)).toBe(1024);
    const st = a.stats();
    expect(st.requestedBytes).toBe(1147 + 1024);
    expect(st.allocatedBytes).toBe(1152 + 1024);
    expect(st.heldBytes).toBe(2 * 2 * MiB); // one 2 MiB slab page per class
    const heap = sim.core.slabStats(vm.id * 4 + 0); // heap id: vm.id * 4 + node
    expect(heap.classes[ucatClassOf(1147)]!.perPage).toBe(1820);
    expect(heap.classes[ucatClassOf(1024)]!.perPage).toBe(2048);
    // metadata outside the pages, in DRAM: the heap record (48 + 64 x 32 B) and, per page,
    // a 32 B record + the free bitmap + a hash entry (16 B at load 1/2)
    const pageMeta = (n: number): number => 32 + Math.ceil(n / 64) * 8 + 32;
    expect(st.metadataBytes).toBe(2096 + pageMeta(1820) + pageMeta(2048));
    expect(st.metadataTier).toBe("dram");
  });

  it("alignment: 8 B, raised to the largest power of two dividing the size, up to 4 KiB", () => {
    expect([0, 1, 7, 8, 24, 40, 48, 96, 1024, 1147, 1152, 4096, 8192, 12288].map(ucatAlignment)).toEqual([8, 8, 8, 8, 8, 8, 16, 32, 1024, 8, 128, 4096, 4096, 4096]);
  });
});

describe("ucat: tiers", () => {
  it("tier dram and nvm: slab objects, page runs and large allocations come from that tier's node and host tier", async () => {
    const sim = await ucatSim();
    const vm = ucatVm(sim);
    const a = ucat(vm);
    for (const tier of ["dram", "nvm"]) {
      for (const size of [64, 1147, 8192, 8193, 100 * KiB, 2 * MiB]) {
        const p = a.malloc(size, { tier });
        expect(nodeTier(vm, p)).toBe(tier);
        access(vm, p, 8, "write");
        sim.flush();
        const gpa = p >= LINEAR_BASE ? p - LINEAR_BASE : guestLeaf(vm, p).gpa;
        expect(vm.hv.lookup(vm.id, gpa)!.tier).toBe(tier);
        // the per-page statistics' lookup agrees, by index
        expect(vm.hv.tierIndexAt(vm.id, gpa)).toBe(sim.host.tierIndex(tier));
      }
      expect(a.stats().byTier[tier]!.requestedBytes).toBe(64 + 1147 + 8192 + 8193 + 100 * KiB + 2 * MiB);
    }
    expect(sim.faults).toEqual([]);
  });

  it("the default is auto: everything in DRAM while it has room", async () => {
    const sim = await ucatSim();
    const a = ucat(ucatVm(sim));
    const vm = a.vm;
    for (const size of [8, 1147, 100 * KiB, 4 * MiB]) expect(nodeTier(vm, a.malloc(size))).toBe("dram");
  });

  it("an unknown tier or a bad size is an error naming the value and what is allowed", async () => {
    const sim = await ucatSim();
    const a = ucat(ucatVm(sim));
    expect(() => a.malloc(64, { tier: "cxl" })).toThrow(/tier: "cxl" is not allowed; expected "auto" or one of vm 0's tiers: "dram", "nvm"/);
    expect(() => a.malloc(-1)).toThrow(/size: -1 is not allowed/);
    expect(() => a.malloc(1.5)).toThrow(/size: 1.5 is not allowed/);
    expect(a.stats().mallocs).toBe(0);
  });

  it("auto: bulk data goes to NVM once DRAM would fall below the watermark; small hot objects stay in DRAM", async () => {
    const sim = await ucatSim();
    const vm = ucatVm(sim);
    const a = ucat(vm);
    const dram = vm.guest.nodes[0]!;
    const freeFraction = (): number => dram.frames.freeBytes / dram.bytes;
    expect(nodeTier(vm, a.malloc(1147, { tier: "auto" }))).toBe("dram");
    // a bulk request that would itself take DRAM below 25% free goes to NVM
    const big = a.malloc(800 * MiB, { tier: "auto" });
    expect(nodeTier(vm, big)).toBe("nvm");
    expect(a.stats().watermarkDiversions).toBe(1);
    // fill DRAM explicitly to below the watermark
    a.malloc(780 * MiB, { tier: "dram" });
    expect(freeFraction()).toBeLessThan(0.25);
    // bulk (>= 256 B, Optane's XPLine): NVM, whatever the grain
    for (const size of [256, 1147, 8192, 100 * KiB, 4 * MiB]) expect(nodeTier(vm, a.malloc(size, { tier: "auto" }))).toBe("nvm");
    // small hot (< 256 B): still DRAM
    for (const size of [8, 64, 255]) expect(nodeTier(vm, a.malloc(size, { tier: "auto" }))).toBe("dram");
    expect(a.stats().watermarkDiversions).toBe(6);
    expect(a.stats().tierFallbacks).toBe(0);
  });

  it("auto with options: the watermark and the hot threshold are settable", async () => {
    const sim = await ucatSim();
    const vm = ucatVm(sim);
    // the VM's own allocator has made no heap yet (heaps are created on first use), so a second one can own them
    // watermark 1: bulk data never goes to DRAM while another tier has room
    const a = new UcatAllocator(vm, { watermark: 1, hotBelow: 64 });
    expect(nodeTier(vm, a.malloc(63))).toBe("dram");
    expect(nodeTier(vm, a.malloc(64))).toBe("nvm");
    expect(() => new UcatAllocator(vm, { watermark: 2 })).toThrow(/watermark: 2 is not allowed/);
    expect(() => new UcatAllocator(vm, { onTierFull: "x" as "fail" })).toThrow(/onTierFull/);
  });
});

describe("ucat: large pages in both layers", () => {
  it("a 2 MiB allocation is one 2 MiB guest page over one 2 MiB EPT page; a cold access walks 15 references", async () => {
    const sim = await ucatSim();
    const vm = ucatVm(sim);
    const a = ucat(vm);
    const p = a.malloc(2 * MiB, { tier: "nvm" });
    expect(p % (2 * MiB)).toBe(0);
    const leaf = guestLeaf(vm, p);
    expect(leaf.level).toBe(2);
    expect(leaf.gpa % (2 * MiB)).toBe(0);
    expect(sim.core.eptEntry(vm.id, leaf.gpa).level).toBe(2);
    expect(vm.hv.lookup(vm.id, leaf.gpa)).toMatchObject({ order: 9, tier: "nvm" });
    expect(vm.hv.tierIndexAt(vm.id, leaf.gpa + 2 * MiB - 1)).toBe(sim.host.tierIndex("nvm"));
    expect(vm.hv.tierIndexAt(vm.id, 2 ** 45)).toBe(-1); // nothing backs it
    expect(vm.hv.tierIndexAt(vm.id, leaf.gpa + 2 * MiB)).toBe(vm.hv.lookup(vm.id, leaf.gpa + 2 * MiB) ? sim.host.tierIndex(vm.hv.lookup(vm.id, leaf.gpa + 2 * MiB)!.tier) : -1);
    // a run of pages in one call: each page's tierIndexAt, across the page's end
    const run = new Int32Array(1024);
    vm.hv.tierIndicesAt(vm.id, leaf.gpa + MiB, 1024, run);
    for (let i = 0; i < 1024; i += 37) expect(run[i]).toBe(vm.hv.tierIndexAt(vm.id, leaf.gpa + MiB + i * 4096));
    expect(run[255]).toBe(sim.host.tierIndex("nvm"));
    expect(() => sim.core.eptTierIndices(vm.id, leaf.gpa + 1, 4, run)).toThrow(/gpa: .* aligned to 4096/);
    expect(() => sim.core.eptTierIndices(vm.id, leaf.gpa, 4097, new Int32Array(5000))).toThrow(/n: 4097 is not allowed; expected 1..4096/);
    expect(() => sim.core.eptTierIndices(vm.id, leaf.gpa, 8, new Int32Array(4))).toThrow(/out: 4 entries is not allowed/);
    // the whole allocation is one page: its last byte has the same leaf
    expect(guestLeaf(vm, p + 2 * MiB - 1).gpa).toBe(leaf.gpa + 2 * MiB - 1);
    // the VM's first access: 3 guest levels, each table's gPA and the data's through a
    // 3-level EPT: (3 + 1)(3 + 1) - 1 = 15 (docs/core.md section 5; nested TLB and PSCs cold)
    access(vm, p + 4096, 8);
    const c = vm.counters();
    expect(c.walks).toBe(1);
    expect(c.walkRefs).toBe(15);
    expect(c.walkRefsGuest).toBe(3);
    expect(c.walkRefsEpt).toBe(12);
    expect(c.ntlbHits).toBe(0);
    expect(a.stats().byTier.nvm).toEqual({ requestedBytes: 2 * MiB, allocatedBytes: 2 * MiB, heldBytes: 2 * MiB });
  });

  it("a 1 GiB allocation is one 1 GiB guest page over one 1 GiB EPT page; a cold access walks 10 references (8 with 1 GiB EPT pages under the tables too)", async () => {
    const sim = await ucatSim();
    const vm = ucatVm(sim);
    const a = ucat(vm);
    const p = a.malloc(GiB, { tier: "nvm" });
    expect(p % GiB).toBe(0);
    const leaf = guestLeaf(vm, p);
    expect(leaf.level).toBe(3);
    expect(sim.core.eptEntry(vm.id, leaf.gpa).level).toBe(3);
    expect(vm.hv.lookup(vm.id, leaf.gpa)).toMatchObject({ order: 18, tier: "nvm" });
    expect(vm.hv.stats(vm.id).smallerFallbacks).toBe(0);
    access(vm, p + 123 * MiB, 8);
    // 2 guest levels; their tables sit in the DRAM node, backed by 2 MiB EPT pages (ucat's
    // first-touch size): 2 x (3 + 1) + 2 for the data's 1 GiB EPT leaf = 10
    const c = vm.counters();
    expect([c.walks, c.walkRefs, c.walkRefsGuest, c.walkRefsEpt]).toEqual([1, 10, 2, 8]);

    // with 1 GiB EPT pages on first touch, the tables are under 1 GiB EPT pages too: (2 + 1)(2 + 1) - 1 = 8
    const sim1g = await Simulator.create({ ...sim.options, hypervisor: { maxEptPage: 2 } });
    const vm1g = ucatVm(sim1g);
    const q = ucat(vm1g).malloc(GiB, { tier: "nvm" });
    access(vm1g, q, 8);
    expect(vm1g.counters().walkRefs).toBe(8);
  });

  it("page choice: 1 GiB pages when the size is >= 1 GiB and rounding wastes at most 1/8; else 2 MiB pages", async () => {
    const sim = await ucatSim();
    const vm = ucatVm(sim, 1 * GiB, 4 * GiB);
    const a = ucat(vm);
    const p = a.malloc(GiB - 100 * MiB, { tier: "nvm" }); // below 1 GiB: 2 MiB pages
    expect(guestLeaf(vm, p).level).toBe(2);
    expect(a.usableSize(p)).toBe(GiB - 100 * MiB);
    const q = a.malloc(2 * GiB - 100 * MiB, { tier: "nvm" }); // 4.9% waste: two 1 GiB pages
    expect(guestLeaf(vm, q).level).toBe(3);
    expect(a.usableSize(q)).toBe(2 * GiB);
    a.free(q);
    const r = a.malloc(GiB + 2 * MiB, { tier: "nvm" }); // 2 GiB would waste ~50%: 2 MiB pages
    expect(guestLeaf(vm, r).level).toBe(2);
    expect(a.usableSize(r)).toBe(GiB + 2 * MiB);
    const s = a.malloc(2 * MiB + 1, { tier: "nvm" }); // rounding to 2 MiB: the waste is accounted
    expect(a.usableSize(s)).toBe(4 * MiB);
  });

  it("1 GiB pages fall back to 2 MiB pages when the node has no free 1 GiB frame", async () => {
    const sim = await ucatSim();
    const vm = ucatVm(sim);
    const a = ucat(vm);
    a.malloc(100, { tier: "nvm" }); // a slab page splits the NVM node's first 1 GiB block
    // 1843 MiB: rounding to 2 GiB wastes 10% (<= 1/8), so 1 GiB pages are asked for; only one 1 GiB block is whole
    const p = a.malloc(1843 * MiB, { tier: "nvm" });
    expect(guestLeaf(vm, p).level).toBe(2);
    expect(a.usableSize(p)).toBe(1844 * MiB);
    expect(a.stats().page1gFallbacks).toBe(1);
    expect(a.stats().byTier.nvm!.heldBytes).toBe(2 * MiB + 1844 * MiB);
  });
});

describe("ucat: core slab heaps", () => {
  it("each node takes its own heap from the simulator; a heap another allocator holds or one the core lacks is an error, not a reset", async () => {
    const sim = await ucatSim();
    const v0 = ucatVm(sim); // heaps 0 (dram) and 1 (nvm)
    const v1 = sim.createVm({ policy: "osv", nodes: [{ tier: "dram", bytes: 64 * MiB }] }); // OSv's pools: heap 2
    const a = ucat(v0);
    a.malloc(64, { tier: "dram" });
    a.malloc(64, { tier: "nvm" });
    expect(sim.core.slabStats(0).classes[ucatClassOf(64)]!.pages).toBe(1);
    expect(sim.core.slabStats(1).classes[ucatClassOf(64)]!.pages).toBe(1);
    v1.allocator.free(v1.allocator.malloc(64)); // the osv heap is its own
    expect(sim.core.slabStats(2).allocs).toBe(1);
    // an explicit id another allocator holds is refused, and nothing is taken
    const v2 = ucatVm(sim); // heaps 3 and 4
    const taken = new UcatAllocator(v2, { heapId: () => 2 });
    expect(() => taken.malloc(64, { tier: "dram" })).toThrow(/slab heap 2 \(vm 2 node 0\) is already in use by another allocator/);
    expect(taken.stats().byTier.dram!.heldBytes).toBe(0);
    const b = new UcatAllocator(v2, { heapId: (node) => 900 + node });
    expect(() => b.malloc(8)).toThrow(/slab heap 900 .* not available: the core has heaps 0\.\.31/);
    const c = new UcatAllocator(v2, { heapId: (node) => 20 + node });
    expect(nodeTier(v2, c.malloc(8, { tier: "nvm" }))).toBe("nvm");
    expect(sim.core.slabStats(21).allocs).toBe(1);
  });
});

describe("ucat: page runs (8 KiB < size < 2 MiB)", () => {
  it("whole 4 KiB pages, first fit and contiguous inside 2 MiB run frames", async () => {
    const sim = await ucatSim();
    const a = ucat(ucatVm(sim));
    const p = a.malloc(8193, { tier: "dram" }); // 3 pages (a buddy block would be 4)
    expect(a.usableSize(p)).toBe(12 * KiB);
    expect(p % (2 * MiB)).toBe(0); // the first run of a fresh frame
    const q = a.malloc(9 * KiB, { tier: "dram" });
    expect(q).toBe(p + 12 * KiB); // contiguous, first fit
    const r = a.malloc(2 * MiB - 1, { tier: "dram" }); // 512 pages: a frame of its own
    expect(a.usableSize(r)).toBe(2 * MiB);
    a.free(p);
    expect(a.malloc(12 * KiB, { tier: "dram" })).toBe(p); // the hole is reused
    const st = a.stats();
    expect(st.runFrames).toBe(2);
    expect(st.requestedBytes).toBe(9 * KiB + 2 * MiB - 1 + 12 * KiB);
    expect(st.allocatedBytes).toBe(12 * KiB + 2 * MiB + 12 * KiB);
    expect(st.heldBytes).toBe(4 * MiB);
  });
});

describe("ucat: empty pages", () => {
  it("an emptied slab page leaves its class unless it is the last; one spare frame per node; the rest go back; trim() gives back all", async () => {
    const sim = await ucatSim();
    const vm = ucatVm(sim);
    const a = ucat(vm);
    const node = vm.guest.nodes[1]!;
    const free0 = node.frames.freeBytes;
    // 8 KiB objects: 256 per 2 MiB page; 513 objects take 3 pages
    const ps = Array.from({ length: 513 }, () => a.malloc(8192, { tier: "nvm" }));
    expect(a.stats().slabPages).toBe(3);
    expect(node.frames.freeBytes).toBe(free0 - 6 * MiB);
    for (const p of ps) a.free(p);
    const st = a.stats();
    expect(st.slabPages).toBe(1); // the class keeps its last page
    expect(st.spareFrames).toBe(1);
    expect(st.framesReturned).toBe(1);
    expect(st.byTier.nvm!.heldBytes).toBe(4 * MiB);
    expect(node.frames.freeBytes).toBe(free0 - 4 * MiB);
    // the spare serves the next frame a page run needs, without the node
    a.malloc(64 * KiB, { tier: "nvm" });
    expect(node.frames.freeBytes).toBe(free0 - 4 * MiB);
    expect(a.stats().spareFrames).toBe(0);
    expect(a.trim()).toBe(2 * MiB); // the empty 8 KiB page
    expect(a.stats().byTier.nvm!.heldBytes).toBe(2 * MiB);
  });
});

describe("ucat: exhaustion and fall-back", () => {
  // a 4 MiB DRAM node: page tables split its first 2 MiB block, so one 2 MiB frame is left
  async function tiny(options?: ConstructorParameters<typeof UcatAllocator>[1]): Promise<{ vm: Vm; a: UcatAllocator }> {
    const sim = await ucatSim();
    const vm = ucatVm(sim, 4 * MiB, 64 * MiB);
    return { vm, a: options ? new UcatAllocator(vm, options) : ucat(vm) };
  }

  it("an explicit tier that is full fails with GuestOutOfMemory and changes nothing", async () => {
    const { vm, a } = await tiny();
    const p = a.malloc(64, { tier: "dram" });
    expect(nodeTier(vm, p)).toBe("dram");
    const before = a.stats();
    const hostBefore = vm.sim.host.stats().bytesUsed;
    expect(() => a.malloc(2000, { tier: "dram" })).toThrow(GuestOutOfMemory);
    expect(() => a.malloc(2000, { tier: "dram" })).toThrow(/malloc\(2000, tier dram\): no room for 2048 B \(slab\) on dram/);
    expect(() => a.malloc(4 * MiB, { tier: "dram" })).toThrow(GuestOutOfMemory);
    expect(a.stats()).toEqual(before);
    expect(vm.sim.host.stats().bytesUsed).toBe(hostBefore);
    // the existing class still has room
    expect(nodeTier(vm, a.malloc(64, { tier: "dram" }))).toBe("dram");
  });

  it("auto falls back to NVM when DRAM is full; onTierFull: fallback does so for an explicit tier", async () => {
    const { vm, a } = await tiny();
    a.malloc(64, { tier: "dram" });
    expect(nodeTier(vm, a.malloc(100, { tier: "auto" }))).toBe("nvm"); // small hot, but no DRAM frame
    expect(a.stats().tierFallbacks).toBe(1);
    const t = await tiny({ onTierFull: "fallback" });
    t.a.malloc(64, { tier: "dram" });
    expect(nodeTier(t.vm, t.a.malloc(2000, { tier: "dram" }))).toBe("nvm");
    expect(t.a.stats().tierFallbacks).toBe(1);
  });

  it("empty pages kept for reuse are given back before a tier is declared full", async () => {
    const { vm, a } = await tiny();
    a.free(a.malloc(64, { tier: "dram" })); // the class keeps its empty page
    expect(a.stats().byTier.dram!.heldBytes).toBe(2 * MiB);
    expect(nodeTier(vm, a.malloc(2000, { tier: "dram" }))).toBe("dram");
    expect(a.stats().slabPages).toBe(1);
  });

  it("when every tier is full: GuestOutOfMemory, nothing changed", async () => {
    const { vm, a } = await tiny();
    a.malloc(1147);
    const before = a.stats();
    expect(() => a.malloc(128 * MiB)).toThrow(/no room for 134217728 B \(large\) on nvm, dram/);
    expect(a.stats()).toEqual(before);
    expect(vm.guest.vmaOf(0x2000_0000_0000)).toBeUndefined(); // no mapping left behind
  });
});

describe("ucat: invalid frees", () => {
  it("double free, foreign and misaligned addresses, for every grain; nothing changes", async () => {
    const sim = await ucatSim();
    const vm = ucatVm(sim);
    const a = ucat(vm);
    const heap = vm.id * 4 + 0;
    const s1 = a.malloc(1147, { tier: "dram" });
    const s2 = a.malloc(1147, { tier: "dram" });
    const r1 = a.malloc(12 * KiB, { tier: "dram" });
    const r2 = a.malloc(12 * KiB, { tier: "dram" });
    const l1 = a.malloc(4 * MiB, { tier: "dram" });
    a.free(s2);
    a.free(r2);
    a.free(l1);
    const before = a.stats();
    const badFrees = sim.core.slabStats(heap).badFrees;

    expectInvalid(() => a.free(s2), "double-free");
    expectInvalid(() => a.free(s1 + 1152 * 2), "double-free"); // a slot never handed out
    expectInvalid(() => a.free(s1 + 8), "misaligned");
    expectInvalid(() => a.free(s1 - (s1 % (2 * MiB)) + 1820 * 1152), "misaligned"); // the 512 B tail of the page
    expectInvalid(() => a.free(r2), "double-free");
    expectInvalid(() => a.free(r1 + 4 * KiB), "misaligned"); // inside a live run
    expectInvalid(() => a.free(r1 + 1), "misaligned");
    expectInvalid(() => a.free(l1), "double-free");
    const l2 = a.malloc(4 * MiB, { tier: "dram" });
    expectInvalid(() => a.free(l2 + 2 * MiB), "misaligned");
    expectInvalid(() => a.free(l2 + 8), "misaligned");
    a.free(l2);
    expectInvalid(() => a.free(0), "foreign");
    expectInvalid(() => a.free(0x1234_5678), "foreign");
    expectInvalid(() => a.free(1.5), "foreign");
    expectInvalid(() => a.free(-4096), "foreign");
    expectInvalid(() => a.free(LINEAR_BASE + vm.guest.nodes[0]!.bytes - 2 * MiB), "foreign"); // guest memory the allocator does not hold
    expectInvalid(() => a.free(LINEAR_BASE + 5 * 2 ** 40), "foreign"); // no node
    expect(() => a.usableSize(s2)).toThrow(/not a live allocation/);

    const after = a.stats();
    expect({ ...after, mallocs: before.mallocs, frees: before.frees, framesReturned: before.framesReturned }).toEqual(before);
    expect(after.mallocs).toBe(before.mallocs + 1);
    expect(after.frees).toBe(before.frees + 1);
    expect(sim.core.slabStats(heap).badFrees).toBe(badFrees); // the core never saw them
    a.free(s1); // the state is intact
    a.free(r1);
    expect(a.stats().liveObjects).toBe(0);
  });
});

describe("ucat: property", () => {
  type Op = { kind: "malloc"; size: number; tier: "dram" | "nvm" | "auto"; touch: boolean } | { kind: "free"; pick: number };
  const size = fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 0, max: SLAB_MAX }) },
    { weight: 3, arbitrary: fc.integer({ min: SLAB_MAX + 1, max: 2 * MiB - 1 }) },
    { weight: 1, arbitrary: fc.integer({ min: 2 * MiB, max: 9 * MiB }) },
    { weight: 1, arbitrary: fc.constantFrom(1147, 1024, 2 * MiB, 512 * KiB, 4096) },
  );
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 3, arbitrary: fc.record({ kind: fc.constant("malloc" as const), size, tier: fc.constantFrom("dram" as const, "nvm" as const, "auto" as const), touch: fc.boolean() }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant("free" as const), pick: fc.nat() }) },
  );

  it("random malloc/free with random tiers: no overlap, alignment, every byte accounted, every host frame back after destroyVm", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 100, size: "max" }), fc.boolean(), async (ops, freeAll) => {
        const sim = await ucatSim();
        const host0 = sim.host.stats().bytesUsed;
        // a small DRAM node so that the watermark and exhaustion come into play
        const vm = ucatVm(sim, 16 * MiB, 48 * MiB);
        const a = ucat(vm);
        const live = new Map<number, { size: number; usable: number; tier: string }>();
        let mallocs = 0;
        let frees = 0;
        for (const o of ops) {
          if (o.kind === "malloc") {
            let va: number;
            const before = a.stats();
            try {
              va = a.malloc(o.size, { tier: o.tier });
            } catch (e) {
              expect(e).toBeInstanceOf(GuestOutOfMemory);
              // a failed malloc changes nothing, except that it may have given empty kept frames back (trim)
              const after = a.stats();
              expect({ ...after, heldBytes: 0, metadataBytes: 0, framesReturned: 0, slabPages: 0, spareFrames: 0, byTier: {} }).toEqual({ ...before, heldBytes: 0, metadataBytes: 0, framesReturned: 0, slabPages: 0, spareFrames: 0, byTier: {} });
              for (const t of ["dram", "nvm"]) {
                expect(after.byTier[t]!.requestedBytes).toBe(before.byTier[t]!.requestedBytes);
                expect(after.byTier[t]!.allocatedBytes).toBe(before.byTier[t]!.allocatedBytes);
                expect(after.byTier[t]!.heldBytes).toBeLessThanOrEqual(before.byTier[t]!.heldBytes);
              }
              continue;
            }
            mallocs++;
            const usable = a.usableSize(va);
            expect(usable).toBeGreaterThanOrEqual(o.size);
            expect(va % ucatAlignment(o.size)).toBe(0);
            if (o.size >= 2 * MiB) expect(va % (2 * MiB)).toBe(0);
            const tier = nodeTier(vm, va);
            if (o.tier !== "auto") expect(tier).toBe(o.tier);
            expect(live.has(va)).toBe(false);
            live.set(va, { size: o.size, usable, tier });
            if (o.touch) access(vm, va, Math.max(1, o.size), "write");
          } else if (live.size > 0) {
            const keys = [...live.keys()];
            const va = keys[o.pick % keys.length]!;
            a.free(va);
            live.delete(va);
            frees++;
            expect(() => a.free(va)).toThrow(InvalidFree);
          }
          // no overlap
          const spans = [...live].map(([va, x]) => [va, va + x.usable] as const).sort((x, y) => x[0] - y[0]);
          for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
          // accounting, overall and by tier
          const st = a.stats();
          expect(st.liveObjects).toBe(live.size);
          expect(st.mallocs).toBe(mallocs);
          expect(st.frees).toBe(frees);
          const sum = (f: (x: { size: number; usable: number; tier: string }) => number, tier?: string): number =>
            [...live.values()].filter((x) => !tier || x.tier === tier).reduce((t, x) => t + f(x), 0);
          expect(st.requestedBytes).toBe(sum((x) => x.size));
          expect(st.allocatedBytes).toBe(sum((x) => x.usable));
          expect(st.requestedBytes).toBeLessThanOrEqual(st.allocatedBytes);
          expect(st.allocatedBytes).toBeLessThanOrEqual(st.heldBytes);
          for (const tier of ["dram", "nvm"]) {
            const t = st.byTier[tier]!;
            expect(t.requestedBytes).toBe(sum((x) => x.size, tier));
            expect(t.allocatedBytes).toBe(sum((x) => x.usable, tier));
            expect(t.allocatedBytes).toBeLessThanOrEqual(t.heldBytes);
            // held memory is node memory the node no longer has free
            const n = vm.guest.nodes.find((x) => x.tier === tier)!;
            expect(t.heldBytes).toBeLessThanOrEqual(n.bytes - n.frames.freeBytes);
          }
        }
        expect(sim.faults).toEqual([]);
        if (freeAll) {
          for (const va of live.keys()) a.free(va);
          const st = a.stats();
          expect([st.requestedBytes, st.allocatedBytes, st.liveObjects]).toEqual([0, 0, 0]);
          a.trim();
          expect(a.stats().heldBytes).toBe(0);
        }
        sim.destroyVm(vm);
        expect(sim.host.stats().bytesUsed).toBe(host0);
      }),
      { numRuns: 40, seed: 0x0ca7 },
    );
  });
});
