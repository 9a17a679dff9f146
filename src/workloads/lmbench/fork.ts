/**
 * An lmbench-style fork microbenchmark (`lat_proc fork`: the parent forks, the child
 * exits at once, the parent waits), run on a process design over parent sizes.
 *
 * One iteration: fork; the scheduler switches to the child, which writes its stack (the
 * return from fork: a copy-on-write fault); the child exits; back to the parent, which
 * waits and writes its stack (its page is its own again: a fault that only re-enables
 * writing). Every cycle comes from the design's ledger (fork, switches, faults, exit,
 * wait) plus translation (STLB hits and walk references from the core's counters). The
 * result is the mean over the iterations after a warm-up, with the breakdown by step.
 *
 * The default parent (an lmbench-sized process; a guess: lmbench does not state its
 * footprint) has 256 KiB of text, 64 KiB of data, a 1 MiB heap and a 64 KiB stack, all
 * touched, in 4 KiB pages. Larger parents grow the heap.
 *
 * @example
 * const r = forkBench(model, { heapBytes: 1 << 20, iterations: 4 });
 * r.microseconds;                      // mean fork+exit+wait
 * r.breakdown.steps["fork.entriesCopied"];
 */
import type { PageSizeCode } from "../../core/types.js";
import { WRITE } from "../../core/types.js";
import { round3, type Breakdown, type Step } from "../../guest/isolation/costs.js";
import type { ProcessModel, ProcHandle } from "../../guest/isolation/model.js";

const KiB = 1024;
const MiB = 1024 * KiB;

export interface ForkBenchOptions {
  /** Heap bytes of the parent (its size knob). Default 1 MiB. */
  heapBytes?: number;
  textBytes?: number;
  dataBytes?: number;
  stackBytes?: number;
  pageSize?: PageSizeCode;
  /** Measured iterations (after one warm-up). Default 4. */
  iterations?: number;
}

/** Defaults: an lmbench-sized parent (a guess, see the module comment). */
export const FORK_BENCH_DEFAULTS = { heapBytes: 1 * MiB, textBytes: 256 * KiB, dataBytes: 64 * KiB, stackBytes: 64 * KiB, iterations: 4 } as const;

/** Parent heap sizes of the scaling series. */
export const FORK_BENCH_SIZES = [256 * KiB, 1 * MiB, 4 * MiB, 16 * MiB, 64 * MiB] as const;

export interface ForkBenchResult {
  /** Bytes the parent maps (text, data, heap, stack). */
  parentBytes: number;
  iterations: number;
  /** Mean cycles and microseconds of one fork + exit + wait round trip. */
  cycles: number;
  microseconds: number;
  /** The fork call alone (mean). */
  forkMicroseconds: number;
  /** Mean per iteration, by step ("fork.entriesCopied", "cowFault.copy4k.dram", ...). */
  breakdown: Breakdown;
}

/** Runs the benchmark on a fresh parent in `model`; the parent exits at the end. */
export function forkBench<P extends ProcHandle>(model: ProcessModel<P>, opts: ForkBenchOptions = {}): ForkBenchResult {
  const o = { ...FORK_BENCH_DEFAULTS, ...opts };
  if (!Number.isInteger(o.iterations) || o.iterations < 1) throw new RangeError(`iterations: ${o.iterations} is not allowed; expected an integer >= 1`);
  const parent = model.spawn(
    { name: `lat_proc-${model.live().length}` },
    { text: o.textBytes, data: o.dataBytes, heap: o.heapBytes, stack: o.stackBytes, pageSize: o.pageSize ?? 0 },
  );
  const parentBytes = o.textBytes + o.dataBytes + o.heapBytes + o.stackBytes;
  // the parent has run: every page touched (written, except text)
  for (const r of ["data", "heap", "stack"]) {
    const va = model.addressOf(parent, r);
    const bytes = r === "data" ? o.dataBytes : r === "heap" ? o.heapBytes : o.stackBytes;
    model.touch(parent, va, bytes, WRITE);
  }
  model.settle();
  const stackTop = (p: P): number => model.addressOf(p, "stack") + o.stackBytes - 64;
  const iteration = (): { cycles: number; fork: number } => {
    const before = model.ledger.breakdown();
    const mark = model.mark();
    const { child, cost } = model.fork(parent);
    model.touch(child, stackTop(child), 8, WRITE);
    model.exit(child, 0);
    model.switchTo(parent);
    if (!model.wait(parent)) throw new Error("lat_proc: the child was not reaped");
    model.touch(parent, stackTop(parent), 8, WRITE);
    model.settle();
    model.chargeTranslation(mark);
    return { cycles: model.ledger.total() - before.cycles, fork: cost.cycles };
  };
  iteration(); // warm-up: the first fork also builds tables a reused root keeps
  const start = model.ledger.breakdown();
  let forkCycles = 0;
  for (let i = 0; i < o.iterations; i++) forkCycles += iteration().fork;
  const diff = diffBreakdown(start, model.ledger.breakdown(), o.iterations, model.costs.frequencyHz);
  model.exit(parent, 0);
  return {
    parentBytes,
    iterations: o.iterations,
    cycles: diff.cycles,
    microseconds: diff.microseconds,
    forkMicroseconds: round3((forkCycles / o.iterations / model.costs.frequencyHz) * 1e6),
    breakdown: diff,
  };
}

/** (after - before) / n, step by step. */
export function diffBreakdown(before: Breakdown, after: Breakdown, n: number, frequencyHz: number): Breakdown {
  const steps: Record<string, Step> = {};
  let total = 0;
  for (const [k, s] of Object.entries(after.steps)) {
    const b = before.steps[k];
    const count = (s.count - (b?.count ?? 0)) / n;
    const cycles = (s.cycles - (b?.cycles ?? 0)) / n;
    if (count === 0 && cycles === 0) continue;
    steps[k] = { count: round3(count), unitCycles: count > 0 ? round3(cycles / count) : 0, cycles: round3(cycles) };
    total += cycles;
  }
  return { cycles: Math.round(total), microseconds: round3((total / frequencyHz) * 1e6), steps };
}

/** Groups a breakdown's steps by their first component ("fork", "exit", "switch", ...). */
export function groupSteps(b: Breakdown, frequencyHz: number): Record<string, { cycles: number; microseconds: number }> {
  const out: Record<string, { cycles: number; microseconds: number }> = {};
  for (const [k, s] of Object.entries(b.steps)) {
    const g = k.split(".")[0];
    out[g] ??= { cycles: 0, microseconds: 0 };
    out[g].cycles += s.cycles;
  }
  for (const v of Object.values(out)) {
    v.cycles = Math.round(v.cycles);
    v.microseconds = round3((v.cycles / frequencyHz) * 1e6);
  }
  return out;
}
