/** Per-vCPU counters (docs/core.md section 8). */
import type { Counters } from "../../src/core/types.js";
import { MAX_TIERS } from "../../src/core/types.js";

export function newCounters(): Counters {
  return {
    requests: 0,
    requestsByKind: [0, 0, 0],
    retries: 0,
    l1Hits: 0,
    l1Misses: 0,
    itlb4kHits: 0,
    itlb2mHits: 0,
    dtlb4kHits: 0,
    dtlb2mHits: 0,
    dtlb1gHits: 0,
    stlbHits: 0,
    stlbHits4k: 0,
    stlbHits2m: 0,
    stlbHits1g: 0,
    walks: 0,
    walkRefs: 0,
    walkRefsGuest: 0,
    walkRefsEpt: 0,
    refsByTier: new Array<number>(MAX_TIERS).fill(0),
    pwcHits: [0, 0, 0],
    pwcMisses: 0,
    ntlbHits: 0,
    ntlbMisses: 0,
    faults: 0,
    pageFaults: 0,
    protFaults: 0,
    rsvdFaults: 0,
    keyFaults: 0,
    eptViolations: 0,
    eptMisconfigs: 0,
    dirtyAssists: 0,
    aUpdates: 0,
    dUpdates: 0,
    eptAUpdates: 0,
    eptDUpdates: 0,
    data: Array.from({ length: MAX_TIERS }, () => [0, 0, 0]),
  };
}

export function copyCounters(c: Counters): Counters {
  return {
    ...c,
    requestsByKind: [...c.requestsByKind],
    refsByTier: [...c.refsByTier],
    pwcHits: [...c.pwcHits],
    data: c.data.map((row) => [...row]),
  };
}
