import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Rng } from "../../src/util/rng.js";

describe("Rng", () => {
  it("is deterministic for a seed and differs across seeds", () => {
    const a = new Rng(7), b = new Rng(7), c = new Rng(8);
    const xs = Array.from({ length: 8 }, () => a.u32());
    expect(Array.from({ length: 8 }, () => b.u32())).toEqual(xs);
    expect(Array.from({ length: 8 }, () => c.u32())).not.toEqual(xs);
  });

  it("keeps int(n) in range and float in [0,1)", () => {
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 1, max: 2 ** 40 }), (seed, n) => {
        const r = new Rng(seed >>> 0);
        for (let i = 0; i < 20; i++) {
          const x = r.int(n);
          const f = r.float();
          if (!(Number.isInteger(x) && x >= 0 && x < n && f >= 0 && f < 1)) return false;
        }
        return true;
      }),
    );
  });

  it("int(n) is Lemire's rejection on the 32-bit stream, exactly (n up to 2^32)", () => {
    // the plain formula, with doubles and the % operator
    const reference = (r: Rng, n: number): number => {
      const limit = 0x100000000 - (0x100000000 % n);
      let x = r.u32();
      while (x >= limit) x = r.u32();
      return x % n;
    };
    fc.assert(
      fc.property(fc.nat(), fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 2 ** 32 }), fc.constantFrom(2 ** 31, 2 ** 31 + 1, 2 ** 32 - 1, 2 ** 32, 3 * 2 ** 30)), (seed, n) => {
        const a = new Rng(seed >>> 0);
        const b = new Rng(seed >>> 0);
        for (let i = 0; i < 20; i++) expect(a.int(n)).toBe(reference(b, n));
      }),
      { numRuns: 2000 },
    );
  });

  it("is roughly uniform", () => {
    const r = new Rng(1);
    const counts = new Array(10).fill(0);
    for (let i = 0; i < 100_000; i++) counts[r.int(10)]++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(500);
  });

  it("rejects bad seeds by name", () => {
    expect(() => new Rng(-1)).toThrow(/seed: -1/);
    expect(() => new Rng(1.5)).toThrow(/seed/);
  });

  it("getState/setState: a stream saved and restored draws the same again, in a copy too", () => {
    const a = new Rng(99);
    for (let i = 0; i < 7; i++) a.u32();
    const s = a.getState();
    expect(s.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff)).toBe(true);
    const first = [a.u32(), a.float(), a.int(1000)];
    a.setState(s);
    expect([a.u32(), a.float(), a.int(1000)]).toEqual(first);
    const b = new Rng(1);
    b.setState(s.map((w) => w | 0)); // signed words are the same words
    expect([b.u32(), b.float(), b.int(1000)]).toEqual(first);
    expect(() => b.setState([1, 2, 3])).toThrow(/state: \[1,2,3\] is not allowed; expected four 32-bit integers/);
    expect(() => b.setState([1, 2, 3, 2 ** 32])).toThrow(/state/);
  });
});
