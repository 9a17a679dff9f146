// A worker thread of the job pool (pool.ts): runs one job on its own Wasm core.
import { runJob, type Job, type JobResult } from "./jobs.js";

export default function run(job: Job): Promise<JobResult> {
  return runJob(job);
}
