// The osv allocator (src/guest/malloc/osv.ts): OSv v0.55/v0.56 core/mempool.cc.
// Hand-computed cases first (each with the arithmetic), then a property test of random
// malloc/free sequences against a plain model.
import { describe, expect, test } from "vitest";
import fc from "fast-check";
import { OSV, OsvAllocator, PageRanges } from "../../src/guest/malloc/osv.js";
import { BuddyAllocator } from "../../src/host/buddy.js";
import { InvalidFree } from "../../src/guest/malloc/types.js";
import { GuestOutOfMemory, LINEAR_BASE, MMAP_BASE } from "../../src/guest/guest.js";
import type { Vm } from "../../src/sim/vm.js";
import { GiB, MiB, newHeap, newInterleavedSim, newSim, newVm, write } from "./osv-helpers.js";

const PAGE = 4096;

/** What OSv's malloc takes for `size` bytes: the pool's size, a page, or the page span of size + 64. */
function span(size: number): number {
  if (size <= 1024) return Math.max(8, 2 ** Math.ceil(Math.log2(Math.max(size, 1))));
  if (size <= PAGE) return PAGE;
  return Math.ceil((size + 64) / PAGE) * PAGE;
}

function expectInvalid(f: () => void, reason: string): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(InvalidFree);
  expect((err as InvalidFree).reason).toBe(reason);
}

describe("osv malloc: sizes", () => {
  test("the VM's allocator is an OsvAllocator named osv, with the page buffers filled at boot", async () => {
    const sim = await newSim();
    const { heap } = newVm(sim);
    expect(heap.name).toBe("osv");
    // boot: L1 filled to 224 (7 batches of 32: refill while nr + 32 < 256), L2 back to 8 batches
    const d = heap.detail();
    expect(d.l1Pages).toBe(224);
    expect(d.l2Batches).toBe(8);
    expect(heap.stats().heldBytes).toBe((224 + 8 * 32) * PAGE);
  });

  test("1147 B costs a whole 4 KiB page; 1024 B a third of one", async () => {
    const sim = await newSim();
    const { heap } = newHeap(sim, { pagePools: false });
    heap.malloc(1147);
    let s = heap.stats();
    expect([s.requestedBytes, s.allocatedBytes, s.heldBytes, s.metadataBytes]).toEqual([1147, 4096, 4096, 0]);
    // three 1024 B objects share one pool page (40 B header, (4096 - 40) / 1024 = 3)
    for (let i = 0; i < 3; i++) heap.malloc(1024);
    s = heap.stats();
    expect([s.requestedBytes, s.allocatedBytes, s.heldBytes, s.metadataBytes]).toEqual([1147 + 3072, 4096 + 3072, 8192, 40]);
    // a fourth needs a second pool page
    heap.malloc(1024);
    s = heap.stats();
    expect([s.allocatedBytes, s.heldBytes, s.metadataBytes, s.liveObjects]).toEqual([4096 + 4096, 12288, 80, 5]);
    expect(heap.detail().poolPages[1024]).toBe(2);
  });

  test("with the page buffers, the memory in use is the same and the buffers hold the rest", async () => {
    const sim = await newSim();
    const { heap } = newVm(sim);
    heap.malloc(1147);
    for (let i = 0; i < 3; i++) heap.malloc(1024);
    const s = heap.stats();
    const d = heap.detail();
    expect(s.allocatedBytes).toBe(4096 + 3072);
    expect(s.heldBytes - d.bufferedBytes).toBe(8192);
    // both pages came from L1 (224 - 2); nothing new was taken from the guest
    expect(d.l1Pages).toBe(222);
    expect(s.heldBytes).toBe(480 * PAGE);
  });

  test("class rounding: the next power of two, at least 8, up to 1024; then a page; then pages + 64 B", async () => {
    const sim = await newSim();
    const { heap } = newHeap(sim, { pagePools: false });
    const cases: [number, number][] = [
      [0, 8], [1, 8], [7, 8], [8, 8], [9, 16], [15, 16], [16, 16], [17, 32], [31, 32], [32, 32], [33, 64],
      [63, 64], [64, 64], [65, 128], [100, 128], [128, 128], [129, 256], [255, 256], [256, 256], [257, 512],
      [511, 512], [512, 512], [513, 1024], [1000, 1024], [1023, 1024], [1024, 1024],
      // std_malloc: minimum_size <= page_size -> one page, no header
      [1025, 4096], [2048, 4096], [4095, 4096], [4096, 4096],
      // malloc_large: usable = span - 64: 4097 + 64 -> 2 pages; 8128 + 64 = 8192 -> 2; 8129 + 64 -> 3
      [4097, 8192 - 64], [8128, 8192 - 64], [8129, 12288 - 64], [8192, 12288 - 64], [100_000, 102_400 - 64],
    ];
    for (const [size, usable] of cases) {
      const before = heap.stats().allocatedBytes;
      const p = heap.malloc(size);
      expect(heap.usableSize(p), `usableSize(malloc(${size}))`).toBe(usable);
      expect(heap.stats().allocatedBytes - before, `allocatedBytes of malloc(${size})`).toBe(span(size));
    }
  });

  test("pool pages: objects are carved from the page end and never overlap the 40 B header", async () => {
    const sim = await newSim();
    const { heap } = newHeap(sim, { pagePools: false });
    // per page: floor((4096 - 40) / size); the first object at 4096 - n * size
    const perPage: Record<number, number> = { 8: 507, 16: 253, 32: 126, 64: 63, 128: 31, 256: 15, 512: 7, 1024: 3 };
    for (const [sizeText, n] of Object.entries(perPage)) {
      const size = Number(sizeText);
      const ps = Array.from({ length: n }, () => heap.malloc(size));
      const base = ps[0] - (ps[0] % PAGE);
      const offs = ps.map((p) => p - base).sort((a, b) => a - b);
      expect(ps.every((p) => p - (p % PAGE) === base), `all ${n} objects of ${size} B in one page`).toBe(true);
      expect(offs[0]).toBe(PAGE - n * size);
      expect(offs[0]).toBeGreaterThanOrEqual(OSV.POOL_HEADER);
      expect(offs[n - 1] + size).toBe(PAGE);
      offs.forEach((o, i) => expect(o).toBe(offs[0] + i * size));
      // aligned to their size (4096 - n * size is a multiple of size; for 8 B, 40 is)
      expect(ps.every((p) => p % size === 0)).toBe(true);
      expect(heap.detail().poolPages[size]).toBe(1);
      const next = heap.malloc(size);
      expect(next - (next % PAGE)).not.toBe(base);
      expect(heap.detail().poolPages[size]).toBe(2);
    }
  });

  test("sizes are checked; the tier is ignored", async () => {
    const sim = await newSim();
    const { heap } = newVm(sim);
    for (const bad of [-1, 1.5, Number.NaN, Infinity]) expect(() => heap.malloc(bad)).toThrow(/size: .* is not allowed/);
    const p = heap.malloc(64, { tier: "nvm" });
    expect(p).toBeGreaterThanOrEqual(LINEAR_BASE);
    // larger than the VM: out of memory, nothing changed
    const before = heap.stats();
    expect(() => heap.malloc(2 * GiB)).toThrow(GuestOutOfMemory);
    expect(heap.stats()).toEqual(before);
  });
});

describe("osv malloc: large objects", () => {
  test("large objects: page span of size + 64 from the page ranges; the object starts 64 B into it", async () => {
    const sim = await newSim();
    const { heap } = newHeap(sim, { pagePools: false });
    const a = heap.malloc(5000); // 5064 -> 2 pages
    expect(a % PAGE).toBe(64);
    expect(a).toBeGreaterThanOrEqual(LINEAR_BASE);
    expect(heap.stats().allocatedBytes).toBe(8192);
    expect(heap.stats().heldBytes).toBe(8192);
    expect(heap.stats().metadataBytes).toBe(64);
    // the largest object below the mapping threshold: 2092992 + 64 = 2 MiB - 4 KiB = 511 pages
    const b = heap.malloc(2092992);
    expect(b).toBeGreaterThanOrEqual(LINEAR_BASE);
    expect(b).toBeLessThan(LINEAR_BASE + 1 * GiB); // in the linear map, not mapped
    expect(heap.detail().largePages).toBe(2 + 511);
    // it came as a 512-page buddy block: one page of slack, which the next single page takes
    // (page_range_allocator::alloc looks in the lowest list first)
    expect(heap.detail().rangeSlackPages).toBe(1);
    const c = heap.malloc(2000);
    expect(c).toBe(b - 64 + 511 * PAGE);
    expect(heap.detail().rangeSlackPages).toBe(0);
    heap.free(b);
    expect(heap.detail().rangeSlackPages).toBe(511);
    heap.free(c); // the block is whole again: back to the guest
    expect(heap.detail().rangeSlackPages).toBe(0);
    heap.free(a);
    expect(heap.stats().heldBytes).toBe(0);
  });

  test(">= 2 MiB with the header: an anonymous mapping populated at once, 2 MiB pages in its aligned interior", async () => {
    const sim = await newSim();
    const { vm, heap } = newVm(sim);
    const c0 = { ...vm.guest.counts };
    // 2092993 + 64 = 2 MiB exactly: mapped, one 2 MiB page
    const a = heap.malloc(2092993);
    expect(a).toBeGreaterThanOrEqual(MMAP_BASE);
    expect(a % (2 * MiB)).toBe(64);
    expect(vm.guest.counts.pages2m - c0.pages2m).toBe(1);
    expect(vm.guest.counts.pages4k - c0.pages4k).toBe(0);
    // 3 MiB + 64 -> 3 MiB + 4 KiB: one 2 MiB page and 257 4 KiB pages
    const b = heap.malloc(3 * MiB);
    expect(vm.guest.counts.pages2m - c0.pages2m).toBe(2);
    expect(vm.guest.counts.pages4k - c0.pages4k).toBe(257);
    expect(heap.usableSize(b)).toBe(3 * MiB + 4096 - 64);
    // 5 MiB + 64: two 2 MiB pages and 257 4 KiB pages
    const c = heap.malloc(5 * MiB);
    expect(vm.guest.counts.pages2m - c0.pages2m).toBe(4);
    expect(vm.guest.counts.pages4k - c0.pages4k).toBe(514);
    const s = heap.stats();
    expect(s.allocatedBytes).toBe(2 * MiB + (3 * MiB + 4096) + (5 * MiB + 4096));
    expect(s.metadataBytes).toBe(3 * 64);
    // populated: writing it takes no guest page fault
    write(vm, b, 3 * MiB);
    sim.flush();
    expect(vm.faults).toEqual([]);
    // freed: munmap; a later access is a segfault
    heap.free(b);
    expect(vm.guest.vmaOf(b)).toBeUndefined();
    write(vm, b, 64);
    sim.flush();
    expect(vm.faults.map((f) => f.kind)).toEqual(["segfault"]);
    heap.free(a);
    heap.free(c);
    expect(heap.stats().heldBytes).toBe(heap.detail().bufferedBytes);
  });
});

describe("osv malloc: free", () => {
  test("a freed object is handed out again", async () => {
    const sim = await newSim();
    const { heap } = newVm(sim);
    const keep = heap.malloc(64); // keeps the pool page
    const a = heap.malloc(64);
    heap.free(a);
    expect(heap.malloc(64)).toBe(a);
    const p = heap.malloc(2000);
    heap.free(p);
    expect(heap.malloc(3000)).toBe(p); // L1 is a stack: the page just freed comes back
    const l = heap.malloc(50_000);
    heap.free(l);
    expect(heap.malloc(50_000)).toBe(l);
    expect(keep).not.toBe(a);
  });

  test("an empty pool page goes back when the back of the pool's list is an empty page (pool::free_same_cpu)", async () => {
    const sim = await newSim();
    const { heap } = newHeap(sim, { pagePools: false });
    // one object: its page is the whole list, so it is its own empty back page: released
    heap.free(heap.malloc(8));
    expect(heap.detail().poolPages[8]).toBe(0);
    // pages A, B full and C with one object; list: [C]
    const a = [heap.malloc(1024), heap.malloc(1024), heap.malloc(1024)];
    const b = [heap.malloc(1024), heap.malloc(1024), heap.malloc(1024)];
    const c = heap.malloc(1024);
    expect(heap.detail().poolPages[1024]).toBe(3);
    // A empties at the front of [A, C]; the back (C) is in use: A is kept
    for (const p of a) heap.free(p);
    expect(heap.detail().poolPages[1024]).toBe(3);
    // C empties and is the back itself: released; list [A]
    heap.free(c);
    expect(heap.detail().poolPages[1024]).toBe(2);
    // B goes to the front of [B, A] and empties; the back (A) is empty: B is released
    for (const p of b) heap.free(p);
    expect(heap.detail().poolPages[1024]).toBe(1);
    expect(heap.stats().heldBytes).toBe(4096);
    // the kept page serves the next object
    const again = heap.malloc(1024);
    expect(again - (again % PAGE)).toBe(a[0] - (a[0] % PAGE));
  });

  test("page buffers: L1 refills from L2 below 128 pages (l1::fill_thread), L2 keeps its batches", async () => {
    const sim = await newSim();
    const { heap } = newVm(sim);
    const pages = Array.from({ length: 97 }, () => heap.malloc(4096));
    // 224 - 97 = 127: the 97th found 128, not below the watermark
    expect(heap.detail().l1Pages).toBe(127);
    pages.push(heap.malloc(4096));
    // the 98th found 127 < 128: the fill thread refills while nr + 32 < 256: 126 -> 254, L2 8 -> 4
    expect(heap.detail().l1Pages).toBe(254);
    expect(heap.detail().l2Batches).toBe(4);
    expect(heap.stats().heldBytes).toBe(480 * PAGE);
    for (const p of pages) heap.free(p);
    expect(heap.detail().l1Pages).toBe(254 + 98);
  });

  test("page buffers over 600 pages: L2 refills at 0 batches, L1 drains above 384, L2 above 12 (hand-traced)", async () => {
    const sim = await newSim();
    const { heap } = newVm(sim);
    const pages = Array.from({ length: 600 }, () => heap.malloc(4096));
    // L1 refills 4 batches at allocs 98, 226, 354, 482 (each time it finds 127 < 128);
    // L2 runs dry at 226 and 482 and refills to 8 batches: 480 + 2 * 256 = 992 pages taken
    expect([heap.detail().l1Pages, heap.detail().l2Batches]).toEqual([254 - 118, 8]);
    expect(heap.stats().heldBytes).toBe(992 * PAGE);
    for (const p of pages) heap.free(p);
    // L1 drains 4 batches at frees 250, 378, 506 (it finds 385 > 384: 386 -> 258);
    // L2 reaches 16 at 378 and drains to 8 (256 pages back); then 8 -> 12; L1 ends at 258 + 94
    expect([heap.detail().l1Pages, heap.detail().l2Batches]).toEqual([352, 12]);
    expect(heap.stats().heldBytes).toBe((352 + 12 * 32) * PAGE);
  });

  test("every invalid free throws InvalidFree with its reason and changes nothing", async () => {
    const sim = await newSim();
    const { vm, heap } = newVm(sim);
    const keep = heap.malloc(64);
    const obj = heap.malloc(64);
    const page = heap.malloc(2000);
    const big = heap.malloc(20_000);
    const mapped = heap.malloc(3 * MiB);
    heap.free(obj);
    const gone = heap.malloc(16); // its page is released when freed
    heap.free(gone);
    const freedPage = heap.malloc(1500);
    heap.free(freedPage);
    const freedBig = heap.malloc(9000);
    heap.free(freedBig);
    const freedMapped = heap.malloc(2 * MiB);
    heap.free(freedMapped);
    const before = heap.stats();
    const slab = sim.core.slabStats(heap.heap).classes.map((c) => c && { pages: c.pages, free: c.freeObjects });
    const cases: [number, string][] = [
      [obj, "double-free"], // pool object, its page still in use
      [gone, "double-free"], // pool object whose page went back
      [freedPage, "double-free"],
      [freedBig, "double-free"],
      [freedMapped, "double-free"],
      [keep + 8, "misaligned"], // inside a pool object
      [keep - (keep % PAGE), "misaligned"], // a pool page's header
      [page + 100, "misaligned"],
      [big + 4096, "misaligned"],
      [big - 64, "misaligned"], // the header itself
      [mapped + 2 * MiB, "misaligned"],
      [LINEAR_BASE + 900 * MiB, "foreign"], // memory nobody allocated
      [LINEAR_BASE + 900 * MiB + 64, "foreign"],
      [MMAP_BASE + 64 * GiB, "foreign"],
      [12345, "foreign"],
      [-1, "foreign"],
      [Number.NaN, "foreign"],
    ];
    for (const [va, reason] of cases) expectInvalid(() => heap.free(va), reason);
    expect(heap.stats()).toEqual(before);
    expect(sim.core.slabStats(heap.heap).classes.map((c) => c && { pages: c.pages, free: c.freeObjects })).toEqual(slab);
    // free(NULL) does nothing, as in OSv
    heap.free(0);
    expect(heap.stats()).toEqual(before);
    // usableSize names the reason too
    expect(() => heap.usableSize(keep + 8)).toThrow(/misaligned/);
    expect(() => heap.usableSize(obj)).toThrow(/double-free/);
    expect(heap.usableSize(mapped)).toBe(3 * MiB + 4096 - 64);
    expect(vm.faults).toEqual([]);
  });
});

describe("osv malloc: tiers and nodes", () => {
  test("frames come from node 0 even on a ucat VM; the tier option is ignored", async () => {
    const sim = await newSim();
    const vm = sim.createVm({ policy: "ucat", allocator: "osv", nodes: [{ tier: "dram", bytes: 256 * MiB }, { tier: "nvm", bytes: 256 * MiB }] });
    const heap = vm.allocator as OsvAllocator;
    const node1 = vm.guest.nodes[1].base;
    for (const size of [8, 1024, 3000, 70_000]) {
      const p = heap.malloc(size, { tier: "nvm" });
      expect(p - LINEAR_BASE).toBeLessThan(node1);
    }
    const m = heap.malloc(4 * MiB, { tier: "nvm" });
    expect(vm.guest.vmaOf(m)!.node).toBe(0);
    expect(heap.stats().byTier.nvm).toEqual({ requestedBytes: 0, allocatedBytes: 0, heldBytes: 0 });
  });

  test("byTier takes each page's tier, page by page: pages backed from alternating tiers (interleaved placement)", async () => {
    const sim = await newInterleavedSim();
    const { vm, heap } = newVm(sim, 64 * MiB);
    // whole-page objects (OSv gives a 3,000-byte malloc a page of its own), touched in a scrambled order
    const ps = Array.from({ length: 700 }, () => heap.malloc(3000));
    for (let i = 0; i < ps.length; i++) write(vm, ps[(i * 389) % ps.length]!, 8);
    sim.flush();
    const want: Record<string, number> = { dram: 0, nvm: 0 };
    for (const p of ps) want[vm.hv.tierAt(vm.id, p - LINEAR_BASE)!] += 3000;
    expect(want.dram).toBeGreaterThan(0);
    expect(want.nvm).toBeGreaterThan(0);
    const t = heap.stats().byTier;
    expect({ dram: t.dram.requestedBytes, nvm: t.nvm.requestedBytes }).toEqual(want);
  });

  test("byTier takes a large object's pages' tiers page by page (interleaved placement)", async () => {
    const sim = await newInterleavedSim();
    const { vm, heap } = newVm(sim, 64 * MiB);
    // large objects only (over 4 KiB): each starts 64 B into its first page
    const sizes = [70_000, 1 * MiB, 5000, 300_001, 1 * MiB - 64, 9000];
    const ps = sizes.map((size) => heap.malloc(size));
    ps.forEach((p, j) => write(vm, p, sizes[j]!));
    sim.flush();
    const want: Record<string, { requestedBytes: number; allocatedBytes: number }> = { dram: { requestedBytes: 0, allocatedBytes: 0 }, nvm: { requestedBytes: 0, allocatedBytes: 0 } };
    ps.forEach((p, j) => {
      const start = p - 64;
      for (let off = 0; off < 64 + sizes[j]!; off += 4096) {
        const w = want[vm.hv.tierAt(vm.id, start + off - LINEAR_BASE)!]!;
        w.allocatedBytes += 4096;
        w.requestedBytes += Math.min(off + 4096, 64 + sizes[j]!) - Math.max(off, 64);
      }
    });
    expect(want.dram!.requestedBytes).toBeGreaterThan(0);
    expect(want.nvm!.requestedBytes).toBeGreaterThan(0);
    const t = heap.stats().byTier;
    expect({ dram: { requestedBytes: t.dram.requestedBytes, allocatedBytes: t.dram.allocatedBytes }, nvm: { requestedBytes: t.nvm.requestedBytes, allocatedBytes: t.nvm.allocatedBytes } }).toEqual(want);
  });

  test("byTier follows the hypervisor's backing: the flat osv node spills from DRAM into NVM", async () => {
    // 64 MiB of DRAM on the host: the osv back-end backs first touches in tier order
    const sim = await newSim({ dram: 64 * MiB, nvm: 1 * GiB });
    const { vm, heap } = newVm(sim, 256 * MiB);
    const ps: number[] = [];
    for (let i = 0; i < 48; i++) {
      const p = heap.malloc(2 * MiB);
      write(vm, p, 2 * MiB - 64);
      ps.push(p);
    }
    sim.flush();
    const s = heap.stats();
    const t = s.byTier;
    expect(t.dram.heldBytes).toBeGreaterThan(0);
    expect(t.nvm.heldBytes).toBeGreaterThan(32 * MiB);
    for (const k of ["requestedBytes", "allocatedBytes", "heldBytes"] as const) expect(t.dram[k] + t.nvm[k]).toBe(s[k]);
    // what is attributed to NVM is at most what the back-end put there
    expect(t.nvm.heldBytes).toBeLessThanOrEqual(vm.hv.stats(vm.id).bytesByTier.nvm);
    sim.destroyVm(vm);
    expect(sim.host.stats().bytesUsed).toBe(0);
  });
});

// ---- property: random malloc/free sequences against a model ----------------------------

type Op =
  | { kind: "malloc"; size: number }
  | { kind: "free"; pick: number }
  | { kind: "bad"; pick: number; inside: boolean }
  | { kind: "write"; pick: number };

const sizeArb = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 1024 }) },
  { weight: 3, arbitrary: fc.integer({ min: 1025, max: 4096 }) },
  { weight: 3, arbitrary: fc.integer({ min: 4097, max: 300_000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 2_092_900, max: 3_200_000 }) },
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: sizeArb.map((size) => ({ kind: "malloc" as const, size })) },
  { weight: 4, arbitrary: fc.nat().map((pick) => ({ kind: "free" as const, pick })) },
  { weight: 1, arbitrary: fc.record({ pick: fc.nat(), inside: fc.boolean() }).map((r) => ({ kind: "bad" as const, ...r })) },
  { weight: 1, arbitrary: fc.nat().map((pick) => ({ kind: "write" as const, pick })) },
);

/** Bytes of guest-physical frames taken on node 0, less the guest's page-table frames. */
function guestUsed(vm: Vm): number {
  return vm.guest.nodes[0].frames.stats().usedBytes - vm.guest.counts.tablePages * PAGE;
}

/** heldBytes of `heap` plus, when it is a second allocator, the VM's own (its boot buffers). */
function heldByAllocators(vm: Vm, heap: OsvAllocator): number {
  return heap.stats().heldBytes + (heap === vm.allocator ? 0 : vm.allocator.stats().heldBytes);
}

function alignOf(size: number): number {
  return size <= 1024 ? span(size) : PAGE;
}

describe("osv malloc: property", () => {
  test("random malloc/free: no overlap, alignment, every byte accounted, host frames all returned", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 150 }), fc.boolean(), async (ops, pagePools) => {
        const sim = await newSim();
        const vm = sim.createVm({ policy: "osv", nodes: [{ tier: "dram", bytes: 1 * GiB }] });
        const heap = pagePools ? (vm.allocator as OsvAllocator) : new OsvAllocator(vm, { pagePools: false, heap: vm.id + 8 });
        const live = new Map<number, number>();
        const freed: number[] = [];
        let mallocs = 0;
        let frees = 0;
        const pickLive = (n: number): [number, number] | undefined => {
          if (live.size === 0) return undefined;
          return [...live][n % live.size];
        };
        for (const op of ops) {
          if (op.kind === "malloc") {
            const va = heap.malloc(op.size);
            expect(live.has(va)).toBe(false);
            live.set(va, op.size);
            mallocs++;
          } else if (op.kind === "free") {
            const e = pickLive(op.pick);
            if (!e) continue;
            heap.free(e[0]);
            live.delete(e[0]);
            freed.push(e[0]);
            frees++;
          } else if (op.kind === "write") {
            const e = pickLive(op.pick);
            if (e) write(vm, e[0], Math.max(1, Math.min(e[1], 8192)));
          } else {
            // inside a live object (misaligned), or an address freed and not handed out again
            let va: number | undefined;
            if (op.inside) {
              const e = pickLive(op.pick);
              if (e && span(e[1]) > 1) va = e[0] + 1;
            } else {
              const cands = freed.filter((f) => !live.has(f));
              if (cands.length > 0) va = cands[op.pick % cands.length];
            }
            if (va === undefined) continue;
            const before = heap.stats();
            let err: unknown;
            try {
              heap.free(va);
            } catch (e) {
              err = e;
            }
            expect(err).toBeInstanceOf(InvalidFree);
            if (op.inside) expect((err as InvalidFree).reason).toBe("misaligned");
            expect(heap.stats()).toEqual(before);
          }
          const s = heap.stats();
          let req = 0;
          let alloc = 0;
          for (const size of live.values()) {
            req += size;
            alloc += span(size);
          }
          expect(s.liveObjects).toBe(live.size);
          expect(s.requestedBytes).toBe(req);
          expect(s.allocatedBytes).toBe(alloc);
          expect(s.requestedBytes).toBeLessThanOrEqual(s.allocatedBytes);
          expect(s.allocatedBytes).toBeLessThanOrEqual(s.heldBytes);
          expect([s.mallocs, s.frees]).toEqual([mallocs, frees]);
        }
        sim.flush();
        // no two live allocations overlap; alignment; usable sizes
        const spans = [...live].map(([va, size]) => ({ va, size, end: va + heap.usableSize(va) })).sort((a, b) => a.va - b.va);
        for (let i = 1; i < spans.length; i++) expect(spans[i].va).toBeGreaterThanOrEqual(spans[i - 1].end);
        for (const { va, size, end } of spans) {
          expect(end - va).toBeGreaterThanOrEqual(size);
          if (size <= PAGE) expect(va % alignOf(size)).toBe(0);
          else expect(va % PAGE).toBe(64); // malloc_large: 16 B alignment, 64 B past the range start
        }
        // byTier adds up
        const s = heap.stats();
        for (const k of ["requestedBytes", "allocatedBytes", "heldBytes"] as const) {
          expect(Object.values(s.byTier).reduce((a, t) => a + t[k], 0)).toBe(s[k]);
        }
        // the core's pools agree: free objects + live objects = pages * objects per page
        const d = heap.detail();
        const core = sim.core.slabStats(heap.heap).classes;
        for (let cls = 3; cls <= 10; cls++) {
          const size = 2 ** cls;
          const n = [...live.values()].filter((v) => span(v) === size).length;
          expect(core[cls].pages).toBe(d.poolPages[size]);
          expect(core[cls].freeObjects + n).toBe(core[cls].pages * core[cls].perPage);
        }
        expect(vm.faults).toEqual([]);
        expect(guestUsed(vm)).toBe(heldByAllocators(vm, heap));
        // destroying the VM returns every host frame
        sim.destroyVm(vm);
        expect(sim.host.stats().bytesUsed).toBe(0);
      }),
      { numRuns: 30 },
    );
  });

  test("a long seeded run (20 000 operations, both page-buffer settings) keeps every invariant", async () => {
    const kept: number[] = [];
    for (const pagePools of [true, false]) {
      const sim = await newSim();
      const vm = sim.createVm({ policy: "osv", nodes: [{ tier: "dram", bytes: 1 * GiB }] });
      const heap = pagePools ? (vm.allocator as OsvAllocator) : new OsvAllocator(vm, { pagePools: false, heap: vm.id + 8 });
      let seed = 12345;
      const rnd = (n: number): number => {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        return seed % n;
      };
      const live: [number, number][] = [];
      let req = 0;
      let alloc = 0;
      for (let i = 0; i < 20_000; i++) {
        // phases: grow to ~3000 objects, then shrink, so pages and buffers fill and drain
        const grow = Math.floor(i / 5000) % 2 === 0;
        if (live.length === 0 || rnd(100) < (grow ? 65 : 35)) {
          const r = rnd(100);
          const size = r < 70 ? rnd(1025) : r < 85 ? 1025 + rnd(3072) : r < 99 ? 4097 + rnd(60_000) : 2_092_990 + rnd(600_000);
          const va = heap.malloc(size);
          live.push([va, size]);
          req += size;
          alloc += span(size);
        } else {
          const k = rnd(live.length);
          const [va, size] = live[k];
          live[k] = live[live.length - 1];
          live.pop();
          heap.free(va);
          req -= size;
          alloc -= span(size);
        }
      }
      const s = heap.stats();
      expect([s.liveObjects, s.requestedBytes, s.allocatedBytes]).toEqual([live.length, req, alloc]);
      expect(s.allocatedBytes).toBeLessThanOrEqual(s.heldBytes);
      const spans = live.map(([va]) => [va, va + heap.usableSize(va)]).sort((a, b) => a[0] - b[0]);
      for (let i = 1; i < spans.length; i++) expect(spans[i][0]).toBeGreaterThanOrEqual(spans[i - 1][1]);
      for (const [va] of live) heap.free(va);
      const d = heap.detail();
      // all freed: no slack; the pools may keep empty pages, since pool::free_same_cpu only
      // releases a page when the back of the list is empty (have_full_pages()), and empty
      // pages elsewhere in the list stay; the core agrees that they are wholly free
      expect(heap.stats().allocatedBytes).toBe(0);
      // what the allocators hold is exactly what they took from the guest's frames
      expect(guestUsed(vm)).toBe(heldByAllocators(vm, heap));
      const core = sim.core.slabStats(heap.heap).classes;
      for (let cls = 3; cls <= 10; cls++) {
        expect(core[cls].pages).toBe(d.poolPages[2 ** cls]);
        expect(core[cls].freeObjects).toBe(core[cls].pages * core[cls].perPage);
      }
      kept.push(Object.values(d.poolPages).reduce((a, b) => a + b, 0));
      sim.destroyVm(vm);
      expect(sim.host.stats().bytesUsed).toBe(0);
    }
    // empty pool pages kept after everything was freed: more than one per pool in all
    expect(kept.some((n) => n > 8)).toBe(true);
  });
});

// ---- the page ranges' batch of single pages ------------------------------------------------

describe("PageRanges.allocPages", () => {
  test("gives the pages n calls of alloc(1) would, and leaves the ranges and the buddy as they would", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 40 }), fc.boolean()), { maxLength: 60 }),
        fc.integer({ min: 0, max: 200 }),
        fc.integer({ min: 64, max: 1024 }),
        (ops, n, frames) => {
          const make = () => {
            const buddy = new BuddyAllocator(0, frames * 4096);
            return { buddy, ranges: new PageRanges((o) => buddy.alloc(o), (g, o) => buddy.free(g, o), (k, out, at) => buddy.allocFrames(k, out, at)) };
          };
          const [a, b] = [make(), make()];
          // the same history on both: runs of pages taken and some given back (free ranges in the lists)
          for (const x of [a, b]) {
            const held: [number, number][] = [];
            for (const [pages, freeOne] of ops) {
              const g = x.ranges.alloc(pages);
              if (g !== null) held.push([g, pages]);
              if (freeOne && held.length > 1) {
                const [gpa, p] = held.splice(held.length >> 1, 1)[0]!;
                x.ranges.free(gpa, p);
              }
            }
          }
          const out = new Float64Array(n + 1).fill(-1);
          const got = a.ranges.allocPages(n, out, 1);
          const singly: number[] = [];
          for (let i = 0; i < n; i++) {
            const g = b.ranges.alloc(1);
            if (g === null) break;
            singly.push(g);
          }
          expect([...out.subarray(1, 1 + got)]).toEqual(singly);
          expect(a.buddy.allocatedBlocks()).toEqual(b.buddy.allocatedBlocks());
          // what comes next is the same too: the ranges' lists and counts
          for (const pages of [1, 3, 1, 9, 1]) expect(a.ranges.alloc(pages)).toBe(b.ranges.alloc(pages));
          expect(a.ranges.slackPages).toBe(b.ranges.slackPages);
        },
      ),
      { numRuns: 150 },
    );
  });
});
