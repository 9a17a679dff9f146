// Node's worker threads, for the line cache's thread (the browser build uses threads-browser.ts).
export function workerThreads(): Promise<typeof import("node:worker_threads")> {
  return import("node:worker_threads");
}
