/**
 * The host's frame allocator on the path of osv's first touches: 4 KiB frames one
 * `alloc(0)` at a time (the host's own fault handling) against `allocFrames` in runs of
 * 64 (the stream the core backs first touches from, src/host/first-touch.ts).
 */
import { BuddyAllocator, GIB } from "../host/buddy.js";

export interface FramesResult {
  frames: number;
  run: number;
  /** Median nanoseconds a frame, and every run's. */
  allocNs: number;
  allocFramesNs: number;
  runs: { alloc: number[]; allocFrames: number[] };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/**
 * `frames` frames from a fresh 16 GiB tier, both ways, `runs` times (alternated).
 * @example benchFrames(5).allocFramesNs // about 20 on this machine
 */
export function benchFrames(runs: number, frames = 200_000): FramesResult {
  const RUN = 64;
  const out = new Float64Array(frames + RUN);
  const alloc: number[] = [];
  const bulk: number[] = [];
  for (let r = 0; r < runs; r++) {
    const a = new BuddyAllocator(4 * GIB, 16 * GIB);
    let t0 = performance.now();
    for (let i = 0; i < frames; i++) out[i] = a.alloc(0)!;
    alloc.push(((performance.now() - t0) * 1e6) / frames);
    const b = new BuddyAllocator(4 * GIB, 16 * GIB);
    t0 = performance.now();
    for (let i = 0; i < frames; i += RUN) b.allocFrames(RUN, out, i);
    bulk.push(((performance.now() - t0) * 1e6) / frames);
    if (b.stats().freeBytes !== a.stats().freeBytes - (Math.ceil(frames / RUN) * RUN - frames) * 4096) throw new Error("bench: the two ways took different frames");
  }
  const r1 = (x: number): number => Math.round(x * 10) / 10;
  return { frames, run: RUN, allocNs: r1(median(alloc)), allocFramesNs: r1(median(bulk)), runs: { alloc: alloc.map(r1), allocFrames: bulk.map(r1) } };
}
