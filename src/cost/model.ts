/**
 * The cycle model: turns the core's counted events into cycles, and cycles into
 * throughput at the CPU preset's frequency. Every per-event cost comes from a preset
 * (src/cost/cpus.ts, src/cost/tiers.ts) with its source.
 *
 * - Translation: an L1 TLB hit adds `l1TlbHit`, an STLB hit `stlbHit`, a walk
 *   `pscLookup` plus its references. A reference whose line hits the line cache
 *   (the core's model of the caches page-table lines live in) costs `walkRefLlc`; a
 *   miss costs the load latency of the tier holding the table page.
 * - Data: a line that hits the line cache costs `walkRefLlc` (the same cache);
 *   a miss costs the tier's random load latency (reads and fetches) or its store
 *   latency (writes; a write to a tier whose media granularity is larger than a line,
 *   NVM's 256 B, pays a read-modify-write: a load and a store); a dirty line written
 *   back costs the tier's store latency. Without the line cache every data access is
 *   charged as one miss.
 * - Work the workload does per operation (`computeCycles`), and host-side events
 *   (guest page faults, EPT violations) from the CPU preset.
 * Accesses are charged one after another (no memory-level parallelism): the models'
 *   accesses are dependent (hash chains, pointers), which this suits; a streaming
 *   workload would be over-charged (docs/model.md).
 *
 * @example
 * const cyc = translationCycles(counters, cpu, tiers);
 * const t = throughput(ops, { ...cyc, compute: ops * 400 }, cpu);
 */
import type { Counters } from "../core/types.js";
import type { CpuPreset } from "./cpus.js";
import { nsToCycles } from "./cpus.js";
import type { TierPreset } from "./tiers.js";

export interface CycleBreakdown {
  /** L1 and STLB hit latencies. */
  tlb: number;
  /** Page walks: PSC probes and every reference. */
  walks: number;
  /** Data accesses (line-cache hits and memory accesses by tier). */
  data: number;
  /** Guest page faults and EPT violations (delivery and handling). */
  faults: number;
  /** The workload's own work. */
  compute: number;
  /** Anything else a model charges (system calls, forks). */
  other: number;
}

export function totalCycles(b: CycleBreakdown): number {
  return b.tlb + b.walks + b.data + b.faults + b.compute + b.other;
}

/** Tier presets by core tier index (the order of the host's tiers). */
export type TierCosts = TierPreset[];

function tierAt(tiers: TierCosts, i: number): TierPreset {
  return tiers[Math.min(i, tiers.length - 1)];
}

/**
 * Cycles of translation and data access for a set of counters (one vCPU's, or a
 * sum). Fault handling is charged separately (`faultCycles`).
 */
export function translationCycles(c: Counters, cpu: CpuPreset, tiers: TierCosts): Pick<CycleBreakdown, "tlb" | "walks" | "data"> {
  const f = cpu.frequencyHz;
  const lat = cpu.latency;
  const tlb = c.l1Hits * lat.l1TlbHit + c.stlbHits * lat.stlbHit;
  let walks = c.walks * lat.pscLookup;
  const cached = c.walkRefsCached ?? 0;
  if (c.refMissesByTier && cached + c.refMissesByTier.reduce((a, b) => a + b, 0) === c.walkRefs) {
    walks += cached * lat.walkRefLlc;
    c.refMissesByTier.forEach((n, t) => (walks += n * nsToCycles(tierAt(tiers, t).loadRandomNs, f)));
  } else {
    // no line cache: every reference is charged as a miss to its table page's tier
    c.refsByTier.forEach((n, t) => (walks += n * nsToCycles(tierAt(tiers, t).loadRandomNs, f)));
  }
  let data = 0;
  // data lines were modelled when the line cache counted some, or there was no data access
  // (a successful access touches at least one line); else each access is one miss
  const lines = (c.dataLineHits ?? []).reduce((a, b) => a + b, 0) + (c.dataLineMisses ?? []).reduce((a, row) => a + row[0] + row[1] + row[2], 0);
  const haveLines = c.dataLineMisses !== undefined && (lines > 0 || c.data.every((row) => row[0] + row[1] + row[2] === 0));
  const rows = haveLines ? c.dataLineMisses! : c.data;
  rows.forEach((byKind, t) => {
    const tier = tierAt(tiers, t);
    const load = nsToCycles(tier.loadRandomNs, f);
    const store = nsToCycles(tier.storeNs, f);
    const rmw = tier.accessBytes > 64;
    data += (byKind[0] + byKind[1]) * load + byKind[2] * (rmw ? load + store : store);
  });
  if (haveLines) {
    data += (c.dataLineHits ?? [0, 0, 0]).reduce((a, b) => a + b, 0) * lat.walkRefLlc;
    (c.writebacks ?? []).forEach((n, t) => (data += n * nsToCycles(tierAt(tiers, t).storeNs, f)));
  }
  return { tlb, walks, data };
}

/** Cycles of the host-side events counted in `c`: guest page faults and EPT violations. */
export function faultCycles(c: Counters, cpu: CpuPreset, guestFaultWork: number, eptFaultWork: number): number {
  const guest = c.pageFaults * (cpu.costs.pageFaultUnikernel + guestFaultWork);
  const ept = c.eptViolations * (cpu.costs.vmExitRoundTrip + eptFaultWork);
  return guest + ept;
}

export interface Throughput {
  cycles: number;
  seconds: number;
  opsPerSecond: number;
  breakdown: CycleBreakdown;
}

/** Operations per second for `ops` operations costing `b` cycles in all. */
export function throughput(ops: number, b: CycleBreakdown, cpu: CpuPreset): Throughput {
  const cycles = totalCycles(b);
  const seconds = cycles / cpu.frequencyHz;
  return { cycles, seconds, opsPerSecond: seconds > 0 ? ops / seconds : 0, breakdown: b };
}
