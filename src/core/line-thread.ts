/**
 * The line cache on its own thread (docs/core.md section 5c). The line cache only
 * counts, so a core can record its uses in order (a u64 word each: assembly/cache.ts)
 * and a second core of the same configuration, on a worker thread, can run them through
 * its own line cache while the first goes on translating and the host's models go on
 * issuing accesses. The records cross in a ring in the first core's memory, which is
 * shared (the core's shared build, `loadCoreModule({ shared: true })`): the core writes
 * them there once, hands them over a chunk at a time, and the worker reads them where
 * they are. The counts come back at marks: the main core records a mark, the worker
 * copies its counter table to shared memory when it reaches it, and the main thread
 * waits for that. Node only (it needs `worker_threads` and a main thread that may block
 * in `Atomics.wait`).
 *
 * Threads are kept for reuse: a closed core's thread waits, idle, for the next core
 * (starting one costs tens of milliseconds); idle threads never keep a process alive.
 *
 * Both sides of the ring are here: `LineThread` (the main thread's) and
 * `consumeLineRing` (the worker's, src/core/line-worker.ts).
 *
 * @example
 * const core = await WasmCore.create({ ...modelConfig("default", { lineCache: "all" }), lineThread: true });
 * // ... submit and run requests ...
 * core.counters(0).dataLineHits; // as without the thread
 * core.close();                   // the thread goes back to the pool
 */
import type { MessagePort } from "node:worker_threads";
import type { CoreConfig } from "./types.js";
import { workerThreads } from "#worker-threads";
import { workerUrl } from "./load.js";

/** Bytes of a record. */
const RECORD = 8;
/**
 * Records in the ring (4 MiB of the core's memory). It must absorb a batch's burst of
 * records while the worker catches up; a smaller one makes the core wait for it (an
 * eighth of this, with chunks of half the size, made YCSB-A/osv and memslap/osv with
 * the thread 1.09-1.18x as slow in one set of pairs; a quarter made no difference:
 * docs/performance.md).
 */
export const RING_RECORDS = 1 << 19;
/** Records the main core gathers before handing them over, and the worker runs at a time. */
export const CHUNK_RECORDS = 1 << 14;
/**
 * Records handed over between wake-ups of a worker that caught up and sleeps: waking a
 * thread costs 10-25 us of the main thread's time here (a futex wake; in a VM an
 * interrupt to another vCPU), once per chunk it was most of the ring's cost. The
 * producer also wakes it before it waits for room or for the counters.
 */
const WAKE_RECORDS = 4 * CHUNK_RECORDS;
/**
 * Records waiting below which the worker runs its side task between chunks, not only
 * when the ring is empty: YCSB's generator then made more of the main thread's parts
 * (1.03-1.05x for YCSB-A/osv against the empty ring alone, in alternated pairs; 4 chunks
 * against 2 and 8 of them, and none: docs/performance.md).
 */
const SIDE_BACKLOG = 4 * CHUNK_RECORDS;

/** Control records of the stream (assembly/cache.ts): reset the line counters, publish them. */
export const LINE_RESET = 5;
export const LINE_MARK = 6;

// Int32 slots of the control block.
const HEAD = 0; // the record after the last one handed over (mod the ring's records); NEXT_CORE while a new core waits
const TAIL = 1; // next record the consumer reads
const PUBLISHED = 2; // marks the consumer has reached (it copied the counters at each)
const FAILED = 3; // 1: the worker stopped on an error (its message is on the port)
const CLOSE = 4; // 1: the worker should end
const SLEEPING = 5; // 1: the worker sleeps on BELL (the producer rings it only then)
const TAKEN = 6; // cores the worker has taken after its first (each with its ring empty, HEAD and TAIL 0)
const BELL = 7; // bumped to wake the worker (it sleeps on this): records handed over, a new core, a side task's work, close
const CTL_SLOTS = 8;
/**
 * HEAD when the worker is to take the next core, whose spec is on the port: a value no
 * ring position has. The worker sleeps on BELL, which every announcement bumps after
 * it changes what it announces: Atomics.wait compares BELL with what the worker read
 * before it looked, so an announcement between its look and its sleep is not lost (a
 * flag looked at apart from the word slept on was: a hang).
 */
const NEXT_CORE = -1;
/** Int32 slots of a side task's control block (its layout is the task's). */
export const SIDE_SLOTS = 16;

/**
 * How long the worker keeps looking at HEAD before it sleeps (ms; a guess). The producer
 * writes records in bursts a little apart, and waking a sleeping worker costs it 8-25 us
 * (a futex wake) where a worker still looking costs it nothing. The longer gaps (the
 * workload model filling the request buffer, about a millisecond) still end in sleep.
 */
const SPIN_MS = 0.1;

/** Longest wait before checking that the worker is still alive (ms; YCSB's generator thread's too). */
export const WAIT_MS = 1000;
/** Idle threads kept for reuse (a guess: a process rarely runs more cores with line threads at once; generator threads too). */
export const MAX_IDLE = 2;

/** Where a core's ring is: `records` records at byte `at` of `memory` (the core's memory, which must be shared). */
export interface LineRing {
  memory: ArrayBufferLike;
  at: number;
  records: number;
}

/** A core for the worker: its configuration (without the thread), its ring, and where its counter table goes. */
export interface LineCoreSpec {
  config: CoreConfig;
  ring: LineRing;
  counters: SharedArrayBuffer;
}

/**
 * A side task's channel (YCSB's generator: src/workloads/ycsb/run-thread.ts), which the
 * worker runs while its ring is empty or nearly: its control block, a first buffer and its own
 * port. The main thread calls `bell` after it changes anything the task looks at, so
 * that a sleeping worker looks again, and `check` while it waits on the task.
 */
export interface SideChannel {
  ctl: SharedArrayBuffer;
  parts: SharedArrayBuffer;
  port: MessagePort;
}

/** What the worker starts with (structured-cloned; the module and the shared buffers are shared). */
export interface LineWorkerData extends LineCoreSpec {
  module: WebAssembly.Module;
  ctl: SharedArrayBuffer;
  port: MessagePort;
  side: SideChannel;
}

/**
 * The worker's side task, run while the ring is empty or nearly: `poll` does one piece
 * of work if there is one, without blocking (`idle`: the ring is empty, not only nearly).
 */
export interface SideTask {
  poll(idle: boolean): boolean;
}

/** The worker's core, as the ring's consumer sees it (WasmCore implements it). */
export interface LineConsumer {
  /** Runs records through the line cache, stopping after a control record (a mark); returns the records done. */
  consumeLineRecords(records: Uint8Array): number;
  /** The whole counter table. */
  counterBytes(): Uint8Array;
}

const idle: LineThread[] = [];

/** The main thread's side: a worker running a copy of a core's line cache over the core's ring. */
export class LineThread {
  private readonly ctl: Int32Array;
  private shared: BigUint64Array;
  private ring: LineRing;
  private head = 0;
  /** Records handed over since the worker was last woken. */
  private unwoken = 0;
  private marks = 0;
  /** Cores handed to the worker after its first. */
  private taken = 0;
  private closed = false;

  private constructor(
    private readonly module: WebAssembly.Module,
    private readonly worker: { terminate(): Promise<number> },
    private readonly port: MessagePort,
    private readonly receive: (port: MessagePort) => { message: unknown } | undefined,
    ctl: SharedArrayBuffer,
    ring: LineRing,
    counters: SharedArrayBuffer,
    /** The main thread's end of the side task's channel. */
    readonly side: SideChannel,
  ) {
    this.ctl = new Int32Array(ctl);
    this.ring = ring;
    this.shared = new BigUint64Array(counters);
  }

  /** Throws where a line thread cannot run (a browser), before a core is made for one. */
  static async available(): Promise<void> {
    await workerThreads("lineThread");
  }

  /**
   * A thread whose worker runs a core of `config` (without the thread) from `module`
   * over the records of `ring`: an idle one given the new core, or a new one.
   * `counterBytes` is the size of the core's counter table. The ring's first chunk
   * must be free (the core writes there first).
   */
  static async acquire(config: CoreConfig, module: WebAssembly.Module, counterBytes: number, ring: LineRing): Promise<LineThread> {
    if (!(ring.memory instanceof SharedArrayBuffer)) throw new TypeError("lineThread: the core's memory is not shared; expected a core of the shared build (loadCoreModule({ shared: true }))");
    if (!(ring.records > CHUNK_RECORDS)) throw new RangeError(`lineThread: a ring of ${ring.records} records is too small; expected more than a chunk (${CHUNK_RECORDS})`);
    const i = idle.findIndex((t) => t.module === module);
    const spec = (counters: SharedArrayBuffer): LineCoreSpec => ({ config: { ...config, lineThread: false }, ring, counters });
    if (i >= 0) {
      const t = idle.splice(i, 1)[0];
      const counters = t.shared.buffer.byteLength >= counterBytes ? (t.shared.buffer as SharedArrayBuffer) : new SharedArrayBuffer(counterBytes);
      t.shared = new BigUint64Array(counters);
      t.ring = ring;
      t.port.postMessage(spec(counters));
      t.take();
      return t;
    }
    const wt = await workerThreads("lineThread");
    const ctl = new SharedArrayBuffer(CTL_SLOTS * 4);
    const counters = new SharedArrayBuffer(counterBytes);
    const { port1, port2 } = new wt.MessageChannel();
    const sideCh = new wt.MessageChannel();
    const side = { ctl: new SharedArrayBuffer(SIDE_SLOTS * 4), parts: new SharedArrayBuffer(8) };
    const data: LineWorkerData = { ...spec(counters), module, ctl, port: port2, side: { ...side, port: sideCh.port2 } };
    const worker = new wt.Worker(workerUrl("line-worker.js"), { workerData: data, transferList: [port2, sideCh.port2] });
    // the thread never keeps the process alive
    worker.unref();
    port1.unref();
    sideCh.port1.unref();
    worker.on("error", () => undefined); // reported through the port and FAILED
    return new LineThread(module, worker, port1, wt.receiveMessageOnPort, ctl, ring, counters, { ...side, port: sideCh.port1 });
  }

  /**
   * The core handed over the `bytes` of records at byte `at` of its memory (the ring's
   * next ones): the worker may run them. Returns when the ring's next chunk, where the
   * core writes on, is free (the worker has run what was there).
   */
  handed(at: number, bytes: number): void {
    if (this.closed) throw new Error("lineThread: the core was closed; it cannot run accesses any more");
    const { records } = this.ring;
    const n = bytes / RECORD;
    this.head = ((at - this.ring.at) / RECORD + n) % records;
    // a worker still running sees the new head when it looks; a sleeping one is woken now and then
    Atomics.store(this.ctl, HEAD, this.head);
    this.unwoken += n;
    if (this.unwoken >= WAKE_RECORDS) this.wake();
    const room = Math.min(CHUNK_RECORDS, records - this.head);
    for (;;) {
      const tail = Atomics.load(this.ctl, TAIL);
      if ((tail - this.head - 1 + records) % records >= room) return;
      this.wake();
      this.wait(TAIL, tail);
    }
  }

  /**
   * Waits until the worker has reached the mark just handed over (the core recorded it)
   * and returns the counter table it copied there (u64 slots, as the core's).
   */
  counters(): BigUint64Array {
    const want = ++this.marks;
    this.wake();
    for (;;) {
      const got = Atomics.load(this.ctl, PUBLISHED);
      if (got >= want) return this.shared;
      this.wait(PUBLISHED, got);
    }
  }

  /** The core is done with the thread: it waits, idle, for the next core (or ends when enough wait). */
  release(): void {
    if (this.closed || idle.includes(this)) return;
    if (idle.length < MAX_IDLE) idle.push(this);
    else this.close();
  }

  /** Ends the worker (idempotent). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const i = idle.indexOf(this);
    if (i >= 0) idle.splice(i, 1);
    Atomics.store(this.ctl, CLOSE, 1);
    this.ringBell(true);
    void this.worker.terminate();
  }

  /** Tells the worker to take the next core (its spec is on the port) and waits until it has: its ring starts empty. */
  private take(): void {
    const want = ++this.taken;
    Atomics.store(this.ctl, HEAD, NEXT_CORE);
    this.ringBell(true);
    for (;;) {
      const got = Atomics.load(this.ctl, TAKEN);
      if (got >= want) break;
      this.wait(TAKEN, got);
    }
    this.head = 0;
    this.unwoken = 0;
  }

  /** Wakes the worker if it sleeps (it then runs what the ring holds). */
  private wake(): void {
    this.unwoken = 0;
    this.ringBell(false);
  }

  /**
   * Wakes the worker if it sleeps (`always`: even if it seems not to) to look again at
   * what was stored before: a worker that set SLEEPING after this load sees it and does
   * not sleep; one that read BELL before this bump does not sleep on it either.
   */
  private ringBell(always: boolean): void {
    if (always || Atomics.load(this.ctl, SLEEPING) !== 0) {
      Atomics.add(this.ctl, BELL, 1);
      Atomics.notify(this.ctl, BELL);
    }
  }

  /** The side task's state changed (stored before this call): the worker looks again if it sleeps. */
  bell(): void {
    this.ringBell(false);
  }

  /** The next message on the side task's port (its error, after it failed), if any. */
  sideMessage(): unknown {
    return this.receive(this.side.port)?.message;
  }

  /** Throws if the worker failed (for the side task's waits too). */
  check(): void {
    if (Atomics.load(this.ctl, FAILED) !== 0) {
      const m = this.receive(this.port)?.message;
      this.close();
      throw new Error(`lineThread: the line cache's thread failed: ${m === undefined ? "no message" : String(m)}`);
    }
  }

  /** Waits while slot `slot` holds `value` (or a while), then checks the worker. */
  private wait(slot: number, value: number): void {
    if (this.closed) throw new Error("lineThread: the core was closed");
    Atomics.wait(this.ctl, slot, value, WAIT_MS);
    this.check();
  }
}

/**
 * The worker's side: runs the records of the current core's ring through a core made by
 * `makeCore` until told to close, publishing the counter table at every mark, and
 * taking the next core (its spec read from the port with `receive`) when told to. Any
 * error stops it with FAILED set and its message on the port.
 */
export function consumeLineRing(
  data: LineWorkerData,
  makeCore: (config: CoreConfig) => LineConsumer,
  receive: (port: MessagePort) => { message: unknown } | undefined,
  side: SideTask | null = null,
): void {
  const ctl = new Int32Array(data.ctl);
  try {
    let shared!: Uint8Array;
    let core!: LineConsumer;
    let ring!: Uint8Array;
    let records = 0;
    let tail = 0;
    let taken = 0;
    const take = (spec: LineCoreSpec): void => {
      core = makeCore(spec.config);
      shared = new Uint8Array(spec.counters);
      ring = new Uint8Array(spec.ring.memory, spec.ring.at, spec.ring.records * RECORD);
      records = spec.ring.records;
      tail = 0;
    };
    /** Takes the next core (HEAD was NEXT_CORE), with its ring empty; the host waits for it. */
    const next = (): void => {
      const m = receive(data.port);
      if (!m) throw new Error("a new core was announced but its configuration is not on the port");
      take(m.message as LineCoreSpec);
      Atomics.store(ctl, HEAD, 0);
      Atomics.store(ctl, TAIL, 0);
      Atomics.store(ctl, TAKEN, ++taken);
      Atomics.notify(ctl, TAKEN);
    };
    take(data);
    for (;;) {
      let head = Atomics.load(ctl, HEAD);
      // the side task in the worker's idle time: when the ring is empty
      if (head === tail && side?.poll(true)) continue;
      if (head === tail) {
        const until = performance.now() + SPIN_MS;
        do for (let k = 0; k < 64 && head === tail; k++) head = Atomics.load(ctl, HEAD);
        while (head === tail && performance.now() < until);
      }
      while (head === tail) {
        if (Atomics.load(ctl, CLOSE) !== 0) return;
        // SLEEPING, then BELL, then HEAD and the side task again: a producer that stored
        // before this sees SLEEPING and rings; one that rings after the BELL read ends the wait
        Atomics.store(ctl, SLEEPING, 1);
        const bell = Atomics.load(ctl, BELL);
        head = Atomics.load(ctl, HEAD);
        if (head === tail && !side?.poll(true)) Atomics.wait(ctl, BELL, bell);
        Atomics.store(ctl, SLEEPING, 0);
        head = Atomics.load(ctl, HEAD);
      }
      if (head === NEXT_CORE) {
        next(); // (the old core's ring ended with its last mark)
        continue;
      }
      const end = Math.min(head > tail ? head : records, tail + CHUNK_RECORDS);
      while (tail < end) {
        tail += core.consumeLineRecords(ring.subarray(tail * RECORD, end * RECORD));
        if ((ring[(tail - 1) * RECORD]! & 7) === LINE_MARK) {
          const t = core.counterBytes();
          shared.set(t.length <= shared.length ? t : t.subarray(0, shared.length));
          Atomics.add(ctl, PUBLISHED, 1);
          Atomics.notify(ctl, PUBLISHED);
        }
      }
      tail %= records;
      Atomics.store(ctl, TAIL, tail);
      Atomics.notify(ctl, TAIL);
      // nearly caught up: the side task's turn between chunks too
      if (side) {
        const h = Atomics.load(ctl, HEAD);
        if (h >= 0 && (h - tail + records) % records < SIDE_BACKLOG) side.poll(false);
      }
    }
  } catch (e) {
    data.port.postMessage(e instanceof Error ? e.message : String(e));
    Atomics.store(ctl, FAILED, 1);
    Atomics.notify(ctl, PUBLISHED);
    Atomics.notify(ctl, TAIL);
    Atomics.notify(ctl, TAKEN);
  }
}
