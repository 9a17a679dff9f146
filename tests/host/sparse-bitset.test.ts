import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { SparseBitset } from "../../src/host/sparse-bitset.js";
import { Rng } from "../../src/util/rng.js";

describe("SparseBitset", () => {
  it("adds, deletes, finds the lowest member and the next one", () => {
    const s = new SparseBitset(1 << 30);
    expect(s.first()).toBe(-1);
    expect(s.add(5)).toBe(true);
    expect(s.add(5)).toBe(false);
    s.add(1_000_000);
    s.add((1 << 30) - 1);
    expect(s.count).toBe(3);
    expect(s.first()).toBe(5);
    expect(s.next(6)).toBe(1_000_000);
    expect(s.next(1_000_001)).toBe((1 << 30) - 1);
    expect(s.next(1 << 30)).toBe(-1);
    expect(s.has(5)).toBe(true);
    expect(s.has(6)).toBe(false);
    expect(s.delete(5)).toBe(true);
    expect(s.delete(5)).toBe(false);
    expect([...s.values()]).toEqual([1_000_000, (1 << 30) - 1]);
  });

  it("handles indices above 2^32 (frames of a host larger than 16 TiB)", () => {
    const s = new SparseBitset(2 ** 34);
    const big = 2 ** 33 + 12345;
    s.add(big);
    s.add(2 ** 32 - 1);
    s.add(2 ** 32);
    expect(s.has(big)).toBe(true);
    expect(s.has(big - 2 ** 32)).toBe(false); // no aliasing modulo 2^32
    expect(s.first()).toBe(2 ** 32 - 1);
    expect(s.next(2 ** 32 + 1)).toBe(big);
    s.delete(2 ** 32 - 1);
    expect(s.first()).toBe(2 ** 32);
  });

  it("costs memory by members, not by universe, and gives it back when emptied", () => {
    const s = new SparseBitset(2 ** 34);
    const empty = s.bytesOverhead();
    expect(empty).toBeLessThan(2000);
    for (let i = 0; i < 100_000; i++) s.add(2 ** 33 + i);
    expect(s.bytesOverhead() - empty).toBeLessThan(100_000 / 2); // < 0.5 byte per dense member
    for (let i = 0; i < 100_000; i++) s.delete(2 ** 33 + i);
    expect(s.count).toBe(0);
    expect(s.bytesOverhead()).toBeLessThan(empty + 4 * 1024); // a few empty chunks kept for reuse
    s.trim();
    expect(s.bytesOverhead()).toBe(empty);
  });

  it("rejects indices outside the universe, naming the value and the range", () => {
    const s = new SparseBitset(100);
    expect(() => s.add(100)).toThrow(/index 100 .*0\.\.99/);
    expect(() => s.add(-1)).toThrow(/index -1/);
    expect(() => s.delete(1.5)).toThrow(/index 1.5/);
    expect(() => new SparseBitset(-1)).toThrow(/size: -1/);
    expect(() => s.next(NaN)).toThrow(/from: NaN/);
    expect(s.has(1000)).toBe(false);
  });

  it("agrees with a Set through growth, mass deletion (sweeps, compaction) and regrowth", () => {
    const rng = new Rng(7);
    const size = 2 ** 24;
    const s = new SparseBitset(size);
    const model = new Set<number>();
    const sorted = (): number[] => [...model].sort((a, b) => a - b);
    const probe = (): void => {
      const m = sorted();
      for (let k = 0; k < 50; k++) {
        const from = rng.int(size);
        const want = m.find((x) => x >= from) ?? -1;
        expect(s.next(from)).toBe(want);
      }
      expect(s.first()).toBe(m[0] ?? -1);
    };
    // Clustered members over many chunks and several parent chunks.
    const pick = (): number => rng.int(64) * 262_144 + rng.int(40_000);
    for (let i = 0; i < 60_000; i++) {
      const x = pick();
      expect(s.add(x)).toBe(!model.has(x));
      model.add(x);
    }
    probe();
    const grown = s.bytesOverhead();
    for (const x of sorted()) {
      if (rng.int(200) !== 0) {
        s.delete(x);
        model.delete(x);
      }
    }
    probe();
    expect(s.bytesOverhead()).toBeLessThan(grown / 3); // most chunks emptied: swept and compacted
    for (let i = 0; i < 20_000; i++) {
      const x = pick();
      if (rng.int(2) === 0) {
        expect(s.delete(x)).toBe(model.delete(x));
      } else {
        expect(s.add(x)).toBe(!model.has(x));
        model.add(x);
      }
    }
    probe();
    const beforeTrim = s.bytesOverhead();
    s.trim();
    expect(s.bytesOverhead()).toBeLessThanOrEqual(beforeTrim);
    probe();
    expect([...s.values()]).toEqual(sorted());
    expect(s.count).toBe(model.size);
  });

  it("adds a run as the same adds one by one would, across words and chunks", () => {
    const universe = fc.constantFrom(40, 1024, 5000, 2 ** 34);
    fc.assert(
      fc.property(
        universe,
        fc.array(fc.tuple(fc.constantFrom("add", "addRun", "delete"), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 2500 })), {
          maxLength: 60,
        }),
        (size, ops) => {
          const runs = new SparseBitset(size);
          const ones = new SparseBitset(size);
          for (const [op, u, d] of ops) {
            const i = Math.min(size - 1, Math.floor(u * Math.max(0, size - 2500)) + (op === "addRun" ? 0 : d));
            if (op === "addRun") {
              const n = Math.min(d, size - i);
              let want = 0;
              for (let k = 0; k < n; k++) if (ones.add(i + k)) want++;
              expect(runs.addRun(i, n)).toBe(want);
            } else if (op === "add") expect(runs.add(i)).toBe(ones.add(i));
            else expect(runs.delete(i)).toBe(ones.delete(i));
            expect(runs.count).toBe(ones.count);
            expect(runs.first()).toBe(ones.first());
          }
          expect([...runs.values()]).toEqual([...ones.values()]);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("rejects a run past the universe and changes nothing", () => {
    const s = new SparseBitset(100);
    s.add(3);
    expect(() => s.addRun(90, 20)).toThrow(/addRun: index 109 is not allowed; expected an integer in 0..99/);
    expect(() => s.addRun(5, -1)).toThrow(/count -1/);
    expect([...s.values()]).toEqual([3]);
    expect(s.addRun(98, 2)).toBe(2);
    expect([...s.values()]).toEqual([3, 98, 99]);
  });

  it("agrees with a Set on random operations", () => {
    const universe = fc.constantFrom(1, 31, 1024, 1025, 70_000, 2 ** 34);
    fc.assert(
      fc.property(
        universe,
        fc.array(fc.tuple(fc.constantFrom("add", "delete", "next"), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 3000 })), {
          maxLength: 300,
        }),
        (size, ops) => {
          const s = new SparseBitset(size);
          const model = new Set<number>();
          // Cluster indices around a few centres so that chunks fill and empty.
          const centre = (u: number): number => Math.min(size - 1, Math.floor(u * Math.max(0, size - 3001)));
          for (const [op, u, d] of ops) {
            const i = Math.min(size - 1, centre(u) + d);
            if (op === "add") {
              expect(s.add(i)).toBe(!model.has(i));
              model.add(i);
            } else if (op === "delete") {
              expect(s.delete(i)).toBe(model.delete(i));
            } else {
              const want = [...model].filter((x) => x >= i).sort((a, b) => a - b)[0] ?? -1;
              expect(s.next(i)).toBe(want);
            }
            expect(s.count).toBe(model.size);
          }
          expect([...s.values()]).toEqual([...model].sort((a, b) => a - b));
        },
      ),
      { numRuns: 200 },
    );
  });
});
