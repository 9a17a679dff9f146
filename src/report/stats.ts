/**
 * Translation statistics: the six counts of the conformance model (REFERENCE.md
 * section 9) and the full counters of the default model (docs/core.md section 8), as
 * plain objects for JSON and as labelled rows with ratios for the terminal.
 *
 * @example
 * const s = fullStats(core.counters(0));
 * console.log(formatStats(s));
 * // statistic        count  ratio
 * // requests      1 000 000
 * // L1 TLB hits     987 654  98.77% of attempts
 * // ...
 */
import type { Counters } from "../core/types.js";
import { formatTable, groupDigits } from "./table.js";

/** The counts every model reports (REFERENCE.md section 9); `l2Hits` is the STLB's. */
export interface BasicStats {
  /** Page accesses (a range that crosses 4 KiB pages counts once per page). */
  requests: number;
  l1Hits: number;
  /** STLB hits. */
  l2Hits: number;
  walks: number;
  walkRefs: number;
  faults: number;
}

/**
 * Everything the core counts, with the basic counts first under their basic names
 * (`stlbHits` becomes `l2Hits`; its split by page size stays), plus the pages a
 * demand-mapping host mapped, when there is one.
 */
export type FullStats = BasicStats & Omit<Counters, keyof BasicStats | "stlbHits"> & { demandMaps?: number };

/**
 * The six basic counts of a core's counters.
 *
 * @example
 * basicStats(core.counters(0)); // { requests, l1Hits, l2Hits, walks, walkRefs, faults }
 */
export function basicStats(c: Counters): BasicStats {
  return { requests: c.requests, l1Hits: c.l1Hits, l2Hits: c.stlbHits, walks: c.walks, walkRefs: c.walkRefs, faults: c.faults };
}

/**
 * All counters, basic counts first (a stable key order, so JSON output is stable).
 *
 * @example
 * JSON.stringify(fullStats(core.counters(0)));
 */
export function fullStats(c: Counters, extra: { demandMaps?: number } = {}): FullStats {
  const { requests, l1Hits, stlbHits, walks, walkRefs, faults, ...rest } = c;
  return {
    requests,
    l1Hits,
    l2Hits: stlbHits,
    walks,
    walkRefs,
    faults,
    ...rest,
    requestsByKind: [...rest.requestsByKind],
    refsByTier: [...rest.refsByTier],
    pwcHits: [...rest.pwcHits],
    data: rest.data.map((d) => [...d]),
    ...(extra.demandMaps === undefined ? {} : { demandMaps: extra.demandMaps }),
  };
}

/** True when `s` carries the full counters (not only the six basic counts). */
export function isFullStats(s: BasicStats | FullStats): s is FullStats {
  return "retries" in s;
}

/** One line of a statistics table: a label, a count and a ratio (or ""). */
export interface StatRow {
  label: string;
  count: number;
  ratio: string;
}

function pct(a: number, b: number, of: string): string {
  return b > 0 ? `${((100 * a) / b).toFixed(2)}% of ${of}` : "";
}

function per(a: number, b: number, unit: string, scale = 1): string {
  return b > 0 ? `${((scale * a) / b).toFixed(2)} ${unit}` : "";
}

const KIND_LABELS = ["fetches", "reads", "writes"] as const;

/**
 * The statistics as labelled rows with ratios: L1 hit rate, STLB hit rate over L1
 * misses, walks per 1000 requests, references per walk, and (with the full counters)
 * the split by structure and kind, walk-cache and nested-TLB hit rates, fault kinds and
 * accessed/dirty updates. Rows of the full counters that are zero and carry no
 * information for this run (tiers, 1 GiB pages) are left out.
 *
 * @example
 * const rows = statRows({ requests: 10, l1Hits: 6, l2Hits: 1, walks: 3, walkRefs: 72, faults: 3 });
 * rows.find((r) => r.label === "page walks");
 * // { label: "page walks", count: 3, ratio: "300.00 per 1000 requests" }
 */
export function statRows(s: BasicStats | FullStats): StatRow[] {
  const full = isFullStats(s) ? s : null;
  const attempts = s.requests + (full?.retries ?? 0);
  const l1Misses = attempts - s.l1Hits;
  const rows: StatRow[] = [];
  const row = (label: string, count: number, ratio = ""): void => {
    rows.push({ label, count, ratio });
  };

  row("requests (page accesses)", s.requests);
  if (full) {
    full.requestsByKind.forEach((n, k) => row(`  ${KIND_LABELS[k]}`, n, pct(n, s.requests, "requests")));
    row("retries after an event", full.retries, per(full.retries, s.requests, "per 1000 requests", 1000));
  }
  row("L1 TLB hits", s.l1Hits, pct(s.l1Hits, attempts, full ? "attempts" : "requests"));
  if (full) {
    const l1 = [
      ["  ITLB 4K", full.itlb4kHits],
      ["  ITLB 2M", full.itlb2mHits],
      ["  DTLB 4K", full.dtlb4kHits],
      ["  DTLB 2M", full.dtlb2mHits],
      ["  DTLB 1G", full.dtlb1gHits],
    ] as const;
    for (const [label, n] of l1) if (n > 0 || !label.endsWith("1G")) row(label, n, pct(n, s.l1Hits, "L1 hits"));
  }
  row("L1 TLB misses", l1Misses, pct(l1Misses, attempts, full ? "attempts" : "requests"));
  row("STLB (L2) hits", s.l2Hits, pct(s.l2Hits, l1Misses, "L1 misses"));
  if (full) {
    row("  4K entries", full.stlbHits4k, pct(full.stlbHits4k, s.l2Hits, "STLB hits"));
    row("  2M entries", full.stlbHits2m, pct(full.stlbHits2m, s.l2Hits, "STLB hits"));
    if (full.stlbHits1g > 0) row("  1G entries", full.stlbHits1g, pct(full.stlbHits1g, s.l2Hits, "STLB hits"));
  }
  row("page walks", s.walks, per(s.walks, s.requests, "per 1000 requests", 1000));
  row("walk memory references", s.walkRefs, per(s.walkRefs, s.walks, "per walk"));
  if (full) {
    row("  guest page-table entries", full.walkRefsGuest, pct(full.walkRefsGuest, s.walkRefs, "references"));
    row("  EPT entries", full.walkRefsEpt, pct(full.walkRefsEpt, s.walkRefs, "references"));
    const tiers = full.refsByTier.filter((n) => n > 0).length;
    if (tiers > 1) full.refsByTier.forEach((n, t) => n > 0 && row(`  in tier ${t}`, n, pct(n, s.walkRefs, "references")));
    const levels = ["PML4E", "PDPTE", "PDE"] as const;
    full.pwcHits.forEach((n, i) => row(`walk-cache hits (${levels[i]})`, n, pct(n, s.walks, "walks")));
    row("walk-cache misses", full.pwcMisses, pct(full.pwcMisses, s.walks, "walks"));
    const nt = full.ntlbHits + full.ntlbMisses;
    row("nested TLB hits", full.ntlbHits, pct(full.ntlbHits, nt, "lookups"));
    row("nested TLB misses", full.ntlbMisses, pct(full.ntlbMisses, nt, "lookups"));
  }
  row("faults", s.faults, per(s.faults, s.requests, "per 1000 requests", 1000));
  if (full) {
    row("  page faults (not present)", full.pageFaults);
    row("  protection faults", full.protFaults);
    row("  reserved-bit faults", full.rsvdFaults);
    row("  protection-key faults", full.keyFaults);
    row("  EPT violations", full.eptViolations);
    row("  EPT misconfigurations", full.eptMisconfigs);
    if (full.demandMaps !== undefined) row("pages mapped on demand", full.demandMaps);
    row("dirty assists", full.dirtyAssists, pct(full.dirtyAssists, full.requestsByKind[2], "writes"));
    row("guest accessed-bit updates", full.aUpdates);
    row("guest dirty-bit updates", full.dUpdates);
    row("EPT accessed-bit updates", full.eptAUpdates);
    row("EPT dirty-bit updates", full.eptDUpdates);
    const used = full.data.map((d) => d[0] + d[1] + d[2]);
    if (used.filter((n) => n > 0).length > 1) {
      used.forEach((n, t) => n > 0 && row(`accesses to tier ${t}`, n, pct(n, s.requests, "requests")));
    }
  }
  return rows;
}

/**
 * The statistics as a plain-text table (`statistic`, `count`, `ratio`).
 *
 * @example
 * process.stdout.write(formatStats(basicStats(core.counters(0))) + "\n");
 */
export function formatStats(s: BasicStats | FullStats): string {
  const rows = statRows(s).map((r) => [r.label, groupDigits(r.count), r.ratio]);
  return formatTable(["statistic", "count", "ratio"], rows, ["l", "r", "l"]);
}
