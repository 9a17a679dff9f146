/**
 * YCSB's run phase in the core (assembly/ycsb.ts): the same operations, draws, lookups
 * and accesses as the host's stream (workloads.ts) against the in-place store
 * (store.ts), byte for byte, without JavaScript per access. In JavaScript an access
 * crossed five calls (store, meter, process, simulator, request writer) and the run
 * phase's models cost more than the simulation of their accesses.
 *
 * It applies to a run phase of reads, updates and read-modify-writes (workloads A, B, C
 * and F) with the uniform or (scrambled) zipfian distribution, against a store in layout
 * "record" in a plain guest process of a {@link Simulator}; `open` returns null
 * otherwise and the driver runs the host's path. Those operations never change the
 * store's index, so it is copied into the core once; the core continues the stream's
 * random source, and gives it back when done (the host's stream then goes on from the
 * same point).
 *
 * The protocol with the core: `ycsbRegion` gives room for the buckets and records,
 * which the host writes; `ycsbConfigure`, `ycsbSeed` and `ycsbShare` set the run's
 * parameters; `ycsbRun` writes the accesses of up to n operations into the request
 * buffer while another operation surely fits (the simulator runs the buffer between
 * calls); `ycsbCounter` and `ycsbRngWord` give the results back.
 *
 * @example
 * const run = CoreYcsbRun.open(vm.process, store, stream);
 * if (run) {
 *   run.run(300_000);
 *   const c = run.finish(); // c.hits, c.bytes, ...; the store's counters are updated
 * }
 */
import { Process } from "../../sim/process.js";
import type { Simulator } from "../../sim/simulator.js";
import type { YcsbGenerator } from "../../core/wasm.js";
import type { WorkloadProcess } from "../drivers.js";
import type { KvStore } from "./store.js";
import type { YcsbRunStream } from "./workloads.js";
import type { Rng } from "../../util/rng.js";

// assembly/ycsb.ts flags, operation codes and counters
const F_READ_ALL = 1;
const F_WRITE_ALL = 2;
const F_NETWORK = 4;
const F_ORDERED = 8;
const F_UNIFORM = 16;
const KEY_LENGTH_SLOTS = 1 << 24;
const OP_CODES = { read: 0, update: 1, readmodifywrite: 2 } as const;
const C = { read: 0, update: 1, readmodifywrite: 2, hits: 3, misses: 4, bytes: 5, accesses: 6, accessBytes: 7, storeReads: 8, storeUpdates: 9, notFound: 10 } as const;

/** What a run phase in the core did, in the driver's terms. */
export interface CoreRunCounts {
  read: number;
  update: number;
  readmodifywrite: number;
  hits: number;
  misses: number;
  /** Payload bytes (fields read on hits, fields written). */
  bytes: number;
}

export class CoreYcsbRun {
  private finished = false;

  private constructor(
    private readonly sim: Simulator,
    private readonly g: YcsbGenerator,
    private readonly store: KvStore,
    private readonly rng: Rng,
  ) {}

  /**
   * Hands the store's index and the stream's state to the core, or returns null (nothing
   * changed) when the run phase cannot run there (see the module comment).
   */
  static open(process: WorkloadProcess, store: KvStore, stream: YcsbRunStream): CoreYcsbRun | null {
    // a subclass (an Iso-UniK process) adds work to each access: its accesses go the host's way
    if (!(process instanceof Process) || Object.getPrototypeOf(process) !== Process.prototype) return null;
    const sim = process.vm.sim;
    const params = stream.coreParams();
    const index = store.coreIndex();
    if (!params || !index || params.fieldCount !== store.fieldCount) return null;
    const g = sim.core.ycsbGenerator();
    const nb = index.buckets.length;
    const recordsAt = (nb * 4 + 7) & ~7;
    // key name lengths, remembered for the key numbers a read may choose (up to 16 MiB)
    const lengthSlots = Math.max(0, Math.min(params.limit + 1, KEY_LENGTH_SLOTS));
    const at = g.ycsbRegion(recordsAt + index.records.length + lengthSlots);
    if (at === 0) throw new Error("the core could not allocate its structures: the YCSB run phase needs more than 4 GiB of Wasm memory");
    // the region may have grown the memory: views after it
    new Int32Array(g.memory.buffer, at, nb).set(index.buckets);
    new Uint8Array(g.memory.buffer, at + recordsAt, index.records.length).set(index.records);
    const k = params.keys;
    const flags =
      (params.readAll ? F_READ_ALL : 0) |
      (params.writeAll ? F_WRITE_ALL : 0) |
      (index.network ? F_NETWORK : 0) |
      (params.ordered ? F_ORDERED : 0) |
      (k.kind === "uniform" ? F_UNIFORM : 0);
    const z = k.kind === "scrambled" ? k : { items: 0, zetan: 0, eta: 0, alpha: 0, secondBound: 0, min: 0, count: 1 };
    const u = k.kind === "uniform" ? k : { lb: 0, interval: 0 };
    const perOp = g.ycsbConfigure(
      process.vcpu, nb, index.count, store.fieldCount, store.fieldLength, flags, params.zeroPadding,
      index.tableVa, index.requestBuffer, index.responseBuffer, index.responseOffset,
      u.lb, u.interval, z.items, z.zetan, z.eta, z.alpha, z.secondBound, z.min, z.count, params.limit,
      lengthSlots,
    );
    // an operation must fit in an empty buffer (chains of ~500 000 records do not)
    if (perOp > sim.core.capacity) return null;
    const [a, b, c, d] = params.rng.getState();
    g.ycsbSeed(a, b, c, d);
    params.shares.forEach((s, i) => g.ycsbShare(i, s.share, OP_CODES[s.op]));
    return new CoreYcsbRun(sim, g, store, params.rng);
  }

  /** Runs `ops` operations: their accesses go into the simulator's queue, which runs whenever it cannot take another operation. */
  run(ops: number): void {
    if (this.finished) throw new Error("CoreYcsbRun: finished; open another");
    let left = ops;
    while (left > 0) {
      let n = 0;
      this.sim.fillQueue((at, capacity) => {
        n = this.g.ycsbRun(at, Math.min(left, 2 ** 30), capacity);
        return this.g.ycsbQueued();
      });
      if (this.g.ycsbFailed()) throw new Error("DiscreteGenerator: no value chosen (no values, or weights are not positive)");
      left -= n;
      if (left > 0) this.sim.flush(); // no room for another operation
    }
  }

  /** The counts of the operations run; the store takes its counters and the stream its random source back. */
  finish(): CoreRunCounts {
    if (this.finished) throw new Error("CoreYcsbRun: finished already");
    this.finished = true;
    const g = this.g;
    const n = (i: number): number => g.ycsbCounter(i);
    this.store.addCoreRun({
      reads: n(C.storeReads),
      updates: n(C.storeUpdates),
      notFound: n(C.notFound),
      accesses: n(C.accesses),
      accessBytes: n(C.accessBytes),
      responseOffset: g.ycsbResponseOffset(),
    });
    this.rng.setState([0, 1, 2, 3].map((i) => g.ycsbRngWord(i)));
    return { read: n(C.read), update: n(C.update), readmodifywrite: n(C.readmodifywrite), hits: n(C.hits), misses: n(C.misses), bytes: n(C.bytes) };
  }
}
