import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { BuddyAllocator, GIB, MAX_ORDER, MIB, ORDER_BYTES, type Block } from "../../src/host/buddy.js";
import { Rng } from "../../src/util/rng.js";

const KIB = 1024;
const B4G = 4 * GIB;

/**
 * A deliberately naive buddy allocator (a Map of free blocks, linear scans) with the same
 * policy: smallest sufficient order first, lowest address within it, keep the lower half
 * on a split, coalesce with free buddies.
 */
class NaiveBuddy {
  readonly free = new Map<number, number>(); // addr -> order
  constructor(
    readonly base: number,
    readonly size: number,
  ) {
    let p = 0;
    while (p < size) {
      let k = MAX_ORDER;
      while (k > 0 && (p % ORDER_BYTES[k]! !== 0 || p + ORDER_BYTES[k]! > size)) k--;
      this.free.set(base + p, k);
      p += ORDER_BYTES[k]!;
    }
  }
  alloc(order: number): number | null {
    for (let k = order; k <= MAX_ORDER; k++) {
      let best = -1;
      for (const [a, o] of this.free) if (o === k && (best < 0 || a < best)) best = a;
      if (best < 0) continue;
      this.free.delete(best);
      while (k > order) {
        k--;
        this.free.set(best + ORDER_BYTES[k]!, k);
      }
      return best;
    }
    return null;
  }
  release(addr: number, order: number): void {
    let off = addr - this.base;
    let k = order;
    while (k < MAX_ORDER) {
      const bytes = ORDER_BYTES[k]!;
      const buddy = (off / bytes) % 2 === 0 ? off + bytes : off - bytes;
      if (this.free.get(this.base + buddy) !== k) break;
      this.free.delete(this.base + buddy);
      off = Math.min(off, buddy);
      k++;
    }
    this.free.set(this.base + off, k);
  }
  blocks(): Block[] {
    return [...this.free].map(([addr, order]) => ({ addr, order })).sort((a, b) => a.addr - b.addr);
  }
}

/** Everything observable about an allocator, to check that a failed call changed nothing. */
function snapshot(b: BuddyAllocator): unknown {
  return { stats: b.stats(), free: b.freeBlocks(), used: b.allocatedBlocks() };
}

describe("BuddyAllocator: hand cases", () => {
  it("splits a 1 GiB block down to 4 KiB, keeping the lower half", () => {
    const b = new BuddyAllocator(B4G, GIB);
    expect(b.freeBlocks()).toEqual([{ addr: B4G, order: 18 }]);
    expect(b.alloc(0)).toBe(B4G);
    // One free block of every order 0..17, each the upper half of a split.
    expect(b.freeBlocks()).toEqual(Array.from({ length: 18 }, (_, k) => ({ addr: B4G + ORDER_BYTES[k]!, order: k })));
    expect(b.stats().freeBlocks).toEqual([...Array(18).fill(1), 0]);
    expect(b.stats().largestFreeOrder).toBe(17);
    expect(b.alloc(9)).toBe(B4G + 2 * MIB); // the order-9 upper half
    expect(b.freeBytes).toBe(GIB - 4 * KIB - 2 * MIB);
  });

  it("coalesces buddies back into the maximal block", () => {
    const b = new BuddyAllocator(B4G, GIB);
    const a = b.alloc(0)!;
    const c = b.alloc(0)!;
    const h = b.alloc(9)!;
    expect([a, c, h]).toEqual([B4G, B4G + 4 * KIB, B4G + 2 * MIB]);
    b.free(a, 0);
    expect(b.stats().freeBlocks[0]).toBe(1); // its buddy c is still allocated
    b.free(c, 0);
    expect(b.stats().freeBlocks[0]).toBe(0);
    b.free(h, 9);
    expect(b.freeBlocks()).toEqual([{ addr: B4G, order: 18 }]);
    expect(b.stats().usedBytes).toBe(0);
  });

  it("gives the lowest-addressed free block of the order, deterministically", () => {
    const b = new BuddyAllocator(B4G, GIB);
    const f = Array.from({ length: 4 }, () => b.alloc(0)!);
    expect(f).toEqual([0, 1, 2, 3].map((i) => B4G + i * 4 * KIB));
    b.free(f[2]!, 0);
    b.free(f[1]!, 0);
    expect(b.alloc(0)).toBe(f[1]);
    expect(b.alloc(0)).toBe(f[2]);
    expect(b.alloc(0)).toBe(B4G + 4 * 4 * KIB); // splits the order-2 block at frame 4
  });

  it("prefers a free block of the requested order over splitting a lower-addressed larger one", () => {
    const b = new BuddyAllocator(B4G, GIB);
    const f = Array.from({ length: 8 }, () => b.alloc(0)!);
    b.free(f[6]!, 0); // buddy 7 allocated: a free order-0 block at frame 6
    b.free(f[0]!, 0);
    b.free(f[1]!, 0); // coalesce: a free order-1 block at frame 0
    expect(b.freeBlocks().slice(0, 2)).toEqual([
      { addr: B4G, order: 1 },
      { addr: f[6], order: 0 },
    ]);
    expect(b.alloc(0)).toBe(f[6]);
    expect(b.alloc(0)).toBe(B4G); // now the order-1 block is split
  });

  it("fails a 2 MiB request when only scattered 4 KiB frames are free, although enough bytes are", () => {
    const b = new BuddyAllocator(B4G, 4 * MIB);
    const frames = Array.from({ length: 1024 }, () => b.alloc(0)!);
    expect(b.alloc(0)).toBeNull();
    for (let i = 0; i < frames.length; i += 2) b.free(frames[i]!, 0);
    expect(b.freeBytes).toBe(2 * MIB); // enough bytes for a 2 MiB frame...
    expect(b.canAlloc(9)).toBe(false); // ...but no free aligned 2 MiB block
    const before = snapshot(b);
    expect(b.alloc(9)).toBeNull();
    expect(snapshot(b)).toEqual(before);
    expect(b.fragmentation()).toEqual({ freeBytes: 2 * MIB, unusableFor2M: 2 * MIB, unusableFor1G: 2 * MIB, ratio2M: 1, ratio1G: 1 });
    expect(b.canAlloc(0)).toBe(true);
    expect(b.alloc(0)).toBe(frames[0]);
  });

  it("lays out a size that is not a multiple of 1 GiB as decreasing aligned blocks", () => {
    const b = new BuddyAllocator(B4G, GIB + 2 * MIB + 12 * KIB);
    expect(b.freeBlocks()).toEqual([
      { addr: B4G, order: 18 },
      { addr: B4G + GIB, order: 9 },
      { addr: B4G + GIB + 2 * MIB, order: 1 },
      { addr: B4G + GIB + 2 * MIB + 8 * KIB, order: 0 },
    ]);
    // The tail blocks never coalesce past the end.
    const t = b.alloc(0)!;
    expect(t).toBe(B4G + GIB + 2 * MIB + 8 * KIB);
    b.free(t, 0);
    expect(b.stats().freeBlocks[0]).toBe(1);
    expect(b.fragmentation().unusableFor1G).toBe(2 * MIB + 12 * KIB);
  });

  it("hands out 1 GiB frames and reports exhaustion without changing anything", () => {
    const b = new BuddyAllocator(0, 2 * GIB);
    expect(b.alloc(18)).toBe(0);
    expect(b.alloc(18)).toBe(GIB);
    expect(b.canAlloc(0)).toBe(false);
    expect(b.stats().largestFreeOrder).toBe(-1);
    const before = snapshot(b);
    expect(b.alloc(0)).toBeNull();
    expect(b.alloc(18)).toBeNull();
    expect(snapshot(b)).toEqual(before);
    expect(b.allocatedBlocks()).toEqual([
      { addr: 0, order: 18 },
      { addr: GIB, order: 18 },
    ]);
    expect(b.isAllocated(GIB, 18)).toBe(true);
    expect(b.isAllocated(GIB, 9)).toBe(false);
  });

  it("works above 16 TiB, where 4 KiB frame indices exceed 2^32", () => {
    const b = new BuddyAllocator(B4G, 60 * 1024 * GIB);
    for (let i = 0; i < 16 * 1024 + 1; i++) b.alloc(18);
    const x = b.alloc(0)!;
    const y = b.alloc(0)!;
    expect(x).toBe(B4G + (16 * 1024 + 1) * GIB);
    expect((x - B4G) / 4096).toBeGreaterThan(2 ** 32);
    expect(y).toBe(x + 4 * KIB);
    expect(b.isAllocated(x, 0)).toBe(true);
    expect(b.isAllocated(x - 2 ** 32 * 4096, 0)).toBe(false);
    b.free(y, 0);
    b.free(x, 0);
    expect(b.stats().freeBlocks.slice(0, 18).every((n) => n === 0)).toBe(true);
    expect(b.stats().freeBlocks[18]).toBe(60 * 1024 - (16 * 1024 + 1));
  });
});

describe("BuddyAllocator: errors name the argument, the value and what is allowed", () => {
  it("rejects bad construction", () => {
    expect(() => new BuddyAllocator(GIB + 4096, GIB)).toThrow(/base: 0x40001000 .*multiple of 1 GiB/);
    expect(() => new BuddyAllocator(-GIB, GIB)).toThrow(/base/);
    expect(() => new BuddyAllocator(0, 0)).toThrow(/size: 0 .*positive multiple of 4096/);
    expect(() => new BuddyAllocator(0, 5000)).toThrow(/size: 5000/);
    expect(() => new BuddyAllocator(0, NaN)).toThrow(/size: NaN/);
    expect(() => new BuddyAllocator(2 ** 46 - GIB, 2 * GIB)).toThrow(/size: .*2\^46/);
    expect(() => new BuddyAllocator(2 ** 46, GIB)).toThrow(/base: .*below 2\^46/);
  });

  it("rejects bad orders", () => {
    const b = new BuddyAllocator(0, GIB);
    expect(() => b.alloc(19)).toThrow(/alloc: order 19 is not allowed; expected an integer in 0\.\.18/);
    expect(() => b.alloc(-1)).toThrow(/order -1/);
    expect(() => b.alloc(1.5)).toThrow(/order 1.5/);
    expect(() => b.alloc(NaN)).toThrow(/order NaN/);
    expect(() => b.canAlloc(20)).toThrow(/canAlloc: order 20/);
    expect(() => b.free(0, 19)).toThrow(/free: order 19/);
    expect(b.stats().usedBytes).toBe(0);
  });

  it("rejects frees that are misaligned, out of range, double, or of the wrong order; nothing changes", () => {
    const b = new BuddyAllocator(B4G, GIB + 4 * KIB);
    const t = b.alloc(0)!; // the 4 KiB tail block: the smallest sufficient order goes first
    expect(t).toBe(B4G + GIB);
    const h = b.alloc(9)!; // 0x100000000
    const s1 = b.alloc(0)!; // 0x100200000
    const s2 = b.alloc(0)!; // 0x100201000
    const s3 = b.alloc(0)!; // 0x100202000
    expect([h, s1, s2, s3]).toEqual([B4G, B4G + 2 * MIB, B4G + 2 * MIB + 4 * KIB, B4G + 2 * MIB + 8 * KIB]);
    b.free(s1, 0); // s1 free, its buddy s2 allocated
    b.free(t, 0);
    const tail = B4G + GIB;
    const cases: [() => void, RegExp][] = [
      [() => b.free(h + 4096, 9), /free: addr 0x100001000 is not allowed for order 9; expected a multiple of 2 MiB/],
      [() => b.free(B4G - 4096, 0), /free: addr 0xfffff000 is not allowed; expected an address in 0x100000000\.\.0x140000fff/],
      [() => b.free(B4G + GIB + 4096, 0), /free: addr 0x140001000 is not allowed; expected an address in/],
      [() => b.free(1.5, 0), /free: addr 1.5 is not allowed/],
      [() => b.free(tail, 1), /free: addr 0x140000000 with order 1 \(8 KiB\) is not allowed; the block would end past 0x140000fff/],
      [() => b.free(h, 0), /free: addr 0x100000000 with order 0 is not allowed: the block there was allocated with order 9 \(2 MiB\); free it with order 9/],
      [() => b.free(s3, 1), /free: addr 0x100202000 with order 1 is not allowed: the block there was allocated with order 0 \(4 KiB\)/],
      [() => b.free(h + 8192, 0), /it lies inside the order-9 block allocated at 0x100000000; free that block with order 9/],
      [() => b.free(s1, 1), /free: addr 0x100200000 with order 1 is not allowed: it is not one allocated block; it contains the order-0 block allocated at 0x100201000/],
      [() => b.free(s1, 0), /free: addr 0x100200000 with order 0 is not allowed: it is not allocated \(double free\?\); it lies in the free order-0 block at 0x100200000/],
      [() => b.free(tail, 0), /it is not allocated \(double free\?\); it lies in the free order-0 block at 0x140000000/],
    ];
    const before = snapshot(b);
    for (const [call, message] of cases) {
      expect(call).toThrow(message);
      expect(snapshot(b)).toEqual(before);
    }
    b.free(s2, 0);
    b.free(s3, 0);
    expect(() => b.free(s2, 0)).toThrow(/double free\?\); it lies in the free order-9 block at 0x100200000/);
    b.free(h, 9);
    expect(() => b.free(h, 9)).toThrow(/double free\?\); it lies in the free order-18 block at 0x100000000/);
  });
});

describe("BuddyAllocator: properties against a model", () => {
  type Op = { kind: "alloc"; order: number } | { kind: "free"; pick: number } | { kind: "bad"; pick: number; order: number };
  const order = fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 0, max: 3 }) },
    { weight: 3, arbitrary: fc.integer({ min: 4, max: 10 }) },
    { weight: 1, arbitrary: fc.integer({ min: 11, max: 18 }) },
  );
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 5, arbitrary: order.map((o) => ({ kind: "alloc" as const, order: o })) },
    { weight: 4, arbitrary: fc.nat().map((p) => ({ kind: "free" as const, pick: p })) },
    { weight: 1, arbitrary: fc.tuple(fc.nat(), fc.integer({ min: 0, max: 18 })).map(([p, o]) => ({ kind: "bad" as const, pick: p, order: o })) },
  );
  // Small ranges with odd tails, and a few large enough for 1 GiB blocks.
  const size = fc.oneof(
    fc.integer({ min: 1, max: 3000 }).map((f) => f * 4096),
    fc.integer({ min: 0, max: 600 }).map((f) => 2 * GIB + f * 4096),
  );
  const base = fc.constantFrom(0, B4G, 1000 * GIB);

  it("matches the naive buddy exactly; no overlap, aligned, bytes add up; all coalesces back at the end", () => {
    fc.assert(
      fc.property(base, size, fc.array(op, { maxLength: 120 }), fc.array(fc.nat(), { maxLength: 200 }), (base, size, ops, order_) => {
        const b = new BuddyAllocator(base, size);
        const naive = new NaiveBuddy(base, size);
        const initial = b.freeBlocks();
        const fresh = b.bytesOverhead();
        expect(initial).toEqual(naive.blocks());
        const allocated = new Map<number, number>(); // addr -> order: the model
        const usedBytes = (): number => [...allocated.values()].reduce((s, o) => s + ORDER_BYTES[o]!, 0);

        for (const o of ops) {
          if (o.kind === "alloc") {
            const canAlloc = b.canAlloc(o.order);
            const got = b.alloc(o.order);
            expect(got).toBe(naive.alloc(o.order));
            expect(got !== null).toBe(canAlloc);
            if (got !== null) {
              const bytes = ORDER_BYTES[o.order]!;
              expect(got % bytes).toBe(0); // aligned in host-physical space, not only in the range
              expect(got >= base && got + bytes <= base + size).toBe(true);
              for (const [a, k] of allocated) expect(got + bytes <= a || a + ORDER_BYTES[k]! <= got).toBe(true);
              allocated.set(got, o.order);
            }
          } else if (allocated.size > 0) {
            const [addr, k] = [...allocated][o.pick % allocated.size]!;
            if (o.kind === "free") {
              b.free(addr, k);
              naive.release(addr, k);
              allocated.delete(addr);
              expect(() => b.free(addr, k)).toThrow(/double free/);
            } else if (o.order !== k && addr % ORDER_BYTES[o.order]! === 0 && addr + ORDER_BYTES[o.order]! <= base + size) {
              const before = snapshot(b);
              expect(() => b.free(addr, o.order)).toThrow(/not allowed/);
              expect(snapshot(b)).toEqual(before);
            }
          }
          expect(b.stats().freeBytes + usedBytes()).toBe(size);
        }
        expect(b.freeBlocks()).toEqual(naive.blocks());
        expect(b.allocatedBlocks()).toEqual([...allocated].map(([addr, order]) => ({ addr, order })).sort((x, y) => x.addr - y.addr));

        // Free everything, in a random order: back to the maximal blocks of a fresh allocator.
        const rest = [...allocated];
        for (const p of order_) if (rest.length > 1) rest.push(rest.splice(p % rest.length, 1)[0]!);
        for (const [addr, k] of rest) b.free(addr, k);
        expect(b.freeBlocks()).toEqual(initial);
        expect(b.stats().freeBytes).toBe(size);
        // Storage is given back: a little is kept for reuse, and trim() releases it all.
        expect(b.bytesOverhead()).toBeLessThanOrEqual(fresh + 32 * 1024);
        b.trim();
        expect(b.bytesOverhead()).toBeLessThanOrEqual(fresh);
        expect(b.freeBlocks()).toEqual(initial);
      }),
      { numRuns: 300 },
    );
  });
});

describe("BuddyAllocator.allocFrames", () => {
  it("returns the frames n calls of alloc(0) would, and leaves the allocator as they would, from any state", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4000 }).map((f) => f * 4096),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 10 }), fc.boolean()), { maxLength: 80 }),
        fc.integer({ min: 0, max: 5000 }),
        (size, ops, n) => {
          const [a, b] = [0, 1].map(() => new BuddyAllocator(B4G, size));
          for (const x of [a!, b!]) {
            // the same history of allocations and frees on both (holes of every order)
            const held: [number, number][] = [];
            for (const [order, freeOne] of ops) {
              const got = x.alloc(order);
              if (got !== null) held.push([got, order]);
              if (freeOne && held.length > 1) {
                const [addr, o] = held.splice(held.length >> 1, 1)[0]!;
                x.free(addr, o);
              }
            }
          }
          const out = new Float64Array(n + 2).fill(-1);
          const got = a!.allocFrames(n, out, 2);
          const singly: number[] = [];
          for (let i = 0; i < n; i++) {
            const f = b!.alloc(0);
            if (f === null) break;
            singly.push(f);
          }
          expect(got).toBe(singly.length);
          expect([...out.subarray(2, 2 + got)]).toEqual(singly);
          expect(snapshot(a!)).toEqual(snapshot(b!));
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe("BuddyAllocator: churn at scale", () => {
  it("200,000 seeded random allocs and frees over 64 GiB keep every invariant", () => {
    const rng = new Rng(2024);
    const size = 64 * GIB;
    const b = new BuddyAllocator(B4G, size);
    const initial = b.freeBlocks();
    const live: Block[] = [];
    const check = (): void => {
      const got = b.allocatedBlocks();
      expect(got).toEqual([...live].sort((x, y) => x.addr - y.addr));
      for (let i = 1; i < got.length; i++) expect(got[i - 1]!.addr + ORDER_BYTES[got[i - 1]!.order]!).toBeLessThanOrEqual(got[i]!.addr);
      for (const g of got) expect(g.addr % ORDER_BYTES[g.order]!).toBe(0);
      const s = b.stats();
      const freeSum = s.freeBlocks.reduce((t, n, k) => t + n * ORDER_BYTES[k]!, 0);
      const usedSum = live.reduce((t, x) => t + ORDER_BYTES[x.order]!, 0);
      expect(freeSum).toBe(s.freeBytes);
      expect(s.freeBytes + usedSum).toBe(size);
      // Buddy invariant: no two free buddies of the same order (they would have merged).
      const free = new Set(b.freeBlocks().map((f) => `${f.order}:${f.addr}`));
      for (const f of b.freeBlocks()) {
        if (f.order === MAX_ORDER) continue;
        const bytes = ORDER_BYTES[f.order]!;
        const buddy = ((f.addr - B4G) / bytes) % 2 === 0 ? f.addr + bytes : f.addr - bytes;
        expect(free.has(`${f.order}:${buddy}`)).toBe(false);
      }
    };
    for (let i = 0; i < 200_000; i++) {
      // Phases of growth and shrinkage, so that bitmap chunks fill, empty and are swept.
      const growing = Math.floor(i / 25_000) % 2 === 0;
      if (live.length > 0 && rng.float() < (growing ? 0.3 : 0.7)) {
        const j = rng.int(live.length);
        const x = live[j]!;
        live[j] = live[live.length - 1]!;
        live.pop();
        b.free(x.addr, x.order);
      } else {
        const r = rng.float();
        const order = r < 0.85 ? 0 : r < 0.97 ? 9 : r < 0.995 ? rng.int(9) : 18;
        const addr = b.alloc(order);
        if (addr !== null) live.push({ addr, order });
      }
      if (i % 50_000 === 49_999) check();
    }
    check();
    for (const x of live) b.free(x.addr, x.order);
    expect(b.freeBlocks()).toEqual(initial);
  });
});

describe("BuddyAllocator: scale", () => {
  it("a new allocator costs memory by blocks, not capacity", () => {
    expect(new BuddyAllocator(B4G, 4 * 1024 * GIB).bytesOverhead()).toBeLessThan(32 * 1024);
    expect(new BuddyAllocator(B4G, 60 * 1024 * GIB).bytesOverhead()).toBeLessThan(64 * 1024);
  });

  it("1,000,000 4 KiB frames from a 1 TiB tier cost well under 8 MB", () => {
    const b = new BuddyAllocator(B4G, 1024 * GIB);
    for (let i = 0; i < 1_000_000; i++) b.alloc(0);
    expect(b.stats().allocatedBlocks[0]).toBe(1_000_000);
    expect(b.bytesOverhead()).toBeLessThan(8_000_000);
    expect(b.bytesOverhead() / 1_000_000).toBeLessThan(1); // bytes per allocated frame
  });

  it("a realistic mix (4 KiB runs, 2 MiB frames, scattered frees) stays under 8 bytes per allocated block", () => {
    const b = new BuddyAllocator(B4G, 1024 * GIB);
    const small: number[] = [];
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 10_000; i++) small.push(b.alloc(0)!);
      for (let i = 0; i < 100; i++) b.alloc(9);
    }
    // Free every 7th 4 KiB frame: holes that later small requests refill.
    for (let i = 0; i < small.length; i += 7) b.free(small[i]!, 0);
    const s = b.stats();
    const blocks = s.allocatedBlocks.reduce((x, y) => x + y, 0);
    expect(b.bytesOverhead() / blocks).toBeLessThan(8);
    expect(b.bytesOverhead() / (s.usedBytes / 4096)).toBeLessThan(1);
  });
});
