/**
 * Slab fast-path speed: allocations plus frees per second of one size class, run
 * through the core's request buffer as the guest allocators' batches run them
 * (request kinds 3 and 4). A round allocates a batch of objects, then frees them; only
 * the core's runs are timed (the buffer is written before each run); the figure is the
 * median over runs of (allocations + frees) / time.
 *
 * Cases (64 B objects, the same class every time):
 * - `ucat-2m` (the headline): UCat's slabs, 2 MiB pages, no in-page header; frees in
 *   allocation order, as a plain `for (i...) free(p[i])` loop does;
 * - `osv-4k`: OSv's pools, 4 KiB pages with a 40 B header, objects from the page end;
 *   frees in allocation order;
 * - `osv-4k-shuffled`: the same with frees in a seeded random order (each free lands
 *   on a random page's record and bitmap word): the unfriendly case.
 *
 * The batch is 65,536 objects (4 MiB of objects, a 1 MiB slice of the request buffer):
 * a guess at a server's live set per round, small enough that the slab records stay in
 * the last-level cache; a batch of the buffer's full 2^20 requests streams 16 MiB of
 * requests through the cache and measures memory bandwidth more than the slab code.
 *
 * @example
 * const r = await benchSlab({ runs: 5, scale: 1 });
 * r.opsPerSecond; // the ucat-2m case
 */
import { WasmCore } from "../core/wasm.js";
import { modelConfig } from "../core/models.js";
import { KIND_ALLOC, KIND_FREE } from "../core/layout.js";
import { Rng } from "../util/rng.js";

export interface SlabCaseResult {
  /** Median over runs of (allocations + frees) per second. */
  opsPerSecond: number;
  /** Medians of the allocation and the free halves alone. */
  allocsPerSecond: number;
  freesPerSecond: number;
  /** Operations per run. */
  ops: number;
  runs: number[];
}

export interface SlabResult extends SlabCaseResult {
  /** Objects allocated (then freed) per round. */
  batch: number;
  objectBytes: number;
  cases: Record<SlabCaseName, SlabCaseResult>;
}

export type SlabCaseName = "ucat-2m" | "osv-4k" | "osv-4k-shuffled";

interface SlabCase {
  pageShift: number;
  header: number;
  fromEnd: boolean;
  shuffled: boolean;
  /** Share of the headline's operations this case runs (secondary cases run fewer). */
  share: number;
}

const CASES: Record<SlabCaseName, SlabCase> = {
  "ucat-2m": { pageShift: 21, header: 0, fromEnd: false, shuffled: false, share: 1 },
  "osv-4k": { pageShift: 12, header: 40, fromEnd: true, shuffled: false, share: 0.25 },
  "osv-4k-shuffled": { pageShift: 12, header: 40, fromEnd: true, shuffled: true, share: 0.25 },
};

const BATCH = 1 << 16;
const OBJ = 64;
const HEAP_BASE = 2 ** 36;

async function prepared(c: SlabCase): Promise<WasmCore> {
  const core = await WasmCore.create({ ...modelConfig("default"), slabHeaps: 1 });
  core.slabHeapCreate(0, c.pageShift);
  core.slabClassCreate(0, 0, OBJ, c.header, c.fromEnd);
  const perPage = Math.floor(((1 << c.pageShift) - c.header) / OBJ);
  const pages = Math.ceil(BATCH / perPage);
  for (let p = 0; p < pages; p++) core.slabAddPage(0, 0, HEAP_BASE + p * 2 ** c.pageShift);
  return core;
}

/** One run of `ops` operations (half allocations, half frees): [ops/s, allocs/s, frees/s]. */
async function timeSlab(c: SlabCase, ops: number, seed: number): Promise<[number, number, number]> {
  const core = await prepared(c);
  const rng = new Rng(seed);
  const addrs = new Float64Array(BATCH);
  let msA = 0;
  let msF = 0;
  const round = (timed: boolean): void => {
    let w = core.writer();
    for (let i = 0; i < BATCH; i++) w.put(i, 0, KIND_ALLOC, 0, 0);
    let t0 = performance.now();
    if (core.runBufferAll(BATCH) !== null) throw new Error("slab benchmark: an allocation raised an event");
    if (timed) msA += performance.now() - t0;
    w = core.writer();
    for (let i = 0; i < BATCH; i++) addrs[i] = w.address(i);
    if (c.shuffled) {
      for (let i = BATCH - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        const t = addrs[i]!;
        addrs[i] = addrs[j]!;
        addrs[j] = t;
      }
    }
    for (let i = 0; i < BATCH; i++) w.put(i, addrs[i]!, KIND_FREE, 0, 0);
    t0 = performance.now();
    if (core.runBufferAll(BATCH) !== null) throw new Error("slab benchmark: a free raised an event");
    if (timed) msF += performance.now() - t0;
  };
  // warm-up: V8 moves a Wasm function to its optimising tier between calls
  for (let k = 0; k < 16; k++) round(false);
  let done = 0;
  while (done < ops) {
    round(true);
    done += 2 * BATCH;
  }
  return [done / ((msA + msF) / 1000), done / 2 / (msA / 1000), done / 2 / (msF / 1000)];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

async function runCase(c: SlabCase, o: { runs: number; scale: number }): Promise<SlabCaseResult> {
  const ops = Math.max(4 * BATCH, Math.round(100_000_000 * o.scale * c.share));
  const runs: [number, number, number][] = [];
  for (let r = 0; r < o.runs; r++) runs.push(await timeSlab(c, ops, 1 + r));
  return {
    opsPerSecond: Math.round(median(runs.map((r) => r[0]))),
    allocsPerSecond: Math.round(median(runs.map((r) => r[1]))),
    freesPerSecond: Math.round(median(runs.map((r) => r[2]))),
    ops,
    runs: runs.map((r) => Math.round(r[0])),
  };
}

/** Every case; the top-level figures are the headline case's (`ucat-2m`). */
export async function benchSlab(o: { runs: number; scale: number; onProgress?: (label: string) => void }): Promise<SlabResult> {
  const cases = {} as Record<SlabCaseName, SlabCaseResult>;
  for (const [name, c] of Object.entries(CASES) as [SlabCaseName, SlabCase][]) {
    o.onProgress?.(`slab ${name}`);
    cases[name] = await runCase(c, o);
  }
  return { ...cases["ucat-2m"], batch: BATCH, objectBytes: OBJ, cases };
}
