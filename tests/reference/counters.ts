/** Per-vCPU counters (docs/core.md section 8). */
import type { Counters } from "../../src/core/types.js";
import { zeroCounters } from "../../src/core/types.js";

export function newCounters(): Counters {
  return zeroCounters();
}

export function copyCounters(c: Counters): Counters {
  return {
    ...c,
    requestsByKind: [...c.requestsByKind],
    refsByTier: [...c.refsByTier],
    pwcHits: [...c.pwcHits],
    data: c.data.map((row) => [...row]),
    refMissesByTier: [...c.refMissesByTier],
    dataLineHits: [...c.dataLineHits],
    dataLineMisses: c.dataLineMisses.map((row) => [...row]),
    writebacks: [...c.writebacks],
  };
}
