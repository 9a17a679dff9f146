// Browsers: no worker threads for the line cache or YCSB's generator (they need Node's
// worker_threads and a main thread that may block in Atomics.wait). `option` names the
// option that asked for one.
export function workerThreads(option: string): Promise<typeof import("node:worker_threads")> {
  const what = option === "lineThread" ? "the line cache's thread" : "YCSB's generator thread";
  return Promise.reject(new Error(`${option}: ${what} needs Node's worker_threads; use ${option}: false in a browser`));
}
