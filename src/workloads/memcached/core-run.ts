/**
 * The memcached server model in the core (assembly/memcached.ts): the same commands,
 * accesses and statistics as {@link MemcachedServer} (server.ts, the reference), byte
 * for byte, without JavaScript per access. In JavaScript each access crossed four calls
 * (server, meter, process, simulator) and the models cost as much as the simulation.
 *
 * It applies to a server in a plain guest process of a {@link Simulator}. The server's
 * state (its class buffer, chunk records, hash table, connections and totals) is copied
 * into a region of the core's memory and back when the run ends; the core asks the host
 * for guest allocations and frees (`env.mcMalloc`, `env.mcFree`) and runs the queue when
 * it is full (`env.queueFull`), at the same points as the host's model. When the next
 * command needs room the state does not have (a new slab page's chunks, the doubled hash
 * table), the host copies it back and in again with more.
 *
 * @example
 * const mc = CoreMemcached.open(vm.process, server);
 * if (mc) {
 *   try { mc.serve(requests); } finally { mc.finish(); }
 * }
 */
import { coreRegion, type MemcachedCore } from "../../core/wasm.js";
import type { Simulator } from "../../sim/simulator.js";
import type { Process } from "../../sim/process.js";
import type { WorkloadProcess } from "../drivers.js";
import { RegionLayout, simulatorOf } from "../core-process.js";
import { itemSize } from "./slabs.js";
import type { MemcachedServer } from "./server.js";
import type { Memaslap } from "./memaslap.js";
import { CoreMemaslap } from "./core-memaslap.js";

// assembly/memcached.ts totals past the server's own 14 (T_*), and run counters (R_*)
const T = { accesses: 14, accessBytes: 15, hashPower: 16, tableVa: 17, chunks: 18, bucketsAt: 19 } as const;
const NTOTALS = 20;
/** Requests the region's scratch area holds (24 bytes each, mcServe's records). */
const SCRATCH_REQUESTS = 4096;
const R = { gets: 0, sets: 1, hits: 2, misses: 3, bytes: 4 } as const;
const S = { done: 0, room: 1, end: 2 } as const;

/** One request for {@link CoreMemcached.serve}: op 0 get, 1 set, 2 add, 3 replace. */
export interface CoreRequest {
  op: 0 | 1 | 2 | 3;
  keyId: number;
  keyLen: number;
  valueBytes: number;
  conn: number;
}

/**
 * Writes requests into the core's scratch area for {@link CoreMemcached.serveStream}:
 * record `i` is f64[i * 3] the key id, u32[i * 6 + 2..5] the op (0 get, 1 set, 2 add,
 * 3 replace), key length, value bytes and connection. Writes slots `from` .. `from + n - 1`
 * (fewer when its stream ends) and returns how many it wrote.
 */
export type RequestSource = (f64: Float64Array, u32: Uint32Array, from: number, n: number) => number;

/** What the requests served did, in the driver's terms. */
export interface CoreServeCounts {
  gets: number;
  sets: number;
  hits: number;
  misses: number;
  /** Value bytes: of hits, and of stores. */
  bytes: number;
}

/**
 * What the server's commands would refuse in a command (as `field: value is not allowed;
 * expected ...`), or null: the core's model takes only commands the server takes.
 */
function commandProblem(server: MemcachedServer, op: number, keyId: number, keyLen: number, valueBytes: number, conn: number): string | null {
  if (!(op === 0 || op === 1 || op === 2 || op === 3)) return `op: ${op} is not allowed; expected 0 (get), 1 (set), 2 (add) or 3 (replace)`;
  if (!(Number.isInteger(keyLen) && keyLen >= 1 && keyLen <= 250)) return `keyLen: ${keyLen} is not allowed; expected an integer in 1..250 (KEY_MAX_LENGTH)`;
  if (!(Number.isSafeInteger(keyId) && keyId >= 0)) return `keyId: ${keyId} is not allowed; expected an integer in 0..2^53-1`;
  if (!(Number.isInteger(conn) && conn >= 0 && conn < 65536)) return `conn: ${conn} is not allowed; expected an integer in 0..65535`;
  const max = server.settings.slabChunkSizeMax;
  if (op !== 0 && !(Number.isInteger(valueBytes) && valueBytes >= 0 && itemSize(keyLen, valueBytes, { useCas: server.settings.useCas }) <= max)) {
    return `valueBytes: ${valueBytes} is not allowed; expected an integer >= 0 whose item fits slab_chunk_max (${max} B)`;
  }
  return null;
}

/** Writes command `i` of a scratch area (mcServe's 24-byte records; see {@link RequestSource}). */
function writeCommand(f64: Float64Array, u32: Uint32Array, i: number, op: number, keyId: number, keyLen: number, valueBytes: number, conn: number): void {
  f64[i * 3] = keyId;
  u32[i * 6 + 2] = op;
  u32[i * 6 + 3] = keyLen;
  u32[i * 6 + 4] = valueBytes;
  u32[i * 6 + 5] = conn;
}

/** The memcached model's state in the core; see the module comment. */
export class CoreMemcached {
  private chunkCap = 0;
  private connCap = 0;
  /** Where the region starts and its parts are, in the core's memory. */
  private at = { totals: 0, classes: 0, rbuf: 0, wbuf: 0, chunks: 0, scratch: 0 };
  private finished = false;

  private constructor(
    readonly sim: Simulator,
    readonly g: MemcachedCore,
    readonly server: MemcachedServer,
    private readonly vcpu: number,
  ) {}

  /**
   * Hands the server's state to the core, or returns null (nothing changed) when the
   * process is not a plain guest process of a simulator. `connections`: the most
   * connections the requests use (more are made room for when asked).
   */
  static open(process: WorkloadProcess, server: MemcachedServer, connections = 16): CoreMemcached | null {
    const sim = simulatorOf(process);
    if (!sim || server.meter.process !== process) return null;
    const mc = new CoreMemcached(sim, sim.core.memcachedCore(), server, (process as Process).vcpu);
    mc.connCap = Math.max(16, connections);
    mc.copyIn(false);
    mc.setSink();
    mc.g.mcRunReset();
    return mc;
  }

  /** Lays the region out, copies the state in and configures the core. `grow`: more room than last time. */
  private copyIn(grow: boolean): void {
    const s = this.server.coreState();
    const n = s.classCount;
    const classes = this.server.classes;
    let maxPer = 0;
    for (const c of classes) maxPer = Math.max(maxPer, c.perSlab);
    // room for a few slab pages' chunks (a guess; more when the core asks)
    const want = s.nChunks + Math.max(4 * maxPer, s.nChunks);
    this.chunkCap = grow ? Math.max(want, this.chunkCap * 2) : want;
    // more connections too when growing (the core asks for room for a connection past the table's end as well)
    this.connCap = Math.max(this.connCap * (grow ? 2 : 1), s.rbuf.length);
    const nb = s.buckets.length;
    const region = new RegionLayout();
    const take = (bytes: number): number => region.take(bytes);
    const totalsAt = take(NTOTALS * 8);
    const classesAt = take(s.classState.length);
    const sizesAt = take(classes.length * 4);
    const rbufAt = take(this.connCap * 8);
    const wbufAt = take(this.connCap * 8);
    const bucketsAt = take(nb * 4);
    const spareAt = take(nb * 8);
    const chunksAt = take(this.chunkCap * 40);
    const scratchAt = take(SCRATCH_REQUESTS * 24);
    const base = coreRegion(region.bytes, (b) => this.g.mcRegion(b), "the memcached model's state");
    const mem = this.g.memory.buffer;
    const f64 = (at: number, len: number): Float64Array => new Float64Array(mem, base + at, len);
    const totals = f64(totalsAt, NTOTALS);
    totals.set(s.totals);
    totals[T.accesses] = 0;
    totals[T.accessBytes] = 0;
    totals[T.hashPower] = s.hashPower;
    totals[T.tableVa] = s.tableVa;
    totals[T.chunks] = s.nChunks;
    new Uint8Array(mem, base + classesAt, s.classState.length).set(s.classState);
    new Int32Array(mem, base + sizesAt, classes.length).set(classes.map((c) => c.size));
    for (const [at, from] of [[rbufAt, s.rbuf], [wbufAt, s.wbuf]] as const) {
      const v = f64(at, this.connCap).fill(-1);
      v.set(from);
    }
    new Int32Array(mem, base + bucketsAt, nb).set(s.buckets);
    new Uint8Array(mem, base + chunksAt, s.nChunks * 40).set(s.chunks.u8.subarray(0, s.nChunks * 40));
    const at = (x: number): number => base + x;
    this.g.mcConfigure(
      at(chunksAt), this.chunkCap, at(classesAt), n, at(sizesAt), classes.length, classes[0]!.id,
      at(bucketsAt), at(spareAt), nb * 2, at(rbufAt), at(wbufAt), this.connCap, at(totalsAt),
      s.useCas ? 1 : 0, s.hotPct, s.warmPct, s.network ? 1 : 0, s.inlineMaintainer ? 1 : 0, this.server.memoryLimit, this.server.settings.slabPageSize,
      s.code.va, s.code.bytes, s.code.fetches, s.code.fetchBytes, this.vcpu,
    );
    this.at = { totals: at(totalsAt), classes: at(classesAt), rbuf: at(rbufAt), wbuf: at(wbufAt), chunks: at(chunksAt), scratch: at(scratchAt) };
  }

  /** The state back into the server. */
  private copyBack(): void {
    const g = this.g;
    const mem = g.memory.buffer;
    const s = this.server.coreState();
    const totals = new Float64Array(mem, this.at.totals, NTOTALS);
    const nChunks = totals[T.chunks]!;
    const hashPower = totals[T.hashPower]!;
    s.classState.set(new Uint8Array(mem, this.at.classes, s.classState.length));
    s.chunks.reserve(nChunks);
    s.chunks.u8.set(new Uint8Array(mem, this.at.chunks, nChunks * 40));
    const buckets = new Int32Array(2 ** hashPower);
    buckets.set(new Int32Array(mem, totals[T.bucketsAt]!, buckets.length));
    const rbuf = new Float64Array(this.connCap);
    const wbuf = new Float64Array(this.connCap);
    rbuf.set(new Float64Array(mem, this.at.rbuf, this.connCap));
    wbuf.set(new Float64Array(mem, this.at.wbuf, this.connCap));
    this.server.setCoreState({
      nChunks, buckets, hashPower, tableVa: totals[T.tableVa]!, rbuf, wbuf, totals: Array.from(totals.subarray(0, 14)),
      accesses: totals[T.accesses]!, accessBytes: totals[T.accessBytes]!,
    });
  }

  /** The core's allocations, frees and full queues go to the host, as the server's own would. */
  private setSink(): void {
    const { sim, g, server } = this;
    const s = server.coreState();
    sim.core.setMemcachedSink({
      mcMalloc: (bytes, kind, queued) => {
        sim.setQueued(queued);
        let va: number;
        try {
          va = server.meter.malloc(bytes, kind === 0 ? s.metaOpts : s.slabOpts);
        } catch (e) {
          // memory_allocate returned NULL: a slab page is refused; the server's metadata is not (the reference throws too)
          if (!(kind > 0 && e instanceof Error && e.name === "GuestOutOfMemory")) throw e;
          va = -1;
        }
        if (kind > 0 && va >= 0) server.pageAddresses[kind]!.push(va);
        g.mcRequeue(sim.queuedRequests);
        return va;
      },
      mcFree: (va, queued) => {
        sim.setQueued(queued);
        server.meter.flush();
        server.meter.free(va);
        return sim.queuedRequests;
      },
      queueFull: (queued) => {
        sim.setQueued(queued);
        return sim.queuedRequests;
      },
    });
  }

  /**
   * Serves up to `count` requests that `source` writes into the scratch area (records
   * from slot `from`, at most `n`; it returns how many it wrote, fewer when its stream
   * ended), and returns the counts of those served. When the next command needs room
   * the state does not have, the host makes it and goes on.
   */
  serveStream(count: number, source: RequestSource): CoreServeCounts {
    if (this.finished) throw new Error("CoreMemcached: finished; open another");
    const { sim, g } = this;
    const before = this.counts();
    let left = count;
    let pending = 0;
    let ended = false;
    while (left > 0) {
      const at = this.at.scratch;
      const mem = g.memory.buffer;
      const want = Math.min(left, SCRATCH_REQUESTS);
      if (pending < want && !ended) {
        const w = source(new Float64Array(mem, at, SCRATCH_REQUESTS * 3), new Uint32Array(mem, at, SCRATCH_REQUESTS * 6), pending, want - pending);
        if (w < want - pending) ended = true;
        pending += w;
      }
      if (pending === 0) break;
      g.mcQueueAt(sim.queuedRequests, sim.queueCapacity);
      const n = g.mcServe(at, pending);
      sim.setQueued(g.mcQueued());
      left -= n;
      if (n < pending) {
        // the next command needs room: the state back, and in again with more (the requests drawn kept)
        const rest = new Uint8Array(g.memory.buffer, at + n * 24, (pending - n) * 24).slice();
        pending -= n;
        this.copyBack();
        this.copyIn(true);
        new Uint8Array(g.memory.buffer, this.at.scratch, rest.length).set(rest);
      } else pending = 0;
    }
    return this.since(before);
  }

  /**
   * Serves up to `count` requests a generator in the core draws (`step(n)` draws and
   * serves up to `n`, returns how many; mcStatus says why it stopped), and returns the
   * counts of those served: fewer when the generator's stream ended.
   */
  serveDrawn(count: number, step: (n: number) => number): CoreServeCounts {
    if (this.finished) throw new Error("CoreMemcached: finished; open another");
    const { sim, g } = this;
    const before = this.counts();
    let left = count;
    while (left > 0) {
      g.mcQueueAt(sim.queuedRequests, sim.queueCapacity);
      const n = step(left);
      sim.setQueued(g.mcQueued());
      left -= n;
      const status = g.mcStatus();
      if (status === S.end) break;
      if (status === S.room) {
        // the drawn request waits in the core while the state goes back and in again with more room
        this.copyBack();
        this.copyIn(true);
      }
    }
    return this.since(before);
  }

  /**
   * Serves requests (validated as the server's commands validate them, all before the
   * first runs) and returns the counts of those served.
   *
   * @example
   * mc.serve([{ op: 1, keyId: 7, keyLen: 64, valueBytes: 1024, conn: 0 }, { op: 0, keyId: 7, keyLen: 64, valueBytes: 0, conn: 0 }]);
   */
  serve(requests: readonly CoreRequest[]): CoreServeCounts {
    let conns = 0;
    for (const [i, r] of requests.entries()) {
      const problem = commandProblem(this.server, r.op, r.keyId, r.keyLen, r.valueBytes, r.conn);
      if (problem) throw new RangeError(`requests[${i}].${problem}`);
      conns = Math.max(conns, r.conn + 1);
    }
    if (conns > this.connCap) this.growConnections(conns);
    let next = 0;
    return this.serveStream(requests.length, (f64, u32, from, n) => {
      for (let i = from; i < from + n; i++) {
        const r = requests[next++]!;
        writeCommand(f64, u32, i, r.op, r.keyId, r.keyLen, r.valueBytes, r.conn);
      }
      return n;
    });
  }

  /** What the requests served since `before` (counts then) did. */
  private since(before: CoreServeCounts): CoreServeCounts {
    const now = this.counts();
    return { gets: now.gets - before.gets, sets: now.sets - before.sets, hits: now.hits - before.hits, misses: now.misses - before.misses, bytes: now.bytes - before.bytes };
  }

  /** What the requests served since `open` did. */
  counts(): CoreServeCounts {
    const g = this.g;
    return { gets: g.mcRunCounter(R.gets), sets: g.mcRunCounter(R.sets), hits: g.mcRunCounter(R.hits), misses: g.mcRunCounter(R.misses), bytes: g.mcRunCounter(R.bytes) };
  }

  /** Gives the server its state back (also after an error: what the core did so far). */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.sim.core.setMemcachedSink(null);
    this.copyBack();
  }

  private growConnections(n: number): void {
    this.copyBack();
    this.connCap = Math.max(n, this.connCap * 2);
    this.copyIn(false);
  }
}

/**
 * memslap in the core: memaslap's stream (core-memaslap.ts, assembly/memaslap.ts) and
 * the server (above) both there, a request drawn and served with no JavaScript.
 *
 * @example
 * const run = CoreMemslap.open(vm.process, server, ms);
 * if (run) {
 *   try { run.run(100_000); } finally { run.finish(); }
 * }
 */
export class CoreMemslap {
  private finished = false;

  private constructor(
    private readonly stream: CoreMemaslap,
    private readonly mc: CoreMemcached,
  ) {}

  /** Hands the stream and the server to the core, or returns null (nothing changed) when the process does not allow it. */
  static open(process: WorkloadProcess, server: MemcachedServer, ms: Memaslap): CoreMemslap | null {
    const sim = simulatorOf(process);
    if (!sim || server.meter.process !== process) return null;
    // the stream's region first: the server's, allocated after it, can then grow in place
    const stream = new CoreMemaslap(ms, sim.core.memaslapGenerator());
    stream.copyIn();
    const mc = CoreMemcached.open(process, server, ms.concurrency);
    if (!mc) throw new Error("CoreMemslap: the server could not go into the core");
    return new CoreMemslap(stream, mc);
  }

  /** Draws and serves up to `count` requests; the counts of those served (fewer when memaslap's operations ran out). */
  run(count: number): CoreServeCounts {
    if (this.finished) throw new Error("CoreMemslap: finished; open another");
    const g = this.mc.g;
    return this.mc.serveDrawn(count, (n) => g.mcMemaslap(Math.min(n, 2 ** 30)));
  }

  /** What the requests served so far did. */
  counts(): CoreServeCounts {
    return this.mc.counts();
  }

  /** Gives the server and the stream their state back (also after an error). */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    try {
      this.mc.finish();
    } finally {
      this.stream.copyBack();
    }
  }
}

/** Requests a {@link CoreMemcachedBatch} holds before it serves them. */
const BATCH_REQUESTS = SCRATCH_REQUESTS;

/**
 * A driver's commands served in the core in batches: `push` keeps a command and serves
 * the batch when it is full; `drain` serves what is kept; `finish` drains and gives the
 * server its state back. The commands run in the order pushed, exactly as the server's
 * own methods would run them (their results are only counted, so that holding them
 * changes nothing the driver decides). A command the server would refuse (a key
 * length outside 1..250, an item larger than slab_chunk_max) ends the batch: what was
 * pushed before it runs, the state goes back, and `push` returns false so that the
 * caller runs that command on the host (which refuses it the same way).
 *
 * @example
 * const b = CoreMemcachedBatch.open(vm.process, server);
 * if (b) {
 *   b.push(1, 42, 64, 1024); // set
 *   b.push(0, 42, 64, 0);    // get
 *   const c = b.finish();    // { gets: 1, sets: 1, hits: 1, misses: 0, bytes: 2048 }
 * }
 */
export class CoreMemcachedBatch {
  private readonly keyIds = new Float64Array(BATCH_REQUESTS);
  /** op, key length, value bytes, connection per command. */
  private readonly words = new Uint32Array(BATCH_REQUESTS * 4);
  private n = 0;
  private readonly total: CoreServeCounts = { gets: 0, sets: 0, hits: 0, misses: 0, bytes: 0 };
  private mc: CoreMemcached | null;

  private constructor(mc: CoreMemcached) {
    this.mc = mc;
  }

  /** Hands the server to the core, or returns null (nothing changed) when the process does not allow it. */
  static open(process: WorkloadProcess, server: MemcachedServer): CoreMemcachedBatch | null {
    const mc = CoreMemcached.open(process, server);
    return mc ? new CoreMemcachedBatch(mc) : null;
  }

  /**
   * Keeps command `op` (0 get, 1 set, 2 add, 3 replace) on connection `conn` (0..65535)
   * for the next batch. Returns false, having served every command before it and given
   * the server its state back, when the server might refuse it: the caller then runs
   * this command and the rest on the server itself.
   */
  push(op: 0 | 1 | 2 | 3, keyId: number, keyLen: number, valueBytes: number, conn = 0): boolean {
    if (!this.mc) throw new Error("CoreMemcachedBatch: finished; open another");
    if (commandProblem(this.mc.server, op, keyId, keyLen, valueBytes, conn) !== null) {
      this.finish();
      return false;
    }
    const i = this.n++;
    this.keyIds[i] = keyId;
    this.words[i * 4] = op;
    this.words[i * 4 + 1] = keyLen;
    this.words[i * 4 + 2] = valueBytes;
    this.words[i * 4 + 3] = conn;
    if (this.n === BATCH_REQUESTS) this.drain();
    return true;
  }

  /** Serves the commands kept so far. */
  drain(): void {
    const mc = this.mc;
    if (!mc || this.n === 0) return;
    const n = this.n;
    this.n = 0;
    let next = 0;
    const c = mc.serveStream(n, (f64, u32, from, count) => {
      const w = this.words;
      for (let i = from; i < from + count; i++, next++) writeCommand(f64, u32, i, w[next * 4]!, this.keyIds[next]!, w[next * 4 + 1]!, w[next * 4 + 2]!, w[next * 4 + 3]!);
      return count;
    });
    this.total.gets += c.gets;
    this.total.sets += c.sets;
    this.total.hits += c.hits;
    this.total.misses += c.misses;
    this.total.bytes += c.bytes;
  }

  /** Serves what is kept and gives the server its state back (also after an error); the counts of every command served. */
  finish(): CoreServeCounts {
    const mc = this.mc;
    if (mc) {
      try {
        this.drain();
      } finally {
        this.mc = null;
        mc.finish();
      }
    }
    return { ...this.total };
  }
}
