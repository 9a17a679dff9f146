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

function fill(cache: LineCache, c: Counters, line: number, dirty: boolean, tierOf: (hpa: number) => number): void {
  const out = cache.insert(line % cache.sets, { line, dirty });
  if (out && out.dirty) c.writebacks[tierOf(out.line * 64)]!++;
}

/** A walk reference to the entry at host address `hpa` in a table page of `tier`. */
export function refLine(cache: LineCache, c: Counters, hpa: number, tier: number, tierOf: (hpa: number) => number): void {
  const line = Math.floor(hpa / 64);
  if (cache.lookup(line % cache.sets, (l) => l.line === line)) {
    c.walkRefsCached++;
    return;
  }
  c.refMissesByTier[tier]!++;
  fill(cache, c, line, false, tierOf);
}

/** The lines of a page access of `len` bytes at host address `hpa`, all in a page of `tier`. */
export function dataLines(cache: LineCache, c: Counters, hpa: number, len: number, kind: 0 | 1 | 2, tier: number, tierOf: (hpa: number) => number): void {
  const last = Math.floor((hpa + len - 1) / 64);
  for (let line = Math.floor(hpa / 64); line <= last; line++) {
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
