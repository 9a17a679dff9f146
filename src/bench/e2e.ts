/**
 * End-to-end speed: simulated memory accesses per second of whole workload runs
 * (memslap and YCSB-A through the guest allocator, the page tables and the TLBs), and
 * the speed-up of a sweep from worker threads. Wall time of the whole run, setup
 * included.
 */
import { readFileSync } from "node:fs";
import { runJob, type Job, type JobProfile } from "../sim/jobs.js";
import { runJobs } from "../sim/pool.js";
import { runMemaslap, runYcsb, type MemaslapRunOptions, type WorkloadProcess, type WorkloadRunResult } from "../workloads/drivers.js";

const GiB = 2 ** 30;
const MiB = 2 ** 20;

const TIERS: Job["tiers"] = [
  { name: "dram", preset: "dram", capacity: 16 * GiB },
  { name: "nvm", preset: "optane", capacity: 64 * GiB },
];
const NODES = [
  { tier: "dram", bytes: 1 * GiB },
  { tier: "nvm", bytes: 3 * GiB },
];

/** How a job runs its line cache and YCSB's run phase (the exact line cache in place, the phase in the core, when empty). */
type LineMode = Pick<Job, "lineCache" | "lineSampling" | "lineThread" | "generatorThread">;

function job(policy: "osv" | "ucat", workload: Job["workload"], mode: LineMode = {}, hostFaults = false): Job {
  const hypervisor = hostFaults ? { hypervisor: { backInCore: false } } : {};
  return { seed: 1, tiers: TIERS, config: { name: policy, vm: { policy }, nodes: NODES, ...hypervisor }, workload, lineCache: "all", ...mode };
}

/**
 * The settings the bench compares: the line cache exact (the default), exact on its own
 * thread with YCSB's run phase drawn there too (what runJobs gives a job when a core is
 * spare), 1 set in 16 sampled, page-table lines only; for YCSB-A (and its load phase, to
 * pair with), the line thread alone (what the generator adds); and, for osv, the thread's with every first
 * touch handled on the host (`backInCore: false`), to show what backing them in the
 * core gives.
 */
const LINE_MODES: { suffix: string; mode: LineMode; hostFaults?: boolean; policies?: readonly ("osv" | "ucat")[]; only?: readonly string[] }[] = [
  { suffix: "", mode: { lineThread: false, generatorThread: false } },
  { suffix: "/thread", mode: { lineThread: true, generatorThread: true } },
  { suffix: "/line-thread", mode: { lineThread: true, generatorThread: false }, only: ["ycsb-a", "ycsb-a-load"] },
  { suffix: "/sampled16", mode: { lineSampling: 16, lineThread: false, generatorThread: false } },
  { suffix: "/walks", mode: { lineCache: "walks", lineThread: false, generatorThread: false } },
  { suffix: "/thread/host-faults", mode: { lineThread: true, generatorThread: true }, hostFaults: true, policies: ["osv"] },
];

/**
 * The bench's workloads: memslap and YCSB-A (the target's), and YCSB-A's load phase
 * alone (its 50,000 inserts, no operations): set against the whole run, it tells the
 * two phases' rates apart (the load phase's inserts allocate, fill the indexes and
 * first-touch every record's page).
 */
/** The whole YCSB-A run's row name, and its load phase's (e2ePhases pairs them). */
const YCSB_WHOLE = "ycsb-a";
const YCSB_LOAD = "ycsb-a-load";

export const E2E_WORKLOADS: Job["workload"][] = [
  { name: "memslap", type: "memslap", options: { operations: 500_000, server: { memoryLimit: 256 * MiB } } },
  { name: YCSB_WHOLE, type: "ycsb", workload: "a", options: { recordCount: 50_000, operationCount: 300_000 } },
  { name: YCSB_LOAD, type: "ycsb", workload: "a", options: { recordCount: 50_000, operationCount: 0 } },
];

export interface E2eResult {
  accessesPerSecond: number;
  /**
   * Accesses per second of the process's CPU time (user and system, every thread: the
   * line thread's, V8's collector and compiler threads'), median: what a run costs in
   * CPU, where wall time says how long it takes.
   */
  cpuAccessesPerSecond: number;
  /**
   * Accesses per second of the main thread's CPU time (median; Linux, from
   * `/proc/self/task/<pid>/schedstat`; absent where that cannot be read). The main
   * thread runs the models, the allocators and the translation, and bounds every row
   * with the line thread: a figure of its work that another tenant taking a core
   * changes less than the wall time.
   */
  mainCpuAccessesPerSecond?: number;
  accesses: number;
  runs: number[];
  /**
   * The rate of the row's first run in the process: the warm-up round, left out of the
   * median. It pays once-a-process costs a long simulation or a sweep does not pay per
   * run: V8 compiling the code the row takes first (its optimizing tier comes after a
   * first run), and for the first row with a line thread the worker's start.
   */
  firstRunAccessesPerSecond: number;
  /** Share of the wall time in the core's runs and their fault handling (median); the rest is the workload models' and allocators'. */
  runShare: number;
  /** Data lines the line cache modelled per run, and per second of wall time (median). */
  dataLines: number;
  dataLinesPerSecond: number;
  /** The simulated throughput (operations per second at the preset's clock), and with line sampling its difference from the exact row's (a fraction). */
  throughputOpsPerSecond: number;
  estimateError?: number;
  /** With the line thread (and the generator's; host-faults rows too): whether its results are byte-identical to the exact row's (the bench stops if not), and its rate over the exact row's. */
  sameAsExact?: boolean;
  speedup?: number;
}

/** CPU seconds the main thread has run (Linux's schedstat, ns), or null where it cannot be read. */
function mainThreadSeconds(): number | null {
  try {
    const ns = Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, "utf8").split(" ")[0]);
    return Number.isFinite(ns) ? ns / 1e9 : null;
  } catch {
    return null;
  }
}

/** CPU seconds of this process (user and system, all its threads) since `from`. */
function cpuSeconds(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1e6;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/**
 * Accesses per second of each workload on each policy, median of `runs` after
 * `warmup` rounds (the first run's rate is reported apart): with the
 * default line cache (page-table and data lines, exact; keys "memslap/osv", ...) and,
 * for comparison, with 1 set in 16 sampled ("memslap/osv/sampled16": estimated line
 * counts), with page-table lines only ("memslap/osv/walks", ...), on the line thread
 * with YCSB's generator there too ("memslap/osv/thread"; "ycsb-a/osv/line-thread": the
 * line thread alone) and, for osv, on the line thread with every first touch
 * backed on the host ("memslap/osv/thread/host-faults"). Each also says
 * how the time split between the core's runs (with their fault handling) and the
 * workload models, and how many data lines the line cache counted. The runs go in
 * rounds, every row once a round, so that a shared machine's changing load weighs on
 * every row alike (rows of one invocation compare fairly). `workloads` defaults to the
 * bench's memslap and YCSB-A (smaller ones check the bench itself).
 *
 * @example
 * const rows = await benchEndToEnd(5);
 * rows["memslap/ucat/thread"].speedup; // its rate over the exact row's
 */
export async function benchEndToEnd(
  runs: number,
  onProgress?: (s: string) => void,
  workloads: readonly Job["workload"][] = E2E_WORKLOADS,
  warmup = 1,
): Promise<Record<string, E2eResult>> {
  const rows = LINE_MODES.flatMap(({ suffix, mode, hostFaults, policies, only }) =>
    workloads
      .filter((w) => !only || only.includes(w.name))
      .flatMap((w) => (policies ?? (["osv", "ucat"] as const)).map((policy) => ({ key: `${w.name}/${policy}${suffix}`, mode, hostFaults, w, policy }))),
  );
  const seen = new Map<string, { first: number; rates: number[]; cpuRates: number[]; mainRates: number[]; shares: number[]; lineRates: number[]; accesses: number; lines: number; throughput: number; json: string }>();
  for (let r = -warmup; r < runs; r++) {
    for (const row of rows) {
      onProgress?.(r < 0 ? `end to end ${row.key} warm-up` : `end to end ${row.key} ${r + 1}/${runs}`);
      const profile: JobProfile = { runSeconds: 0, dataLines: 0 };
      // (the main thread's reads inside the process's: its CPU time is then part of the process's)
      const c0 = process.cpuUsage();
      const m0 = mainThreadSeconds();
      const t0 = performance.now();
      const res = await runJob(job(row.policy, row.w, row.mode, row.hostFaults), profile);
      const s = (performance.now() - t0) / 1000;
      const m1 = mainThreadSeconds();
      const cpu = cpuSeconds(c0);
      const acc = (res.result as WorkloadRunResult).accesses;
      let m = seen.get(row.key);
      if (!m) seen.set(row.key, (m = { first: acc / s, rates: [], cpuRates: [], mainRates: [], shares: [], lineRates: [], accesses: 0, lines: 0, throughput: 0, json: JSON.stringify(res) }));
      m.accesses = acc;
      if (r < 0) continue;
      m.lines = profile.dataLines;
      m.throughput = res.throughputOpsPerSecond;
      m.rates.push(acc / s);
      m.cpuRates.push(acc / cpu);
      if (m0 !== null && m1 !== null && m1 > m0) m.mainRates.push(acc / (m1 - m0));
      m.shares.push(profile.runSeconds / s);
      m.lineRates.push(profile.dataLines / s);
    }
  }
  const out: Record<string, E2eResult> = {};
  for (const row of rows) {
    const m = seen.get(row.key)!;
    out[row.key] = {
      accessesPerSecond: Math.round(median(m.rates)),
      cpuAccessesPerSecond: Math.round(median(m.cpuRates)),
      ...(m.mainRates.length === m.rates.length ? { mainCpuAccessesPerSecond: Math.round(median(m.mainRates)) } : {}),
      accesses: m.accesses,
      runs: m.rates.map(Math.round),
      firstRunAccessesPerSecond: Math.round(m.first),
      runShare: Math.round(median(m.shares) * 1000) / 1000,
      dataLines: m.lines,
      dataLinesPerSecond: Math.round(median(m.lineRates)),
      throughputOpsPerSecond: Math.round(m.throughput),
    };
    const exact = out[`${row.w.name}/${row.policy}`];
    if ((row.mode.lineSampling ?? 1) > 1 && exact && exact.throughputOpsPerSecond > 0) out[row.key].estimateError = Math.round((m.throughput / exact.throughputOpsPerSecond - 1) * 1e5) / 1e5;
    if (row.mode.lineThread || row.mode.generatorThread) {
      // the threads change where the line cache and the generator run, never what they count (nor where a first touch is backed)
      out[row.key].sameAsExact = m.json === seen.get(`${row.w.name}/${row.policy}`)?.json;
      if (!out[row.key].sameAsExact) throw new Error(`bench: ${row.key} gave results that differ from the exact row's`);
      if (exact) out[row.key].speedup = Math.round((out[row.key].accessesPerSecond / exact.accessesPerSecond) * 1000) / 1000;
    }
  }
  return out;
}

/** YCSB-A's two phases apart, from the medians of the whole run and of its load phase alone (same policy and line mode). */
export interface E2ePhases {
  /** The load phase's share of the whole run's accesses, and of its wall time. */
  loadAccessShare: number;
  loadTimeShare: number;
  /**
   * The run phase's accesses per second of wall time, and of the main thread's CPU time
   * (Linux); absent when the load phase's median time is not below the whole run's (a
   * noisy machine and tiny runs).
   */
  runAccessesPerSecond?: number;
  runMainCpuAccessesPerSecond?: number;
}

/**
 * Splits each YCSB-A row of {@link benchEndToEnd} into its phases with the matching
 * load-phase row ("ycsb-a-load/osv/thread" for "ycsb-a/osv/thread"): the run phase is
 * the difference of the two (accesses, and seconds from the median rates). Keys as the
 * whole run's; rows without a load-phase row are left out.
 *
 * @example
 * const phases = e2ePhases(await benchEndToEnd(5));
 * phases["ycsb-a/osv/thread"].runAccessesPerSecond; // the operations' rate without the inserts
 */
export function e2ePhases(rows: Record<string, E2eResult>): Record<string, E2ePhases> {
  const out: Record<string, E2ePhases> = {};
  const seconds = (r: E2eResult, rate: number | undefined): number => (rate ? r.accesses / rate : NaN);
  for (const [key, whole] of Object.entries(rows)) {
    if (!key.startsWith(`${YCSB_WHOLE}/`)) continue;
    const load = rows[`${YCSB_LOAD}${key.slice(YCSB_WHOLE.length)}`];
    if (!load) continue;
    const runAccesses = whole.accesses - load.accesses;
    const wall = seconds(whole, whole.accessesPerSecond) - seconds(load, load.accessesPerSecond);
    const main = seconds(whole, whole.mainCpuAccessesPerSecond) - seconds(load, load.mainCpuAccessesPerSecond);
    out[key] = {
      loadAccessShare: Math.round((load.accesses / whole.accesses) * 1000) / 1000,
      loadTimeShare: Math.round((seconds(load, load.accessesPerSecond) / seconds(whole, whole.accessesPerSecond)) * 1000) / 1000,
      ...(wall > 0 ? { runAccessesPerSecond: Math.round(runAccesses / wall) } : {}),
      ...(main > 0 ? { runMainCpuAccessesPerSecond: Math.round(runAccesses / main) } : {}),
    };
  }
  return out;
}

export interface SweepSpeedup {
  jobs: number;
  oneThreadSeconds: number;
  threads: number;
  threadedSeconds: number;
  speedup: number;
}

/**
 * The same 8 jobs on one thread and on `threads` worker threads (the same run, back to
 * back). Each job takes about 0.7 s, like a sweep's: much shorter ones measure mostly
 * the workers' start-up (each compiles the core and warms its JIT up).
 */
export async function benchSweepSpeedup(threads: number, onProgress?: (s: string) => void): Promise<SweepSpeedup> {
  const jobs: Job[] = [];
  for (const policy of ["osv", "ucat"] as const) {
    for (const w of ["a", "b", "c", "f"] as const) {
      // no line or generator threads: what the worker threads alone give (with one job at a time, runJobs would add them)
      jobs.push(job(policy, { name: `ycsb-${w}`, type: "ycsb", workload: w, options: { recordCount: 50_000, operationCount: 400_000 } }, { lineThread: false, generatorThread: false }));
    }
  }
  onProgress?.("sweep on 1 thread");
  let t0 = performance.now();
  await runJobs(jobs, { threads: 1 });
  const one = (performance.now() - t0) / 1000;
  onProgress?.(`sweep on ${threads} threads`);
  t0 = performance.now();
  await runJobs(jobs, { threads });
  const many = (performance.now() - t0) / 1000;
  return { jobs: jobs.length, oneThreadSeconds: one, threads, threadedSeconds: many, speedup: one / many };
}

/**
 * A guest process that allocates by bumping an address and drops every access: run
 * against it, a workload costs only its own model (generators, the memcached or store
 * model), the ceiling of the end-to-end rate whatever the core and allocators cost.
 */
class NullProcess implements WorkloadProcess {
  private next = 0x1000_0000;
  malloc(size: number): number {
    const va = this.next;
    this.next += Math.ceil(size / 4096) * 4096;
    return va;
  }
  free(): void {}
  read(): void {}
  write(): void {}
}

/**
 * Accesses per second of the end-to-end workloads with their accesses dropped (a
 * {@link NullProcess}: no allocator, no core), median of `runs` after `warmup`: what the workload
 * models alone allow. These are the TypeScript models: end to end, YCSB's phases and
 * memslap run in the core instead (src/workloads/ycsb/core-run.ts,
 * src/workloads/memcached/core-run.ts), which needs a simulator.
 */
export async function benchModelsOnly(
  runs: number,
  onProgress?: (s: string) => void,
  workloads: readonly Job["workload"][] = E2E_WORKLOADS,
  warmup = 1,
): Promise<Record<string, E2eModelsResult>> {
  const out: Record<string, E2eModelsResult> = {};
  for (const w of workloads) {
    const rates: number[] = [];
    const cpuRates: number[] = [];
    let accesses = 0;
    for (let r = -warmup; r < runs; r++) {
      onProgress?.(r < 0 ? `models only ${w.name} warm-up` : `models only ${w.name} ${r + 1}/${runs}`);
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      let res: WorkloadRunResult;
      if (w.type === "memslap") res = runMemaslap(new NullProcess(), { seed: 1, ...w.options, server: w.options?.server as MemaslapRunOptions["server"] });
      else if (w.type === "ycsb") res = runYcsb(new NullProcess(), w.workload, { seed: 1, ...w.options } as Parameters<typeof runYcsb>[2]);
      else throw new Error(`models only: workload type ${w.type} is not benchmarked`);
      accesses = res.accesses;
      if (r < 0) continue;
      rates.push(accesses / ((performance.now() - t0) / 1000));
      cpuRates.push(accesses / cpuSeconds(c0));
    }
    out[w.name] = { accessesPerSecond: Math.round(median(rates)), cpuAccessesPerSecond: Math.round(median(cpuRates)), accesses, runs: rates.map(Math.round) };
  }
  return out;
}

export interface E2eModelsResult {
  accessesPerSecond: number;
  /** Per second of the process's CPU time (median), as {@link E2eResult.cpuAccessesPerSecond}. */
  cpuAccessesPerSecond: number;
  accesses: number;
  runs: number[];
}
