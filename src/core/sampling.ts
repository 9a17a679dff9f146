/**
 * Set sampling of the line cache (docs/core.md section 5b): with `lineSampling` K > 1
 * the core models 1 set in K, its line counters count only the sampled sets' lines,
 * and it counts every data line by tier and kind besides (walk references it counts
 * by tier anyway). A sampled set behaves exactly as in the whole cache (sets are
 * independent, and exactly 1 in K is sampled), so K times its misses estimates the
 * whole cache's: set sampling (Kessler,
 * Hill and Wood, "A comparison of trace-sampling techniques for multi-megabyte caches",
 * IEEE Trans. Computers 43(6), 1994). The totals stay exact (every line and reference
 * is counted); only the split into hits and misses, and the write-backs, are estimated.
 *
 * @example
 * // dataLines[tier][kind]: every data line, from the core's counters
 * estimateLines(counters, dataLines, 16); // counters' line fields now estimate the whole cache
 * isLineSampling(16, 2048);                // true
 */
import type { Counters } from "./types.js";

/** Whether `k` samples a line cache of `sets` sets: 1 (every set, any cache), or a power of two up to `sets`. */
export function isLineSampling(k: number, sets: number): boolean {
  return k === 1 || (Number.isInteger(k) && k >= 1 && (k & (k - 1)) === 0 && k <= sets);
}

/**
 * Replaces the line fields of `c` (which count the sampled sets' lines only; `dataLines`
 * [tier][kind] counts every data line) with
 * estimates for the whole cache, 1 set in `k` sampled: misses (data lines by tier and
 * kind, walk references by tier) and write-backs are the sampled sets' times `k`, at
 * most the lines they are among; hits are the rest of the exact totals, so hits and
 * misses of a tier and kind add up to its data lines, cached and missed references to
 * `walkRefs`. (Misses spread over sets far more evenly than references do: the lines
 * every operation touches, buffers and headers, would weigh on a ratio of references.)
 */
export function estimateLines(c: Counters, dataLines: number[][], k: number): void {
  const hits = [0, 0, 0];
  c.dataLineMisses = c.dataLineMisses.map((row, t) =>
    row.map((m, kind) => {
      const n = dataLines[t]![kind]!;
      const est = Math.min(n, m * k);
      hits[kind] += n - est;
      return est;
    }),
  );
  c.dataLineHits = hits as [number, number, number];
  c.refMissesByTier = c.refMissesByTier.map((m, t) => Math.min(c.refsByTier[t] ?? 0, m * k));
  c.walkRefsCached = c.walkRefs - c.refMissesByTier.reduce((a, b) => a + b, 0);
  c.writebacks = c.writebacks.map((w) => w * k);
}
