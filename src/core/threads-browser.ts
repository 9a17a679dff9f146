// Browsers: no line cache thread (it needs Node's worker_threads and a main thread that may block in Atomics.wait).
export function workerThreads(): Promise<typeof import("node:worker_threads")> {
  return Promise.reject(new Error("lineThread: the line cache's thread needs Node's worker_threads; use lineThread: false in a browser"));
}
