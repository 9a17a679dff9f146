/**
 * `unimmu run [scenario]`: the paper scenario (default), the Iso-UniK scenario, the
 * translation demo, or a scenario file; prints tables or JSON, and with `--out DIR`
 * writes report.json, report.csv, report.html and trace.json there. A malformed
 * scenario fails before anything runs, and nothing is written.
 */
import { join } from "node:path";
import { runPaper, type PaperSize } from "../sim/paper.js";
import { cpuLabel, parseScenario, runScenario, type ScenarioReport } from "../sim/scenario.js";
import { runIsoUnik, formatIsoUnik } from "./iso-unik.js";
import { formatScenario, runDefaultScenario, SCENARIO_DEFAULTS } from "./default-scenario.js";
import { isoUnikSections, isoUnikTrace, paperCsv, paperHtml, paperText, paperTrace } from "../report/paper.js";
import { toCsv } from "../report/csv.js";
import { htmlReport } from "../report/html.js";
import { formatTable } from "../report/table.js";
import { ChromeTrace } from "../report/perfetto.js";
import { progress } from "../report/progress.js";
import { checkOutDir, writeOutDir } from "./out-dir.js";
import { readJsonFile } from "./json-file.js";
import type { CliIo } from "./program.js";

export interface RunOptions {
  json?: boolean;
  out?: string;
  /** When absent: the scenario's own seed (1 for the built-in ones). */
  seed?: number;
  size: PaperSize;
  threads?: number;
  requests: number;
  pages: number;
}

interface Outputs {
  json: string;
  text: string;
  csv: string;
  html: string;
  trace: string;
}

/** The reports of a scenario file's run. */
function scenarioOutputs(r: ScenarioReport): Outputs {
  const header = ["workload", "config", "memoryBytes", "fragmentationBytes", "pageTableBytes", "requests", "tlbMissRate", "walkRefs", "operations", "throughputOpsPerSecond"];
  const rows = Object.entries(r.results).flatMap(([w, x]) =>
    Object.entries(x).map(([c, v]) => [w, c, v.memoryBytes, v.fragmentationBytes, v.pageTableBytes, v.requests, v.tlbMissRate, v.walkRefs, v.operations, v.throughputOpsPerSecond]),
  );
  const text = formatTable(header, rows.map((row) => row.map((v) => (typeof v === "number" ? (Number.isInteger(v) ? v.toLocaleString("en-US") : v.toFixed(5)) : String(v)))), ["l", "l", "r", "r", "r", "r", "r", "r", "r", "r"]);
  const configs = [...new Set(Object.values(r.results).flatMap((x) => Object.keys(x)))];
  // a workload's figure on configuration c, or a gap; own properties only, so that any name works ("constructor" too)
  const figure = (c: string, key: "tlbMissRate" | "throughputOpsPerSecond"): (number | null)[] =>
    Object.values(r.results).map((x) => (Object.hasOwn(x, c) ? x[c]![key] : null));
  const html = htmlReport({
    title: `unimmu: ${r.scenario}`,
    subtitle: `seed ${r.seed}, cpu ${cpuLabel(r.cpu)}, line cache ${r.lineCache}${r.lineSampling ? ` (1 set in ${r.lineSampling} sampled: line counts estimated)` : ""}`,
    sections: [
      {
        title: "TLB miss rate",
        chart: {
          kind: "bar",
          labels: Object.keys(r.results),
          series: configs.map((c) => ({ name: c, values: figure(c, "tlbMissRate") })),
          yLabel: "STLB misses per request",
        },
      },
      {
        title: "Throughput",
        chart: {
          kind: "bar",
          labels: Object.keys(r.results),
          series: configs.map((c) => ({ name: c, values: figure(c, "throughputOpsPerSecond") })),
          yLabel: "operations per second",
        },
      },
      { title: "All runs", table: { header, rows, csvName: "report.csv" } },
    ],
  });
  const t = new ChromeTrace({ metadata: { scenario: r.scenario, seed: r.seed } });
  let pid = 1;
  for (const [w, x] of Object.entries(r.results)) {
    for (const [c, v] of Object.entries(x)) {
      t.processName(pid, `${w} on ${c}`);
      const us = v.throughputOpsPerSecond > 0 ? (v.operations / v.throughputOpsPerSecond) * 1e6 : 0;
      const total = Object.values(v.cycles).reduce((a, b) => a + b, 0) || 1;
      let at = 0;
      for (const [part, cycles] of Object.entries(v.cycles)) {
        const dur = (cycles / total) * us;
        if (dur > 0) t.complete({ name: part, cat: "cycles", pid, ts: at, dur, args: { cycles } });
        at += dur;
      }
      pid++;
    }
  }
  return { json: JSON.stringify(r), text, csv: toCsv(header, rows), html, trace: t.toString() };
}

async function writeOutputs(dir: string, o: Outputs): Promise<void> {
  await writeOutDir(dir, { "report.json": `${o.json}\n`, "report.csv": o.csv, "report.html": o.html, "trace.json": o.trace });
}

export async function runScenarioCommand(scenario: string, o: RunOptions, io: CliIo): Promise<void> {
  let out: Outputs;
  const bar = (label: string) => progress({ total: 0, label, unit: "runs", stream: io.errIsTty ? process.stderr : { write: () => true } });
  if (o.out !== undefined) {
    await checkOutDir(o.out);
  }
  if (scenario === "translation") {
    const r = await runDefaultScenario({ seed: o.seed ?? SCENARIO_DEFAULTS.seed, requests: o.requests, pages: o.pages });
    io.out(o.json ? `${JSON.stringify(r)}\n` : `${formatScenario(r)}\n`);
    return;
  }
  if (scenario === "iso-unik") {
    const r = await runIsoUnik({ seed: o.seed ?? 1 });
    const header = ["design", "syscallCycles", "forkMicroseconds", "forkCallMicroseconds", "apacheRequestsPerSecond", "isolationFaults"];
    const rows = Object.entries(r.designs).map(([d, x]) => [d, x!.syscallCycles, x!.forkMicroseconds, x!.forkCallMicroseconds, x!.apacheRequestsPerSecond, x!.isolationFaults]);
    out = {
      json: JSON.stringify(r),
      text: formatIsoUnik(r),
      csv: toCsv(header, rows),
      html: htmlReport({ title: "unimmu: Iso-UniK", subtitle: `seed ${r.scenario.seed}, cpu ${r.scenario.cpu}`, sections: isoUnikSections(r) }),
      trace: isoUnikTrace(r),
    };
    if (o.out) await writeOutputs(o.out, out);
  } else if (scenario === "paper") {
    const p = bar("paper");
    let r;
    try {
      r = await runPaper({ size: o.size, seed: o.seed ?? 1, threads: o.threads, onProgress: (d, t) => (p.setTotal(t), p.update(d)) });
    } finally {
      p.stop();
    }
    out = { json: JSON.stringify(r), text: paperText(r), csv: paperCsv(r), html: paperHtml(r, `unimmu run paper --size ${o.size} --seed ${r.seed}`), trace: paperTrace(r) };
    if (o.out) await writeOutputs(o.out, out);
  } else {
    // a scenario file: read and validated before anything runs
    const json = await readJsonFile("scenario", scenario, " (or an unknown scenario name: expected paper, iso-unik, translation or a .json file)");
    const s = parseScenario(json);
    const p = bar(s.name);
    let r;
    try {
      r = await runScenario({ ...s, seed: o.seed ?? s.seed }, { threads: o.threads, onProgress: (d, t) => (p.setTotal(t), p.update(d)) });
    } finally {
      p.stop();
    }
    out = scenarioOutputs(r);
    if (o.out) await writeOutputs(o.out, out);
  }
  io.out(o.json ? `${out.json}\n` : `${out.text}\n`);
  if (o.out && !o.json) io.out(`reports written to ${o.out}: report.json, report.csv, report.html, trace.json\n`);
}
