/**
 * YCSB's run phase drawn on two threads (docs/core.md section 10b). A run phase without
 * inserts or scans only reads the store's index: its operations, keys, lookups and
 * accesses follow from the random stream and the index alone, never from what the
 * simulation of the accesses finds. So a second core, on a worker, can hold a copy of
 * the index and run the same generator (assembly/ycsb.ts `ycsbRun`) ahead while the
 * main thread's core translates.
 *
 * The phase is cut into parts, each one `ycsbRun` call as `CoreYcsbRun.run` makes them
 * (the same operations per call, the same queue positions, the same full buffers). A
 * part is made by whichever thread claims it first: the worker ahead of the main
 * thread, when it has time; the main thread itself, in its own core and straight into
 * its queue, when the part it needs next is not made or being made. Each part's header
 * holds the generator's whole state after it (counters, random stream, response
 * cursor, where the plan stands), so either thread takes over from the other. Parts are
 * made in order, one at a time. The main thread copies a worker's part into its queue
 * where its own `ycsbRun` would have written it and runs the queue where it would have:
 * the batches, the results and the counts after an error are those of one thread.
 * Node only (`worker_threads`, and a main thread that may block in `Atomics.wait`).
 *
 * With a line thread (src/core/line-thread.ts) its worker makes parts between its
 * chunks; without one, a worker of its own does. Threads are kept for reuse; idle
 * ones never keep a process alive.
 *
 * @example
 * const thread = await GeneratorThread.acquire(await loadCoreModule());
 * thread.start(spec);                  // the worker copies the index in, in its own time
 * const got = thread.take();           // the next part: made by the worker, or the caller's to make
 * // ... copy got.part's requests into the queue, or make it with `makePart` and `thread.made()` ...
 * thread.release();                    // idle, for the next simulator
 */
import type { MessagePort } from "node:worker_threads";
import { workerThreads } from "#worker-threads";
import { workerUrl } from "../../core/load.js";
import { MAX_IDLE, WAIT_MS, type LineThread, type SideChannel } from "../../core/line-thread.js";
import { WasmCore, fitsCore, type YcsbGenerator } from "../../core/wasm.js";
import { modelConfig } from "../../core/models.js";
import { REQ_BYTES } from "../../core/layout.js";

/** Parts in flight: a worker of its own makes up to this many ahead (a guess: enough to absorb a slow stretch). */
export const PARTS = 16;
/**
 * Parts a line thread's worker makes ahead, only while its ring is empty or nearly (fewer
 * than 4 chunks wait: src/core/line-thread.ts SIDE_BACKLOG): its spare time.
 * More made it busier, and the main thread slower: on this 2-core host a busy second
 * core slows the first by 5-15 % (docs/performance.md). 4 (1.05-1.07x over the line
 * thread alone for YCSB-A on osv, with parts in an empty ring's time only) against 2
 * (1.07x), 8 (1.05x), 16 (1.04-1.06x), and one before each chunk when fewer than 1-3
 * were ahead (1.00-1.04x).
 */
export const HOSTED_AHEAD = 4;

// A part's header (f64 words): its operations, its requests' first and end index in the
// queue, ycsbRun's status, whether the chooser failed; then the generator's state after
// it: counters, random stream, and the plan's cursor (call, operations left of it, the
// queue's length), and whether the phase ends with it.
const H_OPS = 0;
const H_START = 1;
const H_END = 2;
const H_STATUS = 3;
const H_FAILED = 4;
/** ycsbCounter 0..8, kvCounter 0..10, ycsbRngWord 0..3. */
const YCSB_COUNTERS = 9;
const KV_COUNTERS = 11;
const H_YCSB = 5;
const H_KV = H_YCSB + YCSB_COUNTERS;
const H_RNG = H_KV + KV_COUNTERS;
const H_CALL = H_RNG + 4;
const H_LEFT = H_CALL + 1;
const H_Q = H_LEFT + 1;
const H_LAST = H_Q + 1;
const H_DONE = H_LAST + 1; // the phase's operations done after it
/** f64 words of a part's header. */
export const HEADER_WORDS = 40;
const HEADER_BYTES = HEADER_WORDS * 8;

// Int32 slots of the control block. Every wait is on a counter the other side changes
// (or, in a line thread's worker, on its bell), so a notification cannot be lost.
const JOB = 0; // phases started by the main thread (the spec is on the port)
const TAKEN = 1; // phases the worker has taken
const NEXT = 2; // parts claimed (made or being made) in this phase
const PRODUCED = 3; // parts made in this phase
const CONSUMED = 4; // parts the main thread has queued in this phase
const BUSY = 5; // 1 while the worker works on a phase
const STOP = 6; // 1: the main thread wants no more parts of this phase
const FAILED = 7; // 1: the worker stopped on an error (its message is on the port)
const CLOSE = 8; // 1: the worker should end
const WAKE = 9; // bumped after any of the above changes: a worker of its own sleeps on it (a hosted one on its line thread's bell)
const DRAWN = 10; // operations drawn ahead for the next run phase (drawAhead)
const CTL_SLOTS = 12;

/** ycsbStatus: the buffer could take no other operation (assembly/ycsb.ts S_FULL). */
const STATUS_FULL = 1;

/** The store's index and the generator's parameters, as the main thread's core took them (core-run.ts). */
export interface GeneratorSpec {
  /** The hash index's buckets (record id or -1) and the records' 32-byte metadata. */
  buckets: Int32Array;
  records: Uint8Array;
  /** kvConfigure's arguments after the addresses: vcpu, then fieldCount .. responseOffset, then lengthSlots, zeroPadding, ordered. */
  vcpu: number;
  store: [fieldCount: number, fieldLength: number, network: number, tableVa: number, requestBuffer: number, responseBuffer: number, responseOffset: number];
  keys: [lengthSlots: number, zeroPadding: number, ordered: number];
  shares: { share: number; op: number }[];
  /** ycsbLatest's arguments, or null. */
  latest: Parameters<YcsbGenerator["ycsbLatest"]> | null;
  /** ycsbConfigure's arguments. */
  configure: Parameters<YcsbGenerator["ycsbConfigure"]>;
  rng: [number, number, number, number];
  /** The main thread's queue length when the phase starts, and its capacity. */
  from: number;
  capacity: number;
  /** The operations of each `run` call. */
  plan: RunPlan;
  /** The phase's first operations drawn ahead, which a core may take instead of drawing them (GeneratorThread.start sets it). */
  drawn?: number;
}

/** Operations the worker draws at a time (a guess: about 0.1 ms, so that a chunk of line records waits no longer). */
const DRAW_BLOCK = 2048;

/**
 * A run phase's operations to draw before it starts, while the worker has nothing
 * else to do (during the load phase): `spec`'s draws (with an empty index: the draws
 * read none), `ops` of them, into the main thread's core: its shared memory `memory`, entries at `entries`,
 * the stream's states at `states` (assembly/ycsb.ts ycsbDraw's layout). `capacity`: the
 * request buffer the run phase will have.
 */
export interface DrawAhead extends DrawnRegion {
  spec: GeneratorSpec;
  ops: number;
  capacity: number;
  memory: SharedArrayBuffer;
}

/** Bytes of an operation drawn ahead: its stage entry, and the stream's state after it (assembly/ycsb.ts ycsbDraw). */
const DRAWN_ENTRY_BYTES = 32;
const DRAWN_STATE_BYTES = 16;

/** Where `ops` operations drawn ahead go in a core: its entries, then the stream's states. */
export interface DrawnRegion {
  entries: number;
  states: number;
}

/** A region in `g`'s core for `ops` operations drawn ahead (ycsbDrawRegion), or null when it has no room. */
export function drawRegion(g: YcsbGenerator, ops: number): DrawnRegion | null {
  const entries = fitsCore(ops * (DRAWN_ENTRY_BYTES + DRAWN_STATE_BYTES)) ? g.ycsbDrawRegion(ops) >>> 0 : 0;
  return entries === 0 ? null : { entries, states: entries + ops * DRAWN_ENTRY_BYTES };
}

/** What decides a phase's draws: two specs with the same key draw the same operations. */
function drawKey(spec: GeneratorSpec): string {
  return JSON.stringify([spec.shares, spec.latest, spec.configure, spec.rng, spec.keys, spec.store[0]]);
}

/** How a phase's operations are split into calls of `run` (the driver's progress points): `first`, then `every`, up to `total`. */
export interface RunPlan {
  total: number;
  first: number;
  every: number;
}

/** The operations of call `i` of `plan` (0 past its end). */
export function callSize(plan: RunPlan, i: number): number {
  const first = Math.min(plan.total, plan.first);
  if (i === 0) return first;
  return Math.max(0, Math.min(plan.every, plan.total - first - (i - 1) * plan.every));
}

/** A part the worker made: its header and its requests (views into shared memory, valid until the next `take`). */
export interface GeneratorPart {
  header: Float64Array;
  requests: Uint8Array;
}

/** A part's own fields, from its header (`last`: the phase ends with it). */
export function partOf(h: Float64Array): { ops: number; start: number; end: number; status: number; failed: boolean; last: boolean } {
  return { ops: h[H_OPS]!, start: h[H_START]!, end: h[H_END]!, status: h[H_STATUS]!, failed: h[H_FAILED] !== 0, last: h[H_LAST] !== 0 };
}

/** The generator's counters and random stream after a part, from its header. */
export function partState(h: Float64Array): { ycsb: Float64Array; kv: Float64Array; rng: [number, number, number, number] } {
  return { ycsb: h.slice(H_YCSB, H_YCSB + YCSB_COUNTERS), kv: h.slice(H_KV, H_KV + KV_COUNTERS), rng: [h[H_RNG]!, h[H_RNG + 1]!, h[H_RNG + 2]!, h[H_RNG + 3]!] };
}

/** A generator whose state is after part `made` of the phase (-1: as configured); `replay`: it holds the operations drawn ahead (ycsbReplay). */
export interface PartMaker {
  g: YcsbGenerator;
  made: number;
  replay?: boolean;
}

/**
 * Makes part `k` with `maker`'s generator, its requests from queue index `at`, into
 * header `h`; `prev` is part k-1's header (null for the first). The generator takes
 * over the state `prev` holds unless it made that part itself.
 */
export function makePart(maker: PartMaker, spec: Pick<GeneratorSpec, "plan" | "from" | "capacity">, k: number, prev: Float64Array | null, at: number, h: Float64Array): void {
  const g = maker.g;
  if (prev && maker.made !== k - 1) {
    g.ycsbSeed(prev[H_RNG]!, prev[H_RNG + 1]!, prev[H_RNG + 2]!, prev[H_RNG + 3]!);
    for (let i = 0; i < YCSB_COUNTERS; i++) g.ycsbSetCounter(i, prev[H_YCSB + i]!);
    for (let i = 0; i < KV_COUNTERS; i++) g.kvSetCounter(i, prev[H_KV + i]!);
  }
  let call = prev ? prev[H_CALL]! : 0;
  let left = prev ? prev[H_LEFT]! : callSize(spec.plan, 0);
  const done = prev ? prev[H_DONE]! : 0;
  if (maker.replay) g.ycsbReplayFrom(done);
  const cap = spec.capacity;
  const n = g.ycsbRun(at, Math.min(left, 2 ** 30), cap);
  const end = g.ycsbQueued();
  const status = g.ycsbStatus();
  const failed = g.ycsbFailed();
  maker.made = k;
  h[H_OPS] = n;
  h[H_START] = at;
  h[H_END] = end;
  h[H_STATUS] = status;
  h[H_FAILED] = failed;
  for (let i = 0; i < YCSB_COUNTERS; i++) h[H_YCSB + i] = g.ycsbCounter(i);
  for (let i = 0; i < KV_COUNTERS; i++) h[H_KV + i] = g.kvCounter(i);
  for (let i = 0; i < 4; i++) h[H_RNG + i] = g.ycsbRngWord(i) >>> 0;
  left -= n;
  if (left === 0) left = callSize(spec.plan, ++call);
  h[H_CALL] = call;
  h[H_LEFT] = left;
  h[H_DONE] = done + n;
  // the queue after the part: a full one runs (CoreYcsbRun.run)
  h[H_Q] = status === STATUS_FULL || end === cap ? 0 : end;
  // the main thread stops at a failed chooser or at a full buffer that held no operation
  h[H_LAST] = failed || (status === STATUS_FULL && n === 0 && at === 0) || left === 0 ? 1 : 0;
}

/** Where part k's requests start in a worker's queue: where part k-1 left it (the phase's start for the first). */
export function nextStart(spec: Pick<GeneratorSpec, "from">, prev: Float64Array | null): number {
  return prev ? prev[H_Q]! : spec.from;
}

interface JobMessage {
  job: number;
  /** A run phase, or operations to draw ahead for the next one. */
  spec?: GeneratorSpec;
  draw?: DrawAhead;
  /** A new (larger) parts buffer, when the old one is too small. */
  parts?: SharedArrayBuffer;
}

/** A generator's control block, parts and port: what its worker reads. */
export interface GeneratorChannel {
  ctl: SharedArrayBuffer;
  parts: SharedArrayBuffer;
  port: MessagePort;
}

/** What a generator's own worker starts with. */
export interface GeneratorWorkerData extends GeneratorChannel {
  module: WebAssembly.Module;
}

const partBytes = (capacity: number): number => HEADER_BYTES + capacity * REQ_BYTES;
const headerAt = (parts: SharedArrayBuffer, k: number): Float64Array => new Float64Array(parts, (k % PARTS) * (parts.byteLength / PARTS), HEADER_WORDS);

const idle: GeneratorThread[] = [];

/** What `take` gives: a part the worker made, or part `k` for the caller to make (after `prev`). */
export type Taken = { part: GeneratorPart; k?: undefined } | { part?: undefined; k: number; prev: Float64Array | null; header: Float64Array };

/** The main thread's side of a phase's parts (see the module comment). */
export class GeneratorThread {
  private readonly ctl: Int32Array;
  private parts: SharedArrayBuffer;
  private jobs = 0;
  /** Parts queued in this phase (the next one's index). */
  private read = 0;
  private closed = false;
  /** The operations being drawn ahead (drawAhead), until the next phase starts. */
  private drawing: { key: string; entries: number; states: number } | null = null;

  private constructor(
    /** Its own worker, or null when a line thread's worker runs it (`host`). */
    private readonly own: { module: WebAssembly.Module; worker: { terminate(): Promise<number> } } | null,
    private readonly host: LineThread | null,
    private readonly channel: SideChannel,
    private readonly receive: () => unknown,
  ) {
    this.ctl = new Int32Array(channel.ctl);
    this.parts = channel.parts;
    this.jobs = Atomics.load(this.ctl, JOB);
  }

  /**
   * The generator that `line`'s worker runs in its spare time (its ring empty or nearly): with one
   * core to spare, the line cache and the generator share it rather than three threads
   * two cores. (Its control block is the line thread's side block: CTL_SLOTS fit
   * SIDE_SLOTS.) Null when the generator failed on that worker before: it runs there no
   * more (the line cache does).
   */
  static hostedBy(line: LineThread): GeneratorThread | null {
    if (Atomics.load(new Int32Array(line.side.ctl), FAILED) !== 0) return null;
    return new GeneratorThread(null, line, line.side, () => line.sideMessage());
  }

  /** Throws where a generator thread cannot run (a browser). */
  static async available(): Promise<void> {
    await workerThreads("generatorThread");
  }

  /** An idle thread whose worker runs cores of `module` (the plain build), or a new one. */
  static async acquire(module: WebAssembly.Module): Promise<GeneratorThread> {
    const i = idle.findIndex((t) => t.own?.module === module);
    if (i >= 0) return idle.splice(i, 1)[0]!;
    const wt = await workerThreads("generatorThread");
    const ctl = new SharedArrayBuffer(CTL_SLOTS * 4);
    const parts = new SharedArrayBuffer(8);
    const { port1, port2 } = new wt.MessageChannel();
    const data: GeneratorWorkerData = { module, ctl, parts, port: port2 };
    const worker = new wt.Worker(workerUrl("ycsb-worker.js"), { workerData: data, transferList: [port2] });
    worker.unref();
    port1.unref();
    worker.on("error", () => undefined); // reported through the port and FAILED
    return new GeneratorThread({ module, worker }, null, { ctl, parts, port: port1 }, () => wt.receiveMessageOnPort(port1)?.message);
  }

  /**
   * Has the worker draw the next run phase's first operations into the main thread's
   * core while it has nothing else to do (the load phase): `start` hands those drawn by
   * then to a phase that draws the same (the same parameters and random state).
   */
  drawAhead(d: DrawAhead): void {
    // (a failed or closed thread says so when a phase starts on it, as before: not here)
    if (this.closed || Atomics.load(this.ctl, FAILED) !== 0) return;
    this.stop();
    this.post({ job: this.jobs + 1, draw: d });
    this.drawing = { key: drawKey(d.spec), entries: d.entries, states: d.states };
  }

  /**
   * Starts a phase: the worker copies the index in and makes parts ahead when it has
   * time. Returns the operations drawn ahead for it (`spec.drawn` of them, at `entries`
   * and `states` in the main thread's core), or null.
   */
  start(spec: GeneratorSpec): { entries: number; states: number; ops: number } | null {
    this.stop();
    const d = this.drawing;
    this.drawing = null;
    const drawn = d && d.key === drawKey(spec) ? Atomics.load(this.ctl, DRAWN) : 0;
    spec.drawn = drawn;
    const msg: JobMessage = { job: this.jobs + 1, spec };
    if (partBytes(spec.capacity) * PARTS > this.parts.byteLength) {
      this.parts = this.channel.parts = new SharedArrayBuffer(PARTS * partBytes(spec.capacity));
      msg.parts = this.parts;
    }
    this.post(msg);
    return d && drawn > 0 ? { entries: d.entries, states: d.states, ops: drawn } : null;
  }

  /** Operations drawn ahead so far for the next phase (drawAhead). */
  get drawnAhead(): number {
    return this.drawing ? Atomics.load(this.ctl, DRAWN) : 0;
  }

  /** Posts job `msg.job` (the next) to the worker, its parts and draws counted from 0. */
  private post(msg: JobMessage): void {
    this.jobs = msg.job;
    this.read = 0;
    for (const s of [NEXT, PRODUCED, CONSUMED, STOP, DRAWN]) Atomics.store(this.ctl, s, 0);
    this.channel.port.postMessage(msg);
    Atomics.store(this.ctl, JOB, msg.job);
    this.ring();
  }

  /**
   * The phase's next part: made by the worker (copy its requests, then call `queued`),
   * or claimed for the caller to make into `header` (then call `made`). Waits only
   * while the worker is making it.
   */
  take(): Taken {
    const k = this.read;
    for (;;) {
      const produced = Atomics.load(this.ctl, PRODUCED);
      if (produced > k) {
        const header = headerAt(this.parts, k);
        const { start, end } = partOf(header);
        const at = (k % PARTS) * (this.parts.byteLength / PARTS) + HEADER_BYTES + start * REQ_BYTES;
        return { part: { header, requests: new Uint8Array(this.parts, at, (end - start) * REQ_BYTES) } };
      }
      // not made: claim it unless the worker is making it
      if (Atomics.compareExchange(this.ctl, NEXT, k, k + 1) === k) {
        return { k, prev: k > 0 ? headerAt(this.parts, k - 1) : null, header: headerAt(this.parts, k) };
      }
      this.wait(PRODUCED, produced);
    }
  }

  /** The part `take` claimed is made (its header written): the worker may go on after it. */
  made(): void {
    Atomics.store(this.ctl, PRODUCED, this.read + 1);
    this.queued();
  }

  /** The part `take` returned is in the queue: its room goes back to the worker. */
  queued(): void {
    this.read++;
    Atomics.store(this.ctl, CONSUMED, this.read);
    this.ring();
  }

  /** Ends the current phase (the worker drops what it made ahead) and waits until the worker is idle. */
  stop(): void {
    if (this.closed) throw new Error("generatorThread: the thread was closed");
    if (Atomics.load(this.ctl, TAKEN) !== this.jobs || Atomics.load(this.ctl, BUSY) !== 0) {
      Atomics.store(this.ctl, STOP, 1);
      this.ring();
      for (;;) {
        const taken = Atomics.load(this.ctl, TAKEN);
        if (taken !== this.jobs) this.wait(TAKEN, taken);
        else if (Atomics.load(this.ctl, BUSY) !== 0) this.wait(BUSY, 1);
        else break;
      }
    }
    // (a worker that failed after it took the phase: said here, not at the next phase)
    this.failed();
  }

  /**
   * The simulator is done with the thread: it waits, idle, for the next one (or ends
   * when enough wait). A hosted one stays with its line thread.
   */
  release(): void {
    if (this.closed || idle.includes(this)) return;
    this.stop();
    this.drawing = null; // (drawn into this simulator's core)
    if (!this.own) this.closed = true;
    else if (idle.length < MAX_IDLE) idle.push(this);
    else this.close();
  }

  /** Ends the worker (idempotent); a hosted one only stops. */
  close(): void {
    if (this.closed) return;
    this.drawing = null;
    if (!this.own) {
      if (Atomics.load(this.ctl, FAILED) === 0) this.stop();
      this.closed = true;
      return;
    }
    this.closed = true;
    const i = idle.indexOf(this);
    if (i >= 0) idle.splice(i, 1);
    Atomics.store(this.ctl, CLOSE, 1);
    Atomics.store(this.ctl, STOP, 1);
    this.ring();
    void this.own.worker.terminate();
  }

  /**
   * The worker looks again at what was stored before this call: a worker of its own
   * wakes from WAKE, which it read before it looked (so a change between its look and
   * its sleep is not lost); a hosted one through its line thread's bell.
   */
  private ring(): void {
    if (this.host) this.host.bell();
    else {
      Atomics.add(this.ctl, WAKE, 1);
      Atomics.notify(this.ctl, WAKE);
    }
  }

  /** Waits while slot `slot` holds `value` (or a while), then checks the worker. */
  private wait(slot: number, value: number): void {
    if (this.closed) throw new Error("generatorThread: the thread was closed");
    this.host?.check();
    Atomics.wait(this.ctl, slot, value, WAIT_MS);
    this.failed();
  }

  /** Throws if the worker failed (and closes: a failed worker is waited for no more). */
  private failed(): void {
    if (Atomics.load(this.ctl, FAILED) !== 0) {
      const m = this.receive();
      this.close();
      throw new Error(`generatorThread: YCSB's generator thread failed: ${m === undefined ? "no message" : String(m)}`);
    }
  }
}

/** A core for the worker: its generator and its request buffer's address. */
export interface WorkerCore {
  g: YcsbGenerator;
  requests: number;
}

/**
 * The worker's side of one generator: `poll` takes a phase started (its spec read
 * from the port with `receive`; the index copied into a core made by
 * `makeCore(capacity)`) or makes the phase's next part when it is the next to make and
 * the main thread has room for it. It never blocks, so that a line thread's worker
 * can run it between its own chunks (src/core/line-thread.ts); `produceParts` runs it on
 * a worker of its own. An error is left to the caller, which reports it with `fail`.
 */
export class PartProducer {
  private readonly ctl: Int32Array;
  private parts: SharedArrayBuffer;
  private jobs = 0;
  private job: { spec: GeneratorSpec; maker: PartMaker; requests: number } | null = null;
  /**
   * The last draw ahead: `done` of `d.ops` drawn so far into `core`'s `region` and the
   * main thread's core; `drawing` until it ends. A phase made in that core takes its
   * operations from there.
   */
  private drawn: { d: DrawAhead; core: WorkerCore; region: DrawnRegion; done: number; drawing: boolean } | null = null;

  /** `ahead`: the most parts it makes ahead of the main thread (at most PARTS). */
  constructor(
    private readonly data: GeneratorChannel,
    private readonly makeCore: (capacity: number) => WorkerCore,
    private readonly receive: (port: MessagePort) => { message: unknown } | undefined,
    private readonly ahead: number = PARTS,
  ) {
    this.ctl = new Int32Array(data.ctl);
    this.parts = data.parts;
  }

  /** Whether the thread should end. */
  get closing(): boolean {
    return Atomics.load(this.ctl, CLOSE) !== 0;
  }

  /**
   * Does one thing if there is one: take a new phase, end a stopped or finished one,
   * make a part, or (only when `idle`: a line thread's ring is empty) draw operations
   * ahead, which no one waits for yet. Returns whether it did anything.
   */
  poll(idle = true): boolean {
    const ctl = this.ctl;
    if (Atomics.load(ctl, JOB) !== this.jobs) {
      this.take();
      return true;
    }
    const w = this.drawn;
    if (w?.drawing) {
      if (Atomics.load(ctl, STOP) !== 0) this.drawEnd(w);
      else if (idle) this.drawBlock(w);
      else return false;
      return true;
    }
    const job = this.job;
    if (!job) return false;
    if (Atomics.load(ctl, STOP) !== 0) {
      this.end();
      return true;
    }
    const k = Atomics.load(ctl, NEXT);
    if (Atomics.load(ctl, PRODUCED) !== k) return false; // the main thread is making one
    if (k - Atomics.load(ctl, CONSUMED) >= this.ahead) return false;
    const prev = k > 0 ? headerAt(this.parts, k - 1) : null;
    if (prev && prev[H_LAST] !== 0) {
      this.end(); // the phase's last part is made
      return true;
    }
    if (Atomics.compareExchange(ctl, NEXT, k, k + 1) !== k) return false;
    const at = nextStart(job.spec, prev);
    const h = headerAt(this.parts, k);
    makePart(job.maker, job.spec, k, prev, at, h);
    const n = (h[H_END]! - at) * REQ_BYTES;
    const slot = (k % PARTS) * (this.parts.byteLength / PARTS) + HEADER_BYTES + at * REQ_BYTES;
    new Uint8Array(this.parts, slot, n).set(new Uint8Array(job.maker.g.memory.buffer, job.requests + at * REQ_BYTES, n));
    Atomics.store(ctl, PRODUCED, k + 1);
    Atomics.notify(ctl, PRODUCED);
    return true;
  }

  /** Draws the next block of operations ahead, into this core and the main thread's. */
  private drawBlock(w: NonNullable<PartProducer["drawn"]>): void {
    const { d, core, region } = w;
    const n = Math.min(DRAW_BLOCK, d.ops - w.done);
    const got = core.g.ycsbDraw(region.entries + w.done * DRAWN_ENTRY_BYTES, region.states + w.done * DRAWN_STATE_BYTES, n);
    const mem = core.g.memory.buffer;
    // (into the main thread's core at the same operations' places)
    for (const [size, from, to] of [[DRAWN_ENTRY_BYTES, region.entries, d.entries], [DRAWN_STATE_BYTES, region.states, d.states]]) {
      new Uint8Array(d.memory, to + w.done * size, got * size).set(new Uint8Array(mem, from + w.done * size, got * size));
    }
    w.done += got;
    Atomics.store(this.ctl, DRAWN, w.done);
    // all drawn, or the chooser chose nothing (the phase fails there as it would)
    if (got < n || w.done === d.ops) this.drawEnd(w);
  }

  /** The draw ahead is over (drawn, or stopped): its core keeps what it drew. */
  private drawEnd(w: NonNullable<PartProducer["drawn"]>): void {
    w.drawing = false;
    this.end();
  }

  /** Reports an error: FAILED, and its message on the port. */
  fail(e: unknown): void {
    this.job = null;
    this.drawn = null;
    this.data.port.postMessage(e instanceof Error ? e.message : String(e));
    Atomics.store(this.ctl, FAILED, 1);
    Atomics.store(this.ctl, BUSY, 0);
    for (const s of [TAKEN, PRODUCED, BUSY]) Atomics.notify(this.ctl, s);
  }

  /** The latest phase started: its index in, the generator configured. */
  private take(): void {
    const ctl = this.ctl;
    this.jobs = Atomics.load(ctl, JOB);
    this.job = null;
    // (the main thread starts a phase only after the worker took the last one: one spec waits)
    const msg = this.receive(this.data.port)?.message as JobMessage | undefined;
    if (!msg || msg.job !== this.jobs) throw new Error(`phase ${this.jobs} was started but its spec is not on the port`);
    if (msg.parts) this.parts = msg.parts;
    Atomics.store(ctl, BUSY, 1);
    Atomics.store(ctl, TAKEN, this.jobs);
    Atomics.notify(ctl, TAKEN);
    if (msg.draw) return this.takeDraw(msg.draw);
    const spec = msg.spec!;
    const core = this.makeCore(spec.capacity);
    // no room for the index in this core: the main thread makes every part
    if (!configureGenerator(core.g, spec)) return this.end();
    // the operations drawn ahead, if this core drew them (else it draws them again, the same)
    const w = this.drawn;
    const replay = !!spec.drawn && w !== null && w.core === core && w.done >= spec.drawn;
    if (replay) core.g.ycsbReplay(w.region.entries, w.region.states, spec.drawn!);
    this.job = { spec, maker: { g: core.g, made: -1, replay }, requests: core.requests };
  }

  /** Operations to draw ahead: the generator configured as the phase's, a region for them. */
  private takeDraw(d: DrawAhead): void {
    this.drawn = null;
    const core = this.makeCore(d.capacity);
    const region = configureGenerator(core.g, d.spec) ? drawRegion(core.g, d.ops) : null;
    if (!region) return this.end(); // no room: nothing drawn ahead
    this.drawn = { d, core, region, done: 0, drawing: true };
  }

  /** The phase is over for the worker: idle. */
  private end(): void {
    this.job = null;
    Atomics.store(this.ctl, BUSY, 0);
    Atomics.notify(this.ctl, BUSY);
  }
}

/**
 * The worker's cores for a generator, of `module`: one serves every phase (a larger
 * request buffer than it has makes a new one). The generator needs only the buffer; the
 * smallest structures otherwise.
 */
export function generatorCores(module: WebAssembly.Module): (capacity: number) => WorkerCore {
  let made: { capacity: number; core: WorkerCore } | null = null;
  return (capacity) => {
    if (!made || made.capacity < capacity) {
      const g = WasmCore.fromModule({ ...modelConfig("default", { lineCache: "off", vms: 1, vcpus: 1 }), requestBuffer: capacity }, module).ycsbGenerator();
      made = { capacity, core: { g, requests: g.requestBuffer() >>> 0 } };
    }
    return made.core;
  };
}

/** A generator's worker on its own: polls one producer, sleeping between, until told to close. */
export function produceParts(
  data: GeneratorChannel,
  makeCore: (capacity: number) => WorkerCore,
  receive: (port: MessagePort) => { message: unknown } | undefined,
): void {
  const p = new PartProducer(data, makeCore, receive);
  const ctl = new Int32Array(data.ctl);
  try {
    while (!p.closing) {
      // WAKE before the look: a change after it ends the sleep
      const wake = Atomics.load(ctl, WAKE);
      if (!p.poll()) Atomics.wait(ctl, WAKE, wake, WAIT_MS);
    }
  } catch (e) {
    p.fail(e);
  }
}

/**
 * Configures `g`'s generator as `spec` says (its index already in): the operations'
 * shares, the key chooser, the random stream. Returns the most requests one operation
 * can make (from the longest hash chain).
 */
export function configureDraws(g: YcsbGenerator, spec: GeneratorSpec): number {
  spec.shares.forEach((s, i) => g.ycsbShare(i, s.share, s.op));
  if (spec.latest) g.ycsbLatest(...spec.latest);
  const perOp = g.ycsbConfigure(...spec.configure);
  g.ycsbSeed(...spec.rng);
  return perOp;
}

/** Copies a phase's index into `g` and configures its generator as the main thread's; false when the core has no room for the index. */
export function configureGenerator(g: YcsbGenerator, spec: GeneratorSpec): boolean {
  const nb = spec.buckets.length;
  const count = spec.records.length / 32;
  const [lengthSlots, zeroPadding, ordered] = spec.keys;
  const bytes = nb * 4 + count * 32 + lengthSlots;
  const base = fitsCore(bytes) ? g.ycsbRegion(bytes) >>> 0 : 0;
  if (base === 0) return false;
  new Int32Array(g.memory.buffer, base, nb).set(spec.buckets);
  new Uint8Array(g.memory.buffer, base + nb * 4, count * 32).set(spec.records);
  const [fieldCount, fieldLength, network, tableVa, requestBuffer, responseBuffer, responseOffset] = spec.store;
  g.kvConfigure(
    spec.vcpu, base, nb, base + nb * 4, count, count, fieldCount, fieldLength, network, tableVa, requestBuffer, responseBuffer, responseOffset,
    base + nb * 4 + count * 32, lengthSlots, zeroPadding, ordered,
  );
  g.treeConfigure(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -1, 0, 0);
  configureDraws(g, spec);
  return true;
}
