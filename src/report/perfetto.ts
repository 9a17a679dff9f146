/**
 * A writer of Chrome trace-event JSON (the "JSON Object Format" of the Trace Event
 * Format), which Perfetto (ui.perfetto.dev) and chrome://tracing open: a timeline of
 * simulated time with one "process" per VM and one "thread" per vCPU or guest process.
 *
 * Events:
 * - complete events (`ph: "X"`): a span with a start and a duration (a page walk, a
 *   fault, a hypercall),
 * - instant events (`ph: "i"`): a point (a TLB flush, a PKRU write),
 * - counter events (`ph: "C"`): values over time, drawn as a graph per process (memory
 *   by tier, TLB miss rate),
 * - metadata (`ph: "M"`): process and thread names and sort order.
 *
 * Times: the output's `ts` and `dur` are microseconds of simulated time (the format's
 * unit), rounded to the nanosecond. Give times in microseconds, or in cycles with
 * `cyclesPerUs` (e.g. 3000 for a 3 GHz clock).
 *
 * Size: a big run makes far more events than a viewer can load, so events are sampled
 * per category (`cat`, or the name when there is none): `sampleEvery: { walk: 100 }`
 * keeps the 0th, 100th, 200th, ... walk. The buffer holds at most `maxEvents` events
 * (names and other metadata are not counted); when it is full, the category with the most
 * events in the buffer has its stride doubled and its events that the new stride would
 * not have kept are dropped, so the buffer keeps an even sample of the whole run rather
 * than its start. Streaming to a file (`file`) cannot take events back: there, the
 * strides are fixed and events past `maxEvents` are dropped. Either way, the numbers of
 * events seen, kept and dropped per category are in the output's `otherData`.
 *
 * @example
 * const trace = new ChromeTrace({ cyclesPerUs: 3000, sampleEvery: { walk: 10 } });
 * trace.processName(1, "vm0 (ucat)");
 * trace.threadName(1, 0, "vcpu0");
 * trace.complete({ name: "walk 2D", cat: "walk", pid: 1, tid: 0, ts: 12_000, dur: 310, args: { va: "0x7f001000" } });
 * trace.instant({ name: "tlb flush", pid: 1, tid: 0, ts: 15_000 });
 * trace.counter({ name: "memory", pid: 1, ts: 15_000, values: { dram: 1 << 30, nvm: 4 << 30 } });
 * writeFileSync("run.trace.json", trace.toString()); // open in ui.perfetto.dev
 */

/** A value in an event's `args`: shown in the viewer's details pane. */
export type TraceArg = string | number | boolean | null | TraceArg[] | { [key: string]: TraceArg };

interface EventBase {
  /** The event's name (shown on the slice). */
  name: string;
  /** Category: the sampling key (default: the name). */
  cat?: string;
  /** Process id: one per VM (or the host). */
  pid: number;
  /** Thread id: one per vCPU or guest process (default 0). */
  tid?: number;
  /** Start time, in microseconds, or in cycles with `cyclesPerUs`. */
  ts: number;
  /** Extra data shown in the viewer. */
  args?: Record<string, TraceArg>;
}

export interface CompleteEvent extends EventBase {
  /** Duration, in the unit of `ts`. */
  dur: number;
}

export interface InstantEvent extends EventBase {
  /** How far the mark is drawn: the thread (default), the process or everything. */
  scope?: "thread" | "process" | "global";
}

export interface CounterEvent {
  /** The counter's name (one graph per name and process). */
  name: string;
  cat?: string;
  pid: number;
  /** Time, in microseconds, or in cycles with `cyclesPerUs`. */
  ts: number;
  /** One series per key, e.g. `{ dram: 1073741824, nvm: 0 }`. */
  values: Record<string, number>;
}

export interface ChromeTraceOptions {
  /** Units of input times per microsecond (default 1: times are in microseconds). */
  cyclesPerUs?: number;
  /** Keep one event in N per category (default: every event). */
  sampleEvery?: Record<string, number>;
  /** Most events held or written, metadata aside (default 500000). */
  maxEvents?: number;
  /** Stream the events to this file instead of holding them (Node only); call `close()`. */
  file?: string;
  /** Extra top-level information, shown by the viewers as metadata (e.g. the scenario). */
  metadata?: Record<string, TraceArg>;
}

/** Counts per category, as put in `otherData.sampling`. */
export interface CategoryStats {
  /** Events offered. */
  seen: number;
  /** Events in the output. */
  kept: number;
  /** The final stride: 1 in `every` events was kept. */
  every: number;
  /** Events dropped because the buffer or the file was full (beyond the stride). */
  dropped: number;
}

interface Category {
  name: string;
  every: number;
  seen: number;
  dropped: number;
  /** Events of this category in the buffer (buffer mode) or written (file mode). */
  held: number;
  /** Index in `catList`. */
  id: number;
}

/** A file sink: writes through a buffer with writeSync (no backpressure to handle). */
interface FileSink {
  fd: number;
  parts: string[];
  size: number;
  fs: typeof import("node:fs");
}

const SCOPES = { thread: "t", process: "p", global: "g" } as const;

/** JSON of a number rounded to 3 decimals (ns when the unit is µs). */
function num(x: number): string {
  const r = Math.round(x * 1000) / 1000;
  return Object.is(r, -0) ? "0" : String(r);
}

function checkFinite(what: string, x: number): void {
  if (!Number.isFinite(x)) throw new RangeError(`${what}: ${x} is not a finite number`);
}

/**
 * Collects trace events and writes them as Chrome trace-event JSON. See the module
 * comment for times, sampling and the size bound.
 */
export class ChromeTrace {
  private readonly scale: number;
  private readonly maxEvents: number;
  private readonly metadata: Record<string, TraceArg>;
  private readonly cats = new Map<string, Category>();
  private readonly catList: Category[] = [];
  private readonly meta: string[] = [];
  // buffer mode: parallel arrays of the kept events
  private json: string[] = [];
  private catOf: number[] = [];
  private seqOf: number[] = [];
  private sink: FileSink | undefined;
  /** File mode: events written (metadata aside), and whether anything was. */
  private written = 0;
  private anyWritten = false;
  private closed = false;

  constructor(opts: ChromeTraceOptions = {}) {
    const cpu = opts.cyclesPerUs ?? 1;
    if (!(cpu > 0) || !Number.isFinite(cpu)) throw new RangeError(`cyclesPerUs: ${cpu} is not a number > 0`);
    this.scale = 1 / cpu;
    const max = opts.maxEvents ?? 500_000;
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxEvents: ${max} is not an integer >= 1`);
    this.maxEvents = max;
    this.metadata = opts.metadata ?? {};
    for (const [cat, every] of Object.entries(opts.sampleEvery ?? {})) {
      if (!Number.isInteger(every) || every < 1) throw new RangeError(`sampleEvery.${cat}: ${every} is not an integer >= 1`);
      this.category(cat).every = every;
    }
    if (opts.file !== undefined) this.openFile(opts.file);
  }

  private openFile(file: string): void {
    // A synchronous Node API keeps the writer's methods synchronous; the import is lazy so
    // that the module also loads in browsers (where only the buffer mode is used).
    const fs = (globalThis as { process?: { getBuiltinModule?: (m: string) => unknown } }).process?.getBuiltinModule?.(
      "node:fs",
    ) as typeof import("node:fs") | undefined;
    if (!fs) throw new Error("ChromeTrace: streaming to a file needs Node's fs (process.getBuiltinModule)");
    this.sink = { fd: fs.openSync(file, "w"), parts: [], size: 0, fs };
    this.emit('{"traceEvents":[\n');
  }

  /** Writes one event to the file, after a comma unless it is the first. */
  private emitEvent(s: string): void {
    this.emit(this.anyWritten ? ",\n" + s : s);
    this.anyWritten = true;
  }

  private emit(s: string): void {
    const sink = this.sink!;
    sink.parts.push(s);
    sink.size += s.length;
    if (sink.size >= 1 << 20) this.drain();
  }

  private drain(): void {
    const sink = this.sink!;
    if (sink.parts.length === 0) return;
    sink.fs.writeSync(sink.fd, sink.parts.join(""));
    sink.parts = [];
    sink.size = 0;
  }

  private category(name: string): Category {
    let c = this.cats.get(name);
    if (!c) {
      c = { name, every: 1, seen: 0, dropped: 0, held: 0, id: this.catList.length };
      this.cats.set(name, c);
      this.catList.push(c);
    }
    return c;
  }

  /** Offers an event's JSON to the buffer or file, subject to sampling and the bound. */
  private add(catName: string, make: () => string): void {
    if (this.closed) throw new Error("ChromeTrace: event after close()");
    const c = this.category(catName);
    const seq = c.seen++;
    if (seq % c.every !== 0) return;
    if (this.sink) {
      if (this.written >= this.maxEvents) {
        c.dropped++;
        return;
      }
      this.written++;
      this.emitEvent(make());
      c.held++;
      return;
    }
    if (this.json.length >= this.maxEvents) {
      this.thin();
      if (seq % c.every !== 0) return; // this category's stride just grew
    }
    this.json.push(make());
    this.catOf.push(c.id);
    this.seqOf.push(seq);
    c.held++;
  }

  /** Halves the buffer's largest category until the buffer is at most 3/4 full. */
  private thin(): void {
    const target = Math.floor((this.maxEvents * 3) / 4);
    while (this.json.length > target) {
      let big: Category | undefined;
      for (const c of this.catList) if (!big || c.held > big.held) big = c;
      if (!big || big.held <= 1) {
        // nothing left to halve: drop the oldest events (only with tiny maxEvents)
        const n = this.json.length - target;
        for (let i = 0; i < n; i++) this.catList[this.catOf[i]].held--;
        this.json.splice(0, n);
        this.catOf.splice(0, n);
        this.seqOf.splice(0, n);
        break;
      }
      big.every *= 2;
      const id = big.id;
      let w = 0;
      for (let r = 0; r < this.json.length; r++) {
        if (this.catOf[r] === id && this.seqOf[r] % big.every !== 0) {
          big.held--;
          continue;
        }
        this.json[w] = this.json[r];
        this.catOf[w] = this.catOf[r];
        this.seqOf[w] = this.seqOf[r];
        w++;
      }
      this.json.length = this.catOf.length = this.seqOf.length = w;
    }
  }

  private addMeta(s: string): void {
    if (this.closed) throw new Error("ChromeTrace: event after close()");
    if (this.sink) this.emitEvent(s);
    else this.meta.push(s);
  }

  private us(what: string, t: number): string {
    checkFinite(what, t);
    return num(t * this.scale);
  }

  /** Names a process (a VM, or the host) and optionally orders it among the processes. */
  processName(pid: number, name: string, sortIndex?: number): void {
    this.addMeta(JSON.stringify({ name: "process_name", ph: "M", pid, tid: 0, args: { name } }));
    if (sortIndex !== undefined) {
      this.addMeta(JSON.stringify({ name: "process_sort_index", ph: "M", pid, tid: 0, args: { sort_index: sortIndex } }));
    }
  }

  /** Names a thread (a vCPU or a guest process) of a process. */
  threadName(pid: number, tid: number, name: string, sortIndex?: number): void {
    this.addMeta(JSON.stringify({ name: "thread_name", ph: "M", pid, tid, args: { name } }));
    if (sortIndex !== undefined) {
      this.addMeta(JSON.stringify({ name: "thread_sort_index", ph: "M", pid, tid, args: { sort_index: sortIndex } }));
    }
  }

  /**
   * A span of simulated time: `ts` to `ts + dur`.
   *
   * @example
   * trace.complete({ name: "EPT violation", cat: "fault", pid: 2, tid: 1, ts: 5400, dur: 1200 });
   */
  complete(e: CompleteEvent): void {
    const ts = this.us("ts", e.ts);
    checkFinite("dur", e.dur);
    if (e.dur < 0) throw new RangeError(`dur: ${e.dur} is negative`);
    this.add(e.cat ?? e.name, () => {
      const cat = e.cat === undefined ? "" : `,"cat":${JSON.stringify(e.cat)}`;
      const args = e.args === undefined ? "" : `,"args":${JSON.stringify(e.args)}`;
      return `{"name":${JSON.stringify(e.name)}${cat},"ph":"X","ts":${ts},"dur":${num(e.dur * this.scale)},"pid":${e.pid},"tid":${e.tid ?? 0}${args}}`;
    });
  }

  /**
   * A point in simulated time.
   *
   * @example
   * trace.instant({ name: "wrpkru", cat: "pkru", pid: 1, tid: 0, ts: 800, args: { pkru: "0x55555554" } });
   */
  instant(e: InstantEvent): void {
    const ts = this.us("ts", e.ts);
    this.add(e.cat ?? e.name, () => {
      const cat = e.cat === undefined ? "" : `,"cat":${JSON.stringify(e.cat)}`;
      const args = e.args === undefined ? "" : `,"args":${JSON.stringify(e.args)}`;
      const s = SCOPES[e.scope ?? "thread"];
      return `{"name":${JSON.stringify(e.name)}${cat},"ph":"i","s":"${s}","ts":${ts},"pid":${e.pid},"tid":${e.tid ?? 0}${args}}`;
    });
  }

  /**
   * Counter values at a time (one graph per counter name and process, one series per key).
   *
   * @example
   * trace.counter({ name: "TLB misses", pid: 1, ts: 1000, values: { l1: 1200, l2: 310 } });
   */
  counter(e: CounterEvent): void {
    const ts = this.us("ts", e.ts);
    for (const [k, v] of Object.entries(e.values)) checkFinite(`values.${k}`, v);
    this.add(e.cat ?? e.name, () => {
      const cat = e.cat === undefined ? "" : `,"cat":${JSON.stringify(e.cat)}`;
      return `{"name":${JSON.stringify(e.name)}${cat},"ph":"C","ts":${ts},"pid":${e.pid},"args":${JSON.stringify(e.values)}}`;
    });
  }

  /** Events in the output so far (metadata aside). */
  get size(): number {
    return this.sink ? this.written : this.json.length;
  }

  /** Sampling counts per category. */
  get stats(): Record<string, CategoryStats> {
    const out: Record<string, CategoryStats> = {};
    for (const c of this.catList) out[c.name] = { seen: c.seen, kept: c.held, every: c.every, dropped: c.dropped };
    return out;
  }

  private footer(): string {
    const otherData = { ...this.metadata, sampling: this.stats, maxEvents: this.maxEvents };
    return `],"displayTimeUnit":"ns","otherData":${JSON.stringify(otherData)}}\n`;
  }

  /** The whole trace as a JSON string (buffer mode). */
  toString(): string {
    if (this.sink) throw new Error("ChromeTrace: toString() of a trace streamed to a file");
    const events = [...this.meta, ...this.json];
    return `{"traceEvents":[\n${events.join(",\n")}\n${this.footer()}`;
  }

  /** The whole trace as an object (buffer mode): what `JSON.parse(toString())` gives. */
  toJSON(): { traceEvents: unknown[]; displayTimeUnit: string; otherData: Record<string, unknown> } {
    return JSON.parse(this.toString());
  }

  /**
   * Writes the trace to a file in pieces (buffer mode; Node only), without building one
   * big string.
   *
   * @example
   * await trace.writeFile("out/run.trace.json");
   */
  async writeFile(file: string): Promise<void> {
    if (this.sink) throw new Error("ChromeTrace: writeFile() of a trace streamed to a file; use close()");
    const { open } = await import("node:fs/promises");
    const fh = await open(file, "w");
    try {
      await fh.write('{"traceEvents":[\n');
      const all = [...this.meta, ...this.json];
      for (let i = 0; i < all.length; i += 10_000) {
        await fh.write((i > 0 ? ",\n" : "") + all.slice(i, i + 10_000).join(",\n"));
      }
      await fh.write("\n" + this.footer());
    } finally {
      await fh.close();
    }
  }

  /** Ends a trace streamed to a file: writes the closing part and closes it. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.sink) return;
    this.emit("\n" + this.footer());
    this.drain();
    this.sink.fs.closeSync(this.sink.fd);
  }
}
