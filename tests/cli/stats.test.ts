// The statistics rows of src/report/stats.ts: labels, counts and ratios.
import { describe, expect, it } from "vitest";
import { zeroCounters, type Counters } from "../../src/core/types.js";
import { basicStats, formatStats, fullStats, isFullStats, statRows } from "../../src/report/stats.js";

function counters(over: Partial<Counters> = {}): Counters {
  return {
    ...zeroCounters(),
    requests: 1000, requestsByKind: [250, 500, 250], retries: 10, l1Hits: 900, l1Misses: 110,
    itlb4kHits: 240, itlb2mHits: 0, dtlb4kHits: 660, dtlb2mHits: 0, dtlb1gHits: 0,
    stlbHits: 80, stlbHits4k: 80, stlbHits2m: 0, stlbHits1g: 0, walks: 40, walkRefs: 200,
    walkRefsGuest: 80, walkRefsEpt: 120, refsByTier: [200, 0, 0, 0, 0, 0, 0, 0], pwcHits: [1, 2, 30],
    pwcMisses: 7, ntlbHits: 70, ntlbMisses: 10, faults: 10, pageFaults: 10, protFaults: 0, rsvdFaults: 0,
    keyFaults: 0, eptViolations: 0, eptMisconfigs: 0, dirtyAssists: 5, aUpdates: 12, dUpdates: 6,
    eptAUpdates: 9, eptDUpdates: 4,
    data: Array.from({ length: 8 }, (_, t) => (t === 0 ? [250, 500, 250] : [0, 0, 0])),
    ...over,
  };
}

const row = (rows: ReturnType<typeof statRows>, label: string) => rows.find((r) => r.label === label);

describe("statistics rows", () => {
  it("basic counts: hit rates, walks per 1000 requests, references per walk", () => {
    const rows = statRows({ requests: 10, l1Hits: 6, l2Hits: 1, walks: 3, walkRefs: 72, faults: 3 });
    expect(rows.map((r) => r.label)).toEqual([
      "requests (page accesses)", "L1 TLB hits", "L1 TLB misses", "STLB (L2) hits", "page walks",
      "walk memory references", "faults",
    ]);
    expect(row(rows, "L1 TLB hits")).toEqual({ label: "L1 TLB hits", count: 6, ratio: "60.00% of requests" });
    expect(row(rows, "STLB (L2) hits")?.ratio).toBe("25.00% of L1 misses");
    expect(row(rows, "page walks")?.ratio).toBe("300.00 per 1000 requests");
    expect(row(rows, "walk memory references")?.ratio).toBe("24.00 per walk");
  });

  it("no division by zero on an empty run", () => {
    const rows = statRows({ requests: 0, l1Hits: 0, l2Hits: 0, walks: 0, walkRefs: 0, faults: 0 });
    expect(rows.every((r) => r.ratio === "")).toBe(true);
  });

  it("full counters: attempts include retries, and the split by structure and kind", () => {
    const s = fullStats(counters(), { demandMaps: 10 });
    expect(isFullStats(s)).toBe(true);
    expect(Object.keys(s).slice(0, 6)).toEqual(["requests", "l1Hits", "l2Hits", "walks", "walkRefs", "faults"]);
    expect(s).not.toHaveProperty("stlbHits");
    const rows = statRows(s);
    expect(row(rows, "L1 TLB hits")?.ratio).toBe("89.11% of attempts"); // 900 / 1010
    expect(row(rows, "L1 TLB misses")?.count).toBe(110);
    expect(row(rows, "  reads")?.ratio).toBe("50.00% of requests");
    expect(row(rows, "walk-cache hits (PDE)")?.ratio).toBe("75.00% of walks");
    expect(row(rows, "nested TLB hits")?.ratio).toBe("87.50% of lookups");
    expect(row(rows, "dirty assists")?.ratio).toBe("2.00% of writes");
    expect(row(rows, "pages mapped on demand")?.count).toBe(10);
    expect(row(rows, "  DTLB 1G")).toBeUndefined(); // zero and meaningless here
    expect(row(rows, "  in tier 0")).toBeUndefined(); // one tier only
  });

  it("basicStats renames stlbHits to l2Hits; formatStats groups digits", () => {
    expect(basicStats(counters())).toEqual({ requests: 1000, l1Hits: 900, l2Hits: 80, walks: 40, walkRefs: 200, faults: 10 });
    expect(formatStats(basicStats(counters({ requests: 1234567 })))).toMatch(/^requests \(page accesses\) +1,234,567$/m);
  });
});
