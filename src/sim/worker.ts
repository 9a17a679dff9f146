// A worker thread of the job pool (pool.ts): runs one job on its own Wasm core.
import { JobError, runJob, type Job, type JobResult } from "./jobs.js";

/**
 * What the pool gets back: a result, or the message of an error the job's caller is
 * meant to see (a JobError, or a RangeError naming a bad argument): an error's class does
 * not survive the thread's boundary, so it travels as a name the pool makes it again from.
 */
export type WorkerReply = JobResult | { error: "JobError" | "RangeError"; message: string };

export default async function run(job: Job): Promise<WorkerReply> {
  try {
    return await runJob(job);
  } catch (e) {
    if (e instanceof JobError) return { error: "JobError", message: e.message };
    if (e instanceof RangeError) return { error: "RangeError", message: e.message };
    throw e;
  }
}
