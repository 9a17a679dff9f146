// Node's worker threads, for the line cache's and YCSB's generator threads (the browser build uses threads-browser.ts).
export function workerThreads(_option: string): Promise<typeof import("node:worker_threads")> {
  return import("node:worker_threads");
}
