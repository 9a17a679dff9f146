/**
 * The paper scenario's reports: the terminal table, CSV, a self-contained HTML report
 * with plots, and a Chrome trace-event (Perfetto) timeline of the simulated runs.
 *
 * @example
 * const r = await runPaper({ size: "quick" });
 * console.log(paperText(r));
 * writeFileSync("report.html", paperHtml(r));
 */
import type { PaperReport, Claim } from "../sim/paper.js";
import type { JobResult } from "../sim/jobs.js";
import { formatIsoUnik, type IsoUnikResult } from "../cli/iso-unik.js";
import { formatTable } from "./table.js";
import { toCsv, type CsvCell } from "./csv.js";
import { htmlReport, type ReportSection } from "./html.js";
import { ChromeTrace } from "./perfetto.js";
import { cpuPreset } from "../cost/cpus.js";

const MiB = 2 ** 20;

function pct(x: number): string {
  return `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)}%`;
}

function claimValue(c: Claim, v: number): string {
  return c.unit === "change" ? pct(v) : c.unit === "cycles" ? `${v.toFixed(0)} cycles` : `${v.toFixed(1)} us`;
}

function claimDiff(c: Claim): string {
  if (c.unit === "change") return `${c.difference >= 0 ? "+" : ""}${(c.difference * 100).toFixed(1)} points`;
  return `${c.difference >= 0 ? "+" : ""}${c.difference.toFixed(c.unit === "us" ? 1 : 0)} ${c.unit === "us" ? "us" : "cycles"}`;
}

/** The rows of the UCat comparison: one per workload and configuration. */
export function ucatRows(r: PaperReport): { header: string[]; rows: CsvCell[][] } {
  const tiers = Object.keys(Object.values(Object.values(r.ucat)[0] ?? {})[0]?.memoryBytesByTier ?? {});
  const header = [
    "workload",
    "config",
    "memoryBytes",
    ...tiers.map((t) => `memoryBytes.${t}`),
    "fragmentationBytes",
    "pageTableBytes",
    "requests",
    "tlbMissRate",
    "walkRefs",
    "operations",
    "throughputOpsPerSecond",
  ];
  const rows: CsvCell[][] = [];
  for (const [w, byConfig] of Object.entries(r.ucat)) {
    for (const [c, x] of Object.entries(byConfig)) {
      rows.push([w, c, x.memoryBytes, ...tiers.map((t) => x.memoryBytesByTier[t]), x.fragmentationBytes, x.pageTableBytes, x.requests, x.tlbMissRate, x.walkRefs, x.operations, x.throughputOpsPerSecond]);
    }
  }
  return { header, rows };
}

export function paperCsv(r: PaperReport): string {
  const { header, rows } = ucatRows(r);
  return toCsv(header, rows);
}

/** The table printed by `unimmu run`. */
export function paperText(r: PaperReport): string {
  const out: string[] = [];
  out.push(`UCat against the OSv baseline (size ${r.size}, seed ${r.seed}): one VM each, 1 GiB DRAM + 3 GiB NVM`);
  const rows: string[][] = [];
  for (const [w, x] of Object.entries(r.ucat)) {
    const o = x.osv;
    const u = x.ucat;
    if (!o || !u) continue;
    const ch = (a: number, b: number): string => (a > 0 ? pct(b / a - 1) : "");
    rows.push([
      w,
      `${(o.memoryBytes / MiB).toFixed(1)} / ${(u.memoryBytes / MiB).toFixed(1)}`,
      ch(o.memoryBytes, u.memoryBytes),
      `${(o.tlbMissRate * 100).toFixed(3)}% / ${(u.tlbMissRate * 100).toFixed(3)}%`,
      `${(o.walkRefs / Math.max(1, o.requests)).toFixed(3)} / ${(u.walkRefs / Math.max(1, u.requests)).toFixed(3)}`,
      `${Math.round(o.throughputOpsPerSecond).toLocaleString("en-US")} / ${Math.round(u.throughputOpsPerSecond).toLocaleString("en-US")}`,
      ch(o.throughputOpsPerSecond, u.throughputOpsPerSecond),
    ]);
  }
  out.push(formatTable(["workload", "memory MiB osv / ucat", "change", "TLB miss rate osv / ucat", "walk refs per request", "ops/s osv / ucat", "change"], rows, ["l", "r", "r", "r", "r", "r", "r"]));
  out.push("");
  out.push("Simulated against published");
  out.push(
    formatTable(
      ["figure", "paper", "simulated", "difference", "how"],
      r.claims.map((c) => [c.metric, claimValue(c, c.paper), claimValue(c, c.simulated), claimDiff(c), c.how]),
      ["l", "r", "r", "r", "l"],
    ),
  );
  out.push("");
  out.push(formatIsoUnik(r.isoUnik));
  out.push("");
  out.push("Where and why the simulated figures differ from the papers: docs/validation.md.");
  return out.join("\n");
}

function perWorkload(r: PaperReport, f: (x: JobResult) => number): { labels: string[]; series: { name: string; values: number[] }[] } {
  const labels = Object.keys(r.ucat);
  const configs = ["osv", "ucat"];
  return { labels, series: configs.map((c) => ({ name: c, values: labels.map((w) => (r.ucat[w][c] ? f(r.ucat[w][c]) : 0)) })) };
}

/** The Iso-UniK sections of a report: system calls, fork, their breakdowns. */
export function isoUnikSections(isoUnik: IsoUnikResult): ReportSection[] {
  const iso = isoUnik.designs;
  const designs = Object.keys(iso) as (keyof typeof iso)[];
  return [
    {
      title: "Iso-UniK: system calls and fork",
      text: "System-call cost and lmbench fork+exit+wait of the default parent for each process design.",
      charts: [
        { kind: "bar", title: "System call", labels: designs, series: [{ name: "cycles", values: designs.map((d) => iso[d]!.syscallCycles) }], yLabel: "cycles", logY: true },
        { kind: "bar", title: "fork+exit+wait", labels: designs, series: [{ name: "microseconds", values: designs.map((d) => iso[d]!.forkMicroseconds) }], yLabel: "us", logY: true },
        {
          kind: "line",
          title: "fork time by parent size",
          labels: iso[designs[0]]!.forkScaling.map((s) => s.parentBytes / MiB),
          series: designs.map((d) => ({ name: d, values: iso[d]!.forkScaling.map((s) => s.microseconds) })),
          xLabel: "parent MiB",
          yLabel: "us",
          xScale: "log",
          logY: true,
        },
      ],
    },
    {
      title: "Iso-UniK: the breakdowns",
      charts: designs.map((d) => {
        const steps = Object.entries(iso[d]!.syscallBreakdown);
        return { kind: "stacked" as const, title: `${d}: system call`, labels: ["syscall"], series: steps.map(([k, s]) => ({ name: k, values: [s.cycles] })), yLabel: "cycles", horizontal: true, height: 160 };
      }),
      table: {
        header: ["design", "syscall cycles", "fork us", "fork call us", "Apache req/s", "isolation faults"],
        rows: designs.map((d) => [d, iso[d]!.syscallCycles, iso[d]!.forkMicroseconds, iso[d]!.forkCallMicroseconds, iso[d]!.apacheRequestsPerSecond, iso[d]!.isolationFaults]),
        csvName: "iso-unik.csv",
      },
    },
  ];
}

export function paperHtml(r: PaperReport, footer?: string): string {
  const { header, rows } = ucatRows(r);
  const tiers = Object.keys(Object.values(Object.values(r.ucat)[0] ?? {})[0]?.memoryBytesByTier ?? {});
  const runs = Object.entries(r.ucat).flatMap(([w, x]) => Object.entries(x).map(([c, v]) => ({ label: `${w} ${c}`, v })));
  const parts = ["tlb", "walks", "data", "faults", "compute", "other"] as const;
  const sections: ReportSection[] = [
    {
      title: "Simulated against published",
      text: "Each simulated figure beside the claim of the paper it reproduces. The model is calibrated from sources, not tuned to these claims; docs/validation.md explains the differences.",
      table: {
        header: ["figure", "paper", "simulated", "difference", "how", "source"],
        rows: r.claims.map((c) => [c.metric, claimValue(c, c.paper), claimValue(c, c.simulated), claimDiff(c), c.how, c.source]),
        csvName: "claims.csv",
      },
    },
    {
      title: "TLB miss rate and walk references",
      text: "Misses of the last TLB level per translation request, and page-walk references per request (2D walks: up to 24 references each).",
      charts: [
        { kind: "bar", title: "TLB miss rate", ...perWorkload(r, (x) => x.tlbMissRate), yLabel: "STLB misses per request" },
        { kind: "bar", title: "Walk references per request", ...perWorkload(r, (x) => x.walkRefs / Math.max(1, x.requests)), yLabel: "references per request" },
      ],
    },
    {
      title: "Memory by tier",
      text: "Host memory each VM holds (backing frames and EPT table pages), by tier.",
      chart: {
        kind: "stacked",
        labels: runs.map((x) => x.label),
        series: tiers.map((t) => ({ name: t, values: runs.map((x) => x.v.memoryBytesByTier[t] / MiB) })),
        yLabel: "MiB",
        horizontal: true,
        height: 420,
      },
    },
    {
      title: "Throughput",
      text: "Operations per second from the cycle model at the CPU preset's frequency.",
      chart: { kind: "bar", ...perWorkload(r, (x) => x.throughputOpsPerSecond), yLabel: "operations per second" },
    },
    {
      title: "Where the cycles go",
      text: "Cycles per operation by part of the cycle model.",
      chart: {
        kind: "stacked",
        labels: runs.map((x) => x.label),
        series: parts.map((p) => ({ name: p, values: runs.map((x) => x.v.cycles[p] / Math.max(1, x.v.operations)) })),
        yLabel: "cycles per operation",
        horizontal: true,
        height: 420,
      },
    },
    {
      title: "All runs",
      table: { header, rows, csvName: "report.csv" },
    },
    ...isoUnikSections(r.isoUnik),
  ];
  return htmlReport({ title: "unimmu: the paper scenario", subtitle: `UCat and Iso-UniK, size ${r.size}, seed ${r.seed}`, sections, footer });
}

/**
 * A Perfetto / chrome://tracing timeline: one process per run (workload and
 * configuration) whose slices are the parts of its simulated time, and one for each
 * Iso-UniK design with its system call and fork broken into their steps.
 */
export function paperTrace(r: PaperReport): string {
  const t = new ChromeTrace({ metadata: { scenario: "paper", size: r.size, seed: r.seed } });
  let pid = 1;
  for (const [w, x] of Object.entries(r.ucat)) {
    for (const [c, v] of Object.entries(x)) {
      t.processName(pid, `${w} on ${c}`);
      t.threadName(pid, 0, "vCPU 0");
      const seconds = v.throughputOpsPerSecond > 0 ? v.operations / v.throughputOpsPerSecond : 0;
      const us = seconds * 1e6;
      const total = Object.values(v.cycles).reduce((a, b) => a + b, 0) || 1;
      t.complete({ name: "run", cat: "run", pid, tid: 0, ts: 0, dur: us, args: { operations: v.operations, opsPerSecond: v.throughputOpsPerSecond } });
      let at = 0;
      for (const [part, cycles] of Object.entries(v.cycles)) {
        const dur = (cycles / total) * us;
        if (dur > 0) t.complete({ name: part, cat: "cycles", pid, tid: 0, ts: at, dur, args: { cycles } });
        at += dur;
      }
      t.counter({ name: "memory", pid, ts: 0, values: Object.fromEntries(Object.entries(v.memoryBytesByTier).map(([k, b]) => [k, b])) });
      t.counter({ name: "walks", pid, ts: 0, values: { walks: v.walks, stlbMisses: v.stlbMisses, walkRefs: v.walkRefs } });
      pid++;
    }
  }
  addIsoUnik(t, r.isoUnik, pid);
  return t.toString();
}

/** A timeline of the Iso-UniK scenario alone. */
export function isoUnikTrace(iso: IsoUnikResult): string {
  const t = new ChromeTrace({ metadata: { scenario: "iso-unik", seed: iso.scenario.seed } });
  addIsoUnik(t, iso, 1);
  return t.toString();
}

function addIsoUnik(t: ChromeTrace, iso: IsoUnikResult, firstPid: number): void {
  const cpuHz = cpuPreset(iso.scenario.cpu).frequencyHz;
  let pid = firstPid;
  for (const [d, x] of Object.entries(iso.designs)) {
    if (!x) continue;
    t.processName(pid, `iso-unik: ${d}`);
    t.threadName(pid, 0, "system call");
    t.threadName(pid, 1, "fork");
    let at = 0;
    for (const [k, s] of Object.entries(x.syscallBreakdown)) {
      const dur = (s.cycles / cpuHz) * 1e6;
      t.complete({ name: k, cat: "gate", pid, tid: 0, ts: at, dur, args: { count: s.count, unitCycles: s.unitCycles, cycles: s.cycles } });
      at += dur;
    }
    at = 0;
    for (const [k, s] of Object.entries(x.forkBreakdown.steps)) {
      const dur = (s.cycles / cpuHz) * 1e6;
      t.complete({ name: k, cat: "fork", pid, tid: 1, ts: at, dur, args: { count: s.count, unitCycles: s.unitCycles, cycles: s.cycles } });
      at += dur;
    }
    for (const f of x.isolationFaultDetails.slice(0, 100)) {
      t.instant({ name: "isolation fault", cat: "fault", pid, tid: 0, ts: at, args: JSON.parse(JSON.stringify(f)) });
    }
    pid++;
  }
}
