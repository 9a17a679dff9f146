/**
 * One simulation run: a fresh simulator, one VM of a configuration, one workload, and
 * the figures users come for (memory by tier, fragmentation, page tables, TLB misses,
 * walk references, throughput). `unimmu compare`, `unimmu run` and `unimmu sweep` all
 * run jobs; a job is plain data, so it can be posted to a worker thread.
 *
 * @example
 * const r = await runJob({
 *   seed: 1,
 *   tiers: [{ name: "dram", preset: "dram", capacity: 16 * GiB }, { name: "nvm", preset: "optane", capacity: 64 * GiB }],
 *   config: { name: "ucat", vm: { policy: "ucat" }, nodes: [{ tier: "dram", bytes: GiB }, { tier: "nvm", bytes: 3 * GiB }] },
 *   workload: { name: "ycsb-a", type: "ycsb", workload: "a", options: { recordCount: 10_000, operationCount: 50_000 } },
 * });
 * r.throughputOpsPerSecond;
 */
import { Simulator, simulatorIssues, vmIssues, type AccessFault, type LineCacheMode, type SimulatorOptions, type TierConfig } from "./simulator.js";
import type { VmOptions } from "./vm.js";
import { vmStats, type BySize } from "./stats.js";
import { kvIssues, runKv, type KvOptions, type KvResult } from "../workloads/kv/kv.js";
import { memaslapRunIssues, runMemaslap, runYcsb, ycsbRunIssues, type MemaslapRunOptions, type YcsbRunOptions, type WorkloadRunResult } from "../workloads/drivers.js";
import { formatIssue, valueAt, type PresetIssue } from "../cost/schema.js";
import type { YcsbWorkloadName } from "../workloads/ycsb/workloads.js";
import { faultCycles, throughput, translationCycles, type CycleBreakdown } from "../cost/model.js";
import { GuestOutOfMemory } from "../guest/guest.js";
import { OutOfMemoryError } from "../host/hypervisor.js";
import { CoreMemoryFull } from "../core/wasm.js";

export type WorkloadSpec =
  | { name: string; type: "kv"; options?: KvOptions }
  | { name: string; type: "memslap"; options?: Omit<MemaslapRunOptions, "onProgress" | "server"> & { server?: Record<string, unknown> } }
  | { name: string; type: "ycsb"; workload: YcsbWorkloadName; options?: Omit<YcsbRunOptions, "onProgress" | "store" | "memcached"> & { store?: Record<string, unknown>; memcached?: Record<string, unknown> } };

export interface ConfigSpec {
  name: string;
  description?: string;
  vm: Omit<VmOptions, "nodes">;
  nodes: VmOptions["nodes"];
  hypervisor?: SimulatorOptions["hypervisor"];
  /** The tier the workload asks malloc for ("auto" when absent; osv ignores it). */
  tier?: string;
}

export interface Job {
  seed: number;
  cpu?: SimulatorOptions["cpu"];
  tiers: TierConfig[];
  config: ConfigSpec;
  workload: WorkloadSpec;
  /** Work per operation outside the memory system, in cycles (default: the workload's, below). */
  computeCyclesPerOp?: number;
  /** What the core's line cache models (default "all"; `SimulatorOptions.lineCache`). */
  lineCache?: LineCacheMode;
  /** Line-cache sets per modelled set (default 1; `SimulatorOptions.lineSampling`). */
  lineSampling?: number;
  /**
   * Run the line cache on a worker thread (`SimulatorOptions.lineThread`). Unset: off in
   * `runJob`; `runJobs` turns it on when the machine has a core to spare for it.
   */
  lineThread?: boolean;
  /**
   * Draw YCSB's run phase on a worker thread (`SimulatorOptions.generatorThread`; only
   * phases without inserts or scans). Unset: off in `runJob`; `runJobs` turns it on with
   * the line thread.
   */
  generatorThread?: boolean;
}

/**
 * Cycles of work per operation that the memory model does not see (protocol parsing,
 * hashing, the network stack of a unikernel): guesses, to be replaced by measurement;
 * they set how much of the throughput translation can move (docs/model.md).
 */
export const COMPUTE_CYCLES_PER_OP: Record<WorkloadSpec["type"], number> = {
  // guess: memcached serves about 1 M requests/s per core over a kernel network stack
  // (about 3000 cycles at 3 GHz, memory stalls included); a unikernel's is cheaper
  memslap: 2000,
  // guess: a YCSB operation on an in-memory store (key hashing, field copies) without its stalls
  ycsb: 1000,
  kv: 500,
};

/** Guest page fault handling work beyond delivery (finding a frame, mapping it): a guess. */
const GUEST_FAULT_WORK = 1000;
/** Host work on an EPT violation beyond the exit (allocating and zeroing a frame): zeroing 4 KiB, a guess for the rest. */
const EPT_FAULT_WORK = 1500;

/**
 * Where a job's time went, filled in by {@link runJob} when given (for benchmarks and
 * profiling; deliberately not in the result, whose JSON must not depend on timing).
 *
 * @example
 * const profile: JobProfile = { runSeconds: 0, dataLines: 0 };
 * await runJob(job, profile);
 * profile.runSeconds; // seconds in the core's runs and their fault handling
 */
export interface JobProfile {
  /** Wall seconds in the core's runs and the handling of their faults ({@link Simulator.runSeconds}). */
  runSeconds: number;
  /** Data lines the line cache modelled (hits and misses; 0 unless `lineCache` is "all"). */
  dataLines: number;
}

export interface JobResult {
  config: string;
  workload: string;
  description?: string;
  policy: string;
  allocator: string;
  seed: number;
  /** Host bytes the VM holds: backing frames + EPT table pages. */
  memoryBytes: number;
  memoryBytesByTier: Record<string, number>;
  /** The heap's held - requested bytes. */
  fragmentationBytes: number;
  internalFragmentationBytes: number;
  requestedBytes: number;
  allocatedBytes: number;
  heldBytes: number;
  /** Guest and EPT table pages, in bytes, and by the tier they live in. */
  pageTableBytes: number;
  pageTableBytesByTier: Record<string, number>;
  guestTablePages: number;
  eptTablePages: number;
  hostFrames: BySize;
  guestPagesTouched: BySize;
  /** Misses of the last TLB level per translation request. */
  tlbMissRate: number;
  walkRefs: number;
  walkRefsByTier: Record<string, number>;
  walks: number;
  stlbMisses: number;
  requests: number;
  accessesByTier: Record<string, number>;
  smallerFallbacks: number;
  tierFallbacks: number;
  /** Operations of the workload's measured phase, and the throughput the cycle model gives them. */
  operations: number;
  throughputOpsPerSecond: number;
  /** Cycles of the whole run by part (docs/model.md, the cycle model). */
  cycles: CycleBreakdown;
  /** The workload's own result. */
  result: KvResult | WorkloadRunResult;
}

/**
 * A job that cannot finish as configured: its VM's guest memory or its host's tiers ran
 * out for the workload (a configuration too small for it, not a fault of the
 * simulator), the core's memory cannot hold the configuration or the workload model's
 * state (a limit of the simulator for that size), or the simulator dropped some of its
 * accesses. The message names the
 * configuration, the workload and what happened.
 *
 * @example
 * try { await runJob(job); } catch (e) { if (e instanceof JobError) console.error(e.message); }
 */
export class JobError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "JobError";
  }

  /** The error of `job` when `e` is its VM or host running out of memory, else null. */
  static outOfMemory(job: Job, e: unknown): JobError | null {
    if (e instanceof CoreMemoryFull) return new JobError(`${jobName(job)}: ${e.message}; expected a smaller workload`);
    const guest = e instanceof GuestOutOfMemory;
    if (!guest && !(e instanceof OutOfMemoryError)) return null;
    const what = guest ? "the VM's guest memory" : "the host's memory";
    const more = guest ? "more bytes in the configuration's nodes" : "more capacity in the host's tiers";
    return new JobError(`${jobName(job)}: ${what} ran out (${(e as Error).message}); expected ${more}, or a smaller workload`);
  }

  /**
   * The error of `job` when its workload's accesses faulted: the simulator dropped them
   * (AccessFault), so the figures would count a run that did not happen.
   */
  static droppedAccesses(job: Job, count: number, first: AccessFault): JobError {
    const why: Record<AccessFault["kind"], string> = {
      oom: "the host had no memory left to back the VM's guest memory; expected more capacity in the host's tiers, or a smaller workload",
      segfault: "an access fell outside the process's memory",
      protection: "the page tables' rights denied an access",
      key: "a protection key denied an access",
      "ept-misconfig": "an EPT entry was misconfigured",
    };
    return new JobError(`${jobName(job)}: ${count} ${count === 1 ? "access was" : "accesses were"} dropped, the first at va 0x${first.va.toString(16)}: ${why[first.kind]}`);
  }
}

function jobName(job: Job): string {
  return `configuration ${JSON.stringify(job.config.name)}, workload ${JSON.stringify(job.workload.name)}`;
}

const WORKLOAD_TYPES: readonly WorkloadSpec["type"][] = ["kv", "memslap", "ycsb"];

/**
 * Every problem of `job` that would stop it, found without running it: its seed, the
 * simulator's options (tiers, CPU, line cache), the VM's (back-end, nodes) and the
 * workload's, with the paths a scenario file spells them (`tiers.0.capacity`,
 * `cpu.tlb.stlb`, `configs.<name>.nodes.0.bytes`, `configs.<name>.hypervisor.pageTableTier`,
 * `workloads.<name>.options.concurrency`). Empty when the job can run; it may still run
 * out of memory ({@link JobError}).
 *
 * @example
 * jobIssues({ ...job, workload: { name: "m", type: "memslap", options: { concurrency: 0 } } })[0].path; // "workloads.m.options.concurrency"
 */
export function jobIssues(job: Job): PresetIssue[] {
  const issues: PresetIssue[] = [];
  const under = (prefix: string, list: readonly PresetIssue[]): void => {
    for (const i of list) issues.push({ ...i, path: `${prefix}.${i.path}` });
  };
  if (!Number.isInteger(job.seed) || job.seed < 0 || job.seed > 0xffffffff) issues.push({ path: "seed", value: job.seed, allowed: "expected an integer in 0..4294967295" });
  const options = simulatorOptions(job);
  issues.push(...simulatorIssues(options));
  const c = `configs.${job.config?.name}`;
  // the back-end's options are the configuration's in a scenario file
  under(c, vmIssues(options, { ...job.config?.vm, nodes: job.config?.nodes }));
  const w = job.workload;
  const at = `workloads.${w?.name}`;
  if (!WORKLOAD_TYPES.includes(w?.type)) {
    issues.push({ path: `${at}.type`, value: w?.type, allowed: `expected one of ${WORKLOAD_TYPES.map((t) => JSON.stringify(t)).join(", ")}` });
  } else if (w.type === "kv") under(`${at}.options`, kvIssues(w.options));
  else if (w.type === "memslap") under(`${at}.options`, memaslapRunIssues(w.options as MemaslapRunOptions));
  else {
    for (const i of ycsbRunIssues(w.workload, w.options as YcsbRunOptions)) issues.push({ ...i, path: i.path === "workload" ? `${at}.workload` : `${at}.options.${i.path}` });
  }
  // (the seed is the core's too: one problem, said once)
  const seen = new Set<string>();
  return issues.filter((i) => {
    const line = formatIssue(i);
    if (seen.has(line)) return false;
    seen.add(line);
    return true;
  });
}

/**
 * {@link jobIssues} as error lines (`<path>: <value> is not allowed; expected ...`):
 * every problem of a job that can be found before it runs.
 *
 * @example
 * checkJob(job); // ["configs.osv.nodes.0.bytes: 3145728 is not allowed; expected a positive multiple of 2 MiB up to 1 TiB"]
 */
export function checkJob(job: Job): string[] {
  return jobIssues(job).map(formatIssue);
}

/**
 * The problems of all `jobs`, each line once (jobs share their tiers, configurations
 * and workloads), for a scenario that must not start when one of its jobs would fail.
 * With `written`, the scenario file's parsed JSON, a value shows as the file wrote it
 * (`"3MiB"`, not 3145728).
 *
 * @example
 * checkJobs(scenarioJobs(s), json); // ['configs.osv.nodes.0.bytes: "3MiB" is not allowed; ...']
 */
export function checkJobs(jobs: readonly Job[], written?: unknown): string[] {
  const lines = new Set<string>();
  for (const job of jobs) {
    for (const i of jobIssues(job)) {
      const given = written === undefined ? undefined : valueAt(written, i.path.split("."));
      lines.add(formatIssue(given === undefined ? i : { ...i, value: given }));
    }
  }
  return [...lines];
}

/** The simulator a job runs on: one VM, the job's tiers, CPU, line cache and back-end. */
function simulatorOptions(job: Job): SimulatorOptions {
  return {
    tiers: job.tiers, hypervisor: job.config?.hypervisor, maxVms: 1, seed: job.seed, cpu: job.cpu, lineCache: job.lineCache, lineSampling: job.lineSampling,
    ...(job.lineThread ? { lineThread: true } : {}),
    ...(job.generatorThread && job.workload.type === "ycsb" ? { generatorThread: true } : {}),
  };
}

/**
 * Runs `job` on a simulator of its own and measures it. A job with a problem
 * ({@link checkJob}) is refused before anything runs, with a RangeError of every
 * problem, one line each; one whose configuration is too small for its workload ends
 * with a {@link JobError}.
 */
export async function runJob(job: Job, profile?: JobProfile): Promise<JobResult> {
  const problems = checkJob(job);
  if (problems.length) throw new RangeError(problems.join("\n"));
  let sim: Simulator;
  try {
    sim = await Simulator.create(simulatorOptions(job));
  } catch (e) {
    throw JobError.outOfMemory(job, e) ?? e;
  }
  let result: JobResult;
  try {
    result = measureJob(job, sim, profile);
  } catch (e) {
    // the job's error is the one to report, not one from closing after it
    try {
      sim.close();
    } catch {
      /* ignored */
    }
    throw JobError.outOfMemory(job, e) ?? e;
  }
  sim.close();
  return result;
}

function measureJob(job: Job, sim: Simulator, profile?: JobProfile): JobResult {
  const vm = sim.createVm({ ...job.config.vm, nodes: job.config.nodes });
  const tier = job.config.tier;
  const w = job.workload;
  let result: KvResult | WorkloadRunResult;
  let operations: number;
  if (w.type === "kv") {
    const r = runKv(vm, { seed: job.seed, ...w.options, ...(tier ? { tier } : {}) });
    result = r;
    operations = r.gets + r.mallocs + r.frees;
  } else if (w.type === "memslap") {
    const r = runMemaslap(vm.process, { seed: job.seed, ...w.options, server: { ...(tier ? { tier } : {}), ...w.options?.server } });
    result = r;
    operations = r.operations;
  } else {
    const opts: YcsbRunOptions = { seed: job.seed, ...w.options } as YcsbRunOptions;
    if (tier) opts.store = { tier, ...(w.options?.store ?? {}) } as YcsbRunOptions["store"];
    const r = runYcsb(vm.process, w.workload, opts);
    result = r;
    operations = r.operations;
  }
  // the kv workload stops at an out-of-memory and reports it; in the others a dropped access is a run that did not happen
  const counters = sim.counters(vm.vcpu);
  if (w.type !== "kv" && sim.faultCount > 0) throw JobError.droppedAccesses(job, sim.faultCount, sim.faults[0]!);
  const s = vmStats(vm);
  if (profile) {
    profile.runSeconds = sim.runSeconds;
    profile.dataLines = counters.dataLineHits.reduce((a, b) => a + b, 0) + counters.dataLineMisses.reduce((a, row) => a + row[0] + row[1] + row[2], 0);
  }
  const tierPresets = sim.host.tierNames().map((t) => sim.tierPresets[t]);
  const cyc = translationCycles(counters, sim.cpu, tierPresets);
  const compute = operations * (job.computeCyclesPerOp ?? COMPUTE_CYCLES_PER_OP[w.type]);
  const breakdown: CycleBreakdown = { ...cyc, faults: faultCycles(counters, sim.cpu, GUEST_FAULT_WORK, EPT_FAULT_WORK), compute, other: 0 };
  const t = throughput(operations, breakdown, sim.cpu);
  const pageTableBytesByTier: Record<string, number> = {};
  for (const k of Object.keys(s.memoryBytesByTier)) pageTableBytesByTier[k] = (s.guestTables.bytesByTier[k] ?? 0) + (s.eptTables.bytesByTier[k] ?? 0);
  return {
    config: job.config.name,
    workload: w.name,
    description: job.config.description,
    policy: s.policy,
    allocator: s.allocator,
    seed: job.seed,
    memoryBytes: s.memoryBytes,
    memoryBytesByTier: s.memoryBytesByTier,
    fragmentationBytes: s.fragmentationBytes,
    internalFragmentationBytes: s.app.internalFragmentationBytes,
    requestedBytes: s.app.requestedBytes,
    allocatedBytes: s.app.allocatedBytes,
    heldBytes: s.app.heldBytes,
    pageTableBytes: s.pageTableBytes,
    pageTableBytesByTier,
    guestTablePages: s.guestTables.pages,
    eptTablePages: s.eptTables.pages,
    hostFrames: s.backing.frames,
    guestPagesTouched: s.guestPages.touched,
    tlbMissRate: s.translation.tlbMissRate,
    walkRefs: s.translation.walkRefs,
    walkRefsByTier: s.translation.refsByTier,
    walks: s.translation.walks,
    stlbMisses: s.translation.stlbMisses,
    requests: s.translation.requests,
    accessesByTier: s.translation.accessesByTier,
    smallerFallbacks: s.backing.smallerFallbacks,
    tierFallbacks: s.backing.tierFallbacks,
    operations,
    throughputOpsPerSecond: t.opsPerSecond,
    cycles: breakdown,
    result,
  };
}
