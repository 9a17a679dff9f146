/**
 * The reports of `unimmu compare --out DIR`: a CSV with a row per configuration and a
 * self-contained HTML page (memory by tier, TLB misses and walk references, throughput,
 * and the figures side by side). report.json is the `--json` object itself.
 *
 * @example
 * const r = await runCompare(["osv", "ucat"], { workload: "ycsb-a", size: "quick" });
 * writeFileSync("report.csv", compareCsv(r));
 * writeFileSync("report.html", compareHtml(r, "unimmu compare osv ucat --workload ycsb-a --size quick"));
 */
import type { CompareResult } from "../cli/compare.js";
import { toCsv } from "./csv.js";
import { htmlReport } from "./html.js";

const MiB = 2 ** 20;

/** The tiers of the host, as the first configuration reports them (every configuration has the same host). */
function tiersOf(r: CompareResult): string[] {
  return Object.keys(Object.values(r.configs)[0]!.memoryBytesByTier);
}

/** A row per configuration, in the order given: its figures as numbers (bytes, counts, rates). */
export function compareCsv(r: CompareResult): string {
  const tiers = tiersOf(r);
  const header = [
    "config", "workload", "seed", "memoryBytes", ...tiers.map((t) => `memoryBytes.${t}`), "requestedBytes", "allocatedBytes", "heldBytes",
    "fragmentationBytes", "internalFragmentationBytes", "pageTableBytes", "guestTablePages", "eptTablePages", "requests", "tlbMissRate",
    "walks", "walkRefs", ...tiers.map((t) => `walkRefs.${t}`), "operations", "throughputOpsPerSecond",
  ];
  const rows = Object.entries(r.configs).map(([name, e]) => [
    name, r.workload, r.seed, e.memoryBytes, ...tiers.map((t) => e.memoryBytesByTier[t] ?? 0), e.requestedBytes, e.allocatedBytes, e.heldBytes,
    e.fragmentationBytes, e.internalFragmentationBytes, e.pageTableBytes, e.guestTablePages, e.eptTablePages, e.requests, e.tlbMissRate,
    e.walks, e.walkRefs, ...tiers.map((t) => e.walkRefsByTier[t] ?? 0), e.operations, e.throughputOpsPerSecond,
  ]);
  return toCsv(header, rows);
}

/** The HTML page; `command` is shown under the title (how to make it again). */
export function compareHtml(r: CompareResult, command: string): string {
  const names = Object.keys(r.configs);
  const es = names.map((n) => r.configs[n]!);
  const tiers = tiersOf(r);
  return htmlReport({
    title: `unimmu: compare on ${r.workload}`,
    subtitle: command,
    sections: [
      {
        title: "Configurations",
        text: names.map((n, i) => `${n}: ${es[i]!.description}`),
      },
      {
        title: "Memory by tier",
        text: "Host memory each VM holds (backing frames and EPT table pages), by tier.",
        chart: { kind: "stacked", labels: names, series: tiers.map((t) => ({ name: t, values: es.map((e) => (e.memoryBytesByTier[t] ?? 0) / MiB) })), yLabel: "MiB" },
      },
      {
        title: "Translation",
        text: "Misses of the last TLB level per translation request, and page-walk references per request.",
        charts: [
          { kind: "bar", title: "TLB miss rate", labels: names, series: [{ name: "STLB misses per request", values: es.map((e) => e.tlbMissRate) }], yLabel: "STLB misses per request" },
          { kind: "bar", title: "Walk references per request", labels: names, series: [{ name: "references per request", values: es.map((e) => e.walkRefs / Math.max(1, e.requests)) }], yLabel: "references per request" },
        ],
      },
      {
        title: "Throughput",
        text: "Operations per second from the cycle model at the CPU preset's frequency.",
        chart: { kind: "bar", labels: names, series: [{ name: "operations per second", values: es.map((e) => e.throughputOpsPerSecond) }], yLabel: "operations per second" },
      },
      {
        title: "All figures",
        table: {
          header: ["figure", ...names],
          rows: [
            ["memory (MiB)", ...es.map((e) => +(e.memoryBytes / MiB).toFixed(2))],
            ...tiers.map((t) => [`  in ${t} (MiB)`, ...es.map((e) => +((e.memoryBytesByTier[t] ?? 0) / MiB).toFixed(2))]),
            ["requested by the app (MiB)", ...es.map((e) => +(e.requestedBytes / MiB).toFixed(2))],
            ["fragmentation (MiB)", ...es.map((e) => +(e.fragmentationBytes / MiB).toFixed(2))],
            ["page tables (guest + EPT pages)", ...es.map((e) => e.guestTablePages + e.eptTablePages)],
            ["translation requests", ...es.map((e) => e.requests)],
            ["TLB miss rate", ...es.map((e) => e.tlbMissRate)],
            ["walks", ...es.map((e) => e.walks)],
            ["walk references", ...es.map((e) => e.walkRefs)],
            ["operations", ...es.map((e) => e.operations)],
            ["throughput (ops/s)", ...es.map((e) => Math.round(e.throughputOpsPerSecond))],
          ],
          csvName: "compare.csv",
        },
      },
    ],
  });
}
