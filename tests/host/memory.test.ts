import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { HostMemory, HOST_PHYS_BASE, type TierSpec } from "../../src/host/memory.js";
import { GIB, MIB, ORDER_BYTES } from "../../src/host/buddy.js";

const KIB = 1024;
const TIB = 1024 * GIB;

describe("HostMemory: layout", () => {
  it("lays tiers out from 4 GiB, each on a 1 GiB boundary, in the order given", () => {
    const host = new HostMemory([
      { name: "dram", capacity: 64 * GIB },
      { name: "nvm", capacity: 512 * GIB },
      { name: "cxl", capacity: 2 * MIB },
    ]);
    expect(HOST_PHYS_BASE).toBe(0x1_0000_0000);
    expect(host.ranges()).toEqual([
      { base: 4 * GIB, size: 64 * GIB },
      { base: 68 * GIB, size: 512 * GIB },
      { base: 580 * GIB, size: 2 * MIB },
    ]);
    expect(host.tierNames()).toEqual(["dram", "nvm", "cxl"]);
    expect(host.tierIndex("cxl")).toBe(2);
  });

  it("rounds the next base up to 1 GiB after a capacity that is not a multiple of 1 GiB", () => {
    const host = new HostMemory([
      { name: "a", capacity: GIB + 2 * MIB },
      { name: "b", capacity: 4 * MIB },
    ]);
    expect(host.ranges()).toEqual([
      { base: 4 * GIB, size: GIB + 2 * MIB },
      { base: 6 * GIB, size: 4 * MIB },
    ]);
    // The gap between a's end and b's base belongs to no tier.
    expect(host.tierOf(5 * GIB + 2 * MIB - 1)).toBe("a");
    expect(host.tierOf(5 * GIB + 2 * MIB)).toBeNull();
    expect(host.tierOf(6 * GIB - 1)).toBeNull();
    expect(host.tierOf(6 * GIB)).toBe("b");
    expect(host.tierIndexOf(6 * GIB + 4 * MIB)).toBe(-1);
    expect(host.tierOf(0)).toBeNull();
    expect(host.tierOf(4 * GIB - 1)).toBeNull();
    expect(host.tierOf(4 * GIB)).toBe("a");
  });

  it("accepts a layout that ends exactly at 2^46 and rejects one past it", () => {
    const fits = 2 ** 46 - HOST_PHYS_BASE;
    expect(new HostMemory([{ name: "huge", capacity: fits }]).ranges()).toEqual([{ base: HOST_PHYS_BASE, size: fits }]);
    expect(() => new HostMemory([{ name: "huge", capacity: fits + 2 * MIB }])).toThrow(
      /tiers\[0\]\.capacity: .* past the host-physical limit 2\^46/,
    );
    expect(() =>
      new HostMemory([
        { name: "dram", capacity: 32 * TIB },
        { name: "nvm", capacity: 32 * TIB },
      ]),
    ).toThrow(/tiers\[1\]\.capacity: .*tier "nvm" would end at/);
  });
});

describe("HostMemory: allocation", () => {
  it("allocates per tier, reports usage by frame size and frees", () => {
    const host = new HostMemory([
      { name: "dram", capacity: 4 * GIB },
      { name: "nvm", capacity: 8 * GIB },
    ]);
    const g = host.alloc("nvm", 18)!;
    const m = host.alloc("dram", 9)!;
    const k = host.alloc("dram", 0)!;
    expect(g).toBe(8 * GIB); // nvm starts at 4 GiB + 4 GiB
    expect(m).toBe(4 * GIB);
    expect(k).toBe(4 * GIB + 2 * MIB);
    expect(host.tierOf(g)).toBe("nvm");
    expect(host.isAllocated(m, 9)).toBe(true);
    expect(host.isAllocated(m, 0)).toBe(false);
    expect(host.isAllocated(0, 0)).toBe(false);
    const dram = host.usage("dram");
    expect(dram).toMatchObject({ name: "dram", index: 0, base: 4 * GIB, capacity: 4 * GIB, frames4k: 1, frames2m: 1, frames1g: 0 });
    expect(dram.bytesUsed).toBe(2 * MIB + 4 * KIB);
    expect(dram.bytesFree).toBe(4 * GIB - 2 * MIB - 4 * KIB);
    expect(host.usage("nvm")).toMatchObject({ frames1g: 1, bytesUsed: GIB });
    const st = host.stats();
    expect(st).toMatchObject({ capacity: 12 * GIB, bytesUsed: GIB + 2 * MIB + 4 * KIB, allocs: 3, frees: 0, failures: 0 });
    host.free(k, 0);
    host.free(m, 9);
    host.free(g, 18);
    expect(host.stats()).toMatchObject({ bytesUsed: 0, frees: 3 });
    expect(host.usage("dram").largestFreeOrder).toBe(18);
  });

  it("fails a 2 MiB request in a tier fragmented into 4 KiB frames, with bytes to spare", () => {
    const host = new HostMemory([{ name: "dram", capacity: 4 * MIB }]);
    const frames: number[] = [];
    for (let i = 0; i < 1024; i++) frames.push(host.alloc("dram", 0)!);
    for (let i = 1; i < 1024; i += 2) host.free(frames[i]!, 0);
    expect(host.usage("dram")).toMatchObject({ bytesFree: 2 * MIB, unusableFor2M: 2 * MIB, largestFreeOrder: 0 });
    expect(host.canAlloc("dram", 9)).toBe(false);
    expect(host.alloc("dram", 9)).toBeNull();
    expect(host.allocWithFallback(9, ["dram"], false)).toBeNull();
    expect(host.stats().failures).toBe(2);
  });

  it("falls back to the next tier when the first is full", () => {
    const host = new HostMemory([
      { name: "dram", capacity: 2 * MIB },
      { name: "nvm", capacity: GIB },
    ]);
    expect(host.allocWithFallback(9, ["dram", "nvm"], false)).toEqual({ hpa: 4 * GIB, tier: "dram", order: 9 });
    expect(host.allocWithFallback(9, ["dram", "nvm"], false)).toEqual({ hpa: 5 * GIB, tier: "nvm", order: 9 });
    expect(host.stats()).toMatchObject({ tierFallbacks: 1, smallerFallbacks: 0, failures: 0, allocs: 2 });
    // The order of the list is the preference: nvm first.
    expect(host.allocWithFallback(0, ["nvm", "dram"], false)?.tier).toBe("nvm");
    expect(host.stats().tierFallbacks).toBe(1);
  });

  it("allocInTiers (tiers by index) gives allocWithFallback's blocks and counts, without smaller orders", () => {
    const tiers = [
      { name: "dram", capacity: 4 * MIB },
      { name: "nvm", capacity: GIB },
    ];
    const byName = new HostMemory(tiers);
    const byIndex = new HostMemory(tiers);
    for (const [order, names] of [[9, ["dram", "nvm"]], [0, ["dram", "nvm"]], [9, ["dram", "nvm"]], [18, ["dram"]], [0, ["nvm", "dram"]], [18, ["nvm", "dram"]]] as const) {
      expect(byIndex.allocInTiers(order, names.map((n) => byIndex.tierIndex(n)))).toEqual(byName.allocWithFallback(order, [...names], false));
    }
    expect(byIndex.stats()).toEqual(byName.stats());
    expect(byIndex.stats()).toMatchObject({ tierFallbacks: 1, failures: 2 });
    expect(() => byIndex.allocInTiers(0, [0, 2])).toThrow(/tiers\[1\]: 2 is not allowed/);
    expect(() => byIndex.allocInTiers(0, [])).toThrow(RangeError);
    expect(byIndex.stats()).toEqual(byName.stats()); // nothing changed
  });

  it("falls back to a smaller order when allowed: 1 GiB -> 2 MiB -> 4 KiB", () => {
    const host = new HostMemory([{ name: "dram", capacity: 4 * MIB }]);
    expect(host.allocWithFallback(18, ["dram"], false)).toBeNull();
    expect(host.allocWithFallback(18, ["dram"], true)).toEqual({ hpa: 4 * GIB, tier: "dram", order: 9 });
    host.alloc("dram", 0);
    expect(host.allocWithFallback(9, ["dram"], true)).toEqual({ hpa: 4 * GIB + 2 * MIB + 4 * KIB, tier: "dram", order: 0 });
    // Orders that are not page sizes fall back to the page sizes below them.
    expect(host.allocWithFallback(5, ["dram"], true)).toMatchObject({ order: 5 });
    expect(host.stats()).toMatchObject({ smallerFallbacks: 2, tierFallbacks: 0, failures: 1 });
  });

  it("gives up the size first or the tier first as asked", () => {
    const make = (): HostMemory => {
      const h = new HostMemory([
        { name: "dram", capacity: 2 * MIB },
        { name: "nvm", capacity: GIB },
      ]);
      h.alloc("dram", 0); // dram keeps 4 KiB frames but no 2 MiB one
      return h;
    };
    const byTier = make();
    expect(byTier.allocWithFallback(9, ["dram", "nvm"], true)).toEqual({ hpa: 4 * GIB + 4 * KIB, tier: "dram", order: 0 });
    expect(byTier.stats()).toMatchObject({ smallerFallbacks: 1, tierFallbacks: 0 });
    const bySize = make();
    expect(bySize.allocWithFallback(9, ["dram", "nvm"], true, { prefer: "size" })).toEqual({ hpa: 5 * GIB, tier: "nvm", order: 9 });
    expect(bySize.stats()).toMatchObject({ smallerFallbacks: 0, tierFallbacks: 1 });
  });

  it("returns null (an out-of-memory event for the guest) when every tier is full, changing nothing", () => {
    const host = new HostMemory([
      { name: "dram", capacity: 2 * MIB },
      { name: "nvm", capacity: 2 * MIB },
    ]);
    host.alloc("dram", 9);
    host.alloc("nvm", 9);
    const before = host.stats();
    expect(host.allocWithFallback(0, ["dram", "nvm"], true)).toBeNull();
    expect(host.alloc("nvm", 0)).toBeNull();
    const after = host.stats();
    expect(after.failures).toBe(before.failures + 2);
    expect({ ...after, failures: 0 }).toEqual({ ...before, failures: 0 });
  });
});

describe("HostMemory: errors name the field, the value and what is allowed", () => {
  it("rejects bad tier lists", () => {
    const bad: [unknown, RegExp][] = [
      [[], /tiers: \[\] is not allowed; expected a non-empty array/],
      [null, /tiers: null is not allowed/],
      [[{ name: "", capacity: GIB }], /tiers\[0\]\.name: "" is not allowed; expected a non-empty string/],
      [[{ capacity: GIB }], /tiers\[0\]\.name: undefined is not allowed/],
      [[{ name: "a", capacity: GIB }, { name: "a", capacity: GIB }], /tiers\[1\]\.name: "a" is not allowed; tier names must be unique/],
      [[{ name: "a", capacity: 0 }], /tiers\[0\]\.capacity: 0 is not allowed; expected a positive multiple of 2 MiB/],
      [[{ name: "a", capacity: 3 * MIB }], /tiers\[0\]\.capacity: 3145728 is not allowed/],
      [[{ name: "a", capacity: -2 * MIB }], /tiers\[0\]\.capacity: -2097152/],
      [[{ name: "a", capacity: "1GiB" }], /tiers\[0\]\.capacity: 1GiB is not allowed/],
      [[{ name: "a", capacity: NaN }], /tiers\[0\]\.capacity: NaN/],
    ];
    for (const [tiers, message] of bad) expect(() => new HostMemory(tiers as TierSpec[])).toThrow(message);
  });

  it("rejects unknown tier names, listing the known ones", () => {
    const host = new HostMemory([
      { name: "dram", capacity: GIB },
      { name: "nvm", capacity: GIB },
    ]);
    const known = /tier: "hbm" is not allowed; known tiers: dram, nvm/;
    expect(() => host.alloc("hbm", 0)).toThrow(known);
    expect(() => host.canAlloc("hbm", 0)).toThrow(known);
    expect(() => host.usage("hbm")).toThrow(known);
    expect(() => host.tierIndex("hbm")).toThrow(known);
    expect(() => host.allocWithFallback(0, ["dram", "hbm"], true)).toThrow(known);
    expect(host.stats()).toMatchObject({ allocs: 0, failures: 0, bytesUsed: 0 });
  });

  it("rejects bad arguments to allocation and free; nothing changes", () => {
    const host = new HostMemory([
      { name: "dram", capacity: GIB },
      { name: "nvm", capacity: GIB },
    ]);
    const a = host.alloc("dram", 9)!;
    const before = host.stats();
    const cases: [() => unknown, RegExp][] = [
      [() => host.alloc("dram", 19), /alloc: order 19 is not allowed; expected an integer in 0\.\.18/],
      [() => host.allocWithFallback(-1, ["dram"], true), /allocWithFallback: order -1 is not allowed/],
      [() => host.allocWithFallback(0, [], true), /tierOrder: \[\] is not allowed; expected a non-empty array of tier names \(known tiers: dram, nvm\)/],
      [() => host.allocWithFallback(0, ["dram"], 1 as unknown as boolean), /allowSmaller: 1 is not allowed; expected true or false/],
      [() => host.allocWithFallback(0, ["dram"], true, { prefer: "fast" as "tier" }), /prefer: "fast" is not allowed; expected "tier" or "size"/],
      [() => host.free(0x1000, 0), /free: hpa 0x1000 is not allowed; it lies in no tier \(tiers: dram 0x100000000\.\.0x13fffffff, nvm 0x140000000\.\.0x17fffffff\)/],
      [() => host.free(a, 0), /allocated with order 9/],
      [() => host.free(a + 4096, 9), /not allowed for order 9; expected a multiple of 2 MiB/],
      [() => host.free(a + 2 * MIB, 9), /double free/],
      [() => host.free(a, 20), /free: order 20 is not allowed/],
      [() => host.tierOf(-1), /hpa: -1 is not allowed; expected an integer >= 0/],
      [() => host.tierOf(1.5), /hpa: 1.5 is not allowed/],
    ];
    for (const [call, message] of cases) {
      expect(call).toThrow(message);
      expect(host.stats()).toEqual(before);
    }
  });
});

describe("HostMemory: properties", () => {
  const names = ["dram", "nvm", "cxl"];
  const tiers = fc
    .array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 3 })
    .map((caps) => caps.map((c, i) => ({ name: names[i]!, capacity: c * 2 * MIB })));
  type Op = { kind: "alloc"; order: number; tiers: number[]; smaller: boolean; size: boolean } | { kind: "free"; pick: number };
  const op: fc.Arbitrary<Op> = fc.oneof(
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant("alloc" as const),
        order: fc.constantFrom(0, 0, 0, 1, 9, 9, 18),
        tiers: fc.uniqueArray(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 3 }),
        smaller: fc.boolean(),
        size: fc.boolean(),
      }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant("free" as const), pick: fc.nat() }) },
  );

  it("no overlap, aligned, in the tier it names, bytes add up per tier; all free at the end", () => {
    fc.assert(
      fc.property(tiers, fc.array(op, { maxLength: 150 }), (specs, ops) => {
        const host = new HostMemory(specs);
        const model = new Map<number, { order: number; tier: string }>();
        for (const o of ops) {
          if (o.kind === "alloc") {
            const order_ = o.tiers.filter((t) => t < specs.length).map((t) => names[t]!);
            if (order_.length === 0) continue;
            const r = host.allocWithFallback(o.order, order_, o.smaller, { prefer: o.size ? "size" : "tier" });
            if (r === null) continue;
            const bytes = ORDER_BYTES[r.order]!;
            expect(r.order === o.order || (o.smaller && r.order < o.order && [9, 0].includes(r.order))).toBe(true);
            expect(order_).toContain(r.tier);
            expect(r.hpa % bytes).toBe(0);
            expect(host.tierOf(r.hpa)).toBe(r.tier);
            expect(host.tierOf(r.hpa + bytes - 1)).toBe(r.tier);
            for (const [a, m] of model) expect(r.hpa + bytes <= a || a + ORDER_BYTES[m.order]! <= r.hpa).toBe(true);
            model.set(r.hpa, { order: r.order, tier: r.tier });
          } else if (model.size > 0) {
            const [hpa, m] = [...model][o.pick % model.size]!;
            host.free(hpa, m.order);
            model.delete(hpa);
          }
          for (const u of host.stats().tiers) {
            const used = [...model.values()].filter((m) => m.tier === u.name).reduce((s, m) => s + ORDER_BYTES[m.order]!, 0);
            expect(u.bytesUsed).toBe(used);
            expect(u.bytesUsed + u.bytesFree).toBe(u.capacity);
          }
        }
        for (const [hpa, m] of model) host.free(hpa, m.order);
        const st = host.stats();
        expect(st.bytesUsed).toBe(0);
        for (const u of st.tiers) expect(u.blocksByOrder.every((n) => n === 0)).toBe(true);
      }),
      { numRuns: 150 },
    );
  });
});

describe("HostMemory: scale", () => {
  it("1,000,000 4 KiB frames from a 1 TiB tier: allocator overhead well under 8 MB", () => {
    const host = new HostMemory([
      { name: "dram", capacity: TIB },
      { name: "nvm", capacity: 4 * TIB },
    ]);
    const fresh = host.bytesOverhead();
    expect(fresh).toBeLessThan(64 * 1024);
    for (let i = 0; i < 1_000_000; i++) host.alloc("dram", 0);
    expect(host.usage("dram").frames4k).toBe(1_000_000);
    const overhead = host.bytesOverhead();
    expect(overhead).toBeLessThan(8_000_000);
    expect(overhead / 1_000_000).toBeLessThan(1); // bytes per allocated 4 KiB frame
  });
});
