/**
 * `unimmu sweep FILE`: runs a parameter grid over a base scenario on worker threads,
 * with a progress bar, and writes one results table (and with --out, JSON, CSV and an
 * HTML report with a chart per figure).
 */
import type { Command } from "commander";
import { parseSweep, runSweep, sweepTable, type SweepReport } from "../sim/sweep.js";
import { formatTable } from "../report/table.js";
import { toCsv } from "../report/csv.js";
import { htmlReport, type ReportSection } from "../report/html.js";
import { progress } from "../report/progress.js";
import type { CliIo } from "./program.js";
import { checkOutDir, writeOutDir } from "./out-dir.js";
import { readJsonFile } from "./json-file.js";

function sweepHtml(r: SweepReport): string {
  const { header, rows } = sweepTable(r);
  const paths = Object.keys(r.sweep.grid);
  const x = paths[0];
  const labels = r.sweep.grid[x].map((v) => (typeof v === "object" ? JSON.stringify(v) : String(v)));
  // one line per (other parameters, workload, config), over the first parameter's values
  const lines = new Map<string, (number | null)[]>();
  const series = (metric: "tlbMissRate" | "walkRefs" | "throughputOpsPerSecond" | "memoryBytes") => {
    lines.clear();
    for (const row of r.rows) {
      if ("error" in row) continue; // a run that did not fit: a gap in its line
      const rest = paths.slice(1).map((p) => `${p}=${JSON.stringify(row.params[p])}`);
      const key = [...rest, row.result.workload, row.result.config].join(" ");
      if (!lines.has(key)) lines.set(key, labels.map(() => null));
      lines.get(key)![labels.indexOf(typeof row.params[x] === "object" ? JSON.stringify(row.params[x]) : String(row.params[x]))] = row.result[metric];
    }
    return [...lines].map(([name, values]) => ({ name, values }));
  };
  const sections: ReportSection[] = [
    { title: "TLB miss rate", chart: { kind: "line", labels, series: series("tlbMissRate"), xLabel: x, yLabel: "STLB misses per request" } },
    { title: "Throughput", chart: { kind: "line", labels, series: series("throughputOpsPerSecond"), xLabel: x, yLabel: "operations per second" } },
    { title: "Memory", chart: { kind: "line", labels, series: series("memoryBytes"), xLabel: x, yLabel: "host bytes" } },
    { title: "All runs", table: { header, rows, csvName: "sweep.csv" } },
  ];
  const failed = r.sweep.failed ? `, ${r.sweep.failed} did not fit (the table says why)` : "";
  return htmlReport({ title: "unimmu: sweep", subtitle: `${r.sweep.cells} cells, ${r.sweep.jobs} runs${failed}`, sections });
}

export function registerSweep(program: Command, io: CliIo, intOption: (min: number, max: number) => (v: string) => number): void {
  program
    .command("sweep")
    .description("Run a parameter grid over a base scenario on worker threads and write one results table. FILE: { base: <scenario>, grid: { <path>: [values] } }.")
    .argument("<file>", "the sweep file (JSON)")
    .option("--json", "print one JSON object instead of a table")
    .option("--out <dir>", "also write report.json, report.csv and report.html to this directory")
    .option("--threads <n>", "worker threads (default: the machine's cores)", intOption(1, 256))
    .exitOverride()
    .action(async (file: string, o: { json?: boolean; out?: string; threads?: number }) => {
      const json = await readJsonFile("sweep", file);
      const spec = parseSweep(json);
      if (o.out !== undefined) await checkOutDir(o.out);
      const bar = progress({ total: 0, label: "sweep", unit: "runs", stream: io.errIsTty ? process.stderr : { write: () => true } });
      let r: SweepReport;
      try {
        r = await runSweep(spec, { threads: o.threads, onProgress: (d, t) => (bar.setTotal(t), bar.update(d)) });
      } finally {
        bar.stop();
      }
      const { header, rows } = sweepTable(r);
      const json2 = JSON.stringify(r);
      if (o.out) await writeOutDir(o.out, { "report.json": `${json2}\n`, "report.csv": toCsv(header, rows), "report.html": sweepHtml(r) });
      const fmt = (v: string | number): string => (typeof v === "number" ? (Number.isInteger(v) ? v.toLocaleString("en-US") : v.toFixed(5)) : v);
      io.out(o.json ? `${json2}\n` : `${formatTable(header, rows.map((row) => row.map(fmt)))}\n`);
      if (r.sweep.failed) io.err(`unimmu: note: ${r.sweep.failed} of ${r.sweep.jobs} runs did not fit their configuration; their rows say why\n`);
    });
}
