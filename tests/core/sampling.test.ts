/**
 * Set sampling of the line cache: the estimator by hand and its totals as properties,
 * and the configuration's checks. (The core's sampled sets and counters are checked
 * against the reference model in differential-geometry.test.ts.)
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { estimateLines, isLineSampling } from "../../src/core/sampling.js";
import { zeroCounters, type Counters } from "../../src/core/types.js";
import { checkConfig } from "../../src/core/config.js";
import { modelConfig } from "../../src/core/models.js";

const grid = (): number[][] => Array.from({ length: 8 }, () => [0, 0, 0]);

describe("estimateLines", () => {
  it("scales the sampled sets' misses and write-backs by k; hits are the rest of each total", () => {
    const c = zeroCounters();
    const lines = grid();
    // tier 0 reads: 1000 lines, 15 sampled misses; tier 1 writes: 100 lines, 13 sampled misses
    lines[0]![1] = 1000;
    c.dataLineMisses[0]![1] = 15;
    lines[1]![2] = 100;
    c.dataLineMisses[1]![2] = 13; // 130 estimated, but only 100 lines: all of them
    c.dataLineHits = [0, 45, 0];
    // walks: 300 references to tier 0, 5 sampled misses
    c.walkRefs = 300;
    c.refsByTier[0] = 300;
    c.refMissesByTier[0] = 5;
    c.walkRefsCached = 15;
    c.writebacks[1] = 3;
    estimateLines(c, lines, 10);
    expect(c.dataLineMisses[0]).toEqual([0, 150, 0]);
    expect(c.dataLineMisses[1]).toEqual([0, 0, 100]);
    expect(c.dataLineHits).toEqual([0, 850, 0]);
    expect(c.refMissesByTier[0]).toBe(50);
    expect(c.walkRefsCached).toBe(250);
    expect(c.writebacks[1]).toBe(30);
  });

  it("keeps the totals: hits and misses add up to the lines, cached and missed references to walkRefs", () => {
    const cell = fc.record({ n: fc.nat(100_000), m: fc.nat(5000) });
    fc.assert(
      fc.property(fc.array(cell, { minLength: 24, maxLength: 24 }), fc.array(cell, { minLength: 8, maxLength: 8 }), fc.constantFrom(2, 16, 64), (lines, refs, k) => {
        const c: Counters = zeroCounters();
        const all = grid();
        lines.forEach(({ n, m }, i) => {
          all[(i / 3) | 0]![i % 3] = n;
          c.dataLineMisses[(i / 3) | 0]![i % 3] = Math.min(m, n);
        });
        refs.forEach(({ n, m }, t) => {
          c.refsByTier[t] = n;
          c.refMissesByTier[t] = Math.min(m, n);
        });
        c.walkRefs = refs.reduce((a, x) => a + x.n, 0);
        estimateLines(c, all, k);
        const misses = c.dataLineMisses.flat().reduce((a, b) => a + b, 0);
        expect(c.dataLineHits.reduce((a, b) => a + b, 0) + misses).toBe(lines.reduce((a, x) => a + x.n, 0));
        expect(c.walkRefsCached + c.refMissesByTier.reduce((a, b) => a + b, 0)).toBe(c.walkRefs);
        c.dataLineMisses.flat().forEach((m, i) => expect(m).toBe(Math.min(lines[i]!.n, Math.min(lines[i]!.m, lines[i]!.n) * k)));
        expect(c.walkRefsCached).toBeGreaterThanOrEqual(0);
      }),
    );
  });
});

describe("lineSampling in the core's configuration", () => {
  const base = modelConfig("default", { lineCache: "all" });
  it("takes a power of two up to the line cache's sets", () => {
    const sets = base.lineCache!.entries / base.lineCache!.ways;
    expect(() => checkConfig({ ...base, lineSampling: 16 })).not.toThrow();
    expect(() => checkConfig({ ...base, lineSampling: sets })).not.toThrow();
    for (const bad of [0, 3, 2.5, sets * 2, -4]) {
      expect(() => checkConfig({ ...base, lineSampling: bad })).toThrow(new RegExp(`lineSampling: ${bad} is not allowed; expected a power of two from 1 to the line cache's sets \\(${sets}\\)`));
    }
    // 1 needs no line cache; anything more does
    expect(isLineSampling(1, 0)).toBe(true);
    expect(isLineSampling(2, 0)).toBe(false);
    expect(() => checkConfig({ ...modelConfig("default"), lineSampling: 1 })).not.toThrow();
    expect(() => checkConfig({ ...modelConfig("default"), lineSampling: 2 })).toThrow(/lineSampling: 2 is not allowed; expected a power of two from 1 to the line cache's sets \(0\)/);
  });
});
