/**
 * Runs independent simulation jobs on worker threads (piscina), one Wasm core per job,
 * and returns their results in job order whatever order they finish in, so a sweep's
 * output does not depend on the thread count. With one thread the jobs run in this
 * thread (no workers), which is also what browsers do.
 *
 * @example
 * const results = await runJobs(jobs, { threads: 2, onProgress: (d, t) => bar.update(d) });
 */
import type { Job, JobResult } from "./jobs.js";
import { runJob } from "./jobs.js";

export interface PoolOptions {
  /** Worker threads (default: the machine's cores, at most the job count). 1 runs in this thread. */
  threads?: number;
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

export async function runJobs(jobs: Job[], o: PoolOptions = {}): Promise<JobResult[]> {
  const threads = Math.max(1, Math.min(o.threads ?? (await cores()), jobs.length));
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
    return await Promise.all(
      jobs.map(async (j) => {
        const r = (await pool.run(j)) as JobResult;
        o.onProgress?.(++done, jobs.length);
        return r;
      }),
    );
  } finally {
    await pool.destroy();
  }
}
