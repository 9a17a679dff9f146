/**
 * Runs independent simulation jobs on worker threads (piscina), one Wasm core per job,
 * and returns their results in job order whatever order they finish in, so a sweep's
 * output does not depend on the thread count. With one thread the jobs run in this
 * thread (no workers), which is also what browsers do. When the machine has a core to
 * spare for each job thread, jobs that leave `lineThread` unset run their line cache
 * on a thread of its own too, and YCSB jobs that leave `generatorThread` unset draw
 * their run phase there as well (the same results, sooner: docs/performance.md).
 *
 * @example
 * const results = await runJobs(jobs, { threads: 2, onProgress: (d, t) => bar.update(d) });
 */
import type { Job, JobResult } from "./jobs.js";
import { JobError, runJob } from "./jobs.js";
import type { WorkerReply } from "./worker.js";

export interface PoolOptions {
  /** Worker threads (default: the machine's cores, at most the job count). 1 runs in this thread. */
  threads?: number;
  /** Cores to plan for (default: the machine's); tests set it. */
  cores?: number;
  onProgress?: (done: number, total: number) => void;
}

/** The worker bundle: resolves the same from src/sim/ and from build/node/. */
function workerUrl(): URL {
  return new URL("../../build/node/worker.js", import.meta.url);
}

async function cores(): Promise<number> {
  const os = await import("node:os");
  return typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length;
}

/**
 * Whether jobs run `threads` at a time on `cores` cores should run their line cache on
 * threads of their own: when every job thread has a core to spare for it.
 *
 * @example
 * lineThreadsFit(1, 2); // true: one job at a time on 2 cores
 * lineThreadsFit(2, 2); // false: both cores run jobs
 */
export function lineThreadsFit(threads: number, cores: number): boolean {
  return cores >= 2 * threads;
}

/**
 * `jobs` with `lineThread` and `generatorThread` decided where they leave them unset:
 * on when the threads fit, the line thread for a job with a line cache, the generator
 * thread for a YCSB job (it shares the line thread's worker, or has one of its own).
 */
export function withLineThreads(jobs: Job[], fit: boolean): Job[] {
  if (!fit) return jobs;
  return jobs.map((j) => ({
    ...j,
    ...(j.lineThread === undefined && j.lineCache !== "off" ? { lineThread: true } : {}),
    ...(j.generatorThread === undefined && j.workload?.type === "ycsb" ? { generatorThread: true } : {}),
  }));
}

export async function runJobs(all: Job[], o: PoolOptions = {}): Promise<JobResult[]> {
  return (await pooled(all, o, false)) as JobResult[];
}

/**
 * `runJobs`, except that a job ending with a JobError (its configuration too small for
 * its workload) leaves that error in its place and the others run on: for sweeps that
 * look for where a configuration stops fitting. Any other error still ends them all,
 * thrown as a JobsAborted that says which job it was.
 *
 * @example
 * const out = await runJobsSettled(jobs, { threads: 2 });
 * out.filter((x) => x instanceof JobError).length; // the runs that did not fit
 */
export async function runJobsSettled(all: Job[], o: PoolOptions = {}): Promise<(JobResult | JobError)[]> {
  return pooled(all, o, true);
}

/** What ends `runJobsSettled` when a job fails other than with a JobError: that error (`cause`) and the job's index in the list. */
export class JobsAborted extends Error {
  constructor(
    readonly job: number,
    cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = "JobsAborted";
  }
}

/** Runs `all` in job order's results; with `settle`, JobErrors in their places, else the first error in job order thrown. */
async function pooled(all: Job[], o: PoolOptions, settle: boolean): Promise<(JobResult | JobError)[]> {
  const machine = o.cores ?? (await cores());
  const threads = Math.max(1, Math.min(o.threads ?? machine, all.length));
  const jobs = withLineThreads(all, lineThreadsFit(threads, machine));
  let done = 0;
  const out: (JobResult | JobError)[] = [];
  const take = (x: { ok: true; r: JobResult } | { ok: false; e: unknown }): void => {
    if (x.ok) out.push(x.r);
    else if (settle && x.e instanceof JobError) out.push(x.e);
    else throw settle ? new JobsAborted(out.length, x.e) : x.e; // taken in job order: out.length is this job's index
  };
  if (threads === 1) {
    for (const j of jobs) {
      try {
        take({ ok: true, r: await runJob(j) });
      } catch (e) {
        take({ ok: false, e });
      }
      o.onProgress?.(++done, jobs.length);
    }
    return out;
  }
  const { Piscina } = await import("piscina");
  const { fileURLToPath } = await import("node:url");
  const pool = new Piscina({ filename: fileURLToPath(workerUrl()), minThreads: threads, maxThreads: threads });
  try {
    const runs = jobs.map(async (j): Promise<{ ok: true; r: JobResult } | { ok: false; e: unknown }> => {
      try {
        const r = (await pool.run(j)) as WorkerReply;
        o.onProgress?.(++done, jobs.length);
        if ("error" in r) return { ok: false, e: r.error === "JobError" ? new JobError(r.message) : new RangeError(r.message) };
        return { ok: true, r };
      } catch (e) {
        return { ok: false, e };
      }
    });
    // taken in job order, so that a failure is the first in job order whichever thread
    // failed first (the same error every time); the later jobs are then cancelled
    for (const run of runs) take(await run);
    return out;
  } finally {
    await pool.destroy();
  }
}
