// A worker thread of the job pool (pool.ts): runs one job on its own Wasm core.
import { JobError, runJob, type Job, type JobResult } from "./jobs.js";

/** What the pool gets back: a result, or a JobError's message (an error's class does not survive the thread's boundary). */
export type WorkerReply = JobResult | { jobError: string };

export default async function run(job: Job): Promise<WorkerReply> {
  try {
    return await runJob(job);
  } catch (e) {
    if (e instanceof JobError) return { jobError: e.message };
    throw e;
  }
}
