/**
 * YCSB's load and run phases in the core (assembly/ycsb.ts, kvstore.ts, btree.ts): the
 * same operations, draws, lookups and accesses as the host's stream (workloads.ts)
 * against the in-place store (store.ts), byte for byte, without JavaScript per access.
 * In JavaScript an access crossed five calls (store, meter, process, simulator, request
 * writer) and the models cost more than the simulation of their accesses.
 *
 * It applies to a store in layout "record" in a plain guest process of a
 * {@link Simulator}: the load phase (inserts of consecutive key numbers named by
 * {@link ycsbKeyNaming}; the store's records all named so), and a run phase of reads,
 * updates and read-modify-writes (workloads A, B, C and F) with the uniform or
 * (scrambled) zipfian distribution. `open` returns null otherwise and the driver runs
 * the host's path. The store's index (buckets, records' metadata, the B+-tree's arrays)
 * is copied into a region of the core's memory and back when the phase ends; the host
 * does what the core leaves to it (doubling the hash index, growing the tree's arrays)
 * between copies. The guest allocator stays on the host: the core calls it
 * (`env.kvMalloc`) for each record and tree node, in the host path's order. The run
 * phase continues the stream's random source and gives it back at the end (the host's
 * stream then goes on from the same point). With the simulator's generator thread, a run
 * phase without inserts or scans is made in parts by this core and a worker's
 * (src/workloads/ycsb/run-thread.ts), with the same requests and counts.
 *
 * @example
 * const run = CoreYcsbRun.open(vm.process, store, stream);
 * if (run) {
 *   run.run(300_000);
 *   const c = run.finish(); // c.hits, c.bytes, ...; the store's counters are updated
 * }
 */
import type { Process } from "../../sim/process.js";
import { RegionLayout, simulatorOf } from "../core-process.js";
import type { Simulator } from "../../sim/simulator.js";
import { coreRegion, type RequestWriter, type YcsbGenerator } from "../../core/wasm.js";
import { REQ_BYTES } from "../../core/layout.js";
import type { WorkloadProcess } from "../drivers.js";
import type { KeyNaming, KvStore } from "./store.js";
import { KEY_LENGTHS_CACHED, type YcsbRunStream, type YcsbWorkloadSpec } from "./workloads.js";
import type { Rng } from "../../util/rng.js";
import { callSize, configureDraws, drawRegion, makePart, partOf, partState, type GeneratorSpec, type GeneratorThread, type PartMaker, type RunPlan } from "./run-thread.js";

/** What a run stream hands the core (YcsbRunStream.coreParams). */
type YcsbCoreParams = NonNullable<ReturnType<YcsbRunStream["coreParams"]>>;

// assembly/ycsb.ts flags, operation codes, counters and load statuses; kvstore.ts counters
const F_READ_ALL = 1;
const F_WRITE_ALL = 2;
const F_UNIFORM = 16;
const F_LATEST = 32;
const OP_CODES = { read: 0, update: 1, readmodifywrite: 2, insert: 3, scan: 4 } as const;
const C = { read: 0, update: 1, readmodifywrite: 2, hits: 3, misses: 4, bytes: 5, insert: 6, scan: 7, scanned: 8 } as const;
const K = { reads: 0, updates: 1, notFound: 2, inserts: 3, records: 4, recordBytes: 5, accesses: 6, accessBytes: 7, responseOffset: 8, scans: 9, scanned: 10 } as const;
const S = { done: 0, full: 1, tree: 2, expand: 3, records: 4 } as const;
/** Key name lengths remembered for the first 2^24 key numbers (16 MiB at most), as the host's stream does. */
const KEY_LENGTH_SLOTS = KEY_LENGTHS_CACHED;
/** The longest key name the store takes. */
const MAX_KEY_LENGTH = 255;

/** What a run phase in the core did, in the driver's terms. */
export interface CoreRunCounts {
  read: number;
  update: number;
  readmodifywrite: number;
  insert: number;
  scan: number;
  /** Records the scans visited. */
  scanned: number;
  hits: number;
  misses: number;
  /** Payload bytes (fields read on hits, fields written). */
  bytes: number;
}

/** Whether a spec's key names fit the store: "user" and at most max(zeroPadding, 20) characters. */
function namesFit(spec: Pick<YcsbWorkloadSpec, "zeroPadding">): boolean {
  return 4 + Math.max(spec.zeroPadding, 20) <= MAX_KEY_LENGTH;
}

type TreeArray = "va" | "keyA" | "keyB" | "count" | "next" | "rid" | "kid" | "isLeaf";
type View = Float64Array | Int32Array | Uint8Array;
/**
 * The B+-tree's arrays in the order the region holds them (doubles first, for their
 * alignment): each one's element type and elements per node (0: one; 1: a slot each;
 * 2: a child each, one more than the slots).
 */
const TREE_ARRAYS: readonly { name: TreeArray; make: (b: ArrayBufferLike, at: number, n: number) => View; bytes: number; per: 0 | 1 | 2 }[] = [
  { name: "va", make: (b, at, n) => new Float64Array(b, at, n), bytes: 8, per: 0 },
  { name: "keyA", make: (b, at, n) => new Float64Array(b, at, n), bytes: 8, per: 1 },
  { name: "keyB", make: (b, at, n) => new Float64Array(b, at, n), bytes: 8, per: 1 },
  { name: "count", make: (b, at, n) => new Int32Array(b, at, n), bytes: 4, per: 0 },
  { name: "next", make: (b, at, n) => new Int32Array(b, at, n), bytes: 4, per: 0 },
  { name: "rid", make: (b, at, n) => new Int32Array(b, at, n), bytes: 4, per: 1 },
  { name: "kid", make: (b, at, n) => new Int32Array(b, at, n), bytes: 4, per: 2 },
  { name: "isLeaf", make: (b, at, n) => new Uint8Array(b, at, n), bytes: 1, per: 0 },
];

/** Elements of a tree array for `nodes` nodes of `slots` slots. */
const treeElements = (per: 0 | 1 | 2, nodes: number, slots: number): number => nodes * (per === 0 ? 1 : per === 1 ? slots + 1 : slots + 2);

/**
 * A store's index copied into the core: `copyIn` lays out the region (buckets, records
 * with room for `moreRecords`, key-name lengths, the tree's arrays) and configures the
 * core; `copyBack` gives the store what the core changed.
 */
class CoreIndex {
  private bucketsAt = 0;
  private recordsAt = 0;
  /** Where each tree array starts in the core's memory (none without a tree). */
  private treeAt: Record<TreeArray, number> | null = null;

  constructor(
    readonly sim: Simulator,
    readonly g: YcsbGenerator,
    readonly store: KvStore,
    private readonly vcpu: number,
    private readonly keys: { zeroPadding: number; ordered: boolean; lengthSlots: number },
  ) {}

  copyIn(moreRecords: number): void {
    const idx = this.store.coreIndex()!;
    const nb = idx.buckets.length;
    const cap = idx.count + moreRecords;
    const tree = idx.tree;
    const t = tree?.coreArrays();
    const region = new RegionLayout();
    const take = (bytes: number): number => region.take(bytes);
    // room for the buckets the index will have at `cap` records (it doubles past its load
    // factor, KvStore.expandIfFull): the region, and so its place in the core's memory,
    // then serves every doubling; a larger one is a new region, and the old one is lost
    // unless it was the last allocation (a 1 GiB index for 8 M records lost three)
    let roomBuckets = nb;
    while (cap > roomBuckets * idx.maxLoadFactor && roomBuckets < 2 ** 28) roomBuckets *= 2;
    const bucketsAt = take(roomBuckets * 4);
    const recordsAt = take(cap * 32);
    const lengthsAt = take(this.keys.lengthSlots);
    const treeAt = {} as Record<TreeArray, number>;
    if (tree && t) for (const a of TREE_ARRAYS) treeAt[a.name] = take(treeElements(a.per, t.capacity, tree.slotsPerNode) * a.bytes);
    const base = coreRegion(region.bytes, (b) => this.g.ycsbRegion(b), `the YCSB store's index for ${cap} records`);
    // the region may have grown the memory: views after it
    const mem = this.g.memory.buffer;
    new Int32Array(mem, base + bucketsAt, nb).set(idx.buckets);
    new Uint8Array(mem, base + recordsAt, idx.records.length).set(idx.records);
    const s = this.store;
    this.g.kvConfigure(
      this.vcpu, base + bucketsAt, nb, base + recordsAt, idx.count, cap, s.fieldCount, s.fieldLength, idx.network ? 1 : 0,
      idx.tableVa, idx.requestBuffer, idx.responseBuffer, idx.responseOffset,
      base + lengthsAt, this.keys.lengthSlots, this.keys.zeroPadding, this.keys.ordered ? 1 : 0,
    );
    if (tree && t) {
      for (const a of TREE_ARRAYS) {
        treeAt[a.name] += base;
        // the nodes in use (the rest is written before it is read, on both sides)
        const n = treeElements(a.per, t.nodes, tree.slotsPerNode);
        a.make(mem, treeAt[a.name], n).set(t[a.name].subarray(0, n) as never);
      }
      this.g.treeConfigure(
        1, treeAt.count, treeAt.isLeaf, treeAt.next, treeAt.va, treeAt.keyA, treeAt.keyB, treeAt.rid, treeAt.kid,
        t.capacity, tree.slotsPerNode, tree.slotBytes, tree.nodeBytes, t.root, t.nodes, t.height,
      );
      this.treeAt = treeAt;
    } else {
      this.g.treeConfigure(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -1, 0, 0);
      this.treeAt = null;
    }
    this.bucketsAt = base + bucketsAt;
    this.recordsAt = base + recordsAt;
  }

  /** The buckets, new records, tree and counters back into the store. */
  copyBack(naming: KeyNaming): void {
    const g = this.g;
    const idx = this.store.coreIndex()!;
    const mem = g.memory.buffer;
    idx.buckets.set(new Int32Array(mem, this.bucketsAt, idx.buckets.length));
    const n = g.kvCounter(K.records);
    const tree = idx.tree;
    if (tree && this.treeAt) {
      const t = tree.coreArrays();
      const nodes = g.treeState(1);
      for (const a of TREE_ARRAYS) t[a.name].set(a.make(mem, this.treeAt[a.name], treeElements(a.per, nodes, tree.slotsPerNode)) as never);
      tree.setShape(g.treeState(0), nodes, g.treeState(2));
    }
    this.store.addCoreRun({
      reads: g.kvCounter(K.reads),
      updates: g.kvCounter(K.updates),
      notFound: g.kvCounter(K.notFound),
      inserts: g.kvCounter(K.inserts),
      records: new Uint8Array(mem, this.recordsAt, n * 32),
      recordBytes: g.kvCounter(K.recordBytes),
      accesses: g.kvCounter(K.accesses),
      accessBytes: g.kvCounter(K.accessBytes),
      responseOffset: g.kvCounter(K.responseOffset),
      scans: g.kvCounter(K.scans),
      scanned: g.kvCounter(K.scanned),
      naming,
    });
  }
}

/**
 * The generator's configuration for a run phase of `operations` operations of `params`
 * against `store` (its index as it is now), whose `run` calls follow `plan`, from the
 * queue of `queue`: what the core takes (`configureDraws`, after the index) and what a
 * generator thread's worker takes (src/workloads/ycsb/run-thread.ts).
 */
export function generatorSpec(
  store: KvStore, params: YcsbCoreParams, vcpu: number, operations: number,
  queue: { queuedRequests: number; queueCapacity: number }, plan: Omit<RunPlan, "total">,
): GeneratorSpec {
  const inserts = params.shares.some((s) => s.op === "insert" && s.share > 0);
  const lengthSlots = Math.max(0, Math.min(params.limit + 1 + (inserts ? operations : 0), KEY_LENGTH_SLOTS));
  const k = params.keys;
  const flags =
    (params.readAll ? F_READ_ALL : 0) | (params.writeAll ? F_WRITE_ALL : 0) | (k.kind === "uniform" ? F_UNIFORM : 0) | (k.kind === "latest" ? F_LATEST : 0);
  const z = k.kind === "scrambled" ? k : { items: 0, zetan: 0, eta: 0, alpha: 0, secondBound: 0, min: 0, count: 1 };
  const u = k.kind === "uniform" ? k : { lb: 0, interval: 0 };
  const idx = store.coreIndex()!;
  return {
    buckets: idx.buckets, records: idx.records, vcpu,
    store: [store.fieldCount, store.fieldLength, idx.network ? 1 : 0, idx.tableVa, idx.requestBuffer, idx.responseBuffer, idx.responseOffset],
    keys: [lengthSlots, params.zeroPadding, params.ordered ? 1 : 0],
    shares: params.shares.map((s) => ({ share: s.share, op: OP_CODES[s.op] })),
    latest: k.kind === "latest" ? [k.items, k.zetan, k.countForZeta, k.eta, k.theta, k.zeta2theta, k.alpha, k.secondBound] : null,
    configure: [flags, u.lb, u.interval, z.items, z.zetan, z.eta, z.alpha, z.secondBound, z.min, z.count, params.limit, params.scan.min, params.scan.interval, idx.maxLoadFactor],
    rng: params.rng.getState(),
    from: queue.queuedRequests, capacity: queue.queueCapacity, plan: { ...plan, total: operations },
  };
}

/** A run phase handed to the core: `run` its operations in steps, then `finish`. */
export interface YcsbPhase {
  /** Runs `ops` operations: their accesses go into the simulator's queue, which runs whenever it cannot take another operation. */
  run(ops: number): void;
  /** The counts of the operations run; the store takes its counters and the stream its random source back. */
  finish(): CoreRunCounts;
}

/** YCSB's run phase in the core; see the module comment. */
export class CoreYcsbRun implements YcsbPhase {
  private finished = false;

  private constructor(
    private readonly index: CoreIndex,
    private readonly rng: Rng,
    private readonly naming: KeyNaming,
    private readonly inserts: boolean,
  ) {}

  /**
   * Hands the store's index and the stream's state to the core for up to `operations`
   * operations, or returns null (nothing changed) when the run phase cannot run there
   * (see the module comment). `naming` names the keys the stream inserts and scans
   * from (ycsbKeyNaming of its spec). With `plan` (how `run` will be called: the
   * driver's progress points) and the simulator's generator thread, a phase without
   * inserts or scans is drawn on that thread (src/workloads/ycsb/run-thread.ts).
   */
  static open(process: WorkloadProcess, store: KvStore, stream: YcsbRunStream, naming: KeyNaming, operations: number, plan?: Omit<RunPlan, "total">): YcsbPhase | null {
    const sim = simulatorOf(process);
    const params = stream.coreParams();
    if (!sim || !params || !store.coreIndex() || params.fieldCount !== store.fieldCount || !namesFit(params)) return null;
    const share = (op: string): number => params.shares.find((s) => s.op === op)?.share ?? 0;
    const inserts = share("insert") > 0;
    const scans = share("scan") > 0;
    // inserts and scans order names in the tree: every record must be named as the stream names keys
    if ((inserts || scans) && !store.allNamedBy(naming)) return null;
    if (scans && !store.coreIndex()!.tree) return null; // the host's scan says the store has no ordered index
    const g = sim.core.ycsbGenerator();
    // a name the core cannot order ("-" and digits: a hash equal to Long.MIN_VALUE) stays on the host
    if (inserts && !params.ordered && g.ycsbNamesCheck(params.limit + 1, operations) !== 0) return null;
    const vcpu = (process as Process).vcpu;
    const spec = generatorSpec(store, params, vcpu, operations, sim, plan ?? { first: operations, every: operations });
    const index = new CoreIndex(sim, g, store, vcpu, { zeroPadding: params.zeroPadding, ordered: params.ordered, lengthSlots: spec.keys[0] });
    // records for the inserts expected, with a margin (a guess; more are made room for when the core asks)
    const expected = inserts ? Math.ceil(operations * share("insert") * 1.2) + 64 : 0;
    const tree = store.coreIndex()!.tree;
    if (tree && inserts && CoreYcsbLoad.nodeReserve > 0) tree.reserveNodes(tree.nodes + Math.ceil((CoreYcsbLoad.nodeReserve * expected) / tree.slotsPerNode) + 16);
    index.copyIn(expected);
    // an operation must fit in an empty buffer (chains of ~500 000 records do not): the store is untouched
    if (configureDraws(g, spec) > sim.queueCapacity) return null;
    if (inserts) setMalloc(sim, g, store);
    const thread = sim.generatorThread;
    if (plan && operations > 0 && !inserts && !scans && thread) {
      // the worker takes a copy of what this core took, and makes parts ahead when it can
      const drawn = thread.start(spec);
      if (drawn) g.ycsbReplay(drawn.entries, drawn.states, drawn.ops);
      return new ThreadYcsbRun(index, thread, spec, params.rng, naming, drawn !== null);
    }
    return new CoreYcsbRun(index, params.rng, naming, inserts);
  }

  run(ops: number): void {
    if (this.finished) throw new Error("CoreYcsbRun: finished; open another");
    const { sim, g, store } = this.index;
    let left = ops;
    while (left > 0) {
      let n = 0;
      const from = sim.queuedRequests;
      sim.fillQueue((at, capacity) => {
        n = g.ycsbRun(at, Math.min(left, 2 ** 30), capacity);
        return g.ycsbQueued();
      });
      if (g.ycsbFailed()) throw new Error(CHOOSER_FAILED);
      left -= n;
      const status = g.ycsbStatus();
      if (status === S.full) {
        if (n === 0 && from === 0) throw new Error(TOO_LARGE);
        sim.flush();
      } else if (status !== S.done) hostTurn(this.index, this.naming, status, Math.ceil(store.size / 4) + 64); // room for a quarter more records (a guess)
    }
  }

  finish(): CoreRunCounts {
    if (this.finished) throw new Error("CoreYcsbRun: finished already");
    this.finished = true;
    const g = this.index.g;
    if (this.inserts) this.index.sim.core.setKvMalloc(null);
    this.index.copyBack(this.naming);
    this.rng.setState([0, 1, 2, 3].map((i) => g.ycsbRngWord(i)));
    return runCounts((i) => g.ycsbCounter(i));
  }
}

const CHOOSER_FAILED = "DiscreteGenerator: no value chosen (no values, or weights are not positive)";
const TOO_LARGE = "CoreYcsbRun: an operation may make more requests than the core's buffer holds";

/** The run's counts from the generator's counters (ycsbCounter). */
function runCounts(n: (i: number) => number): CoreRunCounts {
  return {
    read: n(C.read), update: n(C.update), readmodifywrite: n(C.readmodifywrite), insert: n(C.insert), scan: n(C.scan), scanned: n(C.scanned),
    hits: n(C.hits), misses: n(C.misses), bytes: n(C.bytes),
  };
}

/**
 * A run phase made in parts by this core and the simulator's generator thread, each
 * part by whichever claims it first: a worker's part goes into the queue where
 * `CoreYcsbRun.run` would have written it, and the queue runs where it would have run
 * (src/workloads/ycsb/run-thread.ts).
 */
class ThreadYcsbRun implements YcsbPhase {
  private finished = false;
  private call = 0;
  private readonly writer: RequestWriter;
  /** This core's generator: its state is after the part it made last. */
  private readonly maker: PartMaker;
  /** The header of the last part queued (null: none yet). */
  private last: Float64Array | null = null;

  constructor(
    private readonly index: CoreIndex,
    private readonly thread: GeneratorThread,
    private readonly spec: GeneratorSpec,
    private readonly rng: Rng,
    private readonly naming: KeyNaming,
    replay: boolean,
  ) {
    this.writer = index.sim.core.writer();
    this.maker = { g: index.g, made: -1, replay };
  }

  run(ops: number): void {
    if (this.finished) throw new Error("CoreYcsbRun: finished; open another");
    const want = callSize(this.spec.plan, this.call++);
    if (want !== ops) throw new RangeError(`CoreYcsbRun: run(${ops}) does not follow the plan it was opened with; expected ${want ? `run(${want})` : "no more operations"}`);
    const { sim } = this.index;
    for (let left = ops; left > 0; ) {
      const got = this.thread.take();
      const from = sim.queuedRequests;
      if (got.part) {
        // the worker's: into the queue where this core would have written it (something else queued: after it)
        const { header: h, requests } = got.part;
        const n = requests.length / REQ_BYTES;
        if (from !== partOf(h).start && from + n > sim.queueCapacity) sim.flush();
        // (a copy: the slot is the worker's again once queued; and set before the queue can run and fail)
        this.last = h.slice();
        try {
          sim.fillQueue((at) => {
            this.writer.copy(at, requests);
            return at + n;
          });
        } finally {
          this.thread.queued();
        }
      } else {
        // this core's to make, straight into the queue
        sim.fillQueue((at) => {
          makePart(this.maker, this.spec, got.k, got.prev, at, got.header);
          this.last = got.header.slice();
          this.thread.made();
          return this.index.g.ycsbQueued();
        });
      }
      const { ops: n, status, failed } = partOf(this.last!);
      if (failed) throw new Error(CHOOSER_FAILED);
      left -= n;
      if (status === S.full) {
        if (n === 0 && from === 0) throw new Error(TOO_LARGE);
        sim.flush();
      }
    }
  }

  finish(): CoreRunCounts {
    if (this.finished) throw new Error("CoreYcsbRun: finished already");
    this.finished = true;
    // a phase ended early (an error): the worker drops what it made ahead
    this.thread.stop();
    const last = this.last ? partState(this.last) : null;
    const kv = (i: number): number => (last ? last.kv[i]! : 0);
    const store = this.index.store;
    const idx = store.coreIndex()!;
    store.addCoreRun({
      reads: kv(K.reads), updates: kv(K.updates), notFound: kv(K.notFound), inserts: 0, records: idx.records, recordBytes: 0,
      accesses: kv(K.accesses), accessBytes: kv(K.accessBytes), responseOffset: last ? kv(K.responseOffset) : idx.responseOffset,
      scans: 0, scanned: 0, naming: this.naming,
    });
    if (last) this.rng.setState(last.rng);
    return runCounts((i) => (last ? last.ycsb[i]! : 0));
  }
}

/**
 * Has the simulator's generator thread draw the first operations of `stream`'s run
 * phase (`operations`) into this core's memory while it has nothing else to do (the
 * load phase), when the thread will make that phase (no inserts, no scans) and can
 * write there (the core's memory is shared: a line thread's core). The phase takes
 * them if its parameters and random state are still those (GeneratorThread.start).
 */
function drawAhead(sim: Simulator, store: KvStore, stream: YcsbRunStream, operations: number, vcpu: number): void {
  const thread = sim.generatorThread;
  const g = sim.core.ycsbGenerator();
  if (!thread || !(g.memory.buffer instanceof SharedArrayBuffer) || !(operations > 0)) return;
  const params = stream.coreParams();
  if (!params || params.fieldCount !== store.fieldCount || !namesFit(params)) return;
  if (params.shares.some((s) => (s.op === "insert" || s.op === "scan") && s.share > 0)) return;
  const ops = Math.min(operations, CoreYcsbLoad.drawAheadMax);
  if (!(ops > 0)) return;
  const region = drawRegion(g, ops);
  if (!region) return;
  // (the memory as it is now: the region may have grown it)
  const memory = g.memory.buffer as SharedArrayBuffer;
  // (its draws only: the index is not the run phase's yet, and not read)
  const spec = { ...generatorSpec(store, params, vcpu, operations, sim, { first: operations, every: operations }), buckets: new Int32Array([-1]), records: new Uint8Array(0) };
  thread.drawAhead({ spec, ops, capacity: sim.queueCapacity, memory, ...region });
}

/**
 * The core's allocations go to the store's allocator: the host's queue is the core's
 * until the call (the allocator may edit page tables; it runs nothing), and runs if
 * the operation's remaining requests might not fit.
 */
function setMalloc(sim: Simulator, g: YcsbGenerator, store: KvStore): void {
  sim.core.setKvMalloc((bytes, meta, queued, room) => {
    sim.setQueued(queued);
    const va = store.mallocFor(bytes, meta === 1);
    if (sim.queuedRequests + room > sim.queueCapacity) sim.flush();
    g.ycsbRequeue(sim.queuedRequests);
    return va;
  });
}

/** What the core left to the host (a status of assembly/ycsb.ts): the index back, the host's part, the index in again with room for `moreRecords`. */
function hostTurn(index: CoreIndex, naming: KeyNaming, status: number, moreRecords: number): void {
  index.copyBack(naming);
  const store = index.store;
  if (status === S.expand) store.expandIfFull();
  else if (status === S.tree) {
    const tree = store.coreIndex()!.tree!;
    tree.reserveNodes(Math.max(64, tree.coreArrays().capacity * 2));
  }
  index.copyIn(moreRecords);
}

/** YCSB's load phase in the core: the inserts of consecutive key numbers; see the module comment. */
export class CoreYcsbLoad {
  /**
   * Tree nodes reserved before a load, per insert per slot of a node (2.5: nodes about
   * 40 % full; YCSB's hashed keys fill them about 70 %); more are made room for when
   * the core asks. 0 makes the core ask at once (tests of that path).
   */
  static nodeReserve = 2.5;
  /**
   * A run phase's operations a generator thread draws ahead during the load: at most
   * this many (a guess; 48 B each in each of two cores: 24 MiB). Past them, the phase
   * draws as it goes.
   */
  static drawAheadMax = 2 ** 19;
  private finished = false;
  private next: number;
  private left: number;

  private constructor(
    private readonly index: CoreIndex,
    private readonly naming: KeyNaming,
    first: number,
    count: number,
  ) {
    this.next = first;
    this.left = count;
  }

  /**
   * Hands the store's index to the core for `count` inserts of the key numbers from
   * `first`, named by `naming` (ycsbKeyNaming of `spec`), or returns null (nothing
   * changed) when they cannot run there. With `next`, the run phase that follows
   * (`operations` of `stream`, not drawn from yet), the simulator's generator thread
   * draws that phase's operations ahead while the load runs, when it will draw that
   * phase (src/workloads/ycsb/run-thread.ts).
   *
   * @example
   * const load = CoreYcsbLoad.open(vm.process, store, spec, ycsbKeyNaming(spec), 0, 50_000);
   * try { load?.run(50_000); } finally { load?.finish(); }
   */
  static open(
    process: WorkloadProcess, store: KvStore, spec: YcsbWorkloadSpec, naming: KeyNaming, first: number, count: number,
    next?: { stream: YcsbRunStream; operations: number },
  ): CoreYcsbLoad | null {
    const sim = simulatorOf(process);
    if (!sim || !store.coreIndex() || !namesFit(spec) || !store.allNamedBy(naming)) return null;
    if (!(Number.isSafeInteger(first) && first >= 0 && Number.isSafeInteger(first + count))) return null;
    const g = sim.core.ycsbGenerator();
    const ordered = spec.insertOrder !== "hashed";
    // a name the core cannot order ("-" and digits: a hash equal to Long.MIN_VALUE) stays on the host
    if (!ordered && g.ycsbNamesCheck(first, count) !== 0) return null;
    const lengthSlots = Math.max(0, Math.min(first + count, KEY_LENGTH_SLOTS));
    const index = new CoreIndex(sim, g, store, (process as Process).vcpu, { zeroPadding: spec.zeroPadding, ordered, lengthSlots });
    // room for the nodes the inserts will likely need (a node at least half full), so that the arrays seldom grow
    const tree = store.coreIndex()!.tree;
    if (tree && CoreYcsbLoad.nodeReserve > 0) tree.reserveNodes(tree.nodes + Math.ceil((CoreYcsbLoad.nodeReserve * count) / tree.slotsPerNode) + 16);
    index.copyIn(count);
    setMalloc(sim, g, store);
    if (next) drawAhead(sim, store, next.stream, next.operations, (process as Process).vcpu);
    return new CoreYcsbLoad(index, naming, first, count);
  }

  /** The next `ops` inserts (at most those left). */
  run(ops: number): void {
    if (this.finished) throw new Error("CoreYcsbLoad: finished; open another");
    const { sim, g, store } = this.index;
    let left = Math.min(ops, this.left);
    const maxLoad = store.coreIndex()!.maxLoadFactor;
    while (left > 0) {
      const n = g.ycsbLoad(sim.queuedRequests, this.next, Math.min(left, 2 ** 30), sim.queueCapacity, maxLoad);
      sim.setQueued(g.ycsbQueued());
      this.next += n;
      this.left -= n;
      left -= n;
      const status = g.ycsbStatus();
      if (status === S.full) sim.flush();
      else if (status !== S.done) hostTurn(this.index, this.naming, status, this.left);
    }
  }

  /** Gives the store its index back (also after an error: what the core did so far). */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.index.sim.core.setKvMalloc(null);
    this.index.copyBack(this.naming);
  }
}
