/**
 * Runs independent simulation jobs on worker threads (piscina), one Wasm core per job,
 * and returns their results in job order whatever order they finish in, so a sweep's
 * output does not depend on the thread count. With one thread the jobs run in this
 * thread (no workers), which is also what browsers do. When the machine has a core to
 * spare for each job thread, jobs that leave `lineThread` unset run their line cache
 * on a thread of its own too (the same results, sooner: docs/performance.md).
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

/** `jobs` with `lineThread` decided where they leave it unset: on when the threads fit and the job has a line cache. */
export function withLineThreads(jobs: Job[], fit: boolean): Job[] {
  return jobs.map((j) => (j.lineThread === undefined && fit && j.lineCache !== "off" ? { ...j, lineThread: true } : j));
}

export async function runJobs(all: Job[], o: PoolOptions = {}): Promise<JobResult[]> {
  const machine = o.cores ?? (await cores());
  const threads = Math.max(1, Math.min(o.threads ?? machine, all.length));
  const jobs = withLineThreads(all, lineThreadsFit(threads, machine));
  let done = 0;
  if (threads === 1) {
    const out: JobResult[] = [];
    for (const j of jobs) {
      out.push(await runJob(j));
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
        if ("error" in r) return { ok: false, e: r.error === "JobError" ? new JobError(r.message) : new RangeError(r.message) };
        o.onProgress?.(++done, jobs.length);
        return { ok: true, r };
      } catch (e) {
        return { ok: false, e };
      }
    });
    // taken in job order, so that a failure is the first in job order whichever thread
    // failed first (the same error every time); the later jobs are then cancelled
    const out: JobResult[] = [];
    for (const run of runs) {
      const x = await run;
      if (!x.ok) throw x.e;
      out.push(x.r);
    }
    return out;
  } finally {
    await pool.destroy();
  }
}
