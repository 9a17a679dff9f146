/**
 * Workload drivers: memaslap against the memcached server model, and YCSB A-F against the
 * in-place key-value store model or the memcached model (through the YCSB memcached
 * binding's encoding), all inside one guest process. Each run is seeded and
 * deterministic; it reports operation counts, hits and misses, payload bytes, and the
 * accesses the models issued, and calls `onProgress(done, total, phase)` every
 * `progressEvery` operations for a progress bar.
 *
 * Accesses go to the process as they happen; the simulator queues them and runs them in
 * batches when its request buffer is full. The drivers flush only where the memory under
 * queued accesses is about to be freed (hash table growth, inside the models) and once at
 * the end, so the accesses of a run have all been simulated when it returns.
 *
 * Defaults (docs/workloads.md): memaslap's own (16 connections x 10240 objects, 64 B keys,
 * 1024 B values, get:set 9:1) for 2,000,000 operations (a guess: memaslap itself runs for
 * 600 s; 2M operations fill its windows, which takes about ten times their 163,840
 * objects); YCSB with 100,000 records and 1,000,000 operations (YCSB's workload files say
 * 1000 and 1000, too small for a memory-system study; a guess at a realistic size), the
 * rest as in YCSB's workload files.
 *
 * @example
 * const sim = await Simulator.create({ tiers: [{ name: "dram", preset: "dram", capacity: 8 * GiB }] });
 * const vm = sim.createVm({ policy: "ucat", nodes: [{ tier: "dram", bytes: 2 * GiB }] });
 * const r = runMemaslap(vm.process, { operations: 100_000, onProgress: (d, t) => bar.update(d) });
 * r.hits / (r.hits + r.misses);   // get hit ratio
 * const y = runYcsb(vm.process, "a", { recordCount: 10_000, operationCount: 100_000 });
 * y.accesses;                      // reads and writes issued, load phase included
 */
import { Memaslap, memaslapIssues, sizeIssue, MEMASLAP_DEFAULT_KEY_SIZE, MEMASLAP_DEFAULT_VALUE_SIZE, MEMASLAP_MAX_VALUE_SIZE, MEMASLAP_MIN_KEY_SIZE, type MemaslapOptions } from "./memcached/memaslap.js";
import { MemcachedServer, memcachedIssues, type MemcachedOptions, type MemcachedStats, type SlabClassStats } from "./memcached/server.js";
import { DEFAULT_SLAB_SETTINGS, itemSize } from "./memcached/slabs.js";
import { formatIssue, type PresetIssue } from "../cost/schema.js";
import { CoreMemcachedBatch, CoreMemslap } from "./memcached/core-run.js";
import { KvStore, type KvStoreOptions, type KvStoreStats } from "./ycsb/store.js";
import type { MeteredProcess, MeterCounts } from "./metered.js";
import { Rng } from "../util/rng.js";
import { CoreYcsbLoad, CoreYcsbRun } from "./ycsb/core-run.js";
import {
  YcsbLoadStream,
  YcsbRunStream,
  memcachedRequests,
  ycsbKeyNaming,
  ycsbNameIssue,
  ycsbSpecIssues,
  ycsbWorkload,
  YCSB_WORKLOADS,
  type YcsbOperation,
  type YcsbWorkloadName,
  type YcsbWorkloadSpec,
} from "./ycsb/workloads.js";

/**
 * What a workload needs of a guest process: `Process` (src/sim/process.ts) has it all.
 * `vm.sim.flush()` runs the queued accesses; without it (a test double) nothing is
 * flushed.
 */
export interface WorkloadProcess {
  malloc(size: number, opts?: { tier?: string }): number;
  free(va: number): void;
  read(va: number, bytes: number): void;
  write(va: number, bytes: number): void;
  fetch?(va: number, bytes: number): void;
  readonly vm?: { readonly sim: { flush(): void } };
}

/** Called every `progressEvery` operations and at the end of each phase. */
export type ProgressCallback = (done: number, total: number, phase: "load" | "run") => void;

/** memaslap operations when none are given (a guess; see the module comment). */
export const MEMASLAP_RUN_DEFAULT_OPERATIONS = 2_000_000;
/** YCSB records when none are given (a guess; YCSB's workload files say 1000). */
export const YCSB_RUN_DEFAULT_RECORDS = 100_000;
/** YCSB operations when none are given (a guess; YCSB's workload files say 1000). */
export const YCSB_RUN_DEFAULT_OPERATIONS = 1_000_000;
/** Operations between progress callbacks. */
export const DEFAULT_PROGRESS_EVERY = 16_384;

/** The result of a driver run (plain data; JSON-serialisable, deterministic for a seed). */
export interface WorkloadRunResult {
  /** "memslap" or "ycsb-a" .. "ycsb-f". */
  workload: string;
  backend: "memcached" | "kv-store";
  seed: number;
  /** Load-phase operations (YCSB inserts; 0 for memaslap). */
  loadOperations: number;
  /** Run-phase operations. */
  operations: number;
  /** Run-phase operations by type: get/set (memaslap), read/update/insert/scan/readmodifywrite (YCSB). */
  ops: Record<string, number>;
  /** Point reads (memaslap gets; YCSB reads and read-modify-writes' reads) that found their key, and those that did not. */
  hits: number;
  misses: number;
  /** Run-phase operations the backend cannot do (YCSB scans over memcached: the binding does not implement scan). */
  unsupported: number;
  /** Records read by scans. */
  scannedRecords: number;
  /** Payload bytes of the run phase: values stored and returned (memcached), fields written and read (store). */
  bytesRequested: number;
  /**
   * Accesses issued (reads, writes, fetches), both phases; and those of the load phase.
   * A model the driver made counts from its construction (e.g. zeroing its hash table,
   * counted with the load phase); a model passed in counts from the start of the run.
   */
  accesses: number;
  loadAccesses: number;
  /** Bytes of those accesses. */
  accessBytes: number;
  /** Guest mallocs, frees and bytes malloc'ed by the model, both phases. */
  mallocs: number;
  frees: number;
  mallocBytes: number;
  /** The memcached model's `stats` and `stats slabs` at the end (memcached backend). */
  memcached?: { stats: MemcachedStats; slabs: SlabClassStats[] };
  /** The store's statistics at the end (kv-store backend). */
  store?: KvStoreStats;
}

/** Options of {@link runMemaslap}: memaslap's (src/workloads/memcached/memaslap.ts) plus the run's. */
export interface MemaslapRunOptions extends MemaslapOptions {
  /** Seed of memaslap's random choices (default 1). */
  seed?: number;
  /** The server to load: an existing model, or options for a new one (default: memcached's defaults). */
  server?: MemcachedServer | MemcachedOptions;
  onProgress?: ProgressCallback;
  /** Operations between progress callbacks (default 16384). */
  progressEvery?: number;
  /**
   * Run the memcached model in the core when the process allows it (default true; the
   * results are the same: false runs the host's model, the reference).
   */
  inCore?: boolean;
}

/**
 * memaslap against a memcached model in `process`: sets store new keys, gets ask for keys
 * already set (memaslap.ts has the schedule); a get the server has evicted is a miss.
 * Operations default to 2,000,000 (split evenly over the connections, as memaslap's
 * `--execute_number`).
 *
 * @example
 * const r = runMemaslap(vm.process, { operations: 1_000_000, server: { memoryLimit: 1024 * MiB } });
 * r.memcached!.slabs[0].chunkSize; // 1184
 */
export function runMemaslap(process: WorkloadProcess, opts: MemaslapRunOptions = {}): WorkloadRunResult {
  refuse(memaslapRunIssues(opts));
  const seed = opts.seed ?? 1;
  const every = opts.progressEvery ?? DEFAULT_PROGRESS_EVERY;
  const operations = opts.operations ?? MEMASLAP_RUN_DEFAULT_OPERATIONS;
  const { seed: _s, server: serverOpt, onProgress, progressEvery: _p, inCore, ...msOpts } = opts;
  const ms = new Memaslap(seed, { ...msOpts, operations });
  // A server made here counts from its construction (its hash table); a given one from now.
  const given = serverOpt instanceof MemcachedServer;
  const server = given ? serverOpt : new MemcachedServer(process, serverOpt);
  const before = given ? server.meter.counts() : ZERO;
  // memaslap runs floor(operations / concurrency) per connection, plus a warmup when the mix has no sets.
  const perConn = Math.floor(operations / ms.concurrency);
  const total = perConn * ms.concurrency + (ms.setProp < 0.001 ? ms.concurrency * ms.windowSize : 0);
  let gets = 0;
  let sets = 0;
  let hits = 0;
  let misses = 0;
  let bytes = 0;
  let done = 0;
  let next = every;
  // (every item fits a slab chunk, as the core's model needs: memaslapRunIssues saw to it)
  const mc = inCore === false ? null : CoreMemslap.open(process, server, ms);
  if (mc) {
    try {
      for (;;) {
        const c = mc.run(next - done);
        done += c.gets + c.sets;
        if (done < next) break;
        next += every;
        onProgress?.(done, total, "run");
      }
    } finally {
      mc.finish();
    }
    ({ gets, sets, hits, misses, bytes } = mc.counts());
  }
  for (let r = mc ? undefined : ms.nextShared(); r; r = ms.nextShared()) {
    if (r.op === "get") {
      gets++;
      const v = server.get(r.keyId, r.keySize, r.conn);
      if (v >= 0) {
        hits++;
        bytes += v;
      } else misses++;
    } else {
      sets++;
      server.store("set", r.keyId, r.keySize, r.valueSize, r.conn);
      bytes += r.valueSize;
    }
    if (++done === next) {
      next += every;
      onProgress?.(done, total, "run");
    }
  }
  process.vm?.sim.flush();
  onProgress?.(done, total, "run");
  const after = server.meter.counts();
  return {
    workload: "memslap",
    backend: "memcached",
    seed,
    loadOperations: 0,
    operations: done,
    ops: { get: gets, set: sets },
    hits,
    misses,
    unsupported: 0,
    scannedRecords: 0,
    bytesRequested: bytes,
    accesses: after.accesses - before.accesses,
    loadAccesses: 0,
    accessBytes: after.accessBytes - before.accessBytes,
    mallocs: after.mallocs - before.mallocs,
    frees: after.frees - before.frees,
    mallocBytes: after.mallocBytes - before.mallocBytes,
    memcached: { stats: server.stats(), slabs: server.statsSlabs() },
  };
}

/** The memcached model's commands as the core numbers them (core-run.ts CoreRequest). */
const MEMCACHED_OPS = { get: 0, set: 1, add: 2, replace: 3 } as const;

/**
 * Every problem of `opts` that {@link runMemaslap} would refuse (paths under the
 * options: `concurrency`, `valueSize`, `server.memoryLimit`, ...), without running
 * anything: memaslap's options, the server's, and whether the largest item fits a slab
 * chunk (the models store no item chunked).
 *
 * @example
 * memaslapRunIssues({ valueSize: 1_000_000 })[0].allowed; // "expected an integer in 1..524165 (the largest value whose item ...)"
 */
export function memaslapRunIssues(opts: MemaslapRunOptions = {}): PresetIssue[] {
  const { seed, server, onProgress: _o, progressEvery: every, inCore: _i, ...ms } = opts;
  const issues = runIssues(seed, every);
  const own = memaslapIssues(ms);
  const given = server instanceof MemcachedServer;
  if (!given) issues.push(...memcachedIssues(server).map((i) => ({ ...i, path: `server.${i.path}` })));
  const keySize = ms.keySize ?? MEMASLAP_DEFAULT_KEY_SIZE;
  // memcached stores an item above slab_chunk_max as chained chunks, which the models do
  // not: the longest key with the largest value must fit one (with a bad key size, the
  // shortest key memaslap allows)
  const keys = own.some((i) => i.path === "keySize") ? null : typeof keySize === "number" ? keySize : keySize.max;
  const slabs = given ? server.settings : { ...DEFAULT_SLAB_SETTINGS, ...server?.slabs };
  const fit = Math.min(MEMASLAP_MAX_VALUE_SIZE, slabs.slabChunkSizeMax - itemSize(keys ?? MEMASLAP_MIN_KEY_SIZE, 0, { useCas: slabs.useCas }));
  const why =
    fit < MEMASLAP_MAX_VALUE_SIZE
      ? ` (the largest value whose item, with keys of ${keys === null ? `at least ${MEMASLAP_MIN_KEY_SIZE}` : keys} B, fits memcached's slab_chunk_max of ${slabs.slabChunkSizeMax} B; memcached stores larger items chunked, which the model does not)`
      : "";
  const value = sizeIssue("valueSize", ms.valueSize ?? MEMASLAP_DEFAULT_VALUE_SIZE, 1, fit, why);
  return [...issues, ...own.filter((i) => i.path !== "valueSize"), ...(value ? [value] : [])];
}

/**
 * Every problem of `opts` that {@link runYcsb} would refuse for workload `workload`
 * (paths under the options: `recordCount`, `spec.fieldCount`, `memcached.memoryLimit`,
 * ...; `workload` for the workload's name), without running anything.
 *
 * @example
 * ycsbRunIssues("d", { recordCount: 0 })[0].path; // "recordCount"
 */
export function ycsbRunIssues(workload: YcsbWorkloadName, opts: YcsbRunOptions = {}): PresetIssue[] {
  const issues = runIssues(opts.seed, opts.progressEvery);
  const name = ycsbNameIssue(workload);
  if (name) issues.push(name);
  else {
    const spec = { ...YCSB_WORKLOADS[workload], recordCount: opts.recordCount ?? YCSB_RUN_DEFAULT_RECORDS, operationCount: opts.operationCount ?? YCSB_RUN_DEFAULT_OPERATIONS, ...opts.spec };
    // a property given in spec is spec's; the counts otherwise the options' own
    const given = (p: string): boolean => opts.spec !== undefined && Object.prototype.hasOwnProperty.call(opts.spec, p);
    issues.push(...ycsbSpecIssues(spec).map((i) => (given(i.path) || !["recordCount", "operationCount"].includes(i.path) ? { ...i, path: `spec.${i.path}` } : i)));
  }
  const backend = opts.backend ?? "kv-store";
  if (backend !== "kv-store" && backend !== "memcached") issues.push({ path: "backend", value: backend, allowed: `expected "kv-store" or "memcached"` });
  if (backend === "memcached" && !(opts.memcached instanceof MemcachedServer)) {
    issues.push(...memcachedIssues(opts.memcached).map((i) => ({ ...i, path: `memcached.${i.path}` })));
  }
  // the memcached server's options with another store would be ignored: the run would not be the one asked for
  if (backend === "kv-store" && opts.memcached !== undefined) {
    issues.push({ path: "memcached", value: opts.memcached, allowed: `expected it only with backend "memcached" (the backend is "kv-store")` });
  }
  return issues;
}

/** The problems of a run's own options: its seed and how often it reports progress. */
function runIssues(seed: number | undefined, every: number | undefined): PresetIssue[] {
  const issues: PresetIssue[] = [];
  if (seed !== undefined && !(Number.isInteger(seed) && seed >= 0 && seed <= 0xffffffff)) issues.push({ path: "seed", value: seed, allowed: "expected an integer in 0..4294967295" });
  if (every !== undefined && !(Number.isInteger(every) && every >= 1)) issues.push({ path: "progressEvery", value: every, allowed: "expected a positive integer" });
  return issues;
}

/** Throws every problem at once, one line each. */
function refuse(issues: readonly PresetIssue[]): void {
  if (issues.length) throw new RangeError(issues.map(formatIssue).join("\n"));
}

/** Options of {@link runYcsb}. */
export interface YcsbRunOptions {
  /** Seed of the run phase's random choices and of the field contents (default 1). */
  seed?: number;
  /** `recordcount` (default 100,000). */
  recordCount?: number;
  /** `operationcount` (default 1,000,000). */
  operationCount?: number;
  /** Any other CoreWorkload property (e.g. `{ requestDistribution: "uniform" }`). */
  spec?: Partial<YcsbWorkloadSpec>;
  /** "kv-store" (default): the in-place store; "memcached": the memcached model through the YCSB memcached binding. */
  backend?: "kv-store" | "memcached";
  /** The store (backend "kv-store"): an existing one, or options (its fields come from the workload). */
  store?: KvStore | Omit<KvStoreOptions, "fieldCount" | "fieldLength">;
  /** The server (backend "memcached"): an existing one, or options (default: memcached's defaults, -m 64). */
  memcached?: MemcachedServer | MemcachedOptions;
  /** Run the load phase (recordCount inserts) first (default true). */
  load?: boolean;
  /**
   * Run the phases in the core when they can (default true): against the kv-store in
   * layout "record", the load phase and a run phase of reads, updates and
   * read-modify-writes with uniform or zipfian keys (src/workloads/ycsb/core-run.ts).
   * The same results either way; false keeps them on the host (the reference).
   */
  inCore?: boolean;
  onProgress?: ProgressCallback;
  /** Operations between progress callbacks (default 16384). */
  progressEvery?: number;
}

/**
 * YCSB core workload `workload` ("a".."f") in `process`: the load phase (every record
 * inserted, as `ycsb load`) then `operationCount` operations (as `ycsb run`), against the
 * in-place store or, with `backend: "memcached"`, the memcached model: records travel as
 * the YCSB memcached binding sends them (`usertable-<key>`, a JSON object of the fields;
 * an update replaces the value with only the updated field, so items shrink into smaller
 * classes; scans are not implemented by the binding and count as `unsupported`).
 *
 * @example
 * const r = runYcsb(vm.process, "e", { recordCount: 10_000, operationCount: 50_000 });
 * r.ops.scan; r.scannedRecords;
 * const m = runYcsb(vm.process, "a", { backend: "memcached", memcached: { memoryLimit: 512 * MiB } });
 */
export function runYcsb(process: WorkloadProcess, workload: YcsbWorkloadName, opts: YcsbRunOptions = {}): WorkloadRunResult {
  refuse(ycsbRunIssues(workload, opts));
  const seed = opts.seed ?? 1;
  const every = opts.progressEvery ?? DEFAULT_PROGRESS_EVERY;
  const spec = ycsbWorkload(workload, {
    recordCount: opts.recordCount ?? YCSB_RUN_DEFAULT_RECORDS,
    operationCount: opts.operationCount ?? YCSB_RUN_DEFAULT_OPERATIONS,
    ...opts.spec,
  });
  const backend = opts.backend ?? "kv-store";
  const fieldBytes = (f: number): number => (f < 0 ? spec.fieldCount * spec.fieldLength : spec.fieldLength);

  const counts = { read: 0, update: 0, insert: 0, scan: 0, readmodifywrite: 0 };
  let hits = 0;
  let misses = 0;
  let unsupported = 0;
  let scanned = 0;
  let bytes = 0;

  let apply: (op: YcsbOperation) => void;
  // around each phase: the memcached backend's batches of commands in the core
  let beginPhase = (): void => {};
  let endPhase = (): void => {};
  let batch: CoreMemcachedBatch | null = null;
  let model: MeteredProcess;
  let kvStore: KvStore | null = null;
  // the key names of this workload, for the store's ordered index (made only when needed)
  const naming = ycsbKeyNaming(spec);
  let given: boolean;
  let finish: () => Pick<WorkloadRunResult, "memcached" | "store">;
  if (backend === "kv-store") {
    let store: KvStore;
    given = opts.store instanceof KvStore;
    if (opts.store instanceof KvStore) {
      store = opts.store;
      if (store.fieldCount !== spec.fieldCount || store.fieldLength !== spec.fieldLength) {
        throw new RangeError(
          `store: its records have ${store.fieldCount} x ${store.fieldLength} B fields, the workload ${spec.fieldCount} x ${spec.fieldLength} B`,
        );
      }
    } else {
      store = new KvStore(process, { ...opts.store, fieldCount: spec.fieldCount, fieldLength: spec.fieldLength });
    }
    model = store.meter;
    kvStore = store;
    finish = () => ({ store: store.stats() });
    apply = (op) => {
      const keyLen = op.keyLength;
      switch (op.op) {
        case "read": {
          const f = op.readField;
          if (store.read(op.keyNum, keyLen, f)) {
            hits++;
            bytes += fieldBytes(f);
          } else misses++;
          break;
        }
        case "update": {
          const f = op.writeField;
          store.update(op.keyNum, keyLen, f);
          bytes += fieldBytes(f);
          break;
        }
        case "insert":
          store.insertKey(op.keyNum, naming);
          bytes += spec.fieldCount * spec.fieldLength;
          break;
        case "scan": {
          const f = op.readField;
          const n = store.scan(op.key, op.scanLength, f);
          scanned += n;
          bytes += n * fieldBytes(f);
          break;
        }
        case "readmodifywrite": {
          const rf = op.readField;
          if (store.read(op.keyNum, keyLen, rf)) {
            hits++;
            bytes += fieldBytes(rf);
          } else misses++;
          const wf = op.writeField;
          store.update(op.keyNum, keyLen, wf);
          bytes += fieldBytes(wf);
          break;
        }
      }
    };
  } else {
    given = opts.memcached instanceof MemcachedServer;
    const server = opts.memcached instanceof MemcachedServer ? opts.memcached : new MemcachedServer(process, opts.memcached);
    model = server.meter;
    finish = () => ({ memcached: { stats: server.stats(), slabs: server.statsSlabs() } });
    // Field contents are drawn as RandomByteIterator does; their JSON size decides the item size.
    const content = new Rng((seed ^ 0x5bd1e995) >>> 0);
    const inCore = opts.inCore ?? true;
    beginPhase = () => {
      batch = inCore ? CoreMemcachedBatch.open(process, server) : null;
    };
    endPhase = () => {
      if (!batch) return;
      const b = batch;
      batch = null;
      const c = b.finish();
      hits += c.hits;
      misses += c.misses;
      bytes += c.bytes;
    };
    apply = (op) => {
      if (op.op === "scan") {
        unsupported++; // MemcachedClient.scan: NOT_IMPLEMENTED, nothing sent
        return;
      }
      const reqs = memcachedRequests(op, content, spec.table);
      for (let i = 0; i < reqs.length; i++) {
        const r = reqs[i]!;
        // in the core, served in batches; a command the core leaves ends the batch, and it and the rest run here
        if (batch && batch.push(MEMCACHED_OPS[r.cmd], op.keyNum, r.keyLength, r.valueBytes)) continue;
        endPhase();
        if (r.cmd === "get") {
          const v = server.get(op.keyNum, r.keyLength);
          if (v >= 0) {
            hits++;
            bytes += v;
          } else misses++;
        } else {
          server.store(r.cmd, op.keyNum, r.keyLength, r.valueBytes);
          bytes += r.valueBytes;
        }
      }
    };
  }

  const load = opts.load ?? true;
  const loadTotal = load ? (spec.insertCount ?? spec.recordCount - spec.insertStart) : 0;
  const total = loadTotal + spec.operationCount;
  // A model made here counts from its construction (its index, buffers); a given one from now.
  const before = given ? model.counts() : ZERO;
  let loadOps = 0;
  let done = 0;
  let next = every;
  /** Runs `count` operations in the core, `run(n)` up to each progress point. */
  const inChunks = (count: number, phase: "load" | "run", run: (n: number) => void): void => {
    for (let left = count; left > 0; ) {
      const n = Math.min(left, next - done);
      run(n);
      left -= n;
      if ((done += n) === next) {
        next += every;
        opts.onProgress?.(done, total, phase);
      }
    }
  };
  // (made before the load: a generator thread may draw its operations during the load)
  const stream = new YcsbRunStream(spec, seed);
  if (load) {
    const loadStream = new YcsbLoadStream(spec);
    const inCore =
      kvStore && (opts.inCore ?? true) ? CoreYcsbLoad.open(process, kvStore, spec, naming, spec.insertStart, loadStream.count, { stream, operations: spec.operationCount }) : null;
    if (inCore) {
      try {
        inChunks(loadStream.count, "load", (n) => {
          inCore.run(n);
          loadOps += n;
        });
      } finally {
        inCore.finish();
      }
    }
    if (!inCore) beginPhase();
    try {
      for (let op = inCore ? null : loadStream.nextShared(); op; op = loadStream.nextShared()) {
        apply(op);
        loadOps++;
        if (++done === next) {
          next += every;
          opts.onProgress?.(done, total, "load");
        }
      }
    } finally {
      endPhase();
    }
    // The load phase's payload and hits are not the run's.
    bytes = 0;
    hits = misses = unsupported = scanned = 0;
    opts.onProgress?.(done, total, "load");
  }
  const mid = model.counts();
  // (the plan: inChunks's calls, for a generator thread drawing ahead)
  const inCore = kvStore && (opts.inCore ?? true) ? CoreYcsbRun.open(process, kvStore, stream, naming, spec.operationCount, { first: next - done, every }) : null;
  if (inCore) {
    let c: ReturnType<typeof inCore.finish>;
    try {
      inChunks(spec.operationCount, "run", (n) => inCore.run(n));
    } finally {
      // also after an error (out of memory in an insert): the store takes back what was done
      c = inCore.finish();
    }
    counts.read += c.read;
    counts.update += c.update;
    counts.readmodifywrite += c.readmodifywrite;
    counts.insert += c.insert;
    counts.scan += c.scan;
    scanned += c.scanned;
    hits += c.hits;
    misses += c.misses;
    bytes += c.bytes;
  }
  if (!inCore) beginPhase();
  try {
    for (let i = 0; i < (inCore ? 0 : spec.operationCount); i++) {
      const op = stream.nextShared(); // used up before the next draw
      // (a switch: a store keyed by the operation's name is a slow megamorphic access)
      switch (op.op) {
        case "read":
          counts.read++;
          break;
        case "update":
          counts.update++;
          break;
        case "insert":
          counts.insert++;
          break;
        case "scan":
          counts.scan++;
          break;
        default:
          counts.readmodifywrite++;
      }
      apply(op);
      if (++done === next) {
        next += every;
        opts.onProgress?.(done, total, "run");
      }
    }
  } finally {
    endPhase();
  }
  process.vm?.sim.flush();
  opts.onProgress?.(done, total, "run");
  const after = model.counts();
  return {
    workload: `ycsb-${workload}`,
    backend,
    seed,
    loadOperations: loadOps,
    operations: spec.operationCount,
    ops: { ...counts },
    hits,
    misses,
    unsupported,
    scannedRecords: scanned,
    bytesRequested: bytes,
    accesses: after.accesses - before.accesses,
    loadAccesses: mid.accesses - before.accesses,
    accessBytes: after.accessBytes - before.accessBytes,
    mallocs: after.mallocs - before.mallocs,
    frees: after.frees - before.frees,
    mallocBytes: after.mallocBytes - before.mallocBytes,
    ...finish(),
  };
}

/** The counters both models keep. */
const ZERO: MeterCounts = Object.freeze({ accesses: 0, accessBytes: 0, mallocs: 0, frees: 0, mallocBytes: 0 });
