/**
 * `npm run bench`: the simulator's own speed on this machine. Prints a table, or with
 * `--json` one JSON object. A benchmark, not a test: quote medians of several runs.
 */
import { Command } from "commander";
import { benchTranslation, type TranslationModel } from "./translation.js";
import { benchSlab, type SlabResult } from "./slab.js";
import { benchFrames, type FramesResult } from "./frames.js";
import { benchMemory, type MemoryResult } from "./memory.js";
import { benchEndToEnd, benchModelsOnly, benchSweepSpeedup, e2ePhases, type E2eModelsResult, type E2ePhases, type E2eResult, type SweepSpeedup } from "./e2e.js";
import { benchLackeyParse } from "../workloads/trace/lackey.js";
import { createReferenceCore } from "../../tests/reference/index.js";
import { formatTable } from "../report/table.js";

const program = new Command("unimmu-bench")
  .description("measure the simulator's speed (medians of several runs)")
  .option("--json", "print one JSON object instead of tables")
  .option("--runs <n>", "runs per figure", (v) => parseInt(v, 10), 5)
  .option("--scale <x>", "scale the request counts (e.g. 0.1 for a quick look)", parseFloat, 1)
  .option("--only <parts>", "comma-separated: conformance,default,reference,slab,frames,memory,parse,e2e,sweep", "conformance,default,reference,slab,frames,memory,parse,e2e,sweep")
  .option("--streams <names>", "comma-separated translation streams: hit,stlb,walk", "hit,stlb,walk")
  .option("--reference-requests <n>", "requests per reference-model stream", (v) => parseInt(v, 10), 2_000_000);

program.parse();
const o = program.opts<{ json?: boolean; runs: number; scale: number; only: string; streams: string; referenceRequests: number }>();
const only = new Set(o.only.split(","));
const progress = (label: string): void => {
  if (!o.json && process.stderr.isTTY) process.stderr.write(`\r\x1b[K${label}`);
};

const models = (["conformance", "default", "reference"] as TranslationModel[]).filter((m) => only.has(m));
const translation = await benchTranslation({
  runs: o.runs,
  scale: o.scale,
  referenceRequests: o.referenceRequests,
  models,
  streams: o.streams.split(","),
  reference: createReferenceCore,
  onProgress: progress,
});
const result: Record<string, unknown> = {
  machine: { node: process.version, platform: `${process.platform}-${process.arch}` },
  ...translation,
};
if (only.has("slab")) {
  result.slab = await benchSlab({ runs: o.runs, scale: o.scale, onProgress: progress });
}
if (only.has("frames")) {
  progress("host frames");
  result.frames = benchFrames(o.runs);
}
if (only.has("memory")) {
  result.memory = await benchMemory({ scale: o.scale, onProgress: progress });
}
// Whole runs move by up to 20 % on a shared machine: a median of 5 (of --runs) steadies them; a
// warm-up round first, so that the median is of runs a long simulation or a sweep makes (the
// first run's rates are printed apart).
const e2eRuns = Math.min(o.runs, 5);
if (only.has("e2e")) {
  result.endToEnd = await benchEndToEnd(e2eRuns, progress);
  result.endToEndPhases = e2ePhases(result.endToEnd as Record<string, E2eResult>);
  result.modelsOnly = await benchModelsOnly(e2eRuns, progress);
}
if (only.has("sweep")) {
  result.sweep = await benchSweepSpeedup(2, progress);
}
if (only.has("parse")) {
  progress("lackey parse");
  const runs = Array.from({ length: o.runs }, () => benchLackeyParse({ lines: 2_000_000, rounds: 1 }).linesPerSecond);
  runs.sort((a, b) => a - b);
  result.lackeyParse = { linesPerSecond: Math.round(runs[runs.length >> 1]), runs: runs.map(Math.round) };
}
if (!o.json && process.stderr.isTTY) process.stderr.write("\r\x1b[K");

if (o.json) {
  console.log(JSON.stringify(result, null, 2));
} else {
  const rows: string[][] = [];
  for (const m of models) {
    const t = translation[m];
    if (!t) continue;
    for (const [stream, r] of Object.entries(t)) {
      rows.push([m, stream, (r.requestsPerSecond / 1e6).toFixed(1), r.runs.map((x) => (x / 1e6).toFixed(0)).join(" "), String(r.requests)]);
    }
  }
  if (rows.length) {
    console.log("Translation requests per second (median of " + o.runs + " runs, simulation only)");
    console.log(formatTable(["model", "stream", "M req/s", "runs (M/s)", "requests"], rows, ["l", "l", "r", "l", "r"]));
  }
  const sl = result.slab as SlabResult | undefined;
  if (sl) {
    const m = (x: number): string => (x / 1e6).toFixed(1);
    console.log(`\nSlab fast path, ${sl.objectBytes} B objects, batches of ${sl.batch} (median of ${o.runs} runs)`);
    const slRows = Object.entries(sl.cases).map(([name, c]) => [name, m(c.opsPerSecond), m(c.allocsPerSecond), m(c.freesPerSecond), c.runs.map(m).join(" ")]);
    console.log(formatTable(["case", "M ops/s", "M allocs/s", "M frees/s", "runs (M ops/s)"], slRows, ["l", "r", "r", "r", "l"]));
  }
  const fr = result.frames as FramesResult | undefined;
  if (fr) {
    console.log(`\nHost frames: ${fr.frames} 4 KiB frames from a fresh tier, ns a frame (median of ${o.runs} runs): alloc(0) ${fr.allocNs}, allocFrames in runs of ${fr.run} ${fr.allocFramesNs}`);
  }
  const mem = result.memory as MemoryResult | undefined;
  if (mem) {
    const first = mem.osv;
    console.log(`\nSimulator memory: ${first.vms} VMs of ${first.vmBytes / 2 ** 20} MiB, ${first.itemsPerVm} kv values each (bytes per touched 4 KiB page)`);
    const memRows = Object.entries(mem).map(([policy, r]) => [
      policy,
      String(Math.round(r.touchedPages)),
      r.bytesPerTouchedPage.toFixed(1),
      r.marginalBytesPerTouchedPage.toFixed(1),
      r.heapBytesPerTouchedPage.toFixed(1),
      r.jsBytesPerTouchedPage.toFixed(1),
      r.rssBytesPerTouchedPage.toFixed(0),
      r.seconds.toFixed(1),
    ]);
    console.log(formatTable(["policy", "touched pages", "core+allocators", "without fixed", "JS heap", "JS heap+buffers", "RSS", "seconds"], memRows, ["l", "r", "r", "r", "r", "r", "r", "r"]));
    if (!first.gcForced) console.log("(no full GC could be forced: the JS figures include garbage; run with node --expose-gc)");
  }
  const e2e = result.endToEnd as Record<string, E2eResult> | undefined;
  if (e2e) {
    console.log(`\nEnd to end: simulated memory accesses per second of whole runs (wall time, setup included; median of ${e2eRuns} runs after a warm-up round)`);
    const rows2 = Object.entries(e2e).map(([k, r]) => [
      k,
      (r.accessesPerSecond / 1e6).toFixed(2),
      (r.cpuAccessesPerSecond / 1e6).toFixed(2),
      r.mainCpuAccessesPerSecond === undefined ? "-" : (r.mainCpuAccessesPerSecond / 1e6).toFixed(2),
      String(r.accesses),
      r.runs.map((x) => (x / 1e6).toFixed(2)).join(" "),
      (r.firstRunAccessesPerSecond / 1e6).toFixed(2),
      `${Math.round(r.runShare * 100)}%`,
      (r.dataLinesPerSecond / 1e6).toFixed(1),
      r.sameAsExact ? `same, ${r.speedup?.toFixed(2)}x` : r.estimateError === undefined ? "" : `${r.estimateError >= 0 ? "+" : ""}${(r.estimateError * 100).toFixed(2)}%`,
    ]);
    console.log(formatTable(["workload/policy", "M accesses/s", "per CPU-s", "per main CPU-s", "accesses", "runs", "first run", "in core", "M data lines/s", "vs exact"], rows2, ["l", "r", "r", "r", "r", "l", "r", "r", "r", "r"]));
    console.log("(per CPU-s: M accesses per second of the process's CPU time, every thread's: the line thread's, V8's collector's and compiler's;");
    console.log(" first run: the warm-up round's, left out of the median: V8 compiling the row's code, the line thread's start (once a process) and its generator's core;");
    console.log(" per main CPU-s: per second of the main thread's CPU time (Linux only): the models, allocators and translation, which bound every row;");
    console.log(" in core: wall time in the core's runs and their fault handling; the rest is the workload models and allocators;");
    console.log(" thread: the line cache on a worker thread, and YCSB's run phase drawn there too in its spare time (its operations during the load phase), results byte-identical to the exact row's (\"same\"), its rate over the exact row's;");
    console.log(" line-thread: the line thread alone (YCSB's run phase drawn in the main thread's core): the thread row over it is what the generator adds;");
    console.log(" sampled16: 1 line-cache set in 16 modelled, line counts estimated; vs exact: its simulated throughput against the exact row's;");
    console.log(" thread/host-faults: the thread's, with every osv first touch backed on the host: the thread row over it is what backing them in the core gives)");
  }
  const ph = result.endToEndPhases as Record<string, E2ePhases> | undefined;
  if (ph && Object.keys(ph).length) {
    console.log("\nYCSB-A's phases: the whole run less its load phase alone (ycsb-a-load), from the medians above");
    const rows4 = Object.entries(ph).map(([k, r]) => [
      k,
      `${Math.round(r.loadAccessShare * 100)}%`,
      `${Math.round(r.loadTimeShare * 100)}%`,
      r.runAccessesPerSecond === undefined ? "-" : (r.runAccessesPerSecond / 1e6).toFixed(2),
      r.runMainCpuAccessesPerSecond === undefined ? "-" : (r.runMainCpuAccessesPerSecond / 1e6).toFixed(2),
    ]);
    console.log(formatTable(["workload/policy", "load: accesses", "load: time", "run phase M accesses/s", "run phase per main CPU-s"], rows4, ["l", "r", "r", "r", "r"]));
  }
  const mo = result.modelsOnly as Record<string, E2eModelsResult> | undefined;
  if (mo) {
    console.log(`\nThe workload models alone (accesses dropped: no allocator, no core, so the TypeScript models; end to end, both run in the core; median of ${e2eRuns} runs after a warm-up run)`);
    const rows3 = Object.entries(mo).map(([k, r]) => [k, (r.accessesPerSecond / 1e6).toFixed(2), (r.cpuAccessesPerSecond / 1e6).toFixed(2), String(r.accesses), r.runs.map((x) => (x / 1e6).toFixed(2)).join(" ")]);
    console.log(formatTable(["workload", "M accesses/s", "per CPU-s", "accesses", "runs"], rows3, ["l", "r", "r", "r", "l"]));
  }
  const sw = result.sweep as SweepSpeedup | undefined;
  if (sw) {
    console.log(`\nSweep: ${sw.jobs} runs on 1 thread ${sw.oneThreadSeconds.toFixed(1)} s, on ${sw.threads} worker threads ${sw.threadedSeconds.toFixed(1)} s: speed-up ${sw.speedup.toFixed(2)}x`);
  }
  const lp = result.lackeyParse as { linesPerSecond: number } | undefined;
  if (lp) console.log(`\nLackey trace parsing: ${(lp.linesPerSecond / 1e6).toFixed(1)} M lines/s (in memory)`);
}
