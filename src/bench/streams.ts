/**
 * The benchmark streams of REFERENCE.md section 9: seeded random reads over consecutive
 * 4 KiB pages, all mapped beforehand. Requests are generated into the core's buffer in
 * chunks; only the simulation is timed.
 */
import { Rng } from "../util/rng.js";

export interface Stream {
  name: "hit" | "stlb" | "walk";
  pages: number;
  requests: number;
}

export const STREAMS: readonly Stream[] = [
  { name: "hit", pages: 32, requests: 100_000_000 },
  { name: "stlb", pages: 1024, requests: 100_000_000 },
  { name: "walk", pages: 1 << 20, requests: 20_000_000 },
];

/** Base virtual address of the streams' pages (above the zero page, 4 GiB aligned). */
export const STREAM_BASE = 2 ** 32;

/** Fills `out` with `n` addresses of `stream`: a random page, a random 8-byte word in it. */
export function streamChunk(rng: Rng, pages: number, out: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const page = rng.int(pages);
    out[i] = STREAM_BASE + page * 4096 + (rng.u32() & 0xff8);
  }
}
