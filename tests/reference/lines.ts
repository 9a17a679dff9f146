/**
 * The line cache (docs/core.md section 5b): 64-byte lines tagged by host-physical line
 * address, with a dirty bit, replaced like every other structure.
 */
import type { Counters } from "../../src/core/types.js";
import type { SetAssoc } from "./tlb.js";

export interface Line {
  line: number;
  dirty: boolean;
}

export type LineCache = SetAssoc<Line>;

/** Set sampling (1 set in `k` modelled) and one vCPU's sampling counter: dataLines[tier][kind], every data line. */
export interface LineSample {
  k: number;
  dataLines: number[][];
}

export function newLineSample(k: number): LineSample {
  return {
    k,
    dataLines: Array.from({ length: 8 }, () => [0, 0, 0]),
  };
}

/** Whether `line`'s set is modelled: the top log2(k) bits of its set index times an odd constant, modulo the sets, are zero. */
function sampledSet(cache: LineCache, k: number, line: number): boolean {
  const sets = cache.sets;
  const set = line % sets;
  const shift = Math.log2(sets) - Math.log2(k);
  return ((Math.imul(set, 0x9e3779b1) >>> 0) % sets) >>> shift === 0;
}

function fill(cache: LineCache, c: Counters, line: number, dirty: boolean, tierOf: (hpa: number) => number): void {
  const out = cache.insert(line % cache.sets, { line, dirty });
  if (out && out.dirty) c.writebacks[tierOf(out.line * 64)]!++;
}

/** A walk reference to the entry at host address `hpa` in a table page of `tier`. */
export function refLine(cache: LineCache, c: Counters, hpa: number, tier: number, tierOf: (hpa: number) => number, sample: LineSample | null = null): void {
  const line = Math.floor(hpa / 64);
  if (sample && !sampledSet(cache, sample.k, line)) return;
  if (cache.lookup(line % cache.sets, (l) => l.line === line)) {
    c.walkRefsCached++;
    return;
  }
  c.refMissesByTier[tier]!++;
  fill(cache, c, line, false, tierOf);
}

/** The lines of a page access of `len` bytes at host address `hpa`, all in a page of `tier`. */
export function dataLines(cache: LineCache, c: Counters, hpa: number, len: number, kind: 0 | 1 | 2, tier: number, tierOf: (hpa: number) => number, sample: LineSample | null = null): void {
  const last = Math.floor((hpa + len - 1) / 64);
  for (let line = Math.floor(hpa / 64); line <= last; line++) {
    if (sample) {
      sample.dataLines[tier]![kind]!++;
      if (!sampledSet(cache, sample.k, line)) continue;
    }
    const hit = cache.lookup(line % cache.sets, (l) => l.line === line);
    if (hit) {
      c.dataLineHits[kind]++;
      if (kind === 2) hit.dirty = true;
      continue;
    }
    c.dataLineMisses[tier]![kind]!++;
    fill(cache, c, line, kind === 2, tierOf);
  }
}
